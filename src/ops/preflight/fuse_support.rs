//! What mounting needs from the machine: the FUSE device and a mount helper (`fusermount3`,
//! run by fuser, so that a killed mount is detached and its type reads `fuse.bosmount`).
//! Without them the kernel or the spawn says only "No such file or directory"; this names
//! what is missing and the package that brings it. The device is checked before mounting;
//! the helper is looked for only once a mount failed that way, among the very candidates
//! fuser tries, so a machine fuser can mount on is never refused.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

/// What the machine lacks for a FUSE mount.
#[derive(Debug, thiserror::Error)]
pub enum FuseSupportError {
    /// No `/dev/fuse`.
    #[error("{0} is missing: load the fuse kernel module (modprobe fuse), or in a container pass the device (--device /dev/fuse)")]
    NoDevice(String),
    /// No mount helper where fuser looks for one.
    #[error("fusermount3 is not installed (looked for fusermount3 and fusermount in {searched}): install the fuse3 package (apt-get install fuse3)")]
    NoHelper {
        /// Where it was looked for.
        searched: String,
    },
    /// `FUSERMOUNT_PATH` names a helper that is not there.
    #[error("FUSERMOUNT_PATH names {0}, which is not an executable file")]
    BadHelperPath(String),
}

/// The FUSE device.
const DEVICE: &str = "/dev/fuse";
/// Helper names fuser runs, in its order of preference.
const HELPERS: [&str; 3] = ["fusermount3", "fusermount", "mount_fusefs"];
/// Directories fuser also tries by absolute path.
const FIXED_DIRS: [&str; 2] = ["/sbin", "/bin"];
/// Where a program run with no `PATH` is looked for (as `execvp` and Rust's `Command` do):
/// mount(8) may start its helpers with an empty environment.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Check that `/dev/fuse` exists.
pub fn check_device() -> Result<(), FuseSupportError> {
    check_device_at(Path::new(DEVICE))
}

fn check_device_at(device: &Path) -> Result<(), FuseSupportError> {
    if device.exists() {
        Ok(())
    } else {
        Err(FuseSupportError::NoDevice(device.display().to_string()))
    }
}

/// Why mounting failed with `error`, when it is the missing helper; `None` otherwise.
pub fn explain_mount_failure(error: &std::io::Error) -> Option<FuseSupportError> {
    if error.kind() != std::io::ErrorKind::NotFound {
        return None;
    }
    let path = std::env::var_os("PATH");
    missing_helper(std::env::var_os("FUSERMOUNT_PATH"), path.as_deref())
}

/// The error for a machine with no helper fuser would find, given `FUSERMOUNT_PATH` and
/// `PATH` (`None`: unset).
fn missing_helper(override_path: Option<OsString>, path: Option<&OsStr>) -> Option<FuseSupportError> {
    if let Some(named) = override_path {
        let found = if Path::new(&named).components().count() > 1 {
            is_executable(Path::new(&named))
        } else {
            search_path(path, &named.to_string_lossy()).is_some()
        };
        return (!found).then(|| FuseSupportError::BadHelperPath(named.to_string_lossy().into_owned()));
    }
    let in_path = HELPERS.iter().any(|name| search_path(path, name).is_some());
    let fixed = FIXED_DIRS
        .iter()
        .flat_map(|dir| HELPERS.iter().map(move |name| Path::new(dir).join(name)))
        .any(|candidate| is_executable(&candidate));
    if in_path || fixed {
        return None;
    }
    let shown = path.map_or_else(|| DEFAULT_PATH.to_string(), |p| p.to_string_lossy().into_owned());
    Some(FuseSupportError::NoHelper {
        searched: format!("{shown}:{}", FIXED_DIRS.join(":")),
    })
}

/// Where `name` is in `path` (unset: [`DEFAULT_PATH`]), if anywhere.
fn search_path(path: Option<&OsStr>, name: &str) -> Option<PathBuf> {
    let path = path.unwrap_or(OsStr::new(DEFAULT_PATH));
    std::env::split_paths(path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn executable(path: &Path) {
        std::fs::write(path, b"#!/bin/sh\n").expect("helper");
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    #[test]
    fn a_helper_in_path_or_named_by_fusermount_path_is_found() {
        let dir = tempfile::tempdir().expect("dir");
        let path = Some(dir.path().as_os_str());
        let fuse2 = dir.path().join("fusermount");
        executable(&fuse2);
        assert!(
            missing_helper(None, path).is_none(),
            "fuse2's helper is enough for fuser"
        );
        assert!(missing_helper(Some(fuse2.clone().into_os_string()), path).is_none());
        let err = missing_helper(Some(dir.path().join("nothing").into_os_string()), path).expect("missing");
        assert!(err.to_string().contains("FUSERMOUNT_PATH"), "{err}");
    }

    #[test]
    fn the_message_names_the_package_and_where_it_looked() {
        let err = FuseSupportError::NoHelper {
            searched: "/empty:/sbin:/bin".into(),
        };
        assert!(err.to_string().contains("apt-get install fuse3"), "{err}");
        assert!(err.to_string().contains("/empty:/sbin:/bin"), "{err}");
    }

    #[test]
    fn other_failures_are_not_explained_as_a_missing_helper() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(explain_mount_failure(&denied).is_none());
    }

    #[test]
    fn a_missing_device_says_what_to_do() {
        let empty = tempfile::tempdir().expect("dir");
        let err = check_device_at(&empty.path().join("fuse")).expect_err("no device");
        assert!(err.to_string().contains("modprobe fuse"), "{err}");
    }
}
