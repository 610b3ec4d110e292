//! The local BOS-compatible server (`bosmount serve`, and the in-process server behind
//! `bosmount mount --local`). Interface only; the implementation lands with the server work.

use crate::bos::credentials::Credentials;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings of the local server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Directory holding objects and the index; created if missing.
    pub data_dir: PathBuf,
    /// Buckets created at start when absent.
    pub buckets: Vec<String>,
    /// Accepted credentials; `None` = anonymous (no signature check).
    pub credentials: Option<Credentials>,
    /// Smallest non-last part accepted at CompleteMultipartUpload.
    pub min_part_size: u64,
    /// Delay added to every response.
    pub latency: Duration,
    /// Share of requests (0.0..=1.0) answered with 500 / 503 / RequestRateLimitExceeded.
    pub fail_rate: f64,
    /// Refuse CopyObject of an Appendable object to another key (400 NotAllowCopy), as BOS has been seen to.
    pub refuse_appendable_copy: bool,
    /// Region reported by GetBucketLocation and ListBuckets.
    pub region: String,
}

/// Command-line arguments of `bosmount serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Data directory.
    #[arg(long)]
    pub data: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// An I/O failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// A server running on the current tokio runtime.
#[derive(Debug)]
pub struct RunningServer {
    /// Address it listens on.
    pub addr: SocketAddr,
}

/// Start serving on `listener` (bind `127.0.0.1:0` in tests).
pub async fn start(_config: ServerConfig, _listener: tokio::net::TcpListener) -> Result<RunningServer, ServerError> {
    Err(ServerError::Io(std::io::Error::other("server not implemented yet")))
}

/// Run `bosmount serve` until SIGINT/SIGTERM.
pub fn run_serve(_args: ServeArgs) -> Result<(), ServerError> {
    Err(ServerError::Io(std::io::Error::other("server not implemented yet")))
}
