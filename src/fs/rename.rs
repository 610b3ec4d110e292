//! Rename on a flat bucket: copy, then delete.
//!
//! A file is copied with CopyObject conditioned on the source ETag
//! (`x-bce-copy-source-if-match`), or, above the 5 GiB CopyObject limit, by a multipart
//! upload of UploadPartCopy ranges; then the source is deleted. A directory is renamed key
//! by key (its marker included), a bounded number of copies at once, one listing page at a
//! time, deleting each page's sources once its copies are done. This is not atomic: a
//! failure midway leaves both names partly populated and reports EIO.
//!
//! A file with deferred attribute changes (`persist`; rsync's utimes and chmod of its temp
//! file) is copied with the `replace` metadata directive carrying them: the rename stores
//! them, and the file costs one CopyObject instead of three.

use std::ffi::OsStr;

use futures_util::stream::{self, StreamExt, TryStreamExt};

use crate::bos::{
    CompletedPart, CopyConditions, CopyOptions, ListRequest, PutOptions, MAX_LIST_KEYS, MAX_PUT_OBJECT_SIZE,
};
use crate::fs::attr::{NodeKind, ObjectAttr, Perms};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::{child_key, InodeNo};
use crate::fs::meta_codec;
use crate::fs::{names, path_of, BosFs};

/// One copy in flight, boxed so a batch of them can be driven with bounded concurrency.
type CopyJob<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = FsResult<T>> + Send + 'a>>;

/// Size of each UploadPartCopy range when a file is too large for CopyObject.
const PART_COPY_SIZE: u64 = 1024 * 1024 * 1024;

/// `renameat2` flag: fail if the target exists.
const RENAME_NOREPLACE: u32 = 1;

impl BosFs {
    /// Rename `name` in `parent` to `new_name` in `new_parent`, replacing a file there.
    pub async fn rename(
        &self,
        parent: InodeNo,
        name: &OsStr,
        new_parent: InodeNo,
        new_name: &OsStr,
        flags: u32,
    ) -> FsResult<()> {
        self.check_writable()?;
        if flags & !RENAME_NOREPLACE != 0 {
            return Err(FsError::NotSupported("rename flags other than RENAME_NOREPLACE".into()));
        }
        let name = names::component(name)?;
        let new_name = names::component(new_name)?;
        let from_dir = self.dir_node(parent)?;
        let to_dir = self.dir_node(new_parent)?;
        let from = child_key(&from_dir.key, name, NodeKind::File);
        let to = child_key(&to_dir.key, new_name, NodeKind::File);
        // An open writer of the source is stored first (as fsync would) and dropped: its next
        // write opens a writer over the object at the new key. The slot stays locked so no
        // write or commit lands on the old key meanwhile. An open writer of the target is
        // orphaned once the target is replaced: its file is nobody's any more.
        log::debug!("rename {from:?} -> {to:?}");
        // No background store of attribute changes runs while a rename copies (they hold it
        // shared); taken before any write slot, as those stores take it before the file's slot.
        let _no_deferred_store = self.deferred_io.write().await;
        let source_slot = self
            .inodes()
            .child(parent, name)
            .and_then(|n| self.handles.slot_of(n.ino));
        let mut source_state = match &source_slot {
            Some(slot) => {
                let mut state = slot.state.lock().await;
                self.commit_slot(slot.ino, &mut state).await?;
                state.writer = None;
                Some(state)
            }
            None => None,
        };
        let target_slot = self
            .inodes()
            .child(new_parent, new_name)
            .and_then(|n| self.handles.slot_of(n.ino))
            .filter(|t| source_slot.as_ref().is_none_or(|s| !std::sync::Arc::ptr_eq(s, t)));
        let mut target_state = match &target_slot {
            Some(slot) => Some(slot.state.lock().await),
            None => None,
        };
        let target_snapshot = match target_state.as_deref_mut() {
            Some(state) => self.orphan_snapshot(state).await,
            None => None,
        };
        let target_ino = target_slot.as_ref().map(|s| s.ino);
        let source = self.stat_path(&from).await?;
        // What a listing merely lacks is not trusted here: renaming onto a name someone just
        // made must see it (ENOTEMPTY, EISDIR), not merge into it.
        let target = match self.stat_path_trusting(&to, false).await {
            Ok(attr) => Some(attr),
            Err(FsError::NotFound) => None,
            Err(e) => return Err(e),
        };
        if target.is_some() && flags & RENAME_NOREPLACE != 0 {
            return Err(FsError::AlreadyExists);
        }
        match (source.kind, target.as_ref().map(|t| t.kind)) {
            (NodeKind::File, Some(NodeKind::Directory)) => return Err(FsError::IsDirectory),
            (NodeKind::Directory, Some(NodeKind::File)) => return Err(FsError::NotDirectory),
            _ => {}
        }
        if from == to {
            return Ok(());
        }
        // What the target is after a file rename, when known in full.
        let mut moved_attr: Option<ObjectAttr> = None;
        match source.kind {
            NodeKind::File | NodeKind::Symlink => {
                names::check_new_key(&to)?;
                let node = self.inodes().child(parent, name);
                let carries_meta = source.meta.as_ref().is_some_and(|m| !m.user_meta.is_empty())
                    || node.as_ref().is_some_and(|n| n.has_pending_perms());
                if carries_meta {
                    // Its attributes must be findable by a listing at the new name.
                    self.indexes.ensure_exists(&to).await.map_err(FsError::Internal)?;
                }
                if let Some(node) = node.filter(|n| n.has_pending_perms()) {
                    let noting = self.indexes.changing().await;
                    match self
                        .rename_with_perms(&from, &to, &source, node.perms, target.is_some())
                        .await
                    {
                        Ok(stored) => {
                            self.index_forget(&from);
                            let attr = ObjectAttr::from_meta(stored);
                            let new_etag = attr.etag.clone();
                            self.indexes.note_metadata_change(&to, &attr);
                            {
                                let mut cache = self.cache();
                                cache.invalidate_tree(path_of(&from));
                                cache.put_missing(path_of(&from));
                                cache.put_found(path_of(&to), attr);
                            }
                            self.inodes().perms_stored(node.ino, node.perms_gen);
                            self.keep_replaced_attr(new_parent, new_name, target.as_ref());
                            self.inodes().rename(parent, name, new_parent, new_name);
                            self.outcomes.moved(&from, &to, false, new_etag.as_deref());
                            self.touch_renamed(parent, new_parent, new_name);
                            if let (Some(state), Some(ino)) = (target_state.as_deref_mut(), target_ino) {
                                self.orphan_slot(ino, state, target_snapshot).await;
                            }
                            return Ok(());
                        }
                        Err(e) => {
                            drop(noting);
                            log::debug!("rename of {from:?} with its attribute changes: {e}; storing them first");
                            self.persist_locked(&node, source_state.as_deref_mut()).await?;
                        }
                    }
                }
                let source = self.stat_path(&from).await?;
                let _noting = self.indexes.changing().await;
                let etag = self.rename_file(&from, &to, &source, target.is_some()).await?;
                self.index_forget(&from);
                match (&source.meta, etag) {
                    (Some(meta), Some(etag)) => {
                        let mut moved = (**meta).clone();
                        moved.key = to.clone();
                        moved.etag = etag;
                        // A copy is a Normal object, whatever the source was.
                        moved.object_type = crate::bos::ObjectType::Normal;
                        moved.next_append_offset = None;
                        let attr = ObjectAttr::from_meta(moved);
                        self.index_note(&to, &attr);
                        moved_attr = Some(attr);
                    }
                    _ => self.index_forget(&to),
                }
            }
            NodeKind::Directory => {
                let (from_dir_key, to_dir_key) = (format!("{from}/"), format!("{to}/"));
                if to_dir_key.starts_with(&from_dir_key) {
                    return Err(FsError::InvalidArgument("cannot move a directory into itself".into()));
                }
                names::check_new_key(&to_dir_key)?;
                if target.is_some() && !self.dir_is_empty(&to_dir_key).await? {
                    return Err(FsError::NotEmpty);
                }
                // The index moves with the other keys: write what waits for it first.
                self.indexes.flush_tree(&from_dir_key).await;
                self.indexes.discard_tree(&to_dir_key).await;
                // Files open for writing below it are stored first and their writers dropped
                // (held, so nothing lands on an old key while the tree moves).
                let mut open_below = Vec::new();
                for slot in self.handles.all_slots() {
                    let below = self
                        .inodes()
                        .get(slot.ino)
                        .is_some_and(|n| n.key.starts_with(&from_dir_key));
                    if below {
                        open_below.push(slot);
                    }
                }
                open_below.sort_by_key(|s| s.ino);
                let mut held = Vec::new();
                for slot in &open_below {
                    let mut state = slot.state.lock().await;
                    self.commit_slot(slot.ino, &mut state).await?;
                    state.writer = None;
                    held.push(state);
                }
                let moved = self.rename_tree(&from_dir_key, &to_dir_key).await;
                self.indexes.discard_tree(&from_dir_key).await;
                moved?;
            }
        }
        let new_etag = moved_attr.as_ref().and_then(|a| a.etag.clone());
        {
            let mut cache = self.cache();
            cache.invalidate_tree(path_of(&from));
            cache.invalidate_tree(path_of(&to));
            cache.put_missing(path_of(&from));
            let moved = moved_attr.unwrap_or_else(|| {
                let mut moved = source.clone();
                if moved.kind == NodeKind::File {
                    moved.etag = None;
                    moved.meta = None;
                }
                moved
            });
            cache.put_found(path_of(&to), moved);
        }
        self.keep_replaced_attr(new_parent, new_name, target.as_ref());
        self.inodes().rename(parent, name, new_parent, new_name);
        match source.kind {
            NodeKind::Directory => self.outcomes.moved(&format!("{from}/"), &format!("{to}/"), true, None),
            _ => self.outcomes.moved(&from, &to, false, new_etag.as_deref()),
        }
        self.touch_renamed(parent, new_parent, new_name);
        if let (Some(state), Some(ino)) = (target_state.as_deref_mut(), target_ino) {
            self.orphan_slot(ino, state, target_snapshot).await;
        }
        drop(source_state);
        Ok(())
    }

    /// The file at `name` in `parent` is being replaced by a rename: remember what it was,
    /// for descriptors still open on it.
    fn keep_replaced_attr(&self, parent: InodeNo, name: &str, attr: Option<&ObjectAttr>) {
        let mut inodes = self.inodes();
        if let Some(node) = inodes.child(parent, name) {
            let attr = attr.cloned();
            inodes.update(node.ino, |n| n.unlinked_attr = attr);
        }
    }

    /// Rename a file whose attribute changes were deferred (see `persist`): one CopyObject
    /// to `to` with the `replace` directive stores them with the move, then `from` is deleted.
    /// Returns what `to` now is. Fails (the caller stores the changes the ordinary way) when
    /// the object cannot be copied that way or was changed meanwhile.
    async fn rename_with_perms(
        &self,
        from: &str,
        to: &str,
        source: &ObjectAttr,
        perms: Perms,
        target_existed: bool,
    ) -> FsResult<crate::bos::ObjectMeta> {
        let Some(meta) = source.meta.as_deref() else {
            return Err(FsError::Internal("no metadata known".into()));
        };
        if self.should_stream_copy(source.object_type()) || meta.size > MAX_PUT_OBJECT_SIZE {
            return Err(FsError::Internal("not copied by CopyObject".into()));
        }
        let mut user_meta = meta.user_meta.clone();
        meta_codec::encode_perms(&perms, false, &mut user_meta);
        let mut stored = self.copy_with_user_meta(from, to, meta, user_meta).await?;
        self.delete_source(from, to, target_existed).await?;
        stored.key = to.to_string();
        // A copy is a Normal object, whatever the source was.
        stored.object_type = crate::bos::ObjectType::Normal;
        stored.next_append_offset = None;
        Ok(stored)
    }

    async fn dir_is_empty(&self, dir_key: &str) -> FsResult<bool> {
        let request = ListRequest {
            prefix: dir_key.to_string(),
            max_keys: Some(3),
            ..ListRequest::default()
        };
        let page = self.api.list_objects(&self.config.bucket, &request).await?;
        let index = crate::fs::attr_index::index_key(dir_key);
        Ok(page.contents.iter().all(|e| e.key == dir_key || e.key == index) && page.common_prefixes.is_empty())
    }

    /// Copy `from` to `to` (conditioned on the ETag we know), then delete `from`. When the
    /// ETag we knew is stale, learn the current one with a HEAD and try once more.
    /// Returns the copy's ETag (None when the source had to be read again first).
    async fn rename_file(
        &self,
        from: &str,
        to: &str,
        source: &ObjectAttr,
        target_existed: bool,
    ) -> FsResult<Option<String>> {
        if self.should_stream_copy(source.object_type()) {
            let etag = self.copy_by_streaming(from, to).await?;
            self.delete_source(from, to, target_existed).await?;
            return Ok(Some(etag));
        }
        let copied = match self.copy_key(from, to, source.size, source.etag.clone()).await {
            Err(FsError::Bos(e)) if self.note_copy_refused(&e) => self.copy_by_streaming(from, to).await,
            other => other,
        };
        let etag = match copied {
            Err(FsError::Bos(e)) if e.kind() == crate::bos::ErrorKind::PreconditionFailed => {
                self.cache().invalidate(from);
                let meta = self.head(from).await?;
                self.copy_key(from, to, meta.size, Some(meta.etag)).await?;
                None
            }
            other => Some(other?),
        };
        self.delete_source(from, to, target_existed).await?;
        Ok(etag)
    }

    /// Delete the source of a rename whose copy is stored at `to`; when that fails, take the
    /// copy back if the target did not exist before, so a failed rename leaves one name.
    async fn delete_source(&self, from: &str, to: &str, target_existed: bool) -> FsResult<()> {
        match self.delete_quietly(from).await {
            Ok(()) => Ok(()),
            Err(e) => {
                if !target_existed {
                    if let Err(undo) = self.delete_quietly(to).await {
                        log::error!("rename of {from:?}: the copy {to:?} could not be taken back: {undo}");
                    }
                }
                Err(e)
            }
        }
    }

    async fn delete_quietly(&self, key: &str) -> FsResult<()> {
        match self.api.delete_object(&self.config.bucket, key).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Copy one object, by CopyObject or (above 5 GiB) by UploadPartCopy.
    async fn copy_key(&self, from: &str, to: &str, size: u64, etag: Option<String>) -> FsResult<String> {
        let bucket = &self.config.bucket;
        let conditions = CopyConditions {
            if_match: etag,
            ..CopyConditions::default()
        };
        if size <= MAX_PUT_OBJECT_SIZE {
            let options = CopyOptions {
                conditions,
                ..CopyOptions::default()
            };
            let copied = self.api.copy_object(bucket, from, bucket, to, &options).await?;
            return Ok(copied.etag);
        }
        // A multipart upload starts with no metadata: give it the source's, so the copy keeps
        // mode, owner, times, extended attributes and content headers.
        let source = self.api.head_object(bucket, from).await?;
        if conditions
            .if_match
            .as_deref()
            .is_some_and(|etag| !crate::fs::write::existing::same_etag(etag, &source.etag))
        {
            return Err(FsError::Bos(crate::bos::BosError::service(
                412,
                "PreconditionFailed",
                format!("{from} changed before its copy started"),
                "",
            )));
        }
        let options = PutOptions {
            content_type: source.content_type.clone(),
            cache_control: source.cache_control.clone(),
            content_disposition: source.content_disposition.clone(),
            content_encoding: source.content_encoding.clone(),
            expires: source.expires.clone(),
            storage_class: Some(source.storage_class),
            user_meta: source.user_meta.clone(),
            ..PutOptions::default()
        };
        let upload_id = self.api.initiate_multipart_upload(bucket, to, &options).await?;
        let result = self.copy_parts(from, to, size, &upload_id, &conditions, &options).await;
        if result.is_err() {
            if let Err(e) = self.api.abort_multipart_upload(bucket, to, &upload_id).await {
                log::warn!("could not abort the multipart copy of {from:?} to {to:?}: {e}");
            }
        }
        result
    }

    async fn copy_parts(
        &self,
        from: &str,
        to: &str,
        size: u64,
        upload_id: &str,
        conditions: &CopyConditions,
        options: &PutOptions,
    ) -> FsResult<String> {
        let bucket = &self.config.bucket;
        let ranges: Vec<(u32, u64, u64)> = (0..size.div_ceil(PART_COPY_SIZE))
            .map(|i| {
                let start = i * PART_COPY_SIZE;
                (i as u32 + 1, start, (start + PART_COPY_SIZE).min(size) - 1)
            })
            .collect();
        let jobs: Vec<CopyJob<'_, CompletedPart>> = ranges
            .into_iter()
            .map(|(number, start, end)| -> CopyJob<'_, CompletedPart> {
                Box::pin(async move {
                    let copied = self
                        .api
                        .upload_part_copy(
                            bucket,
                            to,
                            upload_id,
                            number,
                            bucket,
                            from,
                            Some((start, end)),
                            conditions,
                        )
                        .await?;
                    Ok(CompletedPart {
                        part_number: number,
                        e_tag: copied.etag,
                    })
                })
            })
            .collect();
        let mut parts: Vec<CompletedPart> = stream::iter(jobs).buffer_unordered(4).try_collect().await?;
        parts.sort_by_key(|p| p.part_number);
        let done = self
            .api
            .complete_multipart_upload(bucket, to, upload_id, &parts, options)
            .await?;
        Ok(done.etag)
    }

    /// Move every key under `from` (a directory key ending in '/') to the same place under `to`.
    async fn rename_tree(&self, from: &str, to: &str) -> FsResult<()> {
        let bucket = &self.config.bucket;
        let mut request = ListRequest {
            prefix: from.to_string(),
            max_keys: Some(MAX_LIST_KEYS),
            ..ListRequest::default()
        };
        loop {
            let page = self.api.list_objects(bucket, &request).await?;
            let copies: Vec<CopyJob<'_, ()>> = page
                .contents
                .iter()
                .map(|entry| -> CopyJob<'_, ()> {
                    let target = format!("{to}{}", &entry.key[from.len()..]);
                    Box::pin(async move {
                        names::check_new_key(&target)?;
                        match self
                            .copy_key(&entry.key, &target, entry.size, Some(entry.etag.clone()))
                            .await
                        {
                            // An Appendable object the server will not copy: stream it, as a
                            // file rename does.
                            Err(FsError::Bos(e)) if self.note_copy_refused(&e) => {
                                self.copy_by_streaming(&entry.key, &target).await.map(|_| ())
                            }
                            other => other.map(|_| ()),
                        }
                    })
                })
                .collect();
            stream::iter(copies)
                .buffer_unordered(self.config.rename_concurrency.max(1))
                .try_collect::<Vec<()>>()
                .await?;
            let keys: Vec<String> = page.contents.iter().map(|e| e.key.clone()).collect();
            if !keys.is_empty() {
                let failures = self.api.delete_multiple_objects(bucket, &keys).await?;
                if let Some(f) = failures.iter().find(|f| f.code != "NoSuchKey") {
                    return Err(FsError::Internal(format!(
                        "could not delete {:?}: {} {}",
                        f.key, f.code, f.message
                    )));
                }
            }
            if !page.is_truncated {
                return Ok(());
            }
            let next = page.next_marker.or_else(|| page.contents.last().map(|e| e.key.clone()));
            if next.is_none() || next == request.marker {
                return Err(FsError::Internal(format!("listing of {from:?} gives no new marker")));
            }
            request.marker = next;
        }
    }
}
