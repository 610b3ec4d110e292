//! Ownership and permission rules: who owns a new node, who may chown and chmod.
//!
//! The mount sets `default_permissions`, so the kernel checks access (read, write, search,
//! sticky directories, utimes) against the attributes we report; what this module owns is
//! that those attributes are right:
//!
//! - A new file, directory, symlink or special node belongs to the calling process's uid and
//!   gid ([`Caller`]), or to the directory's group when the directory is set-group-ID, and a
//!   directory made in such a directory is set-group-ID too. Only values that differ from the
//!   mount's `--uid`/`--gid` are stored, so objects without ownership metadata keep showing
//!   those.
//! - chown: only root changes the owner (to another uid); the owner may change the group to
//!   one of its groups (primary, or supplementary as listed in `/proc/PID/status`); anything
//!   else is EPERM. A chown of a non-directory clears set-user-ID, and set-group-ID when the
//!   group may execute (as Linux does; the kernel also asks for it).
//! - chmod: root or the owner; anybody may clear set-user-ID and set-group-ID (the kernel does
//!   so when a non-owner writes the file).

use crate::fs::attr::Perms;
use crate::fs::error::{FsError, FsResult};
use crate::fs::inode::InodeNo;
use crate::fs::{BosFs, FsAttr};

/// `S_ISUID`, `S_ISGID` and `S_IXGRP`.
const S_ISUID: u16 = 0o4000;
const S_ISGID: u16 = 0o2000;
const S_IXGRP: u16 = 0o0010;

/// The process a request comes from, as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    /// Effective user id (fsuid).
    pub uid: u32,
    /// Effective group id (fsgid).
    pub gid: u32,
    /// Process id (for its supplementary groups).
    pub pid: u32,
}

impl Caller {
    /// Whether the caller is root.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// Whether the caller is in group `gid`: its own, or one of its supplementary groups.
    pub fn in_group(&self, gid: u32) -> bool {
        gid == self.gid || supplementary_groups(self.pid).contains(&gid)
    }
}

/// The supplementary groups of process `pid` (the `Groups:` line of `/proc/PID/status`);
/// none when the process is gone or the line unreadable.
pub fn supplementary_groups(pid: u32) -> Vec<u32> {
    match std::fs::read_to_string(format!("/proc/{pid}/status")) {
        Ok(status) => parse_groups(&status),
        Err(e) => {
            log::debug!("supplementary groups of process {pid}: {e}");
            Vec::new()
        }
    }
}

fn parse_groups(status: &str) -> Vec<u32> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("Groups:"))
        .map(|g| g.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        .unwrap_or_default()
}

/// Owner, group and permission bits of a node `caller` makes with `mode` in directory `parent`.
pub fn new_owner(caller: &Caller, parent: &FsAttr, mode: u16, dir: bool) -> (u32, u32, u16) {
    if parent.perm & S_ISGID != 0 {
        let mode = if dir { mode | S_ISGID } else { mode };
        (caller.uid, parent.gid, mode)
    } else {
        (caller.uid, caller.gid, mode)
    }
}

/// Why `caller` may not give `attr` owner `uid` and group `gid` (`None`: unchanged).
pub fn check_chown(caller: &Caller, attr: &FsAttr, uid: Option<u32>, gid: Option<u32>) -> FsResult<()> {
    if caller.is_root() {
        return Ok(());
    }
    if uid.is_some_and(|u| u != attr.uid) {
        return Err(FsError::NotPermitted("only root may change the owner".into()));
    }
    if let Some(gid) = gid {
        if caller.uid != attr.uid {
            return Err(FsError::NotPermitted("only the owner may change the group".into()));
        }
        if gid != attr.gid && !caller.in_group(gid) {
            return Err(FsError::NotPermitted(format!("the caller is not in group {gid}")));
        }
    }
    Ok(())
}

/// Why `caller` may not set the permission bits of `attr` to `mode`.
pub fn check_chmod(caller: &Caller, attr: &FsAttr, mode: u16) -> FsResult<()> {
    let only_clears_ids = mode == attr.perm & !(S_ISUID | S_ISGID) || mode == attr.perm;
    if caller.is_root() || caller.uid == attr.uid || only_clears_ids {
        return Ok(());
    }
    Err(FsError::NotPermitted("only the owner may change the mode".into()))
}

/// The permission bits of `attr` after a chown to a new owner or group: a non-directory loses
/// set-user-ID, and set-group-ID when its group may execute it.
pub fn mode_after_chown(attr: &FsAttr) -> u16 {
    if attr.is_dir() {
        return attr.perm;
    }
    let mut mode = attr.perm & !S_ISUID;
    if mode & S_IXGRP != 0 {
        mode &= !S_ISGID;
    }
    mode
}

impl BosFs {
    /// The attributes to store with a node `caller` makes with `mode` in `parent`: the mode
    /// when it differs from the mount's default (directories: always, as mkdir always did),
    /// owner and group when they differ from `--uid`/`--gid`.
    pub(crate) async fn initial_perms(
        &self,
        parent: InodeNo,
        caller: Option<&Caller>,
        mode: u16,
        dir: bool,
    ) -> FsResult<Perms> {
        let defaults = self.config.defaults;
        let (uid, gid, mode) = match caller {
            Some(caller) => {
                let parent_attr = self.getattr(parent).await?;
                let (uid, gid, mode) = new_owner(caller, &parent_attr, mode, dir);
                (Some(uid), Some(gid), mode)
            }
            None => (None, None, mode),
        };
        let default_mode = if dir { defaults.dir_mode } else { defaults.file_mode };
        Ok(Perms {
            mode: (dir || mode != default_mode).then_some(mode),
            uid: uid.filter(|u| *u != defaults.uid),
            gid: gid.filter(|g| *g != defaults.gid),
            ..Perms::default()
        })
    }

    /// setattr on behalf of `caller`: chown and chmod follow the rules of the module doc.
    pub async fn setattr_as(
        &self,
        caller: &Caller,
        ino: InodeNo,
        fh: Option<u64>,
        mut changes: crate::fs::SetAttr,
    ) -> FsResult<FsAttr> {
        let chown = changes.uid.is_some() || changes.gid.is_some();
        if chown || changes.mode.is_some() {
            let attr = self.getattr(ino).await?;
            check_chown(caller, &attr, changes.uid, changes.gid)?;
            if let Some(mode) = changes.mode {
                check_chmod(caller, &attr, (mode & 0o7777) as u16)?;
            }
            let changes_owner =
                changes.uid.is_some_and(|u| u != attr.uid) || changes.gid.is_some_and(|g| g != attr.gid);
            if changes_owner && changes.mode.is_none() {
                let mode = mode_after_chown(&attr);
                if mode != attr.perm {
                    changes.mode = Some(mode as u32);
                }
            }
        }
        self.setattr(ino, fh, changes).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::attr::NodeKind;
    use std::time::UNIX_EPOCH;

    fn attr(kind: NodeKind, perm: u16, uid: u32, gid: u32) -> FsAttr {
        FsAttr {
            ino: InodeNo(5),
            kind,
            size: 0,
            atime: UNIX_EPOCH,
            mtime: UNIX_EPOCH,
            ctime: UNIX_EPOCH,
            perm,
            nlink: 1,
            uid,
            gid,
            special: None,
        }
    }

    fn me(uid: u32, gid: u32) -> Caller {
        // Our own pid: its supplementary groups are real but never 4242.
        Caller {
            uid,
            gid,
            pid: std::process::id(),
        }
    }

    #[test]
    fn new_nodes_belong_to_the_caller_or_a_setgid_group() {
        let plain = attr(NodeKind::Directory, 0o755, 0, 0);
        assert_eq!(
            new_owner(&me(65534, 65534), &plain, 0o644, false),
            (65534, 65534, 0o644)
        );
        let setgid = attr(NodeKind::Directory, 0o2775, 0, 50);
        assert_eq!(new_owner(&me(65534, 65534), &setgid, 0o644, false), (65534, 50, 0o644));
        assert_eq!(new_owner(&me(65534, 65534), &setgid, 0o755, true), (65534, 50, 0o2755));
    }

    #[test]
    fn chown_rules() {
        let file = attr(NodeKind::File, 0o6755, 1000, 1000);
        assert!(check_chown(&me(0, 0), &file, Some(7), Some(7)).is_ok());
        assert!(
            check_chown(&me(1000, 1000), &file, Some(1000), None).is_ok(),
            "no change"
        );
        assert!(check_chown(&me(1000, 1000), &file, Some(7), None).is_err());
        assert!(check_chown(&me(1000, 1000), &file, None, Some(1000)).is_ok());
        assert!(check_chown(&me(1000, 1000), &file, None, Some(4242)).is_err());
        assert!(
            check_chown(&me(1001, 4242), &file, None, Some(4242)).is_err(),
            "not the owner"
        );
        assert_eq!(mode_after_chown(&file), 0o0755);
        assert_eq!(
            mode_after_chown(&attr(NodeKind::File, 0o2745, 1, 1)),
            0o2745,
            "sgid without g+x stays"
        );
        assert_eq!(mode_after_chown(&attr(NodeKind::Directory, 0o6755, 1, 1)), 0o6755);
    }

    #[test]
    fn chmod_rules() {
        let file = attr(NodeKind::File, 0o4755, 1000, 1000);
        assert!(check_chmod(&me(1000, 1000), &file, 0o600).is_ok());
        assert!(check_chmod(&me(0, 0), &file, 0o600).is_ok());
        assert!(check_chmod(&me(1001, 1000), &file, 0o777).is_err());
        assert!(
            check_chmod(&me(1001, 1000), &file, 0o755).is_ok(),
            "clearing set-user-ID"
        );
    }

    #[test]
    fn groups_from_proc_status() {
        assert_eq!(parse_groups("Name:\tx\nGroups:\t4 24 27 \nNgid:\t0\n"), vec![4, 24, 27]);
        assert_eq!(parse_groups("Groups:\n"), Vec::<u32>::new());
        assert!(supplementary_groups(u32::MAX).is_empty());
    }
}
