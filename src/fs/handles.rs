//! The open-file table: handle number → the handle's state (a reader or a writer).
//!
//! Each handle's state sits behind a `tokio::sync::Mutex`, so calls on one handle run one
//! at a time. Arrival order of write/flush/release/fsync is the adapter's job (it queues
//! them per handle); the mutex guarantees exclusive access to the pipeline.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::InodeNo;
use crate::fs::read::FileReader;
use crate::fs::write::FileWriter;

/// What a handle does.
#[derive(Debug)]
pub(crate) enum HandleState {
    /// Opened read-only.
    Reader(FileReader),
    /// Opened for writing.
    Writer(Box<FileWriter>),
}

/// One open file.
#[derive(Debug)]
pub(crate) struct OpenFile {
    /// The file's inode.
    pub ino: InodeNo,
    /// Object key at open time.
    pub key: String,
    /// Opened for writing.
    pub writable: bool,
    /// Whether write or truncate ran on this handle (a flush before any write has nothing to commit).
    pub touched: std::sync::atomic::AtomicBool,
    /// Reader or writer.
    pub state: tokio::sync::Mutex<HandleState>,
}

/// All open files of a mount.
#[derive(Debug, Default)]
pub(crate) struct HandleTable {
    files: Mutex<HashMap<u64, Arc<OpenFile>>>,
    next: Mutex<u64>,
}

impl HandleTable {
    /// Register a new open file; returns its handle number.
    pub fn insert(&self, ino: InodeNo, key: String, state: HandleState) -> u64 {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        *next += 1;
        let fh = *next;
        let writable = matches!(state, HandleState::Writer(_));
        let file = Arc::new(OpenFile {
            ino,
            key,
            writable,
            touched: std::sync::atomic::AtomicBool::new(false),
            state: tokio::sync::Mutex::new(state),
        });
        self.files.lock().unwrap_or_else(|p| p.into_inner()).insert(fh, file);
        fh
    }

    /// The open file `fh`.
    pub fn get(&self, fh: u64) -> FsResult<Arc<OpenFile>> {
        self.files
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&fh)
            .cloned()
            .ok_or(FsError::BadHandle(fh))
    }

    /// Remove `fh` from the table.
    pub fn remove(&self, fh: u64) -> Option<Arc<OpenFile>> {
        self.files.lock().unwrap_or_else(|p| p.into_inner()).remove(&fh)
    }

    /// Every open file with its handle number.
    pub fn all(&self) -> Vec<(u64, Arc<OpenFile>)> {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files.iter().map(|(fh, f)| (*fh, f.clone())).collect()
    }

    /// A handle open for writing on `ino`, if any.
    pub fn writer_of(&self, ino: InodeNo) -> Option<Arc<OpenFile>> {
        let files = self.files.lock().unwrap_or_else(|p| p.into_inner());
        files.values().find(|f| f.ino == ino && f.writable).cloned()
    }
}
