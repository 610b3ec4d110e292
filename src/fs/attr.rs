//! Attributes: what a name is (file or directory) and what `stat` shows for it.
//!
//! [`ObjectAttr`] is what BOS told us (HEAD, a listing, our own upload); [`FsAttr`] is the
//! finished answer for the kernel, with mount-wide defaults (uid, gid, modes) filled in.
//! [`Perms`] carries per-file overrides of mode, owner and times: decoded from the object's
//! user metadata ([`crate::fs::meta_codec`]) and, for changes not stored yet, held on the inode.

use std::sync::Arc;
use std::time::SystemTime;

use crate::bos::{ObjectMeta, ObjectType, StorageClass};
use crate::fs::inode::InodeNo;
use crate::fs::meta_codec;

/// Kind of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NodeKind {
    /// A regular file: one object.
    File,
    /// A directory: a "dir/" marker object or any key under "dir/".
    Directory,
    /// A symbolic link: an object whose user metadata holds the target. Only reported to the
    /// kernel ([`FsAttr::kind`]); the inode table and the caches treat it as a [`NodeKind::File`].
    Symlink,
}

/// A node that is neither file, directory nor symlink: a zero-byte object whose user
/// metadata says what it is (see [`crate::fs::special`]). The kernel serves its I/O.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecialKind {
    /// A named pipe (S_IFIFO).
    Fifo,
    /// A character device (S_IFCHR).
    CharDevice,
    /// A block device (S_IFBLK).
    BlockDevice,
    /// A Unix socket (S_IFSOCK).
    Socket,
}

/// The type and device number of a special node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Special {
    /// What it is.
    pub kind: SpecialKind,
    /// Device number (`st_rdev`, as the kernel encodes it); 0 for fifos and sockets.
    pub rdev: u32,
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
    /// The object is a symbolic link.
    pub symlink: bool,
    /// The object is a fifo, device or socket.
    pub special: Option<Special>,
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
            symlink: other.symlink || self.symlink,
            special: other.special.or(self.special),
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
    /// Everything HEAD (or our own upload) said about the object, user metadata included;
    /// `None` when the attributes come from a listing, which carries no user metadata.
    pub meta: Option<Arc<ObjectMeta>>,
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
            meta: None,
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
            meta: None,
        }
    }

    /// A file as HEAD (or an upload of ours) describes it, with its stored attributes.
    pub fn from_meta(meta: ObjectMeta) -> Self {
        ObjectAttr {
            kind: NodeKind::File,
            size: meta.size,
            mtime: meta.last_modified,
            etag: Some(meta.etag.clone()),
            perms: meta_codec::decode_perms(&meta.user_meta),
            meta: Some(Arc::new(meta)),
        }
    }

    /// A directory whose marker object has `meta`.
    pub fn directory_from_meta(meta: ObjectMeta) -> Self {
        ObjectAttr {
            kind: NodeKind::Directory,
            size: 0,
            mtime: meta.last_modified,
            etag: Some(meta.etag.clone()),
            perms: meta_codec::decode_perms(&meta.user_meta),
            meta: Some(Arc::new(meta)),
        }
    }

    /// Object type, when known.
    pub fn object_type(&self) -> Option<ObjectType> {
        self.meta.as_ref().map(|m| m.object_type)
    }

    /// Storage class, when known.
    pub fn storage_class(&self) -> Option<StorageClass> {
        self.meta.as_ref().map(|m| m.storage_class)
    }
}

/// `t` without its fraction of a second (times before the epoch are left as they are).
pub fn whole_seconds(t: SystemTime) -> SystemTime {
    match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(d.as_secs()),
        Err(_) => t,
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
    /// A fifo, device or socket (reported as such; `kind` is then [`NodeKind::File`]).
    pub special: Option<Special>,
}

impl FsAttr {
    /// Whether the node is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == NodeKind::Directory
    }

    /// Finish `attr` for inode `ino` with the mount defaults and the in-memory overrides `local`.
    pub fn build(ino: InodeNo, attr: &ObjectAttr, local: Perms, defaults: &AttrDefaults) -> FsAttr {
        let perms = attr.perms.merged(local);
        // Times the bucket tells (Last-Modified) have whole seconds; so do those this mount
        // notes itself, or a stat would go back a fraction once the bucket answers instead.
        let mtime = perms.mtime.unwrap_or_else(|| whole_seconds(attr.mtime));
        let (default_mode, nlink) = match attr.kind {
            NodeKind::File | NodeKind::Symlink => (defaults.file_mode, 1),
            NodeKind::Directory => (defaults.dir_mode, 2),
        };
        let link_target = attr
            .meta
            .as_ref()
            .filter(|_| perms.symlink)
            .and_then(|m| meta_codec::symlink_target(&m.user_meta));
        let (kind, size, default_mode) = match (&link_target, attr.kind) {
            (Some(target), NodeKind::File) => (NodeKind::Symlink, target.len() as u64, 0o777),
            // Metadata not at hand (a rename's cached entry): the body is the target too.
            (None, NodeKind::File) if perms.symlink => (NodeKind::Symlink, attr.size, 0o777),
            _ => (attr.kind, attr.size, default_mode),
        };
        FsAttr {
            ino,
            kind,
            size,
            atime: perms.atime.unwrap_or(mtime),
            mtime,
            // The object's own change time: when the bucket last stored it.
            ctime: whole_seconds(attr.mtime),
            perm: perms.mode.unwrap_or(default_mode) & 0o7777,
            nlink,
            uid: perms.uid.unwrap_or(defaults.uid),
            gid: perms.gid.unwrap_or(defaults.gid),
            special: perms.special.filter(|_| kind == NodeKind::File),
        }
    }
}
