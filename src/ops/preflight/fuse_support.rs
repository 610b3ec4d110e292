//! What mounting needs from the machine: the FUSE device and the `fusermount3` helper (every
//! mount goes through it, so that a killed mount is detached and its type reads
//! `fuse.bosmount`). Without them the kernel or the spawn says only "No such file or
//! directory"; this names what is missing and the package that brings it.

use std::path::{Path, PathBuf};

/// What the machine lacks for a FUSE mount.
#[derive(Debug, thiserror::Error)]
pub enum FuseSupportError {
    /// No `/dev/fuse`.
    #[error("{0} is missing: load the fuse kernel module (modprobe fuse), or in a container pass the device (--device /dev/fuse)")]
    NoDevice(String),
    /// `fusermount3` is not on `PATH`.
    #[error("fusermount3 is not installed (looked in PATH): install the fuse3 package (apt-get install fuse3)")]
    NoHelper,
}

/// The FUSE device.
const DEVICE: &str = "/dev/fuse";
/// The mount helper.
const HELPER: &str = "fusermount3";

/// Check that `/dev/fuse` exists and `fusermount3` is found in `path` (the `PATH` value,
/// `None` when unset).
pub fn check(path: Option<&std::ffi::OsStr>) -> Result<(), FuseSupportError> {
    check_with(Path::new(DEVICE), path)
}

fn check_with(device: &Path, path: Option<&std::ffi::OsStr>) -> Result<(), FuseSupportError> {
    if !device.exists() {
        return Err(FuseSupportError::NoDevice(device.display().to_string()));
    }
    find_helper(path).map(|_| ()).ok_or(FuseSupportError::NoHelper)
}

/// Where a program run with no `PATH` is looked for (as `execvp` and Rust's `Command` do):
/// mount(8) starts its helpers with an empty environment.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Where `fusermount3` is in `path` (unset: [`DEFAULT_PATH`]), if anywhere.
fn find_helper(path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let path = path.unwrap_or(std::ffi::OsStr::new(DEFAULT_PATH));
    std::env::split_paths(path)
        .map(|dir| dir.join(HELPER))
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

    #[test]
    fn a_missing_helper_names_the_package() {
        let empty = tempfile::tempdir().expect("dir");
        let device = empty.path().join("fuse");
        std::fs::write(&device, b"").expect("device stand-in");
        let err = check_with(&device, Some(empty.path().as_os_str())).expect_err("no helper");
        assert!(err.to_string().contains("apt-get install fuse3"), "{err}");
        let helper = empty.path().join(HELPER);
        std::fs::write(&helper, b"#!/bin/sh\n").expect("helper");
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        check_with(&device, Some(empty.path().as_os_str())).expect("helper found");
    }

    #[test]
    fn an_unset_path_searches_where_exec_would() {
        let found = find_helper(None);
        let expected = ["/bin", "/usr/bin"]
            .iter()
            .map(|d| Path::new(d).join(HELPER))
            .find(|p| is_executable(p));
        assert_eq!(found, expected);
    }

    #[test]
    fn a_missing_device_says_what_to_do() {
        let empty = tempfile::tempdir().expect("dir");
        let err = check_with(&empty.path().join("fuse"), Some(empty.path().as_os_str())).expect_err("no device");
        assert!(err.to_string().contains("modprobe fuse"), "{err}");
    }
}
