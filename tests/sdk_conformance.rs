//! Conformance of `bosmount serve` with Baidu's official Python SDK (PyPI `bce-python-sdk`).
//!
//! Makes sure `.venv` holds the SDK (scripts/python-venv.sh, idempotent and fast once installed),
//! starts the server binary on a free loopback port over a temporary data directory, runs the
//! pytest suite in tests/sdk/ against it with the venv's Python, prints the suite's output and
//! fails unless every Python test passed. A second server started with `--fail-rate` serves the
//! fault tests (tests/sdk/test_sdk_faults.py). The servers are killed by Drop guards.
//!
//! The test fails (never skips) when the venv cannot be created: CI installs what it needs
//! through the README's test command; locally, the reason (PyPI unreachable, no python3-venv)
//! is printed.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// Bucket the server creates at start; the suite creates and deletes others itself.
const BUCKET: &str = "sdk-conformance";
/// Credentials given to the server and the SDK (not the documented local defaults, so the
/// server's reading of BCE_ACCESS_KEY_ID / BCE_SECRET_ACCESS_KEY is exercised too).
const ACCESS_KEY: &str = "sdk-conformance-ak";
const SECRET_KEY: &str = "sdk-conformance-sk-5b0c7e1d";
/// BOS's own minimum part size: the suite uses real 5 MiB parts and checks EntityTooSmall.
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Share of the second server's answers that are injected 500 / 503 / 429 faults.
const FAIL_RATE: &str = "0.25";
/// Upper bound for the whole Python run (it normally takes well under two minutes).
const PYTHON_TIMEOUT: Duration = Duration::from_secs(600);
/// Upper bound for the server to accept connections.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv scripts/python-venv.sh manages (same override variable as the script).
fn venv_dir(root: &Path) -> PathBuf {
    std::env::var_os("BOSMOUNT_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(".venv"))
}

/// Run scripts/python-venv.sh (returns at once when the pinned SDK is already installed) and
/// return the venv's python.
fn ensure_venv(root: &Path) -> PathBuf {
    let script = root.join("scripts/python-venv.sh");
    let status = Command::new("bash")
        .arg(&script)
        .current_dir(root)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        status.success(),
        "scripts/python-venv.sh failed ({status}): the official-SDK conformance test needs \
         bce-python-sdk from PyPI in {}; see the script's message above (is PyPI reachable, is \
         python3-venv installed?)",
        venv_dir(root).display()
    );
    let python = venv_dir(root).join("bin/python");
    assert!(
        python.exists(),
        "{} missing after scripts/python-venv.sh",
        python.display()
    );
    python
}

/// A port that was free a moment ago on 127.0.0.1.
fn free_loopback_addr() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr")
}

/// Kills and reaps the child when dropped (also when the test panics).
struct ChildGuard {
    child: Child,
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_log(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut text);
    }
    text
}

/// A running `bosmount serve` over `data`.
struct Server {
    guard: ChildGuard,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Start the server (with `extra` arguments) and wait until it accepts connections. Retries
    /// with another port if the chosen one was taken in between.
    fn start(data: &Path, log: &Path, extra: &[&str]) -> Server {
        let mut last_failure = String::new();
        for _ in 0..3 {
            let addr = free_loopback_addr();
            let out = File::create(log).expect("create server log");
            let err = out.try_clone().expect("clone log handle");
            let child = Command::new(env!("CARGO_BIN_EXE_bosmount"))
                .arg("serve")
                .arg("--data")
                .arg(data)
                .arg("--listen")
                .arg(addr.to_string())
                .arg("--bucket")
                .arg(BUCKET)
                .arg("--min-part-size")
                .arg(MIN_PART_SIZE.to_string())
                .args(extra)
                .env("BCE_ACCESS_KEY_ID", ACCESS_KEY)
                .env("BCE_SECRET_ACCESS_KEY", SECRET_KEY)
                .env_remove("BCE_SESSION_TOKEN")
                .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .expect("spawn bosmount serve");
            let mut guard = ChildGuard { child };
            match wait_until_listening(&mut guard.child, addr) {
                Ok(()) => {
                    return Server {
                        guard,
                        addr,
                        log: log.to_path_buf(),
                    }
                }
                Err(why) => last_failure = format!("{why}\n--- server log ---\n{}", read_log(log)),
            }
        }
        panic!("bosmount serve did not start: {last_failure}");
    }

    fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Whether the server process is still running.
    fn alive(&mut self) -> bool {
        matches!(self.guard.child.try_wait(), Ok(None))
    }
}

fn wait_until_listening(child: &mut Child, addr: SocketAddr) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("server exited during start-up: {status}"));
        }
        if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!("server not listening on {addr} after {STARTUP_TIMEOUT:?}"));
        }
        sleep(Duration::from_millis(50));
    }
}

/// Wait for `child` with an upper bound; kill it on timeout.
fn wait_with_timeout(guard: &mut ChildGuard, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match guard.child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(100)),
            _ => {
                let _ = guard.child.kill();
                let _ = guard.child.wait();
                return None;
            }
        }
    }
}

/// The server's request counters (informational: printed with the suite's output).
fn fetch_stats(addr: SocketAddr) -> String {
    let fetch = || -> std::io::Result<String> {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        write!(
            stream,
            "GET /_stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    };
    fetch().unwrap_or_else(|e| format!("(GET /_stats failed: {e})"))
}

#[test]
fn official_python_sdk_conformance() {
    let root = repo_root();
    let python = ensure_venv(&root);

    let work = tempfile::tempdir().expect("tempdir");
    let mut server = Server::start(&work.path().join("data"), &work.path().join("server.log"), &[]);
    let mut faulty = Server::start(
        &work.path().join("faulty-data"),
        &work.path().join("faulty.log"),
        &["--fail-rate", FAIL_RATE, "--seed", "7"],
    );

    let suite_log = work.path().join("pytest.log");
    let out = File::create(&suite_log).expect("create pytest log");
    let err = out.try_clone().expect("clone log handle");
    let child = Command::new(&python)
        .args([
            "-m",
            "pytest",
            "-v",
            "-rA",
            "--tb=short",
            "-p",
            "no:cacheprovider",
            "tests/sdk",
        ])
        .current_dir(&root)
        .env("BOSMOUNT_SDK_ENDPOINT", server.endpoint())
        .env("BOSMOUNT_SDK_FAULTY_ENDPOINT", faulty.endpoint())
        .env("BOSMOUNT_SDK_BUCKET", BUCKET)
        .env("BCE_ACCESS_KEY_ID", ACCESS_KEY)
        .env("BCE_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("PYTHONUNBUFFERED", "1")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", python.display()));
    let started = Instant::now();
    let status = wait_with_timeout(&mut ChildGuard { child }, PYTHON_TIMEOUT);
    let elapsed = started.elapsed();

    println!("--- pytest (tests/sdk) against {} ---", server.endpoint());
    println!("{}", read_log(&suite_log));
    println!("--- python run took {:.1} s ---", elapsed.as_secs_f64());
    let alive = server.alive();
    let faulty_alive = faulty.alive();
    for (name, server, alive) in [("server", &server, alive), ("faulty server", &faulty, faulty_alive)] {
        if alive {
            println!("--- {name} /_stats ---\n{}", fetch_stats(server.addr));
        }
        let log = read_log(&server.log);
        let tail: Vec<&str> = log.lines().rev().take(40).collect();
        println!("--- {name} log (last {} lines) ---", tail.len());
        for line in tail.iter().rev() {
            println!("{line}");
        }
    }

    assert!(alive, "bosmount serve died during the SDK run");
    assert!(faulty_alive, "bosmount serve --fail-rate died during the SDK run");
    match status {
        None => panic!("the Python SDK suite did not finish within {PYTHON_TIMEOUT:?}"),
        Some(status) => assert!(
            status.success(),
            "the official-SDK conformance suite failed ({status}); see above"
        ),
    }
}
