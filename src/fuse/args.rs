//! Command-line arguments of `bosmount mount` and their translation into the filesystem's
//! settings ([`FsConfig`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::bos::StorageClass;
use crate::fs::read::ReadConfig;
use crate::fs::write::WriteConfig;
use crate::fs::FsConfig;

/// Default endpoint when neither `--endpoint` nor `--local` is given.
pub const DEFAULT_ENDPOINT: &str = "https://bj.bcebos.com";

/// `bosmount mount BUCKET[/PREFIX] MOUNTPOINT [options]`.
#[derive(Debug, Clone, clap::Args)]
pub struct MountArgs {
    /// Bucket to mount, optionally with a key prefix: BUCKET or BUCKET/PREFIX.
    pub source: String,
    /// Directory to mount on.
    pub mountpoint: PathBuf,
    /// BOS endpoint, e.g. https://bj.bcebos.com or http://127.0.0.1:8080.
    #[arg(long, env = "BOS_ENDPOINT")]
    pub endpoint: Option<String>,
    /// Serve DIR with the embedded local BOS server (loopback, local default credentials) and mount it.
    #[arg(long, value_name = "DIR", conflicts_with = "endpoint")]
    pub local: Option<PathBuf>,
    /// Credentials file (default: BCE_ACCESS_KEY_ID / BCE_SECRET_ACCESS_KEY / BCE_SESSION_TOKEN).
    #[arg(long, value_name = "FILE")]
    pub credentials: Option<PathBuf>,
    /// Stay in the foreground instead of detaching once mounted.
    #[arg(long, short = 'f')]
    pub foreground: bool,
    /// Owner of every file (default: the user running the mount).
    #[arg(long)]
    pub uid: Option<u32>,
    /// Group of every file (default: the group running the mount).
    #[arg(long)]
    pub gid: Option<u32>,
    /// Permission bits of files, octal.
    #[arg(long, default_value = "644", value_parser = parse_mode)]
    pub file_mode: u16,
    /// Permission bits of directories, octal.
    #[arg(long, default_value = "755", value_parser = parse_mode)]
    pub dir_mode: u16,
    /// Seconds metadata (attributes, entries, missing names) is trusted before asking BOS again.
    #[arg(long, default_value_t = 1.0, value_name = "SECS")]
    pub metadata_ttl: f64,
    /// Multipart part size; files smaller than this are one PutObject (e.g. 8MiB, 5242880).
    #[arg(long, default_value = "8MiB", value_parser = parse_size)]
    pub part_size: u64,
    /// Parts uploaded at once per file.
    #[arg(long, default_value_t = 4)]
    pub upload_concurrency: usize,
    /// Largest read-ahead window of a sequential reader (e.g. 64MiB).
    #[arg(long, value_parser = parse_size)]
    pub read_ahead: Option<u64>,
    /// Storage class of new objects (STANDARD, STANDARD_IA, COLD, ARCHIVE…).
    #[arg(long)]
    pub storage_class: Option<StorageClass>,
    /// Bytes an O_APPEND handle gathers before sending an AppendObject.
    #[arg(long, default_value = "256KiB", value_parser = parse_size)]
    pub append_buffer: u64,
    /// Longest wait in milliseconds before appended bytes are sent.
    #[arg(long, default_value_t = 1000)]
    pub append_flush_ms: u64,
    /// Attempts per BOS request before an operation fails (5xx, throttling, connection
    /// failures; waits grow exponentially with jitter, capped at 2 s).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_attempts: u32,
    /// Let other users access the mount (needs user_allow_other in /etc/fuse.conf for non-root).
    #[arg(long)]
    pub allow_other: bool,
    /// Mount read-only.
    #[arg(long)]
    pub read_only: bool,
}

impl MountArgs {
    /// Bucket and prefix of `source`.
    pub fn bucket_and_prefix(&self) -> (String, String) {
        match self.source.split_once('/') {
            Some((bucket, prefix)) => (bucket.to_string(), prefix.to_string()),
            None => (self.source.clone(), String::new()),
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
