//! Change and modification times of changes made through this mount.
//!
//! The bucket tells a file's times by Last-Modified, in whole seconds, and nothing at all
//! about a directory's entries changing; a chmod or utimes reaches the object up to 500 ms
//! later (`persist`). So the inode remembers when this mount last changed it
//! ([`LocalTimes`]): `ctime` shows the later of Last-Modified and the last change (chmod,
//! chown, utimes, truncate, write, an entry added to or removed from a directory), `mtime` the
//! later of what the bucket says and the last content change (a utimes that sets the
//! modification time replaces it). They last as long as the inode; a remount shows what
//! the bucket stored, and directories then show their marker's Last-Modified again.

use std::time::SystemTime;

use crate::fs::inode::{Inode, InodeNo};
use crate::fs::{BosFs, FsAttr};

/// When this mount last changed a node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalTimes {
    /// Last content change (files) or entry change (directories).
    pub modified: Option<SystemTime>,
    /// Last change of anything.
    pub changed: Option<SystemTime>,
}

impl LocalTimes {
    /// The content (or the entries) changed at `t`.
    pub fn content_at(&mut self, t: SystemTime) {
        self.modified = Some(self.modified.map_or(t, |m| m.max(t)));
        self.changed_at(t);
    }

    /// Attributes changed at `t`.
    pub fn changed_at(&mut self, t: SystemTime) {
        self.changed = Some(self.changed.map_or(t, |c| c.max(t)));
    }
}

/// `attr` with the times this mount knows of `node`.
pub fn apply(node: &Inode, attr: &mut FsAttr) {
    if let Some(m) = node.times.modified {
        if m > attr.mtime {
            if attr.atime == attr.mtime {
                attr.atime = m;
            }
            attr.mtime = m;
        }
    }
    if let Some(c) = node.times.changed {
        attr.ctime = attr.ctime.max(c);
    }
}

impl BosFs {
    /// Directory `dir` got or lost an entry now.
    pub(crate) fn touch_entries(&self, dir: InodeNo) {
        self.touch_content(dir);
    }

    /// The content of `ino` changed now (created, written, truncated).
    pub(crate) fn touch_content(&self, ino: InodeNo) {
        let now = SystemTime::now();
        self.inodes().update(ino, |n| n.times.content_at(now));
    }

    /// Attributes of `ino` changed now; `mtime_set`: to an explicit modification time,
    /// which wins over what the mount remembered.
    pub(crate) fn touch_change(&self, ino: InodeNo, mtime_set: bool) {
        let now = SystemTime::now();
        self.inodes().update(ino, |n| {
            if mtime_set {
                n.times.modified = None;
            }
            n.times.changed_at(now);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_only_move_forward() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(100);
        let mut times = LocalTimes::default();
        times.content_at(t + Duration::from_millis(700));
        times.changed_at(t);
        assert_eq!(times.modified, Some(t + Duration::from_millis(700)));
        assert_eq!(times.changed, Some(t + Duration::from_millis(700)));
    }
}
