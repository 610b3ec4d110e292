//! Storing attribute changes (chmod, chown, utimes, extended attributes) in the object's
//! user metadata.
//!
//! - A file with an open writer whose next commit uploads anyway: the writer's options get
//!   the new metadata and the commit carries it — no extra request.
//! - Any other file: CopyObject of the object onto itself with the `replace` directive,
//!   conditioned on the ETag we know (`x-bce-copy-source-if-match`); if someone changed the
//!   object meanwhile, HEAD it and try once more over its current metadata. An open append
//!   writer first sends what it holds, so the object exists. The copy keeps the content,
//!   storage class and object type; it would move Last-Modified, so the current mtime is
//!   stored with it when none was (chmod must not look like a content change).
//! - A directory: its "dir/" marker is put again with the new metadata (the root has no
//!   marker: its attributes stay in memory).
//!
//! Changes are held on the inode ([`crate::fs::attr::Perms`]) until stored, so stat shows them at once.
//!
//! Deferred changes: chmod, chown and utimes of a file whose object we know in full (cached
//! metadata, e.g. our own commit a moment ago) and that has no writer to carry them are not
//! stored at once but [`DEFER_DELAY`] later, folded into the next operation on the file:
//! a rename stores them with its one CopyObject (`replace` directive, see `rename`), so
//! rsync's close, utimes, chmod, rename costs PutObject + CopyObject + DeleteObject instead
//! of two more copies; otherwise a CopyObject onto itself stores them after the delay, at
//! fsync, or at unmount / SIGTERM ([`BosFs::flush_deferred_all`]). The durability window:
//! a mount killed with SIGKILL (or a machine that dies) within [`DEFER_DELAY`] of such a
//! change loses that attribute change — never content, which close already stored. A
//! failure to store one later is logged and retried at unmount; stat keeps showing it.
//! Without a running background ([`BosFs::start_background`]) nothing is deferred.
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use crate::bos::{CopyConditions, CopyOptions, ErrorKind, MetadataDirective, ObjectMeta, PutOptions};
use crate::fs::attr::{NodeKind, ObjectAttr, Perms};
use crate::fs::error::{FsError, FsResult};
use crate::fs::handles::HandleState;
use crate::fs::inode::{Inode, InodeNo};
use crate::fs::meta_codec;
use crate::fs::{path_of, BosFs};

/// How long an attribute change of a file waits to be folded into its next operation.
pub const DEFER_DELAY: Duration = Duration::from_millis(500);

/// How user metadata changes: a function of the current metadata.
pub(crate) type MetaEdit<'a> = &'a (dyn Fn(&mut BTreeMap<String, String>) -> FsResult<()> + Sync);

impl BosFs {
    /// Let deferred attribute changes be stored in the background (see the module doc).
    pub fn start_background(self: &Arc<Self>) {
        let _ = self.me.set(Arc::downgrade(self));
    }

    /// Store (or defer, see the module doc) the attribute changes held on inode `ino`.
    pub(crate) async fn persist_perms(&self, ino: InodeNo) -> FsResult<()> {
        let node = self.node(ino)?;
        if node.perms == Perms::default() {
            return Ok(());
        }
        if node.kind != NodeKind::Directory && self.try_defer(&node).await? {
            return Ok(());
        }
        self.persist_now(ino).await
    }

    /// Defer the changes of file `node` when they can wait; E2BIG is still reported now.
    async fn try_defer(&self, node: &Inode) -> FsResult<bool> {
        let Some(me) = self.me.get().cloned() else {
            return Ok(false);
        };
        if let Some(file) = self.handles.writer_of(node.ino) {
            let state = file.state.lock().await;
            if let HandleState::Writer(writer) = &*state {
                if writer.carries_options() || writer.object_type() == crate::bos::ObjectType::Appendable {
                    return Ok(false);
                }
            }
        }
        let meta = match self.cache().get(&node.key) {
            Some(crate::fs::meta_cache::Cached::Found(ObjectAttr {
                kind: NodeKind::File,
                meta: Some(meta),
                ..
            })) => meta,
            _ => return Ok(false),
        };
        let mut user_meta = meta.user_meta.clone();
        meta_codec::encode_perms(&node.perms, false, &mut user_meta);
        check_size(&user_meta)?;
        let seq = self.defer_seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.deferred().insert(node.ino, seq);
        let ino = node.ino;
        tokio::spawn(async move {
            tokio::time::sleep(DEFER_DELAY).await;
            if let Some(fs) = me.upgrade() {
                fs.flush_deferred_if(ino, Some(seq)).await;
            }
        });
        Ok(true)
    }

    fn deferred(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<InodeNo, u64>> {
        self.deferred.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `ino` had deferred changes (now no longer deferred: the caller stores them).
    pub(crate) fn take_deferred(&self, ino: InodeNo) -> bool {
        self.deferred().remove(&ino).is_some()
    }

    /// Store `ino`'s deferred changes now (when `seq` is given: only if still that deferral).
    pub(crate) async fn flush_deferred_if(&self, ino: InodeNo, seq: Option<u64>) {
        let _exclusive = self.deferred_io.write().await;
        {
            let mut deferred = self.deferred();
            match (deferred.get(&ino), seq) {
                (Some(have), Some(want)) if *have != want => return,
                (None, _) => return,
                _ => {}
            }
            deferred.remove(&ino);
        }
        match self.persist_now(ino).await {
            Ok(()) | Err(FsError::NotFound) | Err(FsError::StaleInode(_)) => {}
            Err(e) => {
                log::warn!(
                    "storing deferred attribute changes of inode {} failed (retried at unmount): {e}",
                    ino.0
                );
                self.deferred().entry(ino).or_insert(u64::MAX);
            }
        }
    }

    /// Store every deferred change now (unmount, SIGTERM).
    pub async fn flush_deferred_all(&self) {
        let all: Vec<InodeNo> = self.deferred().keys().copied().collect();
        for ino in all {
            self.flush_deferred_if(ino, None).await;
        }
    }

    /// Store the attribute changes held on inode `ino` now.
    pub(crate) async fn persist_now(&self, ino: InodeNo) -> FsResult<()> {
        let node = self.node(ino)?;
        if node.perms == Perms::default() {
            return Ok(());
        }
        let perms = node.perms;
        let edit = move |meta: &mut BTreeMap<String, String>| {
            meta_codec::encode_perms(&perms, false, meta);
            Ok(())
        };
        let stored = match node.kind {
            NodeKind::Directory => {
                self.edit_dir_meta(&node, &edit).await?;
                true
            }
            _ => self.edit_file_meta(&node, &edit).await?,
        };
        if !stored {
            // Carried by the writer's next commit, which clears them once stored.
            return Ok(());
        }
        self.inodes().update(ino, |n| {
            if n.perms == perms {
                n.perms = Perms::default();
            }
        });
        Ok(())
    }

    /// Apply `edit` to the user metadata of file `node` and store it. `Ok(false)`: an open
    /// writer's next commit will store it.
    pub(crate) async fn edit_file_meta(&self, node: &Inode, edit: MetaEdit<'_>) -> FsResult<bool> {
        if let Some(file) = self.handles.writer_of(node.ino) {
            let mut state = file.state.lock().await;
            if let HandleState::Writer(writer) = &mut *state {
                let mut options = writer.options();
                edit(&mut options.user_meta)?;
                check_size(&options.user_meta)?;
                if writer.carries_options() {
                    writer.set_options(options);
                    return Ok(false);
                }
                // Make sure the object exists (an append writer may still hold its first bytes).
                writer.fsync().await?;
                drop(state);
                self.copy_meta(&node.key, edit).await?;
                let mut state = file.state.lock().await;
                if let HandleState::Writer(writer) = &mut *state {
                    writer.note_options_stored(options);
                }
                return Ok(true);
            }
        }
        self.copy_meta(&node.key, edit).await?;
        Ok(true)
    }

    /// CopyObject of `key` onto itself with `edit` applied to its user metadata.
    async fn copy_meta(&self, key: &str, edit: MetaEdit<'_>) -> FsResult<()> {
        let meta = self.known_meta(key).await?;
        match self.copy_meta_once(key, &meta, edit).await {
            Err(FsError::Bos(e)) if e.kind() == ErrorKind::PreconditionFailed => {
                self.cache().invalidate(key);
                let meta = self.known_meta(key).await?;
                self.copy_meta_once(key, &meta, edit).await
            }
            other => other,
        }
    }

    async fn copy_meta_once(&self, key: &str, meta: &ObjectMeta, edit: MetaEdit<'_>) -> FsResult<()> {
        let mut user_meta = meta.user_meta.clone();
        edit(&mut user_meta)?;
        if user_meta == meta.user_meta {
            return Ok(());
        }
        let stored = self.copy_with_user_meta(key, key, meta, user_meta).await?;
        self.note_stored(key, stored);
        Ok(())
    }

    /// CopyObject of `from` (described by `meta`, and only while its ETag is still
    /// `meta.etag`) to `to`, keeping its headers and storage class but replacing its user
    /// metadata by `user_meta`. A missing mtime is set to the source's last modification so
    /// the copy does not look like a content change. Returns `meta` updated to what the copy
    /// stored (its `key` left as it was).
    pub(crate) async fn copy_with_user_meta(
        &self,
        from: &str,
        to: &str,
        meta: &ObjectMeta,
        mut user_meta: BTreeMap<String, String>,
    ) -> FsResult<ObjectMeta> {
        if !user_meta.contains_key(meta_codec::MTIME) {
            user_meta.insert(meta_codec::MTIME.into(), meta_codec::format_time(meta.last_modified));
        }
        check_size(&user_meta)?;
        let replace = PutOptions {
            content_type: meta.content_type.clone(),
            cache_control: meta.cache_control.clone(),
            content_disposition: meta.content_disposition.clone(),
            content_encoding: meta.content_encoding.clone(),
            expires: meta.expires.clone(),
            user_meta: user_meta.clone(),
            ..PutOptions::default()
        };
        let options = CopyOptions {
            directive: MetadataDirective::Replace(replace),
            conditions: CopyConditions {
                if_match: Some(meta.etag.clone()),
                ..CopyConditions::default()
            },
            storage_class: Some(meta.storage_class),
            traffic_limit: None,
        };
        let bucket = &self.config.bucket;
        let copied = self.api.copy_object(bucket, from, bucket, to, &options).await?;
        let mut stored = meta.clone();
        stored.etag = copied.etag;
        stored.last_modified = copied.last_modified;
        stored.user_meta = user_meta;
        Ok(stored)
    }

    /// Apply `edit` to the metadata of directory `node`'s marker and put the marker again.
    pub(crate) async fn edit_dir_meta(&self, node: &Inode, edit: MetaEdit<'_>) -> FsResult<()> {
        if node.ino == InodeNo::ROOT || node.key.is_empty() {
            return Ok(());
        }
        let cached = match self.cache().get(path_of(&node.key)) {
            Some(crate::fs::meta_cache::Cached::Found(ObjectAttr { meta: Some(m), .. })) => Some(m.user_meta.clone()),
            _ => None,
        };
        let mut user_meta = match cached {
            Some(meta) => meta,
            // Learn what the marker holds, so a change keeps the rest.
            None => match self.stat_path(path_of(&node.key)).await {
                Ok(ObjectAttr { meta: Some(m), .. }) => m.user_meta.clone(),
                _ => BTreeMap::new(),
            },
        };
        edit(&mut user_meta)?;
        let mode_only: Perms = meta_codec::decode_perms(&user_meta);
        // Directory modes are written with the directory type bits.
        meta_codec::encode_perms(
            &Perms {
                mode: mode_only.mode,
                ..Perms::default()
            },
            true,
            &mut user_meta,
        );
        check_size(&user_meta)?;
        let options = PutOptions {
            user_meta: user_meta.clone(),
            ..PutOptions::default()
        };
        let put = self
            .api
            .put_object(&self.config.bucket, &node.key, Bytes::new(), &options)
            .await?;
        let mut meta = ObjectMeta::new(node.key.clone());
        meta.etag = put.etag;
        meta.last_modified = std::time::SystemTime::now();
        meta.user_meta = user_meta;
        self.cache()
            .put_found(path_of(&node.key), ObjectAttr::directory_from_meta(meta));
        Ok(())
    }

    /// The object at `key` is now `meta` (after a metadata update of ours).
    pub(crate) fn note_stored(&self, key: &str, meta: ObjectMeta) {
        let attr = ObjectAttr::from_meta(meta);
        self.index_note(key, &attr);
        self.cache().put_found(key, attr);
    }

    /// The options of an open writer of `ino`, which its next commit stores.
    pub(crate) async fn writer_options(&self, ino: InodeNo) -> Option<PutOptions> {
        let file = self.handles.writer_of(ino)?;
        let state = file.state.lock().await;
        match &*state {
            HandleState::Writer(writer) => Some(writer.options()),
            HandleState::Reader(_) => None,
        }
    }
}

/// Refuse user metadata over BOS's 2 KiB.
pub(crate) fn check_size(meta: &BTreeMap<String, String>) -> FsResult<()> {
    let size = crate::bos::user_meta_size(meta);
    if size > crate::bos::MAX_USER_METADATA_SIZE {
        log::warn!(
            "refusing a metadata change: {size} bytes of user metadata > BOS's {} bytes",
            crate::bos::MAX_USER_METADATA_SIZE
        );
        return Err(FsError::MetadataTooLarge(size));
    }
    Ok(())
}
