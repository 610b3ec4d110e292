//! File contents: create, open, read, write, flush, fsync, release and truncate, wired to
//! the write pipeline ([`FileWriter`]) and the read pipeline ([`FileReader`]).
//!
//! Which writer a handle gets: create() with O_APPEND → [`FileWriter::append`] over nothing
//! (an Appendable object whose creation never overwrites another writer's); other creates and
//! O_TRUNC → [`FileWriter::create`] (new content); O_APPEND → [`FileWriter::append`] with the
//! object's metadata (cached from the lookup's HEAD or our last commit when fresh, else a
//! HEAD); write access otherwise → [`FileWriter::open_existing`]. Every object written
//! carries the file's attributes as user metadata ([`BosFs::put_options`]): the old object's
//! (mode, owner, extended attributes; not its times) with pending changes over them. While a handle writes, the inode carries the writer's
//! size and time ([`LocalFile`]) so stat and lookup answer without the bucket, which may
//! not have the object yet. flush (every close) commits and returns the writer's error,
//! so `cp` exits non-zero when an upload fails; release commits again (a no-op when
//! nothing changed) and logs failures, which the kernel cannot report to anyone.

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;

use crate::bos::{ObjectMeta, ObjectType, PutOptions, StorageClass};
use crate::fs::attr::{NodeKind, ObjectAttr, Perms};
use crate::fs::error::{FsError, FsResult};
use crate::fs::handles::{HandleState, OpenFile};
use crate::fs::inode::{InodeNo, LocalFile};
use crate::fs::meta_cache::Cached;
use crate::fs::meta_codec;
use crate::fs::read::FileReader;
use crate::fs::write::{Committed, FileWriter};
use crate::fs::{BosFs, FsAttr};

impl BosFs {
    /// Create file `name` in `parent` and open it for writing; returns its attributes and handle.
    /// With O_APPEND the file becomes an Appendable object created by the first AppendObject
    /// (which refuses to overwrite one another writer created meanwhile), otherwise new content.
    pub async fn create(&self, parent: InodeNo, name: &OsStr, mode: u32, flags: i32) -> FsResult<(FsAttr, u64)> {
        let (name, key) = self.new_entry_key(parent, name, NodeKind::File)?;
        // A mode equal to the mount's default is not stored: a plain file needs no user
        // metadata (and so no attribute index, see `attr_index`).
        let mode = (mode & 0o7777) as u16;
        let perms = Perms {
            mode: (mode != self.config.defaults.file_mode).then_some(mode),
            ..Perms::default()
        };
        let options = self.put_options(&key, None, &perms);
        let (api, bucket, config) = (self.api.clone(), self.config.bucket.clone(), self.config.write.clone());
        let writer = if flags & libc::O_APPEND != 0 {
            FileWriter::append(api, bucket, key.clone(), options, config, None).await?
        } else {
            FileWriter::create(api, bucket, key.clone(), options, config)
        };
        let attr = ObjectAttr::file(0, SystemTime::now(), None);
        // Replaces what was cached (keeps a complete directory complete: the name is held).
        self.cache().put_found(&key, attr.clone());
        let entry = self.remember_entry(parent, name, &attr)?;
        self.inodes().update(entry.ino, |n| n.perms = perms);
        let fh = self.open_writer(entry.ino, key, writer);
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
        let key = node.key.clone();
        if flags & libc::O_ACCMODE == libc::O_RDONLY {
            let reader = self.reader_for(&key, node.local.is_some()).await?;
            self.inodes().open_handle(ino);
            return Ok(self.handles.insert(ino, key, HandleState::Reader(reader)));
        }
        self.check_writable()?;
        let (api, bucket, config) = (self.api.clone(), self.config.bucket.clone(), self.config.write.clone());
        let existing = match self.known_meta(&key).await {
            Ok(meta) => Some(meta),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let options = self.put_options(&key, existing.as_deref(), &node.perms);
        let writer = if flags & libc::O_TRUNC != 0 {
            FileWriter::create(api, bucket, key.clone(), options, config)
        } else if flags & libc::O_APPEND != 0 {
            let existing = existing.map(|m| appendable_view(&m));
            FileWriter::append(api, bucket, key.clone(), options, config, existing).await?
        } else {
            match existing {
                Some(meta) => {
                    FileWriter::open_existing(api, bucket, key.clone(), options, config, (*meta).clone()).await?
                }
                None if node.local.is_some() => FileWriter::create(api, bucket, key.clone(), options, config),
                None => return Err(FsError::NotFound),
            }
        };
        Ok(self.open_writer(ino, key, writer))
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

    /// Read up to `size` bytes at `offset` from handle `fh`.
    pub async fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Bytes> {
        let file = self.handles.get(fh)?;
        let mut state = file.state.lock().await;
        match &mut *state {
            HandleState::Reader(reader) => Ok(reader.read(offset, size).await?),
            HandleState::Writer(writer) => Ok(writer.read(offset, size as usize).await?),
        }
    }

    /// Write `data` at `offset` through handle `fh`; returns the bytes accepted.
    pub async fn write(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        let file = self.handles.get(fh)?;
        let mut state = file.state.lock().await;
        let HandleState::Writer(writer) = &mut *state else {
            return Err(FsError::BadHandle(fh));
        };
        let written = writer.write(offset, data).await.inspect_err(|e| {
            log::warn!(
                "write of {} bytes at {offset} to {:?} failed: {e}",
                data.len(),
                file.key
            );
        })?;
        file.touched.store(true, std::sync::atomic::Ordering::SeqCst);
        self.note_size(file.ino, writer.size());
        Ok(written as u32)
    }

    /// flush (each close of a descriptor): commit a writer; its error is the caller's.
    ///
    /// A flush before the handle wrote anything commits nothing: shells open a file, `dup2`
    /// it and close the original descriptor before writing (`echo x > f`), and committing
    /// there would upload the file twice. Such a file (e.g. from `touch`) is created at
    /// release. Descriptors duplicated after writes (dup, fork) flush more than once; the
    /// writer's commit is idempotent, so only the first flush after new writes uploads.
    pub async fn flush(&self, fh: u64) -> FsResult<()> {
        let file = self.handles.get(fh)?;
        if !file.touched.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let mut state = file.state.lock().await;
        if let HandleState::Writer(writer) = &mut *state {
            self.commit(&file, writer).await?;
        }
        Ok(())
    }

    /// fsync: what the writer can make durable now (see [`FileWriter::fsync`]).
    pub async fn fsync(&self, fh: u64) -> FsResult<()> {
        let file = self.handles.get(fh)?;
        let mut state = file.state.lock().await;
        if let HandleState::Writer(writer) = &mut *state {
            writer
                .fsync()
                .await
                .inspect_err(|e| log::warn!("fsync of {:?} failed: {e}", file.key))?;
        }
        drop(state);
        if self.take_deferred(file.ino) {
            self.persist_now(file.ino).await?;
        }
        Ok(())
    }

    /// release (last close): commit once more if needed, then forget the handle.
    pub async fn release(&self, fh: u64) -> FsResult<()> {
        // The handle stays in the table until its commit is done, so a chmod or utimes that
        // arrives meanwhile (rsync sets times right after close) finds the writer and waits.
        let file = self.handles.get(fh)?;
        let mut state = file.state.lock().await;
        let result = match &mut *state {
            HandleState::Writer(writer) => {
                let result = self.commit(&file, writer).await.map(|_| ());
                if result.is_err() {
                    writer.abort().await;
                }
                self.inodes().update(file.ino, |n| {
                    if let Some(local) = n.local.as_mut() {
                        local.writers = local.writers.saturating_sub(1);
                        if local.writers == 0 {
                            n.local = None;
                        }
                    }
                });
                result
            }
            HandleState::Reader(_) => Ok(()),
        };
        drop(state);
        self.handles.remove(fh);
        self.inodes().close_handle(file.ino);
        result
    }

    /// Commit every open writer (unmount, SIGTERM): finish uploads before going away, then
    /// store deferred attribute changes and write the attribute indexes' waiting changes.
    pub async fn commit_all(&self) -> usize {
        let failures = self.commit_writers().await;
        self.flush_deferred_all().await;
        self.indexes.flush_all().await;
        failures
    }

    async fn commit_writers(&self) -> usize {
        let mut failures = 0;
        for (fh, file) in self.handles.all() {
            let mut state = file.state.lock().await;
            if let HandleState::Writer(writer) = &mut *state {
                if let Err(e) = self.commit(&file, writer).await {
                    log::error!("upload of {:?} (handle {fh}) could not be finished: {e}", file.key);
                    writer.abort().await;
                    failures += 1;
                }
            }
        }
        failures
    }

    /// Set the size of `ino` (truncate / ftruncate).
    pub(crate) async fn truncate(&self, ino: InodeNo, fh: Option<u64>, size: u64) -> FsResult<()> {
        let open = match fh.map(|fh| self.handles.get(fh)) {
            Some(Ok(file)) if file.writable => Some(file),
            _ => self.handles.writer_of(ino),
        };
        if let Some(file) = open {
            let mut state = file.state.lock().await;
            if let HandleState::Writer(writer) = &mut *state {
                writer.truncate(size).await?;
                file.touched.store(true, std::sync::atomic::Ordering::SeqCst);
                self.note_size(ino, writer.size());
                return Ok(());
            }
        }
        let node = self.node(ino)?;
        if node.kind == NodeKind::Directory {
            return Err(FsError::IsDirectory);
        }
        let key = node.key;
        let meta = self.known_meta(&key).await?;
        let options = self.put_options(&key, Some(&meta), &node.perms);
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
            self.index_note(&key, &attr);
            self.cache().put_found(&key, attr);
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
                self.index_note(&key, &attr);
                self.cache().put_found(&key, attr);
                Ok(())
            }
            Err(e) => {
                writer.abort().await;
                Err(e.into())
            }
        }
    }

    /// Commit `writer` of `file` now (rename of a file still being written).
    pub(crate) async fn commit_handle(&self, file: &OpenFile, writer: &mut FileWriter) -> FsResult<Committed> {
        self.commit(file, writer).await
    }

    async fn commit(&self, file: &OpenFile, writer: &mut FileWriter) -> FsResult<Committed> {
        let done = writer.commit().await.inspect_err(|e| {
            log::error!("upload of {:?} failed: {e}", file.key);
        })?;
        let options = writer.options();
        let attr = committed_attr(&file.key, &done, &options, writer.object_type());
        self.index_note(&file.key, &attr);
        self.cache().put_found(&file.key, attr.clone());
        self.inodes().update(file.ino, |n| {
            // What the commit stored is now the object's own; keep only what differs.
            if n.perms.merged(attr.perms) == attr.perms {
                n.perms = Perms::default();
            }
        });
        self.note_size(file.ino, done.size);
        Ok(done)
    }

    fn open_writer(&self, ino: InodeNo, key: String, writer: FileWriter) -> u64 {
        let size = writer.size();
        {
            let mut inodes = self.inodes();
            inodes.update(ino, |n| {
                let local = n.local.get_or_insert(LocalFile {
                    size,
                    mtime: SystemTime::now(),
                    writers: 0,
                });
                local.writers += 1;
                local.size = size;
            });
            inodes.open_handle(ino);
        }
        self.handles.insert(ino, key, HandleState::Writer(Box::new(writer)))
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
