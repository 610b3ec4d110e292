//! How `ls -l` learns attributes stored in user metadata, measured against a server that
//! adds 20 ms to every response: 2,500 objects listed (a) without any stored attributes
//! (listing only: 3 LIST, 0 HEAD), (b) with an attribute index whose ETags match (3 LIST,
//! 1 GET, 0 HEAD), (c) with an index that knows none of them (every entry verified by a
//! HEAD, many in flight). Prints LIST/HEAD per entry and the time of each `ls -l`.

mod mountutil;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bosmount::bos::PutOptions;
use bosmount::fs::attr_index::{index_key, IndexBody, IndexEntry};
use futures_util::stream::{self, StreamExt};
use mountutil::{sh, Mount, ServerOptions, TestServer, BUCKET};

const FILES: usize = 2500;

/// Put FILES small objects under `dir` (with `meta` as user metadata), 64 at a time;
/// returns (name, etag) of each.
fn put_many(server: &TestServer, dir: &str, meta: &BTreeMap<String, String>) -> Vec<(String, String)> {
    let client = server.client();
    let options = PutOptions {
        user_meta: meta.clone(),
        ..PutOptions::default()
    };
    server.block_on(async {
        stream::iter(0..FILES)
            .map(|i| {
                let (client, options) = (client.clone(), options.clone());
                async move {
                    let name = format!("f{i:05}");
                    let put = client
                        .put_object(
                            BUCKET,
                            &format!("{dir}/{name}"),
                            bytes::Bytes::from(format!("{i}\n")),
                            &options,
                        )
                        .await
                        .expect("put");
                    (name, put.etag)
                }
            })
            .buffer_unordered(64)
            .collect()
            .await
    })
}

fn put_index(server: &TestServer, dir: &str, body: &IndexBody) {
    let client = server.client();
    let bytes = serde_json::to_vec(body).expect("encode index");
    server
        .block_on(client.put_object(
            BUCKET,
            &index_key(&format!("{dir}/")),
            bytes::Bytes::from(bytes),
            &PutOptions::default(),
        ))
        .expect("put index");
}

/// `ls -l` of `dir` on a fresh mount: (seconds, LIST, HEAD, GET, lines starting with `prefix`,
/// most requests in progress at once).
fn ls_l(server: &TestServer, dir: &str, prefix: &str) -> (f64, u64, u64, u64, usize, u64) {
    // A metadata TTL far longer than the listing, so no revalidation of the directory can
    // fall inside the measurement however slow the machine is: the counts are exact.
    let mount = Mount::start(server.endpoint(), &["--metadata-ttl", "3600"]);
    // Look the directory itself up first: only the listing is measured.
    let (code, out) = sh(mount.path(), &format!("stat {dir}"));
    assert_eq!(code, 0, "stat {dir}: {out}");
    server.reset_stats();
    let started = Instant::now();
    let out = std::process::Command::new("ls")
        .arg("-l")
        .arg(dir)
        .current_dir(mount.path())
        .output()
        .expect("ls");
    let elapsed = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "ls -l {dir}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = String::from_utf8_lossy(&out.stdout).to_string();
    let stats = server.stats();
    let matching = out.lines().filter(|l| l.starts_with(prefix)).count();
    mount.unmount();
    (
        elapsed,
        stats.count("ListObjects"),
        stats.count("GetObjectMeta"),
        stats.count("GetObject"),
        matching,
        stats.peak_in_flight,
    )
}

fn report(label: &str, r: (f64, u64, u64, u64, usize, u64)) {
    println!(
        "[ls -l] {label}: {:.2} s, LIST {} ({:.4}/entry), HEAD {} ({:.2}/entry), GET {}, at most {} at once",
        r.0,
        r.1,
        r.1 as f64 / FILES as f64,
        r.2,
        r.2 as f64 / FILES as f64,
        r.3,
        r.5
    );
}

#[test]
fn ls_l_of_2500_entries_with_20ms_latency_listing_index_and_heads() {
    let server = TestServer::start(ServerOptions {
        latency: Duration::from_millis(20),
        ..ServerOptions::default()
    });
    let mut with_mode = BTreeMap::new();
    with_mode.insert("mode".to_string(), "100600".to_string());

    // (a) Plain objects: the listing alone.
    put_many(&server, "plain", &BTreeMap::new());
    let plain = ls_l(&server, "plain", "-rw-r--r--");
    report("2500 plain objects (listing only)", plain);
    assert_eq!((plain.1, plain.2, plain.4), (3, 0, FILES), "plain: 3 LIST, 0 HEAD");

    // (b) Objects with stored modes and an index that matches every ETag.
    let etags = put_many(&server, "indexed", &with_mode);
    let mut body = IndexBody {
        version: 1,
        entries: BTreeMap::new(),
        written_at: None,
    };
    for (name, etag) in &etags {
        body.entries.insert(
            name.clone(),
            IndexEntry {
                etag: etag.clone(),
                appendable: None,
                content_type: None,
                meta: with_mode.clone(),
                last_modified: None,
                headers: Default::default(),
                from_this_mount: false,
            },
        );
    }
    // An index vouches only for versions older than itself (whole seconds): write it in a
    // later second than the objects, as a mount's delayed index write is.
    let objects_written = std::time::SystemTime::now();
    while secs(std::time::SystemTime::now()) <= secs(objects_written) {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    put_index(&server, "indexed", &body);
    let indexed = ls_l(&server, "indexed", "-rw-------");
    report("2500 objects with modes, attribute index", indexed);
    assert_eq!(
        (indexed.1, indexed.2, indexed.3, indexed.4),
        (3, 0, 1, FILES),
        "indexed: 3 LIST, 0 HEAD, 1 GET, every mode shown"
    );

    // (c) The same, but the index knows none of them: a HEAD per entry, concurrently.
    put_many(&server, "verified", &with_mode);
    put_index(&server, "verified", &IndexBody::default());
    let verified = ls_l(&server, "verified", "-rw-------");
    report("2500 objects with modes, HEAD per entry", verified);
    assert_eq!((verified.1, verified.2), (3, FILES as u64), "3 LIST, a HEAD per entry");
    assert_eq!(verified.4, FILES, "every mode shown");
    assert!(
        verified.5 >= 8,
        "2500 HEADs at 20 ms each must overlap (one after another would take 50 s): \
         at most {} requests were in progress at once",
        verified.5
    );
}

/// Whole Unix seconds of `t`.
fn secs(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}
