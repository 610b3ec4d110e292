//! File contents: create, open, read, write, flush, fsync, release and truncate, wired to
//! the inode's one shared writer ([`crate::fs::handles::WriteSlot`], a [`FileWriter`]) and
//! the read pipeline ([`FileReader`]).
//!
//! Which writer an inode gets when its first write handle opens: create() with O_APPEND →
//! [`FileWriter::append`] over nothing (an Appendable object whose creation never overwrites
//! another writer's); other creates and O_TRUNC → [`FileWriter::create`] (new content);
//! O_APPEND → [`FileWriter::append`] with the object's metadata; write access otherwise →
//! [`FileWriter::open_existing`]. Later write handles share it (O_TRUNC truncates it). Every
//! object written carries the file's attributes as user metadata ([`BosFs::put_options`]),
//! with the inode's pending changes encoded at commit time. While a slot exists the inode
//! carries the writer's size and time ([`LocalFile`]) so stat, lookup and readdir answer
//! without the bucket, which may not have the object yet.
//!
//! Durability: flush (every close of a descriptor) and fsync store the writer's content under
//! the inode's current key and return its error, so `cp` exits non-zero when an upload fails
//! — a new empty file and an O_TRUNC to zero included. Descriptors duplicated before or after
//! writes (dup, fork, the shell's `> file`) flush more than once; the commit is idempotent, so
//! only a flush after new writes uploads. Nothing else publishes a stream writer's content: a
//! file still open when the mount stops keeps its last stored version ([`BosFs::shutdown`]).

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use crate::bos::{ObjectMeta, ObjectType, PutOptions, StorageClass};
use crate::fs::attr::{NodeKind, ObjectAttr, Perms};
use crate::fs::error::{FsError, FsResult};
use crate::fs::handles::{SlotState, WriteSlot};
use crate::fs::inode::{InodeNo, LocalFile};
use crate::fs::meta_cache::Cached;
use crate::fs::meta_codec;
use crate::fs::read::FileReader;
use crate::fs::write::{Committed, FileWriter};
use crate::fs::{BosFs, FsAttr};

/// How a handle opens the inode's writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpenMode {
    /// create(): a new file (O_APPEND: an Appendable one).
    Created { append: bool },
    /// open() with O_TRUNC.
    Truncate,
    /// open() with O_APPEND.
    Append,
    /// open() for writing, old bytes kept.
    Existing,
}

impl BosFs {
    /// Create file `name` in `parent` and open it for writing; returns its attributes and handle.
    /// With O_APPEND the file becomes an Appendable object created by the first AppendObject
    /// (which refuses to overwrite one another writer created meanwhile), otherwise new content.
    pub async fn create(&self, parent: InodeNo, name: &OsStr, mode: u32, flags: i32) -> FsResult<(FsAttr, u64)> {
        self.create_as(parent, name, mode, flags, None).await
    }

    /// [`BosFs::create`] on behalf of `caller`, who owns the new file (see `access`).
    pub async fn create_as(
        &self,
        parent: InodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
        caller: Option<&crate::fs::Caller>,
    ) -> FsResult<(FsAttr, u64)> {
        let (name, key) = self.new_entry_key(parent, name, NodeKind::File)?;
        // A mode equal to the mount's default is not stored: a plain file needs no user
        // metadata (and so no attribute index, see `attr_index`); nor are owner and group
        // equal to the mount's.
        let initial = self
            .initial_perms(parent, caller, (mode & 0o7777) as u16, false)
            .await?;
        let attr = ObjectAttr::file(0, SystemTime::now(), None);
        // Replaces what was cached (keeps a complete directory complete: the name is held).
        self.cache().put_found(&key, attr.clone());
        let entry = self.remember_entry(parent, name, &attr)?;
        // The first commit stores the mode with the content.
        self.inodes().change_perms(entry.ino, |p| *p = initial);
        self.touch_content(entry.ino);
        self.touch_entries(parent);
        let append = flags & libc::O_APPEND != 0;
        let fh = match self.open_for_writing(entry.ino, OpenMode::Created { append }).await {
            Ok(fh) => fh,
            Err(e) => {
                self.forget_name(parent, name, &key);
                return Err(e);
            }
        };
        let attr = self.getattr(entry.ino).await?;
        Ok((attr, fh))
    }

    /// Open file `ino` with `flags` (O_ACCMODE, O_TRUNC, O_APPEND); returns the handle.
    ///
    /// O_APPEND needs the object's type and next append offset: a HEAD, unless a fresh lookup
    /// (or our own last commit) already told them — `echo line >> log` then costs no HEAD here.
    pub async fn open(&self, ino: InodeNo, flags: i32) -> FsResult<u64> {
        let node = self.node(ino)?;
        if node.kind == NodeKind::Directory {
            return Err(FsError::IsDirectory);
        }
        if flags & libc::O_ACCMODE == libc::O_RDONLY {
            let written = self.handles.slot_of(ino).is_some();
            let reader = if written {
                None
            } else {
                let key = node.live_key().ok_or(FsError::NotFound)?.to_string();
                Some((key.clone(), self.reader_for(&key, false).await?))
            };
            self.inodes().open_handle(ino);
            let fh = self.handles.insert(ino, false, false);
            if let Some(reader) = reader {
                *self.handles.get(fh)?.reader.lock().await = Some(reader);
            }
            return Ok(fh);
        }
        self.check_writable()?;
        let mode = if flags & libc::O_TRUNC != 0 {
            OpenMode::Truncate
        } else if flags & libc::O_APPEND != 0 {
            OpenMode::Append
        } else {
            OpenMode::Existing
        };
        self.open_for_writing(ino, mode).await
    }

    /// Count a write handle into the slot of `ino`, making its writer when it is the first.
    async fn open_for_writing(&self, ino: InodeNo, mode: OpenMode) -> FsResult<u64> {
        let append = matches!(mode, OpenMode::Append | OpenMode::Created { append: true });
        loop {
            let slot = self.handles.slot_for(ino);
            let mut state = slot.state.lock().await;
            if state.closed {
                continue;
            }
            let shared = state.handles > 0;
            let made = match (&mut state.writer, mode) {
                (Some(writer), OpenMode::Truncate | OpenMode::Created { .. }) => {
                    writer.truncate(0).await.map_err(FsError::from)
                }
                (Some(_), _) => Ok(()),
                (None, OpenMode::Append | OpenMode::Existing) if shared => Ok(()),
                (None, _) => match self.new_writer(ino, mode).await {
                    Ok(writer) => {
                        state.writer = Some(writer);
                        slot.show(&state);
                        Ok(())
                    }
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = made {
                if state.handles == 0 {
                    self.close_slot(&slot, &mut state).await;
                }
                return Err(e);
            }
            state.handles += 1;
            let size = state.writer.as_ref().map(FileWriter::size);
            drop(state);
            {
                let mut inodes = self.inodes();
                inodes.update(ino, |n| {
                    let local = n.local.get_or_insert(LocalFile {
                        size: 0,
                        mtime: SystemTime::now(),
                        writers: 0,
                    });
                    local.writers += 1;
                    if let Some(size) = size {
                        local.size = size;
                    }
                });
                inodes.open_handle(ino);
            }
            return Ok(self.handles.insert(ino, true, append));
        }
    }

    /// A writer for `ino` at its current key, opened as `mode` says.
    async fn new_writer(&self, ino: InodeNo, mode: OpenMode) -> FsResult<FileWriter> {
        let node = self.node(ino)?;
        let key = node.live_key().ok_or(FsError::NotFound)?.to_string();
        let (api, bucket, config) = (self.api.clone(), self.config.bucket.clone(), self.config.write.clone());
        if let OpenMode::Created { append } = mode {
            // The create's mode goes with the object's creation (an append writer sets its
            // options only then).
            let options = self.put_options(&key, None, &node.perms);
            return Ok(if append {
                // An append writer stores as it goes, never through a commit: the directory's
                // index must exist before its first send carries metadata.
                if !options.user_meta.is_empty() {
                    self.indexes.ensure_exists(&key).await.map_err(FsError::Internal)?;
                }
                FileWriter::append(api, bucket, key, options, config, None).await?
            } else {
                FileWriter::create(api, bucket, key, options, config)
            });
        }
        let existing = match self.known_meta(&key).await {
            Ok(meta) => Some(meta),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let options = self.put_options(&key, existing.as_deref(), &node.perms);
        Ok(match (mode, existing) {
            (OpenMode::Truncate, _) => FileWriter::create(api, bucket, key, options, config),
            (OpenMode::Append, existing) => {
                if !options.user_meta.is_empty() {
                    self.indexes.ensure_exists(&key).await.map_err(FsError::Internal)?;
                }
                let existing = existing.map(|m| appendable_view(&m));
                FileWriter::append(api, bucket, key, options, config, existing).await?
            }
            (_, Some(meta)) => FileWriter::open_existing(api, bucket, key, options, config, (*meta).clone()).await?,
            (_, None) => return Err(FsError::NotFound),
        })
    }

    /// The slot's writer, made again over the object at the inode's current key when a rename
    /// dropped it (or, for an orphaned inode, as new content nobody will store).
    async fn slot_writer<'s>(
        &self,
        ino: InodeNo,
        state: &'s mut SlotState,
        append: bool,
    ) -> FsResult<&'s mut FileWriter> {
        if state.writer.is_none() {
            let writer = if state.orphaned {
                self.detached_writer(ino)?
            } else {
                let mode = if append { OpenMode::Append } else { OpenMode::Existing };
                self.new_writer(ino, mode).await?
            };
            state.writer = Some(writer);
        }
        state
            .writer
            .as_mut()
            .ok_or_else(|| FsError::Internal("writer vanished".into()))
    }

    /// A writer for a file that lost its name: new content that is never committed.
    fn detached_writer(&self, ino: InodeNo) -> FsResult<FileWriter> {
        let node = self.node(ino)?;
        Ok(FileWriter::create(
            self.api.clone(),
            self.config.bucket.clone(),
            node.key.clone(),
            PutOptions::default(),
            self.config.write.clone(),
        ))
    }

    /// Everything known about the object at `key`: the cached HEAD (or commit) result when
    /// fresh, else a HEAD.
    pub(crate) async fn known_meta(&self, key: &str) -> FsResult<Arc<ObjectMeta>> {
        match self.cache().get(key) {
            Some(Cached::Found(ObjectAttr {
                kind: NodeKind::File,
                meta: Some(meta),
                ..
            })) => return Ok(meta),
            Some(Cached::Missing) => return Err(FsError::NotFound),
            _ => {}
        }
        let meta = self.head(key).await?;
        Ok(Arc::new(meta))
    }

    /// Read up to `size` bytes at `offset` from handle `fh`: through the inode's writer while
    /// one exists (so every descriptor sees every write), else from the bucket.
    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Bytes> {
        let file = self.handles.get(fh)?;
        if let Some(slot) = self.handles.slot_of(file.ino) {
            let mut state = slot.state.lock().await;
            if let Some(writer) = state.writer.as_mut() {
                return Ok(writer.read(offset, size as usize).await?);
            }
        }
        let node = self.node(file.ino)?;
        let mut reader = file.reader.lock().await;
        let stale = reader.as_ref().is_none_or(|(key, _)| *key != node.key);
        if stale {
            *reader = Some((node.key.clone(), self.reader_for(&node.key, false).await?));
        } else if let (Some((_, r)), Some(Cached::Found(attr))) = (reader.as_mut(), self.cache().get(&node.key)) {
            // Our own commit changed the object: read the new version.
            if let Some(etag) = attr.etag {
                r.set_object(attr.size, etag);
            }
        }
        let (_, reader) = reader
            .as_mut()
            .ok_or_else(|| FsError::Internal("reader vanished".into()))?;
        Ok(reader.read(offset, size).await?)
    }

    /// Write `data` at `offset` through handle `fh` (at the end when it was opened with
    /// `O_APPEND`); returns the bytes accepted.
    pub async fn write(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        self.write_through(fh, offset, data, false).await
    }

    /// Write back pages of a shared mapping: at `offset` even through an `O_APPEND` handle
    /// (the kernel picks any writable handle of the file; `O_APPEND` is about `write()` only).
    pub async fn write_from_page_cache(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        self.write_through(fh, offset, data, true).await
    }

    async fn write_through(&self, fh: u64, offset: u64, data: &[u8], positioned: bool) -> FsResult<u32> {
        let file = self.handles.get(fh)?;
        if !file.writable {
            return Err(FsError::BadHandle(fh));
        }
        let slot = self.handles.slot_of(file.ino).ok_or(FsError::BadHandle(fh))?;
        let mut state = slot.state.lock().await;
        let writer = self.slot_writer(file.ino, &mut state, file.append).await?;
        let offset = if file.append && !positioned {
            writer.size()
        } else {
            offset
        };
        if writer.is_append() && offset != writer.size() {
            // A descriptor without O_APPEND writes elsewhere than the end of a file another
            // descriptor appends to: continue as a stream writer (stored whole at close).
            writer.become_stream(false).await?;
        }
        let written = writer.write(offset, data).await.inspect_err(|e| {
            log::warn!(
                "write of {} bytes at {offset} to {} failed: {e}",
                data.len(),
                self.describe(file.ino)
            );
        })?;
        let size = writer.size();
        drop(state);
        self.note_size(file.ino, size);
        Ok(written as u32)
    }

    /// flush (each close of a descriptor): for a write handle, store the inode's writer under
    /// its current key, then its pending attribute changes; the error is the caller's.
    pub async fn flush(&self, fh: u64) -> FsResult<()> {
        let file = self.handles.get(fh)?;
        if file.writable {
            if let Some(slot) = self.handles.slot_of(file.ino) {
                let mut state = slot.state.lock().await;
                self.commit_slot(file.ino, &mut state).await?;
                let pending = self.inodes().get(file.ino).filter(|n| n.has_pending_perms());
                if let Some(node) = pending {
                    self.persist_locked(&node, Some(&mut state)).await?;
                }
            }
        }
        // A descriptor that only read (rsync reads its temp file back between close and
        // chmod) stores nothing: its close is no durability point for attributes.
        Ok(())
    }

    /// fsync: store the inode's writer (a streamed file completes its multipart upload), then
    /// its pending attribute changes.
    pub async fn fsync(&self, fh: u64) -> FsResult<()> {
        let file = self.handles.get(fh)?;
        if let Some(slot) = self.handles.slot_of(file.ino) {
            let mut state = slot.state.lock().await;
            // Durable means in the bucket: a file being streamed completes its multipart
            // upload (later writes continue over the object it made).
            self.commit_slot(file.ino, &mut state)
                .await
                .inspect_err(|e| log::warn!("fsync of {} failed: {e}", self.describe(file.ino)))?;
            let pending = self.inodes().get(file.ino).filter(|n| n.has_pending_perms());
            if let Some(node) = pending {
                self.persist_locked(&node, Some(&mut state)).await?;
            }
            return Ok(());
        }
        self.persist_now(file.ino).await
    }

    /// release (last close of a handle): commit once more if needed, then forget the handle;
    /// the last write handle of an inode closes its slot.
    pub async fn release(&self, fh: u64) -> FsResult<()> {
        let file = self.handles.get(fh)?;
        let mut result = Ok(());
        if file.writable {
            if let Some(slot) = self.handles.slot_of(file.ino) {
                let mut state = slot.state.lock().await;
                result = self.commit_slot(file.ino, &mut state).await.map(|_| ());
                state.handles = state.handles.saturating_sub(1);
                if state.handles == 0 {
                    self.close_slot(&slot, &mut state).await;
                }
            }
        }
        self.handles.remove(fh);
        self.inodes().close_handle(file.ino);
        result
    }

    /// The last write handle of `slot` went (or its first open failed): give up what was not
    /// stored, drop the writer and the inode's local size.
    async fn close_slot(&self, slot: &Arc<WriteSlot>, state: &mut SlotState) {
        self.note_outcome(slot.ino, state);
        if let Some(mut writer) = state.writer.take() {
            if state.orphaned || writer.carries_options() {
                writer.abort().await;
            }
        }
        state.closed = true;
        self.handles.remove_slot(slot);
        self.inodes().update(slot.ino, |n| n.end_local());
    }

    /// The inode of `state` lost its name: its writer keeps taking writes but nothing is
    /// stored again. An append writer (which sends as it goes) is given up for new content.
    pub(crate) async fn orphan_slot(&self, ino: InodeNo, state: &mut SlotState, content: Option<Bytes>) {
        state.orphaned = true;
        let appends = state
            .writer
            .as_ref()
            .is_some_and(|w| w.object_type() == ObjectType::Appendable);
        if !appends {
            return;
        }
        if let Some(mut writer) = state.writer.take() {
            writer.abort().await;
        }
        // Its content so far (when it could be kept) seeds new content nobody will store.
        if let Some(content) = content {
            if let Ok(mut writer) = self.detached_writer(ino) {
                if writer.write(0, &content).await.is_ok() {
                    state.writer = Some(writer);
                }
            }
        }
    }

    /// What an append writer of a file about to lose its name holds, read before its object
    /// goes (at most one part, to stay in the memory budget; more is not kept for readers).
    pub(crate) async fn orphan_snapshot(&self, state: &mut SlotState) -> Option<Bytes> {
        let writer = state.writer.as_mut()?;
        if writer.object_type() != ObjectType::Appendable {
            return None;
        }
        let size = writer.size();
        if size > self.config.write.part_size as u64 {
            log::info!("an appended file over one part lost its name while open: its earlier bytes are no longer readable through it");
            return None;
        }
        writer.read(0, size as usize).await.ok()
    }

    /// Stop (unmount, SIGTERM): writers still open are not stored — their files keep the
    /// last version a close or fsync stored, and each is named in the log — except append
    /// writers, which send what they hold (their objects grow as they are written). Then
    /// every deferred attribute change is stored and the attribute indexes written, and every
    /// background task is awaited. Returns the number of failures.
    pub async fn shutdown(&self) -> usize {
        let mut failures = 0;
        for slot in self.handles.all_slots() {
            let mut state = slot.state.lock().await;
            let key = self.inodes().get(slot.ino).map(|n| n.key.clone()).unwrap_or_default();
            let orphaned = state.orphaned;
            let Some(writer) = state.writer.as_mut() else {
                continue;
            };
            if orphaned {
                writer.abort().await;
            } else if writer.object_type() == ObjectType::Appendable {
                // Only lines written: an append file nobody wrote to is not created (or
                // emptied) by the mount stopping.
                if writer.holds_appended_bytes().await {
                    if let Err(e) = writer.fsync().await {
                        log::error!("{key:?} was still open for appending; its last bytes could not be sent: {e}");
                        failures += 1;
                    }
                }
            } else if writer.carries_options() {
                log::warn!(
                    "{key:?} was still open for writing when the mount stopped: its unsaved writes are dropped and the bucket keeps its last closed version"
                );
                writer.abort().await;
            }
            // The writer is done; attribute changes still pending go to the version that
            // stays (stored below by a copy, or dropped when there is none).
            state.writer = None;
        }
        failures += self.drain_background().await;
        failures
    }

    /// Set the size of `ino` (truncate / ftruncate).
    /// While a handle writes the file, its shared writer is truncated (whichever handle asked).
    pub(crate) async fn truncate(&self, ino: InodeNo, size: u64) -> FsResult<()> {
        if let Some(slot) = self.handles.slot_of(ino) {
            let mut state = slot.state.lock().await;
            if !state.closed {
                let writer = self.slot_writer(ino, &mut state, false).await?;
                writer.truncate(size).await?;
                let size = writer.size();
                drop(state);
                self.note_size(ino, size);
                return Ok(());
            }
        }
        let node = self.node(ino)?;
        if node.kind == NodeKind::Directory {
            return Err(FsError::IsDirectory);
        }
        let key = node.live_key().ok_or(FsError::NotFound)?.to_string();
        let meta = self.known_meta(&key).await?;
        let gen = node.perms_gen;
        let options = self.put_options(&key, Some(&meta), &node.perms);
        if !options.user_meta.is_empty() {
            self.indexes.ensure_exists(&key).await.map_err(FsError::Internal)?;
        }
        let _noting = self.indexes.changing().await;
        if meta.size == size {
            return Ok(());
        }
        if size == 0 {
            let put = self
                .api
                .put_object(&self.config.bucket, &key, Bytes::new(), &options)
                .await?;
            let done = Committed {
                size: 0,
                etag: put.etag,
                last_modified: SystemTime::now(),
            };
            let attr = committed_attr(&key, &done, &options, ObjectType::Normal);
            self.note_stored_attr(&key, attr);
            self.inodes().perms_stored(ino, gen);
            return Ok(());
        }
        if meta.size == size {
            return Ok(());
        }
        let mut writer = FileWriter::open_existing(
            self.api.clone(),
            self.config.bucket.clone(),
            key.clone(),
            options.clone(),
            self.config.write.clone(),
            (*meta).clone(),
        )
        .await?;
        let result = async {
            writer.truncate(size).await?;
            writer.commit().await
        }
        .await;
        match result {
            Ok(done) => {
                let attr = committed_attr(&key, &done, &options, writer.object_type());
                self.note_stored_attr(&key, attr);
                self.inodes().perms_stored(ino, gen);
                Ok(())
            }
            Err(e) => {
                writer.abort().await;
                Err(e.into())
            }
        }
    }

    /// Put the inode's pending attribute changes into the writer's options, when its next
    /// store sends them (a stream writer with changes, an append writer that has yet to
    /// create its object). Returns the generation they carry.
    async fn prepare_commit(&self, ino: InodeNo, state: &mut SlotState) -> FsResult<Option<u64>> {
        let Some(writer) = state.writer.as_mut() else {
            return Ok(None);
        };
        if !writer.options_go_with_next_store().await {
            return Ok(None);
        }
        let node = self.node(ino)?;
        let mut options = writer.options();
        meta_codec::encode_perms(&node.perms, false, &mut options.user_meta);
        crate::fs::persist::check_size(&options.user_meta)?;
        writer.set_options(options);
        Ok(Some(node.perms_gen))
    }

    /// Store the slot's writer under the inode's current key with its current attributes
    /// (nothing when nothing changed, or when the inode lost its name); the cache, the
    /// attribute index and the inode learn what is stored.
    pub(crate) async fn commit_slot(&self, ino: InodeNo, state: &mut SlotState) -> FsResult<Option<Committed>> {
        if state.orphaned || state.writer.is_none() {
            return Ok(None);
        }
        let node = self.node(ino)?;
        let Some(key) = node.live_key().map(str::to_string) else {
            self.orphan_slot(ino, state, None).await;
            return Ok(None);
        };
        let carried = self.prepare_commit(ino, state).await?;
        let Some(writer) = state.writer.as_mut() else {
            return Ok(None);
        };
        if !writer.options().user_meta.is_empty() && writer.has_unsent().await {
            // Stored attributes must be findable by a listing: the directory needs an index.
            self.indexes.ensure_exists(&key).await.map_err(FsError::Internal)?;
        }
        let _noting = self.indexes.changing().await;
        let sends = writer.has_unsent().await;
        let changes = writer.changes_object().await;
        let done = match writer.commit().await {
            Ok(done) => done,
            Err(e) => {
                log::error!("upload of {key:?} failed: {e}");
                // What the bucket holds now is unknown (an answer may have been lost).
                self.cache().invalidate(&key);
                return Err(e.into());
            }
        };
        if changes {
            let options = writer.options();
            let attr = committed_attr(&key, &done, &options, writer.object_type());
            self.note_stored_attr(&key, attr);
        }
        if let (Some(gen), true) = (carried, sends) {
            self.inodes().perms_stored(ino, gen);
        }
        // A commit is no write: the file's times stay those of its last write (see `times`).
        self.inodes()
            .update(ino, |n| n.local.iter_mut().for_each(|l| l.size = done.size));
        Ok(Some(done))
    }

    /// The object at `key` is now `attr` (after an upload of ours).
    fn note_stored_attr(&self, key: &str, attr: ObjectAttr) {
        self.index_note(key, &attr);
        self.cache().put_found(key, attr);
    }

    fn note_size(&self, ino: InodeNo, size: u64) {
        self.inodes().update(ino, |n| {
            if let Some(local) = n.local.as_mut() {
                local.size = size;
                local.mtime = SystemTime::now();
            }
        });
    }

    async fn reader_for(&self, key: &str, being_written: bool) -> FsResult<FileReader> {
        let known = match self.stat_file(key).await {
            Ok(ObjectAttr {
                size, etag: Some(etag), ..
            }) => Ok((size, etag)),
            Ok(_) => self.head(key).await.map(|m| (m.size, m.etag)),
            Err(e) => Err(e),
        };
        let (size, etag) = match known {
            Ok(known) => known,
            Err(FsError::NotFound) if being_written => (0, String::new()),
            Err(e) => return Err(e),
        };
        Ok(FileReader::new(
            self.api.clone(),
            self.config.bucket.clone(),
            key.to_string(),
            size,
            etag,
            self.config.read.clone(),
        ))
    }

    /// Options of objects we write at `key`: Content-Type from the name (or the old object),
    /// the mount's storage class, and user metadata: the old object's (extended attributes,
    /// owner, mode — but not its times, the content changes) with `perms` over it.
    pub(crate) fn put_options(&self, key: &str, old: Option<&ObjectMeta>, perms: &Perms) -> PutOptions {
        let mut user_meta = old.map(|m| m.user_meta.clone()).unwrap_or_default();
        user_meta.remove(meta_codec::MTIME);
        user_meta.remove(meta_codec::ATIME);
        meta_codec::encode_perms(perms, false, &mut user_meta);
        PutOptions {
            content_type: old
                .and_then(|m| m.content_type.clone())
                .or_else(|| mime_guess::from_path(key).first().map(|m| m.essence_str().to_string())),
            storage_class: self.config.storage_class.filter(|c| *c != StorageClass::Standard),
            user_meta,
            ..PutOptions::default()
        }
    }
}

/// The attributes of the object a commit left at `key`.
pub(crate) fn committed_attr(key: &str, done: &Committed, options: &PutOptions, object_type: ObjectType) -> ObjectAttr {
    let mut meta = ObjectMeta::new(key);
    meta.size = done.size;
    meta.etag = done.etag.clone();
    meta.last_modified = done.last_modified;
    meta.content_type = options.content_type.clone();
    meta.storage_class = options.storage_class.unwrap_or(StorageClass::Standard);
    meta.object_type = object_type;
    meta.next_append_offset = (object_type == ObjectType::Appendable).then_some(done.size);
    meta.user_meta = options.user_meta.clone();
    ObjectAttr::from_meta(meta)
}

/// `meta` as an append writer must see it: an Appendable object's next offset is its size.
fn appendable_view(meta: &ObjectMeta) -> ObjectMeta {
    let mut meta = meta.clone();
    if meta.object_type == ObjectType::Appendable && meta.next_append_offset.is_none() {
        meta.next_append_offset = Some(meta.size);
    }
    meta
}
