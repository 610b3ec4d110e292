//! Filesystem tests over the in-memory twin for the life of one file across the mount's
//! stop: attribute changes pinned on an inode the kernel forgot, writers still open when the
//! mount stops, and an attribute index that must not hide a change it never learned of.

use std::ffi::OsStr;
use std::sync::Arc;

use super::*;
use crate::bos::memory::InMemoryBos;

const BUCKET: &str = "bkt";

fn mount(bos: &Arc<InMemoryBos>) -> Arc<BosFs> {
    let mut config = FsConfig::new(BUCKET, "");
    config.write = Arc::new(write::WriteConfig {
        part_size: 64 * 1024,
        ..write::WriteConfig::default()
    });
    let fs = Arc::new(BosFs::new(bos.clone(), config));
    fs.start_background();
    fs
}

fn os(s: &str) -> &OsStr {
    OsStr::new(s)
}

async fn mode_of(bos: &InMemoryBos, key: &str) -> Option<String> {
    let meta = bos.head_object(BUCKET, key).await.ok()?;
    meta.user_meta.get(meta_codec::MODE).cloned()
}

async fn write_file(fs: &BosFs, name: &str, body: &[u8]) -> InodeNo {
    let (attr, fh) = fs
        .create(InodeNo::ROOT, os(name), 0o644, libc::O_WRONLY)
        .await
        .expect("create");
    fs.write(fh, 0, body).await.expect("write");
    fs.flush(fh).await.expect("flush");
    fs.release(fh).await.expect("release");
    attr.ino
}

#[tokio::test]
async fn a_chmod_of_a_forgotten_inode_is_stored_when_the_mount_stops() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let fs = mount(&bos);
    let ino = write_file(&fs, "f", b"data").await;
    let changes = SetAttr {
        mode: Some(0o600),
        ..SetAttr::default()
    };
    fs.setattr(ino, None, changes).await.expect("chmod");
    // The kernel forgets the inode before the deferred store ran.
    fs.forget(ino, 1);
    assert_eq!(mode_of(&bos, "f").await, None, "stored before its delay");
    assert_eq!(fs.shutdown().await, 0);
    assert_eq!(mode_of(&bos, "f").await.as_deref(), Some("100600"));
}

#[tokio::test]
async fn a_stream_writer_open_when_the_mount_stops_is_not_published() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET).with_min_part_size(1));
    let fs = mount(&bos);
    write_file(&fs, "big", b"first version").await;
    let ino = fs.lookup(InodeNo::ROOT, os("big")).await.expect("lookup").ino;
    let fh = fs.open(ino, libc::O_WRONLY | libc::O_TRUNC).await.expect("open");
    for i in 0..4u8 {
        fs.write(fh, i as u64 * 64 * 1024, &[b'a' + i; 64 * 1024])
            .await
            .expect("write");
    }
    assert_eq!(fs.shutdown().await, 0);
    assert_eq!(
        bos.object_bytes(BUCKET, "big").as_deref(),
        Some(&b"first version"[..]),
        "a partial new version was published"
    );
    assert_eq!(bos.upload_count(BUCKET), 0, "the multipart upload was not aborted");
}

#[tokio::test]
async fn an_append_writer_open_when_the_mount_stops_sends_what_it_holds() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let fs = mount(&bos);
    let (_, fh) = fs
        .create(InodeNo::ROOT, os("log"), 0o644, libc::O_WRONLY | libc::O_APPEND)
        .await
        .expect("create");
    fs.write(fh, 0, b"line 1\n").await.expect("write");
    assert_eq!(fs.shutdown().await, 0);
    assert_eq!(bos.object_bytes(BUCKET, "log").as_deref(), Some(&b"line 1\n"[..]));
}

#[tokio::test]
async fn an_index_entry_never_hides_a_later_metadata_change_it_missed() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    // Mount A stores the file with mode 600 and writes the directory's index.
    let a = mount(&bos);
    let (attr, fh) = a
        .create(InodeNo::ROOT, os("f"), 0o600, libc::O_WRONLY)
        .await
        .expect("create");
    a.write(fh, 0, b"content").await.expect("write");
    a.flush(fh).await.expect("flush");
    a.release(fh).await.expect("release");
    assert_eq!(a.shutdown().await, 0);
    assert!(bos.object_bytes(BUCKET, attr_index::index_key("").as_str()).is_some());
    // Mount B changes the mode (a copy that keeps the ETag) and dies before its index write.
    let b = mount(&bos);
    let ino = b.lookup(InodeNo::ROOT, os("f")).await.expect("lookup").ino;
    let fh = b.open(ino, libc::O_RDONLY).await.expect("open");
    b.setattr(
        ino,
        None,
        SetAttr {
            mode: Some(0o640),
            ..SetAttr::default()
        },
    )
    .await
    .expect("chmod");
    b.fsync(fh).await.expect("fsync stores the change");
    drop(b);
    assert_eq!(mode_of(&bos, "f").await.as_deref(), Some("100640"));
    // Mount C lists the directory: the stale index entry must not win.
    let c = mount(&bos);
    let fh = c.opendir(InodeNo::ROOT).expect("opendir");
    let mut seen = Vec::new();
    struct Collect<'a>(&'a mut Vec<ReaddirEntry>);
    impl DirReplier for Collect<'_> {
        fn add(&mut self, entry: &ReaddirEntry) -> bool {
            self.0.push(entry.clone());
            false
        }
    }
    c.readdir(fh, 0, true, &mut Collect(&mut seen)).await.expect("readdir");
    let f = seen.iter().find(|e| e.name == "f").expect("f listed");
    assert_eq!(f.attr.perm, 0o640, "the index hid the newer mode");
    let _ = attr;
}

#[tokio::test]
async fn the_mode_a_file_is_created_with_is_stored_with_it() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let fs = mount(&bos);
    let (_, fh) = fs
        .create(InodeNo::ROOT, os("a"), 0o600, libc::O_WRONLY | libc::O_CREAT)
        .await
        .expect("create");
    fs.flush(fh).await.expect("flush");
    fs.release(fh).await.expect("release");
    assert_eq!(mode_of(&bos, "a").await.as_deref(), Some("100600"));
}

#[tokio::test]
async fn a_chmod_learned_from_the_index_keeps_the_content_headers() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    let options = crate::bos::PutOptions {
        cache_control: Some("max-age=60".into()),
        content_encoding: Some("gzip".into()),
        ..crate::bos::PutOptions::default()
    };
    bos.put_object(BUCKET, "d/f", bytes::Bytes::from_static(b"x"), &options)
        .await
        .expect("put");
    let chmod = |mode| SetAttr {
        mode: Some(mode),
        ..SetAttr::default()
    };
    // Mount A stores a mode (the directory gets an index entry for the file) ...
    let a = mount(&bos);
    let d = a.lookup(InodeNo::ROOT, os("d")).await.expect("d").ino;
    let f = a.lookup(d, os("f")).await.expect("f").ino;
    let fh = a.open(f, libc::O_RDONLY).await.expect("open");
    a.setattr(f, None, chmod(0o600)).await.expect("chmod");
    a.fsync(fh).await.expect("fsync");
    a.release(fh).await.expect("release");
    // ... and writes the index in a later second, so the index vouches for that version.
    let stored = std::time::SystemTime::now();
    while secs(std::time::SystemTime::now()) <= secs(stored) {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(a.shutdown().await, 0);
    // Mount B learns the file from the listing and the index alone, then changes its mode.
    let b = mount(&bos);
    let d = b.lookup(InodeNo::ROOT, os("d")).await.expect("d").ino;
    let fh = b.opendir(d).expect("opendir");
    struct Skip;
    impl DirReplier for Skip {
        fn add(&mut self, _: &ReaddirEntry) -> bool {
            false
        }
    }
    bos.reset_counts();
    b.readdir(fh, 0, true, &mut Skip).await.expect("readdir");
    let f = b.lookup(d, os("f")).await.expect("f").ino;
    assert_eq!(
        bos.count(crate::bos::types::Operation::GetObjectMeta),
        0,
        "the index vouched for the file"
    );
    b.setattr(f, None, chmod(0o640)).await.expect("chmod");
    assert_eq!(b.shutdown().await, 0);
    let meta = bos.head_object(BUCKET, "d/f").await.expect("head");
    assert_eq!(meta.user_meta.get(meta_codec::MODE).map(String::as_str), Some("100640"));
    assert_eq!(meta.cache_control.as_deref(), Some("max-age=60"));
    assert_eq!(meta.content_encoding.as_deref(), Some("gzip"));
}

/// Whole Unix seconds of `t`.
fn secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[tokio::test]
async fn a_directory_rename_moves_appendable_objects_the_server_will_not_copy() {
    let bos = Arc::new(InMemoryBos::with_bucket(BUCKET));
    bos.set_refuse_appendable_copy(true);
    let plain = crate::bos::PutOptions::default();
    bos.put_object(BUCKET, "logs/a.txt", bytes::Bytes::from_static(b"plain"), &plain)
        .await
        .expect("put");
    bos.append_object(
        BUCKET,
        "logs/app.log",
        None,
        bytes::Bytes::from_static(b"line 1\n"),
        &plain,
    )
    .await
    .expect("append");
    let fs = mount(&bos);
    fs.lookup(InodeNo::ROOT, os("logs")).await.expect("logs");
    fs.rename(InodeNo::ROOT, os("logs"), InodeNo::ROOT, os("old"), 0)
        .await
        .expect("rename of a directory holding an appendable object");
    assert_eq!(
        bos.object_bytes(BUCKET, "old/app.log").as_deref(),
        Some(&b"line 1\n"[..])
    );
    assert_eq!(bos.object_bytes(BUCKET, "old/a.txt").as_deref(), Some(&b"plain"[..]));
    assert!(bos.object_bytes(BUCKET, "logs/app.log").is_none());
    assert!(bos.object_bytes(BUCKET, "logs/a.txt").is_none());
}
