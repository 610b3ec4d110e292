//! What a signature covers, through real HTTP: host must be signed, every `x-bce-*`
//! header present is covered (an unsigned one fails like a changed signed one), so does
//! `Content-*` on header signatures; the expiration period is capped at 7 days and
//! `x-bce-date` must be near the server's clock; empty `x-bce-*` headers do nothing.

mod server_common;

use server_common::TestServer;

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn presigned_put_cannot_be_turned_into_a_copy() {
    let s = TestServer::start().await;
    s.send(s.req("PUT", "/bkt/secret").body("private")).await.expect(200);
    // As the official SDK presigns a PUT: host only, listed.
    let url = || s.req("PUT", "/bkt/drop").presigned().listed(&["host"]).body("payload");
    for (name, value) in [
        ("x-bce-copy-source", "/bkt/secret"),
        ("x-bce-meta-owner", "mallory"),
        ("x-bce-storage-class", "COLD"),
        ("x-bce-forbid-overwrite", "true"),
    ] {
        let r = s.send(url().unsigned_h(name, value)).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "SignatureDoesNotMatch".to_string()),
            "{name}"
        );
    }
    assert_eq!(s.send(s.req("GET", "/bkt/drop")).await.status, 404);
    // The URL itself works, with the client's own (unsigned) Content-Length and Content-Type.
    s.send(
        url()
            .unsigned_h("content-length", "7")
            .unsigned_h("content-type", "text/plain"),
    )
    .await
    .expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt/drop")).await.expect(200).body, b"payload");
}

#[tokio::test]
async fn host_must_be_signed() {
    let s = TestServer::start_with(|c| c.buckets.push("bkt2".into())).await;
    s.send(s.req("PUT", "/bkt2/k").body("keep me")).await.expect(200);
    // Listed without host.
    let r = s
        .send(s.req("GET", "/bkt2/k").listed(&["content-length", "x-bce-date"]))
        .await;
    assert_eq!((r.status, r.code()), (403, "AccessDenied".to_string()));
    // A DELETE signed for one virtual host, sent to another: refused, nothing deleted.
    let r = s
        .send(
            s.req("DELETE", "/k")
                .host_signed_as("bkt2.localhost.test", "bkt.localhost.test"),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "SignatureDoesNotMatch".to_string()));
    assert_eq!(s.send(s.req("GET", "/bkt2/k")).await.expect(200).body, b"keep me");
    // Signed for the right virtual host it works.
    s.send(s.req("DELETE", "/k").host("bkt2.localhost.test"))
        .await
        .expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt2/k")).await.status, 404);
}

#[tokio::test]
async fn header_signatures_cover_bce_and_content_headers() {
    let s = TestServer::start().await;
    let listed = &["content-length", "host", "x-bce-date"];
    s.send(s.req("PUT", "/bkt/a").listed(listed).body("x"))
        .await
        .expect(200);
    for (name, value) in [
        ("x-bce-meta-m", "1"),
        ("content-type", "text/html"),
        ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
    ] {
        let r = s
            .send(s.req("PUT", "/bkt/b").listed(listed).body("x").unsigned_h(name, value))
            .await;
        assert_eq!(
            (r.status, r.code()),
            (403, "SignatureDoesNotMatch".to_string()),
            "{name}"
        );
    }
    assert_eq!(s.send(s.req("GET", "/bkt/b")).await.status, 404);
    // Listed and signed: accepted and acted on.
    let r = s
        .send(
            s.req("PUT", "/bkt/b")
                .h("x-bce-meta-m", "1")
                .listed(&["content-length", "host", "x-bce-date", "x-bce-meta-m"])
                .body("x"),
        )
        .await
        .expect(200);
    drop(r);
    let head = s.send(s.req("HEAD", "/bkt/b")).await.expect(200);
    assert_eq!(head.header("x-bce-meta-m"), Some("1"));
}

#[tokio::test]
async fn empty_bce_headers_do_nothing() {
    let s = TestServer::start().await;
    s.send(s.req("PUT", "/bkt/src").body("source")).await.expect(200);
    // An empty x-bce-copy-source is not signed by any SDK (empty values are skipped):
    // the request is a plain PUT.
    s.send(s.req("PUT", "/bkt/dst").h("x-bce-copy-source", "").body("own body"))
        .await
        .expect(200);
    assert_eq!(s.send(s.req("GET", "/bkt/dst")).await.expect(200).body, b"own body");
}

#[tokio::test]
async fn expiration_is_capped_and_request_time_checked() {
    let s = TestServer::start().await;
    s.send(s.req("PUT", "/bkt/k").body("v")).await.expect(200);
    let week = 7 * 24 * 3600;
    s.send(s.req("GET", "/bkt/k").presigned().at(now(), week))
        .await
        .expect(200);
    for exp in [week + 1, 10_000_000_000, u64::MAX] {
        for presigned in [false, true] {
            let mut req = s.req("GET", "/bkt/k").at(now(), exp);
            if presigned {
                req = req.presigned();
            }
            let r = s.send(req).await;
            assert_eq!(
                (r.status, r.code()),
                (400, "InvalidHTTPAuthHeader".to_string()),
                "{exp} presigned={presigned}"
            );
        }
    }
    // Signed 20 minutes ago, valid for an hour: a presigned URL (no x-bce-date) works,
    // a header signature whose x-bce-date is 20 minutes old does not.
    s.send(s.req("GET", "/bkt/k").presigned().at(now() - 1200, 3600))
        .await
        .expect(200);
    let r = s.send(s.req("GET", "/bkt/k").at(now() - 1200, 3600)).await;
    assert_eq!((r.status, r.code()), (403, "RequestTimeTooSkewed".to_string()));
    // Signed 20 minutes ahead.
    let r = s.send(s.req("GET", "/bkt/k").presigned().at(now() + 1200, 3600)).await;
    assert_eq!((r.status, r.code()), (403, "RequestTimeTooSkewed".to_string()));
    // A malformed x-bce-date.
    let r = s
        .send(s.req("GET", "/bkt/k").presigned().unsigned_h("x-bce-date", "yesterday"))
        .await;
    assert_eq!((r.status, r.code()), (400, "InvalidArgument".to_string()));
}
