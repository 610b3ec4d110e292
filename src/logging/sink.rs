//! Where log lines go and how each is written: one line per record, written with one
//! call so concurrent lines never interleave. Files and stderr get
//! `TIMESTAMP LEVEL target: message`; syslog gets one datagram `<PRI>bosmount[PID]:
//! LEVEL target: message` (facility daemon) on its Unix socket.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use super::LoggingError;

/// The standard syslog socket.
pub const SYSLOG_SOCKET: &str = "/dev/log";

/// Where log lines go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard error (the foreground).
    Stderr,
    /// Appended to a file (created with mode 0600 when missing, parents too).
    File(PathBuf),
    /// Datagrams to a syslog socket.
    Syslog(PathBuf),
}

impl Destination {
    /// A background process's default: syslog when its socket exists, else
    /// [`super::default_log_file`].
    pub fn default_background() -> Self {
        use std::os::unix::fs::FileTypeExt;
        let socket = Path::new(SYSLOG_SOCKET);
        match std::fs::metadata(socket) {
            Ok(m) if m.file_type().is_socket() => Destination::Syslog(socket.to_path_buf()),
            _ => Destination::File(super::default_log_file()),
        }
    }

    /// For messages: "syslog (/dev/log)", "FILE", "stderr".
    pub fn describe(&self) -> String {
        match self {
            Destination::Stderr => "stderr".to_string(),
            Destination::File(path) => path.display().to_string(),
            Destination::Syslog(path) => format!("syslog ({})", path.display()),
        }
    }
}

/// An open destination.
pub(super) enum Sink {
    Stderr,
    File { path: PathBuf, file: File },
    Syslog { socket: UnixDatagram },
}

fn open_file(path: &Path) -> Result<File, LoggingError> {
    use std::os::unix::fs::OpenOptionsExt;
    let error = |source| LoggingError::Open {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(error)
}

impl Sink {
    pub(super) fn open(destination: &Destination) -> Result<Sink, LoggingError> {
        Ok(match destination {
            Destination::Stderr => Sink::Stderr,
            Destination::File(path) => Sink::File {
                path: path.clone(),
                file: open_file(path)?,
            },
            Destination::Syslog(path) => {
                let error = |source| LoggingError::Syslog {
                    path: path.display().to_string(),
                    source,
                };
                let socket = UnixDatagram::unbound().map_err(error)?;
                socket.connect(path).map_err(error)?;
                Sink::Syslog { socket }
            }
        })
    }

    /// Open the file again at its path (it may have been rotated away).
    pub(super) fn reopen(&mut self) -> Result<(), LoggingError> {
        if let Sink::File { path, file } = self {
            *file = open_file(path)?;
        }
        Ok(())
    }

    pub(super) fn write(&mut self, record: &log::Record<'_>) {
        let body = format!("{:<5} {}: {}", record.level(), record.target(), record.args());
        match self {
            Sink::Stderr => {
                let _ = std::io::stderr().write_all(stamped(&body).as_bytes());
            }
            Sink::File { file, .. } => {
                let _ = file.write_all(stamped(&body).as_bytes());
            }
            Sink::Syslog { socket } => {
                let line = format!(
                    "<{}>bosmount[{}]: {body}",
                    syslog_priority(record.level()),
                    std::process::id()
                );
                let _ = socket.send(line.as_bytes());
            }
        }
    }
}

fn stamped(body: &str) -> String {
    format!("{} {body}\n", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"))
}

/// The syslog priority of `level` in the daemon facility (3): err, warning, info, debug.
pub fn syslog_priority(level: log::Level) -> u8 {
    let severity = match level {
        log::Level::Error => 3,
        log::Level::Warn => 4,
        log::Level::Info => 6,
        log::Level::Debug | log::Level::Trace => 7,
    };
    3 * 8 + severity
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_lines_are_one_datagram_each() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("log.sock");
        let server = UnixDatagram::bind(&path).expect("bind");
        let mut sink = Sink::open(&Destination::Syslog(path)).expect("open");
        sink.write(
            &log::Record::builder()
                .level(log::Level::Warn)
                .target("bosmount::x")
                .args(format_args!("PutObject a/b failed"))
                .build(),
        );
        let mut buf = [0u8; 512];
        let n = server.recv(&mut buf).expect("recv");
        let text = String::from_utf8_lossy(&buf[..n]);
        assert_eq!(
            text,
            format!(
                "<28>bosmount[{}]: WARN  bosmount::x: PutObject a/b failed",
                std::process::id()
            )
        );
    }

    #[test]
    fn files_are_created_private_and_appended() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("sub/bosmount.log");
        let mut sink = Sink::open(&Destination::File(path.clone())).expect("open");
        for n in 0..2 {
            sink.write(
                &log::Record::builder()
                    .level(log::Level::Info)
                    .target("t")
                    .args(format_args!("line {n}"))
                    .build(),
            );
        }
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(text.lines().count(), 2);
        assert!(text.lines().all(|l| l.contains("INFO  t: line")));
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
