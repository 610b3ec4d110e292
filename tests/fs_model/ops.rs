//! The operations a model test case is made of, how proptest generates them (weighted, over
//! a small name space so names collide), and how a failing sequence is printed.

use std::fmt;

use proptest::prelude::*;

/// Names of the first level; the second level is any of them under one of the first three.
pub const NAMES: [&str; 4] = ["a", "b", "c", "d"];

/// A path of one or two components, e.g. "a" or "b/c".
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathRef {
    /// Index into [`NAMES`] of the parent directory (`None`: the root).
    pub dir: Option<u8>,
    /// Index into [`NAMES`] of the name.
    pub name: u8,
}

impl PathRef {
    /// The path as text.
    pub fn text(&self) -> String {
        match self.dir {
            None => NAMES[self.name as usize].to_string(),
            Some(d) => format!("{}/{}", NAMES[d as usize], NAMES[self.name as usize]),
        }
    }
}

impl fmt::Debug for PathRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.text())
    }
}

/// Which open descriptor an operation uses: the n-th (modulo how many are open).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct FdRef(pub u8);

impl fmt::Debug for FdRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fd#{}", self.0)
    }
}

/// Access mode and flags of an open(2).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct OpenFlags {
    /// O_RDONLY, O_WRONLY or O_RDWR.
    pub access: i32,
    /// O_CREAT.
    pub create: bool,
    /// O_EXCL.
    pub exclusive: bool,
    /// O_TRUNC (only with write access).
    pub truncate: bool,
    /// O_APPEND (only with write access).
    pub append: bool,
}

impl OpenFlags {
    /// The flags as open(2) takes them.
    pub fn bits(&self) -> i32 {
        let mut bits = self.access;
        if self.create {
            bits |= libc::O_CREAT;
        }
        if self.exclusive {
            bits |= libc::O_EXCL;
        }
        if self.truncate {
            bits |= libc::O_TRUNC;
        }
        if self.append {
            bits |= libc::O_APPEND;
        }
        bits
    }

    /// Whether the descriptor may read.
    pub fn readable(&self) -> bool {
        self.access != libc::O_WRONLY
    }

    /// Whether the descriptor may write.
    pub fn writable(&self) -> bool {
        self.access != libc::O_RDONLY
    }
}

impl fmt::Debug for OpenFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = vec![match self.access {
            libc::O_RDONLY => "O_RDONLY",
            libc::O_WRONLY => "O_WRONLY",
            _ => "O_RDWR",
        }];
        for (on, name) in [
            (self.create, "O_CREAT"),
            (self.exclusive, "O_EXCL"),
            (self.truncate, "O_TRUNC"),
            (self.append, "O_APPEND"),
        ] {
            if on {
                parts.push(name);
            }
        }
        write!(f, "{}", parts.join("|"))
    }
}

/// Where a write starts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WriteAt {
    /// At the current end of the file.
    End,
    /// At this byte offset.
    Offset(u32),
    /// `delta` bytes after the start of part `part` (part_size × part).
    NearPart { part: u8, delta: i16 },
}

impl fmt::Debug for WriteAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteAt::End => write!(f, "end"),
            WriteAt::Offset(o) => write!(f, "{o}"),
            WriteAt::NearPart { part, delta } => write!(f, "part{part}{delta:+}"),
        }
    }
}

/// How many bytes a write carries.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WriteLen {
    /// This many.
    Bytes(u16),
    /// One part and this many more.
    PartPlus(u16),
}

impl fmt::Debug for WriteLen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteLen::Bytes(n) => write!(f, "{n}B"),
            WriteLen::PartPlus(n) => write!(f, "part+{n}B"),
        }
    }
}

/// What a truncate or chmod applies to: a path or an open descriptor.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// By name (truncate(2), chmod(2)).
    Path(PathRef),
    /// By descriptor (ftruncate(2), fchmod(2)).
    Fd(FdRef),
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Path(p) => write!(f, "{p:?}"),
            Target::Fd(fd) => write!(f, "{fd:?}"),
        }
    }
}

/// An injected failure of the next BOS request of one kind, armed for the next step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultKind {
    /// 500 InternalError.
    ServerError,
    /// The request timed out before reaching the server.
    Timeout,
    /// The request was carried out but its answer was lost.
    LostAnswer,
    /// 409 OffsetIncorrect (AppendObject only).
    OffsetIncorrect,
}

/// Which BOS operation a fault hits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FaultOp {
    /// PutObject.
    Put,
    /// UploadPart.
    UploadPart,
    /// CompleteMultipartUpload.
    Complete,
    /// CopyObject.
    Copy,
    /// DeleteObject.
    Delete,
    /// AppendObject.
    Append,
    /// HeadObject.
    Head,
}

/// One step of a test case.
#[derive(Clone, PartialEq, Eq)]
pub enum Op {
    /// open(2) (create() for a missing name with O_CREAT); the descriptor joins the list.
    Open { path: PathRef, flags: OpenFlags, mode: u16 },
    /// write(2).
    Write {
        fd: FdRef,
        at: WriteAt,
        len: WriteLen,
        byte: u8,
    },
    /// pread(2).
    Read { fd: FdRef, offset: u16, len: u16 },
    /// close(2) of a dup of the descriptor: flush only.
    Flush { fd: FdRef },
    /// close(2) of the descriptor: flush, then release.
    Close { fd: FdRef },
    /// fsync(2).
    Fsync { fd: FdRef },
    /// truncate(2) or ftruncate(2).
    Truncate { target: Target, size: u16 },
    /// chmod(2) or fchmod(2).
    Chmod { target: Target, mode: u16 },
    /// utimes(2) to this many seconds after 2020-01-01.
    Utime { path: PathRef, secs: u16 },
    /// setxattr(2) of user.k<name>.
    SetXattr { path: PathRef, name: u8, value: u8 },
    /// removexattr(2) of user.k<name>.
    RemoveXattr { path: PathRef, name: u8 },
    /// mkdir(2).
    Mkdir { path: PathRef, mode: u16 },
    /// rmdir(2).
    Rmdir { path: PathRef },
    /// unlink(2).
    Unlink { path: PathRef },
    /// rename(2).
    Rename { from: PathRef, to: PathRef },
    /// Another client puts an object at `path` (only run with metadata TTL 0).
    OtherPut { path: PathRef, len: u16, byte: u8 },
    /// Another client deletes the object at `path` (only run with metadata TTL 0).
    OtherDelete { path: PathRef },
    /// The clock moves on.
    Advance { ms: u16 },
    /// Clean unmount (shutdown) and a fresh mount over the same bucket.
    Remount,
    /// The mount dies without draining anything; a fresh mount over the same bucket.
    Crash,
    /// `then` runs while one BOS request of kind `op` (after `skip` that pass) fails.
    Faulty {
        op: FaultOp,
        kind: FaultKind,
        skip: u8,
        then: Box<Op>,
    },
}

impl fmt::Debug for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Open { path, flags, mode } => write!(f, "open({path:?}, {flags:?}, {mode:o})"),
            Op::Write { fd, at, len, byte } => write!(f, "write({fd:?}, at {at:?}, {len:?} of {byte:#04x}..)"),
            Op::Read { fd, offset, len } => write!(f, "pread({fd:?}, {offset}, {len})"),
            Op::Flush { fd } => write!(f, "flush({fd:?}) [close of a dup]"),
            Op::Close { fd } => write!(f, "close({fd:?})"),
            Op::Fsync { fd } => write!(f, "fsync({fd:?})"),
            Op::Truncate { target, size } => write!(f, "truncate({target:?}, {size})"),
            Op::Chmod { target, mode } => write!(f, "chmod({target:?}, {mode:o})"),
            Op::Utime { path, secs } => write!(f, "utime({path:?}, 2020+{secs}s)"),
            Op::SetXattr { path, name, value } => write!(f, "setxattr({path:?}, user.k{name}, {value})"),
            Op::RemoveXattr { path, name } => write!(f, "removexattr({path:?}, user.k{name})"),
            Op::Mkdir { path, mode } => write!(f, "mkdir({path:?}, {mode:o})"),
            Op::Rmdir { path } => write!(f, "rmdir({path:?})"),
            Op::Unlink { path } => write!(f, "unlink({path:?})"),
            Op::Rename { from, to } => write!(f, "rename({from:?}, {to:?})"),
            Op::OtherPut { path, len, byte } => write!(f, "other client: put {path:?} ({len}B of {byte:#04x}..)"),
            Op::OtherDelete { path } => write!(f, "other client: delete {path:?}"),
            Op::Advance { ms } => write!(f, "advance {ms} ms"),
            Op::Remount => write!(f, "remount (shutdown, fresh mount)"),
            Op::Crash => write!(f, "crash (no draining, fresh mount)"),
            Op::Faulty { op, kind, skip, then } => {
                write!(f, "{then:?}  [with {kind:?} on {op:?} after {skip} ok]")
            }
        }
    }
}

/// Which kinds of operation a run generates (`FS_MODEL_OPS`, comma separated; all when unset).
#[derive(Debug, Clone)]
pub struct OpMix {
    enabled: Vec<String>,
}

/// Every kind [`OpMix`] knows, with its weight.
const KINDS: [(&str, u32); 21] = [
    ("open", 14),
    ("write", 16),
    ("read", 4),
    ("flush", 2),
    ("close", 10),
    ("fsync", 3),
    ("truncate", 3),
    ("chmod", 3),
    ("utime", 2),
    ("setxattr", 2),
    ("removexattr", 1),
    ("mkdir", 5),
    ("rmdir", 2),
    ("unlink", 3),
    ("rename", 5),
    ("other_put", 2),
    ("other_delete", 1),
    ("advance", 2),
    ("remount", 2),
    ("crash", 2),
    ("fault", 0),
];

impl OpMix {
    /// The mix `FS_MODEL_OPS` names (every kind but faults when unset).
    pub fn from_env() -> OpMix {
        match std::env::var("FS_MODEL_OPS") {
            Ok(list) if !list.trim().is_empty() => OpMix::named(&list),
            _ => OpMix {
                enabled: KINDS
                    .iter()
                    .filter(|(k, _)| *k != "fault")
                    .map(|(k, _)| k.to_string())
                    .collect(),
            },
        }
    }

    /// The kinds in the comma-separated `list` ("all": every kind, faults included).
    pub fn named(list: &str) -> OpMix {
        let enabled = if list.trim() == "all" {
            KINDS.iter().map(|(k, _)| k.to_string()).collect()
        } else {
            list.split(',').map(|s| s.trim().to_string()).collect()
        };
        OpMix { enabled }
    }

    fn weight(&self, kind: &str) -> u32 {
        if !self.enabled.iter().any(|k| k == kind) {
            return 0;
        }
        match KINDS.iter().find(|(k, _)| *k == kind) {
            Some((_, 0)) => 3,
            Some((_, w)) => *w,
            None => 0,
        }
    }

    /// The strategy of one operation.
    pub fn op(&self) -> BoxedStrategy<Op> {
        let mut by_kind: Vec<(&'static str, BoxedStrategy<Op>)> = Vec::new();
        let mut add = |kind: &'static str, strategy: BoxedStrategy<Op>| by_kind.push((kind, strategy));
        add(
            "open",
            (path(), open_flags(), prop::sample::select(vec![0o644u16, 0o600, 0o755]))
                .prop_map(|(path, flags, mode)| Op::Open { path, flags, mode })
                .boxed(),
        );
        add(
            "write",
            (fd(), write_at(), write_len(), any::<u8>())
                .prop_map(|(fd, at, len, byte)| Op::Write { fd, at, len, byte })
                .boxed(),
        );
        add(
            "read",
            (fd(), 0u16..80, 1u16..100)
                .prop_map(|(fd, offset, len)| Op::Read { fd, offset, len })
                .boxed(),
        );
        add("flush", fd().prop_map(|fd| Op::Flush { fd }).boxed());
        add("close", fd().prop_map(|fd| Op::Close { fd }).boxed());
        add("fsync", fd().prop_map(|fd| Op::Fsync { fd }).boxed());
        add(
            "truncate",
            (target(), prop_oneof![0u16..1, 0u16..40])
                .prop_map(|(target, size)| Op::Truncate { target, size })
                .boxed(),
        );
        add(
            "chmod",
            (
                target(),
                prop::sample::select(vec![0o600u16, 0o640, 0o700, 0o755, 0o644]),
            )
                .prop_map(|(target, mode)| Op::Chmod { target, mode })
                .boxed(),
        );
        add(
            "utime",
            (path(), 1u16..1000)
                .prop_map(|(path, secs)| Op::Utime { path, secs })
                .boxed(),
        );
        add(
            "setxattr",
            (path(), 0u8..2, any::<u8>())
                .prop_map(|(path, name, value)| Op::SetXattr { path, name, value })
                .boxed(),
        );
        add(
            "removexattr",
            (path(), 0u8..2)
                .prop_map(|(path, name)| Op::RemoveXattr { path, name })
                .boxed(),
        );
        add(
            "mkdir",
            (dir_path(), prop::sample::select(vec![0o755u16, 0o700]))
                .prop_map(|(path, mode)| Op::Mkdir { path, mode })
                .boxed(),
        );
        add("rmdir", path().prop_map(|path| Op::Rmdir { path }).boxed());
        add("unlink", path().prop_map(|path| Op::Unlink { path }).boxed());
        add(
            "rename",
            (path(), path()).prop_map(|(from, to)| Op::Rename { from, to }).boxed(),
        );
        add(
            "other_put",
            (path(), 0u16..60, any::<u8>())
                .prop_map(|(path, len, byte)| Op::OtherPut { path, len, byte })
                .boxed(),
        );
        add("other_delete", path().prop_map(|path| Op::OtherDelete { path }).boxed());
        add(
            "advance",
            prop::sample::select(vec![100u16, 600, 1100])
                .prop_map(|ms| Op::Advance { ms })
                .boxed(),
        );
        add("remount", Just(Op::Remount).boxed());
        add("crash", Just(Op::Crash).boxed());
        let mut choices: Vec<(u32, BoxedStrategy<Op>)> = by_kind
            .iter()
            .filter(|(k, _)| self.weight(k) > 0)
            .map(|(k, strategy)| (self.weight(k), strategy.clone()))
            .collect();
        assert!(!choices.is_empty(), "FS_MODEL_OPS enables no known operation kind");
        let io_kinds = [
            "write", "flush", "close", "fsync", "truncate", "chmod", "setxattr", "unlink", "rename", "open", "remount",
            "advance",
        ];
        let io: Vec<(u32, BoxedStrategy<Op>)> = io_kinds
            .iter()
            .filter_map(|k| {
                let (_, strategy) = by_kind.iter().find(|(n, _)| n == k)?;
                let w = self.weight(k);
                (w > 0).then(|| (w, strategy.clone()))
            })
            .collect();
        if self.weight("fault") > 0 && !io.is_empty() {
            let then = proptest::strategy::Union::new_weighted(io).boxed();
            choices.push((self.weight("fault") * 4, fault(then).boxed()));
        }
        proptest::strategy::Union::new_weighted(choices).boxed()
    }
}

fn path() -> impl Strategy<Value = PathRef> {
    prop_oneof![
        3 => (0u8..4).prop_map(|name| PathRef { dir: None, name }),
        2 => (0u8..3, 0u8..4).prop_map(|(d, name)| PathRef { dir: Some(d), name }),
    ]
}

fn dir_path() -> impl Strategy<Value = PathRef> {
    prop_oneof![
        4 => (0u8..3).prop_map(|name| PathRef { dir: None, name }),
        1 => path(),
    ]
}

fn fd() -> impl Strategy<Value = FdRef> {
    (0u8..4).prop_map(FdRef)
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![path().prop_map(Target::Path), fd().prop_map(Target::Fd)]
}

fn open_flags() -> impl Strategy<Value = OpenFlags> {
    (
        prop::sample::select(vec![libc::O_RDONLY, libc::O_WRONLY, libc::O_RDWR]),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.2),
        prop::bool::weighted(0.25),
        prop::bool::weighted(0.15),
    )
        .prop_map(|(access, create, exclusive, truncate, append)| {
            let writes = access != libc::O_RDONLY;
            OpenFlags {
                access,
                create,
                exclusive: exclusive && create,
                truncate: truncate && writes,
                append: append && writes,
            }
        })
}

fn write_at() -> impl Strategy<Value = WriteAt> {
    prop_oneof![
        4 => Just(WriteAt::End),
        4 => (0u32..64).prop_map(WriteAt::Offset),
        1 => (1u8..3, -8i16..8).prop_map(|(part, delta)| WriteAt::NearPart { part, delta }),
    ]
}

fn write_len() -> impl Strategy<Value = WriteLen> {
    prop_oneof![
        10 => (1u16..24).prop_map(WriteLen::Bytes),
        2 => (100u16..400).prop_map(WriteLen::Bytes),
        1 => (1u16..300).prop_map(WriteLen::PartPlus),
    ]
}

fn fault(then: BoxedStrategy<Op>) -> impl Strategy<Value = Op> {
    (
        prop::sample::select(vec![
            FaultOp::Put,
            FaultOp::UploadPart,
            FaultOp::Complete,
            FaultOp::Copy,
            FaultOp::Delete,
            FaultOp::Append,
            FaultOp::Head,
        ]),
        prop::sample::select(vec![
            FaultKind::ServerError,
            FaultKind::Timeout,
            FaultKind::LostAnswer,
            FaultKind::OffsetIncorrect,
        ]),
        0u8..2,
        then,
    )
        .prop_map(|(op, kind, skip, then)| {
            let kind = match (op, kind) {
                (FaultOp::Append, k) => k,
                (_, FaultKind::OffsetIncorrect) => FaultKind::ServerError,
                (_, k) => k,
            };
            Op::Faulty {
                op,
                kind,
                skip,
                then: Box::new(then),
            }
        })
}

/// One generated test case: the mount's TTL and the steps.
#[derive(Clone)]
pub struct Case {
    /// Run with metadata TTL 0 (other clients' changes are seen at once) instead of 1 s.
    pub ttl_zero: bool,
    /// The steps.
    pub ops: Vec<Op>,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "metadata_ttl = {}", if self.ttl_zero { "0" } else { "1 s" })?;
        for (i, op) in self.ops.iter().enumerate() {
            writeln!(f, "  {:>2}. {op:?}", i + 1)?;
        }
        Ok(())
    }
}

/// Steps that give a case something to work on: two directories and three closed files.
fn prelude() -> Vec<Op> {
    let p = |dir: Option<u8>, name: u8| PathRef { dir, name };
    let create = OpenFlags {
        access: libc::O_WRONLY,
        create: true,
        exclusive: false,
        truncate: true,
        append: false,
    };
    let mut ops = vec![
        Op::Mkdir {
            path: p(None, 0),
            mode: 0o755,
        },
        Op::Mkdir {
            path: p(None, 1),
            mode: 0o755,
        },
    ];
    for (i, path) in [p(None, 2), p(Some(0), 0), p(Some(1), 1)].into_iter().enumerate() {
        ops.push(Op::Open {
            path,
            flags: create,
            mode: 0o644,
        });
        ops.push(Op::Write {
            fd: FdRef(0),
            at: WriteAt::Offset(0),
            len: WriteLen::Bytes(10 + i as u16),
            byte: 0x10 * (i as u8 + 1),
        });
        ops.push(Op::Close { fd: FdRef(0) });
    }
    ops
}

/// The strategy of a whole case of at most `max_steps` steps (after an optional prelude).
pub fn case(mix: &OpMix, max_steps: usize) -> impl Strategy<Value = Case> {
    // The prelude's switch comes last: shrinking drops steps first, then tries without it.
    (
        prop::collection::vec(mix.op(), 1..=max_steps.max(1)),
        any::<bool>(),
        prop::bool::weighted(0.6),
    )
        .prop_map(|(ops, ttl_zero, with_prelude)| {
            let ops = if with_prelude {
                prelude().into_iter().chain(ops).collect()
            } else {
                ops
            };
            Case { ttl_zero, ops }
        })
}
