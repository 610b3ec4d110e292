//! Command line: parses `bosmount serve` and `bosmount mount` and hands each to the module
//! that owns it. Each subcommand's arguments are defined next to the code that uses them.

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
}

/// Run the parsed command; the error is printed as one line by `main`.
pub fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => crate::server::run_serve(args).map_err(|e| e.to_string()),
        Command::Mount(args) => crate::fuse::session::run_mount(args),
    }
}
