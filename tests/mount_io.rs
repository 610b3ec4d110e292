//! Real mounts of the `bosmount` binary over the in-process local server: file contents.
//! cp of small and large files (multipart), 200 shell redirections = 400 PutObject, a flaky
//! server, and a server that is gone.

mod mountutil;

use std::time::Duration;

use mountutil::{sh, sha256, sha256_file, Mount, ServerOptions, TestServer, BUCKET};

#[test]
fn cp_small_and_large_files_read_back_through_mount_fresh_mount_and_client() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &["--part-size", "2MiB", "--upload-concurrency", "4"]);
    let (_small_dir, small) = mountutil::random_file(1024);
    let (_big_dir, big) = mountutil::random_file(100 * 1024 * 1024);
    let (small_sum, big_sum) = (sha256_file(&small), sha256_file(&big));
    server.reset_stats();
    let (code, err) = sh(
        mount.path(),
        &format!("cp {} small.bin && cp {} big.bin", small.display(), big.display()),
    );
    assert_eq!(code, 0, "cp failed: {err}\n{}", mount.log_text());
    let stats = server.stats();
    // One PutObject for the small file, plus at most one for the directory's attribute index:
    // cp creates it with its source's mode 0600, which is not the mount's default and so is
    // stored as user metadata (bosmount::fs::attr_index).
    assert!(
        (1..=2).contains(&stats.count("PutObject")),
        "small file is one PutObject (+ the attribute index): {stats:?}"
    );
    assert_eq!(stats.count("InitiateMultipartUpload"), 1, "{stats:?}");
    assert_eq!(stats.count("UploadPart"), 50, "100 MiB in 2 MiB parts: {stats:?}");
    assert_eq!(stats.count("CompleteMultipartUpload"), 1, "{stats:?}");
    assert_eq!(sha256_file(&mount.join("small.bin")), small_sum);
    assert_eq!(sha256_file(&mount.join("big.bin")), big_sum);
    mount.unmount();

    let fresh = Mount::start(server.endpoint(), &[]);
    assert_eq!(sha256_file(&fresh.join("small.bin")), small_sum);
    assert_eq!(sha256_file(&fresh.join("big.bin")), big_sum);
    assert_eq!(
        std::fs::metadata(fresh.join("big.bin")).expect("stat").len(),
        100 * 1024 * 1024
    );
    fresh.unmount();

    let client = server.client();
    for (key, sum) in [("small.bin", &small_sum), ("big.bin", &big_sum)] {
        let got = server
            .block_on(client.get_object(BUCKET, key, None))
            .expect("get through the client");
        assert_eq!(&sha256(&got.body), sum, "{key}");
    }
}

#[test]
fn two_hundred_redirections_cost_two_puts_each_and_no_multipart() {
    let server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &[]);
    server.reset_stats();
    let (code, err) = sh(
        mount.path(),
        r#"for i in $(seq 1 200); do echo "file $i" > "f$i.txt"; done"#,
    );
    assert_eq!(code, 0, "{err}");
    // Unmount first: anything the mount would still write (it must write nothing more) is
    // written by then.
    mount.unmount();
    let stats = server.stats();
    // Plain files carry no user metadata, so the directory gets no attribute index. The shell
    // opens each file, moves the descriptor to stdout and closes the original before echo
    // writes: that close must store the (still empty) file, the last one its content — two
    // PutObject per redirection, and nothing else.
    assert_eq!(stats.count("PutObject"), 400, "{stats:?}");
    for op in [
        "InitiateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
        "AppendObject",
        "CopyObject",
    ] {
        assert_eq!(stats.count(op), 0, "{op}: {stats:?}");
    }
    let keys = server.keys();
    let want: std::collections::BTreeSet<String> = (1..=200).map(|i| format!("f{i}.txt")).collect();
    assert_eq!(
        keys.into_iter().collect::<std::collections::BTreeSet<_>>(),
        want,
        "only the 200 files"
    );
    let client = server.client();
    let got = server
        .block_on(client.get_object(BUCKET, "f137.txt", None))
        .expect("get");
    assert_eq!(&got.body[..], b"file 137\n");
}

#[test]
fn flaky_server_still_ends_with_correct_files() {
    let server = TestServer::start(ServerOptions {
        fail_rate: 0.2,
        ..ServerOptions::default()
    });
    let mount = Mount::start(server.endpoint(), &["--part-size", "1MiB"]);
    let mut sums = Vec::new();
    let mut sources = Vec::new();
    for (i, size) in [10usize, 100_000, 3 * 1024 * 1024 + 17, 5 * 1024 * 1024]
        .into_iter()
        .enumerate()
    {
        let (dir, path) = mountutil::random_file(size);
        sums.push((format!("flaky{i}.bin"), sha256_file(&path)));
        let (code, err) = sh(mount.path(), &format!("cp {} flaky{i}.bin", path.display()));
        assert_eq!(code, 0, "cp {i} failed: {err}\n{}", mount.log_text());
        sources.push(dir);
    }
    mount.unmount();
    let client = server.client();
    for (key, sum) in &sums {
        let got = server.block_on(client.get_object(BUCKET, key, None)).expect("get");
        assert_eq!(&sha256(&got.body), sum, "{key}");
    }
    let uploads = server
        .block_on(client.list_multipart_uploads(BUCKET, &Default::default()))
        .expect("list uploads");
    assert!(
        uploads.uploads.is_empty(),
        "no multipart upload left behind: {uploads:?}"
    );
}

#[test]
fn cp_to_a_gone_server_fails_and_leaves_no_object() {
    let mut server = TestServer::start(ServerOptions::default());
    let mount = Mount::start(server.endpoint(), &["--metadata-ttl", "0"]);
    let (_dir, source) = mountutil::random_file(4096);
    server.stop();
    let started = std::time::Instant::now();
    let (code, err) = sh(mount.path(), &format!("cp {} gone.bin", source.display()));
    assert_ne!(code, 0, "cp must fail when the server is gone");
    assert!(err.contains("Input/output error"), "EIO expected, got: {err}");
    assert!(started.elapsed() < Duration::from_secs(60));
    drop(mount);
    let client = server.reopen();
    let missing = server.block_on(client.head_object(BUCKET, "gone.bin"));
    assert!(missing.is_err_and(|e| e.is_not_found()), "no half object");
}

#[test]
fn sigterm_finishes_open_uploads_then_unmounts() {
    let server = TestServer::start(ServerOptions::default());
    let mut mount = Mount::start(server.endpoint(), &[]);
    let script = format!(
        "exec 3>{0}/held.txt; printf 'still open' >&3; touch {0}/../written; sleep 3",
        mount.path().display()
    );
    let mut holder = std::process::Command::new("sh")
        .arg("-c")
        .arg(&script)
        .spawn()
        .expect("holder");
    let marker = mount.path().parent().expect("parent").join("written");
    mountutil::wait_until("the holder's write", Duration::from_secs(10), || marker.exists());
    let code = mount.terminate(Duration::from_secs(40));
    assert_eq!(code, Some(0), "{}", mount.log_text());
    let _ = holder.wait();
    assert!(!mountutil::is_mounted(mount.path()));
    let client = server.client();
    let got = server
        .block_on(client.get_object(BUCKET, "held.txt", None))
        .expect("uploaded");
    assert_eq!(&got.body[..], b"still open");
}
