//! Acceptance tests of append mode through real mounts of the `bosmount` binary over the
//! local server: `echo >> file` loops, a long-running logger seen from a second mount, fsync,
//! two mounts appending to one new file, O_APPEND and writes without O_TRUNC on Normal
//! objects, ARCHIVE objects, and logrotate's rename (also with a server that refuses
//! CopyObject of Appendable objects, as BOS has been seen to).
//!
//! Not tested here: the 5 GiB limit of an Appendable object (EFBIG). Writing 5 GiB through
//! a mount in CI is impractical; the write pipeline's unit tests cover it.

mod mountutil;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bosmount::bos::credentials::Credentials;
use bosmount::bos::{BosApi, ObjectType, PutOptions, StorageClass};
use bosmount::server::{RunningServer, ServerConfig};
use mountutil::{client_of, print_requests, tail_of, Mount, ServerOptions, TestServer, BUCKET};

// ---------------------------------------------------------------------------------------
// Small private helpers (the shared fixtures are in tests/mountutil).
// ---------------------------------------------------------------------------------------

/// Run `sh -c script` in `dir`, with stdout and stderr captured.
fn sh_out(dir: &Path, script: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run sh")
}

/// Run `sh -c script` in `dir` and insist that it succeeds; `mount` supplies the log on failure.
fn sh_ok(dir: &Path, script: &str, mount: &Mount) {
    let out = sh_out(dir, script);
    assert!(
        out.status.success(),
        "`{script}` failed ({}):\nstdout: {}\nstderr: {}\nmount log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text()),
    );
}

/// Run `python3 -c script args…`, returning the output.
fn python(script: &str, args: &[&str]) -> Output {
    Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("python3 is needed by the mount tests")
}

/// The object's bytes read through the client.
fn object_bytes(server: &TestServer, key: &str) -> Vec<u8> {
    let client = server.client();
    server
        .block_on(client.get_object(BUCKET, key, None))
        .unwrap_or_else(|e| panic!("GetObject {key} through the client: {e}"))
        .body
        .to_vec()
}

/// `n` numbered lines "`prefix` i\n" for i in 1..=n.
fn numbered_lines(prefix: &str, n: usize) -> String {
    (1..=n).map(|i| format!("{prefix} {i}\n")).collect()
}

/// First byte where two contents differ, for readable failure messages.
fn first_difference(got: &[u8], want: &[u8]) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let show =
        |b: &[u8]| String::from_utf8_lossy(&b[at.saturating_sub(40).min(b.len())..(at + 40).min(b.len())]).to_string();
    format!(
        "lengths got {} want {}; first difference at byte {at}: got {:?} want {:?}",
        got.len(),
        want.len(),
        show(got),
        show(want)
    )
}

fn assert_same(got: &[u8], want: &[u8], what: &str) {
    assert!(got == want, "{what}: {}", first_difference(got, want));
}

// ---------------------------------------------------------------------------------------
// The 1,000-line `echo >> file` loop.
// ---------------------------------------------------------------------------------------

#[test]
fn echo_append_loop_of_1000_lines_holds_exactly_those_lines() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    server.reset_stats();
    let started = Instant::now();
    sh_ok(
        mount.path(),
        r#"for i in $(seq 1000); do echo "line $i" >> log; done"#,
        &mount,
    );
    let elapsed = started.elapsed();
    let stats = server.stats();
    println!("[time] 1000 x `echo line >> log`: {:.2} s", elapsed.as_secs_f64());
    print_requests("echo >> log, 1000 times", &stats, 1000, "line");

    let want = numbered_lines("line", 1000);
    let through_mount = std::fs::read(mount.join("log")).expect("read log through the mount");
    assert_same(&through_mount, want.as_bytes(), "log read through the writing mount");
    assert!(
        stats.count("AppendObject") >= 1,
        "an O_APPEND writer must use AppendObject: {stats:?}"
    );
    mount.unmount();

    let fresh = Mount::start(server.endpoint(), &[]);
    let through_fresh = std::fs::read(fresh.join("log")).expect("read log through a fresh mount");
    assert_same(&through_fresh, want.as_bytes(), "log read through a fresh mount");
    fresh.unmount();

    assert_same(
        &object_bytes(&server, "log"),
        want.as_bytes(),
        "log read through the client",
    );
    let client = server.client();
    let meta = server
        .block_on(client.head_object(BUCKET, "log"))
        .expect("HeadObject log");
    assert_eq!(
        meta.object_type,
        ObjectType::Appendable,
        "a file created with O_APPEND must be an Appendable object"
    );
    assert_eq!(meta.next_append_offset, Some(want.len() as u64), "next append offset");
}

#[test]
fn o_append_creates_an_appendable_object() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    server.reset_stats();
    sh_ok(mount.path(), "echo 'first line' >> new.log", &mount);
    let stats = server.stats();
    print_requests("one `echo >> new.log` creating the file", &stats, 1, "line");
    let client = server.client();
    let meta = server
        .block_on(client.head_object(BUCKET, "new.log"))
        .expect("HeadObject new.log");
    assert_eq!(
        meta.object_type,
        ObjectType::Appendable,
        "open(O_APPEND|O_CREAT) of a file that does not exist must create an Appendable object \
         (AppendObject), not a Normal one; requests: {stats:?}"
    );
    assert_same(&object_bytes(&server, "new.log"), b"first line\n", "new.log");
}

// ---------------------------------------------------------------------------------------
// A long-running logger and a reader on a second mount; fsync.
// ---------------------------------------------------------------------------------------

#[test]
fn long_running_writer_is_seen_by_a_reader_on_a_second_mount_within_two_seconds() {
    const LINES: usize = 30;
    let server = TestServer::start(ServerOptions::default());
    let writer_mount = Mount::start(server.endpoint(), &[]);
    let reader_mount = Mount::start(server.endpoint(), &[]);
    let writer_path = writer_mount.join("app.log");
    let reader_path = reader_mount.join("app.log");
    server.reset_stats();

    // One open O_APPEND descriptor, a line every 100 ms, as a logger does.
    let writer = std::thread::spawn(move || {
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(&writer_path)
            .expect("open app.log with O_APPEND|O_CREAT");
        let mut written = Vec::with_capacity(LINES);
        for i in 1..=LINES {
            file.write_all(format!("event {i}\n").as_bytes()).expect("write a line");
            written.push(Instant::now());
            std::thread::sleep(Duration::from_millis(100));
        }
        (file, written)
    });

    // The reader polls the second mount (open, read, close) until every line is there.
    let mut first_seen: Vec<Option<Instant>> = vec![None; LINES];
    let deadline = Instant::now() + Duration::from_secs(LINES as u64 / 10 + 15);
    loop {
        if let Ok(bytes) = std::fs::read(&reader_path) {
            let text = String::from_utf8_lossy(&bytes).to_string();
            let complete: Vec<&str> = text.split_inclusive('\n').filter(|l| l.ends_with('\n')).collect();
            for (i, line) in complete.iter().enumerate() {
                assert_eq!(
                    *line,
                    format!("event {}\n", i + 1),
                    "the reader saw a wrong line at position {i}: {text:?}"
                );
                if i < LINES && first_seen[i].is_none() {
                    first_seen[i] = Some(Instant::now());
                }
            }
        }
        if first_seen.iter().all(Option::is_some) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the reader on the second mount saw only {} of {LINES} lines\nwriter mount log:\n{}",
            first_seen.iter().filter(|s| s.is_some()).count(),
            tail_of(&writer_mount.log_text())
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (file, written) = writer.join().expect("writer thread");
    let stats = server.stats();
    drop(file);

    let delays: Vec<f64> = written
        .iter()
        .zip(&first_seen)
        .map(|(w, s)| s.expect("seen").saturating_duration_since(*w).as_secs_f64())
        .collect();
    let worst = delays.iter().cloned().fold(0.0, f64::max);
    let mean = delays.iter().sum::<f64>() / delays.len() as f64;
    println!("[latency] writer → reader on another mount: mean {mean:.2} s, worst {worst:.2} s over {LINES} lines");
    print_requests(
        "logger, one line per 100 ms (writer and reader)",
        &stats,
        LINES as u64,
        "line",
    );
    assert!(
        worst <= 3.0,
        "a line appended on one mount must be readable on another within about 2 s (1 s flush + 1 s metadata TTL); \
         worst was {worst:.2} s: {delays:?}\nrequests while writing: {stats:?}"
    );
    assert!(
        stats.count("AppendObject") <= (LINES / 2) as u64,
        "small writes must be coalesced (sent every --append-flush-ms, not per write): {} AppendObject for {LINES} lines",
        stats.count("AppendObject")
    );
    assert_same(
        &object_bytes(&server, "app.log"),
        numbered_lines("event", LINES).as_bytes(),
        "app.log after the writer closed",
    );
}

#[test]
fn fsync_returns_only_when_the_appended_bytes_are_in_the_bucket() {
    let server = TestServer::start(ServerOptions::default());
    // A flush timer of one minute: only fsync (or close) can send the bytes in this test.
    let mount = Mount::start(server.endpoint(), &["--append-flush-ms", "60000"]);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(mount.join("synced.log"))
        .expect("open synced.log with O_APPEND|O_CREAT");
    file.write_all(b"first\n").expect("write");
    file.sync_all().expect("fsync of an O_APPEND file");
    assert_same(
        &object_bytes(&server, "synced.log"),
        b"first\n",
        "right after the first fsync",
    );

    file.write_all(b"second\n").expect("write");
    let before_sync = object_bytes(&server, "synced.log");
    assert_same(
        &before_sync,
        b"first\n",
        "a small write must wait in the append buffer (coalescing) until fsync, close, the timer or a full buffer",
    );
    file.write_all(b"third\n").expect("write");
    file.sync_all().expect("second fsync");
    assert_same(
        &object_bytes(&server, "synced.log"),
        b"first\nsecond\nthird\n",
        "right after the second fsync",
    );
    drop(file);
    assert_same(
        &object_bytes(&server, "synced.log"),
        b"first\nsecond\nthird\n",
        "after close",
    );
}

// ---------------------------------------------------------------------------------------
// Two mounts appending to one file that does not exist yet.
// ---------------------------------------------------------------------------------------

/// A writer process: waits for the `go` file, opens PATH with O_APPEND|O_CREAT, and writes N
/// numbered lines with one write() each. Line i of writer TAG is "TAG iiiii " followed by
/// (i % 37) dots and a newline, so a torn or merged line cannot pass for a whole one.
const NUMBERED_WRITER: &str = r#"
import os, sys, time
path, tag, n, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
deadline = time.time() + 60
while not os.path.exists(go):
    if time.time() > deadline:
        sys.exit("no go signal")
    time.sleep(0.002)
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(1, n + 1):
    line = ("%s %05d %s\n" % (tag, i, "." * (i % 37))).encode()
    if os.write(fd, line) != len(line):
        sys.exit("short write")
    if i % 100 == 0:
        time.sleep(0.01)
os.close(fd)
"#;

#[test]
fn two_mounts_appending_2000_lines_each_to_a_new_file_keep_all_4000_lines_whole_and_once() {
    const PER_WRITER: usize = 2000;
    let server = TestServer::start(ServerOptions::default());
    // A small buffer and a short timer: many AppendObject calls from both mounts interleave,
    // so offsets conflict often. 4000 bytes is not a multiple of any line's length.
    let options = ["--append-buffer", "4000", "--append-flush-ms", "50"];
    let mount_a = Mount::start(server.endpoint(), &options);
    let mount_b = Mount::start(server.endpoint(), &options);
    let go_dir = tempfile::tempdir().expect("go dir");
    let go = go_dir.path().join("go");
    server.reset_stats();

    let spawn = |mount: &Mount, tag: &str| {
        Command::new("python3")
            .arg("-c")
            .arg(NUMBERED_WRITER)
            .arg(mount.join("shared.log"))
            .arg(tag)
            .arg(PER_WRITER.to_string())
            .arg(&go)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn a python3 writer")
    };
    let writer_a = spawn(&mount_a, "A");
    let writer_b = spawn(&mount_b, "B");
    // Both writers open the file only once this exists: both race to create it.
    std::fs::write(&go, b"").expect("go signal");
    let started = Instant::now();
    for (name, writer, mount) in [("A", writer_a, &mount_a), ("B", writer_b, &mount_b)] {
        let out = writer.wait_with_output().expect("wait for a writer");
        assert!(
            out.status.success(),
            "writer {name} failed ({}): {}\nits mount's log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr),
            tail_of(&mount.log_text())
        );
    }
    println!(
        "[time] two writers x {PER_WRITER} lines: {:.2} s",
        started.elapsed().as_secs_f64()
    );
    print_requests("two mounts appending", &server.stats(), 2 * PER_WRITER as u64, "line");
    mount_a.unmount();
    mount_b.unmount();

    let body = object_bytes(&server, "shared.log");
    let text = String::from_utf8_lossy(&body).to_string();
    let mut seen: BTreeMap<(String, usize), usize> = BTreeMap::new();
    let mut bad = Vec::new();
    for line in text.split_inclusive('\n') {
        let parsed = parse_numbered(line);
        match parsed {
            Some(id) => *seen.entry(id).or_insert(0) += 1,
            None => bad.push(line.to_string()),
        }
    }
    let doubled: Vec<_> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    let missing: Vec<(String, usize)> = ["A", "B"]
        .iter()
        .flat_map(|tag| (1..=PER_WRITER).map(move |i| (tag.to_string(), i)))
        .filter(|k| !seen.contains_key(k))
        .collect();
    assert!(
        bad.is_empty() && doubled.is_empty() && missing.is_empty(),
        "shared.log ({} bytes) must hold each of the {} lines exactly once and whole:\n\
         torn/merged lines ({}): {:?}\ndoubled ({}): {:?}\nmissing ({}): first {:?}",
        body.len(),
        2 * PER_WRITER,
        bad.len(),
        &bad[..bad.len().min(5)],
        doubled.len(),
        &doubled[..doubled.len().min(5)],
        missing.len(),
        &missing[..missing.len().min(10)],
    );
    // Each writer's own lines keep their order.
    for tag in ["A", "B"] {
        let order: Vec<usize> = text
            .split_inclusive('\n')
            .filter_map(parse_numbered)
            .filter(|(t, _)| t == tag)
            .map(|(_, i)| i)
            .collect();
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "writer {tag}'s lines are out of order"
        );
    }
}

/// Writes numbered lines like [`NUMBERED_WRITER`] to `argv[1]` with `O_APPEND`. With `argv[3]`
/// "follow", a second descriptor opened after the first write reads what is there every 50
/// lines, as `tail -f` does, and the script fails if it saw other bytes than the file holds.
const APPEND_AND_FOLLOW: &str = r#"
import os, sys
path, n, follows = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "follow"
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, b"A 00000 \n")
follower = os.open(path, os.O_RDONLY)
seen = b""
def follow():
    global seen
    while True:
        chunk = os.read(follower, 65536)
        if not chunk:
            return
        seen += chunk
for i in range(1, n + 1):
    line = ("A %05d %s\n" % (i, "." * (i % 37))).encode()
    if os.write(fd, line) != len(line):
        sys.exit("short write")
    if follows and i % 50 == 0:
        follow()
os.close(fd)
if follows:
    follow()
    if seen != open(path, "rb").read():
        sys.exit("the follower saw other bytes than the file holds")
"#;

/// With a 1-byte append buffer every write request the kernel sends becomes one AppendObject,
/// so the count of appends is the count of requests. 1,000 lines of 9 to 45 bytes cross a
/// 4 KiB page boundary six times; each `write()` must still arrive, and land, whole — through
/// the page cache the kernel would split those six in two, and another mount's line could land
/// between the halves.
#[test]
fn each_o_append_write_reaches_bos_in_one_append_even_across_a_page_boundary() {
    if !kernel_at_least(6, 6) {
        // Documented: before 6.6 the kernel cannot keep the page cache coherent around direct
        // writes, so O_APPEND handles stay cached and such a write may go out in two parts.
        println!("kernel older than 6.6: O_APPEND handles are not direct; nothing to check");
        return;
    }
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &["--append-buffer", "1"]);
    server.reset_stats();
    let body = append_lines(&server, &mount, "lines.log", false);
    let stats = server.stats();
    assert!(
        body.len() > 6 * 4096,
        "the lines must cross page boundaries: {} bytes",
        body.len()
    );
    assert_eq!(
        stats.count("AppendObject"),
        APPENDED_LINES as u64 + 1,
        "one AppendObject per write(), none split in two: {stats:?}"
    );
    mount.unmount();
}

/// A follower reading a log as it grows sees exactly its bytes (the page cache stays coherent
/// around the direct appends), and so does a fresh `open` after the close — every byte landed
/// before it (1-byte buffer), so the close sends nothing and the mount must still know the
/// object's final version. That last case fails here only when the kernel happened to
/// revalidate the file while it grew; the filesystem-level test
/// `a_reader_after_an_append_whose_bytes_all_landed_reads_them` pins it deterministically.
#[test]
fn a_follower_and_a_reader_after_close_see_every_appended_byte() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &["--append-buffer", "1"]);
    let body = append_lines(&server, &mount, "followed.log", true);
    let through_mount = std::fs::read(mount.join("followed.log")).expect("read followed.log through the mount");
    assert_same(
        &through_mount,
        &body,
        "followed.log read back through the writing mount",
    );
    mount.unmount();
}

/// Whether the running kernel is at least `major.minor` (from uname's release).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut numbers = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    let found = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    found >= (major, minor)
}

/// `O_APPEND` is about `write()`: pages of a shared mapping of the same descriptor are written
/// back where they map, and a later `write()` still goes to the end.
#[test]
fn a_shared_mapping_of_an_o_append_file_writes_where_it_maps() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    let script = r#"
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, b"hello world\n")
m = mmap.mmap(fd, 12)
m[0:5] = b"HELLO"
m.flush()
m.close()
os.write(fd, b"more\n")
os.close(fd)
"#;
    let out = python(script, &[&mount.join("mapped.log").to_string_lossy()]);
    assert!(
        out.status.success(),
        "mmap script failed: {}\nits mount's log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text())
    );
    assert_same(
        &object_bytes(&server, "mapped.log"),
        b"HELLO world\nmore\n",
        "mapped.log",
    );
    mount.unmount();
}

const APPENDED_LINES: usize = 1000;

/// Runs [`APPEND_AND_FOLLOW`] on `name` and returns the object's bytes, checked to be its
/// lines, each whole.
fn append_lines(server: &TestServer, mount: &Mount, name: &str, follow: bool) -> Vec<u8> {
    let path = mount.join(name).to_string_lossy().to_string();
    let lines = APPENDED_LINES.to_string();
    let out = python(
        APPEND_AND_FOLLOW,
        &[&path, &lines, if follow { "follow" } else { "alone" }],
    );
    assert!(
        out.status.success(),
        "writer failed: {}\nits mount's log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text())
    );
    let body = object_bytes(server, name);
    let whole = String::from_utf8_lossy(&body)
        .split_inclusive('\n')
        .filter(|l| parse_numbered(l).is_some())
        .count();
    assert_eq!(whole, APPENDED_LINES + 1, "every line of {name} whole");
    body
}

/// ("A", 17) for a whole line of [`NUMBERED_WRITER`], `None` for anything else.
fn parse_numbered(line: &str) -> Option<(String, usize)> {
    let body = line.strip_suffix('\n')?;
    let mut parts = body.splitn(3, ' ');
    let tag = parts.next()?;
    let number = parts.next()?;
    let dots = parts.next()?;
    if !(tag == "A" || tag == "B") || number.len() != 5 {
        return None;
    }
    let i: usize = number.parse().ok()?;
    (dots.len() == i % 37 && dots.bytes().all(|b| b == b'.')).then(|| (tag.to_string(), i))
}

// ---------------------------------------------------------------------------------------
// Existing Normal objects: O_APPEND, and writes without O_TRUNC.
// ---------------------------------------------------------------------------------------

/// Deterministic printable content of `len` bytes.
fn text_content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 64 == 63 {
                b'\n'
            } else {
                b'a' + ((i / 7 + seed as usize) % 26) as u8
            }
        })
        .collect()
}

#[test]
fn o_append_on_normal_objects_keeps_the_old_bytes_followed_by_the_new() {
    let server = TestServer::start(ServerOptions::default());
    // Part size 1 MiB × 2 in flight: a 3 MiB object is above what the writer rewrites in
    // memory, so both ways of appending to a Normal object run.
    let options = ["--part-size", "1MiB", "--upload-concurrency", "2"];
    let mount = Mount::start(server.endpoint(), &options);
    let src = tempfile::tempdir().expect("src");
    let small = text_content(100_000, 1);
    let large = text_content(3 * 1024 * 1024 + 123, 2);
    std::fs::write(src.path().join("small.txt"), &small).expect("write small");
    std::fs::write(src.path().join("large.txt"), &large).expect("write large");
    sh_ok(
        mount.path(),
        &format!(
            "cp {0}/small.txt small.txt && cp {0}/large.txt large.txt",
            src.path().display()
        ),
        &mount,
    );
    let client = server.client();
    for key in ["small.txt", "large.txt"] {
        let meta = server.block_on(client.head_object(BUCKET, key)).expect("head");
        assert_eq!(meta.object_type, ObjectType::Normal, "cp makes a Normal object ({key})");
    }

    server.reset_stats();
    sh_ok(
        mount.path(),
        "echo 'appended one' >> small.txt && echo 'appended one' >> large.txt",
        &mount,
    );
    print_requests("first O_APPEND on Normal small + large", &server.stats(), 2, "file");
    sh_ok(
        mount.path(),
        "echo 'appended two' >> small.txt && echo 'appended two' >> large.txt",
        &mount,
    );
    let expect = |old: &[u8]| [old, b"appended one\nappended two\n".as_slice()].concat();
    for (key, old) in [("small.txt", &small), ("large.txt", &large)] {
        let want = expect(old);
        assert_same(
            &std::fs::read(mount.join(key)).expect("read"),
            &want,
            &format!("{key} through the mount"),
        );
        assert_same(&object_bytes(&server, key), &want, &format!("{key} through the client"));
    }
    mount.unmount();
    let fresh = Mount::start(server.endpoint(), &[]);
    for (key, old) in [("small.txt", &small), ("large.txt", &large)] {
        assert_same(
            &std::fs::read(fresh.join(key)).expect("read"),
            &expect(old),
            &format!("{key} through a fresh mount"),
        );
    }
}

#[test]
fn writes_without_o_trunc_keep_the_untouched_bytes() {
    let server = TestServer::start(ServerOptions::default());
    let options = ["--part-size", "1MiB", "--upload-concurrency", "2"];
    let mount = Mount::start(server.endpoint(), &options);
    let src = tempfile::tempdir().expect("src");
    let small = text_content(200_000, 3);
    let large = text_content(3 * 1024 * 1024 + 7, 4);
    std::fs::write(src.path().join("small.bin"), &small).expect("write small");
    std::fs::write(src.path().join("large.bin"), &large).expect("write large");
    sh_ok(
        mount.path(),
        &format!(
            "cp {0}/small.bin small.bin && cp {0}/large.bin large.bin",
            src.path().display()
        ),
        &mount,
    );
    // An Appendable object too (written by `>>`).
    sh_ok(
        mount.path(),
        "for i in $(seq 50); do echo \"log line $i\" >> appendable.log; done",
        &mount,
    );
    let appendable = numbered_lines("log line", 50).into_bytes();

    let mut want_small = small.clone();
    let mut want_large = large.clone();
    let mut want_appendable = appendable.clone();

    // dd conv=notrunc: 10 bytes at offset 3000 (and, in the large file, near the end).
    sh_ok(
        mount.path(),
        "printf 'DDDDDDDDDD' | dd of=small.bin bs=1000 seek=3 conv=notrunc status=none",
        &mount,
    );
    want_small[3000..3010].copy_from_slice(b"DDDDDDDDDD");
    let near_end = large.len() - 100;
    sh_ok(
        mount.path(),
        &format!("printf 'EEEE' | dd of=large.bin bs=1 seek={near_end} conv=notrunc status=none"),
        &mount,
    );
    want_large[near_end..near_end + 4].copy_from_slice(b"EEEE");

    // python open(..., 'r+b'): overwrite in the middle, and write past the end.
    let script = r#"
import sys
for path, offset, data in [(sys.argv[1], 150000, b"PYTHON"), (sys.argv[1], 199998, b"TAILXX"),
                           (sys.argv[2], 1048576 + 5, b"MIDDLE"), (sys.argv[3], 20, b"HERE")]:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)
"#;
    let out = python(
        script,
        &[
            &mount.join("small.bin").to_string_lossy(),
            &mount.join("large.bin").to_string_lossy(),
            &mount.join("appendable.log").to_string_lossy(),
        ],
    );
    assert!(
        out.status.success(),
        "python r+b writes failed: {}\nmount log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text())
    );
    want_small[150_000..150_006].copy_from_slice(b"PYTHON");
    want_small.truncate(199_998);
    want_small.extend_from_slice(b"TAILXX");
    want_large[1_048_581..1_048_587].copy_from_slice(b"MIDDLE");
    want_appendable[20..24].copy_from_slice(b"HERE");

    for (key, want) in [
        ("small.bin", &want_small),
        ("large.bin", &want_large),
        ("appendable.log", &want_appendable),
    ] {
        assert_same(
            &std::fs::read(mount.join(key)).expect("read"),
            want,
            &format!("{key} through the mount"),
        );
        assert_same(&object_bytes(&server, key), want, &format!("{key} through the client"));
    }
    mount.unmount();
    let fresh = Mount::start(server.endpoint(), &[]);
    assert_same(
        &std::fs::read(fresh.join("large.bin")).expect("read"),
        &want_large,
        "large.bin through a fresh mount",
    );
}

// ---------------------------------------------------------------------------------------
// ARCHIVE cannot be appended to.
// ---------------------------------------------------------------------------------------

#[test]
fn archive_objects_cannot_be_appended_to_and_say_so() {
    let server = TestServer::start(ServerOptions::default());
    let client = server.client();
    let archive = PutOptions {
        storage_class: Some(StorageClass::Archive),
        ..PutOptions::default()
    };
    server
        .block_on(client.put_object(BUCKET, "cold.log", bytes::Bytes::from_static(b"old line\n"), &archive))
        .expect("put an ARCHIVE object through the client");

    // A mount with the default storage class, on an object put with ARCHIVE.
    let mount = Mount::start(server.endpoint(), &[]);
    let out = sh_out(mount.path(), "echo 'new line' >> cold.log");
    println!(
        "[archive] `echo >> cold.log` exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    assert!(
        !out.status.success(),
        "appending to an ARCHIVE object must fail with a non-zero exit, it succeeded"
    );
    assert_same(
        &object_bytes(&server, "cold.log"),
        b"old line\n",
        "the ARCHIVE object after the refused append",
    );
    let log = mount.log_text();
    assert!(
        log.to_lowercase().contains("archive"),
        "the mount must log a clear reason naming the ARCHIVE storage class:\n{}",
        tail_of(&log)
    );
    mount.unmount();

    // A mount whose new objects are ARCHIVE: plain writes work, appends fail clearly.
    let mount = Mount::start(server.endpoint(), &["--storage-class", "ARCHIVE"]);
    sh_ok(mount.path(), "echo 'plain' > plain.txt", &mount);
    let meta = server
        .block_on(client.head_object(BUCKET, "plain.txt"))
        .expect("head plain.txt");
    assert_eq!(
        meta.storage_class,
        StorageClass::Archive,
        "--storage-class ARCHIVE applies to new objects"
    );
    // Either the creating `>>` fails, or the file is created (e.g. as a Normal ARCHIVE object)
    // and the next `>>`, a real append, fails: the pair cannot both succeed.
    let out = sh_out(mount.path(), "echo 'one' >> new.log && echo 'two' >> new.log");
    println!(
        "[archive] two `echo >> new.log` on an ARCHIVE mount: exit {:?}, stderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    assert!(
        !out.status.success(),
        "appending on a --storage-class ARCHIVE mount must fail with a clear error; both `echo >> new.log` succeeded \
         (content now {:?})",
        server
            .block_on(client.get_object(BUCKET, "new.log", None))
            .map(|g| String::from_utf8_lossy(&g.body).to_string())
    );
    if let Ok(meta) = server.block_on(client.head_object(BUCKET, "new.log")) {
        assert!(
            !(meta.object_type == ObjectType::Appendable && meta.storage_class == StorageClass::Archive),
            "an Appendable ARCHIVE object must not exist: {meta:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// logrotate.
// ---------------------------------------------------------------------------------------

/// A logger: opens PATH with O_APPEND|O_CREAT, writes lines "TAG i" for i in FIRST..=LAST, closes.
const LOGGER: &str = r#"
import os, sys
path, tag, first, last = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
for i in range(first, last + 1):
    os.write(fd, ("%s %d\n" % (tag, i)).encode())
os.close(fd)
"#;

fn run_logger(mount: &Mount, file: &str, tag: &str, lines: std::ops::RangeInclusive<usize>) {
    let (first, last) = (lines.start().to_string(), lines.end().to_string());
    let out = python(LOGGER, &[&mount.join(file).to_string_lossy(), tag, &first, &last]);
    assert!(
        out.status.success(),
        "the logger writing {file} failed: {}\nmount log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        tail_of(&mount.log_text())
    );
}

/// The logrotate dance against the server at `endpoint`; `read` gets an object through the client.
fn logrotate_scenario(
    endpoint: &str,
    read: &dyn Fn(&str) -> Option<Vec<u8>>,
    kind: &dyn Fn(&str) -> Option<ObjectType>,
) {
    let mount = Mount::start(endpoint, &[]);
    // Two logger sessions: the file is Appendable after the second whichever way the first
    // created it (creation itself is checked by o_append_creates_an_appendable_object).
    run_logger(&mount, "app.log", "first", 1..=100);
    run_logger(&mount, "app.log", "first", 101..=200);
    assert_eq!(
        kind("app.log"),
        Some(ObjectType::Appendable),
        "a logger's file must be an Appendable object; otherwise this test would not exercise the \
         rename of an Appendable object"
    );
    // logrotate: nobody writes; rename, then the logger starts a fresh file.
    sh_ok(mount.path(), "mv app.log app.log.1", &mount);
    run_logger(&mount, "app.log", "second", 1..=100);
    // The next rotation renames over nothing, then over an existing rotated file.
    sh_ok(mount.path(), "mv app.log.1 app.log.2 && mv app.log app.log.1", &mount);
    run_logger(&mount, "app.log", "third", 1..=50);

    let want = [
        ("app.log.2", numbered_lines("first", 200)),
        ("app.log.1", numbered_lines("second", 100)),
        ("app.log", numbered_lines("third", 50)),
    ];
    for (name, content) in &want {
        let got = std::fs::read(mount.join(name)).unwrap_or_else(|e| panic!("read {name} through the mount: {e}"));
        assert_same(&got, content.as_bytes(), &format!("{name} through the mount"));
    }
    // The logger can keep appending to the newest file after the rotations.
    run_logger(&mount, "app.log", "more", 1..=5);
    let newest = [numbered_lines("third", 50), numbered_lines("more", 5)].concat();
    mount.unmount();

    let fresh = Mount::start(endpoint, &[]);
    let listing: Vec<String> = std::fs::read_dir(fresh.path())
        .expect("readdir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().to_string())
        .collect();
    let mut names = listing.clone();
    names.sort();
    assert_eq!(
        names,
        ["app.log", "app.log.1", "app.log.2"],
        "files after the rotations"
    );
    for (name, content) in [
        ("app.log.2", want[0].1.clone()),
        ("app.log.1", want[1].1.clone()),
        ("app.log", newest.clone()),
    ] {
        let got = std::fs::read(fresh.join(name)).expect("read through a fresh mount");
        assert_same(&got, content.as_bytes(), &format!("{name} through a fresh mount"));
        let object = read(name).unwrap_or_else(|| panic!("object {name} is missing"));
        assert_same(&object, content.as_bytes(), &format!("{name} through the client"));
    }
}

#[test]
fn logrotate_rename_then_fresh_file_with_the_normal_server() {
    let server = TestServer::start(ServerOptions::default());
    let client = server.client();
    logrotate_scenario(
        server.endpoint(),
        &|key| {
            server
                .block_on(client.get_object(BUCKET, key, None))
                .ok()
                .map(|g| g.body.to_vec())
        },
        &|key| {
            server
                .block_on(client.head_object(BUCKET, key))
                .ok()
                .map(|m| m.object_type)
        },
    );
}

/// A local server that refuses CopyObject of Appendable objects (`--refuse-appendable-copy`),
/// on its own runtime and temp dir. (tests/mountutil's `ServerOptions` has no such switch.)
struct CopyRefusingServer {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    _data: tempfile::TempDir,
}

impl CopyRefusingServer {
    fn start() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let data = tempfile::tempdir().expect("data dir");
        let mut config = ServerConfig::new(data.path());
        config.buckets = vec![BUCKET.to_string()];
        config.credentials = Some(Credentials::local_default());
        config.min_part_size = 1024 * 1024;
        config.refuse_appendable_copy = true;
        let server = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            bosmount::server::start(config, listener)
                .await
                .expect("start the server")
        });
        CopyRefusingServer {
            runtime,
            server: Some(server),
            _data: data,
        }
    }

    fn endpoint(&self) -> String {
        self.server.as_ref().expect("running").endpoint()
    }
}

impl Drop for CopyRefusingServer {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

#[test]
fn logrotate_rename_does_not_depend_on_copying_appendable_objects() {
    let server = CopyRefusingServer::start();
    let endpoint = server.endpoint();
    let client: Arc<dyn BosApi> = client_of(&endpoint);
    // The switch is really on: copying an Appendable object is refused.
    let refused = server.runtime.block_on(async {
        client
            .append_object(
                BUCKET,
                "probe",
                None,
                bytes::Bytes::from_static(b"x"),
                &PutOptions::default(),
            )
            .await
            .expect("append");
        let copied = client
            .copy_object(BUCKET, "probe", BUCKET, "probe.copy", &Default::default())
            .await;
        client.delete_object(BUCKET, "probe").await.expect("delete probe");
        copied
    });
    let error = refused.expect_err("the server must refuse CopyObject of an Appendable object");
    assert_eq!(error.code(), Some("NotAllowCopy"), "{error}");

    logrotate_scenario(
        &endpoint,
        &|key| {
            server
                .runtime
                .block_on(client.get_object(BUCKET, key, None))
                .ok()
                .map(|g| g.body.to_vec())
        },
        &|key| {
            server
                .runtime
                .block_on(client.head_object(BUCKET, key))
                .ok()
                .map(|m| m.object_type)
        },
    );
}
