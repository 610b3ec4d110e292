//! The only module that speaks fuser: [`FuseAdapter`] implements `fuser::Filesystem` as a
//! thin translator onto [`BosFs`].
//!
//! Every callback copies its arguments, spawns a task on the tokio runtime and replies from
//! that task, so the FUSE request loop never waits on the network. write, flush, fsync and
//! release of one file handle must keep their arrival order (a flush must see every write
//! before it): those go through a per-handle queue drained by one task (`ordered`).
//! Errors become errno through [`crate::fs::FsError::errno`], the one table.

pub mod args;
pub mod attr;
mod ordered;
pub mod session;

use std::ffi::OsStr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    Errno, FileHandle, FopenFlags, Generation, INodeNo, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr,
    ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};

use crate::fs::{self as bfs, BosFs, DirReplier, FsError, ReaddirEntry, SetAttr};

pub use args::MountArgs;
use attr::{attr_type, file_attr};
use ordered::HandleQueues;

/// Largest write the kernel may send in one request. fuser derives `max_pages` from it, which
/// is also the largest read (256 pages, the kernel's limit).
const MAX_WRITE: u32 = 1024 * 1024;
/// Largest read-ahead asked for; the kernel grants at most what it offers at init (its
/// current read-ahead, 128 KiB on a new mount), which the session raises afterwards through
/// sysfs (see `session::raise_kernel_read_ahead`).
const MAX_READAHEAD: u32 = 1024 * 1024;

/// `fuser::Filesystem` over a [`BosFs`], replying from tasks on a tokio runtime.
#[derive(Debug)]
pub struct FuseAdapter {
    fs: Arc<BosFs>,
    runtime: tokio::runtime::Handle,
    queues: Arc<HandleQueues>,
    tasks: tokio_util::task::TaskTracker,
    /// The kernel keeps the page cache coherent around direct I/O (and allows mmap of it):
    /// only then are `O_APPEND` write handles direct (see [`open_reply_flags`]).
    direct_appends: bool,
}

impl FuseAdapter {
    /// An adapter running `fs`'s operations on `runtime`.
    pub fn new(fs: Arc<BosFs>, runtime: tokio::runtime::Handle) -> Self {
        let tasks = tokio_util::task::TaskTracker::new();
        let queues = Arc::new(HandleQueues::new(runtime.clone(), tasks.clone()));
        FuseAdapter {
            fs,
            runtime,
            queues,
            tasks,
            direct_appends: false,
        }
    }

    /// Every task answering a request: the session's end awaits them before the filesystem
    /// stops, so no release or rename is cut short.
    pub fn tasks(&self) -> tokio_util::task::TaskTracker {
        self.tasks.clone()
    }

    fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.spawn_on(task, &self.runtime);
    }
}

fn ino(n: INodeNo) -> bfs::InodeNo {
    bfs::InodeNo(n.0)
}

/// The process a request comes from.
fn caller(req: &Request) -> bfs::Caller {
    bfs::Caller {
        uid: req.uid(),
        gid: req.gid(),
        pid: req.pid(),
    }
}

/// What a request was about, named (path under the mount and key) in its log line.
#[derive(Clone, Copy)]
enum About<'a> {
    /// An inode.
    Node(INodeNo),
    /// Entry `name` of a directory.
    Entry(INodeNo, &'a OsStr),
    /// A rename from one entry to another.
    Move(INodeNo, &'a OsStr, INodeNo, &'a OsStr),
}

impl About<'_> {
    fn describe(self, fs: &BosFs) -> String {
        match self {
            About::Node(n) => fs.describe(ino(n)),
            About::Entry(parent, name) => fs.describe_entry(ino(parent), name),
            About::Move(from, name, to, new_name) => format!(
                "{} to {}",
                fs.describe_entry(ino(from), name),
                fs.describe_entry(ino(to), new_name)
            ),
        }
    }
}

/// The errno of `error`, logged at a level fitting it with the operation and the file (the
/// error's text carries the BOS request id when BOS answered).
fn errno(fs: &BosFs, error: &FsError, op: &str, about: About<'_>) -> Errno {
    let level = if error.is_expected() {
        log::Level::Debug
    } else {
        log::Level::Warn
    };
    if log::log_enabled!(level) {
        log::log!(level, "{op} of {} failed: {error}", about.describe(fs));
    }
    Errno::from_i32(error.errno())
}

fn time(t: TimeOrNow) -> SystemTime {
    match t {
        TimeOrNow::SpecificTime(t) => t,
        TimeOrNow::Now => SystemTime::now(),
    }
}

struct PlainDir<'a>(&'a mut ReplyDirectory);

impl DirReplier for PlainDir<'_> {
    fn add(&mut self, e: &ReaddirEntry) -> bool {
        self.0.add(INodeNo(e.ino.0), e.offset, attr_type(&e.attr), &e.name)
    }
}

struct PlusDir<'a>(&'a mut ReplyDirectoryPlus, Duration);

impl DirReplier for PlusDir<'_> {
    fn add(&mut self, e: &ReaddirEntry) -> bool {
        let attr = file_attr(&e.attr);
        self.0
            .add(INodeNo(e.ino.0), e.offset, &e.name, &self.1, &attr, Generation(0))
    }
}

/// An extended attribute answer: its size when the caller asks (`size` 0), else the bytes,
/// or ERANGE when they do not fit.
fn reply_xattr(fs: &BosFs, n: INodeNo, reply: fuser::ReplyXattr, data: &[u8], size: u32) {
    if size == 0 {
        reply.size(data.len() as u32);
    } else if data.len() > size as usize {
        reply.error(errno(fs, &FsError::BufferTooSmall, "xattr", About::Node(n)));
    } else {
        reply.data(data);
    }
}

/// How the kernel treats a new handle. An `O_APPEND` write handle is direct I/O: through the
/// page cache the kernel splits a `write()` that crosses into a page it holds no copy of into
/// two requests, and the append pipeline could send the halves in two AppendObject calls with
/// another writer's line between them. Direct, a `write()` of up to `max_write` bytes arrives
/// whole, so a logger's line lands whole. Only when the kernel granted
/// `FUSE_DIRECT_IO_ALLOW_MMAP` (Linux 6.6 and later, `direct_appends`): older kernels neither
/// map direct handles nor drop cached pages a direct write changed, so a `tail -f` of the
/// file on this mount could read stale bytes — there the page cache stays.
fn open_reply_flags(flags: i32, direct_appends: bool) -> FopenFlags {
    let writes = flags & libc::O_ACCMODE != libc::O_RDONLY;
    if direct_appends && writes && flags & libc::O_APPEND != 0 {
        FopenFlags::FOPEN_DIRECT_IO
    } else {
        FopenFlags::empty()
    }
}

fn reply_empty(fs: &BosFs, reply: ReplyEmpty, result: Result<(), FsError>, op: &str, about: About<'_>) {
    match result {
        Ok(()) => reply.ok(),
        Err(e) => reply.error(errno(fs, &e, op, about)),
    }
}

impl fuser::Filesystem for FuseAdapter {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        use fuser::InitFlags;
        for flag in [
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_ATOMIC_O_TRUNC,
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_BIG_WRITES,
            InitFlags::FUSE_MAX_PAGES,
            // mmap of a direct-I/O (O_APPEND) descriptor, and page-cache coherence around its
            // writes for the other descriptors of the file.
            InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP,
        ] {
            match config.add_capabilities(flag) {
                Ok(()) if flag == InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP => {
                    self.direct_appends = true;
                }
                Ok(()) => {}
                Err(_) => log::debug!("kernel does not offer {flag:?}"),
            }
        }
        let _ = config.set_max_write(MAX_WRITE);
        if let Err(offered) = config.set_max_readahead(MAX_READAHEAD) {
            let _ = config.set_max_readahead(offered);
        }
        let _ = config.set_max_background(64);
        Ok(())
    }

    fn destroy(&mut self) {
        log::info!("filesystem unmounted");
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        let (fs, name) = (self.fs.clone(), name.to_owned());
        self.spawn(async move {
            match fs.lookup(ino(parent), &name).await {
                Ok(attr) => reply.entry(&fs.ttl(), &file_attr(&attr), Generation(0)),
                Err(e) => reply.error(errno(&fs, &e, "lookup", About::Entry(parent, &name))),
            }
        });
    }

    fn forget(&self, _req: &Request, n: INodeNo, nlookup: u64) {
        self.fs.forget(ino(n), nlookup);
    }

    fn getattr(&self, _req: &Request, n: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.getattr(ino(n)).await {
                Ok(attr) => reply.attr(&fs.ttl(), &file_attr(&attr)),
                Err(e) => reply.error(errno(&fs, &e, "getattr", About::Node(n))),
            }
        });
    }

    fn setattr(
        &self,
        req: &Request,
        n: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let (fs, caller) = (self.fs.clone(), caller(req));
        let changes = SetAttr {
            mode,
            uid,
            gid,
            size,
            atime: atime.map(time),
            mtime: mtime.map(time),
        };
        let task = async move {
            match fs.setattr_as(&caller, ino(n), fh.map(|f| f.0), changes).await {
                Ok(attr) => reply.attr(&fs.ttl(), &file_attr(&attr)),
                Err(e) => reply.error(errno(&fs, &e, "setattr", About::Node(n))),
            }
        };
        match fh {
            // ftruncate must come after the writes queued before it on that handle.
            Some(fh) if size.is_some() => self.queues.submit(fh.0, task),
            _ => self.spawn(task),
        }
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        let (fs, name, caller) = (self.fs.clone(), name.to_owned(), caller(req));
        self.spawn(async move {
            match fs.mkdir_as(ino(parent), &name, mode & !umask, Some(&caller)).await {
                Ok(attr) => reply.entry(&fs.ttl(), &file_attr(&attr), Generation(0)),
                Err(e) => reply.error(errno(&fs, &e, "mkdir", About::Entry(parent, &name))),
            }
        });
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        let (fs, name, caller) = (self.fs.clone(), name.to_owned(), caller(req));
        self.spawn(async move {
            let mode = mode & !(umask & 0o7777);
            match fs.mknod(ino(parent), &name, mode, rdev, Some(&caller)).await {
                Ok(attr) => reply.entry(&fs.ttl(), &file_attr(&attr), Generation(0)),
                Err(e) => reply.error(errno(&fs, &e, "mknod", About::Entry(parent, &name))),
            }
        });
    }

    fn link(&self, _req: &Request, _n: INodeNo, new_parent: INodeNo, new_name: &OsStr, reply: ReplyEntry) {
        let about = About::Entry(new_parent, new_name);
        reply.error(errno(&self.fs, &bfs::special::hard_link(), "link", about));
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let (fs, name) = (self.fs.clone(), name.to_owned());
        self.spawn(async move {
            reply_empty(
                &fs,
                reply,
                fs.unlink(ino(parent), &name).await,
                "unlink",
                About::Entry(parent, &name),
            )
        });
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let (fs, name) = (self.fs.clone(), name.to_owned());
        self.spawn(async move {
            reply_empty(
                &fs,
                reply,
                fs.rmdir(ino(parent), &name).await,
                "rmdir",
                About::Entry(parent, &name),
            )
        });
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        new_parent: INodeNo,
        new_name: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        let (fs, name, new_name) = (self.fs.clone(), name.to_owned(), new_name.to_owned());
        self.spawn(async move {
            let result = fs
                .rename(ino(parent), &name, ino(new_parent), &new_name, flags.bits())
                .await;
            let about = About::Move(parent, &name, new_parent, &new_name);
            reply_empty(&fs, reply, result, "rename", about)
        });
    }

    fn open(&self, _req: &Request, n: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let (fs, queues) = (self.fs.clone(), self.queues.clone());
        let direct_appends = self.direct_appends;
        self.spawn(async move {
            match fs.open(ino(n), flags.0).await {
                Ok(fh) => {
                    queues.open(fh);
                    reply.opened(FileHandle(fh), open_reply_flags(flags.0, direct_appends));
                }
                Err(e) => reply.error(errno(&fs, &e, "open", About::Node(n))),
            }
        });
    }

    fn read(
        &self,
        _req: &Request,
        n: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.read(fh.0, offset, size).await {
                Ok(bytes) => reply.data(&bytes),
                Err(e) => reply.error(errno(&fs, &e, "read", About::Node(n))),
            }
        });
    }

    fn write(
        &self,
        _req: &Request,
        n: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let (fs, data) = (self.fs.clone(), data.to_vec());
        let from_page_cache = write_flags.contains(WriteFlags::FUSE_WRITE_CACHE);
        self.queues.submit(fh.0, async move {
            let written = if from_page_cache {
                fs.write_from_page_cache(fh.0, offset, &data).await
            } else {
                fs.write(fh.0, offset, &data).await
            };
            match written {
                Ok(n) => reply.written(n),
                Err(e) => reply.error(errno(&fs, &e, "write", About::Node(n))),
            }
        });
    }

    fn flush(&self, _req: &Request, n: INodeNo, fh: FileHandle, _lock_owner: LockOwner, reply: ReplyEmpty) {
        let fs = self.fs.clone();
        self.queues.submit(fh.0, async move {
            reply_empty(&fs, reply, fs.flush(fh.0).await, "flush", About::Node(n))
        });
    }

    fn release(
        &self,
        _req: &Request,
        n: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let fs = self.fs.clone();
        self.queues.submit(fh.0, async move {
            reply_empty(&fs, reply, fs.release(fh.0).await, "release", About::Node(n))
        });
        self.queues.close(fh.0);
    }

    fn fsync(&self, _req: &Request, n: INodeNo, fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        let fs = self.fs.clone();
        self.queues.submit(fh.0, async move {
            reply_empty(&fs, reply, fs.fsync(fh.0).await, "fsync", About::Node(n))
        });
    }

    fn opendir(&self, _req: &Request, n: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        match self.fs.opendir(ino(n)) {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(e) => reply.error(errno(&self.fs, &e, "opendir", About::Node(n))),
        }
    }

    fn readdir(&self, _req: &Request, n: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        let fs = self.fs.clone();
        self.spawn(async move {
            let result = fs.readdir(fh.0, offset, false, &mut PlainDir(&mut reply)).await;
            match result {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&fs, &e, "readdir", About::Node(n))),
            }
        });
    }

    fn readdirplus(&self, _req: &Request, n: INodeNo, fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        let fs = self.fs.clone();
        self.spawn(async move {
            let ttl = fs.ttl();
            let result = fs.readdir(fh.0, offset, true, &mut PlusDir(&mut reply, ttl)).await;
            match result {
                Ok(()) => reply.ok(),
                Err(e) => reply.error(errno(&fs, &e, "readdirplus", About::Node(n))),
            }
        });
    }

    fn releasedir(&self, _req: &Request, _n: INodeNo, fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        self.fs.releasedir(fh.0);
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, _n: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        reply.ok();
    }

    fn getxattr(&self, _req: &Request, n: INodeNo, name: &OsStr, size: u32, reply: fuser::ReplyXattr) {
        let (fs, name) = (self.fs.clone(), name.to_owned());
        self.spawn(async move {
            match fs.getxattr(ino(n), &name).await {
                Ok(value) if size == 0 => {
                    reply.size(crate::fs::status::announced_size(&name, value.len()) as u32);
                }
                Ok(value) => reply_xattr(&fs, n, reply, &value, size),
                Err(e) => reply.error(errno(&fs, &e, "getxattr", About::Node(n))),
            }
        });
    }

    fn listxattr(&self, _req: &Request, n: INodeNo, size: u32, reply: fuser::ReplyXattr) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.listxattr(ino(n)).await {
                Ok(names) => reply_xattr(&fs, n, reply, &names, size),
                Err(e) => reply.error(errno(&fs, &e, "listxattr", About::Node(n))),
            }
        });
    }

    fn setxattr(
        &self,
        _req: &Request,
        n: INodeNo,
        name: &OsStr,
        value: &[u8],
        flags: i32,
        _position: u32,
        reply: ReplyEmpty,
    ) {
        let (fs, name, value) = (self.fs.clone(), name.to_owned(), value.to_vec());
        self.spawn(async move {
            let result = fs.setxattr(ino(n), &name, &value, flags).await;
            reply_empty(&fs, reply, result, "setxattr", About::Node(n))
        });
    }

    fn removexattr(&self, _req: &Request, n: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        let (fs, name) = (self.fs.clone(), name.to_owned());
        self.spawn(async move {
            let result = fs.removexattr(ino(n), &name).await;
            reply_empty(&fs, reply, result, "removexattr", About::Node(n))
        });
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        let (fs, name, target) = (self.fs.clone(), link_name.to_owned(), target.as_os_str().to_owned());
        let caller = caller(req);
        self.spawn(async move {
            match fs.symlink_as(ino(parent), &name, &target, Some(&caller)).await {
                Ok(attr) => reply.entry(&fs.ttl(), &file_attr(&attr), Generation(0)),
                Err(e) => reply.error(errno(&fs, &e, "symlink", About::Entry(parent, &name))),
            }
        });
    }

    fn readlink(&self, _req: &Request, n: INodeNo, reply: ReplyData) {
        let fs = self.fs.clone();
        self.spawn(async move {
            match fs.readlink(ino(n)).await {
                Ok(target) => reply.data(&target),
                Err(e) => reply.error(errno(&fs, &e, "readlink", About::Node(n))),
            }
        });
    }

    fn statfs(&self, _req: &Request, _n: INodeNo, reply: ReplyStatfs) {
        let s = self.fs.statfs();
        reply.statfs(
            s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.bsize, s.namelen, s.frsize,
        );
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        let (fs, queues, name) = (self.fs.clone(), self.queues.clone(), name.to_owned());
        let (caller, direct_appends) = (caller(req), self.direct_appends);
        self.spawn(async move {
            match fs
                .create_as(ino(parent), &name, mode & !umask, flags, Some(&caller))
                .await
            {
                Ok((attr, fh)) => {
                    queues.open(fh);
                    reply.created(
                        &fs.ttl(),
                        &file_attr(&attr),
                        Generation(0),
                        FileHandle(fh),
                        open_reply_flags(flags, direct_appends),
                    );
                }
                Err(e) => reply.error(errno(&fs, &e, "create", About::Entry(parent, &name))),
            }
        });
    }
}
