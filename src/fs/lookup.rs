//! Stat of names: lookup and getattr.
//!
//! "What is at path P?" is answered by a HeadObject of `P` and a ListObjects of prefix
//! `P/` with maxKeys 1, sent together: any key under `P/` makes P a directory (it wins
//! over an object named P), otherwise the HEAD decides between a file and nothing. Both
//! outcomes, including "nothing", are cached for the metadata TTL. A name missing from a
//! directory listed in full or created by us within the TTL costs no request at all
//! (see [`crate::fs::meta_cache`]). The second lookup missing the cache in one directory
//! within the TTL lists that directory instead (one page and its attribute index), so
//! rsync's lstat of every file of a tree costs about one LIST per directory.

use std::ffi::OsStr;

use std::collections::HashSet;
use std::time::Instant;

use crate::bos::{ListPage, ListRequest, ObjectMeta, MAX_LIST_KEYS};
use crate::fs::attr::{NodeKind, ObjectAttr};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::{child_key, InodeNo};
use crate::fs::meta_cache::{parent_path, Cached};
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
            let attr = self.written_file_attr(&node.key, node.local.map(|l| l.mtime)).await;
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
        if node.live_key().is_none() {
            // Unlinked (or replaced) but still open: what it was, with no link left.
            let attr = node
                .unlinked_attr
                .clone()
                .unwrap_or_else(|| ObjectAttr::file(0, self.mount_time, None));
            let mut attr = self.finish_attr(&node, &attr);
            attr.nlink = 0;
            return Ok(attr);
        }
        if node.local.is_some() {
            // Being written: size and time are the writer's; the rest is what is stored.
            let known = self.written_file_attr(&node.key, None).await;
            return Ok(self.finish_attr(&node, &known));
        }
        let attr = self.stat_file(&node.key).await?;
        Ok(self.finish_attr(&node, &attr))
    }

    /// The stored attributes of a file being written (its size and time are the writer's):
    /// the cache, else a HEAD; a file the bucket does not have yet has none.
    async fn written_file_attr(&self, key: &str, mtime: Option<std::time::SystemTime>) -> ObjectAttr {
        let in_cache = self.cache().get(key);
        let cached = match in_cache {
            Some(Cached::Found(attr)) if attr.kind == NodeKind::File => Some(attr),
            Some(Cached::Missing) => None,
            _ => self.stat_file(key).await.ok(),
        };
        cached.unwrap_or_else(|| ObjectAttr::file(0, mtime.unwrap_or(self.mount_time), None))
    }

    /// What is at `path` (a key without trailing '/'): cache, else HEAD + one-key LIST together.
    pub(crate) async fn stat_path(&self, path: &str) -> FsResult<ObjectAttr> {
        self.stat_path_trusting(path, true).await
    }

    /// [`BosFs::stat_path`]; with `listings` false, names a listing lacks are asked for
    /// anyway (only what was looked up itself is trusted: a rename's target).
    pub(crate) async fn stat_path_trusting(&self, path: &str, listings: bool) -> FsResult<ObjectAttr> {
        {
            let mut cache = self.cache();
            match cache.get(path) {
                Some(Cached::Found(attr)) => return Ok(attr),
                Some(Cached::Missing) => return Err(FsError::NotFound),
                None if listings && cache.known_missing(path) => {
                    // A directory we listed in full (or made) within the TTL has no such name.
                    cache.put_missing(path);
                    return Err(FsError::NotFound);
                }
                None => {}
            }
        }
        if listings && self.missing_after_refresh(path).await? {
            return Err(FsError::NotFound);
        }
        if listings {
            if let Some(answer) = self.stat_by_listing(path).await? {
                return answer;
            }
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

    /// List directory `dir` (a path, "" for the root) in one page, noting whether its
    /// attribute index is there. Returns the directory's key prefix, the page and when the
    /// request was sent; `None` when the directory needs more than one page (remembered).
    async fn list_small_dir(&self, dir: &str) -> FsResult<Option<(String, ListPage, Instant)>> {
        let dir_key = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let request = ListRequest {
            prefix: dir_key.clone(),
            delimiter: Some("/".to_string()),
            max_keys: Some(MAX_LIST_KEYS),
            ..ListRequest::default()
        };
        let started = Instant::now();
        let page = self.api.list_objects(&self.config.bucket, &request).await?;
        if page.is_truncated {
            self.cache().not_small(dir);
            return Ok(None);
        }
        let index_key = crate::fs::attr_index::index_key(&dir_key);
        let listed_index = page.contents.iter().find(|e| e.key == index_key);
        self.indexes
            .note_listed(&dir_key, listed_index.map(|e| e.etag.as_str()));
        Ok(Some((dir_key, page, started)))
    }

    /// For a lookup in a small directory listed a moment ago: list it again (one request)
    /// and answer "missing" from that when the name is not there. `false`: not answered.
    async fn missing_after_refresh(&self, path: &str) -> FsResult<bool> {
        let dir = parent_path(path);
        if !self.cache().refreshable(dir) {
            return Ok(false);
        }
        let Some((dir_key, page, started)) = self.list_small_dir(dir).await? else {
            return Ok(false);
        };
        let mut cache = self.cache();
        let names: HashSet<String> = page
            .contents
            .iter()
            .filter_map(|e| e.key.strip_prefix(dir_key.as_str()))
            .chain(
                page.common_prefixes
                    .iter()
                    .filter_map(|p| p.strip_prefix(dir_key.as_str()))
                    .map(|p| p.trim_end_matches('/')),
            )
            .filter(|n| !n.is_empty() && *n != names::ATTR_INDEX_NAME)
            .map(str::to_string)
            .collect();
        cache.mark_listed(dir, started, names);
        if cache.known_missing(path) {
            cache.put_missing(path);
            return Ok(true);
        }
        Ok(false)
    }

    /// Lookups of many names in one directory (rsync's lstat of every file after a remount):
    /// at the second miss within the TTL, list the directory (one page, plus its attribute
    /// index) and answer from that: files the index vouches for get their attributes, names
    /// not listed are missing. `None`: not answered (a HEAD and a LIST decide).
    async fn stat_by_listing(&self, path: &str) -> FsResult<Option<FsResult<ObjectAttr>>> {
        let dir = parent_path(path);
        if !self.cache().lookup_missed(dir) {
            return Ok(None);
        }
        let Some((dir_key, page, started)) = self.list_small_dir(dir).await? else {
            return Ok(None);
        };
        let index_key = crate::fs::attr_index::index_key(&dir_key);
        let listed_index = page.contents.iter().find(|e| e.key == index_key);
        let index = match listed_index {
            Some(entry) => match self.indexes.cached(&dir_key, &entry.etag) {
                Some(body) => Some(body),
                None => self.indexes.load(&dir_key).await?,
            },
            None => self.indexes.pending_only(&dir_key),
        };
        let written_at = listed_index.map(|e| e.last_modified);
        let index = index.map(|mut b| {
            b.written_at = written_at.or(b.written_at);
            self.indexes.with_pending(&dir_key, b)
        });
        let prefixes: HashSet<&str> = page
            .common_prefixes
            .iter()
            .filter_map(|p| p.strip_prefix(dir_key.as_str()))
            .map(|p| p.trim_end_matches('/'))
            .collect();
        let mut names: HashSet<String> = prefixes.iter().map(|p| p.to_string()).collect();
        let mut cache = self.cache();
        for entry in &page.contents {
            let Some(name) = entry.key.strip_prefix(dir_key.as_str()) else {
                continue;
            };
            if name.is_empty() || name == names::ATTR_INDEX_NAME {
                continue;
            }
            names.insert(name.to_string());
            if prefixes.contains(name) || cache.get(&entry.key).is_some() {
                continue;
            }
            // Only what the index vouches for: user metadata the listing lacks.
            if let Some(known) = index.as_ref().and_then(|i| i.entries.get(name)) {
                if known.vouches_for(entry, index.as_ref().and_then(|i| i.written_at)) {
                    cache.put_found(&entry.key, ObjectAttr::from_meta(known.to_meta(entry)));
                }
            }
        }
        cache.mark_listed(dir, started, names);
        match cache.get(path) {
            Some(Cached::Found(attr)) => Ok(Some(Ok(attr))),
            _ if cache.known_missing(path) => {
                cache.put_missing(path);
                Ok(Some(Err(FsError::NotFound)))
            }
            _ => Ok(None),
        }
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
