//! The per-directory attribute index: how `ls -l` and rsync learn the attributes stored in
//! user metadata without a HEAD per entry.
//!
//! ListObjects returns key, size, ETag and Last-Modified, never user metadata. So a
//! directory whose files carry user metadata (mode, owner, times, extended attributes,
//! symlink targets) gets one JSON object `<dir>/.bosmount-attrs.json` (hidden from
//! listings, refused as a file name) mapping names to the ETag of the version described and
//! that object's user metadata, type and content type.
//!
//! When a directory gets one: only when it carries information the listing cannot give.
//! A change that stores user metadata is a *strong* change: it makes the index be written
//! (created if needed). A plain file (no user metadata) or a removal is a *weak* change: it
//! is written only into an index that exists already (so listing those files needs no HEAD
//! there either), or along with a strong change; a directory where nothing has metadata
//! never gets an index, so 200 plain files cost 200 PutObject and nothing else. Whether a
//! directory has an index is learned from its listings (the index sorts among the names),
//! from reading or writing it; while unknown, weak changes wait in memory (at most
//! [`MAX_WEAK_PENDING`] per directory) for a strong one.
//!
//! Reading (readdir): a listing page that contains the index (or, for the rare directory
//! whose first page ends before the index's name, a direct GET) makes the mount read it —
//! or reuse its own copy when the listed ETag is the one it last wrote or read. An entry
//! whose listed ETag matches its index entry gets its attributes from there; any other file
//! in that directory is verified with a HEAD, many in flight at once
//! ([`HEAD_CONCURRENCY`]), never one after another. A directory without an index costs no
//! HEAD at all: its files show the mount's defaults and their Last-Modified. The index is
//! only a cache: a stale or lost entry costs a HEAD, never a wrong answer, because the ETag
//! must match (an entry left behind by an unlink is harmless: no listed name refers to it).
//!
//! Writing: a background task applies a directory's changes at most [`FLUSH_DELAY`] after
//! the first strong one with one PutObject conditioned on the index's ETag (If-Match, or
//! If-None-Match: * when creating it), re-reading and merging when another mount wrote it
//! meanwhile. Unmount and SIGTERM flush what waits ([`AttrIndexes::flush_all`]). If the
//! mount dies within that delay, entries of the last second are missing from the index:
//! those files cost a HEAD when listed — or, in a directory that has no index yet, show
//! defaults until the mount next writes metadata there.
//!
//! Directories never leak or come back through their index: rmdir deletes it with the
//! marker after [`AttrIndexes::discard_tree`] dropped what waited (and waited for a write in
//! flight); a directory rename flushes what waits ([`AttrIndexes::flush_tree`]), copies the
//! index with the other keys (ETags survive CopyObject) and forgets both trees' state.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::bos::{BosApi, ErrorKind, ObjectMeta, ObjectType, PutOptions};
use crate::fs::attr::ObjectAttr;
use crate::fs::names::ATTR_INDEX_NAME;

/// Longest time a change waits before the index is written.
pub const FLUSH_DELAY: Duration = Duration::from_millis(1000);

/// HEADs in flight at once when listed entries must be verified.
pub const HEAD_CONCURRENCY: usize = 48;

/// Attempts to write one directory's index when other mounts keep changing it.
const WRITE_ATTEMPTS: u32 = 6;

/// Weak changes (plain files, removals) kept per directory while it is unknown whether the
/// directory has an index; beyond this they are dropped (costing a HEAD when listed later).
pub const MAX_WEAK_PENDING: usize = 4096;

/// What the index stores about one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// ETag of the version described.
    pub etag: String,
    /// "a" for an Appendable object, absent for Normal.
    #[serde(rename = "t", default, skip_serializing_if = "Option::is_none")]
    pub appendable: Option<String>,
    /// Content-Type.
    #[serde(rename = "ct", default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// User metadata (names without `x-bce-meta-`).
    #[serde(rename = "m", default)]
    pub meta: BTreeMap<String, String>,
    /// Last-Modified (Unix seconds) of the version described, when a metadata-only change
    /// (CopyObject onto itself, which keeps the ETag) made it: the entry then vouches only for
    /// that version, so a later metadata change this index never learned of is not hidden.
    #[serde(rename = "lm", default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<i64>,
    /// Content headers kept with the object, so a change made from the index keeps them.
    #[serde(rename = "h", default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Set on entries this mount has not written yet (its own, newest knowledge).
    #[serde(skip)]
    pub from_this_mount: bool,
}

/// Unix seconds of `t` (0 before the epoch).
fn unix_seconds(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl IndexEntry {
    /// The entry describing `meta`.
    pub fn of(meta: &ObjectMeta) -> Self {
        let mut headers = BTreeMap::new();
        for (name, value) in [
            ("cache-control", &meta.cache_control),
            ("content-disposition", &meta.content_disposition),
            ("content-encoding", &meta.content_encoding),
            ("expires", &meta.expires),
        ] {
            if let Some(value) = value {
                headers.insert(name.to_string(), value.clone());
            }
        }
        IndexEntry {
            etag: meta.etag.clone(),
            appendable: (meta.object_type == ObjectType::Appendable).then(|| "a".to_string()),
            content_type: meta.content_type.clone(),
            meta: meta.user_meta.clone(),
            last_modified: None,
            headers,
            from_this_mount: false,
        }
    }

    /// Whether this entry describes the listed version, in an index the bucket dated
    /// `written_at`: same ETag; for an entry made by a metadata-only change the same
    /// Last-Modified second; and a version older than the index (in whole seconds) unless the
    /// entry is this mount's own unwritten knowledge. A metadata change that keeps the ETag
    /// and that the index never learned of (the mount died first) dates the object after the
    /// index, so the entry is not believed over it.
    pub fn vouches_for(&self, listed: &crate::bos::ListEntry, written_at: Option<std::time::SystemTime>) -> bool {
        let listed_at = unix_seconds(listed.last_modified);
        crate::fs::write::existing::same_etag(&self.etag, &listed.etag)
            && self.last_modified.is_none_or(|lm| lm == listed_at)
            && (self.from_this_mount || written_at.is_some_and(|w| listed_at < unix_seconds(w)))
    }

    /// The object metadata this entry and a listing's facts give together.
    pub fn to_meta(&self, listed: &crate::bos::ListEntry) -> ObjectMeta {
        let mut meta = ObjectMeta::new(listed.key.clone());
        meta.size = listed.size;
        meta.etag = listed.etag.clone();
        meta.last_modified = listed.last_modified;
        meta.storage_class = listed.storage_class;
        meta.content_type = self.content_type.clone();
        meta.user_meta = self.meta.clone();
        meta.cache_control = self.headers.get("cache-control").cloned();
        meta.content_disposition = self.headers.get("content-disposition").cloned();
        meta.content_encoding = self.headers.get("content-encoding").cloned();
        meta.expires = self.headers.get("expires").cloned();
        if self.appendable.is_some() {
            meta.object_type = ObjectType::Appendable;
            meta.next_append_offset = Some(listed.size);
        }
        meta
    }
}

/// The index object's body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexBody {
    /// Format version (1).
    #[serde(rename = "v", default)]
    pub version: u32,
    /// Name in the directory → entry.
    #[serde(rename = "e", default)]
    pub entries: BTreeMap<String, IndexEntry>,
    /// Last-Modified of the index object, as the bucket lists it (see [`IndexEntry::vouches_for`]).
    #[serde(skip)]
    pub written_at: Option<std::time::SystemTime>,
}

#[derive(Debug, Default)]
struct DirState {
    /// Changes not written yet: `None` removes the name.
    pending: BTreeMap<String, Option<IndexEntry>>,
    /// The index as we last wrote or read it, with its ETag.
    known: Option<(String, Arc<IndexBody>)>,
    /// A flush task is scheduled.
    scheduled: bool,
    /// Whether the directory has an index: `None` while unknown.
    exists: Option<bool>,
    /// A pending change stores user metadata: the index must be written.
    strong: bool,
    /// The index must exist before a change is stored (see [`AttrIndexes::ensure_exists`]).
    create: bool,
}

impl DirState {
    /// Whether the waiting changes are worth a write now.
    fn must_write(&self) -> bool {
        (!self.pending.is_empty() || self.create) && (self.strong || self.exists == Some(true))
    }
}

#[derive(Debug)]
struct Shared {
    api: Arc<dyn BosApi>,
    bucket: String,
    dirs: Mutex<HashMap<String, DirState>>,
    /// Serialises writers of the index (one flush at a time per mount keeps it simple).
    writing: tokio::sync::Mutex<()>,
    /// Changes of objects hold it shared from their request to noting the result here; an
    /// index write holds it exclusively from taking the waiting changes to its PUT, so no
    /// change the bucket dates before the index can be missing from it.
    gate: Arc<tokio::sync::RwLock<()>>,
    /// Where delayed flushes run (tracked, so unmount awaits them).
    background: crate::fs::background::Background,
}

/// The attribute indexes of one mount.
#[derive(Debug, Clone)]
pub struct AttrIndexes {
    shared: Arc<Shared>,
}

/// The index key of directory `dir_key` ("" or ending in '/').
pub fn index_key(dir_key: &str) -> String {
    format!("{dir_key}{ATTR_INDEX_NAME}")
}

/// Directory key and name of a file key.
fn split_key(key: &str) -> (&str, &str) {
    match key.rfind('/') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    }
}

impl AttrIndexes {
    /// Indexes kept in `bucket` through `api`.
    pub fn new(api: Arc<dyn BosApi>, bucket: String, background: crate::fs::background::Background) -> Self {
        AttrIndexes {
            shared: Arc::new(Shared {
                api,
                bucket,
                dirs: Mutex::new(HashMap::new()),
                writing: tokio::sync::Mutex::new(()),
                gate: Arc::new(tokio::sync::RwLock::new(())),
                background,
            }),
        }
    }

    fn dirs(&self) -> MutexGuard<'_, HashMap<String, DirState>> {
        self.shared.dirs.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file at `key` is now described by `attr` (ignored without full metadata).
    pub fn note(&self, key: &str, attr: &ObjectAttr) {
        if let Some(meta) = &attr.meta {
            let strong = !meta.user_meta.is_empty();
            self.change(key, Some(IndexEntry::of(meta)), strong);
        }
    }

    /// The file at `key` now carries the metadata of `attr` after a metadata-only change
    /// (CopyObject onto itself) that the server dated `attr.mtime`.
    pub fn note_metadata_change(&self, key: &str, attr: &ObjectAttr) {
        if let Some(meta) = &attr.meta {
            let mut entry = IndexEntry::of(meta);
            entry.last_modified = Some(unix_seconds(meta.last_modified));
            self.change(key, Some(entry), true);
        }
    }

    /// Hold while changing an object and noting the result here (see `Shared::gate`).
    pub async fn changing(&self) -> tokio::sync::OwnedRwLockReadGuard<()> {
        self.shared.gate.clone().read_owned().await
    }

    /// The file at `key` is gone.
    pub fn forget(&self, key: &str) {
        self.change(key, None, false);
    }

    fn change(&self, key: &str, entry: Option<IndexEntry>, strong: bool) {
        let (dir, name) = split_key(key);
        if name.is_empty() || name == ATTR_INDEX_NAME {
            return;
        }
        let schedule = {
            let mut dirs = self.dirs();
            let state = dirs.entry(dir.to_string()).or_default();
            if !strong && !state.strong && state.exists != Some(true) {
                // Weak: kept for a later strong change, within bounds; never written alone.
                if state.exists == Some(false) && state.pending.is_empty() && entry.is_none() {
                    return;
                }
                if state.pending.len() >= MAX_WEAK_PENDING && !state.pending.contains_key(name) {
                    return;
                }
            }
            state.pending.insert(name.to_string(), entry);
            state.strong |= strong;
            state.must_write() && !std::mem::replace(&mut state.scheduled, true)
        };
        if schedule {
            let me = self.clone();
            let dir = dir.to_string();
            self.shared
                .background
                .spawn_after(FLUSH_DELAY, async move { me.flush_dir(&dir).await });
        }
    }

    /// A listing of `dir_key` showed whether its index exists (`etag` when it does).
    pub fn note_listed(&self, dir_key: &str, etag: Option<&str>) {
        let mut dirs = self.dirs();
        let state = dirs.entry(dir_key.to_string()).or_default();
        state.exists = Some(etag.is_some());
        if let (Some(etag), Some((known, _))) = (etag, &state.known) {
            if !crate::fs::write::existing::same_etag(known, etag) {
                state.known = None;
            }
        }
        if etag.is_none() {
            state.known = None;
        }
    }

    /// Drop everything known or waiting for `dir_key` and every directory below it, after
    /// any index write in flight is done (rmdir: nothing may bring the index back).
    pub async fn discard_tree(&self, dir_key: &str) {
        let _writing = self.shared.writing.lock().await;
        self.dirs().retain(|d, _| !d.starts_with(dir_key));
    }

    /// Write now what waits for `dir_key` and the directories below it, then forget their
    /// state (directory rename: the index is copied with the other keys).
    pub async fn flush_tree(&self, dir_key: &str) {
        let dirs: Vec<String> = self.dirs().keys().filter(|d| d.starts_with(dir_key)).cloned().collect();
        for dir in dirs {
            self.flush_dir(&dir).await;
        }
        self.discard_tree(dir_key).await;
    }

    /// What this mount knows of `dir_key`'s index when its ETag is `etag`: our own copy
    /// (if it is that version) with our unwritten changes over it.
    pub fn cached(&self, dir_key: &str, etag: &str) -> Option<IndexBody> {
        let dirs = self.dirs();
        let state = dirs.get(dir_key)?;
        let (known_etag, body) = state.known.as_ref()?;
        if !crate::fs::write::existing::same_etag(known_etag, etag) {
            return None;
        }
        let mut body = (**body).clone();
        apply(&mut body, &state.pending);
        Some(body)
    }

    /// Our unwritten changes for `dir_key` alone, when the bucket has no index for it yet.
    pub fn pending_only(&self, dir_key: &str) -> Option<IndexBody> {
        let dirs = self.dirs();
        let state = dirs.get(dir_key)?;
        if state.pending.is_empty() {
            return None;
        }
        let mut body = IndexBody::default();
        apply(&mut body, &state.pending);
        Some(body)
    }

    /// Our unwritten changes for `dir_key`, applied to `body`.
    pub fn with_pending(&self, dir_key: &str, mut body: IndexBody) -> IndexBody {
        if let Some(state) = self.dirs().get(dir_key) {
            apply(&mut body, &state.pending);
        }
        body
    }

    /// Read `dir_key`'s index from the bucket (None when there is none), remembering it.
    pub async fn load(&self, dir_key: &str) -> Result<Option<IndexBody>, crate::bos::BosError> {
        let key = index_key(dir_key);
        match self.shared.api.get_object(&self.shared.bucket, &key, None).await {
            Ok(got) => {
                let mut body: IndexBody = serde_json::from_slice(&got.body).unwrap_or_else(|e| {
                    log::warn!("ignoring the unreadable attribute index {key:?}: {e}");
                    IndexBody::default()
                });
                body.written_at = Some(got.meta.last_modified);
                let mut dirs = self.dirs();
                let state = dirs.entry(dir_key.to_string()).or_default();
                state.known = Some((got.meta.etag.clone(), Arc::new(body.clone())));
                state.exists = Some(true);
                Ok(Some(body))
            }
            Err(e) if e.is_not_found() => {
                let mut dirs = self.dirs();
                let state = dirs.entry(dir_key.to_string()).or_default();
                state.known = None;
                state.exists = Some(false);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Make sure the directory of `key` has an index in the bucket, before a change that
    /// stores user metadata there: until one exists, a listing by another mount (or after a
    /// crash) shows the defaults for every file of the directory, since ListObjects carries
    /// no user metadata. Once it exists, an entry it lacks costs a HEAD when listed, never a
    /// wrong answer, so the entries themselves can wait for the delayed write. Fails (naming
    /// the directory) when the index could not be written: the caller stores nothing.
    pub async fn ensure_exists(&self, key: &str) -> Result<(), String> {
        let (dir, _) = split_key(key);
        {
            let mut dirs = self.dirs();
            let state = dirs.entry(dir.to_string()).or_default();
            if state.exists == Some(true) {
                return Ok(());
            }
            state.create = true;
            state.strong = true;
        }
        self.create_dir_index(dir).await;
        let mut dirs = self.dirs();
        let state = dirs.entry(dir.to_string()).or_default();
        state.create = false;
        if state.exists == Some(true) {
            Ok(())
        } else {
            Err(format!("the attribute index of {dir:?} could not be written"))
        }
    }

    /// A directory made by this mount has no index.
    pub fn note_new_dir(&self, dir_key: &str) {
        let mut dirs = self.dirs();
        let state = dirs.entry(dir_key.to_string()).or_default();
        if state.known.is_none() {
            state.exists = Some(false);
        }
    }

    /// Write every directory's waiting changes now (unmount, SIGTERM).
    pub async fn flush_all(&self) {
        let dirs: Vec<String> = self
            .dirs()
            .iter()
            .filter(|(_, s)| s.must_write())
            .map(|(d, _)| d.clone())
            .collect();
        for dir in dirs {
            self.flush_dir(&dir).await;
        }
    }

    /// Write `dir`'s waiting changes: read (unless we know the current version), merge, put
    /// conditioned on the version read; again from a fresh read when someone else wrote it.
    async fn flush_dir(&self, dir: &str) {
        let _writing = self.shared.writing.lock().await;
        self.flush_dir_locked(dir).await;
    }

    /// [`AttrIndexes::flush_dir`] for [`AttrIndexes::ensure_exists`]: nothing when another
    /// caller created the index while this one waited (its changes wait for the delayed write).
    async fn create_dir_index(&self, dir: &str) {
        let _writing = self.shared.writing.lock().await;
        if self.dirs().get(dir).is_some_and(|s| s.exists == Some(true)) {
            return;
        }
        self.flush_dir_locked(dir).await;
    }

    async fn flush_dir_locked(&self, dir: &str) {
        let _no_change_in_flight = self.shared.gate.write().await;
        let pending = {
            let mut dirs = self.dirs();
            let Some(state) = dirs.get_mut(dir) else {
                return;
            };
            state.scheduled = false;
            if !state.must_write() {
                return;
            }
            let strong = std::mem::take(&mut state.strong);
            state.create = false;
            let absent = state.exists == Some(false) && state.known.is_none();
            (std::mem::take(&mut state.pending), strong, state.known.clone(), absent)
        };
        let (pending, strong, known, absent) = pending;
        let key = index_key(dir);
        let mut base = known;
        for attempt in 0..WRITE_ATTEMPTS {
            let (etag, mut body) = match base.take() {
                Some((etag, body)) => (Some(etag), (*body).clone()),
                // Known to have none: create it (If-None-Match) without reading first.
                None if absent && attempt == 0 => (None, IndexBody::default()),
                None => match self.load(dir).await {
                    Ok(Some(body)) => {
                        let etag = self.dirs().get(dir).and_then(|s| s.known.as_ref().map(|k| k.0.clone()));
                        (etag, body)
                    }
                    Ok(None) if !strong => return, // no index, and nothing that needs one
                    Ok(None) => (None, IndexBody::default()),
                    Err(e) => {
                        log::warn!("cannot read the attribute index {key:?}: {e}");
                        break;
                    }
                },
            };
            body.version = 1;
            apply(&mut body, &pending);
            let bytes = match serde_json::to_vec(&body) {
                Ok(b) => b,
                Err(e) => {
                    log::warn!("cannot encode the attribute index {key:?}: {e}");
                    return;
                }
            };
            let options = PutOptions {
                content_type: Some("application/json".into()),
                if_match: etag.clone(),
                if_none_match_any: etag.is_none(),
                ..PutOptions::default()
            };
            match self
                .shared
                .api
                .put_object(&self.shared.bucket, &key, Bytes::from(bytes), &options)
                .await
            {
                Ok(put) => {
                    let mut dirs = self.dirs();
                    let state = dirs.entry(dir.to_string()).or_default();
                    state.known = Some((put.etag, Arc::new(body)));
                    state.exists = Some(true);
                    return;
                }
                Err(e)
                    if matches!(e.kind(), ErrorKind::PreconditionFailed | ErrorKind::AlreadyExists)
                        && attempt + 1 < WRITE_ATTEMPTS =>
                {
                    log::debug!("attribute index {key:?} changed meanwhile; merging again");
                }
                Err(e) => {
                    log::warn!("cannot write the attribute index {key:?}: {e}");
                    break;
                }
            }
        }
        // Not written: keep the changes for the next flush (newer changes win).
        let mut dirs = self.dirs();
        let state = dirs.entry(dir.to_string()).or_default();
        state.known = None;
        state.strong |= strong;
        for (name, entry) in pending {
            state.pending.entry(name).or_insert(entry);
        }
    }
}

fn apply(body: &mut IndexBody, pending: &BTreeMap<String, Option<IndexEntry>>) {
    for (name, entry) in pending {
        match entry {
            Some(entry) => {
                let mut entry = entry.clone();
                entry.from_this_mount = true;
                body.entries.insert(name.clone(), entry);
            }
            None => {
                body.entries.remove(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_directory_and_name() {
        assert_eq!(split_key("a/b/c"), ("a/b/", "c"));
        assert_eq!(split_key("top"), ("", "top"));
        assert_eq!(index_key("d/"), "d/.bosmount-attrs.json");
    }

    #[test]
    fn body_round_trips_and_applies_changes() {
        let mut meta = ObjectMeta::new("d/x");
        meta.etag = "e1".into();
        meta.object_type = ObjectType::Appendable;
        meta.user_meta.insert("mode".into(), "100600".into());
        let mut body = IndexBody::default();
        let mut pending = BTreeMap::new();
        pending.insert("x".to_string(), Some(IndexEntry::of(&meta)));
        pending.insert("gone".to_string(), None);
        body.entries.insert("gone".into(), IndexEntry::of(&meta));
        apply(&mut body, &pending);
        for entry in body.entries.values_mut() {
            // Applying marks entries as this mount's own; that flag is not stored.
            assert!(entry.from_this_mount);
            entry.from_this_mount = false;
        }
        let text = serde_json::to_string(&body).expect("encode");
        let back: IndexBody = serde_json::from_str(&text).expect("decode");
        assert_eq!(back, body);
        assert_eq!(back.entries.len(), 1);
        let listed = crate::bos::ListEntry {
            key: "d/x".into(),
            size: 5,
            etag: "e1".into(),
            last_modified: std::time::SystemTime::UNIX_EPOCH,
            storage_class: crate::bos::StorageClass::Standard,
        };
        let m = back.entries["x"].to_meta(&listed);
        assert_eq!(m.object_type, ObjectType::Appendable);
        assert_eq!(m.next_append_offset, Some(5));
        assert_eq!(m.user_meta.get("mode").map(String::as_str), Some("100600"));
    }
}
