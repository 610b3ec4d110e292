//! Running bosmount like a real mount, through real processes: `mount -t fuse.bosmount`
//! through the standard helper, systemd readiness, background logs with verbosity changed
//! by SIGUSR2 (and no secret in them), and the Prometheus endpoint scraped through a
//! mount.

mod mountutil;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use bosmount::bos::credentials::{LOCAL_DEFAULT_ACCESS_KEY_ID, LOCAL_DEFAULT_SECRET_ACCESS_KEY};
use mountutil::{binary, is_mounted, wait_until, Mount, ServerOptions, TestServer, BUCKET};

/// Bound of every wait for a process to do something.
const PATIENCE: Duration = Duration::from_secs(30);

/// Pids of processes whose command line mentions `needle`.
fn pids_mentioning(needle: &Path) -> Vec<i32> {
    let out = Command::new("pgrep")
        .args(["-f", &needle.to_string_lossy()])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

fn wait_for_exit_of_mount_on(mnt: &Path) {
    wait_until("the mount process to exit", PATIENCE, || {
        pids_mentioning(mnt).is_empty()
    });
}

fn private_file(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn mount_t_fuse_bosmount_goes_through_the_helper_and_shows_the_type() {
    mountutil::require_fuse();
    let server = TestServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let bin = dir.path().join("bin");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&bin).expect("bin");
    std::fs::create_dir(&mnt).expect("mnt");
    std::os::unix::fs::symlink(binary(), bin.join("bosmount")).expect("symlink");
    let creds = dir.path().join("credentials");
    private_file(
        &creds,
        &format!("{LOCAL_DEFAULT_ACCESS_KEY_ID}:{LOCAL_DEFAULT_SECRET_ACCESS_KEY}\n"),
    );
    let log = dir.path().join("bosmount.log");
    let _unmount = Unmounter(mnt.clone());
    // mount(8) runs helpers with a fixed PATH, so the binary must be in /usr/local/bin:
    // a private mount namespace binds our directory there for this script only.
    let script = format!(
        "set -e\n\
         mount --bind {bin} /usr/local/bin\n\
         mount -t fuse.bosmount {BUCKET}/pre {mnt} -o endpoint={ep},credentials={creds},_netdev,nofail,uid=1234,log_file={log}\n\
         grep ' {mnt} ' /proc/mounts\n\
         stat -c 'owner %u' {mnt}\n\
         echo hello > {mnt}/hello.txt\n\
         cat {mnt}/hello.txt\n\
         umount {mnt}\n",
        bin = bin.display(),
        mnt = mnt.display(),
        ep = server.endpoint(),
        creds = creds.display(),
        log = log.display(),
    );
    let out = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env_remove("BCE_ACCESS_KEY_ID")
        .env_remove("BCE_SECRET_ACCESS_KEY")
        .stdin(Stdio::null())
        .output()
        .expect("unshare");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        out.status.success(),
        "script failed\n{stdout}\n{stderr}\nlog:\n{logged}"
    );
    let line = stdout.lines().next().unwrap_or("");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        fields.get(0..3),
        Some(
            &[
                &format!("{BUCKET}/pre")[..],
                &mnt.to_string_lossy()[..],
                "fuse.bosmount"
            ][..]
        ),
        "{stdout}"
    );
    assert!(stdout.contains("owner 1234"), "{stdout}");
    assert!(stdout.contains("hello"), "{stdout}");
    wait_for_exit_of_mount_on(&mnt);
    let object = server
        .block_on(server.client().get_object(BUCKET, "pre/hello.txt", None))
        .expect("object");
    assert_eq!(&object.body[..], b"hello\n");
    assert!(logged.contains("mounted mnt-test/pre"), "{logged}");
    assert!(!is_mounted(&mnt));
}

#[test]
fn unknown_mount_options_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("dir");
    let out = Command::new(binary())
        .args([
            BUCKET,
            &dir.path().to_string_lossy(),
            "-o",
            "endpoint=http://127.0.0.1:1,colour=red",
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unknown mount option -o colour=red"), "{stderr}");
}

#[test]
fn systemd_hears_ready_once_the_mount_is_live() {
    mountutil::require_fuse();
    let server = TestServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let socket_path = dir.path().join("notify.sock");
    let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).expect("bind");
    socket.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let mut child = Command::new(binary())
        .args(["mount", "-f", BUCKET])
        .arg(&mnt)
        .args(["--endpoint", server.endpoint()])
        .env("BCE_ACCESS_KEY_ID", LOCAL_DEFAULT_ACCESS_KEY_ID)
        .env("BCE_SECRET_ACCESS_KEY", LOCAL_DEFAULT_SECRET_ACCESS_KEY)
        .env("NOTIFY_SOCKET", &socket_path)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut buf = [0u8; 1024];
    let received = socket.recv(&mut buf);
    let mounted = is_mounted(&mnt);
    let _ = Command::new("fusermount3").arg("-u").arg(&mnt).status();
    let status = child.wait().expect("wait");
    let n = received.expect("READY datagram");
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.lines().any(|l| l == "READY=1"), "{text}");
    assert!(text.contains(&format!("MAINPID={}", child.id())), "{text}");
    assert!(mounted, "READY came before the mount was live");
    assert!(status.success());
}

/// Poll the log file until it has a line containing `needle`.
fn wait_for_log(log: &Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no {needle:?} in the log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Unmounts a background mount (and waits for its process) when the test ends, also
/// when it fails.
struct Unmounter(std::path::PathBuf);

impl Drop for Unmounter {
    fn drop(&mut self) {
        if is_mounted(&self.0) {
            let _ = Command::new("fusermount3").arg("-u").arg(&self.0).status();
        }
        let deadline = std::time::Instant::now() + PATIENCE;
        while !pids_mentioning(&self.0).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if is_mounted(&self.0) {
            let _ = Command::new("fusermount3").arg("-uz").arg(&self.0).status();
        }
    }
}

#[test]
fn background_mount_logs_to_its_file_and_sigusr2_raises_verbosity() {
    mountutil::require_fuse();
    let server = TestServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let log = dir.path().join("logs/bosmount.log");
    let _unmount = Unmounter(mnt.clone());
    let status = Command::new(binary())
        .args(["mount", BUCKET])
        .arg(&mnt)
        .args(["--endpoint", server.endpoint(), "--log-file"])
        .arg(&log)
        .env("BCE_ACCESS_KEY_ID", LOCAL_DEFAULT_ACCESS_KEY_ID)
        .env("BCE_SECRET_ACCESS_KEY", LOCAL_DEFAULT_SECRET_ACCESS_KEY)
        .env("RUST_LOG", "info")
        .status()
        .expect("run");
    assert!(status.success());
    assert!(is_mounted(&mnt));
    let text = std::fs::read_to_string(&log).expect("log file");
    assert!(
        text.contains(&format!("mounted {BUCKET} on {}", mnt.display())),
        "{text}"
    );
    let pids: Vec<i32> = pids_mentioning(&mnt)
        .into_iter()
        .filter(|p| std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| c.starts_with(binary())))
        .collect();
    assert_eq!(pids.len(), 1, "one background process: {pids:?}");
    let usr2 = || {
        // SAFETY: kill(2) on the pid of the mount process this test started.
        unsafe { libc::kill(pids[0], libc::SIGUSR2) };
    };
    let client = server.client();
    server
        .block_on(client.put_object(BUCKET, "gone.txt", bytes::Bytes::from_static(b"x"), &Default::default()))
        .expect("put");
    // Debug: a failure names operation, key and BOS request id.
    usr2();
    wait_for_log(&log, "log verbosity is now debug");
    std::fs::write(mnt.join("a.txt"), b"first").expect("write");
    assert!(std::fs::metadata(mnt.join("gone.txt")).is_ok());
    server
        .block_on(client.delete_object(BUCKET, "gone.txt"))
        .expect("delete");
    let _ = std::fs::read(mnt.join("gone.txt"));
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        !text.contains("GetObject mnt-test/a.txt: HTTP"),
        "no trace lines yet:\n{text}"
    );
    // Trace: every request, with its request id.
    usr2();
    wait_for_log(&log, "log verbosity is now trace");
    assert_eq!(std::fs::read(mnt.join("a.txt")).expect("read"), b"first");
    let text = wait_for_log(&log, "GetObject mnt-test/a.txt: HTTP 20");
    let traced = text
        .lines()
        .find(|l| l.contains("GetObject mnt-test/a.txt: HTTP 20"))
        .unwrap_or("");
    assert!(traced.contains("TRACE") && traced.contains("request id "), "{traced}");
    let failure = text
        .lines()
        .find(|l| l.contains("gone.txt") && l.contains("NoSuchKey"))
        .unwrap_or_else(|| panic!("no line about the missing key:\n{text}"));
    assert!(failure.contains("request id "), "{failure}");
    // The filesystem's own line names the operation, the path under the mount and the key.
    let named = text
        .lines()
        .find(|l| l.contains("bosmount::fuse") && l.contains(r#"of "/gone.txt" (key "gone.txt") failed"#))
        .unwrap_or_else(|| panic!("no filesystem line naming the file:\n{text}"));
    assert!(
        ["open of", "read of", "getattr of", "lookup of"]
            .iter()
            .any(|op| named.contains(op)),
        "{named}"
    );
    // And back.
    usr2();
    wait_for_log(&log, "log verbosity is now the configured filter");
    assert!(!text.contains(LOCAL_DEFAULT_SECRET_ACCESS_KEY), "secret in the log");
    assert!(
        !text.to_ascii_lowercase().contains("authorization"),
        "auth header in the log"
    );
    assert!(!text.contains("bce-auth-v1"), "signature in the log");
    let unmounted = Command::new("fusermount3")
        .arg("-u")
        .arg(&mnt)
        .status()
        .expect("fusermount3");
    assert!(unmounted.success());
    wait_for_exit_of_mount_on(&mnt);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(text.contains(&format!("unmounted {}", mnt.display())), "{text}");
}

/// `GET /metrics` from `addr` with a bare HTTP/1.0 request.
fn scrape(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    assert!(
        answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200"),
        "{answer}"
    );
    assert!(answer
        .to_ascii_lowercase()
        .contains("content-type: text/plain; version=0.0.4"));
    answer
}

fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} missing from\n{text}"))
}

#[test]
fn metrics_endpoint_counts_requests_bytes_and_latency_of_a_real_mount() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(
        server.endpoint(),
        &["--metrics-addr", "127.0.0.1:0", "--part-size", "1MiB"],
    );
    let log = mount.log_text();
    let addr = log
        .lines()
        .find_map(|l| l.split("metrics at http://").nth(1))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("no metrics address logged:\n{log}"))
        .to_string();
    let (_keep, source) = mountutil::random_file(3 * 1024 * 1024 + 5);
    std::fs::copy(&source, mount.join("big.bin")).expect("cp");
    std::fs::write(mount.join("small.txt"), b"hello").expect("write");
    assert_eq!(std::fs::read(mount.join("small.txt")).expect("read"), b"hello");
    let text = scrape(&addr);
    assert!(
        sample(
            &text,
            "bosmount_bos_requests_total{operation=\"UploadPart\",status=\"200\"}"
        ) >= 4.0
    );
    assert!(
        sample(
            &text,
            "bosmount_bos_requests_total{operation=\"PutObject\",status=\"200\"}"
        ) >= 1.0
    );
    assert!(sample(&text, "bosmount_bos_bytes_sent_total") >= (3 * 1024 * 1024 + 10) as f64);
    assert!(sample(&text, "bosmount_bos_bytes_received_total") >= 5.0);
    let count = sample(
        &text,
        "bosmount_bos_request_duration_seconds_count{operation=\"CompleteMultipartUpload\"}",
    );
    let inf = sample(
        &text,
        "bosmount_bos_request_duration_seconds_bucket{operation=\"CompleteMultipartUpload\",le=\"+Inf\"}",
    );
    assert!(count >= 1.0 && inf == count, "{text}");
    assert!(text.contains("# TYPE bosmount_bos_retries_total counter"));
    mount.unmount();
}
