//! The one place where the model test and the focused regression tests call into
//! `bosmount::fs::BosFs`: a [`Mount`] is one mount lifetime (its own paused-clock tokio
//! runtime plus one `BosFs` over a shared `InMemoryBos`), with blocking wrappers for every
//! filesystem call and the kernel's part of open(2) and close(2). When the filesystem's API
//! is renamed, only this file changes.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bosmount::bos::memory::InMemoryBos;
use bosmount::fs::write::WriteConfig;
use bosmount::fs::{BosFs, DirReplier, FsAttr, FsConfig, FsResult, InodeNo, ReaddirEntry, SetAttr};

/// Bucket every test mounts.
pub const BUCKET: &str = "model";

/// How a mount is configured.
#[derive(Debug, Clone, Copy)]
pub struct MountOptions {
    /// Metadata TTL of the mount (zero: the bucket is asked every time).
    pub metadata_ttl: Duration,
    /// Multipart part size (the bucket's minimum part size is set to the same).
    pub part_size: usize,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            metadata_ttl: Duration::from_secs(1),
            part_size: 8 * 1024,
        }
    }
}

/// A bucket as another client sees it, shared by every mount lifetime of one test.
pub fn new_bucket(options: &MountOptions) -> Arc<InMemoryBos> {
    Arc::new(InMemoryBos::with_bucket(BUCKET).with_min_part_size(options.part_size as u64))
}

/// The error number of a result (0 for `Ok`).
pub fn errno_of<T>(result: &FsResult<T>) -> i32 {
    match result {
        Ok(_) => 0,
        Err(e) => e.errno(),
    }
}

/// One mount lifetime: a fresh `BosFs` with its background tasks on a paused-clock runtime.
pub struct Mount {
    runtime: tokio::runtime::Runtime,
    fs: Arc<BosFs>,
    /// The bucket behind the mount.
    pub bos: Arc<InMemoryBos>,
}

/// Collects every entry handed over.
struct CollectAll(Vec<ReaddirEntry>);

impl DirReplier for CollectAll {
    fn add(&mut self, entry: &ReaddirEntry) -> bool {
        self.0.push(entry.clone());
        false
    }
}

impl Mount {
    /// Mount `bos` with `options`; deferred attribute stores run in the background.
    pub fn start(bos: Arc<InMemoryBos>, options: &MountOptions) -> Mount {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .expect("tokio runtime for a mount");
        let mut config = FsConfig::new(BUCKET, "");
        config.metadata_ttl = options.metadata_ttl;
        config.write = Arc::new(WriteConfig {
            part_size: options.part_size,
            upload_concurrency: 2,
            append_buffer: 64,
            append_flush_interval: Duration::from_secs(1),
        });
        let fs = {
            let _entered = runtime.enter();
            let fs = Arc::new(BosFs::new(bos.clone(), config));
            fs.start_background();
            fs
        };
        Mount { runtime, fs, bos }
    }

    fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Run `future` (e.g. another client's request to the bucket) on this mount's runtime.
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.run(future)
    }

    /// Clean unmount: commit everything (`shutdown`), let background tasks finish, drop.
    /// Returns the number of writers that could not be committed.
    pub fn unmount(self) -> usize {
        let fs = self.fs.clone();
        let failures = self.run(async move {
            let failures = fs.shutdown().await;
            settle().await;
            failures
        });
        self.crash();
        failures
    }

    /// Crash: the runtime (and every background task on it) is dropped without draining,
    /// then the filesystem itself.
    pub fn crash(self) {
        let Mount { runtime, fs, bos: _ } = self;
        drop(runtime);
        drop(fs);
    }

    /// Let the paused clock move on by `by` and run whatever became due.
    pub fn advance(&self, by: Duration) {
        // Sleeping on a paused clock auto-advances it timer by timer, so every task due
        // meanwhile runs in order (an explicit `advance` would skip past them at once).
        self.run(async move {
            tokio::time::sleep(by).await;
            settle().await;
        });
    }

    /// Let ready background tasks run (no time passes beyond a millisecond).
    pub fn settle(&self) {
        self.run(settle());
    }

    /// lookup(2) of `name` in `parent`.
    pub fn lookup(&self, parent: InodeNo, name: &str) -> FsResult<FsAttr> {
        self.run(self.fs.lookup(parent, OsStr::new(name)))
    }

    /// The attributes of `path` ("" is the root), found by lookups from the root.
    pub fn resolve(&self, path: &str) -> FsResult<FsAttr> {
        let mut attr = self.getattr(InodeNo::ROOT)?;
        for name in path.split('/').filter(|c| !c.is_empty()) {
            attr = self.lookup(attr.ino, name)?;
        }
        Ok(attr)
    }

    /// getattr(2) of `ino`.
    pub fn getattr(&self, ino: InodeNo) -> FsResult<FsAttr> {
        self.run(self.fs.getattr(ino))
    }

    /// create() as the kernel sends it for O_CREAT of a missing name.
    pub fn create(&self, parent: InodeNo, name: &str, mode: u32, flags: i32) -> FsResult<(FsAttr, u64)> {
        self.run(self.fs.create(parent, OsStr::new(name), mode, flags))
    }

    /// open() of an existing file.
    pub fn open(&self, ino: InodeNo, flags: i32) -> FsResult<u64> {
        self.run(self.fs.open(ino, flags))
    }

    /// read(2) of up to `size` bytes at `offset`.
    pub fn read(&self, fh: u64, offset: u64, size: u32) -> FsResult<Vec<u8>> {
        self.run(self.fs.read(fh, offset, size)).map(|b| b.to_vec())
    }

    /// Everything readable through `fh`, read in 4 KiB requests like the kernel does.
    pub fn read_all(&self, fh: u64) -> FsResult<Vec<u8>> {
        let mut all = Vec::new();
        loop {
            let chunk = self.read(fh, all.len() as u64, 4096)?;
            if chunk.is_empty() {
                return Ok(all);
            }
            all.extend_from_slice(&chunk);
            if all.len() > 64 * 1024 * 1024 {
                return Ok(all);
            }
        }
    }

    /// write(2) of `data` at `offset`.
    pub fn write(&self, fh: u64, offset: u64, data: &[u8]) -> FsResult<u32> {
        self.run(self.fs.write(fh, offset, data))
    }

    /// flush: what the kernel sends on every close(2) of a descriptor of the handle.
    pub fn flush(&self, fh: u64) -> FsResult<()> {
        self.run(self.fs.flush(fh))
    }

    /// fsync(2).
    pub fn fsync(&self, fh: u64) -> FsResult<()> {
        self.run(self.fs.fsync(fh))
    }

    /// release: the last close of the handle.
    pub fn release(&self, fh: u64) -> FsResult<()> {
        self.run(self.fs.release(fh))
    }

    /// close(2) of the only descriptor of a handle: flush, then release. The flush's
    /// result is what close(2) returns; release's cannot reach anyone.
    pub fn close(&self, fh: u64) -> FsResult<()> {
        let flushed = self.flush(fh);
        let _ = self.release(fh);
        flushed
    }

    /// rename(2) without flags.
    pub fn rename(&self, parent: InodeNo, name: &str, new_parent: InodeNo, new_name: &str) -> FsResult<()> {
        self.run(
            self.fs
                .rename(parent, OsStr::new(name), new_parent, OsStr::new(new_name), 0),
        )
    }

    /// unlink(2).
    pub fn unlink(&self, parent: InodeNo, name: &str) -> FsResult<()> {
        self.run(self.fs.unlink(parent, OsStr::new(name)))
    }

    /// mkdir(2).
    pub fn mkdir(&self, parent: InodeNo, name: &str, mode: u32) -> FsResult<FsAttr> {
        self.run(self.fs.mkdir(parent, OsStr::new(name), mode))
    }

    /// rmdir(2).
    pub fn rmdir(&self, parent: InodeNo, name: &str) -> FsResult<()> {
        self.run(self.fs.rmdir(parent, OsStr::new(name)))
    }

    /// setattr: truncate (with the handle of an ftruncate), chmod, utimes.
    pub fn setattr(&self, ino: InodeNo, fh: Option<u64>, changes: SetAttr) -> FsResult<FsAttr> {
        self.run(self.fs.setattr(ino, fh, changes))
    }

    /// truncate(2) / ftruncate(2).
    pub fn truncate(&self, ino: InodeNo, fh: Option<u64>, size: u64) -> FsResult<FsAttr> {
        self.setattr(
            ino,
            fh,
            SetAttr {
                size: Some(size),
                ..SetAttr::default()
            },
        )
    }

    /// chmod(2) / fchmod(2).
    pub fn chmod(&self, ino: InodeNo, fh: Option<u64>, mode: u32) -> FsResult<FsAttr> {
        self.setattr(
            ino,
            fh,
            SetAttr {
                mode: Some(mode),
                ..SetAttr::default()
            },
        )
    }

    /// utimes(2) setting both times to `time`.
    pub fn utime(&self, ino: InodeNo, time: SystemTime) -> FsResult<FsAttr> {
        self.setattr(
            ino,
            None,
            SetAttr {
                mtime: Some(time),
                atime: Some(time),
                ..SetAttr::default()
            },
        )
    }

    /// setxattr(2) with no flags.
    pub fn setxattr(&self, ino: InodeNo, name: &str, value: &[u8]) -> FsResult<()> {
        self.run(self.fs.setxattr(ino, OsStr::new(name), value, 0))
    }

    /// removexattr(2).
    pub fn removexattr(&self, ino: InodeNo, name: &str) -> FsResult<()> {
        self.run(self.fs.removexattr(ino, OsStr::new(name)))
    }

    /// getxattr(2).
    pub fn getxattr(&self, ino: InodeNo, name: &str) -> FsResult<Vec<u8>> {
        self.run(self.fs.getxattr(ino, OsStr::new(name)))
    }

    /// listxattr(2): the names.
    pub fn listxattr(&self, ino: InodeNo) -> FsResult<Vec<String>> {
        let raw = self.run(self.fs.listxattr(ino))?;
        Ok(raw
            .split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| String::from_utf8_lossy(n).into_owned())
            .collect())
    }

    /// Every entry of directory `ino` but "." and "..", as readdirplus lists them.
    pub fn list(&self, ino: InodeNo) -> FsResult<Vec<ReaddirEntry>> {
        let fh = self.fs.opendir(ino)?;
        let result = self.run(async {
            let mut all: Vec<ReaddirEntry> = Vec::new();
            loop {
                let offset = all.last().map_or(0, |e| e.offset);
                let mut batch = CollectAll(Vec::new());
                self.fs.readdir(fh, offset, true, &mut batch).await?;
                if batch.0.is_empty() {
                    return Ok(all);
                }
                all.extend(batch.0);
            }
        });
        self.fs.releasedir(fh);
        result.map(|mut all: Vec<ReaddirEntry>| {
            all.retain(|e| e.name != "." && e.name != "..");
            all
        })
    }
}

/// Run every task that is ready, on a paused clock: sleeping lets the runtime go idle, and
/// it only auto-advances once nothing else can run.
async fn settle() {
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
