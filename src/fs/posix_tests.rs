//! POSIX breadth over the in-memory BOS twin (no kernel): special nodes made by mknod as a
//! fresh mount sees them, owners of new nodes and setgid directories, chown and chmod rules,
//! and a utimes that wins over the time of earlier writes.

use std::ffi::OsStr;
use std::sync::Arc;

use crate::bos::memory::InMemoryBos;
use crate::bos::BosApi;
use crate::fs::access::Caller;
use crate::fs::{BosFs, FsConfig, InodeNo, NodeKind, SetAttr, SpecialKind};

const BUCKET: &str = "bkt";

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

fn mount(bos: &Arc<InMemoryBos>) -> BosFs {
    BosFs::new(bos.clone(), FsConfig::new(BUCKET, ""))
}

const NOBODY: Caller = Caller {
    uid: 65534,
    gid: 65534,
    pid: 0,
};
const ROOT: Caller = Caller { uid: 0, gid: 0, pid: 0 };

#[tokio::test]
async fn mknod_nodes_are_seen_by_a_fresh_mount() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let fs = mount(&bos);
    let fifo = fs
        .mknod(InodeNo::ROOT, os("p"), 0o010640, 0, Some(&NOBODY))
        .await
        .expect("mkfifo");
    assert_eq!(fifo.special.map(|s| s.kind), Some(SpecialKind::Fifo));
    assert_eq!((fifo.perm, fifo.uid, fifo.gid), (0o640, 65534, 65534));
    let chr = fs
        .mknod(InodeNo::ROOT, os("c"), 0o020600, 0x0103, None)
        .await
        .expect("mknod c");
    assert_eq!(
        chr.special.map(|s| (s.kind, s.rdev)),
        Some((SpecialKind::CharDevice, 0x0103))
    );
    let again = fs.mknod(InodeNo::ROOT, os("p"), 0o010640, 0, None).await;
    assert_eq!(again.map(|_| ()).map_err(|e| e.errno()), Err(libc::EEXIST));
    assert!(fs.mknod(InodeNo::ROOT, os("d"), 0o040755, 0, None).await.is_err());
    let meta = bos.head_object(BUCKET, "p").await.expect("head");
    assert_eq!(meta.size, 0);
    assert_eq!(meta.user_meta.get("mode").map(String::as_str), Some("10640"));
    fs.shutdown().await;

    let fresh = mount(&bos);
    let p = fresh.lookup(InodeNo::ROOT, os("p")).await.expect("lookup p");
    assert_eq!(p.kind, NodeKind::File);
    assert_eq!(p.special.map(|s| s.kind), Some(SpecialKind::Fifo));
    assert_eq!(p.uid, 65534);
    let c = fresh.lookup(InodeNo::ROOT, os("c")).await.expect("lookup c");
    assert_eq!(c.special.map(|s| s.rdev), Some(0x0103));
    assert_eq!(crate::fs::special::hard_link().errno(), libc::EPERM);
}

#[tokio::test]
async fn setgid_directories_give_their_group_and_chown_follows_posix() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let fs = mount(&bos);
    let dir = fs
        .mkdir_as(InodeNo::ROOT, os("sg"), 0o777, Some(&ROOT))
        .await
        .expect("mkdir");
    let chgrp = SetAttr {
        gid: Some(50),
        mode: Some(0o2777),
        ..SetAttr::default()
    };
    fs.setattr_as(&ROOT, dir.ino, None, chgrp).await.expect("chgrp");
    let sub = fs
        .mkdir_as(dir.ino, os("sub"), 0o755, Some(&NOBODY))
        .await
        .expect("mkdir sub");
    assert_eq!((sub.uid, sub.gid, sub.perm), (65534, 50, 0o2755));
    let (file, fh) = fs
        .create_as(dir.ino, os("f"), 0o4755, libc::O_WRONLY, Some(&NOBODY))
        .await
        .expect("create");
    assert_eq!((file.uid, file.gid), (65534, 50));
    fs.flush(fh).await.expect("flush");
    fs.release(fh).await.expect("release");
    let stored = bos.head_object(BUCKET, "sg/f").await.expect("head");
    assert_eq!(stored.user_meta.get("uid").map(String::as_str), Some("65534"));
    assert_eq!(stored.user_meta.get("gid").map(String::as_str), Some("50"));

    // Nobody owns f: it may not give it away nor pick a group it is not in.
    let give = SetAttr {
        uid: Some(1),
        ..SetAttr::default()
    };
    let err = fs
        .setattr_as(&NOBODY, file.ino, None, give)
        .await
        .expect_err("give away");
    assert_eq!(err.errno(), libc::EPERM);
    let other = Caller { uid: 1, gid: 1, pid: 0 };
    let chmod = SetAttr {
        mode: Some(0o777),
        ..SetAttr::default()
    };
    let err = fs.setattr_as(&other, file.ino, None, chmod).await.expect_err("chmod");
    assert_eq!(err.errno(), libc::EPERM);
    // Root gives it away, which clears set-user-ID.
    let after = fs.setattr_as(&ROOT, file.ino, None, give).await.expect("chown");
    assert_eq!((after.uid, after.perm), (1, 0o755));
    fs.shutdown().await;
}

#[tokio::test]
async fn utimes_while_open_wins_over_earlier_writes() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let fs = mount(&bos);
    let (created, fh) = fs
        .create(InodeNo::ROOT, os("f"), 0o644, libc::O_WRONLY)
        .await
        .expect("create");
    fs.write(fh, 0, b"data").await.expect("write");
    let past = std::time::UNIX_EPOCH + std::time::Duration::new(1_577_836_800, 123);
    let utimes = SetAttr {
        mtime: Some(past),
        ..SetAttr::default()
    };
    fs.setattr(created.ino, None, utimes).await.expect("utimes");
    fs.flush(fh).await.expect("flush");
    fs.release(fh).await.expect("release");
    assert_eq!(fs.getattr(created.ino).await.expect("stat").mtime, past);
    fs.shutdown().await;
}
