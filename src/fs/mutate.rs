//! Changes to names and attributes: mkdir, rmdir, unlink and setattr.
//!
//! mkdir puts an empty "dir/" marker; rmdir refuses with ENOTEMPTY while any other key is
//! under "dir/" and deletes the marker and the directory's attribute index (else the index
//! alone would keep the directory implied); unlink deletes the object. Each updates the
//! metadata cache and inode table at once, so our own view never waits for the TTL.

use std::ffi::OsStr;
use std::time::SystemTime;

use bytes::Bytes;

use crate::bos::{ListRequest, ObjectMeta, PutOptions};
use crate::fs::access::Caller;
use crate::fs::attr::{NodeKind, ObjectAttr};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::{child_key, InodeNo};
use crate::fs::meta_codec;
use crate::fs::{names, path_of, BosFs, FsAttr};

/// What setattr asks to change.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (truncate).
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<SystemTime>,
    /// New modification time.
    pub mtime: Option<SystemTime>,
}

impl BosFs {
    /// Create directory `name` in `parent` (an empty "name/" marker object).
    pub async fn mkdir(&self, parent: InodeNo, name: &OsStr, mode: u32) -> FsResult<FsAttr> {
        self.mkdir_as(parent, name, mode, None).await
    }

    /// [`BosFs::mkdir`] on behalf of `caller`, who owns the new directory (see `access`).
    pub async fn mkdir_as(
        &self,
        parent: InodeNo,
        name: &OsStr,
        mode: u32,
        caller: Option<&Caller>,
    ) -> FsResult<FsAttr> {
        let (name, key) = self.new_entry_key(parent, name, NodeKind::Directory)?;
        let perms = self.initial_perms(parent, caller, (mode & 0o7777) as u16, true).await?;
        let mut user_meta = std::collections::BTreeMap::new();
        meta_codec::encode_perms(&perms, true, &mut user_meta);
        let options = PutOptions {
            user_meta,
            ..PutOptions::default()
        };
        let meta = self.put_new_node(&key, Bytes::new(), &options).await?;
        let attr = ObjectAttr::directory_from_meta(meta);
        {
            let mut cache = self.cache();
            cache.put_found(path_of(&key), attr.clone());
            // Its lookup just missed: the new directory is empty.
            cache.mark_complete(path_of(&key), std::time::Instant::now(), true);
        }
        self.indexes.note_new_dir(&key);
        self.remember_new(parent, name, &attr)
    }

    /// Store a new node's object at `key` (a directory marker, a symlink, a special file):
    /// `body` with `options`, after making sure the directory's attribute index exists when the
    /// node carries metadata a listing must find (directory markers are not in the index).
    /// Returns what the object now is.
    pub(crate) async fn put_new_node(&self, key: &str, body: Bytes, options: &PutOptions) -> FsResult<ObjectMeta> {
        if !key.ends_with('/') && !options.user_meta.is_empty() {
            self.indexes.ensure_exists(key).await.map_err(FsError::Internal)?;
        }
        let size = body.len() as u64;
        let put = self.api.put_object(&self.config.bucket, key, body, options).await?;
        let mut meta = ObjectMeta::new(key.to_string());
        meta.size = size;
        meta.etag = put.etag;
        meta.last_modified = SystemTime::now();
        meta.user_meta = options.user_meta.clone();
        Ok(meta)
    }

    /// Remove the empty directory `name` from `parent`.
    pub async fn rmdir(&self, parent: InodeNo, name: &OsStr) -> FsResult<()> {
        self.check_writable()?;
        let name = names::component(name)?;
        let parent_node = self.dir_node(parent)?;
        let key = child_key(&parent_node.key, name, NodeKind::Directory);
        let dir = self.inodes().child(parent, name);
        if let Some(dir) = dir {
            // A file being written below it is not in the bucket yet, but it is there.
            let writing = self.inodes().children_of(dir.ino).iter().any(|n| n.local.is_some());
            if writing {
                return Err(FsError::NotEmpty);
            }
        }
        // Nothing waiting may write the index back after it is deleted below.
        self.indexes.discard_tree(&key).await;
        let page = self
            .api
            .list_objects(
                &self.config.bucket,
                &ListRequest {
                    prefix: key.clone(),
                    max_keys: Some(3),
                    ..ListRequest::default()
                },
            )
            .await?;
        let index = crate::fs::attr_index::index_key(&key);
        let others = page.contents.iter().any(|e| e.key != key && e.key != index);
        if others || !page.common_prefixes.is_empty() {
            return Err(FsError::NotEmpty);
        }
        if page.contents.is_empty() {
            self.forget_name(parent, name, &key);
            return Err(FsError::NotFound);
        }
        for entry in &page.contents {
            match self.api.delete_object(&self.config.bucket, &entry.key).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.forget_name(parent, name, &key);
        self.touch_entries(parent);
        Ok(())
    }

    /// Remove file `name` from `parent`.
    pub async fn unlink(&self, parent: InodeNo, name: &OsStr) -> FsResult<()> {
        self.check_writable()?;
        let name = names::component(name)?;
        let parent_node = self.dir_node(parent)?;
        let key = child_key(&parent_node.key, name, NodeKind::File);
        let existing = self.inodes().child(parent, name);
        let being_written = existing.as_ref().is_some_and(|n| n.local.is_some());
        // An open writer of the file must never store it again: hold its slot while the
        // object goes, then orphan it.
        let slot = existing.as_ref().and_then(|n| self.handles.slot_of(n.ino));
        let mut slot_state = match &slot {
            Some(slot) => Some(slot.state.lock().await),
            None => None,
        };
        let snapshot = match slot_state.as_deref_mut() {
            Some(state) => self.orphan_snapshot(state).await,
            None => None,
        };
        // Descriptors open on it keep answering fstat with what it was.
        let last = match &existing {
            Some(node) if node.is_open() && node.local.is_none() => self.stat_file(&key).await.ok(),
            _ => None,
        };
        match self.api.delete_object(&self.config.bucket, &key).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() && being_written => {}
            Err(e) if e.is_not_found() => {
                self.forget_name(parent, name, &key);
                return Err(FsError::NotFound);
            }
            Err(e) => return Err(e.into()),
        }
        self.index_forget(&key);
        self.forget_name(parent, name, &key);
        if let (Some(node), Some(last)) = (&existing, last) {
            self.inodes().update(node.ino, |n| n.unlinked_attr = Some(last));
        }
        if let (Some(state), Some(node)) = (slot_state.as_deref_mut(), &existing) {
            self.orphan_slot(node.ino, state, snapshot).await;
        }
        if let Some(node) = existing {
            // Attribute changes waiting for a file that is gone are moot.
            self.inodes().perms_stored(node.ino, node.perms_gen);
            self.touch_change(node.ino, false);
        }
        self.touch_entries(parent);
        Ok(())
    }

    /// Change attributes of `ino`; `_fh` is the handle of an ftruncate (a size change goes to
    /// the inode's shared writer whichever handle asks).
    pub async fn setattr(&self, ino: InodeNo, _fh: Option<u64>, changes: SetAttr) -> FsResult<FsAttr> {
        if let Some(size) = changes.size {
            self.check_writable()?;
            self.truncate(ino, size).await?;
        }
        let touches_perms = changes.mode.is_some()
            || changes.uid.is_some()
            || changes.gid.is_some()
            || changes.mtime.is_some()
            || changes.atime.is_some();
        if touches_perms {
            self.check_writable()?;
            let gen = self
                .inodes()
                .change_perms(ino, |p| {
                    p.mode = changes.mode.map(|m| (m & 0o7777) as u16).or(p.mode);
                    p.uid = changes.uid.or(p.uid);
                    p.gid = changes.gid.or(p.gid);
                    p.mtime = changes.mtime.or(p.mtime);
                    p.atime = changes.atime.or(p.atime);
                })
                .ok_or(FsError::StaleInode(ino.0))?;
            self.persist_perms(ino, gen).await?;
            self.touch_change(ino, changes.mtime.is_some());
        }
        if changes.size.is_some() {
            self.touch_content(ino);
        }
        self.getattr(ino).await
    }

    /// `name` in `parent` (key `key`) is gone: drop it from the cache and the inode table.
    pub(crate) fn forget_name(&self, parent: InodeNo, name: &str, key: &str) {
        let path = path_of(key);
        let last = {
            let mut cache = self.cache();
            let last = match cache.get(path) {
                Some(crate::fs::meta_cache::Cached::Found(attr)) => Some(attr),
                _ => None,
            };
            cache.invalidate_tree(path);
            cache.put_missing(path);
            last
        };
        let mut inodes = self.inodes();
        if let Some(node) = inodes.child(parent, name) {
            inodes.update(node.ino, |n| n.unlinked_attr = last);
        }
        inodes.detach(parent, name);
    }
}
