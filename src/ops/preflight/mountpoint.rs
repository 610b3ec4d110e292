//! The mountpoint must be an existing directory that is not already a mount point; a
//! FUSE mount whose process died ("Transport endpoint is not connected") is named as
//! such, with the command that clears it.

use std::path::{Path, PathBuf};

/// What is wrong with a mountpoint.
#[derive(Debug, thiserror::Error)]
pub enum MountpointError {
    /// Nothing there.
    #[error("mountpoint {0} does not exist (create it with mkdir)")]
    Missing(String),
    /// A file, not a directory.
    #[error("mountpoint {0} is not a directory")]
    NotADirectory(String),
    /// A FUSE mount whose process ended.
    #[error("mountpoint {0} is a stale FUSE mount (its process ended); clear it with: fusermount3 -u {0}")]
    Stale(String),
    /// Something is mounted there already.
    #[error("{path} is already a mount point ({fstype} from {what}); unmount it first: fusermount3 -u {path}")]
    AlreadyMounted {
        /// The mountpoint.
        path: String,
        /// Its filesystem type.
        fstype: String,
        /// What is mounted.
        what: String,
    },
    /// Any other failure to look at it.
    #[error("cannot use mountpoint {path}: {source}")]
    Io {
        /// The mountpoint.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Check `mountpoint` before mounting on it.
pub fn check(mountpoint: &Path) -> Result<(), MountpointError> {
    let shown = mountpoint.display().to_string();
    match std::fs::metadata(mountpoint) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => return Err(MountpointError::NotADirectory(shown)),
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => return Err(MountpointError::Stale(shown)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(MountpointError::Missing(shown)),
        Err(source) => return Err(MountpointError::Io { path: shown, source }),
    }
    let canonical = std::fs::canonicalize(mountpoint).map_err(|source| MountpointError::Io {
        path: shown.clone(),
        source,
    })?;
    if let Some(mount) = mounted_at(&canonical) {
        return Err(MountpointError::AlreadyMounted {
            path: shown,
            fstype: mount.fstype,
            what: mount.source,
        });
    }
    Ok(())
}

/// One line of `/proc/self/mountinfo`, the parts that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// Filesystem type (`fuse.bosmount`).
    pub fstype: String,
    /// What is mounted (`bosmount`, a device).
    pub source: String,
}

/// The mount whose mount point is exactly `path` (canonical), if any.
pub fn mounted_at(path: &Path) -> Option<MountEntry> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines()
        .filter_map(parse_mountinfo_line)
        .find(|m| m.mount_point == path)
}

/// Parse a mountinfo line: `ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAGS…] - FSTYPE SOURCE SUPER`.
pub fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let (before, after) = line.split_once(" - ")?;
    let mount_point = before.split(' ').nth(4)?;
    let mut after = after.split(' ');
    let fstype = after.next()?;
    let source = after.next().unwrap_or("");
    Some(MountEntry {
        mount_point: PathBuf::from(unescape(mount_point)),
        fstype: unescape(fstype),
        source: unescape(source),
    })
}

/// Undo mountinfo's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let digits = &bytes[i + 1..i + 4];
            let octal = std::str::from_utf8(digits)
                .ok()
                .filter(|d| d.bytes().all(|b| (b'0'..=b'7').contains(&b)));
            if let Some(value) = octal.and_then(|d| u8::from_str_radix(d, 8).ok()) {
                out.push(value);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines() {
        let line = "36 35 0:52 / /mnt/my\\040bos rw,nosuid,nodev shared:1 - fuse.bosmount demo/logs rw,user_id=0";
        let m = parse_mountinfo_line(line).expect("parse");
        assert_eq!(m.mount_point, PathBuf::from("/mnt/my bos"));
        assert_eq!(m.fstype, "fuse.bosmount");
        assert_eq!(m.source, "demo/logs");
        assert!(parse_mountinfo_line("garbage").is_none());
        assert_eq!(unescape("a\\134b\\"), "a\\b\\");
    }

    #[test]
    fn files_and_missing_paths_are_refused() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        assert!(matches!(check(&file), Err(MountpointError::NotADirectory(_))));
        assert!(matches!(
            check(&dir.path().join("nope")),
            Err(MountpointError::Missing(_))
        ));
        assert!(check(dir.path()).is_ok());
        assert!(matches!(
            check(Path::new("/proc")),
            Err(MountpointError::AlreadyMounted { .. })
        ));
    }
}
