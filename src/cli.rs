//! Command line: parses `bosmount serve`, `bosmount mount`, `bosmount uploads` and
//! `bosmount status` and hands each to the module that owns it. Each subcommand's
//! arguments are defined next to the code that uses them. Before parsing, `-o` lists (mount(8), fstab) become long
//! options and the mount-helper form `bosmount SOURCE MOUNTPOINT -o …` becomes
//! `bosmount mount …` ([`crate::ops::mount_options`]).

use std::ffi::OsString;

use clap::{Parser, Subcommand};

/// bosmount: a BOS bucket as a directory, and a local BOS-compatible server.
#[derive(Debug, Parser)]
#[command(name = "bosmount", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the local BOS-compatible server.
    Serve(crate::server::ServeArgs),
    /// Mount a bucket (or BUCKET/PREFIX) on a directory.
    Mount(crate::fuse::MountArgs),
    /// List (and with --abort, abort) unfinished multipart uploads of BUCKET[/PREFIX].
    Uploads(crate::ops::uploads::UploadsArgs),
    /// Show the files a running mount is uploading (PATH: the mountpoint, or a directory or
    /// file in it), with bytes sent and state.
    Status(crate::ops::status::StatusArgs),
}

/// Parse `args` (the program name first), with `-o` lists expanded; clap's own errors
/// (and `--help`) exit the process as usual.
pub fn parse(args: Vec<OsString>) -> Result<Cli, String> {
    let expanded = crate::ops::mount_options::expand(args).map_err(|e| e.to_string())?;
    Ok(Cli::parse_from(expanded))
}

/// Run the parsed command; the error is printed as one line by `main`.
pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => {
            init_stderr_logging()?;
            crate::ops::preflight::local_dir::check(&args.data).map_err(|e| e.to_string())?;
            crate::server::run_serve(args).map_err(|e| e.to_string())
        }
        Command::Mount(args) => crate::fuse::session::run_mount(args),
        Command::Uploads(args) => {
            init_stderr_logging()?;
            crate::ops::uploads::run(args).map_err(|e| e.to_string())
        }
        Command::Status(args) => crate::ops::status::run(args).map_err(|e| e.to_string()),
    }
}

/// Log to stderr with the `RUST_LOG` filter (default `info`).
fn init_stderr_logging() -> Result<(), String> {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_string());
    crate::logging::init(&filter, &crate::logging::Destination::Stderr).map_err(|e| e.to_string())
}
