//! bosmount: mount a Baidu AI Cloud Object Storage (BOS) bucket as a directory.
//!
//! Layers, each depending only on the ones below it:
//! - [`cli`]: command line, wiring of the pieces;
//! - [`fuse`]: the only module that speaks fuser; a thin translator onto [`fs`];
//! - [`fs`]: filesystem logic (inodes, caches, write buffers, read-ahead) over [`bos::BosApi`];
//! - [`bos`]: the BOS client, its signer and wire types;
//! - [`server`]: the local BOS-compatible server (`bosmount serve`, and `mount --local`).

#![warn(missing_docs)]

pub mod bos;
pub mod cli;
pub mod fs;
pub mod fuse;
pub mod logging;
pub mod metrics;
pub mod ops;
pub mod server;
