//! Filesystem logic tests over the in-memory BOS twin (no kernel): request counts and
//! bucket contents after each namespace operation.

use std::ffi::OsStr;
use std::sync::Arc;

use bytes::Bytes;

use super::*;
use crate::bos::memory::InMemoryBos;
use crate::bos::types::Operation;
use crate::bos::PutOptions;

const BUCKET: &str = "bkt";

fn setup(prefix: &str) -> (Arc<InMemoryBos>, BosFs) {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let fs = BosFs::new(bos.clone(), FsConfig::new(BUCKET, prefix));
    (bos, fs)
}

async fn put(bos: &InMemoryBos, key: &str, body: &str) {
    bos.put_object(BUCKET, key, Bytes::from(body.to_string()), &PutOptions::default())
        .await
        .expect("put");
}

/// Collects entries, refusing more than `room`.
struct Collect {
    room: usize,
    entries: Vec<ReaddirEntry>,
}

impl DirReplier for Collect {
    fn add(&mut self, entry: &ReaddirEntry) -> bool {
        if self.entries.len() >= self.room {
            return true;
        }
        self.entries.push(entry.clone());
        false
    }
}

/// Every entry of directory `ino`, read in batches of `batch` like the kernel does.
async fn list(fs: &BosFs, ino: InodeNo, batch: usize) -> Vec<ReaddirEntry> {
    let fh = fs.opendir(ino).expect("opendir");
    let mut all: Vec<ReaddirEntry> = Vec::new();
    loop {
        let offset = all.last().map_or(0, |e| e.offset);
        let mut c = Collect {
            room: batch,
            entries: vec![],
        };
        fs.readdir(fh, offset, true, &mut c).await.expect("readdir");
        if c.entries.is_empty() {
            break;
        }
        all.extend(c.entries);
    }
    fs.releasedir(fh);
    all.retain(|e| e.name != "." && e.name != "..");
    all
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

#[tokio::test]
async fn lookup_tells_files_from_directories_with_one_head_and_one_list() {
    let (bos, fs) = setup("");
    put(&bos, "file.txt", "hello").await;
    put(&bos, "explicit/", "").await;
    put(&bos, "implicit/deep/x", "1").await;
    put(&bos, "both", "file").await;
    put(&bos, "both/inner", "x").await;
    bos.reset_counts();
    let f = fs.lookup(InodeNo::ROOT, os("file.txt")).await.expect("file");
    assert_eq!((f.kind, f.size), (NodeKind::File, 5));
    assert_eq!(bos.count(Operation::GetObjectMeta), 1);
    assert_eq!(bos.count(Operation::ListObjects), 1);
    for dir in ["explicit", "implicit", "both"] {
        let d = fs.lookup(InodeNo::ROOT, os(dir)).await.expect("dir");
        assert_eq!(d.kind, NodeKind::Directory, "{dir}");
    }
    let err = fs.lookup(InodeNo::ROOT, os("nothing")).await.expect_err("missing");
    assert_eq!(err.errno(), libc::ENOENT);
    let before = bos.total_requests();
    assert!(fs.lookup(InodeNo::ROOT, os("nothing")).await.is_err());
    assert_eq!(bos.total_requests(), before, "negative entry cached");
    let implicit = fs.lookup(InodeNo::ROOT, os("implicit")).await.expect("dir");
    let deep = fs.lookup(implicit.ino, os("deep")).await.expect("nested implicit");
    assert_eq!(deep.kind, NodeKind::Directory);
}

#[tokio::test]
async fn readdirplus_of_2500_objects_costs_3_lists_and_no_head_per_file() {
    let (bos, fs) = setup("pre");
    for i in 0..2500 {
        put(&bos, &format!("pre/big/f{i:05}"), "abc").await;
    }
    put(&bos, "pre/big/sub/x", "1").await;
    let big = fs.lookup(InodeNo::ROOT, os("big")).await.expect("big");
    bos.reset_counts();
    let entries = list(&fs, big.ino, 37).await;
    assert_eq!(entries.len(), 2501);
    assert_eq!(bos.count(Operation::ListObjects), 3);
    assert!(entries.iter().filter(|e| e.name != "sub").all(|e| e.attr.size == 3));
    for name in ["f00000", "f01234", "f02499", "sub"] {
        fs.lookup(big.ino, os(name)).await.expect("cached lookup");
    }
    // One HEAD: the subdirectory's marker, where its owner and mode would be.
    assert_eq!(bos.count(Operation::GetObjectMeta), 1);
    assert_eq!(bos.count(Operation::ListObjects), 3);
}

#[tokio::test]
async fn readdir_skips_bad_names_and_shows_a_shared_name_once_as_a_directory() {
    let (bos, fs) = setup("");
    for key in [
        "d/ok",
        "d//empty",
        "d/same",
        "d/same/x",
        &format!("d/{}", "n".repeat(300)),
    ] {
        put(&bos, key, "x").await;
    }
    let d = fs.lookup(InodeNo::ROOT, os("d")).await.expect("d");
    let mut names: Vec<(String, NodeKind)> = list(&fs, d.ino, 100)
        .await
        .into_iter()
        .map(|e| (e.name, e.attr.kind))
        .collect();
    names.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        names,
        vec![
            ("ok".to_string(), NodeKind::File),
            ("same".to_string(), NodeKind::Directory)
        ]
    );
}

#[tokio::test]
async fn mkdir_rmdir_and_not_empty() {
    let (bos, fs) = setup("");
    let d = fs.mkdir(InodeNo::ROOT, os("new"), 0o750).await.expect("mkdir");
    assert_eq!(d.perm, 0o750);
    assert!(bos.keys(BUCKET).contains(&"new/".to_string()));
    put(&bos, "new/child", "x").await;
    let err = fs.rmdir(InodeNo::ROOT, os("new")).await.expect_err("not empty");
    assert_eq!(err.errno(), libc::ENOTEMPTY);
    fs.unlink(d.ino, os("child")).await.expect("unlink");
    fs.rmdir(InodeNo::ROOT, os("new")).await.expect("rmdir");
    assert!(bos.keys(BUCKET).is_empty());
    let err = fs.lookup(InodeNo::ROOT, os("new")).await.expect_err("gone");
    assert_eq!(err.errno(), libc::ENOENT);
    assert_eq!(
        fs.mkdir(InodeNo::ROOT, os("a@b"), 0o755)
            .await
            .map_err(|e| e.errno())
            .err(),
        Some(libc::EINVAL)
    );
}

#[tokio::test]
async fn rename_file_over_existing_and_directory() {
    let (bos, fs) = setup("");
    put(&bos, "a.txt", "AAA").await;
    put(&bos, "b.txt", "B").await;
    put(&bos, "dir/", "").await;
    put(&bos, "dir/x", "x").await;
    put(&bos, "dir/sub/y", "y").await;
    fs.lookup(InodeNo::ROOT, os("a.txt")).await.expect("a");
    bos.reset_counts();
    fs.rename(InodeNo::ROOT, os("a.txt"), InodeNo::ROOT, os("b.txt"), 0)
        .await
        .expect("rename over");
    assert_eq!(bos.count(Operation::CopyObject), 1);
    assert_eq!(bos.count(Operation::DeleteObject), 1);
    assert_eq!(bos.object_bytes(BUCKET, "b.txt").as_deref(), Some(&b"AAA"[..]));
    assert!(bos.object_bytes(BUCKET, "a.txt").is_none());
    let b = fs.lookup(InodeNo::ROOT, os("b.txt")).await.expect("b");
    assert_eq!(b.size, 3);

    let dir = fs.lookup(InodeNo::ROOT, os("dir")).await.expect("dir");
    let sub = fs.lookup(dir.ino, os("sub")).await.expect("sub");
    fs.rename(InodeNo::ROOT, os("dir"), InodeNo::ROOT, os("moved"), 0)
        .await
        .expect("rename dir");
    let mut keys = bos.keys(BUCKET);
    keys.sort();
    assert_eq!(keys, vec!["b.txt", "moved/", "moved/sub/y", "moved/x"]);
    let y = fs
        .lookup(sub.ino, os("y"))
        .await
        .expect("inode of the moved subdirectory still works");
    assert_eq!(y.size, 1);
    put(&bos, "other/z", "z").await;
    let err = fs
        .rename(InodeNo::ROOT, os("moved"), InodeNo::ROOT, os("other"), 0)
        .await
        .expect_err("target not empty");
    assert_eq!(err.errno(), libc::ENOTEMPTY);
    let err = fs
        .rename(InodeNo::ROOT, os("b.txt"), InodeNo::ROOT, os("other"), 0)
        .await
        .expect_err("file over dir");
    assert_eq!(err.errno(), libc::EISDIR);
}

#[tokio::test]
async fn create_write_close_puts_one_object_and_updates_the_cache() {
    let (bos, fs) = setup("p/");
    let (attr, fh) = fs
        .create(InodeNo::ROOT, os("new.txt"), 0o600, libc::O_WRONLY)
        .await
        .expect("create");
    assert_eq!(attr.perm, 0o600);
    assert_eq!(fs.write(fh, 0, b"hello ").await.expect("write"), 6);
    assert_eq!(fs.write(fh, 6, b"world").await.expect("write"), 5);
    assert_eq!(
        fs.getattr(attr.ino).await.expect("getattr").size,
        11,
        "writer's size while open"
    );
    fs.flush(fh).await.expect("flush");
    fs.release(fh).await.expect("release");
    assert_eq!(
        bos.object_bytes(BUCKET, "p/new.txt").as_deref(),
        Some(&b"hello world"[..])
    );
    assert_eq!(bos.count(Operation::PutObject), 1);
    assert_eq!(bos.count(Operation::InitiateMultipartUpload), 0);
    bos.reset_counts();
    assert_eq!(fs.getattr(attr.ino).await.expect("getattr").size, 11);
    assert_eq!(bos.total_requests(), 0, "our own write filled the cache");
    let fh = fs.open(attr.ino, libc::O_RDONLY).await.expect("open");
    assert_eq!(&fs.read(fh, 6, 100).await.expect("read")[..], b"world");
    fs.release(fh).await.expect("release");
}

#[tokio::test]
async fn failed_upload_is_reported_by_flush() {
    let (bos, fs) = setup("");
    bos.inject(crate::bos::memory::Fault::on(Operation::PutObject).status(500, "InternalError"));
    let (_, fh) = fs
        .create(InodeNo::ROOT, os("f"), 0o644, libc::O_WRONLY)
        .await
        .expect("create");
    fs.write(fh, 0, b"data").await.expect("buffered");
    let err = fs.flush(fh).await.expect_err("upload fails");
    assert_eq!(err.errno(), libc::EIO);
    let _ = fs.release(fh).await;
    assert!(bos.object_bytes(BUCKET, "f").is_none());
}

#[tokio::test]
async fn truncate_without_a_handle_and_names_too_long() {
    let (bos, fs) = setup("");
    put(&bos, "t", "0123456789").await;
    let t = fs.lookup(InodeNo::ROOT, os("t")).await.expect("t");
    let attr = fs
        .setattr(
            t.ino,
            None,
            SetAttr {
                size: Some(0),
                mode: Some(0o600),
                ..SetAttr::default()
            },
        )
        .await
        .expect("truncate");
    assert_eq!((attr.size, attr.perm), (0, 0o600));
    assert_eq!(bos.object_bytes(BUCKET, "t").as_deref(), Some(&b""[..]));
    let long = "d".repeat(200);
    let mut parent = InodeNo::ROOT;
    for _ in 0..5 {
        parent = fs.mkdir(parent, os(&long), 0o755).await.expect("mkdir").ino;
    }
    let err = fs
        .create(parent, os(&long), 0o644, libc::O_WRONLY)
        .await
        .expect_err("key > 1023");
    assert_eq!(err.errno(), libc::ENAMETOOLONG);
}
