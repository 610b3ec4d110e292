//! Filesystem logic over the BOS API: inodes, metadata caches, directories, and the
//! per-handle write and read pipelines. Knows nothing of fuser; the [`crate::fuse`] module
//! translates kernel requests onto it.

pub mod read;
pub mod write;
