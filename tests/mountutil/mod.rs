//! Fixtures for real-mount tests: the local server in-process on 127.0.0.1:0 over a temp
//! directory, and the `bosmount` binary mounted on a temp directory. Drop guards unmount,
//! stop children and remove everything, also when a test fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bosmount::bos::client::{BosClient, ClientConfig};
use bosmount::bos::credentials::Credentials;
use bosmount::bos::retry::RetryConfig;
use bosmount::bos::BosApi;
use bosmount::server::{RunningServer, ServerConfig, StatsSnapshot};

/// Bucket every test uses.
pub const BUCKET: &str = "mnt-test";

/// Knobs of a test server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Smallest non-last part accepted.
    pub min_part_size: u64,
    /// Share of requests failed with 5xx.
    pub fail_rate: f64,
    /// Delay added to every response.
    pub latency: Duration,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            min_part_size: 1024 * 1024,
            fail_rate: 0.0,
            latency: Duration::ZERO,
        }
    }
}

/// The local server running on its own runtime over a temp data directory.
pub struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    data: tempfile::TempDir,
    endpoint: String,
}

impl TestServer {
    /// Start a server with `options` and the test bucket.
    pub fn start(options: ServerOptions) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let data = tempfile::tempdir().expect("data dir");
        let server = runtime.block_on(start_server(data.path(), &options));
        let endpoint = server.endpoint();
        TestServer {
            runtime,
            server: Some(server),
            data,
            endpoint,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Request counters.
    pub fn stats(&self) -> StatsSnapshot {
        self.server.as_ref().expect("server running").stats()
    }

    /// Zero the counters.
    pub fn reset_stats(&self) {
        self.server.as_ref().expect("server running").reset_stats()
    }

    /// A client of this server (patient retries, for checking results).
    pub fn client(&self) -> Arc<dyn BosApi> {
        client_of(&self.endpoint)
    }

    /// Every key in the test bucket.
    pub fn keys(&self) -> Vec<String> {
        let client = self.client();
        let request = bosmount::bos::ListRequest::default();
        self.block_on(bosmount::bos::list_all_objects(client.as_ref(), BUCKET, &request))
            .expect("list the bucket")
            .contents
            .into_iter()
            .map(|e| e.key)
            .collect()
    }

    /// Run a future on the server's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Stop the server (the endpoint refuses connections afterwards).
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
    }

    /// Start a fresh server over the same data directory (new port); returns its client.
    pub fn reopen(&mut self) -> Arc<dyn BosApi> {
        self.stop();
        let server = self
            .runtime
            .block_on(start_server(self.data.path(), &ServerOptions::default()));
        self.endpoint = server.endpoint();
        self.server = Some(server);
        self.client()
    }
}

async fn start_server(dir: &Path, options: &ServerOptions) -> RunningServer {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let config = ServerConfig {
        data_dir: dir.to_path_buf(),
        buckets: vec![BUCKET.to_string()],
        credentials: Some(Credentials::local_default()),
        min_part_size: options.min_part_size,
        latency: options.latency,
        fail_rate: options.fail_rate,
        refuse_appendable_copy: false,
        region: "bj".into(),
    };
    bosmount::server::start(config, listener).await.expect("server start")
}

/// A client of `endpoint` with the local default credentials and patient retries.
pub fn client_of(endpoint: &str) -> Arc<dyn BosApi> {
    let mut config = ClientConfig::new(endpoint.to_string(), Credentials::local_default());
    config.retry = RetryConfig {
        max_attempts: 10,
        ..RetryConfig::default()
    };
    Arc::new(BosClient::new(config).expect("client"))
}

/// The `bosmount` binary.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_bosmount")
}

/// Whether FUSE mounts can run here; tests fail loudly when not (CI has /dev/fuse).
pub fn require_fuse() {
    assert!(
        Path::new("/dev/fuse").exists(),
        "these tests need /dev/fuse and fusermount3"
    );
}

/// Whether `path` is a mount point right now.
pub fn is_mounted(path: &Path) -> bool {
    let text = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    let wanted = path.to_string_lossy().to_string();
    text.lines()
        .any(|l| l.split_whitespace().nth(1) == Some(wanted.as_str()))
}

/// Wait (bounded) until `check` holds.
pub fn wait_until(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `bosmount mount --foreground` of the test bucket, as a child process.
pub struct Mount {
    child: Option<Child>,
    dir: tempfile::TempDir,
    path: PathBuf,
    log: PathBuf,
}

impl Mount {
    /// Mount `endpoint`'s test bucket (optionally `BUCKET/prefix` via `source`) with `extra` options.
    pub fn start(endpoint: &str, extra: &[&str]) -> Mount {
        Mount::start_source(endpoint, BUCKET, extra)
    }

    /// Mount `source` (BUCKET or BUCKET/PREFIX) of `endpoint` with `extra` options.
    pub fn start_source(endpoint: &str, source: &str, extra: &[&str]) -> Mount {
        require_fuse();
        let dir = tempfile::tempdir().expect("mount dir");
        let path = dir.path().join("mnt");
        std::fs::create_dir(&path).expect("mountpoint");
        let log = dir.path().join("bosmount.log");
        let log_file = std::fs::File::create(&log).expect("log");
        let child = Command::new(binary())
            .args(["mount", "--foreground", "--endpoint", endpoint, source])
            .arg(&path)
            .args(extra)
            .env(
                "BCE_ACCESS_KEY_ID",
                bosmount::bos::credentials::LOCAL_DEFAULT_ACCESS_KEY_ID,
            )
            .env(
                "BCE_SECRET_ACCESS_KEY",
                bosmount::bos::credentials::LOCAL_DEFAULT_SECRET_ACCESS_KEY,
            )
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn bosmount");
        let mut mount = Mount {
            child: Some(child),
            dir,
            path,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while !is_mounted(&mount.path) {
            if let Some(status) = mount.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("bosmount exited with {status} before mounting:\n{}", mount.log_text());
            }
            assert!(Instant::now() < deadline, "mount did not appear:\n{}", mount.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
        mount
    }

    /// The mounted directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path()/rel`.
    pub fn join(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// What the mount process logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The mount process's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("mount process").id()
    }

    /// Wait (bounded) for the mount process to exit by itself; its exit code (`None` when a
    /// signal ended it).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("mount process");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            assert!(Instant::now() < deadline, "mount did not exit:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait for the mount process, killed by someone, to be gone; then clear its mountpoint.
    pub fn wait_killed(&mut self, timeout: Duration) {
        self.wait_exit(timeout);
        if is_mounted(&self.path) {
            let _ = Command::new("fusermount3").arg("-uz").arg(&self.path).status();
        }
    }

    /// Send SIGTERM to the mount process and wait (bounded) for it to exit; returns its exit code.
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut().expect("mount process");
        // SAFETY: kill(2) on the pid of our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "mount did not exit after SIGTERM:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Unmount with `fusermount3 -u` and wait for the process to exit cleanly.
    pub fn unmount(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if is_mounted(&self.path) {
            let _ = Command::new("fusermount3").arg("-u").arg(&self.path).status();
        }
        if let Some(mut child) = self.child.take() {
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                    _ => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                }
            }
        }
        if is_mounted(&self.path) {
            let _ = Command::new("fusermount3").arg("-uz").arg(&self.path).status();
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.shutdown();
        let _ = &self.dir;
    }
}

/// Run `sh -c script` with `dir` as working directory; returns (exit code, stderr).
pub fn sh(dir: &Path, script: &str) -> (i32, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .output()
        .expect("sh");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut file = std::fs::File::open(path).expect("open");
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    hex(&hasher.finalize())
}

/// sha256 of bytes, hex.
pub fn sha256(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A file of `size` pseudo-random bytes in a temp dir (kept alive by the returned guard).
pub fn random_file(size: usize) -> (tempfile::TempDir, PathBuf) {
    use rand::RngCore;
    let dir = tempfile::tempdir().expect("src dir");
    let path = dir.path().join("src.bin");
    let mut data = vec![0u8; size];
    rand::rng().fill_bytes(&mut data);
    std::fs::write(&path, &data).expect("write source");
    (dir, path)
}

/// The last 40 lines of a log, for failure messages.
pub fn tail_of(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// Print the request counters of one scenario, in total and per unit (line, file…).
pub fn print_requests(label: &str, stats: &StatsSnapshot, units: u64, unit: &str) {
    let detail: Vec<String> = stats
        .requests
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(op, n)| format!("{op}={n} ({:.2}/{unit})", *n as f64 / units as f64))
        .collect();
    println!(
        "[requests] {label}: total={} ({:.2}/{unit}); {}",
        stats.total(),
        stats.total() as f64 / units.max(1) as f64,
        detail.join(", ")
    );
}

/// A separate process holding one file of the mount open (`writer.py`), driven line by line:
/// the test holds no descriptor on the mount, so the processes it starts (`bosmount status`,
/// `cp`) never flush the file by inheriting one.
pub struct FileWriterProcess {
    child: Child,
    stdin: std::process::ChildStdin,
    stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl FileWriterProcess {
    /// Start the writer and open `path` with `mode` (`w`, `a` or `r+`).
    pub fn open(path: &Path, mode: &str) -> FileWriterProcess {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mountutil/writer.py");
        let mut child = Command::new("python3")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut writer = FileWriterProcess { child, stdin, stdout };
        writer.ok(&format!("open {} {mode}", path.display()));
        writer
    }

    /// Send one command; its answer (`ok …` or `err ERRNO …`).
    pub fn ask(&mut self, command: &str) -> String {
        use std::io::{BufRead, Write};
        writeln!(self.stdin, "{command}").expect("to writer");
        self.stdin.flush().expect("flush to writer");
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("from writer");
        line.trim_end_matches('\n').to_string()
    }

    /// Send one command that must succeed; what follows "ok".
    pub fn ok(&mut self, command: &str) -> String {
        let answer = self.ask(command);
        match answer.strip_prefix("ok") {
            Some(rest) => rest.trim_start().to_string(),
            None => panic!("{command}: {answer}"),
        }
    }
}

impl Drop for FileWriterProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
