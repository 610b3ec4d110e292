//! Metadata cache: what we last learned about a path (a file, a directory, or nothing
//! there), kept for the metadata TTL in a size-bounded LRU.
//!
//! Paths are object keys without a trailing '/' ("dir/file", "dir/sub"), so one entry
//! answers "what is this name" whatever its kind. Listings fill it (so `ls -l` needs no
//! HEAD per entry), lookups fill it, and our own writes, unlinks and renames overwrite or
//! drop entries at once; only changes made by others wait for the TTL.
//!
//! Complete directories: after a full listing of a directory (readdir to its end) or its
//! creation by us, the cache knows every name in it for the TTL, so a lookup of a name it
//! does not hold is answered "missing" without a request (rsync's lookups of the final and
//! temporary names before each create). Such a mark dies with the TTL, with any
//! invalidation in that directory, and when the LRU evicts a fresh entry (the cache could
//! no longer vouch for every name). A small complete directory (one listing page) whose
//! mark expired is *refreshable* for [`REFRESH_WINDOW`]: a lookup that misses there lists
//! it again (one request, current data, `lookup`) instead of a HEAD and a LIST for the one
//! name, and the new listing answers the following lookups for another TTL.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::fs::attr::ObjectAttr;

/// How long after its mark expired a small complete directory may be refreshed by a listing.
pub const REFRESH_WINDOW: Duration = Duration::from_secs(30);

/// A directory whose every name the cache knows (see the module doc).
#[derive(Debug, Clone)]
struct Complete {
    expires: Instant,
    /// Eviction generation when marked.
    generation: u64,
    /// The names a refreshing listing found (else the cache's entries are the names).
    names: Option<std::sync::Arc<HashSet<String>>>,
    /// It fits one listing page.
    small: bool,
}

/// What the cache knows about a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// It exists with these attributes.
    Found(ObjectAttr),
    /// Nothing is there (negative entry).
    Missing,
}

/// The cache.
#[derive(Debug)]
pub struct MetaCache {
    entries: LruCache<String, (Cached, Instant)>,
    ttl: Duration,
    /// Directory path → what makes it complete.
    complete: HashMap<String, Complete>,
    /// Bumped whenever a fresh entry is evicted for room.
    evictions: u64,
    /// Directory path → (first, count) of recent lookups that missed the cache there.
    misses: HashMap<String, (Instant, u32)>,
}

/// The directory path of `path` ("" for a top-level name).
pub fn parent_path(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

impl MetaCache {
    /// A cache of at most `capacity` paths whose entries live for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        MetaCache {
            entries: LruCache::new(capacity),
            ttl,
            complete: HashMap::new(),
            evictions: 0,
            misses: HashMap::new(),
        }
    }

    /// The entry for `path`, if present and fresh.
    pub fn get(&mut self, path: &str) -> Option<Cached> {
        let (cached, expires) = self.entries.get(path)?;
        if Instant::now() < *expires {
            return Some(cached.clone());
        }
        self.entries.pop(path);
        None
    }

    /// The full metadata last known for the file at `path`, fresh or not (for requests
    /// conditioned on its ETag, which fail safely when it changed).
    pub fn get_even_stale(&self, path: &str) -> Option<std::sync::Arc<crate::bos::ObjectMeta>> {
        match self.entries.peek(path) {
            Some((Cached::Found(attr), _)) => attr.meta.clone(),
            _ => None,
        }
    }

    /// Remember that `path` exists with `attr`.
    pub fn put_found(&mut self, path: &str, attr: ObjectAttr) {
        self.put(path, Cached::Found(attr));
    }

    /// Remember that nothing is at `path`.
    pub fn put_missing(&mut self, path: &str) {
        self.put(path, Cached::Missing);
    }

    /// Forget `path`.
    pub fn invalidate(&mut self, path: &str) {
        self.entries.pop(path);
        self.complete.remove(parent_path(path));
    }

    /// Every name in directory `dir` (a path) was known at `since` and is held here since;
    /// `small`: it fits one listing page.
    pub fn mark_complete(&mut self, dir: &str, since: Instant, small: bool) {
        self.insert_mark(dir, since, None, small);
    }

    /// A listing of `dir` begun at `since` found exactly `names` (one page).
    pub fn mark_listed(&mut self, dir: &str, since: Instant, names: HashSet<String>) {
        self.insert_mark(dir, since, Some(std::sync::Arc::new(names)), true);
    }

    fn insert_mark(&mut self, dir: &str, since: Instant, names: Option<std::sync::Arc<HashSet<String>>>, small: bool) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        if self.complete.len() >= 4096 {
            self.complete.retain(|_, m| m.expires + REFRESH_WINDOW > now);
        }
        let mark = Complete {
            expires: since + self.ttl,
            generation: self.evictions,
            names,
            small,
        };
        self.complete.insert(dir.to_string(), mark);
    }

    /// Whether nothing is at `path` because its directory is complete and does not hold it.
    pub fn known_missing(&mut self, path: &str) -> bool {
        let dir = parent_path(path);
        let names = match self.complete.get(dir) {
            Some(m) if Instant::now() < m.expires && m.generation == self.evictions => m.names.clone(),
            _ => return false,
        };
        let name = &path[path.rfind('/').map_or(0, |i| i + 1)..];
        if names.is_some_and(|n| n.contains(name)) {
            return false;
        }
        !matches!(self.get(path), Some(Cached::Found(_)))
    }

    /// Whether directory `dir` was complete and small a moment ago, so listing it again
    /// answers a lookup there as cheaply as one request can.
    pub fn refreshable(&self, dir: &str) -> bool {
        let now = Instant::now();
        self.complete
            .get(dir)
            .is_some_and(|m| m.small && m.expires <= now && now < m.expires + REFRESH_WINDOW)
    }

    /// `dir` is no longer known to be small (for [`REFRESH_WINDOW`], nothing lists it for
    /// a lookup).
    pub fn not_small(&mut self, dir: &str) {
        self.complete.remove(dir);
        self.misses
            .insert(dir.to_string(), (Instant::now() + REFRESH_WINDOW, u32::MAX));
    }

    /// A lookup in `dir` missed the cache: whether it is the second within the TTL, so
    /// listing the directory (one page) is likely cheaper than a HEAD and a LIST per name.
    pub fn lookup_missed(&mut self, dir: &str) -> bool {
        let now = Instant::now();
        if self.misses.len() >= 4096 {
            let ttl = self.ttl;
            self.misses.retain(|_, (first, _)| *first + ttl > now || *first > now);
        }
        let entry = self.misses.entry(dir.to_string()).or_insert((now, 0));
        if entry.1 == u32::MAX {
            if entry.0 > now {
                return false; // known to be large
            }
            *entry = (now, 0);
        }
        if entry.0 + self.ttl <= now {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 == 2
    }

    /// Forget `prefix` itself and every path below it (`prefix` without the trailing '/');
    /// the caller puts what is at `prefix` now.
    pub fn invalidate_tree(&mut self, prefix: &str) {
        let below = format!("{prefix}/");
        let doomed: Vec<String> = self
            .entries
            .iter()
            .filter(|(k, _)| k.as_str() == prefix || k.starts_with(&below))
            .map(|(k, _)| k.clone())
            .collect();
        for key in doomed {
            self.entries.pop(&key);
        }
        // (The parent's mark stays: every caller puts what is now at `prefix` right after.)
        self.complete.retain(|dir, _| dir != prefix && !dir.starts_with(&below));
    }

    /// Number of entries held (fresh or not).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn put(&mut self, path: &str, cached: Cached) {
        if self.ttl.is_zero() {
            return;
        }
        let now = Instant::now();
        if let Some((evicted, (_, expires))) = self.entries.push(path.to_string(), (cached, now + self.ttl)) {
            if evicted != path && expires > now {
                self.evictions += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn ttl_and_capacity() {
        let mut c = MetaCache::new(2, Duration::from_secs(60));
        c.put_found("a", ObjectAttr::file(1, SystemTime::UNIX_EPOCH, None));
        c.put_missing("b");
        c.put_missing("c");
        assert!(c.get("a").is_none(), "evicted by capacity");
        assert_eq!(c.get("b"), Some(Cached::Missing));
        let mut short = MetaCache::new(10, Duration::from_millis(1));
        short.put_missing("x");
        std::thread::sleep(Duration::from_millis(5));
        assert!(short.get("x").is_none(), "expired");
    }

    #[test]
    fn complete_directories_answer_missing_names() {
        let mut c = MetaCache::new(3, Duration::from_secs(60));
        c.put_found("d/a", ObjectAttr::file(1, SystemTime::UNIX_EPOCH, None));
        assert!(!c.known_missing("d/b"), "not complete yet");
        c.mark_complete("d", Instant::now(), true);
        assert!(c.known_missing("d/b"));
        assert!(!c.known_missing("d/a"), "held");
        assert!(!c.known_missing("e/b"), "other directory");
        c.invalidate("d/a");
        assert!(!c.known_missing("d/b"), "an invalidation ends the mark");
        c.mark_complete("d", Instant::now(), true);
        c.put_missing("x");
        c.put_missing("y");
        c.put_missing("z");
        assert!(c.known_missing("d/b"), "nothing evicted yet");
        c.put_missing("w");
        assert!(!c.known_missing("d/b"), "a fresh entry was evicted");
        c.mark_complete("", Instant::now(), true);
        assert!(c.known_missing("top"));
        c.invalidate_tree("d");
        assert!(c.known_missing("top"), "the parent's mark stays");
        c.invalidate("q");
        assert!(!c.known_missing("top"), "invalidation below the root");
    }

    #[test]
    fn listed_names_and_refreshable_directories() {
        let mut c = MetaCache::new(10, Duration::from_millis(30));
        let names: HashSet<String> = ["a".to_string()].into_iter().collect();
        c.mark_listed("d", Instant::now(), names);
        assert!(!c.known_missing("d/a"), "listed, though not cached");
        assert!(c.known_missing("d/b"));
        assert!(!c.refreshable("d"), "still fresh");
        std::thread::sleep(Duration::from_millis(40));
        assert!(!c.known_missing("d/b"), "expired");
        assert!(c.refreshable("d"));
        c.not_small("d");
        assert!(!c.refreshable("d"));
    }

    #[test]
    fn the_second_lookup_miss_in_a_directory_asks_for_a_listing() {
        let mut c = MetaCache::new(10, Duration::from_secs(60));
        assert!(!c.lookup_missed("d"));
        assert!(c.lookup_missed("d"), "second miss");
        assert!(!c.lookup_missed("d"), "only once per TTL");
        assert!(!c.lookup_missed("e"));
        c.not_small("e");
        assert!(
            !c.lookup_missed("e") && !c.lookup_missed("e"),
            "large: never listed for a lookup"
        );
    }

    #[test]
    fn tree_invalidation() {
        let mut c = MetaCache::new(10, Duration::from_secs(60));
        for p in ["d", "d/x", "d/y/z", "dd"] {
            c.put_missing(p);
        }
        c.invalidate_tree("d");
        assert!(c.get("d").is_none() && c.get("d/x").is_none() && c.get("d/y/z").is_none());
        assert!(c.get("dd").is_some());
    }
}
