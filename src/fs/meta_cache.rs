//! Metadata cache: what we last learned about a path (a file, a directory, or nothing
//! there), kept for the metadata TTL in a size-bounded LRU.
//!
//! Paths are object keys without a trailing '/' ("dir/file", "dir/sub"), so one entry
//! answers "what is this name" whatever its kind. Listings fill it (so `ls -l` needs no
//! HEAD per entry), lookups fill it, and our own writes, unlinks and renames overwrite or
//! drop entries at once; only changes made by others wait for the TTL.

use std::num::NonZeroUsize;
use std::time::{Duration, Instant};

use lru::LruCache;

use crate::fs::attr::ObjectAttr;

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
}

impl MetaCache {
    /// A cache of at most `capacity` paths whose entries live for `ttl`.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        let capacity = NonZeroUsize::new(capacity.max(1)).unwrap_or(NonZeroUsize::MIN);
        MetaCache {
            entries: LruCache::new(capacity),
            ttl,
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
    }

    /// Forget `prefix` itself and every path below it (`prefix` without the trailing '/').
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
        self.entries.put(path.to_string(), (cached, Instant::now() + self.ttl));
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
