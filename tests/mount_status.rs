//! Upload status and filesystem gauges through real mounts: the `user.bosmount.status`
//! attribute of files being written (a multi-part stream, an append writer), after close and
//! after a failed upload; `bosmount status`; and the `--metrics-addr` gauges during and after
//! the writes and a `cp`. A separate writer process keeps each file open and acts on command
//! (`mountutil::FileWriterProcess`), so every query happens at a known point of the upload
//! and nothing the test forks inherits the file (a close of an inherited descriptor would
//! flush it). Nothing depends on timing: what the kernel's asynchronous release brings about
//! (gauges at 0, the outcome of a closed append file) is awaited, bounded.

mod mountutil;

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mountutil::{FileWriterProcess, Mount, ServerOptions, TestServer};

const STATUS: &str = "user.bosmount.status";
const MIB: usize = 1024 * 1024;
const PATIENCE: Duration = Duration::from_secs(20);

fn c_string(bytes: &[u8]) -> CString {
    CString::new(bytes).expect("no NUL")
}

/// The status attribute of `path` (through the path, as getfattr asks).
fn status_of(path: &Path) -> String {
    let (p, n) = (c_string(path.as_os_str().as_bytes()), c_string(STATUS.as_bytes()));
    let mut buffer = vec![0u8; 65536];
    // SAFETY: NUL-terminated strings and a buffer of the length given.
    let got = unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), buffer.as_mut_ptr().cast(), buffer.len()) };
    assert!(
        got >= 0,
        "getxattr {}: {}",
        path.display(),
        std::io::Error::last_os_error()
    );
    buffer.truncate(got as usize);
    String::from_utf8(buffer).expect("utf-8")
}

/// The size getxattr announces for the status before reading it (the probe getfattr makes).
fn announced_size(path: &Path) -> isize {
    let (p, n) = (c_string(path.as_os_str().as_bytes()), c_string(STATUS.as_bytes()));
    // SAFETY: NUL-terminated strings; a null buffer of size 0 asks for the size.
    unsafe { libc::getxattr(p.as_ptr(), n.as_ptr(), std::ptr::null_mut(), 0) }
}

/// Names listxattr gives for `path`.
fn listed_names(path: &Path) -> Vec<String> {
    let p = c_string(path.as_os_str().as_bytes());
    let mut buffer = vec![0u8; 65536];
    // SAFETY: NUL-terminated path and a buffer of the length given.
    let got = unsafe { libc::listxattr(p.as_ptr(), buffer.as_mut_ptr().cast(), buffer.len()) };
    assert!(got >= 0, "listxattr: {}", std::io::Error::last_os_error());
    buffer.truncate(got as usize);
    buffer
        .split(|b| *b == 0)
        .filter(|n| !n.is_empty())
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .collect()
}

/// errno of setxattr (`Some(value)`) or removexattr (`None`) of the status on `path`.
fn change_errno(path: &Path, value: Option<&[u8]>) -> i32 {
    let (p, n) = (c_string(path.as_os_str().as_bytes()), c_string(STATUS.as_bytes()));
    // SAFETY: NUL-terminated strings; the value pointer and length match.
    let rc = unsafe {
        match value {
            Some(v) => libc::setxattr(p.as_ptr(), n.as_ptr(), v.as_ptr().cast(), v.len(), 0),
            None => libc::removexattr(p.as_ptr(), n.as_ptr()),
        }
    };
    assert_eq!(rc, -1, "changing {STATUS} must be refused");
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `bosmount status ARGS…`: exit code and stdout + stderr.
fn bosmount_status(args: &[&str]) -> (i32, String) {
    let out = Command::new(mountutil::binary())
        .arg("status")
        .args(args)
        .output()
        .expect("run bosmount status");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The metrics address the mount logged.
fn metrics_addr(mount: &Mount) -> String {
    let log = mount.log_text();
    log.lines()
        .find_map(|l| l.split("metrics at http://").nth(1))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address logged:\n{log}"))
        .to_string()
}

/// One sample of `series` scraped from `addr`.
fn gauge(addr: &str, series: &str) -> f64 {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
}

fn gauges(addr: &str) -> [f64; 3] {
    [
        gauge(addr, "bosmount_open_files"),
        gauge(addr, "bosmount_uploads_in_flight"),
        gauge(addr, "bosmount_bytes_buffered"),
    ]
}

/// Parse `uploading K/N parts (SENT of SIZE sent)`.
fn uploading_parts(status: &str) -> (u64, u64) {
    let rest = status
        .strip_prefix("uploading ")
        .unwrap_or_else(|| panic!("not uploading: {status:?}"));
    let (parts, _) = rest.split_once(" parts (").unwrap_or_else(|| panic!("{status:?}"));
    let (done, total) = parts.split_once('/').unwrap_or_else(|| panic!("{status:?}"));
    (done.parse().expect("parts done"), total.parse().expect("parts total"))
}

#[test]
fn status_and_gauges_follow_a_multipart_stream_and_an_append_writer() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(
        server.endpoint(),
        &[
            "--metrics-addr",
            "127.0.0.1:0",
            "--part-size",
            "1MiB",
            "--append-flush-ms",
            "3600000",
            "--append-buffer",
            "1MiB",
        ],
    );
    let addr = metrics_addr(&mount);
    assert_eq!(gauges(&addr), [0.0, 0.0, 0.0]);
    let path = mount.join("big.bin");

    // Open, inside the first part: nothing is sent yet.
    let mut writer = FileWriterProcess::open(&path, "w");
    writer.ok("write 100 7");
    assert_eq!(status_of(&path), "pending (100 bytes written, nothing sent)");
    assert_eq!(writer.ok("status"), "pending (100 bytes written, nothing sent)");
    assert_eq!(gauges(&addr), [1.0, 0.0, 100.0]);
    let probe = announced_size(&path);
    assert!(probe >= status_of(&path).len() as isize, "probe {probe}");

    // Past three parts: a multipart upload is open, parts stored or in flight.
    writer.ok(&format!("write {} 1", 3 * MIB + 5 - 100));
    let status = status_of(&path);
    let (done, total) = uploading_parts(&status);
    assert_eq!(total, 4, "{status}");
    assert!(done <= 3, "{status}");
    assert!(status.ends_with(" of 3 MiB sent)"), "{status}");
    let [open, uploads, buffered] = gauges(&addr);
    assert_eq!((open, uploads), (1.0, 1.0));
    assert!((5.0..=(4 * MIB) as f64).contains(&buffered), "{buffered}");

    // The mount's listing, from the mountpoint.
    let (code, listing) = bosmount_status(&[&mount.path().to_string_lossy()]);
    assert_eq!(code, 0, "{listing}");
    assert!(listing.starts_with("STATE"), "{listing}");
    let row = listing
        .lines()
        .find(|l| l.contains("big.bin"))
        .unwrap_or_else(|| panic!("{listing}"));
    assert!(row.starts_with("uploading "), "{listing}");
    assert!(row.contains("3 MiB") && row.contains("parts ("), "{listing}");

    // fsync completes the upload: committed while still open.
    writer.ok("fsync");
    let committed = status_of(&path);
    assert!(
        committed.starts_with("committed etag=") && committed.ends_with(&format!(" size={}", 3 * MIB + 5)),
        "{committed}"
    );
    let [_, uploads, buffered] = gauges(&addr);
    assert_eq!((uploads, buffered), (0.0, 0.0));
    writer.ok("close");

    // After close: the outcome stays; the file is gone from the files in flight.
    let after = status_of(&path);
    assert_eq!(after, committed);
    let etag = after
        .strip_prefix("committed etag=")
        .and_then(|r| r.split(' ').next())
        .expect("etag");
    let head = server
        .block_on(server.client().head_object(mountutil::BUCKET, "big.bin"))
        .expect("head");
    assert_eq!(head.etag.trim_matches('"'), etag.trim_matches('"'));
    mountutil::wait_until("gauges back to 0", PATIENCE, || gauges(&addr) == [0.0, 0.0, 0.0]);
    let (code, listing) = bosmount_status(&[&mount.path().to_string_lossy()]);
    assert_eq!(code, 0, "{listing}");
    assert!(listing.starts_with("no files in flight under "), "{listing}");
    let (code, listing) = bosmount_status(&["--all", &mount.path().to_string_lossy()]);
    assert_eq!(code, 0, "{listing}");
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("committed") && l.contains("big.bin")),
        "{listing}"
    );
    let (code, one) = bosmount_status(&[&path.to_string_lossy()]);
    assert_eq!(
        (code, one.trim_end()),
        (0, format!("{}: {after}", path.display()).as_str())
    );

    // A `cp` of a multi-part file: gauges back to 0 once it exits.
    let (_keep, source) = mountutil::random_file(3 * MIB + 17);
    let (code, text) = mountutil::sh(mount.path(), &format!("cp {} ./copied.bin", source.display()));
    assert_eq!(code, 0, "{text}");
    let copied = status_of(&mount.join("copied.bin"));
    assert!(copied.ends_with(&format!(" size={}", 3 * MIB + 17)), "{copied}");
    mountutil::wait_until("gauges back to 0 after cp", PATIENCE, || {
        gauges(&addr) == [0.0, 0.0, 0.0]
    });

    // An append writer: bytes wait (a flush interval of an hour), then fsync sends them.
    let log = mount.join("app.log");
    let mut appender = FileWriterProcess::open(&log, "a");
    appender.ok("write 11 65");
    appender.ok("write 12 66");
    assert_eq!(status_of(&log), "appending (0 bytes sent, 23 waiting)");
    assert_eq!(gauges(&addr), [1.0, 1.0, 23.0]);
    let lag_before = gauge(&addr, "bosmount_append_flush_lag_seconds_count");
    appender.ok("fsync");
    assert_eq!(status_of(&log), "appending (23 bytes sent, 0 waiting)");
    assert_eq!(gauges(&addr), [1.0, 1.0, 0.0]);
    assert_eq!(
        gauge(&addr, "bosmount_append_flush_lag_seconds_count"),
        lag_before + 1.0
    );
    appender.ok("write 6 67");
    assert_eq!(appender.ok("status"), "appending (23 bytes sent, 6 waiting)");
    appender.ok("close");
    // The kernel releases the handle after close() returns; until then the open writer
    // answers "appending".
    mountutil::wait_until("the append writer released", PATIENCE, || {
        status_of(&log).starts_with("committed")
    });
    let closed = status_of(&log);
    assert!(
        closed.starts_with("committed etag=") && closed.ends_with(" size=29"),
        "{closed}"
    );
    mountutil::wait_until("gauges back to 0 after the append writer", PATIENCE, || {
        gauges(&addr) == [0.0, 0.0, 0.0]
    });
    drop(writer);
    drop(appender);
    mount.unmount();
}

/// The status follows a file and a directory through renames: the new name answers
/// `committed` (same bytes, same ETag), the old one is gone, and `bosmount status` lists the
/// new path under `--all`.
#[test]
fn status_follows_renames_of_a_file_and_of_its_directory() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    std::fs::create_dir(mount.join("d")).expect("mkdir");
    std::fs::write(mount.join("d/a.txt"), b"hello").expect("write");
    let before = status_of(&mount.join("d/a.txt"));
    assert!(before.starts_with("committed etag="), "{before}");
    std::fs::rename(mount.join("d/a.txt"), mount.join("d/b.txt")).expect("rename file");
    assert_eq!(status_of(&mount.join("d/b.txt")), before);
    std::fs::rename(mount.join("d"), mount.join("e")).expect("rename directory");
    assert_eq!(status_of(&mount.join("e/b.txt")), before);
    let (code, listing) = bosmount_status(&[&mount.path().to_string_lossy(), "--all"]);
    assert_eq!(code, 0, "{listing}");
    assert!(listing.contains("e/b.txt") && !listing.contains("d/a.txt"), "{listing}");
    mount.unmount();
}

#[test]
fn status_attribute_is_hidden_read_only_and_not_copied() {
    let server = TestServer::start(ServerOptions::default());
    let client = server.client();
    server
        .block_on(client.put_object(
            mountutil::BUCKET,
            "other.txt",
            bytes::Bytes::from_static(b"abc"),
            &Default::default(),
        ))
        .expect("put");
    let mount = Mount::start(server.endpoint(), &[]);
    let path = mount.join("plain.txt");
    std::fs::write(&path, b"hello").expect("write");
    // A file this mount wrote, then a user attribute of its own.
    let user = c_string(b"user.colour");
    let p = c_string(path.as_os_str().as_bytes());
    // SAFETY: NUL-terminated strings and a value of the length given.
    let rc = unsafe { libc::setxattr(p.as_ptr(), user.as_ptr(), b"blue".as_ptr().cast(), 4, 0) };
    assert_eq!(rc, 0, "setxattr: {}", std::io::Error::last_os_error());
    assert!(status_of(&path).starts_with("committed etag="));
    assert_eq!(listed_names(&path), vec!["user.colour".to_string()]);
    assert_eq!(change_errno(&path, Some(b"committed")), libc::EPERM);
    assert_eq!(change_errno(&path, None), libc::EPERM);

    // cp -a and rsync -X copy the user attribute and never the status.
    let local = tempfile::tempdir().expect("local dir");
    let (code, text) = mountutil::sh(local.path(), &format!("cp -a {} ./copied.txt", path.display()));
    assert_eq!(code, 0, "{text}");
    assert_eq!(
        listed_names(&local.path().join("copied.txt")),
        vec!["user.colour".to_string()]
    );
    let (code, text) = mountutil::sh(
        local.path(),
        &format!(
            "rsync -aX {} {}/again.txt",
            local.path().join("copied.txt").display(),
            mount.path().display()
        ),
    );
    assert_eq!(code, 0, "{text}");
    let again = mount.join("again.txt");
    assert_eq!(listed_names(&again), vec!["user.colour".to_string()]);
    // rsync wrote a temporary name and renamed it: the outcome stays with the name it was
    // closed under, the new name reports what the bucket holds.
    let again_status = status_of(&again);
    assert!(
        again_status.starts_with("committed etag=") || again_status.starts_with("stored etag="),
        "{again_status}"
    );

    // A file this mount did not write (put before the mount lists anything), and a path
    // that is not on a bosmount mount.
    let other = status_of(&mount.join("other.txt"));
    assert!(
        other.starts_with("stored etag=") && other.ends_with(" size=3"),
        "{other}"
    );
    let (code, text) = bosmount_status(&[&local.path().to_string_lossy()]);
    assert_ne!(code, 0, "{text}");
    assert!(text.contains("not on a bosmount mount"), "{text}");
    if Command::new("getfattr").arg("--version").output().is_ok() {
        let out = Command::new("getfattr")
            .args(["-n", STATUS, "--only-values"])
            .arg(&path)
            .output()
            .expect("getfattr");
        assert!(out.status.success(), "{out:?}");
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("committed etag="));
        let dump = Command::new("getfattr")
            .arg("-d")
            .arg(&path)
            .output()
            .expect("getfattr -d");
        assert!(!String::from_utf8_lossy(&dump.stdout).contains("bosmount"), "{dump:?}");
    }
    mount.unmount();
}

#[test]
fn status_tells_a_failed_upload_after_the_server_stopped() {
    let mut server = TestServer::start(ServerOptions::default());
    // Entries trusted for an hour: the closed file's status is asked through its cached
    // dentry while the server is down.
    let mount = Mount::start(
        server.endpoint(),
        &["--max-attempts", "1", "--metadata-ttl", "3600", "--part-size", "1MiB"],
    );
    let path = mount.join("kept.txt");
    std::fs::write(&path, b"version one").expect("write");
    assert!(status_of(&path).starts_with("committed etag="));

    let mut writer = FileWriterProcess::open(&path, "w");
    writer.ok(&format!("write {} 3", 2 * MIB + 1));
    server.stop();
    let synced = writer.ask("fsync");
    assert!(synced.starts_with("err 5 "), "fsync must fail with EIO: {synced}");
    let failed = writer.ok("status");
    assert!(failed.starts_with("failed: "), "{failed}");
    assert_eq!(status_of(&path), failed);
    let (code, listing) = bosmount_status(&[&mount.path().to_string_lossy()]);
    assert_eq!(code, 0, "{listing}");
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("failed") && l.contains("kept.txt")),
        "{listing}"
    );
    let closed = writer.ask("close");
    assert!(closed.starts_with("err 5 "), "close must fail too: {closed}");
    mountutil::wait_until("the failed writer released", PATIENCE, || {
        bosmount_status(&[&mount.path().to_string_lossy()])
            .1
            .starts_with("no files in flight")
    });
    assert_eq!(status_of(&path), failed, "the failure stays after close");
    let (code, listing) = bosmount_status(&["--all", &mount.path().to_string_lossy()]);
    assert_eq!(code, 0, "{listing}");
    assert!(
        listing
            .lines()
            .any(|l| l.starts_with("failed") && l.contains("kept.txt")),
        "{listing}"
    );
    drop(writer);
    drop(mount);
}
