//! Attributes: what a name is (file or directory) and what `stat` shows for it.
//!
//! [`ObjectAttr`] is what BOS told us (HEAD, a listing, our own upload); [`FsAttr`] is the
//! finished answer for the kernel, with mount-wide defaults (uid, gid, modes) filled in.
//! [`Perms`] carries per-file overrides of mode, owner and times: today they live in memory
//! (set by chmod/chown/utimes); the metadata issue persists them as `x-bce-meta-*`.

use std::time::SystemTime;

use crate::fs::inode::InodeNo;

/// Kind of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A regular file: one object.
    File,
    /// A directory: a "dir/" marker object or any key under "dir/".
    Directory,
}

/// Per-file overrides of what the mount options say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Perms {
    /// Permission bits (without the file type).
    pub mode: Option<u16>,
    /// Owner.
    pub uid: Option<u32>,
    /// Group.
    pub gid: Option<u32>,
    /// Modification time set by utimes (wins over the object's Last-Modified).
    pub mtime: Option<SystemTime>,
    /// Access time set by utimes.
    pub atime: Option<SystemTime>,
}

impl Perms {
    /// `other`'s values where set, ours elsewhere.
    pub fn merged(self, other: Perms) -> Perms {
        Perms {
            mode: other.mode.or(self.mode),
            uid: other.uid.or(self.uid),
            gid: other.gid.or(self.gid),
            mtime: other.mtime.or(self.mtime),
            atime: other.atime.or(self.atime),
        }
    }
}

/// What the bucket says about one name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectAttr {
    /// File or directory.
    pub kind: NodeKind,
    /// Size in bytes (0 for directories).
    pub size: u64,
    /// Last-Modified of the object (directories: the marker's, or the mount time).
    pub mtime: SystemTime,
    /// ETag of the object, when it is a file.
    pub etag: Option<String>,
    /// Overrides stored with the object.
    pub perms: Perms,
}

impl ObjectAttr {
    /// A directory with no known times.
    pub fn directory(mtime: SystemTime) -> Self {
        ObjectAttr {
            kind: NodeKind::Directory,
            size: 0,
            mtime,
            etag: None,
            perms: Perms::default(),
        }
    }

    /// A file of `size` bytes.
    pub fn file(size: u64, mtime: SystemTime, etag: Option<String>) -> Self {
        ObjectAttr {
            kind: NodeKind::File,
            size,
            mtime,
            etag,
            perms: Perms::default(),
        }
    }
}

/// Mount-wide ownership and permission defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttrDefaults {
    /// Owner of every node.
    pub uid: u32,
    /// Group of every node.
    pub gid: u32,
    /// Permission bits of files.
    pub file_mode: u16,
    /// Permission bits of directories.
    pub dir_mode: u16,
}

/// The attributes reported to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsAttr {
    /// Inode number.
    pub ino: InodeNo,
    /// File or directory.
    pub kind: NodeKind,
    /// Size in bytes.
    pub size: u64,
    /// Access time.
    pub atime: SystemTime,
    /// Modification time.
    pub mtime: SystemTime,
    /// Change time.
    pub ctime: SystemTime,
    /// Permission bits.
    pub perm: u16,
    /// Link count.
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl FsAttr {
    /// Finish `attr` for inode `ino` with the mount defaults and the in-memory overrides `local`.
    pub fn build(ino: InodeNo, attr: &ObjectAttr, local: Perms, defaults: &AttrDefaults) -> FsAttr {
        let perms = attr.perms.merged(local);
        let mtime = perms.mtime.unwrap_or(attr.mtime);
        let (default_mode, nlink) = match attr.kind {
            NodeKind::File => (defaults.file_mode, 1),
            NodeKind::Directory => (defaults.dir_mode, 2),
        };
        FsAttr {
            ino,
            kind: attr.kind,
            size: attr.size,
            atime: perms.atime.unwrap_or(mtime),
            mtime,
            ctime: mtime,
            perm: perms.mode.unwrap_or(default_mode) & 0o7777,
            nlink,
            uid: perms.uid.unwrap_or(defaults.uid),
            gid: perms.gid.unwrap_or(defaults.gid),
        }
    }
}
