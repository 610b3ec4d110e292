//! Checks made before mounting (and before `serve` opens its data directory), so that
//! each mistake a user can make fails at once with its cause and what to do:
//! - [`fuse_support`]: `/dev/fuse` is there (and, once a mount failed for it, the helper);
//! - [`mountpoint`]: not a directory, already a mount point, a stale FUSE mount;
//! - [`local_dir`]: the real error of a data directory (permission denied, not a
//!   directory, held by another server);
//! - [`endpoint`]: a HeadBucket that tells BOS from other HTTP servers, a missing bucket
//!   from rejected credentials, and an unknown access key from a wrong secret;
//! - [`part_size`]: a part size the server will accept.

pub mod endpoint;
pub mod fuse_support;
pub mod local_dir;
pub mod mountpoint;
pub mod part_size;
