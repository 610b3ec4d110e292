//! Change and modification times of changes made through this mount.
//!
//! The bucket tells a file's times by Last-Modified, in whole seconds (and so does the mount,
//! except for times set by utimes, stored to the nanosecond), and nothing at all
//! about a directory's entries changing; a chmod or utimes reaches the object up to 500 ms
//! later (`persist`). So the inode remembers when this mount last changed it
//! ([`LocalTimes`]): `ctime` shows the later of Last-Modified and the last change (chmod,
//! chown, utimes, truncate, write, rename, an entry added to or removed from a directory), `mtime` the
//! later of what the bucket says and the last content change (a utimes that sets the
//! modification time wins over it). Our own stores do not move them: a Last-Modified up to
//! [`OWN_STORE_SLACK`] after a change is taken for that change's store (a commit at close, a
//! deferred attribute store), so closing a file or storing a chmod changes no time stat shows. They last as long as the inode; a remount shows what
//! the bucket stored, and directories then show their marker's Last-Modified again.

use std::time::{Duration, SystemTime};

use crate::fs::attr::{whole_seconds, ObjectAttr};
use crate::fs::error::FsResult;
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

/// `attr` with the times this mount knows of `node` (in whole seconds, as the bucket's);
/// `explicit_mtime`: the modification time was set by utimes (stored or pending), and wins.
pub fn apply(node: &Inode, attr: &mut FsAttr, explicit_mtime: bool) {
    if let Some(m) = node.times.modified.filter(|_| !explicit_mtime).map(whole_seconds) {
        // Our own commit lands after the write (at close): within OWN_STORE_SLACK of it, the
        // bucket's time is that commit's, and the write's time stays.
        if m > attr.mtime || attr.mtime <= m + OWN_STORE_SLACK {
            if attr.atime == attr.mtime {
                attr.atime = m;
            }
            attr.mtime = m;
        }
    }
    if let Some(c) = node.times.changed.map(whole_seconds) {
        // Our own store of the change lands a moment after it (deferred, then a copy): a
        // bucket time within OWN_STORE_SLACK after the change is that store's.
        attr.ctime = if attr.ctime > c + OWN_STORE_SLACK {
            attr.ctime
        } else {
            c
        };
    }
    if let Some(local) = node.local {
        // Being written: every write changes the file.
        attr.ctime = attr.ctime.max(whole_seconds(local.mtime));
    }
}

/// How long after a change this mount's own store of it may land: deferred stores wait
/// `persist::DEFER_DELAY` (500 ms), then copy the object.
pub const OWN_STORE_SLACK: Duration = Duration::from_secs(3);

impl BosFs {
    /// Register the node this mount just made as `name` in `parent` (see
    /// [`BosFs::remember_entry`]): its times are those of `attr`, the parent's entries
    /// changed now.
    pub(crate) fn remember_new(&self, parent: InodeNo, name: &str, attr: &ObjectAttr) -> FsResult<FsAttr> {
        let made = self.remember_entry(parent, name, attr)?;
        self.inodes().update(made.ino, |n| n.times.content_at(attr.mtime));
        self.touch_entries(parent);
        let node = self.node(made.ino)?;
        Ok(self.finish_attr(&node, attr))
    }

    /// A node moved now to `new_name` in `new_parent` from `parent`: both directories' entries
    /// changed, and the node itself (it is a new object now, as the bucket's Last-Modified
    /// will say).
    pub(crate) fn touch_renamed(&self, parent: InodeNo, new_parent: InodeNo, new_name: &str) {
        self.touch_entries(parent);
        self.touch_entries(new_parent);
        let moved = self.inodes().child(new_parent, new_name).map(|n| n.ino);
        if let Some(ino) = moved {
            self.touch_change(ino, false);
        }
    }

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
