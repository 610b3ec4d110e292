//! The mount session: `bosmount mount` from arguments to unmount.
//!
//! Steps: check the mountpoint and `--local` data directory ([`crate::ops::preflight`]);
//! set up logging (stderr in the foreground, `--log-file`, syslog or the default log file
//! in the background; SIGUSR2 cycles verbosity); build the tokio runtime; start the
//! `--metrics-addr` endpoint; for `--local DIR`, start the embedded server on
//! 127.0.0.1:0; check endpoint, credentials, bucket and part size with one HeadBucket
//! under short timeouts (a one-line reason and a non-zero exit when wrong); mount with
//! fuser (type `fuse.bosmount`, source BUCKET[/PREFIX]) and raise the kernel's read-ahead of
//! the mount, so sequential reads arrive as 1 MiB requests; tell the parent and systemd
//! (`READY=1` on `$NOTIFY_SOCKET`) that the mount is live; then wait for SIGINT/SIGTERM
//! or an external unmount (`fusermount3 -u`). On a signal the mount is unmounted (lazily
//! when files are open, which keep working until closed, for at most
//! [`SESSION_END_TIMEOUT`]); then every request in flight is awaited and the filesystem
//! stops ([`BosFs::shutdown`]): pending attribute changes and index entries are stored,
//! files still open keep their last stored version.
//!
//! Without `--foreground` the command re-executes itself in the foreground as a detached
//! child (new session, stdio on /dev/null) and waits on a pipe for "mounted" or the
//! child's one-line error, so the parent exits 0 only once the mount is live. Forking a
//! process that already runs tokio threads would not be safe, hence the re-exec.

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use fuser::{Config, MountOption, SessionACL};

use crate::bos::client::{BosClient, ClientConfig};
use crate::bos::credentials::{Credentials, CredentialsError};
use crate::bos::retry::RetryConfig;
use crate::bos::BosApi;
use crate::fs::{BosFs, FsConfig};
use crate::fuse::args::{MountArgs, DEFAULT_ENDPOINT};
use crate::fuse::FuseAdapter;
use crate::ops::preflight;

/// Environment variable naming the pipe a detached child reports readiness on.
const READY_FD_ENV: &str = "BOSMOUNT_READY_FD";
/// How long a signalled mount waits for open files to be closed after a lazy unmount.
const SESSION_END_TIMEOUT: Duration = Duration::from_secs(30);
/// FUSE request loop threads (they only parse requests and spawn tasks).
const FUSE_THREADS: usize = 2;

/// Run `bosmount mount`; the error is one line for the user.
pub fn run_mount(args: MountArgs) -> Result<(), String> {
    let config = args.fs_config()?;
    preflight::fuse_support::check_device().map_err(|e| e.to_string())?;
    preflight::mountpoint::check(&args.mountpoint).map_err(|e| e.to_string())?;
    if let Some(dir) = &args.local {
        preflight::local_dir::check(dir).map_err(|e| e.to_string())?;
    }
    let detached_child = std::env::var_os(READY_FD_ENV).is_some();
    if !args.foreground && !detached_child {
        return detach_and_wait();
    }
    let notifier = ReadyPipe::from_env();
    let destination = args.log_destination(detached_child);
    let result = crate::logging::init(&args.log_level, &destination)
        .map_err(|e| e.to_string())
        .and_then(|()| run_foreground(&args, config, &notifier));
    if let Err(message) = &result {
        log::error!(
            "mount of {} on {} failed: {message}",
            args.source,
            args.mountpoint.display()
        );
        notifier.send(&format!("error: {message}"));
    }
    result
}

fn run_foreground(args: &MountArgs, config: FsConfig, notifier: &ReadyPipe) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("bosmount-io")
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    crate::logging::spawn_signal_listener(runtime.handle());
    // The filesystem maintains its gauges from here on (open files, uploads, buffers).
    crate::metrics::global().fs.enable();
    let _metrics = match &args.metrics_addr {
        Some(addr) => {
            let server = runtime
                .block_on(crate::metrics::http::serve(addr))
                .map_err(|e| e.to_string())?;
            log::info!("metrics at http://{}/metrics", server.addr);
            Some(server)
        }
        None => None,
    };
    let (api, _server) = runtime.block_on(connect(args, &config.bucket))?;
    let fs = Arc::new(BosFs::new(api, config));
    fs.start_background();
    let adapter = FuseAdapter::new(fs.clone(), runtime.handle().clone());
    let requests = adapter.tasks();
    let mut session = fuser::Session::new(adapter, &args.mountpoint, &fuse_config(args)).map_err(|e| {
        match preflight::fuse_support::explain_mount_failure(&e) {
            Some(why) => why.to_string(),
            None => format!("cannot mount on {}: {e}", args.mountpoint.display()),
        }
    })?;
    raise_kernel_read_ahead(&args.mountpoint);
    let mut unmounter = session.unmount_callable();
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<std::io::Result<()>>();
    let loop_thread = std::thread::Builder::new()
        .name("fuse-session".into())
        .spawn(move || {
            let _ = ended_tx.send(session.run());
        })
        .map_err(|e| format!("cannot start the FUSE session: {e}"))?;
    log::info!("mounted {} on {}", args.source, args.mountpoint.display());
    notifier.send("mounted");
    notify_systemd(args);
    let mut ended = ended_rx;
    let signalled = runtime.block_on(wait_for_end(&mut ended));
    let mut session_over = true;
    if signalled {
        // Unmount first: files still open keep working (a lazy unmount) and are stored when
        // closed; what is still open when the wait ends keeps its last stored version.
        log::info!("unmounting {}", args.mountpoint.display());
        if let Err(e) = unmounter
            .unmount()
            .and_then(|()| detach_if_still_mounted(&args.mountpoint))
        {
            log::warn!(
                "unmount of {} failed ({e}); detaching it lazily",
                args.mountpoint.display()
            );
            lazy_unmount(&args.mountpoint);
        }
        let waited = runtime.block_on(async { tokio::time::timeout(SESSION_END_TIMEOUT, &mut ended).await });
        if waited.is_err() {
            log::warn!("files are still open after {SESSION_END_TIMEOUT:?}; stopping anyway");
            session_over = false;
        }
    }
    // Every request answered, then everything the filesystem still holds stored.
    requests.close();
    let answered = runtime.block_on(async { tokio::time::timeout(SESSION_END_TIMEOUT, requests.wait()).await });
    if answered.is_err() {
        log::warn!("requests still running after {SESSION_END_TIMEOUT:?}; stopping anyway");
    }
    let failures = runtime.block_on(fs.shutdown());
    if !session_over {
        if failures > 0 {
            log::error!("{failures} change(s) could not be stored");
        }
        runtime.shutdown_timeout(Duration::from_secs(1));
        return Ok(());
    }
    if failures > 0 {
        log::error!("{failures} change(s) could not be stored");
    }
    if loop_thread.join().is_err() {
        log::error!("the FUSE session thread panicked");
    }
    runtime.shutdown_timeout(Duration::from_secs(5));
    log::info!("unmounted {}", args.mountpoint.display());
    Ok(())
}

/// The kernel's read-ahead of the mount, in KiB (`/sys/class/bdi/MAJ:MIN/read_ahead_kb`). The
/// kernel starts a FUSE mount at 128 KiB, and its reads are never larger than its read-ahead
/// window: 128 KiB reads cost eight times the per-request work of the 1 MiB ones the
/// session allows (`max_pages`, from `max_write`). A few MiB lets a sequential reader's
/// reads be 1 MiB each, several in flight; the pages are the kernel's cache, not ours.
const KERNEL_READ_AHEAD_KB: u32 = 4096;

/// Raise the kernel's read-ahead of the mount on `mountpoint` to [`KERNEL_READ_AHEAD_KB`]
/// (needs root; otherwise the kernel's default stays, with smaller reads).
fn raise_kernel_read_ahead(mountpoint: &Path) {
    let Some(device) = std::fs::canonicalize(mountpoint)
        .ok()
        .and_then(|path| mount_device(&path))
    else {
        log::debug!(
            "device of {} not found; kernel read-ahead unchanged",
            mountpoint.display()
        );
        return;
    };
    let knob = format!("/sys/class/bdi/{device}/read_ahead_kb");
    match std::fs::write(&knob, KERNEL_READ_AHEAD_KB.to_string()) {
        Ok(()) => log::debug!("kernel read-ahead {KERNEL_READ_AHEAD_KB} KiB ({knob})"),
        Err(e) => log::info!("cannot raise the kernel read-ahead ({knob}: {e}); reads stay at its default size"),
    }
}

/// `MAJ:MIN` of the last mount on `path`, from `/proc/self/mountinfo` (read without touching
/// the mount, whose requests nobody may be serving yet).
fn mount_device(path: &Path) -> Option<String> {
    let table = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let wanted = path.to_str()?;
    table.lines().rev().find_map(|line| {
        let mut fields = line.split(' ');
        let device = fields.nth(2)?;
        let point = fields.nth(1)?;
        (unescape_mount_path(point) == wanted).then(|| device.to_string())
    })
}

/// A mount point as `/proc/self/mountinfo` writes it: space, tab, newline and backslash as
/// three octal digits after a backslash.
fn unescape_mount_path(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Detach the mount even though files are open (they keep working until closed).
fn lazy_unmount(mountpoint: &Path) {
    let status = std::process::Command::new("fusermount3")
        .arg("-u")
        .arg("-z")
        .arg(mountpoint)
        .status();
    if !status.is_ok_and(|s| s.success()) {
        log::warn!("lazy unmount of {} failed", mountpoint.display());
    }
}

/// Wait for SIGINT/SIGTERM (true) or the end of the session (false).
async fn wait_for_end(ended: &mut tokio::sync::oneshot::Receiver<std::io::Result<()>>) -> bool {
    use tokio::signal::unix::{signal, SignalKind};
    let (mut term, mut int) = match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(t), Ok(i)) => (t, i),
        _ => {
            log::warn!("cannot listen for signals; waiting for unmount only");
            let _ = ended.await;
            return false;
        }
    };
    tokio::select! {
        _ = term.recv() => true,
        _ = int.recv() => true,
        result = ended => {
            if let Ok(Err(e)) = result {
                log::warn!("FUSE session ended with an error: {e}");
            }
            false
        }
    }
}

/// Longest wait between two attempts of one request: with `--max-attempts 10` a request
/// keeps trying for roughly 10 s before the operation fails.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(2);

/// The source column of /proc/mounts: BUCKET[/PREFIX], unless it holds characters the
/// mount option list cannot carry.
fn fs_name(source: &str) -> String {
    if source.contains(|c: char| c == ',' || c.is_whitespace() || c == '\\') {
        "bosmount".to_string()
    } else {
        source.to_string()
    }
}

fn fuse_config(args: &MountArgs) -> Config {
    let mut config = Config::default();
    config.mount_options = vec![
        MountOption::FSName(fs_name(&args.source)),
        MountOption::Subtype("bosmount".into()),
        MountOption::DefaultPermissions,
        MountOption::NoDev,
        MountOption::NoSuid,
        if args.read_only {
            MountOption::RO
        } else {
            MountOption::RW
        },
    ];
    // Through fusermount3 with auto_unmount: the kernel then shows the type as
    // fuse.bosmount (fuser's direct mount(2) as root drops the subtype), and a mount whose
    // process is killed is detached instead of left "not connected". auto_unmount needs
    // allow_other or allow_root; for root, allow_root admits no one new.
    // SAFETY: geteuid cannot fail and touches no memory.
    let root = unsafe { libc::geteuid() } == 0;
    if args.allow_other {
        config.acl = SessionACL::All;
        config.mount_options.push(MountOption::AutoUnmount);
    } else if root {
        config.acl = SessionACL::RootAndOwner;
        config.mount_options.push(MountOption::AutoUnmount);
    }
    config.n_threads = Some(FUSE_THREADS);
    config
}

/// With auto_unmount, fuser's unmount only hands the mount to fusermount3, which
/// unmounts later and not at all while a file is open. Detach it lazily now (open files
/// keep working until closed, and the session ends then); an error if that fails.
fn detach_if_still_mounted(mountpoint: &Path) -> std::io::Result<()> {
    let canonical = std::fs::canonicalize(mountpoint).unwrap_or_else(|_| mountpoint.to_path_buf());
    if preflight::mountpoint::mounted_at(&canonical).is_none() {
        return Ok(());
    }
    let status = std::process::Command::new("fusermount3")
        .args(["-u", "-z", "-q"])
        .arg(mountpoint)
        .status()?;
    if status.success() || preflight::mountpoint::mounted_at(&canonical).is_none() {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("fusermount3 -u -z exited with {status}")))
    }
}

/// Tell systemd (`Type=notify`) the mount is live; nothing when not run by systemd.
fn notify_systemd(args: &MountArgs) {
    let status = format!("{} mounted on {}", args.source, args.mountpoint.display());
    if let Err(e) = crate::ops::notify::ready(&status) {
        log::warn!("cannot notify systemd of readiness: {e}");
    }
}

/// The BOS backend to mount (and the embedded server keeping it alive for `--local`).
async fn connect(
    args: &MountArgs,
    bucket: &str,
) -> Result<(Arc<dyn BosApi>, Option<crate::server::RunningServer>), String> {
    let (endpoint, credentials, server) = match &args.local {
        Some(dir) => {
            let (endpoint, server) = start_local(dir, bucket).await?;
            (endpoint, Credentials::local_default(), Some(server))
        }
        None => {
            let endpoint = args.endpoint.clone().unwrap_or_else(|| DEFAULT_ENDPOINT.to_string());
            let credentials =
                Credentials::load(args.credentials.as_deref()).map_err(|e| credentials_hint(e, &endpoint))?;
            (endpoint, credentials, None)
        }
    };
    let report = preflight::endpoint::check(&endpoint, &credentials, bucket)
        .await
        .map_err(|e| e.to_string())?;
    if !args.read_only {
        preflight::part_size::check(args.part_size, report.min_part_size).map_err(|e| e.to_string())?;
    }
    let mut config = ClientConfig::new(endpoint.clone(), credentials);
    config.retry = RetryConfig {
        max_attempts: args.max_attempts.max(1),
        base_delay: Duration::from_millis(100),
        max_delay: MAX_RETRY_DELAY,
    };
    let client = BosClient::new(config).map_err(|e| format!("invalid endpoint {endpoint}: {e}"))?;
    Ok((Arc::new(client), server))
}

/// The credentials error, with the local server's default keys when the endpoint is on
/// this machine (the likely `bosmount serve`).
fn credentials_hint(error: CredentialsError, endpoint: &str) -> String {
    let local = ["://127.0.0.1", "://localhost", "://[::1]"]
        .iter()
        .any(|h| endpoint.contains(h));
    match error {
        CredentialsError::Missing if local => format!(
            "{error} (a local `bosmount serve` accepts {}={} {}={} unless started with others)",
            crate::bos::credentials::ENV_ACCESS_KEY_ID,
            crate::bos::credentials::LOCAL_DEFAULT_ACCESS_KEY_ID,
            crate::bos::credentials::ENV_SECRET_ACCESS_KEY,
            crate::bos::credentials::LOCAL_DEFAULT_SECRET_ACCESS_KEY,
        ),
        other => other.to_string(),
    }
}

async fn start_local(dir: &Path, bucket: &str) -> Result<(String, crate::server::RunningServer), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1: {e}"))?;
    let config = crate::server::ServerConfig {
        data_dir: dir.to_path_buf(),
        buckets: vec![bucket.to_string()],
        credentials: Some(Credentials::local_default()),
        min_part_size: crate::bos::MIN_PART_SIZE,
        latency: Duration::ZERO,
        fail_rate: 0.0,
        refuse_appendable_copy: false,
        region: "bj".into(),
    };
    let server = crate::server::start(config, listener)
        .await
        .map_err(|e| format!("cannot start the local server over {}: {e}", dir.display()))?;
    log::info!("local BOS server over {} on http://{}", dir.display(), server.addr);
    Ok((format!("http://{}", server.addr), server))
}

/// Re-run this command in the foreground as a detached child; return once it mounted.
fn detach_and_wait() -> Result<(), String> {
    let mut fds: [RawFd; 2] = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array we own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(format!("cannot create a pipe: {}", std::io::Error::last_os_error()));
    }
    let (read_fd, write_fd) = (fds[0], fds[1]);
    // SAFETY: read_fd was just created and is owned here only.
    let mut reader = unsafe { File::from_raw_fd(read_fd) };
    let exe = std::env::current_exe().map_err(|e| format!("cannot find the bosmount binary: {e}"))?;
    let mut command = std::process::Command::new(exe);
    command
        .args(std::env::args_os().skip(1))
        .env(READY_FD_ENV, write_fd.to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: between fork and exec the child only calls async-signal-safe functions
    // (setsid, fcntl) on descriptors it inherited.
    unsafe {
        command.pre_exec(move || {
            libc::setsid();
            if libc::fcntl(write_fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let spawned = command.spawn();
    // SAFETY: our copy of the write end is no longer needed; the child has its own.
    unsafe { libc::close(write_fd) };
    let mut child = spawned.map_err(|e| format!("cannot start the mount process: {e}"))?;
    // One line, not to end of file: helpers the child starts (fusermount3 with
    // auto_unmount) must not keep the parent waiting even if they held the pipe.
    let mut message = String::new();
    let _ = std::io::BufReader::new(&mut reader).read_line(&mut message);
    let message = message.trim_end().to_string();
    if message == "mounted" {
        return Ok(());
    }
    let status = child.wait().ok();
    match message.strip_prefix("error: ") {
        Some(reason) => Err(reason.to_string()),
        None => Err(format!("the mount process ended before mounting ({status:?})")),
    }
}

/// The write end of the readiness pipe of a detached child (absent in the foreground).
struct ReadyPipe(Option<std::sync::Mutex<File>>);

impl ReadyPipe {
    fn from_env() -> Self {
        let fd = std::env::var(READY_FD_ENV).ok().and_then(|v| v.parse::<RawFd>().ok());
        std::env::remove_var(READY_FD_ENV);
        if let Some(fd) = fd {
            // SAFETY: fcntl on a descriptor we own; close-on-exec keeps it out of the
            // processes this one starts (fusermount3).
            unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) };
        }
        // SAFETY: the parent passed us this descriptor for our exclusive use.
        ReadyPipe(fd.map(|fd| std::sync::Mutex::new(unsafe { File::from_raw_fd(fd) })))
    }

    /// Send one line and close the pipe, so the parent stops waiting.
    fn send(&self, line: &str) {
        if let Some(file) = &self.0 {
            if let Ok(mut file) = file.lock() {
                let _ = writeln!(file, "{line}");
                // SAFETY: replacing the descriptor with /dev/null closes the pipe's write end
                // without invalidating the File we hold.
                if let Ok(null) = File::open("/dev/null") {
                    use std::os::fd::AsRawFd;
                    unsafe { libc::dup2(null.as_raw_fd(), file.as_raw_fd()) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped_as_mountinfo_writes_them() {
        assert_eq!(unescape_mount_path("/mnt/bos"), "/mnt/bos");
        assert_eq!(unescape_mount_path("/mnt/my\\040bucket"), "/mnt/my bucket");
        assert_eq!(unescape_mount_path("/a\\134b"), "/a\\b");
        assert_eq!(unescape_mount_path("/odd\\09"), "/odd\\09");
    }

    #[test]
    fn the_root_mount_has_a_device() {
        assert!(mount_device(Path::new("/")).is_some_and(|d| d.contains(':')));
    }
}
