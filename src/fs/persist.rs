//! Storing attribute changes (chmod, chown, utimes, extended attributes) in the object's
//! user metadata.
//!
//! - A file whose shared writer has changes to commit: the commit carries them — no extra
//!   request (the inode's pending changes are encoded when it commits, see `io`).
//! - Any other file: CopyObject of the object onto itself with the `replace` directive,
//!   conditioned on the ETag we know (`x-bce-copy-source-if-match`); if someone changed the
//!   object meanwhile, HEAD it and try once more over its current metadata. An open append
//!   writer first sends what it holds, so the object exists. The copy keeps the content,
//!   storage class, object type and content headers; it would move Last-Modified, so the
//!   current mtime is stored with it when none was (chmod must not look like a content change).
//! - A directory: its "dir/" marker is put again with the new metadata, at once (the root has
//!   no marker: its attributes stay in memory).
//!
//! The rule a user can rely on — chmod, chown and utimes of a file are visible at once on the
//! mount and stored in the bucket at the latest when a descriptor that wrote the file is next
//! closed, when the file is fsync'd, when
//! the mount stops (unmount, SIGTERM), or [`DEFER_DELAY`] after the change if the file is not
//! being written (a file being written gets them with its content at close). In between they
//! may be folded into the file's next rename (one CopyObject with the `replace` directive, so
//! rsync's close, utimes, chmod, rename costs PutObject + CopyObject + DeleteObject). A mount
//! killed with SIGKILL inside that window loses the change, never content. Extended attributes
//! (setxattr, removexattr) are stored before the call returns.
//!
//! Pending changes live on the inode (pinned while they wait, see `inode`), numbered: a store
//! clears only the generation it stored, so a change arriving during a store or a commit is
//! never lost. Every delayed store is a tracked [`crate::fs::background`] task; stopping the
//! mount ends the waiting ones and stores everything pending, many at once
//! ([`DRAIN_CONCURRENCY`]).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use crate::bos::{CopyConditions, CopyOptions, ErrorKind, MetadataDirective, ObjectMeta, ObjectType, PutOptions};
use crate::fs::attr::{NodeKind, ObjectAttr, Perms};
use crate::fs::error::{FsError, FsResult};
use crate::fs::handles::SlotState;
use crate::fs::inode::{Inode, InodeNo};
use crate::fs::meta_codec;
use crate::fs::{path_of, BosFs};

/// How long an attribute change of a file waits to be folded into its next operation.
pub const DEFER_DELAY: Duration = Duration::from_millis(500);

/// Attribute stores sent at once when the mount stops.
pub const DRAIN_CONCURRENCY: usize = 32;

/// How user metadata changes: a function of the current metadata.
pub(crate) type MetaEdit<'a> = &'a (dyn Fn(&mut BTreeMap<String, String>) -> FsResult<()> + Sync);

impl BosFs {
    /// Let attribute changes be stored in the background (see the module doc); without it
    /// every change is stored before setattr returns.
    pub fn start_background(self: &Arc<Self>) {
        let _ = self.me.set(Arc::downgrade(self));
    }

    /// Store (or defer, see the module doc) the attribute changes of `ino`, the latest being
    /// generation `gen`.
    pub(crate) async fn persist_perms(&self, ino: InodeNo, gen: u64) -> FsResult<()> {
        log::debug!("attribute change of inode {ino}, generation {gen}");
        let node = self.node(ino)?;
        if !node.has_pending_perms() {
            return Ok(());
        }
        let me = self.me.get().and_then(std::sync::Weak::upgrade);
        let Some(me) = me.filter(|_| node.kind != NodeKind::Directory && !self.background.stopping()) else {
            return self.persist_now(ino).await;
        };
        // E2BIG is reported now, not when the change is stored.
        if let Some(crate::fs::meta_cache::Cached::Found(ObjectAttr { meta: Some(meta), .. })) =
            self.cache().get(&node.key)
        {
            let mut user_meta = meta.user_meta.clone();
            meta_codec::encode_perms(&node.perms, false, &mut user_meta);
            check_size(&user_meta)?;
        }
        drop(me);
        let weak = self.me.get().cloned();
        self.background.spawn_after(DEFER_DELAY, async move {
            if let Some(fs) = weak.and_then(|w| w.upgrade()) {
                fs.store_deferred(ino, gen).await;
            }
        });
        Ok(())
    }

    /// The delay of change `gen` of `ino` is over: store it, unless a newer change (with its
    /// own delay) or another store got there first.
    async fn store_deferred(&self, ino: InodeNo, gen: u64) {
        match self.inodes().get(ino) {
            Some(node) if node.perms_gen == gen && node.has_pending_perms() => {}
            _ => return,
        }
        // Stores run side by side; a rename waits for those in flight (see `rename`).
        let _shared = self.deferred_io.read().await;
        log::debug!("deferred store of inode {ino} generation {gen}");
        if let Err(e) = self.persist_now(ino).await {
            log::warn!(
                "storing attribute changes of {} failed (tried again at the next close, fsync or unmount): {e}",
                self.describe(ino)
            );
        }
    }

    /// Store every pending attribute change and index entry, and await every background task
    /// (the mount stops). Returns the number of changes that could not be stored.
    pub(crate) async fn drain_background(&self) -> usize {
        self.background.stop_and_wait().await;
        let pending = self.inodes().with_pending_perms();
        let failures = stream::iter(pending)
            .map(|ino| async move {
                match self.persist_now(ino).await {
                    Ok(()) | Err(FsError::NotFound) | Err(FsError::StaleInode(_)) => 0,
                    Err(e) => {
                        let key = self.inodes().get(ino).map(|n| n.key).unwrap_or_default();
                        log::error!("attribute changes of {key:?} could not be stored: {e}");
                        1
                    }
                }
            })
            .buffer_unordered(DRAIN_CONCURRENCY)
            .fold(0usize, |sum, n| async move { sum + n })
            .await;
        self.indexes.flush_all().await;
        self.background.stop_and_wait().await;
        failures
    }

    /// Store the attribute changes pending on inode `ino` now.
    pub(crate) async fn persist_now(&self, ino: InodeNo) -> FsResult<()> {
        let node = self.node(ino)?;
        if !node.has_pending_perms() {
            return Ok(());
        }
        if node.kind == NodeKind::Directory {
            return self.persist_locked(&node, None).await;
        }
        match self.handles.slot_of(ino) {
            Some(slot) => {
                let mut state = slot.state.lock().await;
                let node = self.node(ino)?;
                self.persist_locked(&node, Some(&mut state)).await
            }
            None => self.persist_locked(&node, None).await,
        }
    }

    /// Store the changes pending on `node`, whose write slot (if it has one) the caller holds.
    /// A writer whose next commit carries them leaves them pending for that commit.
    pub(crate) async fn persist_locked(&self, node: &Inode, slot: Option<&mut SlotState>) -> FsResult<()> {
        if !node.has_pending_perms() {
            return Ok(());
        }
        let (perms, gen) = (node.perms, node.perms_gen);
        let Some(key) = node.live_key().map(str::to_string) else {
            // The file is gone: nothing to store it on.
            self.inodes().perms_stored(node.ino, gen);
            return Ok(());
        };
        let edit = move |meta: &mut BTreeMap<String, String>| {
            meta_codec::encode_perms(&perms, node.kind == NodeKind::Directory, meta);
            Ok(())
        };
        if node.kind == NodeKind::Directory {
            self.edit_dir_meta(node, &edit).await?;
            self.inodes().perms_stored(node.ino, gen);
            return Ok(());
        }
        log::debug!("storing attribute changes {perms:?} (generation {gen}) of {key:?}");
        let stored = self.edit_file_meta_locked(&key, slot, &edit, false).await;
        match stored {
            Ok(true) => {
                self.inodes().perms_stored(node.ino, gen);
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(FsError::NotFound) if self.node(node.ino).map(|n| n.key != key).unwrap_or(true) => {
                // Renamed meanwhile (the rename stored them, or a later store will).
                Ok(())
            }
            Err(FsError::NotFound) => {
                // Someone removed the object: nothing to store the change on.
                self.inodes().perms_stored(node.ino, gen);
                Err(FsError::NotFound)
            }
            Err(e) => Err(e),
        }
    }

    /// Apply `edit` to the user metadata of file `node` and store it now (extended
    /// attributes). `Ok(false)`: the open writer's next commit stores it.
    pub(crate) async fn edit_file_meta(&self, node: &Inode, edit: MetaEdit<'_>) -> FsResult<bool> {
        let key = node.live_key().ok_or(FsError::NotFound)?.to_string();
        match self.handles.slot_of(node.ino) {
            Some(slot) => {
                let mut state = slot.state.lock().await;
                self.edit_file_meta_locked(&key, Some(&mut state), edit, true).await
            }
            None => self.edit_file_meta_locked(&key, None, edit, true).await,
        }
    }

    /// [`BosFs::edit_file_meta`] for the object at `key`, the caller holding the file's write
    /// slot. With `into_writer`, a writer with changes to commit takes the edit into its
    /// options; without, it is left alone (pending attribute changes are encoded at commit).
    async fn edit_file_meta_locked(
        &self,
        key: &str,
        slot: Option<&mut SlotState>,
        edit: MetaEdit<'_>,
        into_writer: bool,
    ) -> FsResult<bool> {
        let Some(state) = slot else {
            self.copy_meta(key, edit).await?;
            return Ok(true);
        };
        if state.orphaned {
            return Ok(true);
        }
        let Some(writer) = state.writer.as_mut() else {
            self.copy_meta(key, edit).await?;
            return Ok(true);
        };
        let mut options = writer.options();
        edit(&mut options.user_meta)?;
        check_size(&options.user_meta)?;
        if writer.options_go_with_next_store().await && writer.has_unsent().await {
            if !into_writer {
                // Attribute changes: the commit encodes them (see `io`).
                return Ok(false);
            }
            // An extended attribute is stored now: into what the commit will store, and onto
            // the version in the bucket, which stays if the writer never commits.
            writer.set_options(options);
            return match self.copy_meta(key, edit).await {
                Ok(()) => Ok(true),
                Err(FsError::NotFound) => Ok(false),
                Err(e) => Err(e),
            };
        }
        if writer.object_type() == ObjectType::Appendable {
            // Make sure the object exists (an append writer may still hold its first bytes).
            writer.fsync().await?;
        }
        self.copy_meta(key, edit).await?;
        writer.note_options_stored(options);
        Ok(true)
    }

    /// CopyObject of `key` onto itself with `edit` applied to its user metadata.
    async fn copy_meta(&self, key: &str, edit: MetaEdit<'_>) -> FsResult<()> {
        // What we knew of the object, even past the metadata TTL: the copy is conditioned on
        // its ETag, so a stale answer costs a HEAD and a second try, never a wrong result.
        let known = self.cache().get_even_stale(key);
        let meta = match known {
            Some(meta) => meta,
            None => self.known_meta(key).await?,
        };
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
        self.indexes.ensure_exists(key).await.map_err(FsError::Internal)?;
        let _noting = self.indexes.changing().await;
        let stored = self.copy_with_user_meta(key, key, meta, user_meta).await?;
        // The copy kept the ETag: the index entry must name this version by its date too.
        let attr = ObjectAttr::from_meta(stored);
        self.indexes.note_metadata_change(key, &attr);
        self.cache().put_found(key, attr);
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

    /// The options of the writer of `ino`, which its next commit stores.
    pub(crate) async fn writer_options(&self, ino: InodeNo) -> Option<PutOptions> {
        let slot = self.handles.slot_of(ino)?;
        let state = slot.state.lock().await;
        state.writer.as_ref().map(|w| w.options())
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
