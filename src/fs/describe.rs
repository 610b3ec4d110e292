//! How log lines name a file: its path under the mount point and its BOS key, so a warning
//! says which file a failure was about. Both are quoted and escaped (a name holding a newline
//! cannot forge a log line). Described only when a line is written.

use std::ffi::OsStr;

use super::attr::NodeKind;
use super::inode::child_key;
use super::{BosFs, InodeNo};

impl BosFs {
    /// `"/dir/file" (key "prefix/dir/file")` for `ino`; an unlinked file says so, an inode the
    /// mount no longer knows gives its number.
    pub fn describe(&self, ino: InodeNo) -> String {
        match self.inodes().get(ino) {
            Some(node) => {
                let named = self.describe_key(&node.key);
                if node.live_key().is_some() {
                    named
                } else {
                    format!("{named}, unlinked")
                }
            }
            None => format!("inode {}", ino.0),
        }
    }

    /// The entry `name` of directory `parent`, described like [`BosFs::describe`].
    pub fn describe_entry(&self, parent: InodeNo, name: &OsStr) -> String {
        let name = name.to_string_lossy();
        match self.inodes().get(parent) {
            Some(dir) => self.describe_key(&child_key(&dir.key, &name, NodeKind::File)),
            None => format!("{name:?} in inode {}", parent.0),
        }
    }

    fn describe_key(&self, key: &str) -> String {
        let below = key.strip_prefix(self.config.prefix.as_str()).unwrap_or(key);
        let path = format!("/{}", super::path_of(below));
        format!("{path:?} (key {key:?})")
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::bos::memory::InMemoryBos;
    use crate::fs::{BosFs, FsConfig, InodeNo};

    #[tokio::test]
    async fn names_the_path_under_the_mount_and_the_key() {
        let bos = Arc::new(InMemoryBos::with_bucket("b"));
        let fs = BosFs::new(bos, FsConfig::new("b", "logs/"));
        assert_eq!(
            fs.describe_entry(InodeNo::ROOT, std::ffi::OsStr::new("app.log")),
            "\"/app.log\" (key \"logs/app.log\")"
        );
        assert_eq!(fs.describe(InodeNo::ROOT), "\"/\" (key \"logs/\")");
        assert_eq!(fs.describe(InodeNo(999)), "inode 999");
        assert_eq!(
            fs.describe_entry(InodeNo::ROOT, std::ffi::OsStr::new("a\nb")),
            "\"/a\\nb\" (key \"logs/a\\nb\")",
            "a newline stays escaped"
        );
    }
}
