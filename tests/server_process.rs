//! The local server as a process and over time: restart and kill -9 durability, bounded
//! memory on a large streamed PUT, `Expect: 100-continue`, `/_stats`, fault injection.

mod server_common;

use server_common::{md5_hex, Req, Resp, TestServer};
use std::io::BufRead;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// `bosmount serve` as a child process (anonymous), killed on drop.
struct ServerProcess {
    child: std::process::Child,
    addr: SocketAddr,
    _stdout: std::io::BufReader<std::process::ChildStdout>,
}

impl ServerProcess {
    fn spawn(data: &std::path::Path, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_bosmount"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--bucket",
                "bkt",
                "--anonymous",
                "--data",
            ])
            .arg(data)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn bosmount serve");
        let mut stdout = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut addr = None;
        for _ in 0..3 {
            let mut line = String::new();
            stdout.read_line(&mut line).expect("read banner");
            if let Some(rest) = line.trim().split("listening on http://").nth(1) {
                addr = Some(rest.parse().expect("address"));
            }
        }
        ServerProcess {
            child,
            addr: addr.expect("banner names the address"),
            _stdout: stdout,
        }
    }

    fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("status");
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .expect("VmHWM")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pattern(i: u64) -> Vec<u8> {
    (0..1024 * 1024u64).map(|j| ((i * 31 + j * 7) % 251) as u8).collect()
}

async fn wait_for<F: Fn() -> bool>(what: &str, cond: F) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn tmp_bytes(data: &std::path::Path) -> u64 {
    std::fs::read_dir(data.join("tmp"))
        .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

#[tokio::test]
async fn restart_keeps_everything() {
    let mut s = TestServer::start().await;
    s.send(s.req("PUT", "/bkt/plain").h("x-bce-meta-k", "v").body("plain data"))
        .await
        .expect(200);
    s.send(s.req("POST", "/bkt/log").q("append", "").body("a\n"))
        .await
        .expect(200);
    s.send(s.req("PUT", "/made-later")).await.expect(200);
    let up = s
        .send(s.req("POST", "/bkt/mp").q("uploads", ""))
        .await
        .expect(200)
        .json();
    let id = up["uploadId"].as_str().expect("id").to_string();
    let e = s
        .send(
            s.req("PUT", "/bkt/mp")
                .q("partNumber", "1")
                .q("uploadId", &id)
                .body("part one"),
        )
        .await
        .expect(200);
    let etag = e.header("etag").expect("etag").to_string();
    s.restart(|_| {}).await;
    let g = s.send(s.req("GET", "/bkt/plain")).await.expect(200);
    assert_eq!(
        (g.body.as_slice(), g.header("x-bce-meta-k")),
        (&b"plain data"[..], Some("v"))
    );
    s.send(s.req("HEAD", "/made-later")).await.expect(200);
    s.send(s.req("POST", "/bkt/log").q("append", "").q("offset", "2").body("b\n"))
        .await
        .expect(200);
    let body = format!(r#"{{"parts":[{{"partNumber":1,"eTag":{etag}}}]}}"#);
    s.send(s.req("POST", "/bkt/mp").q("uploadId", &id).body(body))
        .await
        .expect(200);
    s.restart(|_| {}).await;
    assert_eq!(s.send(s.req("GET", "/bkt/log")).await.expect(200).body, b"a\nb\n");
    assert_eq!(s.send(s.req("GET", "/bkt/mp")).await.expect(200).body, b"part one");
}

#[tokio::test]
async fn kill_9_mid_put_leaves_no_partial_object() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let mut server = ServerProcess::spawn(&data, &[]);
    let addr = server.addr;
    Req::new("PUT", "/bkt/victim")
        .body("original")
        .send(addr)
        .await
        .expect(200);
    Req::new("POST", "/bkt/log")
        .q("append", "")
        .body("line 1\n")
        .send(addr)
        .await
        .expect(200);
    // Two uploads cut off half-way: a new key, and an overwrite of an existing one.
    let mut streams = Vec::new();
    for key in ["/bkt/partial", "/bkt/victim"] {
        let head = format!(
            "PUT {key} HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n",
            10 * 1024 * 1024
        );
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        stream.write_all(head.as_bytes()).await.expect("head");
        for i in 0..3 {
            stream.write_all(&pattern(i)).await.expect("part of the body");
        }
        streams.push(stream);
    }
    // And an append cut off half-way.
    let head = format!("POST /bkt/log?append&offset=7 HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 4000000\r\n\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&pattern(9)).await.expect("body");
    streams.push(stream);
    wait_for("the server to have written the partial bodies", || {
        tmp_bytes(&data) >= 6 * 1024 * 1024
    })
    .await;
    server.kill9();
    drop(streams);
    let server = ServerProcess::spawn(&data, &[]);
    let addr = server.addr;
    assert_eq!(Req::new("GET", "/bkt/partial").send(addr).await.status, 404);
    assert_eq!(
        Req::new("GET", "/bkt/victim").send(addr).await.expect(200).body,
        b"original"
    );
    let log = Req::new("GET", "/bkt/log").send(addr).await.expect(200);
    assert_eq!(log.body, b"line 1\n");
    assert_eq!(log.header("x-bce-next-append-offset"), Some("7"));
    // Appends continue at the committed length (the torn tail is cut).
    Req::new("POST", "/bkt/log")
        .q("append", "")
        .q("offset", "7")
        .body("line 2\n")
        .send(addr)
        .await
        .expect(200);
    assert_eq!(
        Req::new("GET", "/bkt/log").send(addr).await.expect(200).body,
        b"line 1\nline 2\n"
    );
    // Leftovers were cleaned at startup: no temp files, and one blob file, the log's
    // (the 8-byte "victim" lives in the index, as every object up to 64 KiB does).
    assert_eq!(std::fs::read_dir(data.join("tmp")).expect("tmp").count(), 0);
    assert_eq!(std::fs::read_dir(data.join("blobs")).expect("blobs").count(), 1);
}

#[tokio::test]
async fn every_acknowledged_concurrent_write_survives_kill_9() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let mut server = ServerProcess::spawn(&data, &[]);
    let addr = server.addr;
    // Eight writers at once (commits are grouped): small objects (taken into memory),
    // larger ones (streamed), overwrites and appends, each answered 200 before the kill.
    let body = |w: usize, i: usize| -> Vec<u8> {
        let len = if i % 10 == 9 { 300 * 1024 } else { 4096 };
        (0..len).map(|j| ((w * 131 + i * 17 + j) % 251) as u8).collect()
    };
    let writer = |w: usize| async move {
        for i in 0..30 {
            Req::new("PUT", &format!("/bkt/w{w}/o{i}"))
                .body(body(w, i))
                .send(addr)
                .await
                .expect(200);
        }
        Req::new("PUT", &format!("/bkt/w{w}/o0"))
            .body(format!("overwritten {w}"))
            .send(addr)
            .await
            .expect(200);
        Req::new("POST", &format!("/bkt/w{w}/log"))
            .q("append", "")
            .body("a")
            .send(addr)
            .await
            .expect(200);
        Req::new("POST", &format!("/bkt/w{w}/log"))
            .q("append", "")
            .q("offset", "1")
            .body("b")
            .send(addr)
            .await
            .expect(200);
    };
    futures_util::future::join_all((0..8).map(writer)).await;
    server.kill9();
    let server = ServerProcess::spawn(&data, &[]);
    for w in 0..8 {
        let first = Req::new("GET", &format!("/bkt/w{w}/o0"))
            .send(server.addr)
            .await
            .expect(200);
        assert_eq!(first.body, format!("overwritten {w}").as_bytes());
        for i in 1..30 {
            let g = Req::new("GET", &format!("/bkt/w{w}/o{i}"))
                .send(server.addr)
                .await
                .expect(200);
            assert!(g.body == body(w, i), "w{w}/o{i} differs after kill -9");
        }
        let log = Req::new("GET", &format!("/bkt/w{w}/log"))
            .send(server.addr)
            .await
            .expect(200);
        assert_eq!(log.body, b"ab");
    }
}

#[tokio::test]
async fn large_put_streams_with_bounded_memory() {
    const MIB: u64 = 256;
    let dir = tempfile::tempdir().expect("tmp");
    let server = ServerProcess::spawn(&dir.path().join("data"), &[]);
    let addr = server.addr;
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "PUT /bkt/big HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        MIB * 1024 * 1024
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut md5 = <md5::Md5 as md5::Digest>::new();
    for i in 0..MIB {
        let chunk = pattern(i);
        md5::Digest::update(&mut md5, &chunk);
        stream.write_all(&chunk).await.expect("chunk");
    }
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("answer");
    let r = Resp::parse(&raw, false).expect(200);
    let want = bosmount::bos::auth::hex_lower(&md5::Digest::finalize(md5));
    assert_eq!(r.header("etag"), Some(format!("\"{want}\"").as_str()));
    let g = Req::new("GET", "/bkt/big").send(addr).await.expect(200);
    assert_eq!(g.body.len() as u64, MIB * 1024 * 1024);
    assert_eq!(md5_hex(&g.body), want);
    let peak = server.peak_rss_kib();
    eprintln!(
        "peak RSS of the server after a {MIB} MiB PUT and GET: {} MiB",
        peak / 1024
    );
    assert!(peak < 96 * 1024, "server peak RSS {peak} KiB grows with the object");
}

#[tokio::test]
async fn expect_100_continue() {
    let s = TestServer::start().await;
    let body = vec![7u8; 2 * 1024 * 1024];
    let req = s
        .req("PUT", "/bkt/continued")
        .h("expect", "100-continue")
        .body(body.clone());
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    stream.write_all(&req.head_bytes(s.addr)).await.expect("head");
    let mut buf = vec![0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("an interim answer before the body")
        .expect("read");
    let interim = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(interim.starts_with("HTTP/1.1 100 Continue"), "{interim}");
    stream.write_all(&body).await.expect("body");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("final");
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert_eq!(s.send(s.req("GET", "/bkt/continued")).await.expect(200).body, body);
    // A refused request gets its final answer without 100 Continue and without the body.
    let bad = Req::new("PUT", "/bkt/refused")
        .h("expect", "100-continue")
        .body(body.clone());
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    stream.write_all(&bad.head_bytes(s.addr)).await.expect("head");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("final answer without sending the body")
        .expect("read");
    let text = String::from_utf8_lossy(&raw).into_owned();
    assert!(text.starts_with("HTTP/1.1 403"), "{text}");
}

#[tokio::test]
async fn chunked_upload_without_content_length_is_refused() {
    let s = TestServer::start_with(|c| c.credentials = None).await;
    let cases = [
        ("PUT /bkt/chunked HTTP/1.1", ""),
        ("POST /bkt/chunked?append HTTP/1.1", ""),
        ("PUT /bkt/chunked HTTP/1.1", "expect: 100-continue\r\n"),
    ];
    for (line, extra) in cases {
        let mut stream = TcpStream::connect(s.addr).await.expect("connect");
        let head = format!(
            "{line}\r\nhost: {}\r\ntransfer-encoding: chunked\r\n{extra}connection: close\r\n\r\n",
            s.addr
        );
        stream.write_all(head.as_bytes()).await.expect("head");
        if extra.is_empty() {
            // Best effort: the server may answer and close before reading the body.
            let _ = stream.write_all(b"5\r\nhello\r\n0\r\n\r\n").await;
        }
        let mut raw = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
            .await
            .expect("an answer")
            .expect("read");
        let text = String::from_utf8_lossy(&raw).into_owned();
        assert!(
            !text.starts_with("HTTP/1.1 100"),
            "no 100 Continue for a refused body: {text}"
        );
        let r = Resp::parse(&raw, false);
        assert_eq!(
            (r.status, r.code().as_str()),
            (411, "MissingContentLength"),
            "{line} {extra}"
        );
    }
    assert_eq!(s.send(Req::new("HEAD", "/bkt/chunked")).await.status, 404);
    // The same bodies with a Content-Length are fine, and so is a POST without a body.
    s.send(Req::new("PUT", "/bkt/chunked").body("hello")).await.expect(200);
    s.send(Req::new("POST", "/bkt/mp").q("uploads", "")).await.expect(200);
}

#[tokio::test]
async fn oversized_put_is_refused_before_the_body() {
    let s = TestServer::start_with(|c| c.credentials = None).await;
    let mut stream = TcpStream::connect(s.addr).await.expect("connect");
    let head = format!(
        "PUT /bkt/huge HTTP/1.1\r\nhost: {}\r\ncontent-length: 5368709121\r\nexpect: 100-continue\r\n\r\n",
        s.addr
    );
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut raw))
        .await
        .expect("answer")
        .expect("read");
    let r = Resp::parse(&raw, false);
    assert_eq!((r.status, r.code().as_str()), (400, "EntityTooLarge"));
}

#[tokio::test]
async fn stats_count_operations() {
    let s = TestServer::start().await;
    let reset = Req::new("DELETE", "/_stats").send(s.addr).await.expect(200);
    assert_eq!(reset.json()["requests"], serde_json::json!({}));
    s.send(s.req("PUT", "/bkt/a").body("12345")).await.expect(200);
    s.send(s.req("PUT", "/bkt/b").body("678")).await.expect(200);
    s.send(s.req("GET", "/bkt/a")).await.expect(200);
    s.send(s.req("HEAD", "/bkt/a")).await.expect(200);
    s.send(s.req("GET", "/bkt")).await.expect(200);
    s.send(s.req("GET", "/bkt/missing")).await.expect(404);
    s.send(s.req("POST", "/bkt/l").q("append", "").body("x"))
        .await
        .expect(200);
    s.send(s.req("HEAD", "/bkt")).await.expect(200);
    s.send(s.req("GET", "/")).await.expect(200);
    s.send(s.req("GET", "/bkt").q("location", "")).await.expect(200);
    s.send(s.req("DELETE", "/bkt/b")).await.expect(200);
    let stats = s.stats().await;
    let want = serde_json::json!({
        "PutObject": 2, "GetObject": 2, "GetObjectMeta": 1, "ListObjects": 1, "AppendObject": 1,
        "HeadBucket": 1, "ListBuckets": 1, "GetBucketLocation": 1, "DeleteObject": 1
    });
    assert_eq!(stats["requests"], want);
    assert_eq!(stats["bytes_in"], 9);
    assert!(stats["bytes_out"].as_u64().expect("bytes_out") >= 5);
    let in_process = s.server.as_ref().expect("server").stats();
    assert_eq!(in_process.count("PutObject"), 2);
    Req::new("POST", "/_stats/reset").send(s.addr).await.expect(200);
    assert_eq!(s.server.as_ref().expect("server").stats().total(), 0);
}

#[tokio::test]
async fn fail_rate_answers_retryable_errors_before_acting() {
    let mut s = TestServer::start_with(|c| c.fail_rate = 0.5).await;
    // (fault choice is random; 80 draws at p=0.5 make every outcome near-certain)
    let mut seen = std::collections::BTreeMap::new();
    for i in 0..80 {
        let r = s.send(s.req("PUT", &format!("/bkt/k{i}")).body("v")).await;
        let key = match r.status {
            200 => "ok".to_string(),
            500 | 503 | 429 => {
                let code = r.code();
                assert!(
                    ["InternalError", "ServiceUnavailable", "RequestRateLimitExceeded"].contains(&code.as_str()),
                    "{code}"
                );
                code
            }
            other => panic!("unexpected {other}: {}", r.text()),
        };
        *seen.entry(key).or_insert(0) += 1;
    }
    assert!(seen.len() >= 3, "{seen:?}");
    assert!(seen.get("ok").copied().unwrap_or(0) > 10, "{seen:?}");
    // /_stats is never failed.
    for _ in 0..20 {
        Req::new("GET", "/_stats").send(s.addr).await.expect(200);
    }
    // With every request failing, nothing is stored.
    s.restart(|c| c.fail_rate = 1.0).await;
    let r = s.send(s.req("PUT", "/bkt/never").body("v")).await;
    assert!(r.status >= 429);
    s.restart(|_| {}).await;
    assert_eq!(s.send(s.req("GET", "/bkt/never")).await.status, 404);
}

#[tokio::test]
async fn latency_delays_answers() {
    let s = TestServer::start_with(|c| c.latency = Duration::from_millis(150)).await;
    let start = Instant::now();
    s.send(s.req("HEAD", "/bkt")).await.expect(200);
    assert!(start.elapsed() >= Duration::from_millis(150));
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut server = ServerProcess::spawn(&dir.path().join("data"), &[]);
    Req::new("PUT", "/bkt/k")
        .body("kept")
        .send(server.addr)
        .await
        .expect(200);
    let pid = libc::pid_t::try_from(server.child.id()).expect("pid");
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let start = Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "server did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let again = ServerProcess::spawn(&dir.path().join("data"), &[]);
    assert_eq!(
        Req::new("GET", "/bkt/k").send(again.addr).await.expect(200).body,
        b"kept"
    );
}

fn blob_sizes(data: &std::path::Path) -> Vec<u64> {
    std::fs::read_dir(data.join("blobs"))
        .map(|rd| rd.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn kill_9_mid_append_trims_the_blob_at_restart() {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dir.path().join("data");
    let mut server = ServerProcess::spawn(&data, &[]);
    let addr = server.addr;
    Req::new("POST", "/bkt/log")
        .q("append", "")
        .body("line 1\n")
        .send(addr)
        .await
        .expect(200);
    assert_eq!(blob_sizes(&data), [7]);
    // An append cut off after 1 MiB of 4 MB: the bytes land in the blob itself.
    let head = format!("POST /bkt/log?append&offset=7 HTTP/1.1\r\nhost: {addr}\r\ncontent-length: 4000000\r\n\r\n");
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    stream.write_all(&pattern(3)).await.expect("body");
    wait_for("the append to reach the blob", || {
        blob_sizes(&data).first().is_some_and(|&n| n >= 1024 * 1024)
    })
    .await;
    server.kill9();
    drop(stream);
    assert!(blob_sizes(&data)[0] > 7, "the torn tail is on disk before the restart");
    let server = ServerProcess::spawn(&data, &[]);
    assert_eq!(blob_sizes(&data), [7], "cut back to the committed length at startup");
    let log = Req::new("GET", "/bkt/log").send(server.addr).await.expect(200);
    assert_eq!(log.body, b"line 1\n");
}
