//! Directory listings: readdir / readdirplus over ListObjects pages with '/' delimiter.
//!
//! A directory handle keeps one page of entries and the listing marker. Entry offsets are
//! positions in the whole listing (1 = ".", 2 = "..", then children), so the kernel can
//! resume at any offset inside the current page; asking for an offset before it restarts
//! the listing (rewinddir). Each page's sizes and times go into the metadata cache, and
//! readdirplus hands them to the kernel, so `ls -l` costs ceil(N/1000) LISTs and no HEAD
//! per file; a subdirectory the cache does not know costs one HEAD of its marker (its owner
//! and mode, which the kernel's permission checks rely on), all of them at once.
//! A listing read to its end marks the directory complete in the metadata cache, so
//! lookups of names it lacks need no request within the TTL.
//!
//! A key and a prefix with the same name ("a" and "a/...") show once, as the directory.
//! Keys sort "a" < "a-b" < "a/", so the two may land on different pages: a file whose
//! "name/" prefix could still appear on a later page is held back until the next page
//! (only names that prefix the page's last key are affected, a handful at most).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures_util::stream::{self, StreamExt};

use crate::bos::{ListEntry, ListPage, ListRequest, ObjectMeta, MAX_LIST_KEYS};
use crate::fs::attr::{NodeKind, ObjectAttr};
use crate::fs::attr_index::{index_key, IndexBody, HEAD_CONCURRENCY};
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::InodeNo;
use crate::fs::meta_cache::Cached;
use crate::fs::write::existing::same_etag;
use crate::fs::{names, path_of, BosFs, FsAttr};

/// One entry handed to a [`DirReplier`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaddirEntry {
    /// Inode number (for plain readdir of a name never looked up, a placeholder).
    pub ino: InodeNo,
    /// Offset of the entry after this one is resumed from.
    pub offset: u64,
    /// Name.
    pub name: String,
    /// Attributes.
    pub attr: FsAttr,
}

/// Receives directory entries until its buffer is full.
pub trait DirReplier {
    /// Add `entry`; `true` when it did NOT fit (the buffer is full).
    fn add(&mut self, entry: &ReaddirEntry) -> bool;
}

/// Inode number reported by plain readdir for names the kernel never looked up.
const UNKNOWN_INO: InodeNo = InodeNo(u64::MAX);

#[derive(Debug, Clone)]
enum Listed {
    Dot,
    DotDot,
    Child(String, ObjectAttr),
}

#[derive(Debug, Default)]
struct DirState {
    /// Offset of the entry before `entries[0]`.
    base: u64,
    entries: Vec<Listed>,
    marker: Option<String>,
    done: bool,
    deferred: Vec<ListEntry>,
    /// The directory's attribute index, once found (see `attr_index`).
    index: Option<Arc<IndexBody>>,
    /// When the first page of this listing was asked for.
    started: Option<std::time::Instant>,
    /// Names listed so far (a file being written that the bucket lacks is added at the end).
    seen: HashSet<String>,
}

impl DirState {
    fn fresh() -> Self {
        DirState {
            entries: vec![Listed::Dot, Listed::DotDot],
            ..DirState::default()
        }
    }
}

/// An open directory.
#[derive(Debug)]
pub(crate) struct DirHandle {
    ino: InodeNo,
    key: String,
    state: tokio::sync::Mutex<DirState>,
}

impl BosFs {
    /// Open directory `ino` for listing; returns the handle number.
    pub fn opendir(&self, ino: InodeNo) -> FsResult<u64> {
        let node = self.dir_node(ino)?;
        let handle = Arc::new(DirHandle {
            ino,
            key: node.key,
            state: tokio::sync::Mutex::new(DirState::fresh()),
        });
        let mut next = self.next_dir_handle.lock().unwrap_or_else(|p| p.into_inner());
        let fh = *next;
        *next += 1;
        self.dirs.lock().unwrap_or_else(|p| p.into_inner()).insert(fh, handle);
        Ok(fh)
    }

    /// Close a directory handle.
    pub fn releasedir(&self, fh: u64) {
        self.dirs.lock().unwrap_or_else(|p| p.into_inner()).remove(&fh);
    }

    /// Hand entries after `offset` to `replier` until it is full or the listing ends.
    /// With `plus`, every entry handed over counts as a kernel lookup of that name.
    pub async fn readdir(
        &self,
        fh: u64,
        offset: u64,
        plus: bool,
        replier: &mut (dyn DirReplier + Send),
    ) -> FsResult<()> {
        let handle = self
            .dirs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&fh)
            .cloned()
            .ok_or(FsError::BadHandle(fh))?;
        let mut state = handle.state.lock().await;
        if offset < state.base {
            *state = DirState::fresh();
        }
        let mut want = offset;
        loop {
            while want >= state.base + state.entries.len() as u64 && !state.done {
                self.next_page(&handle, &mut state).await?;
            }
            let start = want.saturating_sub(state.base) as usize;
            for (i, listed) in state.entries.iter().enumerate().skip(start) {
                let entry_offset = state.base + i as u64 + 1;
                let Some(entry) = self.dir_entry(&handle, listed, entry_offset, plus)? else {
                    continue;
                };
                if replier.add(&entry) {
                    if plus {
                        // Not handed over: drop the inode again unless someone holds it.
                        self.inodes().forget(entry.ino, 0);
                    }
                    return Ok(());
                }
                if plus && matches!(listed, Listed::Child(..)) {
                    self.inodes().add_lookup(entry.ino);
                }
            }
            if state.done {
                return Ok(());
            }
            want = state.base + state.entries.len() as u64;
        }
    }

    fn dir_entry(
        &self,
        handle: &DirHandle,
        listed: &Listed,
        offset: u64,
        plus: bool,
    ) -> FsResult<Option<ReaddirEntry>> {
        let (node, name, attr) = match listed {
            Listed::Dot => (
                self.node(handle.ino)?,
                ".".to_string(),
                ObjectAttr::directory(self.mount_time),
            ),
            Listed::DotDot => {
                let me = self.node(handle.ino)?;
                let parent = self.node(me.parent).unwrap_or(me);
                (parent, "..".to_string(), ObjectAttr::directory(self.mount_time))
            }
            Listed::Child(name, attr) => {
                let mut inodes = self.inodes();
                let ino = if plus {
                    inodes.upsert(handle.ino, name, attr.kind)
                } else {
                    inodes
                        .child(handle.ino, name)
                        .filter(|n| n.kind == attr.kind)
                        .map(|n| n.ino)
                };
                let node = match ino.and_then(|ino| inodes.get(ino)) {
                    Some(node) => node,
                    None if plus => return Ok(None),
                    None => {
                        drop(inodes);
                        let attr = FsAttr::build(UNKNOWN_INO, attr, Default::default(), &self.config.defaults);
                        return Ok(Some(ReaddirEntry {
                            ino: UNKNOWN_INO,
                            offset,
                            name: name.clone(),
                            attr,
                        }));
                    }
                };
                (node, name.clone(), attr.clone())
            }
        };
        let attr = self.finish_attr(&node, &attr);
        Ok(Some(ReaddirEntry {
            ino: node.ino,
            offset,
            name,
            attr,
        }))
    }

    async fn next_page(&self, handle: &DirHandle, state: &mut DirState) -> FsResult<()> {
        let request = ListRequest {
            prefix: handle.key.clone(),
            delimiter: Some("/".to_string()),
            marker: state.marker.clone(),
            max_keys: Some(MAX_LIST_KEYS),
        };
        if state.marker.is_none() {
            state.started = Some(std::time::Instant::now());
        }
        let page = self.api.list_objects(&self.config.bucket, &request).await?;
        let next_marker = page.next_marker.clone().or_else(|| {
            let last_key = page.contents.last().map(|e| e.key.clone());
            std::cmp::max(last_key, page.common_prefixes.last().cloned())
        });
        if page.is_truncated && (next_marker.is_none() || next_marker == state.marker) {
            return Err(FsError::Internal(format!(
                "listing of {:?} is truncated but gives no new marker",
                handle.key
            )));
        }
        let deferred = std::mem::take(&mut state.deferred);
        let listed: HashMap<String, ListEntry> = deferred
            .iter()
            .chain(page.contents.iter())
            .map(|e| (e.key.clone(), e.clone()))
            .collect();
        self.find_index(handle, state, &page).await?;
        let (mut entries, deferred) = split_page(&handle.key, &page, deferred, self.mount_time);
        self.complete_attrs(&handle.key, &mut entries, &listed, state.index.as_deref())
            .await;
        {
            let mut cache = self.cache();
            for listed in &entries {
                if let Listed::Child(name, attr) = listed {
                    cache.put_found(path_of(&format!("{}{name}", handle.key)), attr.clone());
                }
            }
            if let (false, Some(started)) = (page.is_truncated, state.started) {
                // Listed to the end: every name is in the cache (see `meta_cache`).
                cache.mark_complete(path_of(&handle.key), started, state.marker.is_none());
            }
        }
        for listed in &entries {
            if let Listed::Child(name, _) = listed {
                state.seen.insert(name.clone());
            }
        }
        if !page.is_truncated {
            entries.extend(self.written_not_listed(handle.ino, &state.seen));
        }
        state.base += state.entries.len() as u64;
        state.entries = entries;
        state.deferred = deferred;
        state.marker = next_marker;
        state.done = !page.is_truncated;
        Ok(())
    }

    /// Files of directory `dir` being written that the listing did not show (new files not
    /// closed yet, large files still streaming as a multipart upload), with their current size.
    fn written_not_listed(&self, dir: InodeNo, seen: &HashSet<String>) -> Vec<Listed> {
        let mut written: Vec<Listed> = self
            .inodes()
            .children_of(dir)
            .into_iter()
            .filter(|n| n.kind == NodeKind::File && !seen.contains(&n.name))
            .filter_map(|n| {
                let local = n.local?;
                Some(Listed::Child(n.name, ObjectAttr::file(local.size, local.mtime, None)))
            })
            .collect();
        written.sort_by(|a, b| match (a, b) {
            (Listed::Child(x, _), Listed::Child(y, _)) => x.cmp(y),
            _ => std::cmp::Ordering::Equal,
        });
        written
    }
}

impl BosFs {
    /// Find the directory's attribute index: in this page, or — when the first page ends
    /// before the index's name could appear — by reading it directly.
    async fn find_index(&self, handle: &DirHandle, state: &mut DirState, page: &ListPage) -> FsResult<()> {
        if state.index.is_some() {
            return Ok(());
        }
        let key = index_key(&handle.key);
        let found = page.contents.iter().find(|e| e.key == key);
        let ends_before = page.is_truncated
            && state.marker.is_none()
            && page.contents.last().is_some_and(|e| e.key < key)
            && page.common_prefixes.last().is_none_or(|p| *p < key);
        if state.marker.is_none() && !ends_before {
            // The first page covers the index's place: it tells whether there is one.
            self.indexes.note_listed(&handle.key, found.map(|e| e.etag.as_str()));
        }
        let body = match found {
            Some(entry) => match self.indexes.cached(&handle.key, &entry.etag) {
                Some(body) => Some(body),
                None => self.indexes.load(&handle.key).await?,
            },
            None if ends_before => self.indexes.load(&handle.key).await?,
            None => None,
        };
        // No index in the bucket yet: what this mount has not written of it still counts.
        let body = body.or_else(|| self.indexes.pending_only(&handle.key));
        let written_at = found.map(|e| e.last_modified);
        state.index = body.map(|mut b| {
            b.written_at = written_at.or(b.written_at);
            Arc::new(self.indexes.with_pending(&handle.key, b))
        });
        Ok(())
    }

    /// Give listed files the attributes stored in their user metadata: from our own cache or
    /// the index when the ETag matches, else — in a directory that has an index, i.e. holds
    /// objects written by a mount — from concurrent HEADs. Without an index nothing is asked
    /// for files. Subdirectories get what the cache knows of them, else a HEAD of their
    /// marker (with the files' HEADs, concurrently): their owner and mode live there.
    async fn complete_attrs(
        &self,
        dir_key: &str,
        entries: &mut [Listed],
        listed: &HashMap<String, ListEntry>,
        index: Option<&IndexBody>,
    ) {
        let mut unknown = Vec::new();
        for (i, entry) in entries.iter_mut().enumerate() {
            let Listed::Child(name, attr) = entry else {
                continue;
            };
            if attr.kind == NodeKind::Directory {
                // A listing says nothing of a subdirectory's owner and mode: what we know
                // of its marker, else a HEAD of it (a wrong owner would mislead the kernel's
                // permission checks).
                let path = format!("{dir_key}{name}");
                match self.cache().get(&path) {
                    Some(Cached::Found(cached)) if cached.kind == NodeKind::Directory && cached.meta.is_some() => {
                        *attr = cached
                    }
                    _ => unknown.push((i, format!("{path}/"))),
                }
                continue;
            }
            if attr.kind != NodeKind::File {
                continue;
            }
            let key = format!("{dir_key}{name}");
            let etag = attr.etag.clone().unwrap_or_default();
            if let Some(Cached::Found(cached)) = self.cache().get(&key) {
                if cached.meta.is_some() && cached.etag.as_deref().is_some_and(|e| same_etag(e, &etag)) {
                    *attr = cached;
                    continue;
                }
            }
            let Some(index) = index else {
                continue;
            };
            match (index.entries.get(name.as_str()), listed.get(&key)) {
                (Some(known), Some(item))
                    if same_etag(&known.etag, &etag) && known.vouches_for(item, index.written_at) =>
                {
                    *attr = ObjectAttr::from_meta(known.to_meta(item));
                }
                _ => unknown.push((i, key)),
            }
        }
        if unknown.is_empty() {
            return;
        }
        let bucket = &self.config.bucket;
        let heads: Vec<(usize, Option<ObjectMeta>)> = stream::iter(unknown)
            .map(|(i, key)| async move {
                match self.api.head_object(bucket, &key).await {
                    Ok(meta) => (i, Some(meta)),
                    Err(e) => {
                        if !e.is_not_found() {
                            log::warn!("HEAD of listed {key:?} failed: {e}");
                        }
                        (i, None)
                    }
                }
            })
            .buffer_unordered(HEAD_CONCURRENCY)
            .collect()
            .await;
        for (i, meta) in heads {
            if let (Some(meta), Some(Listed::Child(_, attr))) = (meta, entries.get_mut(i)) {
                *attr = if attr.kind == NodeKind::Directory {
                    ObjectAttr::directory_from_meta(meta)
                } else {
                    ObjectAttr::from_meta(meta)
                };
            }
        }
    }
}

/// The entries of one page of the listing of `dir_key`, and the files held back for the
/// next page (see the module doc). `deferred` are files held back by the previous page.
fn split_page(
    dir_key: &str,
    page: &ListPage,
    deferred: Vec<ListEntry>,
    mount_time: std::time::SystemTime,
) -> (Vec<Listed>, Vec<ListEntry>) {
    let prefixes: HashSet<&str> = page.common_prefixes.iter().map(String::as_str).collect();
    let last_key = std::cmp::max(
        page.contents.last().map(|e| e.key.as_str()),
        page.common_prefixes.last().map(String::as_str),
    );
    let mut out = Vec::with_capacity(page.contents.len() + page.common_prefixes.len());
    let mut held = Vec::new();
    for entry in deferred.into_iter().chain(page.contents.iter().cloned()) {
        let Some(name) = entry.key.strip_prefix(dir_key) else {
            continue;
        };
        if name.is_empty() || name.contains('/') || name == names::ATTR_INDEX_NAME {
            // "dir/" itself (the marker), a key a server should have grouped, or our index.
            continue;
        }
        if !names::listing_name_ok(name, &entry.key) {
            continue;
        }
        let as_dir = format!("{}/", entry.key);
        if prefixes.contains(as_dir.as_str()) {
            continue;
        }
        if page.is_truncated && last_key.is_none_or(|last| as_dir.as_str() > last) {
            held.push(entry);
            continue;
        }
        let attr = ObjectAttr::file(entry.size, entry.last_modified, Some(entry.etag.clone()));
        out.push(Listed::Child(name.to_string(), attr));
    }
    for prefix in &page.common_prefixes {
        let Some(name) = prefix.strip_prefix(dir_key).and_then(|n| n.strip_suffix('/')) else {
            continue;
        };
        if !names::listing_name_ok(name, prefix) {
            continue;
        }
        out.push(Listed::Child(name.to_string(), ObjectAttr::directory(mount_time)));
    }
    (out, held)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bos::StorageClass;
    use crate::fs::attr::NodeKind;
    use std::time::SystemTime;

    fn entry(key: &str) -> ListEntry {
        ListEntry {
            key: key.into(),
            size: 1,
            etag: "e".into(),
            last_modified: SystemTime::UNIX_EPOCH,
            storage_class: StorageClass::Standard,
        }
    }

    fn names_of(listed: &[Listed]) -> Vec<String> {
        listed
            .iter()
            .filter_map(|l| match l {
                Listed::Child(n, a) => Some(format!("{n}{}", if a.kind == NodeKind::Directory { "/" } else { "" })),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn file_and_prefix_with_one_name_show_once_as_directory() {
        let page = ListPage {
            contents: vec![entry("d/"), entry("d/a"), entry("d/b")],
            common_prefixes: vec!["d/a/".into()],
            is_truncated: false,
            next_marker: None,
        };
        let (out, held) = split_page("d/", &page, vec![], SystemTime::UNIX_EPOCH);
        assert_eq!(names_of(&out), vec!["b", "a/"]);
        assert!(held.is_empty());
    }

    #[test]
    fn file_that_may_meet_its_prefix_on_the_next_page_is_held() {
        let page1 = ListPage {
            contents: vec![entry("a"), entry("a-1")],
            common_prefixes: vec![],
            is_truncated: true,
            next_marker: Some("a-1".into()),
        };
        let (out, held) = split_page("", &page1, vec![], SystemTime::UNIX_EPOCH);
        assert_eq!(names_of(&out), Vec::<String>::new());
        assert_eq!(held.len(), 2);
        let page2 = ListPage {
            contents: vec![],
            common_prefixes: vec!["a/".into()],
            is_truncated: false,
            next_marker: None,
        };
        let (out, held) = split_page("", &page2, held, SystemTime::UNIX_EPOCH);
        assert_eq!(names_of(&out), vec!["a-1", "a/"]);
        assert!(held.is_empty());
    }

    #[test]
    fn invalid_names_are_skipped() {
        let page = ListPage {
            contents: vec![entry("p/ok"), entry(&format!("p/{}", "x".repeat(300)))],
            common_prefixes: vec!["p//".into(), "p/../".into(), "p/sub/".into()],
            is_truncated: false,
            next_marker: None,
        };
        let (out, _) = split_page("p/", &page, vec![], SystemTime::UNIX_EPOCH);
        assert_eq!(names_of(&out), vec!["ok", "sub/"]);
    }
}
