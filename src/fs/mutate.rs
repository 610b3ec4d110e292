//! Changes to names and attributes: mkdir, rmdir, unlink and setattr.
//!
//! mkdir puts an empty "dir/" marker; rmdir refuses with ENOTEMPTY while any other key is
//! under "dir/" and deletes the marker; unlink deletes the object. Each updates the
//! metadata cache and inode table at once, so our own view never waits for the TTL.

use std::ffi::OsStr;
use std::time::SystemTime;

use bytes::Bytes;

use crate::bos::{ListRequest, PutOptions};
use crate::fs::attr::{NodeKind, ObjectAttr};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::{child_key, InodeNo};
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
        self.check_writable()?;
        let name = names::component(name)?;
        let parent_node = self.dir_node(parent)?;
        let key = child_key(&parent_node.key, name, NodeKind::Directory);
        names::check_new_key(&key)?;
        self.api
            .put_object(&self.config.bucket, &key, Bytes::new(), &PutOptions::default())
            .await?;
        let attr = ObjectAttr::directory(SystemTime::now());
        self.cache().put_found(path_of(&key), attr.clone());
        let result = self.remember_entry(parent, name, &attr)?;
        self.inodes()
            .update(result.ino, |n| n.perms.mode = Some((mode & 0o7777) as u16));
        Ok(FsAttr {
            perm: (mode & 0o7777) as u16,
            ..result
        })
    }

    /// Remove the empty directory `name` from `parent`.
    pub async fn rmdir(&self, parent: InodeNo, name: &OsStr) -> FsResult<()> {
        self.check_writable()?;
        let name = names::component(name)?;
        let parent_node = self.dir_node(parent)?;
        let key = child_key(&parent_node.key, name, NodeKind::Directory);
        let page = self
            .api
            .list_objects(
                &self.config.bucket,
                &ListRequest {
                    prefix: key.clone(),
                    max_keys: Some(2),
                    ..ListRequest::default()
                },
            )
            .await?;
        if page.contents.iter().any(|e| e.key != key) || !page.common_prefixes.is_empty() {
            return Err(FsError::NotEmpty);
        }
        if page.contents.is_empty() {
            self.forget_name(parent, name, &key);
            return Err(FsError::NotFound);
        }
        match self.api.delete_object(&self.config.bucket, &key).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.into()),
        }
        self.forget_name(parent, name, &key);
        Ok(())
    }

    /// Remove file `name` from `parent`.
    pub async fn unlink(&self, parent: InodeNo, name: &OsStr) -> FsResult<()> {
        self.check_writable()?;
        let name = names::component(name)?;
        let parent_node = self.dir_node(parent)?;
        let key = child_key(&parent_node.key, name, NodeKind::File);
        let being_written = self.inodes().child(parent, name).is_some_and(|n| n.local.is_some());
        match self.api.delete_object(&self.config.bucket, &key).await {
            Ok(()) => {}
            Err(e) if e.is_not_found() && being_written => {}
            Err(e) if e.is_not_found() => {
                self.forget_name(parent, name, &key);
                return Err(FsError::NotFound);
            }
            Err(e) => return Err(e.into()),
        }
        self.forget_name(parent, name, &key);
        Ok(())
    }

    /// Change attributes of `ino`; `fh` is the handle of an ftruncate.
    pub async fn setattr(&self, ino: InodeNo, fh: Option<u64>, changes: SetAttr) -> FsResult<FsAttr> {
        if let Some(size) = changes.size {
            self.check_writable()?;
            self.truncate(ino, fh, size).await?;
        }
        self.inodes().update(ino, |node| {
            let p = &mut node.perms;
            p.mode = changes.mode.map(|m| (m & 0o7777) as u16).or(p.mode);
            p.uid = changes.uid.or(p.uid);
            p.gid = changes.gid.or(p.gid);
            p.mtime = changes.mtime.or(p.mtime);
            p.atime = changes.atime.or(p.atime);
        });
        self.getattr(ino).await
    }

    /// `name` in `parent` (key `key`) is gone: drop it from the cache and the inode table.
    pub(crate) fn forget_name(&self, parent: InodeNo, name: &str, key: &str) {
        let path = path_of(key);
        {
            let mut cache = self.cache();
            cache.invalidate_tree(path);
            cache.put_missing(path);
        }
        self.inodes().detach(parent, name);
    }
}
