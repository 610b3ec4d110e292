//! Focused, deterministic regression tests of issue 7, one per bug the reference model
//! (`tests/fs_model`) found, each driving `BosFs` over `InMemoryBos` through the model's
//! adapter with a paused clock. Each test's doc says the POSIX result it pins.

#[path = "fs_model/adapter.rs"]
mod adapter;

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use adapter::{new_bucket, Mount, MountOptions, BUCKET};
use bosmount::bos::memory::InMemoryBos;
use bosmount::fs::InodeNo;

const ROOT: InodeNo = InodeNo::ROOT;
const PART: usize = 8 * 1024;

fn options() -> MountOptions {
    MountOptions {
        metadata_ttl: Duration::from_secs(1),
        part_size: PART,
    }
}

fn ttl_zero_options() -> MountOptions {
    MountOptions {
        metadata_ttl: Duration::ZERO,
        ..options()
    }
}

fn mounted(options: &MountOptions) -> (Arc<InMemoryBos>, Mount) {
    let bos = new_bucket(options);
    let mount = Mount::start(bos.clone(), options);
    (bos, mount)
}

fn stored(bos: &InMemoryBos, key: &str) -> Option<Vec<u8>> {
    bos.object_bytes(BUCKET, key).map(|b| b.to_vec())
}

/// create + write + close of `name` in the root with `mode`.
fn write_file(mount: &Mount, name: &str, mode: u32, body: &[u8]) -> InodeNo {
    let (attr, fh) = mount
        .create(ROOT, name, mode, libc::O_WRONLY | libc::O_CREAT)
        .expect("create");
    if !body.is_empty() {
        mount.write(fh, 0, body).expect("write");
    }
    mount.close(fh).expect("close");
    attr.ino
}

/// What `stat; cat; getfattr -d` of `path` does (the model runs it after every step).
fn look(mount: &Mount, path: &str) {
    let attr = mount.resolve(path).expect("stat");
    let fh = mount.open(attr.ino, libc::O_RDONLY).expect("open for cat");
    let _ = mount.read_all(fh);
    let _ = mount.close(fh);
    let _ = mount.listxattr(attr.ino);
}

fn listed_names(mount: &Mount, dir: InodeNo) -> Vec<String> {
    let mut names: Vec<String> = mount.list(dir).expect("readdir").into_iter().map(|e| e.name).collect();
    names.sort();
    names
}

/// `ls` of a directory shows a file that is still being written (with its current size).
#[test]
fn a_file_being_written_is_listed() {
    let (_bos, mount) = mounted(&options());
    let (_, fh) = mount.create(ROOT, "new", 0o644, libc::O_WRONLY).expect("create");
    mount.write(fh, 0, b"abc").expect("write");
    let entries = mount.list(ROOT).expect("readdir");
    let entry = entries.iter().find(|e| e.name == "new");
    assert_eq!(entry.map(|e| e.attr.size), Some(3), "listing: {entries:?}");
    mount.close(fh).expect("close");
}

/// A second descriptor of the same file reads what the first one wrote (one writer per inode).
#[test]
fn a_new_descriptor_reads_what_another_descriptor_wrote() {
    let (_bos, mount) = mounted(&options());
    let (attr, writer) = mount.create(ROOT, "f", 0o644, libc::O_WRONLY).expect("create");
    mount.write(writer, 0, b"hello").expect("write");
    let reader = mount.open(attr.ino, libc::O_RDONLY).expect("open for reading");
    assert_eq!(mount.read_all(reader).expect("read"), b"hello");
    mount.close(reader).expect("close reader");
    mount.close(writer).expect("close writer");
}

/// Two descriptors writing disjoint ranges of one existing file: the file is the union.
#[test]
fn two_writers_of_one_file_store_the_union() {
    let (bos, mount) = mounted(&options());
    let ino = write_file(&mount, "f", 0o644, b"0123456789");
    let first = mount.open(ino, libc::O_WRONLY).expect("open 1");
    let second = mount.open(ino, libc::O_WRONLY).expect("open 2");
    mount.write(first, 0, b"AA").expect("write 1");
    mount.write(second, 8, b"BB").expect("write 2");
    assert_eq!(mount.getattr(ino).expect("stat").size, 10);
    mount.close(first).expect("close 1");
    mount.close(second).expect("close 2");
    assert_eq!(stored(&bos, "f").as_deref(), Some(&b"AA234567BB"[..]));
}

/// A second writer opening a file being written does not reset its size.
#[test]
fn opening_a_second_writer_keeps_the_size() {
    let (_bos, mount) = mounted(&options());
    let (attr, first) = mount.create(ROOT, "f", 0o644, libc::O_WRONLY).expect("create");
    mount.write(first, 0, b"x").expect("write");
    let second = mount.open(attr.ino, libc::O_WRONLY).expect("open 2");
    assert_eq!(mount.getattr(attr.ino).expect("stat").size, 1);
    mount.close(second).expect("close 2");
    mount.close(first).expect("close 1");
}

/// `touch new`: close() (its flush) returns only once the empty file is in the bucket.
#[test]
fn an_empty_new_file_is_stored_when_close_returns() {
    let (bos, mount) = mounted(&options());
    let (_, fh) = mount.create(ROOT, "empty", 0o644, libc::O_WRONLY).expect("create");
    mount.flush(fh).expect("flush");
    assert_eq!(stored(&bos, "empty").as_deref(), Some(&b""[..]), "stored by the flush");
    mount.crash();
    assert_eq!(
        stored(&bos, "empty").as_deref(),
        Some(&b""[..]),
        "still there after a crash"
    );
}

/// `: > existing`: O_TRUNC and close with no write leaves an empty object at close.
#[test]
fn truncation_to_zero_by_o_trunc_is_stored_when_close_returns() {
    let (bos, mount) = mounted(&options());
    let ino = write_file(&mount, "f", 0o644, b"old content");
    let fh = mount.open(ino, libc::O_WRONLY | libc::O_TRUNC).expect("open O_TRUNC");
    mount.flush(fh).expect("flush");
    assert_eq!(stored(&bos, "f").as_deref(), Some(&b""[..]));
}

/// After O_TRUNC and fsync, a new reader reads the (empty) file instead of failing.
#[test]
fn a_reader_after_o_trunc_and_fsync_reads_the_new_content() {
    let (_bos, mount) = mounted(&options());
    let ino = write_file(&mount, "f", 0o644, b"x");
    let writer = mount.open(ino, libc::O_WRONLY | libc::O_TRUNC).expect("open O_TRUNC");
    mount.fsync(writer).expect("fsync");
    let reader = mount.open(ino, libc::O_RDONLY).expect("open reader");
    assert_eq!(mount.read_all(reader).expect("read"), b"");
    mount.close(reader).expect("close reader");
    mount.close(writer).expect("close writer");
}

/// A file still open for writing at unmount is not published (a new one: not at all).
#[test]
fn unmount_does_not_publish_a_new_file_still_open() {
    let (bos, mount) = mounted(&options());
    let (_, fh) = mount.create(ROOT, "partial", 0o644, libc::O_WRONLY).expect("create");
    mount.write(fh, 0, b"half of it").expect("write");
    mount.unmount();
    assert_eq!(stored(&bos, "partial"), None);
}

/// A file still open for writing at unmount keeps its last closed content.
#[test]
fn unmount_keeps_the_last_closed_content_of_a_file_still_open() {
    let (bos, mount) = mounted(&options());
    let ino = write_file(&mount, "f", 0o644, b"closed version");
    let fh = mount.open(ino, libc::O_WRONLY | libc::O_TRUNC).expect("open O_TRUNC");
    mount.write(fh, 0, b"new").expect("write");
    mount.unmount();
    assert_eq!(stored(&bos, "f").as_deref(), Some(&b"closed version"[..]));
}

/// The anonymous temp-file pattern: an unlinked open file never comes back.
#[test]
fn an_unlinked_open_file_is_never_stored_again() {
    let (bos, mount) = mounted(&options());
    let (attr, fh) = mount.create(ROOT, "tmp", 0o644, libc::O_RDWR).expect("create");
    mount.write(fh, 0, b"scratch").expect("write");
    mount.unlink(ROOT, "tmp").expect("unlink");
    mount.write(fh, 7, b" more").expect("write after unlink");
    assert_eq!(mount.getattr(attr.ino).expect("fstat").size, 12);
    mount.close(fh).expect("close");
    assert_eq!(stored(&bos, "tmp"), None, "reappeared at close");
    assert_eq!(
        mount.lookup(ROOT, "tmp").map_err(|e| e.errno()).err(),
        Some(libc::ENOENT)
    );
    mount.unmount();
    assert_eq!(stored(&bos, "tmp"), None, "reappeared at unmount");
}

/// logrotate without copytruncate: writes after a rename land under the new name.
#[test]
fn writes_after_a_rename_land_under_the_new_name() {
    let (bos, mount) = mounted(&options());
    let (_, fh) = mount.create(ROOT, "app.log", 0o644, libc::O_WRONLY).expect("create");
    mount.write(fh, 0, b"before ").expect("write");
    mount.rename(ROOT, "app.log", ROOT, "app.log.1").expect("rename");
    mount.write(fh, 7, b"after").expect("write after rename");
    mount.close(fh).expect("close");
    assert_eq!(stored(&bos, "app.log.1").as_deref(), Some(&b"before after"[..]));
    assert_eq!(stored(&bos, "app.log"), None, "the old name came back");
}

/// A file renamed into another directory while open keeps its mode there (`ls`, then stat).
#[test]
fn a_file_renamed_while_open_keeps_its_mode() {
    let (_bos, mount) = mounted(&options());
    mount.mkdir(ROOT, "d", 0o755).expect("mkdir");
    let (_, fh) = mount.create(ROOT, "a", 0o600, libc::O_RDONLY).expect("create");
    look(&mount, "a");
    let d = mount.resolve("d").expect("d").ino;
    mount.rename(ROOT, "a", d, "b").expect("rename");
    assert_eq!(listed_names(&mount, d), vec!["b".to_string()], "ls d");
    assert_eq!(mount.resolve("d/b").expect("stat").perm, 0o600);
    mount.close(fh).expect("close");
    assert_eq!(mount.resolve("d/b").expect("stat").perm, 0o600);
}

/// `mv new target` while another descriptor writes target: its close does not overwrite.
#[test]
fn closing_a_replaced_file_does_not_overwrite_its_replacement() {
    let (bos, mount) = mounted(&options());
    let target = write_file(&mount, "target", 0o644, b"old");
    let fh = mount.open(target, libc::O_WRONLY).expect("open target");
    mount.write(fh, 0, b"OLD!").expect("write target");
    write_file(&mount, "new", 0o644, b"replacement");
    mount.rename(ROOT, "new", ROOT, "target").expect("rename over");
    mount
        .write(fh, 4, b" still writing")
        .expect("write to the replaced file");
    mount.close(fh).expect("close replaced");
    assert_eq!(stored(&bos, "target").as_deref(), Some(&b"replacement"[..]));
}

/// A directory renamed while a file in it is open: the file is stored under the new path.
#[test]
fn a_directory_renamed_while_a_file_in_it_is_open_keeps_the_file() {
    let (bos, mount) = mounted(&options());
    let dir = mount.mkdir(ROOT, "a", 0o755).expect("mkdir");
    let (_, fh) = mount.create(dir.ino, "b", 0o644, libc::O_WRONLY).expect("create");
    mount.write(fh, 0, b"inside").expect("write");
    mount.rename(ROOT, "a", ROOT, "d").expect("rename directory");
    mount.close(fh).expect("close");
    assert_eq!(stored(&bos, "d/b").as_deref(), Some(&b"inside"[..]));
    assert_eq!(stored(&bos, "a/b"), None);
    assert!(mount.resolve("d/b").is_ok(), "d/b missing from the mount");
}

/// `ls -l` and stat show the mode a file was created with, after a rename too.
#[test]
fn a_listing_shows_the_mode_a_file_was_created_with() {
    let (_bos, mount) = mounted(&options());
    write_file(&mount, "a", 0o600, b"");
    mount.rename(ROOT, "a", ROOT, "b").expect("rename");
    let entries = mount.list(ROOT).expect("readdir");
    let listed = entries.iter().find(|e| e.name == "b").map(|e| e.attr.perm);
    assert_eq!(listed, Some(0o600), "ls");
    assert_eq!(mount.resolve("b").expect("stat").perm, 0o600, "stat after ls");
}

/// `mkdir -m 700 d; ls -ld d` shows 700.
#[test]
fn a_listing_shows_the_mode_a_directory_was_made_with() {
    let (_bos, mount) = mounted(&options());
    mount.mkdir(ROOT, "d", 0o700).expect("mkdir");
    assert_eq!(listed_names(&mount, ROOT), vec!["d".to_string()]);
    assert_eq!(mount.resolve("d").expect("stat").perm, 0o700);
}

/// With metadata TTL 0, stat of a closed file shows the mode it was created with.
#[test]
fn with_ttl_zero_stat_shows_the_mode_a_file_was_created_with() {
    let (_bos, mount) = mounted(&ttl_zero_options());
    let ino = write_file(&mount, "d", 0o600, b"x");
    assert_eq!(mount.resolve("d").expect("stat").perm, 0o600);
    let fh = mount.open(ino, libc::O_WRONLY).expect("open");
    assert_eq!(mount.getattr(ino).expect("stat").perm, 0o600);
    mount.close(fh).expect("close");
}

/// After a crash, a fresh mount shows the mode a closed file was created with.
#[test]
fn the_mode_of_a_closed_file_survives_a_crash() {
    let (bos, mount) = mounted(&options());
    write_file(&mount, "a", 0o600, b"");
    mount.crash();
    let fresh = Mount::start(bos, &options());
    assert_eq!(listed_names(&fresh, ROOT), vec!["a".to_string()]);
    assert_eq!(fresh.resolve("a").expect("stat").perm, 0o600);
}

/// fchmod through a read-only descriptor is stored by its fsync (no 500 ms window).
#[test]
fn a_chmod_is_stored_by_the_next_fsync() {
    // The rule (README, "Durability"): a change is stored at the latest by an fsync of the
    // file, by the close of a descriptor that wrote it, by unmount, or 500 ms later. A
    // read-only descriptor's close is no durability point (rsync reads between its close and
    // chmod, and folds the chmod into its rename).
    let (bos, mount) = mounted(&options());
    let ino = write_file(&mount, "c", 0o644, b"content");
    let fh = mount.open(ino, libc::O_RDONLY).expect("open");
    mount.chmod(ino, Some(fh), 0o600).expect("fchmod");
    mount.fsync(fh).expect("fsync");
    mount.close(fh).expect("close");
    mount.crash();
    let fresh = Mount::start(bos, &options());
    assert_eq!(fresh.resolve("c").expect("stat").perm, 0o600);
}

/// fchmod on an open writer after an fsync is not undone by the next commit.
#[test]
fn a_chmod_after_fsync_of_an_open_writer_is_kept() {
    let (bos, mount) = mounted(&options());
    let (attr, fh) = mount.create(ROOT, "d", 0o600, libc::O_WRONLY).expect("create");
    mount.fsync(fh).expect("fsync");
    look(&mount, "d");
    mount.chmod(attr.ino, Some(fh), 0o640).expect("fchmod");
    look(&mount, "d");
    mount.write(fh, 0, b"x").expect("write");
    look(&mount, "d");
    mount.flush(fh).expect("flush");
    assert_eq!(mount.getattr(attr.ino).expect("stat").perm, 0o640);
    mount.close(fh).expect("close");
    mount.crash();
    let fresh = Mount::start(bos, &options());
    assert_eq!(fresh.resolve("d").expect("stat").perm, 0o640);
}

/// Opening for writing and closing without a write keeps the mtime utime set.
#[test]
fn an_untouched_writer_keeps_the_mtime_set_by_utime() {
    let (bos, mount) = mounted(&options());
    let ino = write_file(&mount, "d", 0o644, b"x");
    let when = UNIX_EPOCH + Duration::from_secs(1_577_836_801);
    mount.utime(ino, when).expect("utime");
    mount.unmount();
    let mount = Mount::start(bos, &options());
    let ino = mount.resolve("d").expect("stat").ino;
    let fh = mount.open(ino, libc::O_WRONLY).expect("open");
    mount.close(fh).expect("close");
    let mtime: SystemTime = mount.getattr(ino).expect("stat").mtime;
    assert_eq!(mtime, when);
}

/// A read through an O_RDWR descriptor of a range already sent as a multipart part fails with
/// the documented EINVAL (README, "Limits"): those bytes are in BOS, in an upload that cannot
/// be read before it completes. After an fsync (which completes it) the read works.
#[test]
fn reading_back_an_uploaded_part_fails_clearly_until_fsync() {
    let (_bos, mount) = mounted(&options());
    let (_, fh) = mount.create(ROOT, "big", 0o644, libc::O_RDWR).expect("create");
    mount
        .write(fh, PART as u64, b"z")
        .expect("sparse write past the first part");
    assert_eq!(mount.read(fh, 0, 1).map_err(|e| e.errno()).err(), Some(libc::EINVAL));
    mount.fsync(fh).expect("fsync");
    assert_eq!(mount.read(fh, 0, 1).expect("read of the hole"), vec![0u8]);
    mount.close(fh).expect("close");
}

/// fsync of a file larger than a part returns once the bytes are in the bucket.
#[test]
fn fsync_of_a_file_larger_than_a_part_stores_it() {
    let (bos, mount) = mounted(&options());
    let ino = write_file(&mount, "f", 0o644, b"small");
    let fh = mount.open(ino, libc::O_WRONLY).expect("open");
    let body = vec![7u8; PART + 1];
    mount.write(fh, 5, &body).expect("write");
    mount.fsync(fh).expect("fsync");
    assert_eq!(stored(&bos, "f").map(|b| b.len()), Some(PART + 6));
    mount.close(fh).expect("close");
}

/// ftruncate through an O_APPEND descriptor works (or fails with a documented errno).
#[test]
fn ftruncate_of_an_append_descriptor_works() {
    let (_bos, mount) = mounted(&options());
    let ino = write_file(&mount, "a", 0o644, b"0123456789");
    let fh = mount.open(ino, libc::O_WRONLY | libc::O_APPEND).expect("open O_APPEND");
    let attr = mount.truncate(ino, Some(fh), 1).expect("ftruncate");
    assert_eq!(attr.size, 1);
    mount.close(fh).expect("close");
}

/// rmdir of a directory whose only file is still being written fails with ENOTEMPTY.
#[test]
fn rmdir_refuses_a_directory_holding_a_file_being_written() {
    let (_bos, mount) = mounted(&options());
    let dir = mount.mkdir(ROOT, "b", 0o755).expect("mkdir");
    let (_, fh) = mount.create(dir.ino, "a", 0o644, libc::O_WRONLY).expect("create");
    assert_eq!(
        mount.rmdir(ROOT, "b").map_err(|e| e.errno()).err(),
        Some(libc::ENOTEMPTY)
    );
    mount.close(fh).expect("close");
}

/// A rename over a file with equal content (so an equal ETag), then a crash: a fresh mount
/// shows the renamed file's mode, not what the attribute index said of the old target.
#[test]
fn the_attribute_index_is_not_believed_over_a_rename_onto_equal_content() {
    let (bos, mount) = mounted(&options());
    write_file(&mount, "b", 0o644, b"");
    write_file(&mount, "d", 0o644, b"");
    write_file(&mount, "a", 0o600, b"");
    mount.unmount();
    let mount = Mount::start(bos.clone(), &options());
    mount.rename(ROOT, "a", ROOT, "d").expect("rename over");
    assert_eq!(mount.resolve("d").expect("stat").perm, 0o600);
    mount.crash();
    let fresh = Mount::start(bos, &options());
    fresh.resolve("b").expect("stat b");
    assert_eq!(fresh.resolve("d").expect("stat").perm, 0o600);
}

/// A rename that fails (its DeleteObject refused) has no effect or its full effect:
/// never both names.
#[test]
fn a_failed_rename_leaves_one_name_not_two() {
    let (bos, mount) = mounted(&options());
    write_file(&mount, "c", 0o644, b"content");
    bos.inject(bosmount::bos::memory::Fault::on(
        bosmount::bos::types::Operation::DeleteObject,
    ));
    let result = mount.rename(ROOT, "c", ROOT, "d");
    bos.clear_faults();
    let names = (stored(&bos, "c").is_some(), stored(&bos, "d").is_some());
    match result {
        Ok(()) => assert_eq!(names, (false, true), "rename returned 0"),
        Err(e) => assert!(
            names == (true, false) || names == (false, true),
            "rename failed with errno {} and left (c, d) = {names:?}",
            e.errno()
        ),
    }
}

/// After a store whose answer was lost (the object was written, the reply never came),
/// cat works, and stat and cat of the file agree with each other and with the bucket.
#[test]
fn after_a_lost_answer_stat_and_cat_agree() {
    let (bos, mount) = mounted(&options());
    let ino = write_file(&mount, "f", 0o644, b"0123456789");
    let fh = mount.open(ino, libc::O_WRONLY | libc::O_TRUNC).expect("open O_TRUNC");
    bos.inject(bosmount::bos::memory::Fault::on(bosmount::bos::types::Operation::PutObject).after_applying());
    let _ = mount.close(fh);
    bos.clear_faults();
    let size = mount.resolve("f").expect("stat").size;
    let reader = mount.open(ino, libc::O_RDONLY).expect("open");
    let content = mount.read_all(reader).expect("cat");
    mount.close(reader).expect("close reader");
    assert_eq!(size, content.len() as u64, "stat says {size}, cat reads {content:?}");
    assert_eq!(stored(&bos, "f"), Some(content));
}

/// A file appended to whose bytes all went out before its close (each write fills the append
/// buffer), looked up while it grew: a reader opened after the close reads the final bytes,
/// not ESTALE against the version the lookup saw.
#[test]
fn a_reader_after_an_append_whose_bytes_all_landed_reads_them() {
    // The metadata cache keeps wall-clock time: a short TTL, really waited for, makes the
    // fstat ask BOS.
    let options = MountOptions {
        metadata_ttl: Duration::from_millis(1),
        ..options()
    };
    let (bos, mount) = mounted(&options);
    let (attr, fh) = mount
        .create(ROOT, "log", 0o644, libc::O_WRONLY | libc::O_APPEND | libc::O_CREAT)
        .expect("create O_APPEND");
    let line = [b'x'; 100];
    mount.write(fh, 0, &line).expect("first write");
    std::thread::sleep(Duration::from_millis(5));
    mount.getattr(attr.ino).expect("fstat while growing");
    mount.write(fh, 100, &line).expect("second write");
    mount.close(fh).expect("close");
    let reader = mount.open(attr.ino, libc::O_RDONLY).expect("open");
    let content = mount.read_all(reader).expect("cat after close");
    mount.close(reader).expect("close reader");
    assert_eq!(content.len(), 200);
    assert_eq!(stored(&bos, "log"), Some(content));
}
