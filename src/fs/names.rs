//! Names: which file names the kernel may give us become which BOS keys, and which keys
//! found in listings can be shown as file names.
//!
//! BOS keys are UTF-8, 1..=1023 bytes, and the seed page reserves '@'. A path component
//! is at most 255 bytes (NAME_MAX) and never empty, "." or "..", nor contains '/'. Keys
//! that break the component rules (made by other tools: "a//b", "a/./b") are skipped in
//! listings with a warning; names that break the key rules are refused with an errno.

use std::ffi::OsStr;

use crate::bos::MAX_KEY_LENGTH;
use crate::fs::error::{FsError, FsResult};

/// Longest path component (NAME_MAX).
pub const MAX_NAME_LENGTH: usize = 255;

/// A name the kernel handed us, as UTF-8 (BOS keys are UTF-8; other bytes cannot be stored).
pub fn component(name: &OsStr) -> FsResult<&str> {
    let text = name
        .to_str()
        .ok_or_else(|| FsError::InvalidName(format!("{name:?} is not UTF-8")))?;
    if text.len() > MAX_NAME_LENGTH {
        return Err(FsError::NameTooLong(format!(
            "{} bytes > {MAX_NAME_LENGTH}",
            text.len()
        )));
    }
    if text.is_empty() || text == "." || text == ".." || text.contains('/') {
        return Err(FsError::InvalidName(format!("{text:?}")));
    }
    Ok(text)
}

/// Check a key we are about to create (file, directory marker, rename target).
/// `key` is the full object key; for a directory pass the key with its trailing '/'.
pub fn check_new_key(key: &str) -> FsResult<()> {
    if key.len() > MAX_KEY_LENGTH {
        log::warn!(
            "refusing {key:?}: BOS keys are at most {MAX_KEY_LENGTH} bytes (this one is {})",
            key.len()
        );
        return Err(FsError::NameTooLong(format!(
            "key of {} bytes > {MAX_KEY_LENGTH}",
            key.len()
        )));
    }
    if key.contains('@') {
        log::warn!("refusing {key:?}: BOS reserves '@' in object keys");
        return Err(FsError::InvalidName(format!(
            "{key:?} contains '@', which BOS reserves"
        )));
    }
    Ok(())
}

/// Check a key we are about to look up: longer than BOS allows means it cannot exist.
pub fn check_lookup_key(key: &str) -> FsResult<()> {
    if key.len() > MAX_KEY_LENGTH {
        return Err(FsError::NameTooLong(format!(
            "key of {} bytes > {MAX_KEY_LENGTH}",
            key.len()
        )));
    }
    Ok(())
}

/// Whether a name taken from a listing can be shown as a directory entry. Logs why not.
pub fn listing_name_ok(name: &str, key: &str) -> bool {
    let problem = if name.is_empty() {
        "empty path segment"
    } else if name == "." || name == ".." {
        "'.' or '..' segment"
    } else if name.len() > MAX_NAME_LENGTH {
        "segment longer than 255 bytes"
    } else if name.contains('\0') {
        "NUL byte"
    } else {
        return true;
    };
    log::warn!("skipping object {key:?}: {problem} cannot be a file name");
    false
}

/// Name of the per-directory attribute index object the mount keeps (see
/// [`crate::fs::attr_index`]): hidden from listings, refused as a file name.
pub const ATTR_INDEX_NAME: &str = ".bosmount-attrs.json";

/// Refuse names the mount keeps for itself.
pub fn check_not_reserved(name: &str) -> FsResult<()> {
    if name == ATTR_INDEX_NAME {
        log::warn!("refusing {name:?}: the mount keeps this name for its attribute index");
        return Err(FsError::InvalidName(format!("{name} is reserved by bosmount")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components() {
        assert_eq!(component(OsStr::new("a.txt")).expect("ok"), "a.txt");
        assert!(matches!(
            component(OsStr::new(&"x".repeat(256))),
            Err(FsError::NameTooLong(_))
        ));
        assert!(component(OsStr::new("..")).is_err());
    }

    #[test]
    fn new_keys() {
        assert!(check_new_key("dir/file").is_ok());
        assert_eq!(check_new_key("a@b").map_err(|e| e.errno()), Err(libc::EINVAL));
        assert_eq!(
            check_new_key(&"k".repeat(1024)).map_err(|e| e.errno()),
            Err(libc::ENAMETOOLONG)
        );
    }

    #[test]
    fn listing_names() {
        assert!(listing_name_ok("a", "p/a"));
        assert!(!listing_name_ok("", "p//"));
        assert!(!listing_name_ok("..", "p/../"));
        assert!(!listing_name_ok(&"y".repeat(256), "long"));
    }
}
