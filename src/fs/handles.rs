//! Open files: handle number → [`OpenFile`], and inode → the one [`WriteSlot`] that every
//! handle writing that inode shares.
//!
//! One writer per inode: two descriptors writing disjoint ranges of one file write into the
//! same pipeline, so the object a close stores holds the union of their writes; a read on any
//! descriptor of an inode being written sees those writes. The slot knows nothing of the key:
//! whoever commits reads it from the inode ([`crate::fs::inode::Inode::live_key`]) at that
//! moment, and a slot whose inode lost its name is *orphaned* — it keeps accepting writes but
//! never stores anything again.
//!
//! Calls on one slot run one at a time (its `tokio::sync::Mutex`); arrival order per handle
//! is the adapter's job (it queues requests per handle).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::InodeNo;
use crate::fs::read::FileReader;
use crate::fs::write::progress::Progress;
use crate::fs::write::FileWriter;

/// One open file handle.
#[derive(Debug)]
pub(crate) struct OpenFile {
    /// The file's inode.
    pub ino: InodeNo,
    /// Opened for writing (it holds a reference on the inode's [`WriteSlot`]).
    pub writable: bool,
    /// Opened with `O_APPEND`: every write goes to the end.
    pub append: bool,
    /// The reader of this handle, made at the first read that no writer answers, with the key
    /// it reads (made again when the file was renamed or stored since).
    pub reader: tokio::sync::Mutex<Option<(String, FileReader)>>,
}

/// What the inode's writer is doing.
#[derive(Debug, Default)]
pub(crate) struct SlotState {
    /// The pipeline; `None` until a write needs one again (after a rename moved the object, the
    /// next write opens a writer over the object at the new key).
    pub writer: Option<FileWriter>,
    /// Write handles sharing this slot.
    pub handles: u32,
    /// The inode lost its name (unlink, replaced by a rename): nothing is stored any more.
    pub orphaned: bool,
    /// The last handle went: the slot is out of the table (an opener racing it takes a new one).
    pub closed: bool,
}

/// The writer of one inode, shared by its write handles.
#[derive(Debug)]
pub(crate) struct WriteSlot {
    /// The inode written.
    pub ino: InodeNo,
    /// Writer and bookkeeping, one call at a time.
    pub state: tokio::sync::Mutex<SlotState>,
    /// The counters of the writer in `state`, for status queries made while a call holds
    /// the lock ([`crate::fs::status`]); refreshed whenever `state` is seen.
    shown: Mutex<Option<Progress>>,
}

impl WriteSlot {
    /// Show the counters of the writer `state` holds now (call after putting one in).
    pub fn show(&self, state: &SlotState) {
        *self.shown.lock().unwrap_or_else(|p| p.into_inner()) = state.writer.as_ref().map(FileWriter::progress);
    }

    /// The counters last shown.
    pub fn shown(&self) -> Option<Progress> {
        self.shown.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// All open files of a mount.
#[derive(Debug, Default)]
pub(crate) struct HandleTable {
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    slots: Mutex<HashMap<InodeNo, Arc<WriteSlot>>>,
    next: AtomicU64,
}

impl HandleTable {
    fn files(&self) -> MutexGuard<'_, HashMap<u64, Arc<OpenFile>>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<InodeNo, Arc<WriteSlot>>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a new open file; returns its handle number.
    pub fn insert(&self, ino: InodeNo, writable: bool, append: bool) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let file = Arc::new(OpenFile {
            ino,
            writable,
            append,
            reader: tokio::sync::Mutex::new(None),
        });
        self.files().insert(fh, file);
        crate::metrics::global().fs.open_files.inc();
        fh
    }

    /// The open file `fh`.
    pub fn get(&self, fh: u64) -> FsResult<Arc<OpenFile>> {
        self.files().get(&fh).cloned().ok_or(FsError::BadHandle(fh))
    }

    /// Remove `fh` from the table.
    pub fn remove(&self, fh: u64) -> Option<Arc<OpenFile>> {
        let removed = self.files().remove(&fh);
        if removed.is_some() {
            crate::metrics::global().fs.open_files.dec();
        }
        removed
    }

    /// The write slot of `ino`, made when there is none. The caller locks it and counts its
    /// handle in ([`SlotState::handles`]); a slot found `closed` must be given up and asked
    /// for again.
    pub fn slot_for(&self, ino: InodeNo) -> Arc<WriteSlot> {
        self.slots()
            .entry(ino)
            .or_insert_with(|| {
                Arc::new(WriteSlot {
                    ino,
                    state: tokio::sync::Mutex::new(SlotState::default()),
                    shown: Mutex::new(None),
                })
            })
            .clone()
    }

    /// The write slot of `ino`, if a handle writes it.
    pub fn slot_of(&self, ino: InodeNo) -> Option<Arc<WriteSlot>> {
        self.slots().get(&ino).cloned()
    }

    /// Take `slot` out of the table (its last handle went; the caller holds its lock and has
    /// marked it closed).
    pub fn remove_slot(&self, slot: &Arc<WriteSlot>) {
        let mut slots = self.slots();
        if slots.get(&slot.ino).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            slots.remove(&slot.ino);
        }
    }

    /// Every write slot.
    pub fn all_slots(&self) -> Vec<Arc<WriteSlot>> {
        self.slots().values().cloned().collect()
    }
}
