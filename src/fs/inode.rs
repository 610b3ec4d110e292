//! The inode table: inode numbers ↔ (parent, name) ↔ object keys, with the kernel's lookup
//! counts so `forget` can drop entries.
//!
//! Model: the root is inode 1 and stands for the mount prefix ("" or "some/prefix/"). A
//! file's key is `parent_key + name`; a directory's key is `parent_key + name + "/"`, so
//! directory keys always end in '/' (except an empty root prefix). An inode lives while
//! the kernel holds references to it (lookup count > 0) or a handle is open on it. When a
//! name is replaced by a node of another kind, or unlinked, the old inode is detached from
//! its name but stays until forgotten, so stale kernel references get ESTALE/ENOENT rather
//! than another file's data. Renames move inodes (and rewrite the keys of everything below
//! a renamed directory), keeping the kernel's inode numbers valid.
//!
//! The inode is the one owner of what is true of a file in this mount: its key (read when an
//! upload commits, never copied at open), whether it still has a name ([`Inode::live_key`]),
//! and its attribute changes not stored yet ([`Inode::perms`], numbered by
//! [`Inode::perms_gen`] so a store clears only what it stored). An inode with pending changes
//! is pinned: the kernel forgetting it does not drop them; it goes once they are stored.

use std::collections::HashMap;
use std::time::SystemTime;

use crate::fs::attr::{NodeKind, Perms};
use crate::fs::times::LocalTimes;

/// An inode number as the kernel sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InodeNo(pub u64);

impl InodeNo {
    /// The mount root.
    pub const ROOT: InodeNo = InodeNo(1);
}

impl std::fmt::Display for InodeNo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Size and time of a file while handles write to it (the bucket does not have it yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalFile {
    /// Bytes written so far (the writer's size).
    pub size: u64,
    /// Time of the last write.
    pub mtime: SystemTime,
    /// Number of open write handles.
    pub writers: u32,
}

/// One node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    /// Its number.
    pub ino: InodeNo,
    /// Parent directory (the root is its own parent).
    pub parent: InodeNo,
    /// Name in the parent.
    pub name: String,
    /// File or directory.
    pub kind: NodeKind,
    /// Object key (directories: the prefix, ending in '/').
    pub key: String,
    /// Attribute changes (chmod/chown/utimes) not stored in the bucket yet.
    pub perms: Perms,
    /// Incremented by every attribute change: a store that captured an older number leaves
    /// [`Inode::perms`] in place (a newer change arrived meanwhile).
    pub perms_gen: u64,
    /// Present while handles are writing this file.
    pub local: Option<LocalFile>,
    /// What the file was when it lost its name (unlink, replaced by a rename): fstat of a
    /// descriptor still open on it answers from this.
    pub unlinked_attr: Option<crate::fs::attr::ObjectAttr>,
    /// When this mount last changed the node (see `times`).
    pub times: LocalTimes,
    lookups: u64,
    open_handles: u32,
    attached: bool,
}

impl Inode {
    /// The key this inode is stored under now, or `None` once it lost its name (unlinked, or
    /// replaced by a rename): nothing may be stored for it any more.
    pub fn live_key(&self) -> Option<&str> {
        self.attached.then_some(self.key.as_str())
    }

    /// Whether a handle is open on it.
    pub fn is_open(&self) -> bool {
        self.open_handles > 0
    }

    /// The last write handle closed: the time of its last write stays as the inode's.
    pub fn end_local(&mut self) {
        if let Some(local) = self.local.take() {
            self.times.content_at(local.mtime);
        }
    }

    /// Whether attribute changes wait to be stored.
    pub fn has_pending_perms(&self) -> bool {
        self.perms != Perms::default()
    }
}

/// The key of child `name` of a directory whose key is `parent_key`.
pub fn child_key(parent_key: &str, name: &str, kind: NodeKind) -> String {
    match kind {
        NodeKind::File | NodeKind::Symlink => format!("{parent_key}{name}"),
        NodeKind::Directory => format!("{parent_key}{name}/"),
    }
}

/// The table itself (callers wrap it in a mutex; every method is quick and never blocks).
#[derive(Debug)]
pub struct InodeTable {
    nodes: HashMap<InodeNo, Inode>,
    by_name: HashMap<(InodeNo, String), InodeNo>,
    next: u64,
}

impl InodeTable {
    /// A table holding only the root, whose key is the mount prefix.
    pub fn new(root_key: &str) -> Self {
        let root = Inode {
            ino: InodeNo::ROOT,
            parent: InodeNo::ROOT,
            name: String::new(),
            kind: NodeKind::Directory,
            key: root_key.to_string(),
            perms: Perms::default(),
            perms_gen: 0,
            local: None,
            unlinked_attr: None,
            times: LocalTimes::default(),
            lookups: 1,
            open_handles: 0,
            attached: true,
        };
        InodeTable {
            nodes: HashMap::from([(InodeNo::ROOT, root)]),
            by_name: HashMap::new(),
            next: 2,
        }
    }

    /// A copy of node `ino`.
    pub fn get(&self, ino: InodeNo) -> Option<Inode> {
        self.nodes.get(&ino).cloned()
    }

    /// The node currently attached as `name` in `parent`.
    pub fn child(&self, parent: InodeNo, name: &str) -> Option<Inode> {
        let ino = self.by_name.get(&(parent, name.to_string()))?;
        self.nodes.get(ino).cloned()
    }

    /// The inode of `name` in `parent` as a `kind`: the existing one when its kind matches,
    /// otherwise a new one that replaces whatever had the name.
    pub fn upsert(&mut self, parent: InodeNo, name: &str, kind: NodeKind) -> Option<InodeNo> {
        let parent_key = self.nodes.get(&parent)?.key.clone();
        let slot = (parent, name.to_string());
        if let Some(&ino) = self.by_name.get(&slot) {
            if self.nodes.get(&ino).is_some_and(|n| n.kind == kind) {
                return Some(ino);
            }
            self.detach_ino(ino);
        }
        let ino = InodeNo(self.next);
        self.next += 1;
        self.nodes.insert(
            ino,
            Inode {
                ino,
                parent,
                name: name.to_string(),
                kind,
                key: child_key(&parent_key, name, kind),
                perms: Perms::default(),
                perms_gen: 0,
                local: None,
                unlinked_attr: None,
                times: LocalTimes::default(),
                lookups: 0,
                open_handles: 0,
                attached: true,
            },
        );
        self.by_name.insert(slot, ino);
        Some(ino)
    }

    /// The kernel took one more reference to `ino` (lookup, create, mkdir, readdirplus entry).
    pub fn add_lookup(&mut self, ino: InodeNo) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups += 1;
        }
    }

    /// The kernel dropped `n` references to `ino`.
    pub fn forget(&mut self, ino: InodeNo, n: u64) {
        if ino == InodeNo::ROOT {
            return;
        }
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.lookups = node.lookups.saturating_sub(n);
        }
        self.collect(ino);
    }

    /// A handle was opened on `ino`.
    pub fn open_handle(&mut self, ino: InodeNo) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.open_handles += 1;
        }
    }

    /// A handle on `ino` was released.
    pub fn close_handle(&mut self, ino: InodeNo) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            node.open_handles = node.open_handles.saturating_sub(1);
        }
        self.collect(ino);
    }

    /// Remove `name` from `parent` (unlink, rmdir, or found missing); the inode lingers until forgotten.
    pub fn detach(&mut self, parent: InodeNo, name: &str) {
        if let Some(ino) = self.by_name.get(&(parent, name.to_string())).copied() {
            self.detach_ino(ino);
        }
    }

    /// Move `name` in `parent` to `new_name` in `new_parent`, replacing what was there, and
    /// rewrite the keys of everything below it when it is a directory.
    pub fn rename(&mut self, parent: InodeNo, name: &str, new_parent: InodeNo, new_name: &str) {
        let Some(ino) = self.by_name.get(&(parent, name.to_string())).copied() else {
            return;
        };
        self.detach(new_parent, new_name);
        let Some(new_parent_key) = self.nodes.get(&new_parent).map(|n| n.key.clone()) else {
            return;
        };
        self.by_name.remove(&(parent, name.to_string()));
        let Some(node) = self.nodes.get_mut(&ino) else {
            return;
        };
        let old_key = std::mem::replace(&mut node.key, child_key(&new_parent_key, new_name, node.kind));
        let new_key = node.key.clone();
        node.parent = new_parent;
        node.name = new_name.to_string();
        let is_dir = node.kind == NodeKind::Directory;
        self.by_name.insert((new_parent, new_name.to_string()), ino);
        if is_dir {
            for other in self.nodes.values_mut() {
                if other.ino != ino && other.key.starts_with(&old_key) {
                    other.key = format!("{new_key}{}", &other.key[old_key.len()..]);
                }
            }
        }
    }

    /// Record attribute changes of `ino` (over those still pending); returns the new generation.
    pub fn change_perms(&mut self, ino: InodeNo, change: impl FnOnce(&mut Perms)) -> Option<u64> {
        let node = self.nodes.get_mut(&ino)?;
        change(&mut node.perms);
        node.perms_gen += 1;
        Some(node.perms_gen)
    }

    /// The changes of `ino` captured at generation `gen` are stored: forget them unless newer
    /// ones arrived since. Unpins the inode when nothing else waits.
    pub fn perms_stored(&mut self, ino: InodeNo, gen: u64) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            if node.perms_gen == gen {
                node.perms = Perms::default();
            }
        }
        self.collect(ino);
    }

    /// Inodes with attribute changes waiting to be stored.
    pub fn with_pending_perms(&self) -> Vec<InodeNo> {
        self.nodes
            .values()
            .filter(|n| n.has_pending_perms())
            .map(|n| n.ino)
            .collect()
    }

    /// Inodes attached as children of `parent` (for listing files the bucket lacks yet).
    pub fn children_of(&self, parent: InodeNo) -> Vec<Inode> {
        self.nodes
            .values()
            .filter(|n| n.attached && n.parent == parent && n.ino != parent)
            .cloned()
            .collect()
    }

    /// Apply `f` to node `ino`, if it exists.
    pub fn update<T>(&mut self, ino: InodeNo, f: impl FnOnce(&mut Inode) -> T) -> Option<T> {
        self.nodes.get_mut(&ino).map(f)
    }

    /// Number of nodes held (root included).
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether only the root is held.
    pub fn is_empty(&self) -> bool {
        self.nodes.len() <= 1
    }

    fn detach_ino(&mut self, ino: InodeNo) {
        if let Some(node) = self.nodes.get_mut(&ino) {
            if node.attached {
                node.attached = false;
                self.by_name.remove(&(node.parent, node.name.clone()));
            }
        }
        self.collect(ino);
    }

    fn collect(&mut self, ino: InodeNo) {
        let Some(node) = self.nodes.get(&ino) else {
            return;
        };
        if ino == InodeNo::ROOT || node.lookups > 0 || node.open_handles > 0 || node.has_pending_perms() {
            return;
        }
        if node.attached && self.by_name.get(&(node.parent, node.name.clone())) == Some(&ino) {
            // Unreferenced but still named: keep the number stable while the name is valid
            // only if someone refers to it; nobody does, so drop it.
            self.by_name.remove(&(node.parent, node.name.clone()));
        }
        self.nodes.remove(&ino);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_parents() {
        let mut t = InodeTable::new("pre/");
        let d = t.upsert(InodeNo::ROOT, "d", NodeKind::Directory).expect("dir");
        t.add_lookup(d);
        let f = t.upsert(d, "f", NodeKind::File).expect("file");
        t.add_lookup(f);
        assert_eq!(t.get(d).expect("d").key, "pre/d/");
        assert_eq!(t.get(f).expect("f").key, "pre/d/f");
        t.rename(InodeNo::ROOT, "d", InodeNo::ROOT, "e");
        assert_eq!(t.get(f).expect("f").key, "pre/e/f");
        assert_eq!(t.child(InodeNo::ROOT, "e").expect("e").ino, d);
        assert!(t.child(InodeNo::ROOT, "d").is_none());
    }

    #[test]
    fn forget_drops_and_kind_change_replaces() {
        let mut t = InodeTable::new("");
        let f = t.upsert(InodeNo::ROOT, "x", NodeKind::File).expect("file");
        t.add_lookup(f);
        let d = t.upsert(InodeNo::ROOT, "x", NodeKind::Directory).expect("dir");
        assert_ne!(f, d);
        assert!(t.get(f).is_some(), "still referenced by the kernel");
        t.forget(f, 1);
        assert!(t.get(f).is_none());
        t.add_lookup(d);
        t.open_handle(d);
        t.forget(d, 1);
        assert!(t.get(d).is_some(), "open handle keeps it");
        t.close_handle(d);
        assert!(t.get(d).is_none());
    }
}
