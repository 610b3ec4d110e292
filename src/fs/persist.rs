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

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::bos::{CopyConditions, CopyOptions, ErrorKind, MetadataDirective, ObjectMeta, PutOptions};
use crate::fs::attr::{NodeKind, ObjectAttr, Perms};
use crate::fs::error::{FsError, FsResult};
use crate::fs::handles::HandleState;
use crate::fs::inode::{Inode, InodeNo};
use crate::fs::meta_codec;
use crate::fs::{path_of, BosFs};

/// How user metadata changes: a function of the current metadata.
pub(crate) type MetaEdit<'a> = &'a (dyn Fn(&mut BTreeMap<String, String>) -> FsResult<()> + Sync);

impl BosFs {
    /// Store the attribute changes held on inode `ino` (see the module doc).
    pub(crate) async fn persist_perms(&self, ino: InodeNo) -> FsResult<()> {
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
        let copied = self.api.copy_object(bucket, key, bucket, key, &options).await?;
        let mut stored = meta.clone();
        stored.etag = copied.etag;
        stored.last_modified = copied.last_modified;
        stored.user_meta = user_meta;
        self.note_stored(key, stored);
        Ok(())
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
