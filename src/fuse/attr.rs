//! Conversion of the filesystem's attributes into fuser's.

use fuser::{FileAttr, FileType, INodeNo};

use crate::fs::{FsAttr, NodeKind, SpecialKind};

/// `st_blksize`: large, so tools like cp move data in big writes (up to max_write).
const BLOCK_SIZE: u32 = 1024 * 1024;

/// fuser's file type of a node kind.
pub fn file_type(kind: NodeKind) -> FileType {
    match kind {
        NodeKind::File => FileType::RegularFile,
        NodeKind::Directory => FileType::Directory,
        NodeKind::Symlink => FileType::Symlink,
    }
}

/// fuser's file type of a node: a fifo, device or socket is a file to the filesystem.
pub fn attr_type(attr: &FsAttr) -> FileType {
    match attr.special.map(|s| s.kind) {
        Some(SpecialKind::Fifo) => FileType::NamedPipe,
        Some(SpecialKind::CharDevice) => FileType::CharDevice,
        Some(SpecialKind::BlockDevice) => FileType::BlockDevice,
        Some(SpecialKind::Socket) => FileType::Socket,
        None => file_type(attr.kind),
    }
}

/// fuser's attributes of ours.
pub fn file_attr(attr: &FsAttr) -> FileAttr {
    FileAttr {
        ino: INodeNo(attr.ino.0),
        size: attr.size,
        blocks: attr.size.div_ceil(512),
        atime: attr.atime,
        mtime: attr.mtime,
        ctime: attr.ctime,
        crtime: attr.mtime,
        kind: attr_type(attr),
        perm: attr.perm,
        nlink: attr.nlink,
        uid: attr.uid,
        gid: attr.gid,
        rdev: attr.special.map_or(0, |s| s.rdev),
        blksize: BLOCK_SIZE,
        flags: 0,
    }
}
