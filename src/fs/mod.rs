//! Filesystem logic over the BOS API: inodes, metadata caches, directories, and the
//! per-handle write and read pipelines. Knows nothing of fuser; the [`crate::fuse`] module
//! translates kernel requests onto [`BosFs`], whose async methods return plain structs
//! ([`FsAttr`], [`StatFs`], handle numbers, bytes) or an [`FsError`] carrying the errno.
//!
//! Namespace model (flat buckets, bos-protocol.md §10): the mount root is a key prefix;
//! a file is an object; a directory is a "dir/" marker object or any key below "dir/";
//! a key and a prefix with the same name show as the directory. Lookups send a HeadObject
//! and a one-key ListObjects together; listings use '/' as delimiter and their sizes and
//! times become cached attributes, so `ls -l` costs one LIST per 1000 entries.
//!
//! Attributes (mode, owner, times), symlink targets and `user.*` extended attributes live in
//! each object's user metadata ([`meta_codec`]); listings learn them from a per-directory
//! index the mount maintains ([`attr_index`]), validated entry by entry against the listed
//! ETags, with concurrent HEADs for entries it does not vouch for.
//!
//! Module map: [`lookup`](self) (stat of names), `dir` (readdir), `mutate` (mkdir, rmdir,
//! unlink, setattr), `persist` (storing attribute changes), `xattr`, `symlink`, `rename`
//! (+ `stream_copy` when the server refuses a copy), `io` (open/create/read/write/flush/
//! release), `handles` (open files and the one shared writer per inode), `background`
//! (tracked tasks awaited at shutdown), `special` (mknod: fifos, devices, sockets), `access`
//! (owner of new nodes, chown and chmod rules), `times` (change times this mount knows),
//! `status` (the `user.bosmount.status` attribute).

pub mod access;
pub mod attr;
pub mod attr_index;
pub mod background;
mod describe;
mod dir;
pub mod error;
mod handles;
pub mod inode;
mod io;
mod lookup;
pub mod meta_cache;
pub mod meta_codec;
mod mutate;
pub mod names;
mod persist;
pub mod read;
mod rename;
pub mod special;
pub mod status;
mod stream_copy;
mod symlink;
pub mod times;
pub mod write;
mod xattr;

use std::collections::HashMap;
use std::ffi::OsStr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use crate::bos::{BosApi, StorageClass};

pub use access::Caller;
pub use attr::{AttrDefaults, FsAttr, NodeKind, ObjectAttr, Perms, Special, SpecialKind};
pub use dir::{DirReplier, ReaddirEntry};
pub use error::{FsError, FsResult};
pub use inode::InodeNo;
pub use mutate::SetAttr;

use dir::DirHandle;
use handles::HandleTable;
use inode::{Inode, InodeTable};
use meta_cache::MetaCache;

/// Settings of one mount.
#[derive(Debug, Clone)]
pub struct FsConfig {
    /// Bucket name.
    pub bucket: String,
    /// Key prefix the root stands for: "" or ending in '/'.
    pub prefix: String,
    /// Owner, group and modes.
    pub defaults: AttrDefaults,
    /// How long metadata (ours and the kernel's) is trusted.
    pub metadata_ttl: Duration,
    /// Most paths the metadata cache holds.
    pub cache_capacity: usize,
    /// Refuse every change with EROFS.
    pub read_only: bool,
    /// Storage class of new objects.
    pub storage_class: Option<StorageClass>,
    /// Keys copied at once when renaming a directory.
    pub rename_concurrency: usize,
    /// Write pipeline settings.
    pub write: Arc<write::WriteConfig>,
    /// Read pipeline settings.
    pub read: Arc<read::ReadConfig>,
    /// Attempts per BOS request (`--max-attempts`), applied by whoever builds the client.
    pub max_attempts: u32,
}

impl FsConfig {
    /// Settings for `bucket`/`prefix` with defaults everywhere else.
    pub fn new(bucket: impl Into<String>, prefix: impl Into<String>) -> Self {
        let mut prefix: String = prefix.into();
        let trimmed = prefix.trim_matches('/').to_string();
        prefix = if trimmed.is_empty() {
            String::new()
        } else {
            format!("{trimmed}/")
        };
        FsConfig {
            bucket: bucket.into(),
            prefix,
            defaults: AttrDefaults {
                uid: 0,
                gid: 0,
                file_mode: 0o644,
                dir_mode: 0o755,
            },
            metadata_ttl: Duration::from_secs(1),
            cache_capacity: 100_000,
            read_only: false,
            storage_class: None,
            rename_concurrency: 16,
            write: Arc::new(write::WriteConfig::default()),
            read: Arc::new(read::ReadConfig::default()),
            max_attempts: 10,
        }
    }
}

/// Numbers `statfs` reports: a bucket has no fixed size, so they are large and constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatFs {
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub bfree: u64,
    /// Blocks available to unprivileged users.
    pub bavail: u64,
    /// Total inodes.
    pub files: u64,
    /// Free inodes.
    pub ffree: u64,
    /// Block size.
    pub bsize: u32,
    /// Longest name.
    pub namelen: u32,
    /// Fragment size.
    pub frsize: u32,
}

/// The filesystem: every operation the FUSE adapter needs, as async methods.
#[derive(Debug)]
pub struct BosFs {
    api: Arc<dyn BosApi>,
    config: FsConfig,
    inodes: Mutex<InodeTable>,
    cache: Mutex<MetaCache>,
    handles: HandleTable,
    dirs: Mutex<HashMap<u64, Arc<DirHandle>>>,
    next_dir_handle: Mutex<u64>,
    mount_time: SystemTime,
    /// Per-directory attribute indexes (see `attr_index`).
    indexes: attr_index::AttrIndexes,
    /// The server refused CopyObject of an Appendable object once (see `stream_copy`).
    copy_refused: std::sync::atomic::AtomicBool,
    /// This filesystem, for background tasks (set by [`BosFs::start_background`]).
    me: std::sync::OnceLock<std::sync::Weak<BosFs>>,
    /// Tracked background tasks: deferred attribute stores and index writes.
    background: background::Background,
    /// Background stores of deferred attribute changes hold it shared (many at once), renames
    /// exclusively: a rename never copies an object whose deferred changes are being stored.
    deferred_io: tokio::sync::RwLock<()>,
    /// What became of the last upload of files closed since the mount started (`status`).
    outcomes: status::OutcomeLog,
}

impl BosFs {
    /// A filesystem over `api` with `config`.
    pub fn new(api: Arc<dyn BosApi>, config: FsConfig) -> Self {
        let background = background::Background::default();
        BosFs {
            inodes: Mutex::new(InodeTable::new(&config.prefix)),
            cache: Mutex::new(MetaCache::new(config.cache_capacity, config.metadata_ttl)),
            handles: HandleTable::default(),
            dirs: Mutex::new(HashMap::new()),
            next_dir_handle: Mutex::new(1),
            mount_time: SystemTime::now(),
            copy_refused: std::sync::atomic::AtomicBool::new(false),
            me: std::sync::OnceLock::new(),
            deferred_io: tokio::sync::RwLock::new(()),
            outcomes: status::OutcomeLog::default(),
            indexes: attr_index::AttrIndexes::new(api.clone(), config.bucket.clone(), background.clone()),
            background,
            api,
            config,
        }
    }

    /// The mount's settings.
    pub fn config(&self) -> &FsConfig {
        &self.config
    }

    /// How long the kernel may trust entries and attributes we return.
    pub fn ttl(&self) -> Duration {
        self.config.metadata_ttl
    }

    /// Constant, large numbers for `statfs`.
    pub fn statfs(&self) -> StatFs {
        StatFs {
            blocks: 1 << 40,
            bfree: 1 << 40,
            bavail: 1 << 40,
            files: 1 << 32,
            ffree: 1 << 32,
            bsize: 4096,
            namelen: names::MAX_NAME_LENGTH as u32,
            frsize: 4096,
        }
    }

    /// The kernel dropped `n` references to `ino`.
    pub fn forget(&self, ino: InodeNo, n: u64) {
        self.inodes().forget(ino, n);
    }

    fn inodes(&self) -> MutexGuard<'_, InodeTable> {
        self.inodes.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cache(&self) -> MutexGuard<'_, MetaCache> {
        self.cache.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn node(&self, ino: InodeNo) -> FsResult<Inode> {
        self.inodes().get(ino).ok_or(FsError::StaleInode(ino.0))
    }

    fn dir_node(&self, ino: InodeNo) -> FsResult<Inode> {
        let node = self.node(ino)?;
        if node.kind != NodeKind::Directory {
            return Err(FsError::NotDirectory);
        }
        Ok(node)
    }

    fn check_writable(&self) -> FsResult<()> {
        if self.config.read_only {
            return Err(FsError::ReadOnly);
        }
        Ok(())
    }

    /// For creating `name` (a `kind`) in directory `parent`: the name as text and the new
    /// object key, once the mount is writable, the name valid and not reserved, and the key
    /// acceptable to BOS.
    fn new_entry_key<'n>(&self, parent: InodeNo, name: &'n OsStr, kind: NodeKind) -> FsResult<(&'n str, String)> {
        self.check_writable()?;
        let name = names::component(name)?;
        let parent_node = self.dir_node(parent)?;
        let key = inode::child_key(&parent_node.key, name, kind);
        names::check_new_key(&key)?;
        names::check_not_reserved(name)?;
        Ok((name, key))
    }

    /// The attributes of `node` given what the bucket says (`attr`), with the mount
    /// defaults, in-memory overrides, and the size of a file we are writing.
    fn finish_attr(&self, node: &Inode, attr: &ObjectAttr) -> FsAttr {
        let mut attr = attr.clone();
        if let Some(local) = node.local {
            attr.size = local.size;
            attr.mtime = local.mtime;
        }
        let mut built = FsAttr::build(node.ino, &attr, node.perms, &self.config.defaults);
        let explicit_mtime = attr.perms.mtime.is_some() || node.perms.mtime.is_some();
        times::apply(node, &mut built, explicit_mtime);
        if node.live_key().is_none() {
            // Unlinked (or replaced) while open: no name links to it any more.
            built.nlink = 0;
        }
        built
    }

    /// Record in the directory's attribute index that the file at `key` is `attr`.
    fn index_note(&self, key: &str, attr: &ObjectAttr) {
        self.indexes.note(key, attr);
    }

    /// Record in the directory's attribute index that the file at `key` is gone.
    fn index_forget(&self, key: &str) {
        self.indexes.forget(key);
    }

    /// Register `name` in `parent` as `attr.kind`, count a kernel reference, and return its attributes.
    fn remember_entry(&self, parent: InodeNo, name: &str, attr: &ObjectAttr) -> FsResult<FsAttr> {
        let mut inodes = self.inodes();
        let ino = inodes
            .upsert(parent, name, attr.kind)
            .ok_or(FsError::StaleInode(parent.0))?;
        inodes.add_lookup(ino);
        let node = inodes.get(ino).ok_or(FsError::StaleInode(ino.0))?;
        Ok(self.finish_attr(&node, attr))
    }
}

/// The cache path of a key: the key without a trailing '/'.
fn path_of(key: &str) -> &str {
    key.strip_suffix('/').unwrap_or(key)
}

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod posix_tests;
#[cfg(test)]
mod tests;
