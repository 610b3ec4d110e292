//! Every mistake a user can make when mounting fails at once, with its cause and what to
//! do: part size, `--local` data directory, mountpoint (file, already mounted, stale), a
//! non-BOS endpoint, unknown key vs wrong secret, a credentials file others can read, and
//! the README's `serve` + `mount --endpoint` recipe (which must work as written).

mod mountutil;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use bosmount::bos::credentials::{LOCAL_DEFAULT_ACCESS_KEY_ID, LOCAL_DEFAULT_SECRET_ACCESS_KEY};
use mountutil::{binary, is_mounted, wait_until, Mount, ServerOptions, TestServer, BUCKET};

const PATIENCE: Duration = Duration::from_secs(30);

/// Run `bosmount mount SOURCE MOUNTPOINT ARGS…` with `env`; it must fail. Returns stderr.
fn failing(source: &str, mountpoint: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mounted_before = is_mounted(mountpoint);
    let mut command = Command::new(binary());
    command
        .args(["mount", source])
        .arg(mountpoint)
        .args(args)
        .env_remove("BCE_ACCESS_KEY_ID")
        .env_remove("BCE_SECRET_ACCESS_KEY")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "mount succeeded: {stderr}");
    assert_eq!(is_mounted(mountpoint), mounted_before, "{stderr}");
    stderr.lines().last().unwrap_or("").to_string()
}

const LOCAL_ENV: [(&str, &str); 2] = [
    ("BCE_ACCESS_KEY_ID", LOCAL_DEFAULT_ACCESS_KEY_ID),
    ("BCE_SECRET_ACCESS_KEY", LOCAL_DEFAULT_SECRET_ACCESS_KEY),
];

#[test]
fn part_size_below_the_servers_minimum_is_refused_before_mounting() {
    let strict = TestServer::start(ServerOptions {
        min_part_size: 5 * 1024 * 1024,
        ..ServerOptions::default()
    });
    let dir = tempfile::tempdir().expect("dir");
    for size in ["1MiB", "1"] {
        let last = failing(
            BUCKET,
            dir.path(),
            &["--endpoint", strict.endpoint(), "--part-size", size],
            &LOCAL_ENV,
        );
        assert!(
            last.contains("is below the smallest part this server accepts (5242880 bytes)"),
            "{last}"
        );
    }
    // A server started with a lower minimum announces it, and the mount accepts it.
    let lenient = TestServer::start(ServerOptions::default());
    let mount = Mount::start(lenient.endpoint(), &["--part-size", "1MiB"]);
    mount.unmount();
}

#[test]
fn local_data_directory_problems_name_their_cause() {
    let dir = tempfile::tempdir().expect("dir");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let last = failing("bkt", &mnt, &["--local", &file.to_string_lossy()], &[]);
    assert!(last.contains("is not a directory"), "{last}");
    let last = failing("bkt", &mnt, &["--local", "/proc"], &[]);
    assert!(last.contains("cannot write in data directory /proc:"), "{last}");
    // A data directory another server holds.
    let data = dir.path().join("data");
    let (mut serve, _) = start_serve(&data, "bkt");
    let last = failing("bkt", &mnt, &["--local", &data.to_string_lossy()], &[]);
    assert!(last.contains("is in use by another bosmount server"), "{last}");
    stop(&mut serve);
}

/// `bosmount serve` on a free port over `data`; returns it and its endpoint once listening.
fn start_serve(data: &Path, bucket: &str) -> (Child, String) {
    let mut child = Command::new(binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--bucket", bucket, "--data"])
        .arg(data)
        .env_remove("BCE_ACCESS_KEY_ID")
        .env_remove("BCE_SECRET_ACCESS_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("banner");
    let endpoint = line
        .trim()
        .strip_prefix("bosmount serve: listening on ")
        .unwrap_or_else(|| panic!("unexpected banner {line:?}"))
        .to_string();
    (child, endpoint)
}

fn stop(child: &mut Child) {
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

/// A mount whose helper cannot be run says which helper and why, instead of the spawn's bare
/// "No such file or directory" (here through `FUSERMOUNT_PATH`, which fuser obeys; a machine
/// without the fuse3 package gets the same treatment, naming the package — unit-tested in
/// `preflight::fuse_support`, as this machine has the package).
#[test]
fn a_mount_helper_that_is_not_there_is_named() {
    let server = TestServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("no-such-fusermount3");
    let missing = missing.to_string_lossy().to_string();
    let mut env = LOCAL_ENV.to_vec();
    env.push(("FUSERMOUNT_PATH", &missing));
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let last = failing(BUCKET, &mnt, &["--endpoint", server.endpoint()], &env);
    assert!(last.contains(&format!("FUSERMOUNT_PATH names {missing}")), "{last}");
}

#[test]
fn mountpoint_that_is_a_file_a_mount_or_stale_is_refused_with_the_fix() {
    let server = TestServer::start(ServerOptions::default());
    let ep = server.endpoint().to_string();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").expect("write");
    let last = failing(BUCKET, &file, &["--endpoint", &ep], &LOCAL_ENV);
    assert!(last.contains("is not a directory"), "{last}");

    let mount = Mount::start(&ep, &[]);
    let out = Command::new(binary())
        .args(["mount", BUCKET])
        .arg(mount.path())
        .args(["--endpoint", &ep])
        .envs(LOCAL_ENV)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is already a mount point (fuse.bosmount") && stderr.contains("fusermount3 -u"),
        "{stderr}"
    );
    mount.unmount();

    // A stale mount: the process and its auto-unmount helper both killed with SIGKILL.
    let mnt = dir.path().join("stale");
    std::fs::create_dir(&mnt).expect("mnt");
    let mut child = Command::new(binary())
        .args(["mount", "-f", BUCKET])
        .arg(&mnt)
        .args(["--endpoint", &ep])
        .envs(LOCAL_ENV)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    wait_until("mount", PATIENCE, || is_mounted(&mnt));
    let helpers = String::from_utf8_lossy(
        &Command::new("pgrep")
            .args(["-f", &format!("fusermount3 .*{}", mnt.display())])
            .output()
            .expect("pgrep")
            .stdout,
    )
    .to_string();
    for pid in helpers.split_whitespace().filter_map(|p| p.parse::<i32>().ok()) {
        // SAFETY: kill(2) on the fusermount3 helper of the mount this test started.
        unsafe { libc::kill(pid, libc::SIGKILL) };
    }
    let _ = child.kill();
    let _ = child.wait();
    let last = failing(BUCKET, &mnt, &["--endpoint", &ep], &LOCAL_ENV);
    let cleared = Command::new("fusermount3").arg("-u").arg(&mnt).status();
    assert!(
        last.contains("is a stale FUSE mount") && last.contains(&format!("fusermount3 -u {}", mnt.display())),
        "{last}"
    );
    assert!(cleared.is_ok_and(|s| s.success()));
}

/// A plain HTTP server on 127.0.0.1 answering every request with `status`, no BOS headers.
fn plain_http(status: &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nServer: plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn a_server_that_is_not_bos_is_named_as_such() {
    let dir = tempfile::tempdir().expect("dir");
    for status in ["200 OK", "404 Not Found"] {
        let ep = plain_http(status);
        let last = failing(BUCKET, dir.path(), &["--endpoint", &ep], &LOCAL_ENV);
        assert!(
            last.contains("does not look like BOS") && last.contains("server: plain"),
            "{status}: {last}"
        );
    }
}

#[test]
fn unknown_access_key_and_wrong_secret_are_told_apart() {
    let server = TestServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let ep = server.endpoint();
    let last = failing(
        BUCKET,
        dir.path(),
        &["--endpoint", ep],
        &[("BCE_ACCESS_KEY_ID", "nobody"), ("BCE_SECRET_ACCESS_KEY", "x")],
    );
    assert!(
        last.contains("access key id nobody is unknown there (InvalidAccessKeyId)"),
        "{last}"
    );
    let last = failing(
        BUCKET,
        dir.path(),
        &["--endpoint", ep],
        &[
            ("BCE_ACCESS_KEY_ID", LOCAL_DEFAULT_ACCESS_KEY_ID),
            ("BCE_SECRET_ACCESS_KEY", "wrong"),
        ],
    );
    assert!(last.contains("the secret access key is wrong"), "{last}");
    assert!(!last.contains("wrong for access key id wrong"));
}

#[test]
fn credentials_files_others_can_read_are_refused() {
    let server = TestServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let creds = dir.path().join("creds");
    std::fs::write(
        &creds,
        format!("{LOCAL_DEFAULT_ACCESS_KEY_ID}:{LOCAL_DEFAULT_SECRET_ACCESS_KEY}\n"),
    )
    .expect("write");
    std::fs::set_permissions(&creds, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let last = failing(
        BUCKET,
        &mnt,
        &[
            "--endpoint",
            server.endpoint(),
            "--credentials",
            &creds.to_string_lossy(),
        ],
        &[],
    );
    assert!(last.contains(&format!("run: chmod 600 {}", creds.display())), "{last}");
    assert!(!last.contains(LOCAL_DEFAULT_SECRET_ACCESS_KEY));
}

#[test]
fn readme_serve_and_mount_endpoint_recipe_works_and_missing_keys_get_a_hint() {
    mountutil::require_fuse();
    let dir = tempfile::tempdir().expect("dir");
    let (mut serve, endpoint) = start_serve(&dir.path().join("bos-data"), "demo");
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).expect("mnt");
    let last = failing("demo", &mnt, &["--endpoint", &endpoint], &[]);
    assert!(
        last.contains("no credentials") && last.contains("BCE_ACCESS_KEY_ID=bosmount-local-ak"),
        "{last}"
    );
    // As the README writes it: export the local keys, mount, use, unmount.
    let script = format!(
        "set -e\n\
         export BCE_ACCESS_KEY_ID=bosmount-local-ak BCE_SECRET_ACCESS_KEY=bosmount-local-secret\n\
         {bin} mount demo {mnt} --endpoint {endpoint}\n\
         echo hello > {mnt}/hello.txt\n\
         cat {mnt}/hello.txt\n\
         fusermount3 -u {mnt}\n",
        bin = binary(),
        mnt = mnt.display(),
    );
    let out = Command::new("sh").arg("-c").arg(&script).output().expect("sh");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if is_mounted(&mnt) {
        let _ = Command::new("fusermount3").arg("-u").arg(&mnt).status();
    }
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello\n");
    stop(&mut serve);
}
