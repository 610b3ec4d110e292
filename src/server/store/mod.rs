//! Durable storage of the local server: the redb [`index::Index`] of buckets, objects,
//! uploads and parts, and the [`blobs::BlobStore`] of content files. A write lands as
//! temp file → fsync → rename into `blobs/` → index commit, answered once a durable commit
//! (fsync of `blobs/`, then the redb commit; grouped, see [`group_commit`]) covers it, so a
//! crash at any moment leaves either the old or the new object; orphans are removed at
//! startup. Objects up to 64 KiB from PutObject keep their content in the index itself
//! (written, replaced and dropped in the record's own transaction: no file, one fsync).
//! Request bodies are written by their own small thread pool ([`io_pool`]), index
//! operations run on tokio's blocking threads, so a flood of uploads cannot hold them up.
//! Readers (GET, copies) pin the blobs they read: a blob dropped by the index while pinned
//! is removed when its last reader is done, so a read never ends early.

pub mod blobs;
pub mod group_commit;
pub mod index;
pub mod io_pool;
pub mod md5_state;
pub mod records;

use crate::bos::types::is_valid_bucket_name;
use crate::server::error::{ApiError, ApiResult};
use blobs::BlobStore;
use index::Index;
use io_pool::IoPool;
use records::{now_ms, BucketRecord};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex, RwLock};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Number of stripes of the per-key locks.
const KEY_LOCK_STRIPES: usize = 256;

/// The store shared by all requests.
#[derive(Debug)]
pub struct Store {
    /// The index.
    pub index: Index,
    /// The content files.
    pub blobs: BlobStore,
    bucket_names: RwLock<BTreeSet<String>>,
    key_locks: Vec<Arc<Mutex<()>>>,
    pins: Arc<StdMutex<Pins>>,
    /// The threads that write request bodies (never used by index operations).
    pub body_io: IoPool,
}

/// Blobs being read, and blobs whose removal waits until their last reader is done.
#[derive(Debug, Default)]
struct Pins {
    readers: HashMap<String, usize>,
    deferred: HashSet<String>,
}

/// Keeps blobs on disk while a reader streams them (a GET of an object that is replaced
/// or deleted meanwhile still sends every byte). Dropping it lets deferred removals run.
#[derive(Debug)]
pub struct BlobPin {
    ids: Vec<String>,
    pins: Arc<StdMutex<Pins>>,
    blobs: BlobStore,
}

impl Drop for BlobPin {
    fn drop(&mut self) {
        let mut free = Vec::new();
        if let Ok(mut pins) = self.pins.lock() {
            for id in &self.ids {
                if let Some(n) = pins.readers.get_mut(id) {
                    *n -= 1;
                    if *n == 0 {
                        pins.readers.remove(id);
                        if pins.deferred.remove(id) {
                            free.push(id.clone());
                        }
                    }
                }
            }
        }
        if free.is_empty() {
            return;
        }
        let blobs = self.blobs.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn_blocking(move || blobs.remove(&free));
            }
            Err(_) => blobs.remove(&free),
        }
    }
}

impl Store {
    /// Open (or create) the store in `root`, remove crash leftovers (temporary files,
    /// unreferenced blobs, uncommitted append tails), create `buckets`, and start
    /// `body_io_threads` body writer threads.
    pub async fn open(root: PathBuf, buckets: Vec<String>, body_io_threads: usize) -> ApiResult<Arc<Store>> {
        let body_io = IoPool::new(body_io_threads)?;
        let store = tokio::task::spawn_blocking(move || -> ApiResult<Store> {
            std::fs::create_dir_all(&root)?;
            let blobs = BlobStore::open(&root)?;
            let index = Index::open(&root.join("index.redb"), Some(blobs.dir().to_path_buf()))?;
            let referenced = index.referenced_blobs()?;
            let (temps, orphans) = blobs.cleanup(&referenced.blobs)?;
            if temps + orphans > 0 {
                log::info!("removed {temps} unfinished uploads and {orphans} unreferenced blobs");
            }
            let trimmed = blobs.trim_to_committed(&referenced.appendable)?;
            if trimmed > 0 {
                log::info!("cut {trimmed} appendable blobs back to their committed length");
            }
            for name in &buckets {
                if !is_valid_bucket_name(name) {
                    return Err(ApiError::invalid_argument(format!("invalid bucket name {name:?}")));
                }
                index.create_bucket(name, &BucketRecord { created_ms: now_ms() })?;
            }
            let names = index.buckets()?.into_iter().map(|(n, _)| n).collect();
            Ok(Store {
                index,
                blobs,
                bucket_names: RwLock::new(names),
                key_locks: (0..KEY_LOCK_STRIPES).map(|_| Arc::new(Mutex::new(()))).collect(),
                pins: Arc::default(),
                body_io,
            })
        })
        .await??;
        Ok(Arc::new(store))
    }

    /// Whether bucket `name` exists (from memory).
    pub fn bucket_exists(&self, name: &str) -> bool {
        self.bucket_names.read().map(|s| s.contains(name)).unwrap_or(false)
    }

    /// NoSuchBucket unless `name` exists.
    pub fn require_bucket(&self, name: &str) -> ApiResult<()> {
        if self.bucket_exists(name) {
            Ok(())
        } else {
            Err(ApiError::no_such_bucket())
        }
    }

    /// Remember that bucket `name` exists or not.
    pub fn set_bucket_known(&self, name: &str, exists: bool) {
        if let Ok(mut names) = self.bucket_names.write() {
            if exists {
                names.insert(name.to_string());
            } else {
                names.remove(name);
            }
        }
    }

    /// Run blocking work on the store off the async threads.
    pub async fn run<T, F>(self: &Arc<Self>, work: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> ApiResult<T> + Send + 'static,
    {
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || work(&me)).await?
    }

    /// Remove blobs in the background (after the index no longer refers to them); blobs
    /// pinned by readers go when the last of those readers is done.
    pub fn remove_blobs_later(self: &Arc<Self>, ids: Vec<String>) {
        let ids: Vec<String> = match self.pins.lock() {
            Ok(mut pins) => {
                let (pinned, free): (Vec<String>, Vec<String>) =
                    ids.into_iter().partition(|id| pins.readers.contains_key(id));
                pins.deferred.extend(pinned);
                free
            }
            Err(_) => ids,
        };
        if ids.is_empty() {
            return;
        }
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.blobs.remove(&ids));
    }

    /// Pin blobs for a reader. The caller must then check that the index still refers to
    /// them (a removal decided before the pin is not held back).
    pub fn pin<'a>(&self, ids: impl IntoIterator<Item = &'a str>) -> BlobPin {
        let ids: Vec<String> = ids.into_iter().map(str::to_string).collect();
        if let Ok(mut pins) = self.pins.lock() {
            for id in &ids {
                *pins.readers.entry(id.clone()).or_insert(0) += 1;
            }
        }
        BlobPin {
            ids,
            pins: Arc::clone(&self.pins),
            blobs: self.blobs.clone(),
        }
    }

    /// Serialise writers of one key (appends write in place).
    pub async fn lock_key(&self, bucket: &str, key: &str) -> OwnedMutexGuard<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (bucket, key).hash(&mut h);
        let stripe = (h.finish() as usize) % KEY_LOCK_STRIPES;
        Arc::clone(&self.key_locks[stripe]).lock_owned().await
    }
}
