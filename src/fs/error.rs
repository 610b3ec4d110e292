//! Errors of filesystem operations and the ONE table that turns them into errno values.
//!
//! Every subsystem error (BOS client, write pipeline, read pipeline, name checks) converts
//! into [`FsError`]; the FUSE adapter only ever calls [`FsError::errno`]. Nothing else in
//! the crate picks an errno.

use crate::bos::{BosError, ErrorKind};
use crate::fs::read::ReadError;
use crate::fs::write::WriteError;

/// Why a filesystem operation failed.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// No such file or directory.
    #[error("no such file or directory")]
    NotFound,
    /// The name is taken.
    #[error("already exists")]
    AlreadyExists,
    /// A directory still has entries.
    #[error("directory not empty")]
    NotEmpty,
    /// A directory was expected.
    #[error("not a directory")]
    NotDirectory,
    /// A file was expected.
    #[error("is a directory")]
    IsDirectory,
    /// A name or the key it makes is too long.
    #[error("name too long: {0}")]
    NameTooLong(String),
    /// A name BOS cannot store (e.g. containing '@', not UTF-8).
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// An argument the operation cannot accept.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The file would exceed a size limit.
    #[error("file too large: {0}")]
    TooLarge(String),
    /// The inode is no longer known (forgotten or replaced).
    #[error("stale inode {0}")]
    StaleInode(u64),
    /// The file handle is not open (or not open for this operation).
    #[error("bad file handle {0}")]
    BadHandle(u64),
    /// The operation is not supported by this filesystem.
    #[error("not supported: {0}")]
    NotSupported(String),
    /// The mount is read-only.
    #[error("read-only mount")]
    ReadOnly,
    /// The caller may not do this (chown, chmod of another's file; hard links) (EPERM).
    #[error("operation not permitted: {0}")]
    NotPermitted(String),
    /// A BOS request failed.
    #[error(transparent)]
    Bos(#[from] BosError),
    /// The write pipeline of a handle failed.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The read pipeline of a handle failed.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// An earlier failure of this handle, remembered so every later call fails the same way.
    #[error("an earlier operation on this file failed (errno {0})")]
    Failed(i32),
    /// User metadata (attributes, extended attributes) would pass BOS's 2 KiB (E2BIG).
    #[error("user metadata of {0} bytes exceeds BOS's 2 KiB")]
    MetadataTooLarge(usize),
    /// No such extended attribute (ENODATA).
    #[error("no such extended attribute")]
    NoAttribute,
    /// The caller's buffer is too small for the answer (ERANGE).
    #[error("buffer too small")]
    BufferTooSmall,
    /// The name is the mount's own and cannot be changed (EPERM): the read-only
    /// `user.bosmount.status` attribute.
    #[error("{0} is read-only")]
    Reserved(String),
    /// A background task ended without an answer.
    #[error("internal failure: {0}")]
    Internal(String),
}

impl FsError {
    /// The errno reported to the kernel: the one table.
    pub fn errno(&self) -> i32 {
        match self {
            FsError::NotFound => libc::ENOENT,
            FsError::AlreadyExists => libc::EEXIST,
            FsError::NotEmpty => libc::ENOTEMPTY,
            FsError::NotDirectory => libc::ENOTDIR,
            FsError::IsDirectory => libc::EISDIR,
            FsError::NameTooLong(_) => libc::ENAMETOOLONG,
            FsError::InvalidName(_) | FsError::InvalidArgument(_) => libc::EINVAL,
            FsError::TooLarge(_) => libc::EFBIG,
            FsError::StaleInode(_) => libc::ESTALE,
            FsError::BadHandle(_) => libc::EBADF,
            FsError::NotSupported(_) => libc::ENOTSUP,
            FsError::ReadOnly => libc::EROFS,
            FsError::NotPermitted(_) => libc::EPERM,
            FsError::Bos(e) => bos_errno(e),
            FsError::Write(e) => write_errno(e),
            FsError::Read(ReadError::Bos(e)) => bos_errno(e),
            FsError::Read(ReadError::Changed { .. }) => libc::ESTALE,
            FsError::Read(_) => libc::EIO,
            FsError::Failed(errno) => *errno,
            FsError::MetadataTooLarge(_) => libc::E2BIG,
            FsError::NoAttribute => libc::ENODATA,
            FsError::BufferTooSmall => libc::ERANGE,
            FsError::Reserved(_) => libc::EPERM,
            FsError::Internal(_) => libc::EIO,
        }
    }

    /// Whether the failure is an ordinary answer (missing file, existing name…) rather than
    /// something worth a warning in the log.
    pub fn is_expected(&self) -> bool {
        matches!(
            self,
            FsError::NotFound
                | FsError::AlreadyExists
                | FsError::NotEmpty
                | FsError::NotDirectory
                | FsError::IsDirectory
                | FsError::NoAttribute
                | FsError::BufferTooSmall
                | FsError::NotPermitted(_)
        )
    }
}

fn bos_errno(e: &BosError) -> i32 {
    match e.kind() {
        ErrorKind::NotFound => libc::ENOENT,
        ErrorKind::PreconditionFailed => libc::ESTALE,
        ErrorKind::AlreadyExists => libc::EEXIST,
        ErrorKind::NotEmpty => libc::ENOTEMPTY,
        ErrorKind::AccessDenied => libc::EACCES,
        ErrorKind::TooLarge => libc::EFBIG,
        ErrorKind::ObjectUnappendable | ErrorKind::NotAllowCopy => libc::ENOTSUP,
        ErrorKind::InvalidRequest => libc::EINVAL,
        ErrorKind::OffsetIncorrect | ErrorKind::BadDigest | ErrorKind::Unavailable | ErrorKind::Transport => libc::EIO,
    }
}

fn write_errno(e: &WriteError) -> i32 {
    match e {
        // An upload that failed after the client's retries: the writer must see EIO.
        WriteError::Bos(b) => match b.kind() {
            ErrorKind::AccessDenied => libc::EACCES,
            ErrorKind::TooLarge => libc::EFBIG,
            _ => libc::EIO,
        },
        WriteError::NonSequential { .. } => libc::EINVAL,
        WriteError::TooLarge { .. } => libc::EFBIG,
        WriteError::NotAppendable(_) => libc::ENOTSUP,
        WriteError::Failed(_) => libc::EIO,
    }
}

/// Result of a filesystem operation.
pub type FsResult<T> = Result<T, FsError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bos_errors_map_by_kind() {
        assert_eq!(
            FsError::from(BosError::service(404, "NoSuchKey", "", "")).errno(),
            libc::ENOENT
        );
        assert_eq!(
            FsError::from(BosError::service(403, "AccessDenied", "", "")).errno(),
            libc::EACCES
        );
        assert_eq!(
            FsError::from(BosError::service(503, "ServiceUnavailable", "", "")).errno(),
            libc::EIO
        );
        assert_eq!(
            FsError::from(BosError::service(412, "PreconditionFailed", "", "")).errno(),
            libc::ESTALE
        );
        assert_eq!(FsError::NotEmpty.errno(), libc::ENOTEMPTY);
        assert_eq!(FsError::NameTooLong("x".into()).errno(), libc::ENAMETOOLONG);
    }
}
