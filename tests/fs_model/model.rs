//! The reference model: a plain in-memory filesystem (names → files and directories, files
//! with identity so open descriptors follow them), plus what a fresh mount may find in the
//! bucket for every name after a crash ([`Durable`]), with the few alternatives the
//! contract allows (an unsynced attribute change, the prefixes an append handle may have
//! sent early, the outcomes of an operation that failed).

use std::collections::{BTreeMap, BTreeSet};

use crate::ops::OpenFlags;

/// Identity of a file (an inode in POSIX terms): survives renames, not unlink + create.
pub type FileId = u64;

/// Mode of a new file or directory when none is given.
pub const DEFAULT_FILE_MODE: u16 = 0o644;

/// What a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Its bytes.
    pub content: Vec<u8>,
    /// Permission bits.
    pub mode: u16,
    /// Modification time in seconds since the epoch, when set by utime and not written since.
    pub mtime: Option<u64>,
    /// `user.*` extended attributes.
    pub xattrs: BTreeMap<String, Vec<u8>>,
    /// Largest size since a writer was opened (to know which multipart parts may be sent).
    pub high_water: usize,
    /// An injected failure hit this file: its content is not checked until it is re-observed.
    pub tainted: bool,
}

impl File {
    /// An empty file with `mode`.
    pub fn empty(mode: u16) -> File {
        File {
            content: Vec::new(),
            mode,
            mtime: None,
            xattrs: BTreeMap::new(),
            high_water: 0,
            tainted: false,
        }
    }

    /// Write `data` at `offset` (a hole before it reads as zeros).
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        if self.content.len() < offset + data.len() {
            self.content.resize(offset + data.len(), 0);
        }
        self.content[offset..offset + data.len()].copy_from_slice(data);
        self.mtime = None;
        self.high_water = self.high_water.max(self.content.len());
    }

    /// Set the size to `size`.
    pub fn truncate(&mut self, size: usize) {
        self.content.resize(size, 0);
        self.mtime = None;
    }
}

/// A name in the namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A file.
    File(FileId),
    /// A directory with its mode.
    Dir { mode: u16 },
}

/// One open descriptor.
#[derive(Debug, Clone)]
pub struct Fd {
    /// The file it has open.
    pub file: FileId,
    /// How it was opened.
    pub flags: OpenFlags,
    /// The mount's handle number.
    pub fh: u64,
    /// A dup of it was closed (flush without release) at least once.
    pub flushed: bool,
    /// It created the file (its close stores the new file even when read-only).
    pub created: bool,
    /// A write or ftruncate went through it.
    pub wrote: bool,
}

impl Fd {
    /// Whether its close or fsync must store the file's content.
    pub fn stores(&self) -> bool {
        self.flags.writable() || self.created
    }
}

/// What the bucket may hold at a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// No object.
    Absent,
    /// Exactly these bytes.
    Exact(Vec<u8>),
    /// A prefix of `full` of at least `min_len` bytes (what an append handle may have sent).
    PrefixOf { full: Vec<u8>, min_len: usize },
}

impl Stored {
    /// Whether `found` (None: no object) is allowed by this alternative.
    pub fn allows(&self, found: Option<&[u8]>) -> bool {
        match (self, found) {
            (Stored::Absent, None) => true,
            (Stored::Exact(want), Some(got)) => want.as_slice() == got,
            (Stored::PrefixOf { full, min_len }, Some(got)) => got.len() >= *min_len && full.starts_with(got),
            _ => false,
        }
    }
}

/// Most alternatives kept per field; older ones are dropped (the check gets looser, never wrong... except
/// for an old alternative no longer accepted, so the cap is generous).
const MAX_ALTERNATIVES: usize = 64;

fn push_alternative<T: PartialEq>(list: &mut Vec<T>, value: T) {
    if !list.contains(&value) {
        list.push(value);
        if list.len() > MAX_ALTERNATIVES {
            list.remove(0);
        }
    }
}

/// What a fresh mount may find for one file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Durable {
    /// The content (or absence).
    pub contents: Vec<Stored>,
    /// The mode.
    pub modes: Vec<u16>,
    /// The mtime: `None` stands for "not set by utime" (anything goes).
    pub mtimes: Vec<Option<u64>>,
    /// Each extended attribute's value (`None`: not set).
    pub xattrs: BTreeMap<String, Vec<Option<Vec<u8>>>>,
}

impl Durable {
    /// Exactly `file` (content and attributes).
    pub fn exactly(file: &File) -> Durable {
        let mut durable = Durable {
            contents: vec![Stored::Exact(file.content.clone())],
            modes: Vec::new(),
            mtimes: Vec::new(),
            xattrs: BTreeMap::new(),
        };
        durable.set_attrs(file);
        durable
    }

    /// Nothing stored yet, with `file`'s attributes for when it is.
    pub fn absent(file: &File) -> Durable {
        let mut durable = Durable::exactly(file);
        durable.contents = vec![Stored::Absent];
        durable
    }

    /// The attributes are certainly `file`'s now.
    pub fn set_attrs(&mut self, file: &File) {
        self.modes = vec![file.mode];
        self.mtimes = vec![file.mtime];
        self.xattrs = file
            .xattrs
            .iter()
            .map(|(k, v)| (k.clone(), vec![Some(v.clone())]))
            .collect();
    }

    /// The attributes may be `file`'s as well as what they were.
    pub fn allow_attrs(&mut self, file: &File) {
        push_alternative(&mut self.modes, file.mode);
        push_alternative(&mut self.mtimes, file.mtime);
        let names: BTreeSet<String> = self.xattrs.keys().chain(file.xattrs.keys()).cloned().collect();
        for name in names {
            let list = self.xattrs.entry(name.clone()).or_insert_with(|| vec![None]);
            push_alternative(list, file.xattrs.get(&name).cloned());
        }
    }

    /// The content may also be `stored`.
    pub fn allow_content(&mut self, stored: Stored) {
        push_alternative(&mut self.contents, stored);
    }

    /// Whether an absent object is allowed.
    pub fn may_be_absent(&self) -> bool {
        self.contents.contains(&Stored::Absent)
    }
}

/// What a fresh mount may find for one directory name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurableDir {
    /// Its mode.
    pub modes: Vec<u16>,
    /// It may be missing (a failed operation may not have happened).
    pub may_be_absent: bool,
}

/// The whole reference filesystem.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Every file still alive (named or open).
    pub files: BTreeMap<FileId, File>,
    /// Every name but the root's.
    pub names: BTreeMap<String, Node>,
    /// Open descriptors, in the order they were opened.
    pub fds: Vec<Fd>,
    /// What the bucket may hold at each file name (a name not here: nothing).
    pub durable: BTreeMap<String, Durable>,
    /// Which directories a fresh mount must find (a name not here: none).
    pub durable_dirs: BTreeMap<String, DurableDir>,
    /// Files whose attribute changes are not yet known to be stored, with the model time
    /// (ms) of the last change.
    pub attrs_pending_since: BTreeMap<FileId, u64>,
    /// Model clock in milliseconds.
    pub now_ms: u64,
    /// The last file identity handed out.
    pub next_id: FileId,
    /// A close or fsync is not taken to store attribute changes (check `attrs_at_close` off).
    pub lenient_attrs_at_sync: bool,
}

/// The parent of `path` ("" for the root).
pub fn parent_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(parent, _)| parent)
}

/// The last component of `path`.
pub fn name_of(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, name)| name)
}

impl Model {
    /// A new file identity.
    pub fn new_file(&mut self, file: File) -> FileId {
        self.next_id += 1;
        self.files.insert(self.next_id, file);
        self.next_id
    }

    /// What `path` is ("" is the root directory).
    pub fn node(&self, path: &str) -> Option<Node> {
        if path.is_empty() {
            return Some(Node::Dir { mode: 0o755 });
        }
        self.names.get(path).copied()
    }

    /// Whether `path` is a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        matches!(self.node(path), Some(Node::Dir { .. }))
    }

    /// The names directly in directory `dir`.
    pub fn children(&self, dir: &str) -> Vec<String> {
        self.names
            .keys()
            .filter(|p| parent_of(p) == dir)
            .map(|p| name_of(p).to_string())
            .collect()
    }

    /// The current name of file `id`, if it has one.
    pub fn path_of(&self, id: FileId) -> Option<String> {
        self.names
            .iter()
            .find(|(_, n)| **n == Node::File(id))
            .map(|(p, _)| p.clone())
    }

    /// The open descriptor `n` (modulo how many are open).
    pub fn fd_index(&self, n: u8) -> Option<usize> {
        if self.fds.is_empty() {
            None
        } else {
            Some(n as usize % self.fds.len())
        }
    }

    /// Whether file `id` has an open descriptor that may write (or that created it: the
    /// mount holds a writer for it).
    pub fn has_writer(&self, id: FileId) -> bool {
        self.fds.iter().any(|fd| fd.file == id && fd.stores())
    }

    /// Whether file `id` has an open descriptor.
    pub fn is_open(&self, id: FileId) -> bool {
        self.fds.iter().any(|fd| fd.file == id)
    }

    /// Forget files that have neither a name nor an open descriptor.
    pub fn collect_garbage(&mut self) {
        let named: BTreeSet<FileId> = self
            .names
            .values()
            .filter_map(|n| match n {
                Node::File(id) => Some(*id),
                Node::Dir { .. } => None,
            })
            .collect();
        let open: BTreeSet<FileId> = self.fds.iter().map(|fd| fd.file).collect();
        self.files.retain(|id, _| named.contains(id) || open.contains(id));
        self.attrs_pending_since
            .retain(|id, _| named.contains(id) || open.contains(id));
    }

    /// The attributes of file `id` changed (not yet known to be stored).
    pub fn attrs_changed(&mut self, id: FileId) {
        let now = self.now_ms;
        self.attrs_pending_since.insert(id, now);
        if let (Some(path), Some(file)) = (self.path_of(id), self.files.get(&id).cloned()) {
            if let Some(durable) = self.durable.get_mut(&path) {
                durable.allow_attrs(&file);
            }
        }
    }

    /// File `id` may be in the bucket as it is now (or as it was).
    pub fn file_maybe_synced(&mut self, id: FileId) {
        let (Some(path), Some(file)) = (self.path_of(id), self.files.get(&id)) else {
            return;
        };
        if let Some(durable) = self.durable.get_mut(&path) {
            durable.allow_content(Stored::Exact(file.content.clone()));
            durable.allow_attrs(file);
        }
    }

    /// Everything written to file `id` and its attributes are in the bucket now.
    pub fn file_synced(&mut self, id: FileId) {
        self.attrs_pending_since.remove(&id);
        let (Some(path), Some(file)) = (self.path_of(id), self.files.get(&id)) else {
            return;
        };
        let mut durable = Durable::exactly(file);
        if self.lenient_attrs_at_sync {
            if let Some(old) = self.durable.get(&path) {
                durable.modes = old.modes.clone();
                durable.mtimes = old.mtimes.clone();
                durable.xattrs = old.xattrs.clone();
                durable.allow_attrs(file);
                self.attrs_pending_since.insert(id, self.now_ms);
            }
        }
        self.durable.insert(path, durable);
    }

    /// The attributes of file `id` are in the bucket now, whatever the leniency.
    pub fn attrs_synced_now(&mut self, id: FileId) {
        self.attrs_pending_since.remove(&id);
        let (Some(path), Some(file)) = (self.path_of(id), self.files.get(&id)) else {
            return;
        };
        if let Some(durable) = self.durable.get_mut(&path) {
            if !durable.may_be_absent() {
                durable.set_attrs(file);
            } else {
                durable.allow_attrs(file);
            }
        }
    }

    /// Move `from` (and, for a directory, everything under it) to `to`, replacing `to`.
    pub fn rename(&mut self, from: &str, to: &str) {
        let moved: Vec<String> = self
            .names
            .keys()
            .filter(|p| *p == from || p.starts_with(&format!("{from}/")))
            .cloned()
            .collect();
        self.remove_tree(to);
        for old in moved {
            let new = format!("{to}{}", &old[from.len()..]);
            if let Some(node) = self.names.remove(&old) {
                self.names.insert(new.clone(), node);
            }
            if let Some(d) = self.durable.remove(&old) {
                self.durable.insert(new.clone(), d);
            }
            if let Some(d) = self.durable_dirs.remove(&old) {
                self.durable_dirs.insert(new, d);
            }
        }
        self.collect_garbage();
    }

    /// Remove `path` and everything under it from the namespace and the bucket's view.
    pub fn remove_tree(&mut self, path: &str) {
        let prefix = format!("{path}/");
        let gone = |p: &String| p == path || p.starts_with(&prefix);
        self.names.retain(|p, _| !gone(p));
        self.durable.retain(|p, _| !gone(p));
        self.durable_dirs.retain(|p, _| !gone(p));
        self.collect_garbage();
    }
}
