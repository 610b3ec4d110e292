//! Durable storage of the local server: the redb [`index::Index`] of buckets, objects,
//! uploads and parts, and the [`blobs::BlobStore`] of content files. A write lands as
//! temp file → fsync → rename into `blobs/` → fsync dir → index commit, so a crash at any
//! moment leaves either the old or the new object; orphans are removed at startup.

pub mod blobs;
pub mod index;
pub mod md5_state;
pub mod records;

use crate::bos::types::is_valid_bucket_name;
use crate::server::error::{ApiError, ApiResult};
use blobs::BlobStore;
use index::Index;
use records::{now_ms, BucketRecord};
use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
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
}

impl Store {
    /// Open (or create) the store in `root`, remove crash leftovers, and create `buckets`.
    pub async fn open(root: PathBuf, buckets: Vec<String>) -> ApiResult<Arc<Store>> {
        let store = tokio::task::spawn_blocking(move || -> ApiResult<Store> {
            std::fs::create_dir_all(&root)?;
            let blobs = BlobStore::open(&root)?;
            let index = Index::open(&root.join("index.redb"))?;
            let referenced = index.referenced_blobs()?;
            let (temps, orphans) = blobs.cleanup(&referenced)?;
            if temps + orphans > 0 {
                log::info!("removed {temps} unfinished uploads and {orphans} unreferenced blobs");
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

    /// Remove blobs in the background (after the index no longer refers to them).
    pub fn remove_blobs_later(self: &Arc<Self>, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        let me = Arc::clone(self);
        tokio::task::spawn_blocking(move || me.blobs.remove(&ids));
    }

    /// Serialise writers of one key (appends write in place).
    pub async fn lock_key(&self, bucket: &str, key: &str) -> OwnedMutexGuard<()> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (bucket, key).hash(&mut h);
        let stripe = (h.finish() as usize) % KEY_LOCK_STRIPES;
        Arc::clone(&self.key_locks[stripe]).lock_owned().await
    }
}
