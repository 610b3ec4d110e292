//! Real mounts: open files follow their inode. Rename, unlink and replacement of a file that
//! is open for writing, two descriptors writing one file, close of a file that was never
//! written, attribute changes right before an unmount, and a mount stopped while a large
//! file is written — each checked in the bucket, not only through the mount.

mod mountutil;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use mountutil::{sh, Mount, ServerOptions, TestServer, BUCKET};

/// The object at `key`, or `None`.
fn object(server: &TestServer, key: &str) -> Option<Vec<u8>> {
    let client = server.client();
    match server.block_on(client.get_object(BUCKET, key, None)) {
        Ok(got) => Some(got.body.to_vec()),
        Err(e) if e.is_not_found() => None,
        Err(e) => panic!("GET {key}: {e}"),
    }
}

/// Run a Python program in the mount directory; panics with its output when it fails.
fn python(mount: &Mount, program: &str) {
    let script = format!("python3 - <<'PY'\nimport os\n{program}\nPY");
    let (code, out) = sh(mount.path(), &script);
    assert_eq!(code, 0, "python failed:\n{out}\n{}", mount.log_text());
}

#[test]
fn writes_after_a_rename_land_under_the_new_name() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    python(
        &mount,
        r#"
fd = os.open("app.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
os.write(fd, b"before\n")
os.fsync(fd)
os.rename("app.log", "app.log.1")
os.write(fd, b"after\n")
os.close(fd)
assert open("app.log.1", "rb").read() == b"before\nafter\n", open("app.log.1", "rb").read()
assert not os.path.exists("app.log")
fd = os.open("plain", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"one ")
os.rename("plain", "moved")
os.write(fd, b"two")
os.close(fd)
"#,
    );
    assert_eq!(object(&server, "app.log.1").as_deref(), Some(&b"before\nafter\n"[..]));
    assert_eq!(object(&server, "app.log"), None, "the old name came back");
    assert_eq!(object(&server, "moved").as_deref(), Some(&b"one two"[..]));
    assert_eq!(object(&server, "plain"), None, "the old name came back");
    mount.unmount();
    assert_eq!(object(&server, "app.log"), None);
    assert_eq!(object(&server, "plain"), None);
}

#[test]
fn an_unlinked_open_file_is_never_stored_and_still_reads_back() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    python(
        &mount,
        r#"
fd = os.open("scratch", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
os.write(fd, b"temporary ")
os.unlink("scratch")
os.write(fd, b"data")
os.fsync(fd)
os.lseek(fd, 0, 0)
assert os.read(fd, 100) == b"temporary data"
os.close(fd)
assert not os.path.exists("scratch")
"#,
    );
    assert_eq!(object(&server, "scratch"), None, "the unlinked file reappeared");
    mount.unmount();
    assert_eq!(
        object(&server, "scratch"),
        None,
        "the unlinked file reappeared at unmount"
    );
}

#[test]
fn a_file_replaced_by_rename_keeps_its_writer_off_the_replacement() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    python(
        &mount,
        r#"
open("target", "wb").write(b"old")
fd = os.open("target", os.O_WRONLY)
os.write(fd, b"OLD writer's bytes")
open("new", "wb").write(b"replacement")
os.rename("new", "target")
os.write(fd, b" more")
os.close(fd)
assert open("target", "rb").read() == b"replacement"
"#,
    );
    assert_eq!(object(&server, "target").as_deref(), Some(&b"replacement"[..]));
    assert_eq!(object(&server, "new"), None);
}

#[test]
fn two_descriptors_writing_one_file_store_the_union_of_their_writes() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    python(
        &mount,
        r#"
open("f", "wb").write(b"." * 20)
a = os.open("f", os.O_WRONLY)
b = os.open("f", os.O_WRONLY)
os.pwrite(a, b"AAAA", 0)
os.pwrite(b, b"BBBB", 10)
os.close(a)
os.close(b)
assert open("f", "rb").read() == b"AAAA......BBBB......", open("f", "rb").read()
"#,
    );
    assert_eq!(object(&server, "f").as_deref(), Some(&b"AAAA......BBBB......"[..]));
}

#[test]
fn close_of_a_never_written_file_stores_it_before_returning() {
    let server = TestServer::start(ServerOptions::default());
    let mut mount = Mount::start(server.endpoint(), &[]);
    python(&mount, "open('old', 'wb').write(b'old content')");
    // Close, then kill the mount at once: whatever close() promised must be in the bucket.
    let pid = mount.pid();
    python(
        &mount,
        &format!(
            r#"
import signal
os.close(os.open("touched", os.O_WRONLY | os.O_CREAT, 0o644))
os.close(os.open("old", os.O_WRONLY | os.O_TRUNC))
os.kill({pid}, signal.SIGKILL)
"#
        ),
    );
    mount.wait_killed(Duration::from_secs(10));
    assert_eq!(
        object(&server, "touched").as_deref(),
        Some(&b""[..]),
        "touch not stored at close"
    );
    assert_eq!(
        object(&server, "old").as_deref(),
        Some(&b""[..]),
        "O_TRUNC not stored at close"
    );
}

#[test]
fn attribute_changes_right_before_an_unmount_are_stored() {
    let server = TestServer::start(ServerOptions {
        latency: Duration::from_millis(20),
        ..ServerOptions::default()
    });
    let mount = Mount::start(server.endpoint(), &[]);
    let (code, out) = sh(
        mount.path(),
        "for i in $(seq 1 100); do echo $i > f$i; done && for i in $(seq 1 100); do chmod 600 f$i; done",
    );
    assert_eq!(code, 0, "{out}");
    let started = std::time::Instant::now();
    mount.unmount();
    let took = started.elapsed();
    println!("[unmount] with 100 pending attribute changes at 20 ms latency: {took:?}");
    let fresh = Mount::start(server.endpoint(), &[]);
    for i in 1..=100 {
        let mode = std::fs::metadata(fresh.join(&format!("f{i}")))
            .expect("stat")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o600, "f{i} after a remount");
    }
}

#[test]
fn a_file_streamed_while_the_mount_is_told_to_stop_is_listed_and_stored_whole_at_close() {
    let server = TestServer::start(ServerOptions::default());
    let mut mount = Mount::start(server.endpoint(), &["--part-size", "1048576"]);
    python(&mount, "open('big', 'wb').write(b'first version')");
    let pid = mount.pid();
    // Parts go out while the file is open; it is listed with its current size. SIGTERM while
    // it is open detaches the mount lazily: the descriptor keeps working, and the file is
    // stored whole when it is closed — never the part written before the signal.
    python(
        &mount,
        &format!(
            r#"
import signal
fd = os.open("big", os.O_WRONLY | os.O_TRUNC)
for i in range(5):
    os.write(fd, bytes([65 + i]) * 1048576)
names = os.listdir(".")
assert "big" in names, names
assert os.stat("big").st_size == 5 * 1048576
os.kill({pid}, signal.SIGTERM)
os.write(fd, b"F" * 1048576)
os.close(fd)
"#
        ),
    );
    let code = mount.wait_exit(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{}", mount.log_text());
    let stored = object(&server, "big").expect("big is stored");
    assert_eq!(stored.len(), 6 * 1048576, "{}", mount.log_text());
    for (i, chunk) in stored.chunks(1048576).enumerate() {
        assert!(chunk.iter().all(|b| *b == b"ABCDEF"[i]), "part {i} is wrong");
    }
}
