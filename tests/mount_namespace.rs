//! Real mounts of the `bosmount` binary over the in-process local server: directories and
//! names. ls -l cost, mkdir/rmdir/unlink/rename, find, a file and a directory with the
//! same name, the detached (daemon) mode, and mounts that must fail fast.

mod mountutil;

use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt};

use bosmount::bos::PutOptions;
use mountutil::{sh, Mount, ServerOptions, TestServer, BUCKET};

fn put(server: &TestServer, keys: Vec<String>) {
    let client = server.client();
    server.block_on(async {
        stream::iter(keys)
            .for_each_concurrent(32, |key| {
                let client = client.clone();
                async move {
                    client
                        .put_object(BUCKET, &key, Bytes::from_static(b"0123456789"), &PutOptions::default())
                        .await
                        .expect("put");
                }
            })
            .await
    });
}

#[test]
fn ls_l_of_2500_objects_costs_3_lists_and_no_head() {
    let server = TestServer::start(ServerOptions::default());
    put(&server, (0..2500).map(|i| format!("many/obj-{i:05}")).collect());
    let mount = Mount::start(server.endpoint(), &["--metadata-ttl", "60"]);
    assert!(mount.join("many").is_dir());
    server.reset_stats();
    let out = Command::new("ls")
        .arg("-l")
        .arg(mount.join("many"))
        .output()
        .expect("ls");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(listing.lines().filter(|l| l.starts_with('-')).count(), 2500);
    assert!(listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .all(|l| l.split_whitespace().nth(4) == Some("10")));
    let stats = server.stats();
    assert_eq!(stats.count("ListObjects"), 3, "{stats:?}");
    assert_eq!(stats.count("GetObjectMeta"), 0, "{stats:?}");
    assert_eq!(
        stats.count("GetObject"),
        0,
        "the listing shows there is no index: {stats:?}"
    );
}

/// Keys of the bucket under `prefix`.
fn keys_under(server: &TestServer, prefix: &str) -> Vec<String> {
    server.keys().into_iter().filter(|k| k.starts_with(prefix)).collect()
}

const INDEX: &str = ".bosmount-attrs.json";

#[test]
fn the_attribute_index_never_shows_leaks_or_brings_a_directory_back() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    // A file with a stored mode gives its directory an index (written within about a second).
    let (code, err) = sh(
        mount.path(),
        "mkdir d e && echo x > d/f && chmod 600 d/f && echo y > e/g && chmod 640 e/g && echo z > e/plain",
    );
    assert_eq!(code, 0, "{err}");
    mountutil::wait_until("d's index", Duration::from_secs(10), || {
        keys_under(&server, "d/").contains(&format!("d/{INDEX}"))
            && keys_under(&server, "e/").contains(&format!("e/{INDEX}"))
    });
    let (code, out) = sh(mount.path(), "(ls -a d e && find .) 1>&2");
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains(INDEX), "never shown: {out}");
    assert!(
        std::fs::metadata(mount.join(&format!("d/{INDEX}"))).is_err(),
        "not a name"
    );

    // Unlinking the last file and removing the directory at once: the index goes too, and
    // nothing written later brings it back.
    let (code, err) = sh(mount.path(), "rm d/f && rmdir d");
    assert_eq!(code, 0, "{err}");
    // Renaming a directory moves its index; a change still waiting moves with it.
    let (code, err) = sh(mount.path(), "chmod 604 e/plain && mv e moved");
    assert_eq!(code, 0, "{err}");
    mount.unmount();
    assert_eq!(keys_under(&server, "d/"), Vec::<String>::new(), "rmdir left nothing");
    assert_eq!(keys_under(&server, "e/"), Vec::<String>::new(), "rename left nothing");
    let moved = keys_under(&server, "moved/");
    assert!(moved.contains(&format!("moved/{INDEX}")), "{moved:?}");

    let fresh = Mount::start(server.endpoint(), &[]);
    assert!(!fresh.join("d").exists(), "d stays removed");
    assert!(fresh.join("moved").is_dir());
    server.reset_stats();
    let (code, out) = sh(fresh.path(), "ls -l moved 1>&2");
    assert_eq!(code, 0, "{out}");
    let stats = server.stats();
    let mode_of = |name: &str| {
        out.lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .and_then(|l| l.split_whitespace().next())
            .map(str::to_string)
    };
    assert_eq!(mode_of("g").as_deref(), Some("-rw-r-----"), "{out}");
    assert_eq!(mode_of("plain").as_deref(), Some("-rw----r--"), "{out}");
    // A directory rename copies every key, the index with them, so the moved index is no
    // older than its files: it vouches for none of them until it is next written, and each
    // file costs a HEAD — a correct answer, never a stale one.
    assert!(
        stats.count("GetObjectMeta") <= 2,
        "at most a HEAD per moved file: {stats:?}"
    );
    // An empty directory whose only keys are its marker and its index can be removed.
    let (code, err) = sh(fresh.path(), "rm moved/g moved/plain && rmdir moved");
    assert_eq!(code, 0, "{err}");
    fresh.unmount();
    assert_eq!(keys_under(&server, "moved/"), Vec::<String>::new());
}

#[test]
fn directories_files_and_renames() {
    let server = TestServer::start(ServerOptions::default());
    put(
        &server,
        vec!["implicit/a/b/deep.txt".into(), "same".into(), "same/inside".into()],
    );
    let mount = Mount::start(server.endpoint(), &[]);
    let script = r#"
        set -e
        mkdir d1
        mkdir d1/sub
        echo one > d1/sub/f1
        if rmdir d1/sub 2>../err; then exit 10; fi
        grep -q 'not empty' ../err
        rm d1/sub/f1
        rmdir d1/sub
        test ! -e d1/sub
        echo a > a.txt
        echo bb > b.txt
        mv a.txt c.txt
        test ! -e a.txt
        test "$(cat c.txt)" = a
        mv c.txt b.txt
        test "$(cat b.txt)" = a
        mkdir -p tree/x/y
        echo t1 > tree/x/t1
        echo t2 > tree/x/y/t2
        mv tree moved
        test ! -e tree
        test "$(cat moved/x/y/t2)" = t2
        test "$(cat implicit/a/b/deep.txt)" = 0123456789
        test -d same
        test "$(cat same/inside)" = 0123456789
        find . | sort > ../find.txt
    "#;
    let (code, err) = sh(mount.path(), script);
    assert_eq!(code, 0, "script failed: {err}\n{}", mount.log_text());
    let found = std::fs::read_to_string(mount.path().parent().expect("parent").join("find.txt")).expect("find");
    let expected = [
        ".",
        "./b.txt",
        "./d1",
        "./implicit",
        "./implicit/a",
        "./implicit/a/b",
        "./implicit/a/b/deep.txt",
        "./moved",
        "./moved/x",
        "./moved/x/t1",
        "./moved/x/y",
        "./moved/x/y/t2",
        "./same",
        "./same/inside",
    ];
    assert_eq!(found.lines().collect::<Vec<_>>(), expected);
    mount.unmount();
    let client = server.client();
    let mut keys: Vec<String> = server
        .block_on(bosmount::bos::list_all_objects(&*client, BUCKET, &Default::default()))
        .expect("list")
        .contents
        .into_iter()
        .map(|e| e.key)
        // The mount's hidden per-directory attribute indexes (bosmount::fs::attr_index).
        .filter(|k| !k.ends_with(bosmount::fs::names::ATTR_INDEX_NAME))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        vec![
            "b.txt",
            "d1/",
            "implicit/a/b/deep.txt",
            "moved/",
            "moved/x/",
            "moved/x/t1",
            "moved/x/y/",
            "moved/x/y/t2",
            "same",
            "same/inside"
        ]
    );
}

#[test]
fn names_bos_cannot_store_get_clear_errors() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    let (code, err) = sh(mount.path(), "echo x > 'a@b'");
    assert_ne!(code, 0);
    assert!(err.contains("Invalid argument"), "{err}");
    let long = "n".repeat(250);
    let (code, err) = sh(
        mount.path(),
        &format!("mkdir -p {long}/{long}/{long}/{long} && echo x > {long}/{long}/{long}/{long}/{long}"),
    );
    assert_ne!(code, 0);
    assert!(err.contains("File name too long"), "{err}");
}

#[test]
fn detached_mount_returns_once_mounted_and_ends_on_unmount() {
    let server = TestServer::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("dir");
    let status = Command::new(mountutil::binary())
        .args(["mount", "--endpoint", server.endpoint(), BUCKET])
        .arg(dir.path())
        .env(
            "BCE_ACCESS_KEY_ID",
            bosmount::bos::credentials::LOCAL_DEFAULT_ACCESS_KEY_ID,
        )
        .env(
            "BCE_SECRET_ACCESS_KEY",
            bosmount::bos::credentials::LOCAL_DEFAULT_SECRET_ACCESS_KEY,
        )
        .status()
        .expect("run");
    assert!(status.success());
    assert!(mountutil::is_mounted(dir.path()), "mounted when the command returns");
    std::fs::write(dir.path().join("hello"), b"hi").expect("write");
    assert_eq!(std::fs::read(dir.path().join("hello")).expect("read"), b"hi");
    let unmounted = Command::new("fusermount3")
        .arg("-u")
        .arg(dir.path())
        .status()
        .expect("fusermount3");
    assert!(unmounted.success());
    mountutil::wait_until("unmount", Duration::from_secs(10), || {
        !mountutil::is_mounted(dir.path())
    });
}

/// Run a mount that must fail; returns (exit code, stderr, seconds taken).
fn failing_mount(endpoint: &str, bucket: &str, secret: &str, foreground: bool) -> (i32, String, f64) {
    let dir = tempfile::tempdir().expect("dir");
    let started = Instant::now();
    let mut command = Command::new(mountutil::binary());
    command.args(["mount", "--endpoint", endpoint, bucket]).arg(dir.path());
    if foreground {
        command.arg("--foreground");
    }
    let out = command
        .env(
            "BCE_ACCESS_KEY_ID",
            bosmount::bos::credentials::LOCAL_DEFAULT_ACCESS_KEY_ID,
        )
        .env("BCE_SECRET_ACCESS_KEY", secret)
        .output()
        .expect("run");
    assert!(!mountutil::is_mounted(dir.path()));
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    (out.status.code().unwrap_or(-1), stderr, started.elapsed().as_secs_f64())
}

#[test]
fn wrong_credentials_missing_bucket_and_unreachable_endpoint_fail_fast() {
    let server = TestServer::start(ServerOptions::default());
    let good = bosmount::bos::credentials::LOCAL_DEFAULT_SECRET_ACCESS_KEY;
    let cases = [
        (
            server.endpoint().to_string(),
            BUCKET,
            "wrong-secret",
            true,
            "credentials rejected",
        ),
        (
            server.endpoint().to_string(),
            "no-such-bucket",
            good,
            false,
            "does not exist",
        ),
        ("http://127.0.0.1:1".to_string(), BUCKET, good, true, "cannot reach"),
    ];
    for (endpoint, bucket, secret, foreground, expected) in cases {
        let (code, stderr, secs) = failing_mount(&endpoint, bucket, secret, foreground);
        assert_ne!(code, 0, "{expected}");
        let last = stderr.lines().last().unwrap_or("");
        assert!(
            last.starts_with("bosmount: ") && last.contains(expected),
            "{expected}: {stderr}"
        );
        assert!(secs < 20.0, "{expected} took {secs} s");
    }
}

#[test]
fn local_mode_serves_a_directory_and_keeps_data_across_mounts() {
    mountutil::require_fuse();
    let data = tempfile::tempdir().expect("data");
    let mnt = tempfile::tempdir().expect("mnt");
    let mount = |expect: &str| {
        let status = Command::new(mountutil::binary())
            .args(["mount", "local-bucket"])
            .arg(mnt.path())
            .arg("--local")
            .arg(data.path())
            .status()
            .expect("run");
        assert!(status.success(), "{expect}");
        assert!(mountutil::is_mounted(mnt.path()));
    };
    let unmount = || {
        let ok = Command::new("fusermount3")
            .arg("-u")
            .arg(mnt.path())
            .status()
            .expect("fusermount3");
        assert!(ok.success());
        mountutil::wait_until("unmount", Duration::from_secs(10), || {
            !mountutil::is_mounted(mnt.path())
        });
    };
    mount("first mount");
    std::fs::create_dir(mnt.path().join("docs")).expect("mkdir");
    std::fs::write(mnt.path().join("docs/readme.txt"), b"kept").expect("write");
    unmount();
    // The detached process ends after the unmount and releases the data directory.
    mountutil::wait_until("the first server to stop", Duration::from_secs(10), || {
        !String::from_utf8_lossy(
            &Command::new("pgrep")
                .args(["-f", &data.path().to_string_lossy()])
                .output()
                .expect("pgrep")
                .stdout,
        )
        .contains(char::is_numeric)
    });
    mount("second mount");
    assert_eq!(
        std::fs::read(mnt.path().join("docs/readme.txt")).expect("read"),
        b"kept"
    );
    unmount();
}
