//! Command-line arguments of `bosmount mount`, grouped by topic for `--help`, and their
//! translation into the filesystem's settings ([`FsConfig`]) and the log destination.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::bos::StorageClass;
use crate::fs::read::ReadConfig;
use crate::fs::write::WriteConfig;
use crate::fs::FsConfig;
use crate::logging::Destination;

/// Default endpoint when neither `--endpoint` nor `--local` is given.
pub const DEFAULT_ENDPOINT: &str = "https://bj.bcebos.com";

/// Help headings of `bosmount mount --help`, in the order the README follows.
pub mod heading {
    /// Which bucket, where.
    pub const BUCKET: &str = "Bucket and endpoint";
    /// Access keys.
    pub const CREDENTIALS: &str = "Credentials";
    /// Metadata caching and reads.
    pub const CACHING: &str = "Caching and metadata";
    /// Uploads of written files.
    pub const UPLOADS: &str = "Uploads";
    /// O_APPEND writers.
    pub const APPENDS: &str = "Appends";
    /// Owners, modes, access.
    pub const PERMISSIONS: &str = "Permissions";
    /// Logs and metrics.
    pub const LOGGING: &str = "Logging and metrics";
}

/// `bosmount mount BUCKET[/PREFIX] MOUNTPOINT [options]`.
///
/// Every long option can also be given as `-o name=value` (or `-o flag`), as mount(8) and
/// /etc/fstab pass them: `mount -t fuse.bosmount BUCKET /mnt -o endpoint=URL,allow_other`.
#[derive(Debug, Clone, clap::Args)]
pub struct MountArgs {
    /// Bucket to mount, optionally with a key prefix: BUCKET or BUCKET/PREFIX.
    pub source: String,
    /// Directory to mount on.
    pub mountpoint: PathBuf,
    /// Options as mount(8) passes them: -o endpoint=URL,allow_other,ro,uid=1000 (any long
    /// option as name=value; rw, defaults, _netdev, nofail, noauto, user, nodev, nosuid and
    /// x-* are accepted and ignored).
    #[arg(short = 'o', value_name = "OPT[,OPT...]", help_heading = heading::BUCKET)]
    pub options: Vec<String>,
    /// BOS endpoint, e.g. https://bj.bcebos.com or http://127.0.0.1:8080 [default:
    /// https://bj.bcebos.com].
    #[arg(long, env = "BOS_ENDPOINT", help_heading = heading::BUCKET)]
    pub endpoint: Option<String>,
    /// Serve DIR with the embedded local BOS server (loopback, local default credentials) and mount it.
    #[arg(long, value_name = "DIR", conflicts_with = "endpoint", help_heading = heading::BUCKET)]
    pub local: Option<PathBuf>,
    /// Attempts per BOS request before an operation fails (5xx, throttling, connection
    /// failures; waits grow exponentially with jitter, capped at 2 s).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..), help_heading = heading::BUCKET)]
    pub max_attempts: u32,
    /// Credentials file: `access_key_id = …` / `secret_access_key = …` lines, or one
    /// `AK:SK` line; must not be readable by others (chmod 600) [default: the environment,
    /// BCE_ACCESS_KEY_ID / BCE_SECRET_ACCESS_KEY / BCE_SESSION_TOKEN].
    #[arg(long, value_name = "FILE", help_heading = heading::CREDENTIALS)]
    pub credentials: Option<PathBuf>,
    /// Seconds metadata (attributes, entries, missing names) is trusted before asking BOS again.
    #[arg(long, default_value_t = 1.0, value_name = "SECS", help_heading = heading::CACHING)]
    pub metadata_ttl: f64,
    /// Largest read-ahead window of a sequential reader (e.g. 64MiB) [default: 64MiB].
    #[arg(long, value_parser = parse_size, help_heading = heading::CACHING)]
    pub read_ahead: Option<u64>,
    /// Multipart part size, at least 5MiB (BOS's minimum; lower only for a `bosmount serve`
    /// started with a lower --min-part-size); files smaller than this are one PutObject.
    #[arg(long, default_value = "8MiB", value_parser = parse_size, help_heading = heading::UPLOADS)]
    pub part_size: u64,
    /// Parts uploaded at once per file.
    #[arg(long, default_value_t = 4, help_heading = heading::UPLOADS)]
    pub upload_concurrency: usize,
    /// Storage class of new objects (STANDARD, STANDARD_IA, COLD, ARCHIVE…) [default: the
    /// bucket's].
    #[arg(long, help_heading = heading::UPLOADS)]
    pub storage_class: Option<StorageClass>,
    /// Bytes an O_APPEND handle gathers before sending an AppendObject.
    #[arg(long, default_value = "256KiB", value_parser = parse_size, help_heading = heading::APPENDS)]
    pub append_buffer: u64,
    /// Longest wait in milliseconds before appended bytes are sent.
    #[arg(long, default_value_t = 1000, help_heading = heading::APPENDS)]
    pub append_flush_ms: u64,
    /// Owner of every file [default: the user running the mount].
    #[arg(long, help_heading = heading::PERMISSIONS)]
    pub uid: Option<u32>,
    /// Group of every file [default: the group running the mount].
    #[arg(long, help_heading = heading::PERMISSIONS)]
    pub gid: Option<u32>,
    /// Permission bits of files, octal.
    #[arg(long, default_value = "644", value_parser = parse_mode, help_heading = heading::PERMISSIONS)]
    pub file_mode: u16,
    /// Permission bits of directories, octal.
    #[arg(long, default_value = "755", value_parser = parse_mode, help_heading = heading::PERMISSIONS)]
    pub dir_mode: u16,
    /// Let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root).
    #[arg(long, help_heading = heading::PERMISSIONS)]
    pub allow_other: bool,
    /// Mount read-only (-o ro).
    #[arg(long, help_heading = heading::PERMISSIONS)]
    pub read_only: bool,
    /// Stay in the foreground (logs on stderr) instead of detaching once mounted.
    #[arg(long, short = 'f', help_heading = heading::LOGGING)]
    pub foreground: bool,
    /// Append log lines to FILE [default: stderr in the foreground; in the background
    /// syslog when /dev/log exists, else $XDG_STATE_HOME/bosmount/bosmount.log, i.e.
    /// ~/.local/state/bosmount/bosmount.log].
    #[arg(long, value_name = "FILE", conflicts_with = "syslog", help_heading = heading::LOGGING)]
    pub log_file: Option<PathBuf>,
    /// Send log lines to syslog (/dev/log), also in the foreground.
    #[arg(long, help_heading = heading::LOGGING)]
    pub syslog: bool,
    /// Which lines to log, RUST_LOG syntax (e.g. warn, debug, info,bosmount::bos=trace);
    /// SIGUSR2 cycles a running mount through debug, trace and back.
    #[arg(long, value_name = "FILTER", env = "RUST_LOG", default_value = "info", help_heading = heading::LOGGING)]
    pub log_level: String,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 127.0.0.1:9464) [default: off].
    #[arg(long, value_name = "ADDR", help_heading = heading::LOGGING)]
    pub metrics_addr: Option<String>,
}

impl MountArgs {
    /// Bucket and prefix of `source`.
    pub fn bucket_and_prefix(&self) -> (String, String) {
        match self.source.split_once('/') {
            Some((bucket, prefix)) => (bucket.to_string(), prefix.to_string()),
            None => (self.source.clone(), String::new()),
        }
    }

    /// Where log lines go: `--log-file`, `--syslog`, stderr in the foreground, else the
    /// background default (see [`Destination::default_background`]).
    pub fn log_destination(&self, background: bool) -> Destination {
        match (&self.log_file, self.syslog) {
            (Some(path), _) => Destination::File(absolute(path)),
            (None, true) => Destination::Syslog(crate::logging::syslog_socket()),
            (None, false) if background => Destination::default_background(),
            (None, false) => Destination::Stderr,
        }
    }

    /// The filesystem settings these arguments ask for, or why they make no sense.
    pub fn fs_config(&self) -> Result<FsConfig, String> {
        let (bucket, prefix) = self.bucket_and_prefix();
        if !crate::bos::is_valid_bucket_name(&bucket) {
            return Err(format!("invalid bucket name {bucket:?}"));
        }
        if !(self.metadata_ttl.is_finite() && self.metadata_ttl >= 0.0) {
            return Err(format!("invalid --metadata-ttl {}", self.metadata_ttl));
        }
        let write = WriteConfig {
            part_size: usize::try_from(self.part_size).map_err(|_| "part size too large".to_string())?,
            upload_concurrency: self.upload_concurrency,
            append_buffer: usize::try_from(self.append_buffer).map_err(|_| "append buffer too large".to_string())?,
            append_flush_interval: Duration::from_millis(self.append_flush_ms),
        };
        if let Some(problem) = write.problem() {
            return Err(problem);
        }
        let mut read = ReadConfig::default();
        if let Some(window) = self.read_ahead {
            read.max_window = usize::try_from(window).map_err(|_| "read-ahead too large".to_string())?;
            read.initial_window = read.initial_window.min(read.max_window.max(1));
        }
        let mut config = FsConfig::new(bucket, prefix);
        // SAFETY: getuid/getgid cannot fail and touch no memory.
        let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
        config.defaults.uid = self.uid.unwrap_or(uid);
        config.defaults.gid = self.gid.unwrap_or(gid);
        config.defaults.file_mode = self.file_mode;
        config.defaults.dir_mode = self.dir_mode;
        config.metadata_ttl = Duration::from_secs_f64(self.metadata_ttl);
        config.read_only = self.read_only;
        config.storage_class = self.storage_class;
        config.write = Arc::new(write);
        config.max_attempts = self.max_attempts;
        config.read = Arc::new(read);
        Ok(config)
    }
}

/// `path` made absolute against the current directory (a detached mount still knows it).
fn absolute(path: &std::path::Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Octal permission bits, e.g. "644" or "0755".
fn parse_mode(text: &str) -> Result<u16, String> {
    u16::from_str_radix(text.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("invalid mode {text:?} (octal, e.g. 644)"))
}

/// A byte size: a number with an optional K/M/G (or KiB/MiB/GiB) suffix, powers of 1024.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits_end);
    let number: u64 = number.parse().map_err(|_| format!("invalid size {text:?}"))?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(format!("invalid size unit in {text:?}")),
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_modes() {
        assert_eq!(parse_size("8MiB"), Ok(8 << 20));
        assert_eq!(parse_size("5242880"), Ok(5_242_880));
        assert_eq!(parse_size("256k"), Ok(256 << 10));
        assert!(parse_size("x").is_err());
        assert_eq!(parse_mode("0755"), Ok(0o755));
        assert!(parse_mode("999").is_err());
    }
}
