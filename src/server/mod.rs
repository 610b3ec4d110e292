//! The local BOS-compatible server (`bosmount serve`, and the in-process server behind
//! `bosmount mount --local`): BOS's HTTP API over a durable store in a data directory
//! (blob files plus a redb index), with signature checks, request counters at
//! `GET /_stats`, and fault injection for tests.
//!
//! Layout: `listen` (accept loop, header timeout), [`limits`] (timeouts, upload slots),
//! `routes` (pure routing), `auth_check` (signatures), `stats_access` (who may read
//! `/_stats`), `http` (the request glue), `handlers/*` (one file per group of
//! operations), `request` / `response` (headers), `store/*` (index, blobs, body writer
//! pool, records), [`stats`], `faults`, `exposure` (refusing to listen beyond loopback
//! with public credentials).
//!
//! Data directory: `index.redb` (buckets, objects, uploads, parts; ordered by key bytes;
//! also the content of objects up to 64 KiB written by PutObject or copied from one, so
//! such a PUT is a single durable commit),
//! `blobs/<random id>` (content; an object is a list of blob segments, so a completed
//! multipart upload is its parts' blobs and a copy hard-links them), `tmp/` (bodies being
//! received; bodies up to 256 KiB are taken into memory first and written in one step). A
//! file-backed write is temp file → fsync → rename → index commit → answer once durable, where a durable
//! commit is an fsync of `blobs/` and a redb `Immediate` commit shared by all concurrent
//! writers (group commit, `store/group_commit.rs`); replaced blobs are removed afterwards (once no GET or copy still reads them)
//! and crash leftovers at startup.
//!
//! Decisions where BOS is silent: `RequestExpired` is 400, a signing time more than 15
//! minutes ahead is 403 `RequestTimeTooSkewed`; with configured credentials lacking an STS
//! token any `x-bce-security-token` is accepted (it is still signed), with a token it must
//! match (else 400 `InvalidSessionToken`). Requests are counted in `/_stats` after routing,
//! before fault injection and authentication. Normal objects report
//! `x-bce-object-type: Normal`. Appendable objects report `Content-MD5` of their whole
//! content after every append: the index record keeps the resumable MD5 state, extended
//! with each append's bytes as they arrive (never a re-read of the object).

mod auth_check;
mod error;
mod exposure;
mod faults;
mod handlers;
mod http;
pub mod limits;
mod listen;
mod request;
mod response;
mod routes;
pub mod stats;
mod stats_access;
mod store;

use crate::bos::credentials::Credentials;
use crate::bos::types::MIN_PART_SIZE;
pub use limits::ServeLimits;
pub use stats::StatsSnapshot;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
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

impl ServerConfig {
    /// Defaults for a server over `data_dir`: the local default credentials, 5 MiB minimum
    /// part, no latency, no faults, region `bj`, no bucket.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        ServerConfig {
            data_dir: data_dir.into(),
            buckets: Vec::new(),
            credentials: Some(Credentials::local_default()),
            min_part_size: MIN_PART_SIZE,
            latency: Duration::ZERO,
            fail_rate: 0.0,
            refuse_appendable_copy: false,
            region: "bj".to_string(),
        }
    }
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
    /// Create this bucket at start if absent (repeatable).
    #[arg(long = "bucket")]
    pub buckets: Vec<String>,
    /// Accept unsigned requests (no signature checks).
    #[arg(long)]
    pub anonymous: bool,
    /// Smallest non-last part accepted at CompleteMultipartUpload, in bytes.
    #[arg(long, default_value_t = MIN_PART_SIZE)]
    pub min_part_size: u64,
    /// Delay every response by this many milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Answer this share (0..1) of requests with 500 / 503 / 429 before doing anything.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Seed of the fault injection, for reproducible runs.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Refuse CopyObject of an Appendable object to another key (400 NotAllowCopy).
    #[arg(long)]
    pub refuse_appendable_copy: bool,
    /// Region reported by GetBucketLocation and ListBuckets.
    #[arg(long, default_value = "bj")]
    pub region: String,
    /// Seconds a client has to send request headers (also how long an idle connection stays open).
    #[arg(long, default_value_t = 75)]
    pub header_timeout_secs: u64,
    /// Seconds a request body may stall before the request fails (400 RequestTimeout) and the connection closes.
    #[arg(long, default_value_t = 60)]
    pub body_idle_timeout_secs: u64,
    /// Request bodies received at once; more are answered 503 SlowDown.
    #[arg(long, default_value_t = 512)]
    pub max_uploads: usize,
    /// Listen on a non-loopback address even with the built-in default credentials or --anonymous.
    #[arg(long)]
    pub allow_insecure_listen: bool,
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// An I/O failure.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The data directory could not be opened or is invalid.
    #[error("cannot open the data directory: {0}")]
    Store(String),
    /// Listening where others can connect with credentials everyone knows (or none).
    #[error("{0}")]
    Exposed(#[from] exposure::Exposed),
}

/// A server running on the current tokio runtime.
#[derive(Debug)]
pub struct RunningServer {
    /// Address it listens on.
    pub addr: SocketAddr,
    stats: Arc<stats::Stats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// The request counters now.
    pub fn stats(&self) -> StatsSnapshot {
        self.stats.snapshot()
    }

    /// Set the counters back to zero.
    pub fn reset_stats(&self) {
        self.stats.reset()
    }

    /// `http://ADDR`, the endpoint clients use.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stop accepting connections, let requests in flight finish (at most 10 s), and return.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(10), &mut task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => log::warn!("server ended with an error: {e}"),
                Ok(Err(e)) => log::warn!("server task failed: {e}"),
                Err(_) => {
                    log::warn!("requests still running after 10 s; stopping anyway");
                    task.abort();
                }
            }
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Start serving on `listener` (bind `127.0.0.1:0` in tests).
pub async fn start(config: ServerConfig, listener: tokio::net::TcpListener) -> Result<RunningServer, ServerError> {
    start_with_seed(config, listener, None).await
}

/// [`start`] with a seed for the fault injection (reproducible failures).
pub async fn start_with_seed(
    config: ServerConfig,
    listener: tokio::net::TcpListener,
    seed: Option<u64>,
) -> Result<RunningServer, ServerError> {
    start_with_limits(config, ServeLimits::default(), listener, seed).await
}

/// [`start_with_seed`] with explicit timeouts and upload limits.
pub async fn start_with_limits(
    config: ServerConfig,
    limits: ServeLimits,
    listener: tokio::net::TcpListener,
    seed: Option<u64>,
) -> Result<RunningServer, ServerError> {
    let addr = listener.local_addr()?;
    let store = store::Store::open(config.data_dir.clone(), config.buckets.clone(), limits.body_io_threads)
        .await
        .map_err(|e| ServerError::Store(e.message))?;
    let stats = Arc::new(stats::Stats::default());
    let header_timeout = limits.header_timeout;
    let state = Arc::new(http::AppState {
        faults: faults::Faults::new(config.fail_rate, seed),
        config: Arc::new(config),
        store,
        stats: Arc::clone(&stats),
        uploads: limits::UploadGate::new(limits.max_uploads),
        limits,
    });
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(listen::serve(listener, state, header_timeout, stopped));
    Ok(RunningServer {
        addr,
        stats,
        stop: Some(stop),
        task: Some(task),
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Run `bosmount serve` until SIGINT/SIGTERM. Credentials come from `BCE_ACCESS_KEY_ID` /
/// `BCE_SECRET_ACCESS_KEY` (and `BCE_SESSION_TOKEN`), else the local defaults
/// ([`Credentials::local_default`]); `--anonymous` turns signature checks off. A
/// non-loopback `--listen` with the defaults or `--anonymous` is refused unless
/// `--allow-insecure-listen` is given.
pub fn run_serve(args: ServeArgs) -> Result<(), ServerError> {
    let credentials = if args.anonymous {
        None
    } else {
        Some(Credentials::from_env().unwrap_or_else(Credentials::local_default))
    };
    let config = ServerConfig {
        data_dir: args.data.clone(),
        buckets: args.buckets.clone(),
        credentials: credentials.clone(),
        min_part_size: args.min_part_size,
        latency: Duration::from_millis(args.latency_ms),
        fail_rate: args.fail_rate,
        refuse_appendable_copy: args.refuse_appendable_copy,
        region: args.region.clone(),
    };
    let limits = ServeLimits {
        header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
        body_idle_timeout: Duration::from_secs(args.body_idle_timeout_secs.max(1)),
        max_uploads: args.max_uploads.max(1),
        ..ServeLimits::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&args.listen).await?;
        if !args.allow_insecure_listen {
            exposure::check(listener.local_addr()?, credentials.as_ref())?;
        }
        let server = start_with_limits(config, limits, listener, args.seed).await?;
        println!("bosmount serve: listening on http://{}", server.addr);
        match &credentials {
            Some(c) => println!("bosmount serve: access key id {}", c.access_key_id),
            None => println!("bosmount serve: anonymous (signatures are not checked)"),
        }
        println!("bosmount serve: data in {}", args.data.display());
        use std::io::Write;
        let _ = std::io::stdout().flush();
        wait_for_signal().await;
        log::info!("shutting down");
        server.shutdown().await;
        Ok(())
    })
}
