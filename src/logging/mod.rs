//! The process's logger: where lines go ([`Destination`]: stderr, a file, or syslog), which
//! lines pass (`RUST_LOG`-style filters, e.g. `info,bosmount::bos=debug`), and changing
//! that filter while the process runs ([`cycle_verbosity`], driven by SIGUSR2 through
//! [`spawn_signal_listener`]).
//!
//! A background mount has no terminal, so [`Destination::default_background`] picks a
//! place where nothing is lost: syslog when `/dev/log` exists (journald on systemd
//! machines), otherwise `$XDG_STATE_HOME/bosmount/bosmount.log`
//! (`~/.local/state/bosmount/bosmount.log`).
//!
//! Submodules: `sink` (writing one line to the destination), `filter` (the filter and
//! its verbosity steps).

mod filter;
mod sink;

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock, RwLock};

pub use filter::VerbosityStep;
pub use sink::{syslog_priority, Destination};

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log file could not be opened.
    #[error("cannot open log file {path}: {source}")]
    Open {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The syslog socket could not be reached.
    #[error("cannot reach syslog at {path}: {source}")]
    Syslog {
        /// The socket.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A logger was already installed.
    #[error("logging is already set up")]
    AlreadySet,
}

/// The installed logger.
struct Logger {
    filter: RwLock<filter::Verbosity>,
    sink: Mutex<sink::Sink>,
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.filter.read().map(|f| f.enabled(metadata)).unwrap_or(true)
    }

    fn log(&self, record: &log::Record<'_>) {
        let matches = self.filter.read().map(|f| f.matches(record)).unwrap_or(true);
        if !matches {
            return;
        }
        if let Ok(mut sink) = self.sink.lock() {
            sink.write(record);
        }
    }

    fn flush(&self) {}
}

static LOGGER: OnceLock<&'static Logger> = OnceLock::new();

/// Install the logger: lines passing `filter` (RUST_LOG syntax) go to `destination`.
pub fn init(filter: &str, destination: &Destination) -> Result<(), LoggingError> {
    let sink = sink::Sink::open(destination)?;
    let verbosity = filter::Verbosity::new(filter);
    let max = verbosity.max_level();
    let logger: &'static Logger = Box::leak(Box::new(Logger {
        filter: RwLock::new(verbosity),
        sink: Mutex::new(sink),
    }));
    log::set_logger(logger).map_err(|_| LoggingError::AlreadySet)?;
    log::set_max_level(max);
    let _ = LOGGER.set(logger);
    Ok(())
}

/// Move to the next verbosity step (base filter → bosmount at debug → bosmount at
/// trace → base filter) and log the new one. Returns the step now in force.
pub fn cycle_verbosity() -> Option<VerbosityStep> {
    let logger = LOGGER.get()?;
    let (step, max) = {
        let mut filter = logger.filter.write().ok()?;
        let step = filter.cycle();
        (step, filter.max_level())
    };
    log::set_max_level(max);
    log::warn!("log verbosity is now {step} (send SIGUSR2 again to change it)");
    Some(step)
}

/// Reopen the log file (after logrotate moved it); a no-op for other destinations.
pub fn reopen() {
    if let Some(logger) = LOGGER.get() {
        if let Ok(mut sink) = logger.sink.lock() {
            if let Err(e) = sink.reopen() {
                drop(sink);
                log::error!("{e}");
            }
        }
    }
}

/// On `runtime`, cycle verbosity on SIGUSR2 and reopen the log file on SIGHUP, for the
/// life of the process.
pub fn spawn_signal_listener(runtime: &tokio::runtime::Handle) {
    use tokio::signal::unix::{signal, SignalKind};
    runtime.spawn(async {
        let (mut usr2, mut hup) = match (signal(SignalKind::user_defined2()), signal(SignalKind::hangup())) {
            (Ok(u), Ok(h)) => (u, h),
            _ => {
                log::warn!("cannot listen for SIGUSR2/SIGHUP: log verbosity stays as it is");
                return;
            }
        };
        loop {
            tokio::select! {
                Some(()) = usr2.recv() => { cycle_verbosity(); }
                Some(()) = hup.recv() => reopen(),
                else => return,
            }
        }
    });
}

/// The default log file of a background mount without syslog.
pub fn default_log_file() -> PathBuf {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    state.join("bosmount").join("bosmount.log")
}

/// The syslog socket, `/dev/log`.
pub fn syslog_socket() -> PathBuf {
    PathBuf::from(sink::SYSLOG_SOCKET)
}
