//! Stat of names: lookup and getattr.
//!
//! "What is at path P?" is answered by a HeadObject of `P` and a ListObjects of prefix
//! `P/` with maxKeys 1, sent together: any key under `P/` makes P a directory (it wins
//! over an object named P), otherwise the HEAD decides between a file and nothing. Both
//! outcomes, including "nothing", are cached for the metadata TTL.

use std::ffi::OsStr;

use crate::bos::{ListRequest, ObjectMeta};
use crate::fs::attr::{NodeKind, ObjectAttr};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::{child_key, InodeNo};
use crate::fs::meta_cache::Cached;
use crate::fs::{names, path_of, BosFs, FsAttr};

impl BosFs {
    /// Look `name` up in `parent`; counts one kernel reference on success.
    pub async fn lookup(&self, parent: InodeNo, name: &OsStr) -> FsResult<FsAttr> {
        let name = names::component(name)?;
        if name == names::ATTR_INDEX_NAME {
            return Err(FsError::NotFound);
        }
        let parent_node = self.dir_node(parent)?;
        let local = self.inodes().child(parent, name).filter(|n| n.local.is_some());
        if let Some(node) = local {
            // A file we are writing: the bucket may not have it yet.
            let attr = match self.cache().get(&node.key) {
                Some(Cached::Found(attr)) if attr.kind == NodeKind::File => attr,
                _ => ObjectAttr::file(0, node.local.map(|l| l.mtime).unwrap_or(self.mount_time), None),
            };
            return self.remember_entry(parent, name, &attr);
        }
        let path = child_key(&parent_node.key, name, NodeKind::File);
        names::check_lookup_key(&path)?;
        match self.stat_path(&path).await {
            Ok(attr) => self.remember_entry(parent, name, &attr),
            Err(FsError::NotFound) => {
                self.inodes().detach(parent, name);
                Err(FsError::NotFound)
            }
            Err(e) => Err(e),
        }
    }

    /// Attributes of `ino`.
    pub async fn getattr(&self, ino: InodeNo) -> FsResult<FsAttr> {
        let node = self.node(ino)?;
        if node.kind == NodeKind::Directory {
            let attr = if node.ino == InodeNo::ROOT || node.key.is_empty() {
                ObjectAttr::directory(self.mount_time)
            } else {
                match self.stat_path(path_of(&node.key)).await {
                    Ok(attr) if attr.kind == NodeKind::Directory => attr,
                    _ => ObjectAttr::directory(self.mount_time),
                }
            };
            return Ok(self.finish_attr(&node, &attr));
        }
        if node.local.is_some() {
            // Being written: size and time are the writer's; the rest is what we last knew.
            let known = match self.cache().get(&node.key) {
                Some(Cached::Found(attr)) if attr.kind == NodeKind::File => attr,
                _ => ObjectAttr::file(0, self.mount_time, None),
            };
            return Ok(self.finish_attr(&node, &known));
        }
        let attr = self.stat_file(&node.key).await?;
        Ok(self.finish_attr(&node, &attr))
    }

    /// What is at `path` (a key without trailing '/'): cache, else HEAD + one-key LIST together.
    pub(crate) async fn stat_path(&self, path: &str) -> FsResult<ObjectAttr> {
        match self.cache().get(path) {
            Some(Cached::Found(attr)) => return Ok(attr),
            Some(Cached::Missing) => return Err(FsError::NotFound),
            None => {}
        }
        let bucket = &self.config.bucket;
        let request = ListRequest {
            prefix: format!("{path}/"),
            max_keys: Some(1),
            ..ListRequest::default()
        };
        let (head, list) = tokio::join!(
            self.api.head_object(bucket, path),
            self.api.list_objects(bucket, &request)
        );
        let page = list?;
        let attr = if let Some(first) = page.contents.first() {
            if first.key == request.prefix {
                // A marker: its metadata holds the directory's attributes.
                match self.api.head_object(bucket, &request.prefix).await {
                    Ok(meta) => ObjectAttr::directory_from_meta(meta),
                    Err(_) => ObjectAttr::directory(first.last_modified),
                }
            } else {
                ObjectAttr::directory(self.mount_time)
            }
        } else if !page.common_prefixes.is_empty() {
            ObjectAttr::directory(self.mount_time)
        } else {
            match head {
                Ok(meta) => attr_from_meta(&meta),
                Err(e) if e.is_not_found() => {
                    self.cache().put_missing(path);
                    return Err(FsError::NotFound);
                }
                Err(e) => return Err(e.into()),
            }
        };
        self.cache().put_found(path, attr.clone());
        Ok(attr)
    }

    /// Attributes of the file at `key`: cache, else HEAD.
    pub(crate) async fn stat_file(&self, key: &str) -> FsResult<ObjectAttr> {
        if let Some(Cached::Found(attr)) = self.cache().get(key) {
            if attr.kind == NodeKind::File {
                return Ok(attr);
            }
        }
        let meta = self.head(key).await?;
        Ok(attr_from_meta(&meta))
    }

    /// HeadObject of `key`, caching what it says.
    pub(crate) async fn head(&self, key: &str) -> FsResult<ObjectMeta> {
        match self.api.head_object(&self.config.bucket, key).await {
            Ok(meta) => {
                self.cache().put_found(key, attr_from_meta(&meta));
                Ok(meta)
            }
            Err(e) if e.is_not_found() => {
                self.cache().put_missing(key);
                Err(FsError::NotFound)
            }
            Err(e) => Err(e.into()),
        }
    }
}

/// The attributes an object's metadata gives a file.
pub(crate) fn attr_from_meta(meta: &ObjectMeta) -> ObjectAttr {
    ObjectAttr::from_meta(meta.clone())
}
