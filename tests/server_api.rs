//! The local server's BOS API over real HTTP on 127.0.0.1: signatures, objects, weird
//! keys, listings, copy, append, multipart and buckets.

mod server_common;

use bosmount::bos::credentials::Credentials;
use server_common::{files_under, md5_b64, md5_hex, Req, TestServer};

#[tokio::test]
async fn signatures_are_checked() {
    let s = TestServer::start().await;
    s.send(s.req("PUT", "/bkt/k").body("v")).await.expect(200);
    s.send(s.req("GET", "/bkt/k")).await.expect(200);
    let wrong = Req::new("GET", "/bkt/k").signed(Credentials::new("test-ak", "other"));
    let r = s.send(wrong).await.expect(403);
    assert_eq!(r.code(), "SignatureDoesNotMatch");
    assert!(r.json()["requestId"].as_str().is_some_and(|id| !id.is_empty()));
    let unknown = Req::new("GET", "/bkt/k").signed(Credentials::new("nobody", "test-secret"));
    assert_eq!(s.send(unknown).await.expect(403).code(), "InvalidAccessKeyId");
    let old = chrono::Utc::now().timestamp() - 4000;
    let expired = s.req("GET", "/bkt/k").at(old, 1800);
    assert_eq!(s.send(expired).await.expect(400).code(), "RequestExpired");
    let unsigned = s.req("GET", "/bkt/k").unsigned();
    assert_eq!(s.send(unsigned).await.expect(403).code(), "AccessDenied");
    let malformed = s.req("GET", "/bkt/k").unsigned().h("authorization", "bce-auth-v1/x");
    assert_eq!(s.send(malformed).await.expect(400).code(), "InvalidHTTPAuthHeader");
    // A signed header changed after signing.
    let mut tampered = s.req("PUT", "/bkt/k2").h("x-bce-meta-a", "1").body("v");
    let head = String::from_utf8(tampered.head_bytes(s.addr)).expect("utf8");
    assert!(head.contains("x-bce-meta-a: 1"));
    tampered.creds = None;
    let sig_line = head
        .lines()
        .find(|l| l.starts_with("authorization"))
        .expect("auth")
        .to_string();
    let tampered = tampered
        .h("x-bce-meta-a", "2")
        .h("authorization", sig_line.split_once(": ").expect("v").1);
    // The tampered request carries both values of x-bce-meta-a, so the canonical form differs.
    assert_eq!(s.send(tampered).await.expect(403).code(), "SignatureDoesNotMatch");
    // Presigned URL (authorization in the query, host signed).
    let r = s.send(s.req("GET", "/bkt/k").presigned()).await.expect(200);
    assert_eq!(r.body, b"v");
    // Query parameters are signed: `append` without a value and the weird path.
    s.send(s.req("POST", "/bkt/a b+c(1)~*").q("append", "").body("x"))
        .await
        .expect(200);
    // No error body on HEAD.
    let r = s
        .send(Req::new("HEAD", "/bkt/k").signed(Credentials::new("test-ak", "bad")))
        .await;
    assert_eq!(r.status, 403);
    assert!(r.body.is_empty());
    assert!(r.header("x-bce-request-id").is_some());
}

#[tokio::test]
async fn anonymous_mode_accepts_unsigned() {
    let s = TestServer::start_with(|c| c.credentials = None).await;
    s.send(Req::new("PUT", "/bkt/k").body("v")).await.expect(200);
    assert_eq!(s.send(Req::new("GET", "/bkt/k")).await.expect(200).body, b"v");
}

#[tokio::test]
async fn put_get_head_range_delete() {
    let s = TestServer::start().await;
    let body = b"hello world".to_vec();
    let r = s
        .send(
            s.req("PUT", "/bkt/dir/file.txt")
                .h("content-type", "text/plain")
                .h("content-md5", &md5_b64(&body))
                .h("x-bce-content-crc32", "222957957")
                .h("x-bce-meta-Owner", "  Alice ")
                .h("cache-control", "no-cache")
                .h("content-disposition", "attachment")
                .h("content-encoding", "identity")
                .h("expires", "Wed, 06 Apr 2016 06:34:40 GMT")
                .h("x-bce-storage-class", "STANDARD_IA")
                .body(body.clone()),
        )
        .await
        .expect(200);
    let etag = format!("\"{}\"", md5_hex(&body));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    for h in ["x-bce-request-id", "x-bce-debug-id", "date"] {
        assert!(r.header(h).is_some(), "{h}");
    }
    assert_eq!(r.header("server"), Some("BceBos"));
    let g = s.send(s.req("GET", "/bkt/dir/file.txt")).await.expect(200);
    assert_eq!(g.body, body);
    assert_eq!(g.header("content-type"), Some("text/plain"));
    assert_eq!(g.header("x-bce-meta-owner"), Some("Alice"));
    assert_eq!(g.header("x-bce-storage-class"), Some("STANDARD_IA"));
    assert_eq!(g.header("cache-control"), Some("no-cache"));
    assert_eq!(g.header("content-disposition"), Some("attachment"));
    assert_eq!(g.header("content-encoding"), Some("identity"));
    assert_eq!(g.header("expires"), Some("Wed, 06 Apr 2016 06:34:40 GMT"));
    assert!(g.header("last-modified").is_some_and(|v| v.ends_with("GMT")));
    let h = s.send(s.req("HEAD", "/bkt/dir/file.txt")).await.expect(200);
    assert_eq!(h.header("content-length"), Some("11"));
    assert_eq!(h.header("etag"), Some(etag.as_str()));
    assert!(h.body.is_empty());
    let p = s
        .send(s.req("GET", "/bkt/dir/file.txt").h("range", "bytes=6-"))
        .await
        .expect(206);
    assert_eq!(p.body, b"world");
    assert_eq!(p.header("content-range"), Some("bytes 6-10/11"));
    let p = s
        .send(s.req("GET", "/bkt/dir/file.txt").h("range", "bytes=0-4"))
        .await
        .expect(206);
    assert_eq!(p.body, b"hello");
    let bad = s
        .send(s.req("GET", "/bkt/dir/file.txt").h("range", "bytes=20-30"))
        .await;
    assert_eq!((bad.status, bad.code().as_str()), (416, "InvalidRange"));
    s.send(s.req("PUT", "/bkt/empty")).await.expect(200);
    let e = s
        .send(s.req("GET", "/bkt/empty").h("range", "bytes=0-0"))
        .await
        .expect(400);
    assert_eq!(e.code(), "InvalidRange");
    assert!(s.send(s.req("GET", "/bkt/empty")).await.expect(200).body.is_empty());
    s.send(s.req("DELETE", "/bkt/dir/file.txt")).await.expect(200);
    assert_eq!(
        s.send(s.req("GET", "/bkt/dir/file.txt")).await.expect(404).code(),
        "NoSuchKey"
    );
    assert_eq!(
        s.send(s.req("DELETE", "/bkt/dir/file.txt")).await.expect(404).code(),
        "NoSuchKey"
    );
    let h = s.send(s.req("HEAD", "/bkt/dir/file.txt")).await.expect(404);
    assert!(h.body.is_empty());
    assert_eq!(
        s.send(s.req("GET", "/nobkt/k")).await.expect(404).code(),
        "NoSuchBucket"
    );
}

#[tokio::test]
async fn write_rules_and_digests() {
    let s = TestServer::start().await;
    let r = s
        .send(s.req("PUT", "/bkt/k").h("content-md5", &md5_b64(b"other")).body("data"))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "BadDigest"));
    let r = s
        .send(s.req("PUT", "/bkt/k").h("x-bce-content-crc32", "1").body("data"))
        .await;
    assert_eq!(r.code(), "BadDigest");
    let r = s
        .send(
            s.req("PUT", "/bkt/k")
                .h("x-bce-content-sha256", &"0".repeat(64))
                .body("data"),
        )
        .await;
    assert_eq!(r.code(), "BadDigest");
    assert_eq!(
        s.send(s.req("GET", "/bkt/k")).await.status,
        404,
        "nothing stored after BadDigest"
    );
    let sha = bosmount::bos::auth::hex_lower(&<sha2::Sha256 as sha2::Digest>::digest(b"data"));
    s.send(s.req("PUT", "/bkt/k").h("x-bce-content-sha256", &sha).body("data"))
        .await
        .expect(200);
    let long = "k".repeat(1024);
    assert_eq!(
        s.send(s.req("PUT", &format!("/bkt/{long}"))).await.expect(400).code(),
        "InvalidObjectName"
    );
    s.send(s.req("PUT", &format!("/bkt/{}", "k".repeat(1023))))
        .await
        .expect(200);
    let r = s.send(s.req("PUT", "/bkt/x").h("x-bce-storage-class", "FROZEN")).await;
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidArgument"));
    let r = s
        .send(s.req("PUT", "/bkt/x").h("x-bce-meta-big", &"v".repeat(2100)))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "MetadataTooLarge"));
    let r = s.send(s.req("PUT", "/bkt/x").h("x-bce-traffic-limit", "100")).await;
    assert_eq!(r.status, 400);
    s.send(s.req("PUT", "/bkt/x").h("x-bce-traffic-limit", "819200"))
        .await
        .expect(200);
    // Conditions.
    let r = s
        .send(s.req("PUT", "/bkt/k").h("x-bce-forbid-overwrite", "true").body("new"))
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "FileAlreadyExists"));
    let r = s.send(s.req("PUT", "/bkt/k").h("if-none-match", "*").body("new")).await;
    assert_eq!((r.status, r.code().as_str()), (412, "PreconditionFailed"));
    let r = s
        .send(s.req("PUT", "/bkt/k").h("if-match", "\"0000\"").body("new"))
        .await;
    assert_eq!(r.status, 412);
    s.send(
        s.req("PUT", "/bkt/k")
            .h("if-match", &format!("\"{}\"", md5_hex(b"data")))
            .body("new"),
    )
    .await
    .expect(200);
    s.send(
        s.req("PUT", "/bkt/fresh")
            .h("if-none-match", "*")
            .h("x-bce-forbid-overwrite", "true"),
    )
    .await
    .expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt/k")).await.expect(200).body, b"new");
}

#[tokio::test]
async fn dot_segments_are_refused_with_invalid_uri() {
    let s = TestServer::start().await;
    s.send(s.req("PUT", "/bkt/kept").body("x")).await.expect(200);
    for k in ["..", ".", "../../etc/passwd", "a/../b", "a/./b", "a/.", "dir/.."] {
        let path = format!("/bkt/{k}");
        for method in ["PUT", "GET", "HEAD", "DELETE"] {
            let r = s
                .send(s.req(method, &path).body(if method == "PUT" { "x" } else { "" }))
                .await;
            assert_eq!(r.status, 400, "{method} {k}");
            if method != "HEAD" {
                assert_eq!(r.code(), "InvalidURI", "{method} {k}");
            }
        }
        let r = s.send(s.req("POST", &path).q("append", "").body("x")).await;
        assert_eq!((r.status, r.code()), (400, "InvalidURI".to_string()), "append {k}");
    }
    let list = s.send(s.req("GET", "/bkt")).await.expect(200).json();
    let keys: Vec<&str> = list["contents"]
        .as_array()
        .expect("contents")
        .iter()
        .filter_map(|e| e["key"].as_str())
        .collect();
    assert_eq!(keys, ["kept"]);
}

#[tokio::test]
async fn weird_keys_stay_inside_the_data_dir() {
    let s = TestServer::start().await;
    let keys = [
        "a/b",
        "a/b/c",
        "a//b",
        "...",
        "a/.hidden/..b",
        "with space/and+plus",
        "unicode/测试/ファイル",
        "trailing/",
        "x?y=z&w#frag",
        "100%",
    ];
    for k in keys {
        s.send(s.req("PUT", &format!("/bkt/{k}")).body(format!("content of {k}")))
            .await
            .expect(200);
    }
    for k in keys {
        let r = s.send(s.req("GET", &format!("/bkt/{k}"))).await.expect(200);
        assert_eq!(r.text(), format!("content of {k}"), "{k}");
    }
    let list = s.send(s.req("GET", "/bkt")).await.expect(200).json();
    let mut listed: Vec<String> = list["contents"]
        .as_array()
        .expect("contents")
        .iter()
        .map(|e| e["key"].as_str().expect("key").to_string())
        .collect();
    let mut want: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    want.sort();
    assert_eq!(listed, want, "listing is in byte order");
    listed.dedup();
    assert_eq!(listed.len(), keys.len());
    // Nothing was written outside the data directory, and file names are ids, not keys.
    let parent = s.dir.path();
    for f in files_under(parent) {
        assert!(f.starts_with(s.data_dir()), "{}", f.display());
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        assert!(
            name == "index.redb" || name.chars().all(|c| c.is_ascii_hexdigit()),
            "{name}"
        );
    }
    assert!(!std::path::Path::new("/etc/passwd").exists() || std::fs::read_to_string("/etc/passwd").is_ok());
}

#[tokio::test]
async fn listing_order_delimiter_and_pagination() {
    let s = TestServer::start().await;
    // 2,500 keys, written 50 at a time in parallel.
    let keys: Vec<String> = (0..2500).map(|i| format!("many/{:05}", (i * 7919) % 2500)).collect();
    for chunk in keys.chunks(50) {
        let futs: Vec<_> = chunk
            .iter()
            .map(|k| s.send(s.req("PUT", &format!("/bkt/{k}")).body("x")))
            .collect();
        for r in futures_util::future::join_all(futs).await {
            r.expect(200);
        }
    }
    for k in ["top1", "dir1/a", "dir1/b", "dir2/x/y", "dir1", "many"] {
        s.send(s.req("PUT", &format!("/bkt/{k}"))).await.expect(200);
    }
    let mut marker = String::new();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let mut req = s.req("GET", "/bkt").q("prefix", "many/").q("maxKeys", "1000");
        if !marker.is_empty() {
            req = req.q("marker", &marker);
        }
        let page = s.send(req).await.expect(200).json();
        pages += 1;
        assert!(
            page.get("commonPrefixes").is_none(),
            "no commonPrefixes without delimiter"
        );
        let contents = page["contents"].as_array().expect("contents");
        seen.extend(contents.iter().map(|e| e["key"].as_str().expect("k").to_string()));
        if page["isTruncated"].as_bool() == Some(true) {
            marker = page["nextMarker"]
                .as_str()
                .expect("nextMarker when truncated")
                .to_string();
        } else {
            assert!(page.get("nextMarker").is_none());
            break;
        }
    }
    assert_eq!(pages, 3);
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    // maxKeys above 1000 is capped.
    let big = s
        .send(s.req("GET", "/bkt").q("maxKeys", "5000"))
        .await
        .expect(200)
        .json();
    assert_eq!(big["contents"].as_array().expect("c").len(), 1000);
    assert_eq!(big["maxKeys"], 1000);
    // Delimiter: one level, prefixes rolled up, pagination through prefixes.
    let d = s
        .send(s.req("GET", "/bkt").q("delimiter", "/"))
        .await
        .expect(200)
        .json();
    let prefixes: Vec<&str> = d["commonPrefixes"]
        .as_array()
        .expect("prefixes")
        .iter()
        .map(|p| p["prefix"].as_str().expect("p"))
        .collect();
    assert_eq!(prefixes, vec!["dir1/", "dir2/", "many/"]);
    let files: Vec<&str> = d["contents"]
        .as_array()
        .expect("c")
        .iter()
        .map(|e| e["key"].as_str().expect("k"))
        .collect();
    assert_eq!(files, vec!["dir1", "many", "top1"]);
    let p1 = s
        .send(s.req("GET", "/bkt").q("delimiter", "/").q("maxKeys", "2"))
        .await
        .expect(200)
        .json();
    assert_eq!(p1["isTruncated"], true);
    assert_eq!(p1["nextMarker"], "dir1/");
    let p2 = s
        .send(
            s.req("GET", "/bkt")
                .q("delimiter", "/")
                .q("maxKeys", "2")
                .q("marker", "dir1/"),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(p2["commonPrefixes"][0]["prefix"], "dir2/");
    assert_eq!(p2["contents"][0]["key"], "many");
    let r = s.send(s.req("GET", "/bkt").q("delimiter", "//")).await.expect(400);
    assert_eq!(r.code(), "InvalidArgument");
}

#[tokio::test]
async fn copy_object_and_conditions() {
    let s = TestServer::start_with(|c| c.refuse_appendable_copy = true).await;
    s.send(
        s.req("PUT", "/bkt/src")
            .h("content-type", "text/x")
            .h("x-bce-meta-a", "1")
            .body("payload"),
    )
    .await
    .expect(200);
    let etag = md5_hex(b"payload");
    let r = s
        .send(s.req("PUT", "/bkt/dst").h("x-bce-copy-source", "/bkt/src"))
        .await
        .expect(200)
        .json();
    assert_eq!(r["eTag"], etag.as_str());
    assert!(r["lastModified"].as_str().is_some_and(|t| t.ends_with('Z')));
    let g = s.send(s.req("GET", "/bkt/dst")).await.expect(200);
    assert_eq!(g.body, b"payload");
    assert_eq!(g.header("x-bce-meta-a"), Some("1"));
    assert_eq!(g.header("content-type"), Some("text/x"));
    // Replace directive.
    s.send(
        s.req("PUT", "/bkt/dst2")
            .h("x-bce-copy-source", "/bkt/src")
            .h("x-bce-metadata-directive", "replace")
            .h("x-bce-meta-b", "2"),
    )
    .await
    .expect(200);
    let g = s.send(s.req("HEAD", "/bkt/dst2")).await.expect(200);
    assert_eq!(g.header("x-bce-meta-b"), Some("2"));
    assert_eq!(g.header("x-bce-meta-a"), None);
    // Conditions on the source.
    let r = s
        .send(
            s.req("PUT", "/bkt/dst3")
                .h("x-bce-copy-source", "/bkt/src")
                .h("x-bce-copy-source-if-match", "nope"),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (412, "PreconditionFailed"));
    s.send(
        s.req("PUT", "/bkt/dst3")
            .h("x-bce-copy-source", "/bkt/src")
            .h("x-bce-copy-source-if-match", &etag),
    )
    .await
    .expect(200);
    let r = s
        .send(
            s.req("PUT", "/bkt/dst4")
                .h("x-bce-copy-source", "/bkt/src")
                .h("x-bce-copy-source-if-none-match", &etag),
        )
        .await;
    assert_eq!(r.status, 412);
    let r = s
        .send(
            s.req("PUT", "/bkt/dst4")
                .h("x-bce-copy-source", "/bkt/src")
                .h("x-bce-copy-source-if-modified-since", "Fri, 01 Jan 2100 00:00:00 GMT"),
        )
        .await;
    assert_eq!(r.status, 412);
    let r = s
        .send(
            s.req("PUT", "/bkt/dst4")
                .h("x-bce-copy-source", "/bkt/src")
                .h("x-bce-copy-source-if-unmodified-since", "Sat, 01 Jan 2000 00:00:00 GMT"),
        )
        .await;
    assert_eq!(r.status, 412);
    // Deleting the source leaves the copy intact (hard-linked blobs).
    s.send(s.req("DELETE", "/bkt/src")).await.expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt/dst")).await.expect(200).body, b"payload");
    let r = s.send(s.req("PUT", "/bkt/x").h("x-bce-copy-source", "/bkt/src")).await;
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchKey"));
    // Appendable source to another key is refused with the switch; to itself is fine.
    s.send(s.req("POST", "/bkt/log").q("append", "").body("line\n"))
        .await
        .expect(200);
    let r = s
        .send(s.req("PUT", "/bkt/log2").h("x-bce-copy-source", "/bkt/log"))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "NotAllowCopy"));
    s.send(
        s.req("PUT", "/bkt/log")
            .h("x-bce-copy-source", "/bkt/log")
            .h("x-bce-metadata-directive", "replace")
            .h("x-bce-meta-m", "v"),
    )
    .await
    .expect(200);
    let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
    assert_eq!(h.header("x-bce-object-type"), Some("Appendable"));
    assert_eq!(h.header("x-bce-meta-m"), Some("v"));
    // Without the switch the copy of an appendable object works and is a Normal object.
    let s2 = TestServer::start().await;
    s2.send(s2.req("POST", "/bkt/log").q("append", "").body("line\n"))
        .await
        .expect(200);
    s2.send(s2.req("PUT", "/bkt/log2").h("x-bce-copy-source", "/bkt/log"))
        .await
        .expect(200);
    s2.send(
        s2.req("POST", "/bkt/log")
            .q("append", "")
            .q("offset", "5")
            .body("more\n"),
    )
    .await
    .expect(200);
    assert_eq!(s2.send(s2.req("GET", "/bkt/log2")).await.expect(200).body, b"line\n");
    assert_eq!(
        s2.send(s2.req("GET", "/bkt/log")).await.expect(200).body,
        b"line\nmore\n"
    );
}

#[tokio::test]
async fn delete_multiple_objects() {
    let s = TestServer::start().await;
    for k in ["a", "b", "c"] {
        s.send(s.req("PUT", &format!("/bkt/{k}"))).await.expect(200);
    }
    let r = s
        .send(
            s.req("POST", "/bkt")
                .q("delete", "")
                .body(r#"{"objects":[{"key":"a"},{"key":"b"}]}"#),
        )
        .await
        .expect(200);
    assert!(r.body.is_empty(), "{}", r.text());
    let r = s
        .send(
            s.req("POST", "/bkt")
                .q("delete", "")
                .body(r#"{"objects":[{"key":"c"},{"key":"zz"}]}"#),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(r["errors"][0]["key"], "zz");
    assert_eq!(r["errors"][0]["code"], "NoSuchKey");
    assert_eq!(r["errors"].as_array().expect("errors").len(), 1);
    assert_eq!(
        s.send(s.req("GET", "/bkt")).await.expect(200).json()["contents"],
        serde_json::json!([])
    );
    let r = s
        .send(s.req("POST", "/bkt").q("delete", "").body("not json"))
        .await
        .expect(400);
    assert_eq!(r.code(), "MalformedJSON");
}

#[tokio::test]
async fn append_table() {
    let s = TestServer::start().await;
    // offset on a missing key: 404.
    let r = s
        .send(s.req("POST", "/bkt/log").q("append", "").q("offset", "0").body("x"))
        .await;
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchKey"));
    // Create (no offset), with metadata.
    let r = s
        .send(
            s.req("POST", "/bkt/log")
                .q("append", "")
                .h("x-bce-meta-foo", "bar")
                .h("content-type", "text/log")
                .body("one\n"),
        )
        .await
        .expect(200);
    assert_eq!(r.header("x-bce-next-append-offset"), Some("4"));
    // Append at the right offset; later metadata is ignored.
    let r = s
        .send(
            s.req("POST", "/bkt/log")
                .q("append", "")
                .q("offset", "4")
                .h("x-bce-meta-foo", "bar1")
                .body("two\n"),
        )
        .await
        .expect(200);
    assert_eq!(r.header("x-bce-next-append-offset"), Some("8"));
    // Wrong offset: 409 and nothing changes.
    let r = s
        .send(s.req("POST", "/bkt/log").q("append", "").q("offset", "3").body("bad"))
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "OffsetIncorrect"));
    // Bad digest on append: 400 and nothing changes.
    let r = s
        .send(
            s.req("POST", "/bkt/log")
                .q("append", "")
                .q("offset", "8")
                .h("content-md5", &md5_b64(b"zzz"))
                .body("bad"),
        )
        .await;
    assert_eq!(r.code(), "BadDigest");
    let g = s.send(s.req("GET", "/bkt/log")).await.expect(200);
    assert_eq!(g.body, b"one\ntwo\n");
    assert_eq!(g.header("x-bce-object-type"), Some("Appendable"));
    assert_eq!(g.header("x-bce-next-append-offset"), Some("8"));
    assert_eq!(g.header("x-bce-meta-foo"), Some("bar"));
    assert_eq!(g.header("content-type"), Some("text/log"));
    let crc = crc32fast::hash(b"one\ntwo\n").to_string();
    assert_eq!(g.header("x-bce-content-crc32"), Some(crc.as_str()));
    let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
    assert_eq!(h.header("x-bce-next-append-offset"), Some("8"));
    // Creation conditions.
    let r = s
        .send(
            s.req("POST", "/bkt/log")
                .q("append", "")
                .h("x-bce-forbid-overwrite", "true")
                .body("x"),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (409, "FileAlreadyExists"));
    let r = s
        .send(
            s.req("POST", "/bkt/log")
                .q("append", "")
                .h("if-none-match", "*")
                .body("x"),
        )
        .await;
    assert_eq!(r.status, 412);
    s.send(
        s.req("POST", "/bkt/new")
            .q("append", "")
            .h("x-bce-forbid-overwrite", "true")
            .body("n"),
    )
    .await
    .expect(200);
    // Append on a Normal object: 403.
    s.send(s.req("PUT", "/bkt/normal").body("abc")).await.expect(200);
    let r = s
        .send(s.req("POST", "/bkt/normal").q("append", "").q("offset", "3").body("d"))
        .await;
    assert_eq!((r.status, r.code().as_str()), (403, "ObjectUnappendable"));
    // No offset replaces anything with a new Appendable object.
    s.send(s.req("POST", "/bkt/normal").q("append", "").body("fresh"))
        .await
        .expect(200);
    let g = s.send(s.req("GET", "/bkt/normal")).await.expect(200);
    assert_eq!(
        (g.body.as_slice(), g.header("x-bce-object-type")),
        (&b"fresh"[..], Some("Appendable"))
    );
    // PutObject replaces an Appendable object with a Normal one.
    s.send(s.req("PUT", "/bkt/log").body("normal now")).await.expect(200);
    let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
    assert_eq!(h.header("x-bce-object-type"), Some("Normal"));
    assert_eq!(h.header("x-bce-next-append-offset"), None);
    // ARCHIVE cannot be appended.
    let r = s
        .send(
            s.req("POST", "/bkt/arch")
                .q("append", "")
                .h("x-bce-storage-class", "ARCHIVE")
                .body("x"),
        )
        .await;
    assert_eq!(r.status, 400);
    // Zero-length create is allowed.
    let r = s.send(s.req("POST", "/bkt/zero").q("append", "")).await.expect(200);
    assert_eq!(r.header("x-bce-next-append-offset"), Some("0"));
}

#[tokio::test]
async fn appendable_content_md5_is_of_the_whole_content_after_every_append() {
    let mut s = TestServer::start().await;
    // Pieces of awkward lengths so the resumed MD5 crosses its 64-byte blocks unevenly.
    let pieces: Vec<Vec<u8>> = [3usize, 61, 64, 1, 200, 0, 130]
        .iter()
        .enumerate()
        .map(|(i, n)| (0..*n).map(|j| (i * 37 + j * 11) as u8).collect())
        .collect();
    let mut whole = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let mut req = s.req("POST", "/bkt/log").q("append", "");
        if i > 0 {
            req = req.q("offset", &whole.len().to_string());
        }
        s.send(req.body(piece.clone())).await.expect(200);
        whole.extend_from_slice(piece);
        let want = md5_b64(&whole);
        let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
        assert_eq!(h.header("content-md5"), Some(want.as_str()), "HEAD after append {i}");
        let g = s.send(s.req("GET", "/bkt/log")).await.expect(200);
        assert_eq!(g.body, whole);
        assert_eq!(g.header("content-md5"), Some(want.as_str()), "GET after append {i}");
        if i == 3 {
            // The state lives in the index: it survives a restart.
            s.restart(|_| {}).await;
        }
    }
    // A failed append (bad digest, wrong offset) leaves the digest of the committed content.
    let r = s
        .send(
            s.req("POST", "/bkt/log")
                .q("append", "")
                .q("offset", &whole.len().to_string())
                .h("content-md5", &md5_b64(b"other"))
                .body("tail"),
        )
        .await;
    assert_eq!(r.code(), "BadDigest");
    let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
    assert_eq!(h.header("content-md5"), Some(md5_b64(&whole).as_str()));
    s.send(
        s.req("POST", "/bkt/log")
            .q("append", "")
            .q("offset", &whole.len().to_string())
            .body("tail"),
    )
    .await
    .expect(200);
    whole.extend_from_slice(b"tail");
    let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
    assert_eq!(h.header("content-md5"), Some(md5_b64(&whole).as_str()));
    // A same-key metadata copy keeps it appendable with the same digest state.
    s.send(
        s.req("PUT", "/bkt/log")
            .h("x-bce-copy-source", "/bkt/log")
            .h("x-bce-metadata-directive", "replace")
            .h("x-bce-meta-k", "v"),
    )
    .await
    .expect(200);
    s.send(
        s.req("POST", "/bkt/log")
            .q("append", "")
            .q("offset", &whole.len().to_string())
            .body("more"),
    )
    .await
    .expect(200);
    whole.extend_from_slice(b"more");
    let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
    assert_eq!(h.header("content-md5"), Some(md5_b64(&whole).as_str()));
    // A copy to another key is a Normal object with the same Content-MD5.
    s.send(s.req("PUT", "/bkt/copy").h("x-bce-copy-source", "/bkt/log"))
        .await
        .expect(200);
    let h = s.send(s.req("HEAD", "/bkt/copy")).await.expect(200);
    assert_eq!(h.header("content-md5"), Some(md5_b64(&whole).as_str()));
}

#[tokio::test]
async fn traffic_limit_is_validated_on_every_request() {
    let s = TestServer::start().await;
    s.send(s.req("PUT", "/bkt/src").body("source bytes")).await.expect(200);
    let id = upload(&s, "dst").await;
    for good in ["819200", "838860800"] {
        let g = s
            .send(s.req("GET", "/bkt/src").h("x-bce-traffic-limit", good))
            .await
            .expect(200);
        assert_eq!(g.body, b"source bytes");
    }
    for bad in ["819199", "838860801", "fast", "-1"] {
        let limit = |r: Req| r.h("x-bce-traffic-limit", bad);
        let r = s.send(limit(s.req("GET", "/bkt/src"))).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "InvalidArgument"),
            "GET with {bad:?}"
        );
        let r = s.send(limit(s.req("HEAD", "/bkt/src"))).await;
        assert_eq!((r.status, r.body.len()), (400, 0), "HEAD with {bad:?}");
        let r = s
            .send(limit(s.req("PUT", "/bkt/copied").h("x-bce-copy-source", "/bkt/src")))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "InvalidArgument"),
            "CopyObject with {bad:?}"
        );
        let r = s
            .send(limit(
                s.req("PUT", "/bkt/dst")
                    .q("partNumber", "1")
                    .q("uploadId", &id)
                    .h("x-bce-copy-source", "/bkt/src"),
            ))
            .await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "InvalidArgument"),
            "UploadPartCopy with {bad:?}"
        );
        let r = s.send(limit(s.req("PUT", "/bkt/put").body("x"))).await;
        assert_eq!(
            (r.status, r.code().as_str()),
            (400, "InvalidArgument"),
            "PutObject with {bad:?}"
        );
    }
    assert_eq!(s.send(s.req("HEAD", "/bkt/copied")).await.status, 404);
    assert_eq!(s.send(s.req("HEAD", "/bkt/put")).await.status, 404);
    let parts = s
        .send(s.req("GET", "/bkt/dst").q("uploadId", &id))
        .await
        .expect(200)
        .json();
    assert_eq!(parts["parts"], serde_json::json!([]));
}

#[tokio::test]
async fn concurrent_appends_never_tear() {
    let s = TestServer::start().await;
    s.send(s.req("POST", "/bkt/log").q("append", "")).await.expect(200);
    // Four writers, each appending 25 lines with retry on OffsetIncorrect.
    let writer = |w: usize| {
        let s = &s;
        async move {
            for i in 0..25 {
                let line = format!("writer {w} line {i:03}\n");
                loop {
                    let h = s.send(s.req("HEAD", "/bkt/log")).await.expect(200);
                    let off = h.header("x-bce-next-append-offset").expect("offset").to_string();
                    let r = s
                        .send(
                            s.req("POST", "/bkt/log")
                                .q("append", "")
                                .q("offset", &off)
                                .body(line.clone()),
                        )
                        .await;
                    match r.status {
                        200 => break,
                        409 => continue,
                        other => panic!("append answered {other}: {}", r.text()),
                    }
                }
            }
        }
    };
    futures_util::future::join_all((0..4).map(writer)).await;
    let text = s.send(s.req("GET", "/bkt/log")).await.expect(200).text();
    let mut lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 100);
    lines.sort();
    lines.dedup();
    assert_eq!(lines.len(), 100, "no line doubled or torn");
}

async fn upload(s: &TestServer, key: &str) -> String {
    let r = s
        .send(
            s.req("POST", &format!("/bkt/{key}"))
                .q("uploads", "")
                .h("x-bce-meta-m", "1")
                .h("content-type", "video/mp4"),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(r["key"], key);
    r["uploadId"].as_str().expect("uploadId").to_string()
}

async fn part(s: &TestServer, key: &str, id: &str, n: u32, data: &[u8]) -> String {
    let r = s
        .send(
            s.req("PUT", &format!("/bkt/{key}"))
                .q("partNumber", &n.to_string())
                .q("uploadId", id)
                .body(data.to_vec()),
        )
        .await
        .expect(200);
    r.header("etag").expect("etag").trim_matches('"').to_string()
}

/// Make `key` a completed multipart object of `data` in parts of `part_size`.
async fn multipart_object(s: &TestServer, key: &str, data: &[u8], part_size: usize) {
    let id = upload(s, key).await;
    let mut list = Vec::new();
    for (n, chunk) in data.chunks(part_size).enumerate() {
        let etag = part(s, key, &id, n as u32 + 1, chunk).await;
        list.push(format!(r#"{{"partNumber":{},"eTag":"{etag}"}}"#, n + 1));
    }
    let body = format!(r#"{{"parts":[{}]}}"#, list.join(","));
    s.send(s.req("POST", &format!("/bkt/{key}")).q("uploadId", &id).body(body))
        .await
        .expect(200);
}

#[tokio::test]
async fn multipart_upload() {
    let s = TestServer::start_with(|c| c.min_part_size = 5).await;
    let id = upload(&s, "big").await;
    let e1 = part(&s, "big", &id, 1, b"hello").await;
    assert_eq!(e1, md5_hex(b"hello"));
    let e3 = part(&s, "big", &id, 3, b"world").await;
    let e2 = part(&s, "big", &id, 2, b"tiny").await;
    for bad in ["0", "10001", "x"] {
        let r = s
            .send(
                s.req("PUT", "/bkt/big")
                    .q("partNumber", bad)
                    .q("uploadId", &id)
                    .body("x"),
            )
            .await;
        assert_eq!((r.status, r.code().as_str()), (400, "InvalidArgument"), "{bad}");
    }
    let r = s
        .send(
            s.req("PUT", "/bkt/big")
                .q("partNumber", "1")
                .q("uploadId", "nope")
                .body("x"),
        )
        .await;
    assert_eq!((r.status, r.code().as_str()), (404, "NoSuchUpload"));
    // ListParts, paged.
    let l = s
        .send(s.req("GET", "/bkt/big").q("uploadId", &id).q("maxParts", "2"))
        .await
        .expect(200)
        .json();
    assert_eq!(l["parts"][0]["partNumber"], 1);
    assert_eq!(l["parts"][1]["partNumber"], 2);
    assert_eq!(l["isTruncated"], true);
    assert_eq!(l["nextPartNumberMarker"], 2);
    let l = s
        .send(s.req("GET", "/bkt/big").q("uploadId", &id).q("partNumberMarker", "2"))
        .await
        .expect(200)
        .json();
    assert_eq!(l["parts"][0]["partNumber"], 3);
    assert_eq!(l["parts"][0]["eTag"], e3.as_str());
    assert_eq!(l["isTruncated"], false);
    // ListMultipartUploads.
    let u = s.send(s.req("GET", "/bkt").q("uploads", "")).await.expect(200).json();
    assert_eq!(u["uploads"][0]["uploadId"], id.as_str());
    let complete = |parts: serde_json::Value| {
        s.req("POST", "/bkt/big")
            .q("uploadId", &id)
            .body(serde_json::json!({ "parts": parts }).to_string())
    };
    let r = s
        .send(complete(
            serde_json::json!([{"partNumber": 3, "eTag": e3}, {"partNumber": 1, "eTag": e1}]),
        ))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "InvalidPartOrder"));
    let r = s
        .send(complete(serde_json::json!([{"partNumber": 1, "eTag": "0000"}])))
        .await;
    assert_eq!(r.code(), "InvalidPart");
    let r = s
        .send(complete(
            serde_json::json!([{"partNumber": 1, "eTag": e1}, {"partNumber": 4, "eTag": e1}]),
        ))
        .await;
    assert_eq!(r.code(), "InvalidPart");
    let r = s
        .send(complete(
            serde_json::json!([{"partNumber": 2, "eTag": e2}, {"partNumber": 3, "eTag": e3}]),
        ))
        .await;
    assert_eq!((r.status, r.code().as_str()), (400, "EntityTooSmall"));
    let wrong_crc = complete(serde_json::json!([{"partNumber": 1, "eTag": e1}, {"partNumber": 3, "eTag": e3}]))
        .h("x-bce-content-crc32", "12345");
    assert_eq!(s.send(wrong_crc).await.code(), "BadDigest");
    // Non-contiguous ascending parts; the small last part is fine; whole-object CRC checked.
    let crc = crc32fast::hash(b"helloworld").to_string();
    let r = s
        .send(
            complete(
                serde_json::json!([{"partNumber": 1, "eTag": e1}, {"partNumber": 3, "eTag": format!("\"{e3}\"")}]),
            )
            .h("x-bce-content-crc32", &crc)
            .h("x-bce-meta-done", "yes"),
        )
        .await
        .expect(200)
        .json();
    let expected = {
        let cat = format!("{e1}{e3}");
        format!("-{}", md5_hex(cat.as_bytes()))
    };
    assert_eq!(r["eTag"], expected.as_str());
    assert_eq!(r["bucket"], "bkt");
    let g = s.send(s.req("GET", "/bkt/big")).await.expect(200);
    assert_eq!(g.body, b"helloworld");
    assert_eq!(g.header("x-bce-meta-m"), Some("1"));
    assert_eq!(g.header("x-bce-meta-done"), Some("yes"));
    assert_eq!(g.header("content-type"), Some("video/mp4"));
    let g = s
        .send(s.req("GET", "/bkt/big").h("range", "bytes=3-6"))
        .await
        .expect(206);
    assert_eq!(g.body, b"lowo");
    // The upload is gone; its unused part too.
    let r = s.send(s.req("GET", "/bkt/big").q("uploadId", &id)).await;
    assert_eq!(r.status, 404);
    // Single part: ETag is the part's MD5.
    let id2 = upload(&s, "one").await;
    let e = part(&s, "one", &id2, 1, b"only").await;
    let r = s
        .send(
            s.req("POST", "/bkt/one")
                .q("uploadId", &id2)
                .body(format!(r#"{{"parts":[{{"partNumber":1,"eTag":"{e}"}}]}}"#)),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(r["eTag"], md5_hex(b"only").as_str());
    // Abort.
    let id3 = upload(&s, "gone").await;
    part(&s, "gone", &id3, 1, b"xxxxx").await;
    s.send(s.req("DELETE", "/bkt/gone").q("uploadId", &id3))
        .await
        .expect(200);
    assert_eq!(
        s.send(s.req("DELETE", "/bkt/gone").q("uploadId", &id3)).await.code(),
        "NoSuchUpload"
    );
    let u = s.send(s.req("GET", "/bkt").q("uploads", "")).await.expect(200).json();
    assert_eq!(u["uploads"], serde_json::json!([]));
}

#[tokio::test]
async fn upload_part_copy_and_upload_listing() {
    let s = TestServer::start_with(|c| c.min_part_size = 4).await;
    s.send(s.req("PUT", "/bkt/source").body("0123456789")).await.expect(200);
    let id = upload(&s, "dst").await;
    let r = s
        .send(
            s.req("PUT", "/bkt/dst")
                .q("partNumber", "1")
                .q("uploadId", &id)
                .h("x-bce-copy-source", "/bkt/source")
                .h("x-bce-copy-source-range", "bytes=2-5"),
        )
        .await
        .expect(200)
        .json();
    let e1 = r["eTag"].as_str().expect("etag").to_string();
    assert_eq!(e1, md5_hex(b"2345"));
    let e2 = part(&s, "dst", &id, 2, b"tail").await;
    let r = s
        .send(
            s.req("PUT", "/bkt/dst")
                .q("partNumber", "3")
                .q("uploadId", &id)
                .h("x-bce-copy-source", "/bkt/source")
                .h("x-bce-copy-source-range", "bytes=5-50"),
        )
        .await;
    assert_eq!(r.status, 416);
    let body = serde_json::json!({"parts": [{"partNumber": 1, "eTag": e1}, {"partNumber": 2, "eTag": e2}]});
    s.send(s.req("POST", "/bkt/dst").q("uploadId", &id).body(body.to_string()))
        .await
        .expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt/dst")).await.expect(200).body, b"2345tail");
    // Upload listing with prefix, delimiter, keyMarker and maxUploads.
    for k in ["a/1", "a/2", "b", "c/d/e"] {
        upload(&s, k).await;
    }
    let u = s
        .send(s.req("GET", "/bkt").q("uploads", "").q("delimiter", "/"))
        .await
        .expect(200)
        .json();
    assert_eq!(
        u["commonPrefixes"],
        serde_json::json!([{"prefix": "a/"}, {"prefix": "c/"}])
    );
    assert_eq!(u["uploads"][0]["key"], "b");
    let u = s
        .send(s.req("GET", "/bkt").q("uploads", "").q("prefix", "a/"))
        .await
        .expect(200)
        .json();
    assert_eq!(u["uploads"].as_array().expect("u").len(), 2);
    let u = s
        .send(
            s.req("GET", "/bkt")
                .q("uploads", "")
                .q("maxUploads", "1")
                .q("keyMarker", "a/1"),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(u["uploads"][0]["key"], "a/2");
    assert_eq!(u["isTruncated"], true);
}

#[tokio::test]
async fn upload_listing_pages_between_uploads_of_one_key() {
    let s = TestServer::start().await;
    let mut want = vec![("a".to_string(), upload(&s, "a").await)];
    let mut same = Vec::new();
    for _ in 0..3 {
        same.push(upload(&s, "same").await);
    }
    want.extend(same.iter().map(|id| ("same".to_string(), id.clone())));
    want.push(("z".to_string(), upload(&s, "z").await));
    // Page by page with maxUploads=1, following nextKeyMarker / nextUploadIdMarker.
    let mut got = Vec::new();
    let (mut key_marker, mut id_marker) = (None::<String>, None::<String>);
    for _ in 0..20 {
        let mut req = s.req("GET", "/bkt").q("uploads", "").q("maxUploads", "1");
        if let Some(k) = &key_marker {
            req = req.q("keyMarker", k);
        }
        if let Some(i) = &id_marker {
            req = req.q("uploadIdMarker", i);
        }
        let page = s.send(req).await.expect(200).json();
        for u in page["uploads"].as_array().expect("uploads") {
            got.push((
                u["key"].as_str().expect("key").to_string(),
                u["uploadId"].as_str().expect("id").to_string(),
            ));
        }
        if page["isTruncated"] != true {
            break;
        }
        key_marker = page["nextKeyMarker"].as_str().map(str::to_string);
        id_marker = page["nextUploadIdMarker"].as_str().map(str::to_string);
    }
    // Every upload exactly once; the uploads of one key in the order they were started.
    assert_eq!(got, want);
    // keyMarker alone goes past every upload of that key.
    let page = s
        .send(s.req("GET", "/bkt").q("uploads", "").q("keyMarker", "same"))
        .await
        .expect(200)
        .json();
    assert_eq!(page["uploads"][0]["key"], "z");
    assert_eq!(page["uploads"].as_array().expect("uploads").len(), 1);
}

#[tokio::test]
async fn get_of_a_multipart_object_survives_its_replacement_and_deletion() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    const PART: usize = 8 * 1024 * 1024;
    let s = TestServer::start().await;
    let data: Vec<u8> = (0..3 * PART).map(|i| (i % 251) as u8).collect();
    multipart_object(&s, "big", &data, PART).await;
    for then in ["replace", "delete"] {
        // Start a GET and read only its first MiB: the server is still in the first part.
        let mut stream = tokio::net::TcpStream::connect(s.addr).await.expect("connect");
        let get = s.req("GET", "/bkt/big");
        stream.write_all(&get.head_bytes(s.addr)).await.expect("head");
        let mut raw = vec![0u8; 1024 * 1024];
        stream.read_exact(&mut raw).await.expect("first MiB");
        // The object goes away under the reader.
        match then {
            "replace" => s.send(s.req("PUT", "/bkt/big").body("small")).await.expect(200),
            _ => s.send(s.req("DELETE", "/bkt/big")).await.expect(200),
        };
        let mut rest = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(60), stream.read_to_end(&mut rest))
            .await
            .expect("the rest within 60 s")
            .expect("read");
        raw.extend_from_slice(&rest);
        let r = server_common::Resp::parse(&raw, false).expect(200);
        assert_eq!(r.body.len(), data.len(), "after {then}: the body was cut short");
        assert!(r.body == data, "after {then}: the old content, whole");
        if then == "replace" {
            // Put the multipart object back for the delete round.
            multipart_object(&s, "big", &data, PART).await;
        }
    }
    // Once the readers are done the old blobs are removed: nothing is left behind.
    let blobs = s.data_dir().join("blobs");
    let start = std::time::Instant::now();
    while std::fs::read_dir(&blobs).expect("blobs").count() != 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "blobs of the deleted object remain"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn small_objects_in_the_index_behave_like_any_other() {
    let mut s = TestServer::start().await;
    // Around the 64 KiB inline limit, and the 256 KiB in-memory limit.
    let sizes = [0usize, 1, 4096, 65536, 65537, 262144, 262145];
    let data = |n: usize| -> Vec<u8> { (0..n).map(|i| (i * 7 % 253) as u8).collect() };
    for n in sizes {
        let r = s
            .send(
                s.req("PUT", &format!("/bkt/s{n}"))
                    .h("content-md5", &md5_b64(&data(n)))
                    .body(data(n)),
            )
            .await
            .expect(200);
        assert_eq!(r.header("etag"), Some(format!("\"{}\"", md5_hex(&data(n))).as_str()));
    }
    // A wrong digest stores nothing, inline or not.
    for n in [10usize, 100_000] {
        let r = s
            .send(s.req("PUT", "/bkt/bad").h("content-md5", &md5_b64(b"x")).body(data(n)))
            .await;
        assert_eq!(r.code(), "BadDigest");
    }
    assert_eq!(s.send(s.req("HEAD", "/bkt/bad")).await.status, 404);
    s.restart(|_| {}).await;
    for n in sizes {
        let g = s.send(s.req("GET", &format!("/bkt/s{n}"))).await.expect(200);
        assert!(g.body == data(n), "s{n}");
        assert_eq!(g.header("content-md5"), Some(md5_b64(&data(n)).as_str()));
    }
    let r = s
        .send(s.req("GET", "/bkt/s4096").h("range", "bytes=100-199"))
        .await
        .expect(206);
    assert_eq!(r.body, data(4096)[100..200].to_vec());
    assert_eq!(r.header("content-range"), Some("bytes 100-199/4096"));
    // Copies: to another key (then the source goes), and onto itself with new metadata.
    s.send(s.req("PUT", "/bkt/copy").h("x-bce-copy-source", "/bkt/s4096"))
        .await
        .expect(200);
    s.send(s.req("DELETE", "/bkt/s4096")).await.expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt/copy")).await.expect(200).body, data(4096));
    s.send(
        s.req("PUT", "/bkt/copy")
            .h("x-bce-copy-source", "/bkt/copy")
            .h("x-bce-metadata-directive", "replace")
            .h("x-bce-meta-k", "v"),
    )
    .await
    .expect(200);
    let g = s.send(s.req("GET", "/bkt/copy")).await.expect(200);
    assert_eq!((g.body.clone(), g.header("x-bce-meta-k")), (data(4096), Some("v")));
    // UploadPartCopy from a small object.
    let id = upload(&s, "assembled").await;
    let r = s
        .send(
            s.req("PUT", "/bkt/assembled")
                .q("partNumber", "1")
                .q("uploadId", &id)
                .h("x-bce-copy-source", "/bkt/copy")
                .h("x-bce-copy-source-range", "bytes=10-109"),
        )
        .await
        .expect(200);
    let etag = r.json()["eTag"].as_str().expect("etag").to_string();
    assert_eq!(etag, md5_hex(&data(4096)[10..110]));
    let body = format!(r#"{{"parts":[{{"partNumber":1,"eTag":"{etag}"}}]}}"#);
    s.send(s.req("POST", "/bkt/assembled").q("uploadId", &id).body(body))
        .await
        .expect(200);
    assert_eq!(
        s.send(s.req("GET", "/bkt/assembled")).await.expect(200).body,
        data(4096)[10..110].to_vec()
    );
    // Replaced and deleted small objects leave no files behind; the large ones have theirs.
    for n in sizes {
        s.send(s.req("DELETE", &format!("/bkt/s{n}"))).await;
    }
    s.send(s.req("DELETE", "/bkt/copy")).await.expect(200);
    s.send(s.req("DELETE", "/bkt/assembled")).await.expect(200);
    let blobs = s.data_dir().join("blobs");
    let start = std::time::Instant::now();
    while std::fs::read_dir(&blobs).expect("blobs").count() != 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "blob files remain"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn buckets() {
    let s = TestServer::start().await;
    s.send(s.req("HEAD", "/bkt")).await.expect(200);
    let r = s.send(s.req("HEAD", "/nope")).await;
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    s.send(s.req("PUT", "/new-bucket")).await.expect(200);
    assert_eq!(
        s.send(s.req("PUT", "/new-bucket")).await.expect(409).code(),
        "BucketAlreadyExists"
    );
    assert_eq!(
        s.send(s.req("PUT", "/Bad_Name")).await.expect(400).code(),
        "InvalidBucketName"
    );
    let l = s.send(s.req("GET", "/")).await.expect(200).json();
    let names: Vec<&str> = l["buckets"]
        .as_array()
        .expect("b")
        .iter()
        .map(|b| b["name"].as_str().expect("n"))
        .collect();
    assert_eq!(names, vec!["bkt", "new-bucket"]);
    assert_eq!(l["buckets"][0]["location"], "bj");
    let loc = s.send(s.req("GET", "/bkt").q("location", "")).await.expect(200).json();
    assert_eq!(loc["locationConstraint"], "bj");
    s.send(s.req("PUT", "/new-bucket/k")).await.expect(200);
    assert_eq!(
        s.send(s.req("DELETE", "/new-bucket")).await.expect(409).code(),
        "BucketNotEmpty"
    );
    s.send(s.req("DELETE", "/new-bucket/k")).await.expect(200);
    s.send(s.req("DELETE", "/new-bucket")).await.expect(200);
    assert_eq!(
        s.send(s.req("DELETE", "/new-bucket")).await.expect(404).code(),
        "NoSuchBucket"
    );
    // Virtual-hosted style: a Host whose first label is a bucket; `//` in the key kept.
    s.send(s.req("PUT", "/bkt/vh//k").body("virtual")).await.expect(200);
    let host = format!("bkt.localhost:{}", s.addr.port());
    let r = s.send(s.req("GET", "/vh//k").host(&host)).await.expect(200);
    assert_eq!(r.body, b"virtual");
    let l = s
        .send(s.req("GET", "/").host(&host).q("prefix", "vh"))
        .await
        .expect(200)
        .json();
    assert_eq!(l["contents"][0]["key"], "vh//k");
    // An unknown first label is path style.
    let other = format!("nobucket.localhost:{}", s.addr.port());
    s.send(s.req("GET", "/bkt/vh//k").host(&other)).await.expect(200);
}

#[tokio::test]
async fn v1_prefix_and_percent_encoded_paths() {
    let s = TestServer::start().await;
    s.send(s.req("PUT", "/v1/bkt/legacy").body("old style"))
        .await
        .expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt/legacy")).await.expect(200).body, b"old style");
}
