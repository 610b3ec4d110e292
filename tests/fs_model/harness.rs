//! Runs one case: each step goes to the mount (through [`crate::adapter`]) and to the
//! reference model ([`crate::model`]), and after every step the mount's POSIX view, the
//! bucket and, after a remount or crash, a fresh mount's view are compared with the model.
//!
//! The allowances the contract makes are here, each with its comment: `EINVAL` for a write
//! or truncate below a multipart part that may already be uploaded, the prefixes an append
//! handle may send early, a rename of an open file storing its current content under the
//! new name, unsynced attribute changes after a crash, and the outcomes of a step that met an
//! injected fault.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bosmount::bos::memory::{Fault, InMemoryBos};
use bosmount::bos::types::Operation;
use bosmount::bos::{BosApi, BosError, PutOptions};
use bosmount::fs::{FsAttr, InodeNo, NodeKind};

use crate::adapter::{errno_of, new_bucket, Mount, MountOptions, BUCKET};
use crate::model::{name_of, parent_of, Durable, DurableDir, Fd, File, FileId, Model, Node, Stored, DEFAULT_FILE_MODE};
use crate::ops::{Case, FaultKind, FaultOp, FdRef, Op, OpenFlags, PathRef, Target, WriteAt, WriteLen};

/// Seconds since the epoch of 2020-01-01, the base of utime's times.
const UTIME_BASE: u64 = 1_577_836_800;

/// The suffix of the mount's per-directory attribute index objects.
const INDEX_NAME: &str = ".bosmount-attrs.json";

/// Settings shared by every case of a run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Multipart part size of the mount and the bucket.
    pub part_size: usize,
    /// Checks switched off (`FS_MODEL_SKIP_CHECKS`), to hunt for other bugs behind a known one.
    pub skipped: BTreeSet<String>,
}

impl Settings {
    fn checks(&self, name: &str) -> bool {
        !self.skipped.contains(name)
    }
}

type Check = Result<(), String>;

/// What a mount shows at one name.
#[derive(Debug, Clone)]
struct Observed {
    attr: FsAttr,
    listed: FsAttr,
    content: Option<Vec<u8>>,
    /// Why reading the content failed (then `content` is empty).
    read_error: Option<String>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

struct Harness<'s> {
    settings: &'s Settings,
    options: MountOptions,
    bos: Arc<InMemoryBos>,
    mount: Option<Mount>,
    model: Model,
    /// Inode numbers of model files in this mount lifetime.
    inos: BTreeMap<FileId, InodeNo>,
    /// Whether an injected fault fired during the current step.
    fault_fired: bool,
    ttl_zero: bool,
    trace: Vec<String>,
}

/// Run `case`; `Err` says which step went wrong and how.
pub fn run_case(case: &Case, settings: &Settings) -> Result<(), String> {
    let ttl_zero = case.ttl_zero && settings.checks("ttl_zero");
    let options = MountOptions {
        metadata_ttl: if ttl_zero {
            Duration::ZERO
        } else {
            Duration::from_secs(1)
        },
        part_size: settings.part_size,
    };
    let bos = new_bucket(&options);
    let mut harness = Harness {
        settings,
        options,
        bos: bos.clone(),
        mount: Some(Mount::start(bos, &options)),
        model: Model {
            lenient_attrs_at_sync: !settings.checks("attrs_at_close"),
            ..Model::default()
        },
        inos: BTreeMap::new(),
        fault_fired: false,
        ttl_zero,
        trace: Vec::new(),
    };
    let mut steps: Vec<Op> = case.ops.clone();
    // Every case ends with a crash: whatever close() or fsync() promised must be there.
    steps.push(Op::Crash);
    let result = (|| {
        for (i, op) in steps.iter().enumerate() {
            harness.trace.push(format!("{:>2}. {op:?}", i + 1));
            let outcome = harness.step_with_fault(op, None);
            let outcome = outcome
                .and_then(|_| harness.check_view())
                .and_then(|_| harness.check_bucket());
            if let Err(e) = outcome {
                return Err(format!(
                    "step {} `{op:?}` failed: {e}\n--- steps run (with results) ---\n{}",
                    i + 1,
                    harness.trace.join("\n")
                ));
            }
        }
        Ok(())
    })();
    if let Some(mount) = harness.mount.take() {
        mount.crash();
    }
    if std::env::var("FS_MODEL_TRACE").is_ok() {
        eprintln!("--- case ---\n{}", harness.trace.join("\n"));
    }
    result
}

fn data_of(byte: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| byte.wrapping_add(i as u8)).collect()
}

fn show(bytes: &[u8]) -> String {
    if bytes.len() <= 24 {
        format!("{bytes:?}")
    } else {
        format!(
            "{} bytes {:?}..{:?}",
            bytes.len(),
            &bytes[..8],
            &bytes[bytes.len() - 8..]
        )
    }
}

fn mtime_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn errno_name(e: i32) -> String {
    match e {
        0 => "Ok".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EEXIST => "EEXIST".into(),
        libc::EIO => "EIO".into(),
        libc::EINVAL => "EINVAL".into(),
        libc::ENOTEMPTY => "ENOTEMPTY".into(),
        libc::ESTALE => "ESTALE".into(),
        libc::EBADF => "EBADF".into(),
        libc::ENODATA => "ENODATA".into(),
        libc::EISDIR => "EISDIR".into(),
        libc::ENOTDIR => "ENOTDIR".into(),
        other => format!("errno {other}"),
    }
}

impl Harness<'_> {
    fn mount(&self) -> &Mount {
        self.mount.as_ref().expect("a mount is running between steps")
    }

    fn note(&mut self, text: String) {
        if let Some(last) = self.trace.last_mut() {
            last.push_str(&format!("  → {text}"));
        }
    }

    /// Compare a result's errno with what the model expects; with a fired fault any error is
    /// accepted (the caller then treats the step as maybe applied).
    fn expect_errno(&mut self, what: &str, got: i32, want: i32) -> Check {
        self.note(errno_name(got));
        if got == want {
            return Ok(());
        }
        if self.fault_fired && got != 0 {
            return Ok(());
        }
        Err(format!(
            "{what}: expected {}, got {}",
            errno_name(want),
            errno_name(got)
        ))
    }

    fn resolve(&self, path: &str) -> Result<FsAttr, String> {
        self.mount()
            .resolve(path)
            .map_err(|e| format!("lookup of {path:?} failed: {}", errno_name(e.errno())))
    }

    fn ino_of(&self, id: FileId) -> Result<InodeNo, String> {
        if let Some(ino) = self.inos.get(&id) {
            return Ok(*ino);
        }
        Err(format!("model file {id} has no known inode"))
    }

    fn fd_file(&self, fd: FdRef) -> Option<(usize, Fd)> {
        let i = self.model.fd_index(fd.0)?;
        Some((i, self.model.fds[i].clone()))
    }

    /// Run `op` with `fault` (if any) armed on the bucket for its duration.
    fn step_with_fault(&mut self, op: &Op, fault: Option<(FaultOp, FaultKind, u8)>) -> Check {
        self.fault_fired = false;
        let Some((fault_op, kind, skip)) = fault else {
            return self.step(op);
        };
        if matches!(op, Op::Rename { .. }) && !self.settings.checks("rename_partial") {
            self.note("fault not injected (rename_partial not checked)".into());
            return self.step(op);
        }
        let operation = match fault_op {
            FaultOp::Put => Operation::PutObject,
            FaultOp::UploadPart => Operation::UploadPart,
            FaultOp::Complete => Operation::CompleteMultipartUpload,
            FaultOp::Copy => Operation::CopyObject,
            FaultOp::Delete => Operation::DeleteObject,
            FaultOp::Append => Operation::AppendObject,
            FaultOp::Head => Operation::GetObjectMeta,
        };
        let mut injected = Fault::on(operation).skip(skip as u64);
        injected = match kind {
            FaultKind::ServerError => injected,
            FaultKind::Timeout => injected.error(|| BosError::Timeout(Duration::from_secs(30))),
            FaultKind::LostAnswer => injected.after_applying(),
            FaultKind::OffsetIncorrect => injected.status(409, "OffsetIncorrect"),
        };
        let before = self.bos.count(operation);
        let writing: Vec<FileId> = self
            .model
            .fds
            .iter()
            .filter(|fd| fd.stores())
            .map(|fd| fd.file)
            .collect();
        self.bos.inject(injected);
        // The model cannot tell whether the fault fires before the step is done: it assumes
        // it may, and the step's checks accept an error as "maybe applied".
        self.fault_fired = true;
        let mut result = self.step(op);
        self.bos.clear_faults();
        let fired = self.bos.count(operation) > before + skip as u64;
        if fired && result.as_ref().is_err_and(|e| e.starts_with("lookup of ")) {
            // The fault hit the lookup the step starts with: the step never ran.
            self.note("(fault fired in the lookup: the step did not run)".into());
            result = Ok(());
        }
        if fired && result.is_ok() {
            self.note("(fault fired)".into());
            // Every file with a writer may have had an upload fail, in the background or in
            // a release whose error reaches nobody.
            for id in writing {
                self.taint(id);
                if !self.model.is_open(id) {
                    if let Some(path) = self.model.path_of(id) {
                        result = self.resync_path(&path);
                        if result.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        self.fault_fired = false;
        result
    }

    /// File `id` met a fault: until its last close its content is not checked, and the bucket
    /// may hold any state it had since.
    fn taint(&mut self, id: FileId) {
        let Some(file) = self.model.files.get_mut(&id) else {
            return;
        };
        file.tainted = true;
        let file = file.clone();
        if let Some(path) = self.model.path_of(id) {
            let durable = self.model.durable.entry(path).or_insert_with(|| Durable::absent(&file));
            durable.allow_content(Stored::Exact(file.content.clone()));
            durable.allow_attrs(&file);
        }
    }

    fn step(&mut self, op: &Op) -> Check {
        match *op {
            Op::Open { path, flags, mode } => self.open(path, flags, mode),
            Op::Write { fd, at, len, byte } => self.write(fd, at, len, byte),
            Op::Read { fd, offset, len } => self.read(fd, offset, len),
            Op::Flush { fd } => self.flush(fd, false),
            Op::Close { fd } => self.flush(fd, true),
            Op::Fsync { fd } => self.fsync(fd),
            Op::Truncate { target, size } => self.truncate(target, size),
            Op::Chmod { target, mode } => self.chmod(target, mode),
            Op::Utime { path, secs } => self.utime(path, secs),
            Op::SetXattr { path, name, value } => self.xattr(path, name, Some(value)),
            Op::RemoveXattr { path, name } => self.xattr(path, name, None),
            Op::Mkdir { path, mode } => self.mkdir(path, mode),
            Op::Rmdir { path } => self.rmdir(path),
            Op::Unlink { path } => self.unlink(path),
            Op::Rename { from, to } => self.rename(from, to),
            Op::OtherPut { path, len, byte } => self.other_put(path, len, byte),
            Op::OtherDelete { path } => self.other_delete(path),
            Op::Advance { ms } => {
                self.mount().advance(Duration::from_millis(ms as u64));
                self.model.now_ms += ms as u64;
                let now = self.model.now_ms;
                let due: Vec<FileId> = self
                    .model
                    .attrs_pending_since
                    .iter()
                    .filter(|(id, since)| now - **since >= 500 && !self.model.has_writer(**id))
                    .map(|(id, _)| *id)
                    .collect();
                // Attribute changes are stored in the background within 500 ms.
                for id in due {
                    self.model.attrs_synced_now(id);
                }
                Ok(())
            }
            Op::Remount => self.restart(true),
            Op::Crash => self.restart(false),
            Op::Faulty {
                op: fault,
                kind,
                skip,
                ref then,
            } => self.step_with_fault(then, Some((fault, kind, skip))),
        }
    }

    /// open(2) as the kernel runs it: lookups first, then open() or create().
    fn open(&mut self, path: PathRef, mut flags: OpenFlags, mode: u16) -> Check {
        let path = path.text();
        if !self.settings.checks("append") {
            flags.append = false;
        }
        let parent = parent_of(&path).to_string();
        if !self.model.is_dir(&parent) {
            self.note("skipped: no parent directory (ENOENT/ENOTDIR from the kernel)".into());
            return Ok(());
        }
        match self.model.node(&path) {
            Some(Node::Dir { .. }) => {
                self.note("skipped: a directory".into());
                Ok(())
            }
            Some(Node::File(_)) if flags.create && flags.exclusive => {
                self.note("EEXIST from the kernel".into());
                Ok(())
            }
            Some(Node::File(id))
                if (flags.writable() && self.model.has_writer(id) || self.model.is_open(id))
                    && !self.settings.checks("shared_fds") =>
            {
                self.note("skipped: the file is open already (shared_fds not checked)".into());
                Ok(())
            }
            Some(Node::File(id)) => {
                let attr = self.resolve(&path)?;
                self.inos.entry(id).or_insert(attr.ino);
                let bits = flags.bits() & !(libc::O_CREAT | libc::O_EXCL);
                let result = self.mount().open(attr.ino, bits);
                self.expect_errno("open", errno_of(&result), 0)?;
                let Ok(fh) = result else {
                    self.taint(id);
                    return Ok(());
                };
                let untouched_mtime_checked = self.settings.checks("writer_mtime");
                let file = self.model.files.get_mut(&id).expect("named file");
                if flags.writable() {
                    file.high_water = file.high_water.max(file.content.len());
                    if !untouched_mtime_checked {
                        file.mtime = None;
                    }
                }
                if flags.truncate {
                    file.truncate(0);
                }
                self.model.fds.push(Fd {
                    file: id,
                    flags,
                    fh,
                    flushed: false,
                    created: false,
                    wrote: false,
                });
                self.note(format!("fd#{} (of {})", self.model.fds.len() - 1, self.model.fds.len()));
                Ok(())
            }
            None if !flags.create => {
                self.note("ENOENT from lookup".into());
                Ok(())
            }
            None => {
                let parent_attr = self.resolve(&parent)?;
                let result = self
                    .mount()
                    .create(parent_attr.ino, name_of(&path), mode as u32, flags.bits());
                self.expect_errno("create", errno_of(&result), 0)?;
                let Ok((attr, fh)) = result else {
                    return self.resync_path(&path);
                };
                if attr.perm != mode {
                    return Err(format!("create returned mode {:o}, asked {mode:o}", attr.perm));
                }
                let file = File::empty(mode);
                let durable = Durable::absent(&file);
                let id = self.model.new_file(file);
                self.inos.insert(id, attr.ino);
                self.model.names.insert(path.clone(), Node::File(id));
                self.model.durable.insert(path, durable);
                self.model.fds.push(Fd {
                    file: id,
                    flags,
                    fh,
                    flushed: false,
                    created: true,
                    wrote: false,
                });
                self.note(format!("fd#{} (of {})", self.model.fds.len() - 1, self.model.fds.len()));
                Ok(())
            }
        }
    }

    /// The highest offset below which a write may meet an uploaded part.
    fn uploaded_floor(&self, file: &File) -> usize {
        (file.high_water / self.settings.part_size) * self.settings.part_size
    }

    fn write(&mut self, fd: FdRef, at: WriteAt, len: WriteLen, byte: u8) -> Check {
        let Some((_, fd)) = self.fd_file(fd) else {
            self.note("skipped: no open descriptor".into());
            return Ok(());
        };
        if !fd.flags.writable() {
            self.note("skipped: read-only descriptor (EBADF from the kernel)".into());
            return Ok(());
        }
        let file = self.model.files[&fd.file].clone();
        let part = self.settings.part_size;
        let offset = if fd.flags.append {
            file.content.len()
        } else {
            match at {
                WriteAt::End => file.content.len(),
                WriteAt::Offset(o) => o as usize,
                WriteAt::NearPart { part: p, delta } => ((p as i64) * part as i64 + delta as i64).max(0) as usize,
            }
        };
        let n = match len {
            WriteLen::Bytes(n) => n as usize,
            WriteLen::PartPlus(n) => part + n as usize,
        };
        let data = data_of(byte, n);
        let result = self.mount().write(fd.fh, offset as u64, &data);
        self.note(format!("{} bytes at {offset}", n));
        match result {
            Ok(written) if written as usize == n => {}
            Ok(written) => return Err(format!("short write: {written} of {n} bytes")),
            // Allowance: BOS cannot change a multipart part already uploaded; a write below
            // one fails with EINVAL (documented) and changes nothing.
            Err(e) if e.errno() == libc::EINVAL && offset < self.uploaded_floor(&file) => {
                self.note("EINVAL (below an uploaded part: allowed)".into());
                return Ok(());
            }
            Err(e) if file.tainted || self.fault_fired => {
                self.note(format!("{} on a file that met a fault", errno_name(e.errno())));
                let id = fd.file;
                self.model
                    .files
                    .get_mut(&id)
                    .expect("open file")
                    .write_at(offset, &data);
                self.taint(id);
                return Ok(());
            }
            Err(e) => return Err(format!("write failed with {}", errno_name(e.errno()))),
        }
        let id = fd.file;
        self.model
            .files
            .get_mut(&id)
            .expect("open file")
            .write_at(offset, &data);
        if let Some(i) = self.model.fds.iter().position(|f| f.fh == fd.fh) {
            self.model.fds[i].wrote = true;
        }
        // Allowance: an append handle may send its bytes before close, in order.
        let appending = self
            .model
            .fds
            .iter()
            .any(|other| other.file == id && other.flags.append);
        if appending {
            if let Some(path) = self.model.path_of(id) {
                let content = self.model.files[&id].content.clone();
                if let Some(durable) = self.model.durable.get_mut(&path) {
                    let certain = match durable.contents.as_slice() {
                        [Stored::Exact(old)] if content.starts_with(old) => old.len(),
                        _ => 0,
                    };
                    durable.allow_content(Stored::PrefixOf {
                        full: content,
                        min_len: certain,
                    });
                }
            }
        }
        Ok(())
    }

    fn read(&mut self, fd: FdRef, offset: u16, len: u16) -> Check {
        let Some((_, fd)) = self.fd_file(fd) else {
            self.note("skipped: no open descriptor".into());
            return Ok(());
        };
        if !fd.flags.readable() {
            self.note("skipped: write-only descriptor".into());
            return Ok(());
        }
        let file = &self.model.files[&fd.file];
        let result = self.mount().read(fd.fh, offset as u64, len as u32);
        if file.tainted {
            self.note("not checked: the file met a fault".into());
            return Ok(());
        }
        let start = (offset as usize).min(file.content.len());
        let end = (offset as usize + len as usize).min(file.content.len());
        let want = file.content[start..end].to_vec();
        match result {
            Ok(got) if got == want => {
                self.note(format!("{} bytes", got.len()));
                Ok(())
            }
            Ok(got) => Err(format!(
                "read through the descriptor returned {}, expected {}",
                show(&got),
                show(&want)
            )),
            Err(e) if e.errno() == libc::EINVAL && (offset as usize) < self.uploaded_floor(file) => {
                // Allowance (README, "Limits"): those bytes are in an unfinished upload.
                self.note("EINVAL below an uploaded part (allowed)".into());
                Ok(())
            }
            Err(e) => Err(format!("read failed with {}", errno_name(e.errno()))),
        }
    }

    /// A flush (close of a dup) or a close (flush + release) of descriptor `fd`.
    fn flush(&mut self, fd: FdRef, release: bool) -> Check {
        let Some((i, fd)) = self.fd_file(fd) else {
            self.note("skipped: no open descriptor".into());
            return Ok(());
        };
        let result = if release {
            self.mount().close(fd.fh)
        } else {
            self.mount().flush(fd.fh)
        };
        let tainted = self.model.files[&fd.file].tainted;
        if tainted {
            self.note(format!("{} on a file that met a fault", errno_name(errno_of(&result))));
        } else {
            self.expect_errno(if release { "close" } else { "flush" }, errno_of(&result), 0)?;
        }
        if release {
            self.model.fds.remove(i);
        } else {
            self.model.fds[i].flushed = true;
        }
        if result.is_ok() && !tainted {
            if fd.stores() && !fd.wrote && !self.settings.checks("untouched_flush") {
                self.model.file_maybe_synced(fd.file);
            } else if fd.stores() {
                // close() returned 0: everything written to the file is in the bucket.
                self.model.file_synced(fd.file);
            }
            // A read-only descriptor's close is no durability point for attribute changes
            // (README, "Durability"): they are stored by an fsync, a close of a descriptor
            // that wrote, unmount, or 500 ms later.
        } else {
            self.taint(fd.file);
        }
        if release && !self.model.is_open(fd.file) {
            let was_tainted = self.model.files.get(&fd.file).is_some_and(|f| f.tainted);
            if let Some(f) = self.model.files.get_mut(&fd.file) {
                f.high_water = 0;
            }
            self.model.collect_garbage();
            if was_tainted {
                if let Some(path) = self.model.path_of(fd.file) {
                    return self.resync_path(&path);
                }
            }
        }
        Ok(())
    }

    fn fsync(&mut self, fd: FdRef) -> Check {
        let Some((_, fd)) = self.fd_file(fd) else {
            self.note("skipped: no open descriptor".into());
            return Ok(());
        };
        let result = self.mount().fsync(fd.fh);
        let tainted = self.model.files[&fd.file].tainted;
        if tainted {
            self.note(format!("{} on a file that met a fault", errno_name(errno_of(&result))));
            return Ok(());
        }
        self.expect_errno("fsync", errno_of(&result), 0)?;
        let large = self.model.files[&fd.file].high_water > self.settings.part_size;
        if result.is_ok() && large && !self.settings.checks("fsync_multipart") {
            self.model.file_maybe_synced(fd.file);
        } else if result.is_ok() {
            // fsync returned 0: the file's data and attributes are in the bucket.
            self.model.file_synced(fd.file);
        } else {
            self.taint(fd.file);
        }
        Ok(())
    }

    /// The file a path-or-descriptor target names, with its inode and handle.
    /// Attribute changes of a file with an open writer are not generated (check `attrs_open` off).
    fn attrs_target(&mut self, target: Target) -> Result<Option<(FileId, InodeNo, Option<u64>)>, String> {
        let found = self.target_file(target, false)?;
        match found {
            Some((id, _, _)) if self.model.has_writer(id) && !self.settings.checks("attrs_open") => Ok(None),
            other => Ok(other),
        }
    }

    fn target_file(
        &mut self,
        target: Target,
        needs_write: bool,
    ) -> Result<Option<(FileId, InodeNo, Option<u64>)>, String> {
        match target {
            Target::Path(p) => {
                let path = p.text();
                match self.model.node(&path) {
                    Some(Node::File(id)) => {
                        let attr = self.resolve(&path)?;
                        self.inos.entry(id).or_insert(attr.ino);
                        Ok(Some((id, attr.ino, None)))
                    }
                    _ => Ok(None),
                }
            }
            Target::Fd(fd) => {
                let Some((_, fd)) = self.fd_file(fd) else {
                    return Ok(None);
                };
                if needs_write && !fd.flags.writable() {
                    return Ok(None);
                }
                Ok(Some((fd.file, self.ino_of(fd.file)?, Some(fd.fh))))
            }
        }
    }

    fn truncate(&mut self, target: Target, size: u16) -> Check {
        let Some((id, ino, fh)) = self.target_file(target, true)? else {
            self.note("skipped: no such file or descriptor".into());
            return Ok(());
        };
        let result = self.mount().truncate(ino, fh, size as u64);
        let file = self.model.files[&id].clone();
        match &result {
            // Allowance: like a write, a truncation into an uploaded part may fail with EINVAL.
            Err(e)
                if e.errno() == libc::EINVAL
                    && self.model.has_writer(id)
                    && (size as usize) < self.uploaded_floor(&file) =>
            {
                self.note("EINVAL (below an uploaded part: allowed)".into());
                return Ok(());
            }
            Err(_) if file.tainted => {
                self.note("error on a file that met a fault".into());
                return Ok(());
            }
            _ => {}
        }
        self.expect_errno("truncate", errno_of(&result), 0)?;
        if let Ok(attr) = &result {
            if attr.size != size as u64 && !file.tainted {
                return Err(format!("truncate returned size {}, expected {size}", attr.size));
            }
        }
        self.model.files.get_mut(&id).expect("file").truncate(size as usize);
        if let Some(i) = self.model.fds.iter().position(|f| Some(f.fh) == fh) {
            self.model.fds[i].wrote = true;
        }
        if result.is_err() {
            self.taint(id);
            return Ok(());
        }
        if !self.model.has_writer(id) {
            // Without a writer the truncation may be stored at once (it must be by unmount).
            let file = self.model.files[&id].clone();
            if let Some(path) = self.model.path_of(id) {
                if let Some(d) = self.model.durable.get_mut(&path) {
                    d.allow_content(Stored::Exact(file.content.clone()));
                    // A truncation that changes the size is a content change: the mtime
                    // becomes the time it is stored.
                    d.mtimes.push(None);
                }
            }
        }
        Ok(())
    }

    fn chmod(&mut self, target: Target, mode: u16) -> Check {
        if let Target::Path(p) = target {
            let path = p.text();
            if let Some(Node::Dir { .. }) = self.model.node(&path) {
                let attr = self.resolve(&path)?;
                let result = self.mount().chmod(attr.ino, None, mode as u32);
                self.expect_errno("chmod", errno_of(&result), 0)?;
                if let Some(Node::Dir { mode: m }) = self.model.names.get_mut(&path) {
                    *m = mode;
                }
                let durable = self.model.durable_dirs.entry(path).or_insert(DurableDir {
                    modes: vec![],
                    may_be_absent: false,
                });
                if !durable.modes.contains(&mode) {
                    durable.modes.push(mode);
                }
                return Ok(());
            }
        }
        let Some((id, ino, fh)) = self.attrs_target(target)? else {
            self.note("skipped: no such file or descriptor".into());
            return Ok(());
        };
        let result = self.mount().chmod(ino, fh, mode as u32);
        self.expect_errno("chmod", errno_of(&result), 0)?;
        if let Ok(attr) = &result {
            if attr.perm != mode {
                return Err(format!("chmod returned mode {:o}, expected {mode:o}", attr.perm));
            }
        }
        self.model.files.get_mut(&id).expect("file").mode = mode;
        self.model.attrs_changed(id);
        self.after_attr_change(id, result.is_err())
    }

    /// An attribute change that failed (under a fault) may or may not have happened: the
    /// mount shows one of the two, and the bucket may hold either.
    fn after_attr_change(&mut self, id: FileId, failed: bool) -> Check {
        if !failed {
            return Ok(());
        }
        self.taint(id);
        match self.model.path_of(id) {
            Some(path) if !self.model.is_open(id) => self.resync_path(&path),
            _ => Ok(()),
        }
    }

    fn utime(&mut self, path: PathRef, secs: u16) -> Check {
        let Some((id, ino, _)) = self.attrs_target(Target::Path(path))? else {
            self.note("skipped: not a file".into());
            return Ok(());
        };
        let t = UTIME_BASE + secs as u64;
        let result = self.mount().utime(ino, UNIX_EPOCH + Duration::from_secs(t));
        self.expect_errno("utime", errno_of(&result), 0)?;
        self.model.files.get_mut(&id).expect("file").mtime = Some(t);
        self.model.attrs_changed(id);
        self.after_attr_change(id, result.is_err())
    }

    fn xattr(&mut self, path: PathRef, name: u8, value: Option<u8>) -> Check {
        let Some((id, ino, _)) = self.attrs_target(Target::Path(path))? else {
            self.note("skipped: not a file".into());
            return Ok(());
        };
        let key = format!("user.k{name}");
        let (result, want) = match value {
            Some(v) => (errno_of(&self.mount().setxattr(ino, &key, &[v])), 0),
            None => {
                let exists = self.model.files[&id].xattrs.contains_key(&key);
                (
                    errno_of(&self.mount().removexattr(ino, &key)),
                    if exists { 0 } else { libc::ENODATA },
                )
            }
        };
        self.expect_errno("xattr", result, want)?;
        if want != 0 {
            return Ok(());
        }
        let failed = result != 0;
        let file = self.model.files.get_mut(&id).expect("file");
        match value {
            Some(v) => {
                file.xattrs.insert(key, vec![v]);
            }
            None => {
                file.xattrs.remove(&key);
            }
        }
        self.model.attrs_changed(id);
        self.after_attr_change(id, failed)
    }

    fn mkdir(&mut self, path: PathRef, mode: u16) -> Check {
        let path = path.text();
        let parent = parent_of(&path).to_string();
        if !self.model.is_dir(&parent) {
            self.note("skipped: no parent directory".into());
            return Ok(());
        }
        if self.model.node(&path).is_some() {
            self.note("EEXIST from the kernel".into());
            return Ok(());
        }
        let parent_attr = self.resolve(&parent)?;
        let result = self.mount().mkdir(parent_attr.ino, name_of(&path), mode as u32);
        self.expect_errno("mkdir", errno_of(&result), 0)?;
        match result {
            Ok(attr) if attr.perm != mode => Err(format!("mkdir returned mode {:o}", attr.perm)),
            Ok(_) => {
                self.model.names.insert(path.clone(), Node::Dir { mode });
                self.model.durable_dirs.insert(
                    path,
                    DurableDir {
                        modes: vec![mode],
                        may_be_absent: false,
                    },
                );
                Ok(())
            }
            Err(_) => self.resync_path(&path),
        }
    }

    fn rmdir(&mut self, path: PathRef) -> Check {
        let path = path.text();
        if !matches!(self.model.node(&path), Some(Node::Dir { .. })) {
            self.note("skipped: not a directory".into());
            return Ok(());
        }
        let prefix = format!("{path}/");
        let holds_open = self
            .model
            .names
            .iter()
            .any(|(p, n)| p.starts_with(&prefix) && matches!(n, Node::File(id) if self.model.is_open(*id)));
        if holds_open && !self.settings.checks("rmdir_open") {
            self.note("skipped: holds an open file (rmdir_open not checked)".into());
            return Ok(());
        }
        let parent_attr = self.resolve(parent_of(&path))?;
        let empty = self.model.children(&path).is_empty();
        let result = self.mount().rmdir(parent_attr.ino, name_of(&path));
        self.expect_errno("rmdir", errno_of(&result), if empty { 0 } else { libc::ENOTEMPTY })?;
        if result.is_ok() {
            self.model.remove_tree(&path);
        } else if self.fault_fired {
            return self.resync_path(&path);
        }
        Ok(())
    }

    fn unlink(&mut self, path: PathRef) -> Check {
        let path = path.text();
        let Some(Node::File(id)) = self.model.node(&path) else {
            self.note("skipped: not a file".into());
            return Ok(());
        };
        if self.model.is_open(id) && !self.settings.checks("unlink_open") {
            self.note("skipped: open (unlink_open not checked)".into());
            return Ok(());
        }
        let parent_attr = self.resolve(parent_of(&path))?;
        let result = self.mount().unlink(parent_attr.ino, name_of(&path));
        self.expect_errno("unlink", errno_of(&result), 0)?;
        if result.is_ok() {
            self.model.names.remove(&path);
            self.model.durable.remove(&path);
            self.model.collect_garbage();
        } else {
            return self.resync_path(&path);
        }
        Ok(())
    }

    fn rename(&mut self, from: PathRef, to: PathRef) -> Check {
        let (from, to) = (from.text(), to.text());
        let Some(source) = self.model.node(&from) else {
            self.note("skipped: ENOENT from lookup".into());
            return Ok(());
        };
        if !self.model.is_dir(parent_of(&to)) {
            self.note("skipped: no target directory".into());
            return Ok(());
        }
        if from == to {
            self.note("skipped: same name".into());
            return Ok(());
        }
        if to.starts_with(&format!("{from}/")) {
            self.note("skipped: EINVAL from the kernel (into itself)".into());
            return Ok(());
        }
        let target = self.model.node(&to);
        let want = match (source, target) {
            (Node::File(_), Some(Node::Dir { .. })) => {
                self.note("skipped: EISDIR from the kernel".into());
                return Ok(());
            }
            (Node::Dir { .. }, Some(Node::File(_))) => {
                self.note("skipped: ENOTDIR from the kernel".into());
                return Ok(());
            }
            (Node::Dir { .. }, Some(Node::Dir { .. })) if !self.model.children(&to).is_empty() => libc::ENOTEMPTY,
            _ => 0,
        };
        if !self.settings.checks("rename_open") {
            let prefix = format!("{from}/");
            let to_prefix = format!("{to}/");
            let open = self.model.names.iter().any(|(p, n)| {
                (*p == from || p.starts_with(&prefix) || *p == to || p.starts_with(&to_prefix))
                    && matches!(n, Node::File(id) if self.model.is_open(*id))
            });
            if open {
                self.note("skipped: an open file is involved (rename_open not checked)".into());
                return Ok(());
            }
        }
        let from_parent = self.resolve(parent_of(&from))?;
        let to_parent = self.resolve(parent_of(&to))?;
        let result = self
            .mount()
            .rename(from_parent.ino, name_of(&from), to_parent.ino, name_of(&to));
        self.expect_errno("rename", errno_of(&result), want)?;
        if result.is_err() {
            if self.fault_fired {
                return self.resync_tree(&[from, to]);
            }
            return Ok(());
        }
        // Allowance: renaming a file that is open for writing may store what it holds now
        // under the new name (a multipart upload cannot change its key).
        let moved: Vec<(String, FileId)> = self
            .model
            .names
            .iter()
            .filter(|(p, _)| **p == from || p.starts_with(&format!("{from}/")))
            .filter_map(|(p, n)| match n {
                Node::File(id) => Some((p.clone(), *id)),
                Node::Dir { .. } => None,
            })
            .collect();
        for (path, id) in moved {
            if self.model.has_writer(id) {
                let file = self.model.files[&id].clone();
                let durable = self.model.durable.entry(path).or_insert_with(|| Durable::absent(&file));
                durable.allow_content(Stored::Exact(file.content.clone()));
                durable.allow_attrs(&file);
            }
        }
        self.model.rename(&from, &to);
        Ok(())
    }

    fn other_put(&mut self, path: PathRef, len: u16, byte: u8) -> Check {
        let path = path.text();
        if !self.ttl_zero || !self.model.is_dir(parent_of(&path)) {
            self.note("skipped (needs TTL 0 and a parent directory)".into());
            return Ok(());
        }
        let existing = match self.model.node(&path) {
            Some(Node::Dir { .. }) => {
                self.note("skipped: a directory".into());
                return Ok(());
            }
            Some(Node::File(id)) if self.model.is_open(id) => {
                self.note("skipped: open in the mount".into());
                return Ok(());
            }
            Some(Node::File(id)) => Some(id),
            None => None,
        };
        let data = data_of(byte, len as usize);
        let bos = self.bos.clone();
        let body = bytes::Bytes::from(data.clone());
        let key = path.clone();
        self.mount()
            .block_on(async move { bos.put_object(BUCKET, &key, body, &PutOptions::default()).await })
            .map_err(|e| format!("other client's put failed: {e}"))?;
        let mut file = File::empty(DEFAULT_FILE_MODE);
        file.content = data;
        let durable = Durable::exactly(&file);
        match existing {
            Some(id) => {
                // Same name, same inode in the mount: the content and attributes are replaced.
                self.model.files.insert(id, file);
            }
            None => {
                let id = self.model.new_file(file);
                self.model.names.insert(path.clone(), Node::File(id));
            }
        }
        self.model.durable.insert(path, durable);
        Ok(())
    }

    fn other_delete(&mut self, path: PathRef) -> Check {
        let path = path.text();
        if !self.ttl_zero {
            self.note("skipped (needs TTL 0)".into());
            return Ok(());
        }
        match self.model.node(&path) {
            Some(Node::File(id)) if !self.model.is_open(id) => {}
            _ => {
                self.note("skipped: not a closed file".into());
                return Ok(());
            }
        }
        let bos = self.bos.clone();
        let key = path.clone();
        self.mount()
            .block_on(async move { bos.delete_object(BUCKET, &key).await })
            .map_err(|e| format!("other client's delete failed: {e}"))?;
        self.model.names.remove(&path);
        self.model.durable.remove(&path);
        self.model.collect_garbage();
        Ok(())
    }

    /// End this mount lifetime (cleanly with shutdown, or by a crash), start a fresh one
    /// and check that it shows what the bucket may hold.
    fn restart(&mut self, clean: bool) -> Check {
        let mount = self.mount.take().expect("mount");
        if clean {
            let failures = mount.unmount();
            self.note(format!("shutdown: {failures} failures"));
            let ids: Vec<FileId> = self.model.files.keys().copied().collect();
            for id in ids {
                let Some(path) = self.model.path_of(id) else { continue };
                let file = self.model.files[&id].clone();
                let has_writer = self.model.has_writer(id);
                let durable = self.model.durable.entry(path).or_insert_with(|| Durable::absent(&file));
                if file.tainted || self.fault_fired {
                    // A fault may have hit the unmount's stores: old or new, each.
                    durable.allow_content(Stored::Exact(file.content.clone()));
                    durable.allow_attrs(&file);
                } else if !has_writer {
                    // Nothing unsynced can remain for a file without a writer.
                    *durable = Durable::exactly(&file);
                } else if !self.settings.checks("unmount_publish") {
                    durable.allow_content(Stored::Exact(file.content.clone()));
                    durable.allow_attrs(&file);
                } else if !durable.may_be_absent() && failures == 0 {
                    // A file still open for writing keeps its last stored content, but
                    // unmount stores its attribute changes.
                    durable.set_attrs(&file);
                } else {
                    durable.allow_attrs(&file);
                }
            }
        } else {
            mount.crash();
        }
        // A fault armed for this step hits the old mount only.
        self.bos.clear_faults();
        self.model.fds.clear();
        self.model.collect_garbage();
        self.inos.clear();
        self.mount = Some(Mount::start(self.bos.clone(), &self.options));
        self.readopt_all()
    }

    /// What a mount shows at every name: directories walked from the root, each listed and
    /// each entry looked up; names in `expected` that the listing leaves out are looked up
    /// too (and reported in the second map with `true`: missing from the listing).
    fn observe_tree(
        &self,
        expected: &BTreeSet<String>,
    ) -> Result<(BTreeMap<String, Observed>, BTreeSet<String>), String> {
        let mut seen = BTreeMap::new();
        let mut unlisted = BTreeSet::new();
        let root = self
            .mount()
            .getattr(InodeNo::ROOT)
            .map_err(|e| format!("getattr of the root: {}", errno_name(e.errno())))?;
        let mut dirs = vec![(String::new(), root.ino)];
        while let Some((dir, ino)) = dirs.pop() {
            // With both listing checks off, names are only looked up (a listing would
            // poison the attribute cache with what it believes).
            let entries = if self.settings.checks("listing_names") || self.settings.checks("listing_mode") {
                self.mount()
                    .list(ino)
                    .map_err(|e| format!("readdir of {dir:?}: {}", errno_name(e.errno())))?
            } else {
                Vec::new()
            };
            let entries_skipped = !(self.settings.checks("listing_names") || self.settings.checks("listing_mode"));
            let mut names: BTreeMap<String, Option<FsAttr>> =
                entries.into_iter().map(|e| (e.name, Some(e.attr))).collect();
            for path in expected.iter().filter(|p| parent_of(p) == dir) {
                names.entry(name_of(path).to_string()).or_insert(None);
            }
            for (name, listed) in names {
                let path = if dir.is_empty() {
                    name.clone()
                } else {
                    format!("{dir}/{name}")
                };
                let attr = match self.mount().lookup(ino, &name) {
                    Ok(attr) => attr,
                    Err(e) if e.errno() == libc::ENOENT && listed.is_none() => continue,
                    Err(e) => return Err(format!("lookup of {path:?}: {}", errno_name(e.errno()))),
                };
                if listed.is_none() && !entries_skipped {
                    unlisted.insert(path.clone());
                }
                let mut observed = Observed {
                    attr,
                    listed: listed.unwrap_or(attr),
                    content: None,
                    read_error: None,
                    xattrs: BTreeMap::new(),
                };
                if attr.kind == NodeKind::Directory {
                    if path.matches('/').count() < 4 {
                        dirs.push((path.clone(), attr.ino));
                    }
                } else {
                    match self.read_fresh(&path, attr.ino) {
                        Ok(content) => observed.content = Some(content),
                        Err(e) => {
                            observed.content = Some(Vec::new());
                            observed.read_error = Some(e);
                        }
                    }
                    for name in self
                        .mount()
                        .listxattr(attr.ino)
                        .map_err(|e| format!("listxattr of {path:?}: {}", errno_name(e.errno())))?
                    {
                        let value = self
                            .mount()
                            .getxattr(attr.ino, &name)
                            .map_err(|e| format!("getxattr {name} of {path:?}: {}", errno_name(e.errno())))?;
                        observed.xattrs.insert(name, value);
                    }
                }
                seen.insert(path, observed);
            }
        }
        Ok((seen, unlisted))
    }

    /// The content of `path` read through a new read-only descriptor (like `cat`).
    fn read_fresh(&self, path: &str, ino: InodeNo) -> Result<Vec<u8>, String> {
        let fh = self
            .mount()
            .open(ino, libc::O_RDONLY)
            .map_err(|e| format!("open O_RDONLY of {path:?}: {}", errno_name(e.errno())))?;
        let content = self.mount().read_all(fh);
        let closed = self.mount().close(fh);
        let content = content.map_err(|e| format!("read of {path:?}: {}", errno_name(e.errno())))?;
        closed.map_err(|e| format!("close of a reader of {path:?}: {}", errno_name(e.errno())))?;
        Ok(content)
    }

    /// The mount's POSIX view equals the model's.
    fn check_view(&mut self) -> Check {
        let expected: BTreeSet<String> = self.model.names.keys().cloned().collect();
        let (seen, unlisted) = self.observe_tree(&expected)?;
        let got: BTreeSet<String> = seen.keys().cloned().collect();
        if expected != got {
            return Err(format!("the mount shows {got:?}, the model has {expected:?}"));
        }
        if !unlisted.is_empty() && self.settings.checks("listing_names") {
            return Err(format!("readdir leaves out {unlisted:?} (lookup finds them)"));
        }
        for (path, observed) in &seen {
            match self.model.names[path] {
                Node::Dir { mode } => {
                    if observed.attr.kind != NodeKind::Directory {
                        return Err(format!("{path:?} should be a directory"));
                    }
                    if observed.attr.perm != mode && self.settings.checks("dir_mode") {
                        return Err(format!(
                            "{path:?}: directory mode {:o}, expected {mode:o}",
                            observed.attr.perm
                        ));
                    }
                }
                Node::File(id) => {
                    if let Some(ino) = self.inos.get(&id) {
                        if *ino != observed.attr.ino {
                            return Err(format!(
                                "{path:?} has inode {}, but its open file is inode {}",
                                observed.attr.ino.0, ino.0
                            ));
                        }
                    } else {
                        self.inos.insert(id, observed.attr.ino);
                    }
                    let file = &self.model.files[&id];
                    if observed.attr.kind != NodeKind::File {
                        return Err(format!("{path:?} should be a file"));
                    }
                    if file.tainted {
                        continue;
                    }
                    let size = file.content.len() as u64;
                    if observed.attr.size != size {
                        return Err(format!("stat {path:?}: size {}, expected {size}", observed.attr.size));
                    }
                    if observed.listed.size != size && self.settings.checks("listing_size") {
                        return Err(format!("ls {path:?}: size {}, expected {size}", observed.listed.size));
                    }
                    let mut fresh_read_checked = self.settings.checks("fresh_read") || !self.model.has_writer(id);
                    // Allowance (README, "Limits"): bytes a writer already sent as multipart
                    // parts cannot be read back until a close or fsync completes the upload.
                    let in_uploaded_parts = self.model.has_writer(id) && self.uploaded_floor(file) > 0;
                    if observed.read_error.as_deref().is_some_and(|e| e.ends_with("EINVAL")) && in_uploaded_parts {
                        fresh_read_checked = false;
                    }
                    if let (Some(e), true) = (&observed.read_error, fresh_read_checked) {
                        return Err(e.clone());
                    }
                    if fresh_read_checked && observed.content.as_deref() != Some(file.content.as_slice()) {
                        return Err(format!(
                            "cat {path:?} shows {}, expected {}",
                            show(observed.content.as_deref().unwrap_or_default()),
                            show(&file.content)
                        ));
                    }
                    if observed.attr.perm != file.mode {
                        return Err(format!(
                            "stat {path:?}: mode {:o}, expected {:o}",
                            observed.attr.perm, file.mode
                        ));
                    }
                    if observed.listed.perm != file.mode && self.settings.checks("listing_mode") {
                        return Err(format!(
                            "ls {path:?}: mode {:o}, expected {:o}",
                            observed.listed.perm, file.mode
                        ));
                    }
                    if let Some(t) = file.mtime {
                        if mtime_secs(observed.attr.mtime) != t {
                            return Err(format!(
                                "stat {path:?}: mtime {}, expected {t} (set by utime)",
                                mtime_secs(observed.attr.mtime)
                            ));
                        }
                    }
                    if observed.xattrs != file.xattrs {
                        return Err(format!(
                            "xattrs of {path:?}: {:?}, expected {:?}",
                            observed.xattrs, file.xattrs
                        ));
                    }
                }
            }
        }
        // fstat through every open descriptor follows its file, named or not.
        for fd in &self.model.fds {
            let file = &self.model.files[&fd.file];
            if file.tainted {
                continue;
            }
            let ino = self.ino_of(fd.file)?;
            let attr = self.mount().getattr(ino).map_err(|e| {
                format!(
                    "fstat of an open descriptor of {:?} (inode {}): {}",
                    self.model.path_of(fd.file).unwrap_or_else(|| "<unlinked>".into()),
                    ino.0,
                    errno_name(e.errno())
                )
            })?;
            if attr.size != file.content.len() as u64 {
                return Err(format!(
                    "fstat of an open descriptor of {:?}: size {}, expected {}",
                    self.model.path_of(fd.file).unwrap_or_else(|| "<unlinked>".into()),
                    attr.size,
                    file.content.len()
                ));
            }
        }
        Ok(())
    }

    /// Every object in the bucket is one the model allows there, and every name whose
    /// close() or fsync() returned 0 holds what it promised.
    fn check_bucket(&self) -> Check {
        let keys = self.bos.keys(BUCKET);
        let present: BTreeSet<&String> = keys.iter().collect();
        for key in &keys {
            if key.ends_with(INDEX_NAME) {
                continue;
            }
            if let Some(dir) = key.strip_suffix('/') {
                if !self.model.durable_dirs.contains_key(dir) {
                    return Err(format!(
                        "the bucket has a marker {key:?} of a directory the model does not have"
                    ));
                }
                continue;
            }
            let bytes = self.bos.object_bytes(BUCKET, key).unwrap_or_default();
            match self.model.durable.get(key) {
                Some(durable) if durable.contents.iter().any(|c| c.allows(Some(&bytes))) => {}
                Some(durable) => {
                    return Err(format!(
                        "the bucket holds {} at {key:?}; allowed: {}",
                        show(&bytes),
                        describe(&durable.contents)
                    ))
                }
                None => {
                    return Err(format!(
                        "the bucket holds {} at {key:?}, where the model has no stored file",
                        show(&bytes)
                    ))
                }
            }
        }
        for (path, durable) in &self.model.durable {
            if !present.contains(path) && !durable.may_be_absent() {
                return Err(format!(
                    "the bucket has no object at {path:?}; expected {}",
                    describe(&durable.contents)
                ));
            }
        }
        for (dir, durable) in &self.model.durable_dirs {
            let marker = format!("{dir}/");
            if !present.contains(&marker) && !durable.may_be_absent {
                return Err(format!("the bucket has no marker of directory {dir:?}"));
            }
        }
        Ok(())
    }

    /// After a fresh mount: everything it shows is allowed by what the bucket may hold, and
    /// the model becomes what it shows.
    fn readopt_all(&mut self) -> Check {
        let expected: BTreeSet<String> = self
            .model
            .durable
            .keys()
            .chain(self.model.durable_dirs.keys())
            .cloned()
            .collect();
        let (seen, unlisted) = self.observe_tree(&expected)?;
        if !unlisted.is_empty() && self.settings.checks("listing_names") {
            return Err(format!(
                "after restart, readdir leaves out {unlisted:?} (lookup finds them)"
            ));
        }
        for (path, observed) in &seen {
            if observed.attr.kind == NodeKind::Directory {
                let Some(durable) = self.model.durable_dirs.get(path) else {
                    if seen.keys().any(|p| p.starts_with(&format!("{path}/"))) {
                        continue;
                    }
                    return Err(format!("after restart, directory {path:?} exists; the model has none"));
                };
                if !durable.modes.contains(&observed.attr.perm) && self.settings.checks("dir_mode") {
                    return Err(format!(
                        "after restart, directory {path:?} has mode {:o}; allowed {}",
                        observed.attr.perm,
                        octals(&durable.modes)
                    ));
                }
                continue;
            }
            let Some(durable) = self.model.durable.get(path) else {
                return Err(format!(
                    "after restart, file {path:?} exists ({}); the model has none there",
                    show(observed.content.as_deref().unwrap_or_default())
                ));
            };
            check_durable(path, observed, durable, self.settings)?;
        }
        for (path, durable) in &self.model.durable {
            if !seen.contains_key(path) && !durable.may_be_absent() {
                return Err(format!(
                    "after restart, file {path:?} is missing; expected {}",
                    describe(&durable.contents)
                ));
            }
        }
        for (path, durable) in &self.model.durable_dirs {
            if !seen.contains_key(path) && !durable.may_be_absent {
                return Err(format!("after restart, directory {path:?} is missing"));
            }
        }
        // The model becomes what the fresh mount shows.
        let old = std::mem::take(&mut self.model);
        let mut model = Model {
            now_ms: old.now_ms,
            lenient_attrs_at_sync: old.lenient_attrs_at_sync,
            ..Model::default()
        };
        for (path, observed) in &seen {
            if observed.attr.kind == NodeKind::Directory {
                model.names.insert(
                    path.clone(),
                    Node::Dir {
                        mode: observed.attr.perm,
                    },
                );
                model.durable_dirs.insert(
                    path.clone(),
                    DurableDir {
                        modes: vec![observed.attr.perm],
                        may_be_absent: false,
                    },
                );
                continue;
            }
            let certain_mtime = old.durable.get(path).and_then(|d| {
                d.mtimes
                    .iter()
                    .flatten()
                    .find(|t| **t == mtime_secs(observed.attr.mtime))
                    .copied()
            });
            // With restart_attrs skipped a wrong mode was let through; keep the stored one.
            let mode = match old.durable.get(path).map(|d| d.modes.as_slice()) {
                Some([only]) if !self.settings.checks("restart_attrs") => *only,
                _ => observed.attr.perm,
            };
            let file = File {
                content: observed.content.clone().unwrap_or_default(),
                mode,
                mtime: certain_mtime,
                xattrs: observed.xattrs.clone(),
                high_water: 0,
                tainted: false,
            };
            let durable = Durable::exactly(&file);
            let id = model.new_file(file);
            model.names.insert(path.clone(), Node::File(id));
            model.durable.insert(path.clone(), durable);
        }
        self.model = model;
        Ok(())
    }

    /// After a failed step: the mount shows, at `path`, either what the model had or what the
    /// step would have made (re-observed through a fresh lookup).
    fn resync_path(&mut self, path: &str) -> Check {
        self.resync_tree(&[path.to_string()])
    }

    /// Re-observe the names `paths` after a step that failed with a fault: each shows a state
    /// the bucket may hold, and the model takes it over.
    fn resync_tree(&mut self, paths: &[String]) -> Check {
        // The fault of this step has done its part; looking is not part of the step.
        self.bos.clear_faults();
        let expected: BTreeSet<String> = self.model.names.keys().cloned().collect();
        let (seen, _) = self.observe_tree(&expected)?;
        for path in paths {
            let prefix = format!("{path}/");
            let affected: Vec<String> = seen
                .keys()
                .chain(self.model.names.keys())
                .filter(|p| *p == path || p.starts_with(&prefix))
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            for p in affected {
                match (self.model.names.get(&p).copied(), seen.get(&p)) {
                    (Some(Node::File(id)), Some(observed)) if observed.attr.kind == NodeKind::File => {
                        if self.model.is_open(id) {
                            continue;
                        }
                        let file = self.model.files.get_mut(&id).expect("file");
                        file.content = observed.content.clone().unwrap_or_default();
                        file.mode = observed.attr.perm;
                        file.xattrs = observed.xattrs.clone();
                        file.mtime = file.mtime.filter(|t| *t == mtime_secs(observed.attr.mtime));
                        // With `fault_view` off, a file a fault hit stays unchecked until the
                        // next restart (stat and cat of it may disagree until the TTL passes).
                        file.tainted = self.fault_fired && !self.settings.checks("fault_view");
                        if let Some(d) = self.model.durable.get(&p) {
                            check_durable(&p, observed, d, self.settings)?;
                        }
                        let file = file.clone();
                        self.model.durable.insert(p.clone(), Durable::exactly(&file));
                    }
                    (_, Some(observed)) if observed.attr.kind == NodeKind::File => {
                        let mut file = File::empty(observed.attr.perm);
                        file.content = observed.content.clone().unwrap_or_default();
                        file.xattrs = observed.xattrs.clone();
                        let durable = Durable::exactly(&file);
                        let id = self.model.new_file(file);
                        self.model.names.insert(p.clone(), Node::File(id));
                        self.model.durable.insert(p.clone(), durable);
                    }
                    (_, Some(observed)) => {
                        self.model.names.insert(
                            p.clone(),
                            Node::Dir {
                                mode: observed.attr.perm,
                            },
                        );
                        self.model.durable_dirs.insert(
                            p.clone(),
                            DurableDir {
                                modes: vec![observed.attr.perm],
                                may_be_absent: true,
                            },
                        );
                    }
                    (Some(Node::File(id)), None) if self.model.is_open(id) => {
                        self.model.names.remove(&p);
                        self.model.durable.remove(&p);
                    }
                    (_, None) => {
                        self.model.names.remove(&p);
                        self.model.durable.remove(&p);
                        self.model.durable_dirs.remove(&p);
                    }
                }
            }
        }
        self.model.collect_garbage();
        Ok(())
    }
}

fn octals(modes: &[u16]) -> String {
    let parts: Vec<String> = modes.iter().map(|m| format!("{m:o}")).collect();
    parts.join(" or ")
}

fn describe(contents: &[Stored]) -> String {
    let parts: Vec<String> = contents
        .iter()
        .map(|c| match c {
            Stored::Absent => "nothing".to_string(),
            Stored::Exact(bytes) => show(bytes),
            Stored::PrefixOf { full, min_len } => format!("a prefix (≥ {min_len} bytes) of {}", show(full)),
        })
        .collect();
    parts.join(" or ")
}

/// A file a fresh mount shows at `path` is one of the states `durable` allows.
fn check_durable(path: &str, observed: &Observed, durable: &Durable, settings: &Settings) -> Check {
    let content = observed.content.as_deref().unwrap_or_default();
    if !durable.contents.iter().any(|c| c.allows(Some(content))) {
        return Err(format!(
            "after restart, {path:?} holds {}; allowed: {}",
            show(content),
            describe(&durable.contents)
        ));
    }
    if !settings.checks("restart_attrs") {
        return Ok(());
    }
    if !durable.modes.contains(&observed.attr.perm) {
        return Err(format!(
            "after restart, {path:?} has mode {:o}; allowed {}",
            observed.attr.perm,
            octals(&durable.modes)
        ));
    }
    let mtime = mtime_secs(observed.attr.mtime);
    if !durable.mtimes.contains(&None) && !durable.mtimes.contains(&Some(mtime)) {
        return Err(format!(
            "after restart, {path:?} has mtime {mtime}; allowed {:?} (set by utime)",
            durable.mtimes
        ));
    }
    let names: BTreeSet<&String> = durable.xattrs.keys().chain(observed.xattrs.keys()).collect();
    for name in names {
        let got = observed.xattrs.get(name).cloned();
        let allowed = durable.xattrs.get(name).cloned().unwrap_or_else(|| vec![None]);
        if !allowed.contains(&got) {
            return Err(format!(
                "after restart, xattr {name} of {path:?} is {got:?}; allowed {allowed:?}"
            ));
        }
    }
    Ok(())
}
