//! The HTTP client against a small mock server on 127.0.0.1 that checks every request's
//! BCE signature with `bos::auth` and answers what each test scripts: key encoding on
//! the wire, retries (what is retried, what never is, bodies re-sent), errors from
//! bodies and from bodiless answers, CopyObject's "200 with an error body", the empty
//! object range quirk, AppendObject's guarded retries, timeouts and refused connections.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use base64::Engine;
use bytes::Bytes;
use md5::{Digest, Md5};

use bosmount::bos::auth;
use bosmount::bos::client::{BosClient, ClientConfig};
use bosmount::bos::credentials::Credentials;
use bosmount::bos::retry::RetryConfig;
use bosmount::bos::types::*;
use bosmount::bos::{BosApi, BosError, ErrorKind};

const AK: &str = "mock-ak";
const SK: &str = "mock-sk";

/// One request as the mock received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    raw_path: String,
    decoded_path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Bytes,
    signature_ok: bool,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
    fn has_query(&self, name: &str) -> bool {
        self.query.iter().any(|(n, _)| n == name)
    }
}

type Responder = Arc<dyn Fn(&Seen, usize) -> Response + Send + Sync>;

struct MockState {
    seen: Mutex<Vec<Seen>>,
    responder: Responder,
    delay: Duration,
}

struct Mock {
    addr: std::net::SocketAddr,
    state: Arc<MockState>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Mock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Mock {
    fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().expect("lock").clone()
    }

    fn client(&self, retry: RetryConfig) -> BosClient {
        let mut config = ClientConfig::new(format!("http://{}", self.addr), Credentials::new(AK, SK));
        config.retry = retry;
        BosClient::new(config).expect("client")
    }
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

async fn handle(State(state): State<Arc<MockState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap_or_default();
    let raw_path = parts.uri.path().to_string();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (decode(n), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect();
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let decoded_path = decode(&raw_path);
    let signature_ok = headers
        .iter()
        .find(|(n, _)| n == "authorization")
        .and_then(|(_, v)| auth::parse_authorization(v))
        .is_some_and(|parsed| {
            let expected = auth::sign(
                AK,
                SK,
                &auth::SigningInput {
                    method: parts.method.as_str(),
                    path: &decoded_path,
                    params: &query,
                    headers: &headers,
                    headers_to_sign: Some(&parsed.signed_headers),
                    timestamp: parsed.timestamp,
                    expiration_seconds: parsed.expiration_seconds,
                },
            );
            parsed.access_key_id == AK && auth::signatures_equal(&expected.signature, &parsed.signature)
        });
    let seen = Seen {
        method: parts.method.to_string(),
        raw_path,
        decoded_path,
        query,
        headers,
        body,
        signature_ok,
    };
    let index = {
        let mut all = state.seen.lock().expect("lock");
        all.push(seen.clone());
        all.len() - 1
    };
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    (state.responder)(&seen, index)
}

async fn mock_with_delay(
    delay: Duration,
    responder: impl Fn(&Seen, usize) -> Response + Send + Sync + 'static,
) -> Mock {
    let state = Arc::new(MockState {
        seen: Mutex::new(Vec::new()),
        responder: Arc::new(responder),
        delay,
    });
    let app = axum::Router::new().fallback(handle).with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Mock { addr, state, task }
}

async fn mock(responder: impl Fn(&Seen, usize) -> Response + Send + Sync + 'static) -> Mock {
    mock_with_delay(Duration::ZERO, responder).await
}

fn fast_retry() -> RetryConfig {
    RetryConfig {
        max_attempts: 4,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
    }
}

fn reply(status: u16) -> axum::http::response::Builder {
    Response::builder()
        .status(status)
        .header("x-bce-request-id", "mock-request")
}

fn error_reply(status: u16, code: &str) -> Response {
    reply(status)
        .header("content-type", "application/json")
        .body(Body::from(format!(
            r#"{{"code":"{code}","message":"scripted","requestId":"body-request-id"}}"#
        )))
        .expect("response")
}

fn ok_with_etag(seen: &Seen) -> Response {
    let etag = auth::hex_lower(&Md5::digest(&seen.body));
    reply(200)
        .header("etag", format!("\"{etag}\""))
        .body(Body::empty())
        .expect("response")
}

fn md5_b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Md5::digest(data))
}

#[tokio::test]
async fn keys_travel_encoded_and_every_request_is_signed() {
    let m = mock(|seen, _| match seen.method.as_str() {
        "PUT" => ok_with_etag(seen),
        _ => reply(200)
            .header("content-type", "application/json")
            .body(Body::from(r#"{"name":"bkt","isTruncated":false,"contents":[]}"#))
            .expect("response"),
    })
    .await;
    let client = m.client(fast_retry());
    let keys = ["a//b", "dir/ü x+y", "q?x=1&y#z", "//lead", "tilde~*'()!"];
    let mut o = PutOptions::default();
    o.user_meta.insert("Mode".into(), "0644".into());
    o.storage_class = Some(StorageClass::Cold);
    for key in keys {
        let r = client
            .put_object("bkt", key, Bytes::from_static(b"hello"), &o)
            .await
            .expect("put");
        assert_eq!(r.etag, "5d41402abc4b2a76b9719d911017c592", "quotes stripped");
    }
    client
        .list_objects(
            "bkt",
            &ListRequest {
                prefix: "a b/".into(),
                marker: Some("a b/c+d".into()),
                delimiter: Some("/".into()),
                max_keys: Some(10),
            },
        )
        .await
        .expect("list");
    let seen = m.seen();
    assert_eq!(seen.len(), keys.len() + 1);
    for (s, key) in seen.iter().zip(keys) {
        assert!(s.signature_ok, "signature of {key:?}");
        assert_eq!(s.decoded_path, format!("/bkt/{key}"));
        assert_eq!(s.raw_path, format!("/bkt/{}", auth::uri_encode(key, true)));
        assert_eq!(s.header("content-md5"), Some(md5_b64(b"hello").as_str()));
        assert_eq!(s.header("content-length"), Some("5"));
        assert_eq!(s.header("content-type"), Some("application/octet-stream"));
        assert_eq!(s.header("x-bce-meta-mode"), Some("0644"));
        assert_eq!(s.header("x-bce-storage-class"), Some("COLD"));
        assert_eq!(s.header("host"), Some(m.addr.to_string().as_str()));
        let listed = auth::parse_authorization(s.header("authorization").expect("auth")).expect("parse");
        assert!(listed.signed_headers.contains(&"x-bce-meta-mode".to_string()));
        assert!(listed.signed_headers.contains(&"content-md5".to_string()));
        assert!(!listed.signed_headers.iter().any(|h| h == "user-agent"));
    }
    let list = &seen[keys.len()];
    assert!(list.signature_ok);
    assert_eq!(list.decoded_path, "/bkt");
    let q = |n: &str| list.query.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    assert_eq!(
        (q("prefix"), q("marker"), q("delimiter"), q("maxKeys")),
        (Some("a b/"), Some("a b/c+d"), Some("/"), Some("10"))
    );
}

#[tokio::test]
async fn server_errors_are_retried_with_the_same_body() {
    let m = mock(|seen, i| {
        if i < 2 {
            error_reply(503, "ServiceUnavailable")
        } else {
            ok_with_etag(seen)
        }
    })
    .await;
    let client = m.client(fast_retry());
    let body = Bytes::from(vec![7u8; 100_000]);
    client
        .put_object("bkt", "k", body.clone(), &PutOptions::default())
        .await
        .expect("put after retries");
    let seen = m.seen();
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|s| s.signature_ok && s.body == body));
    assert_eq!(client.count(Operation::PutObject), 3);
}

#[tokio::test]
async fn throttling_is_retried() {
    let m = mock(|seen, i| {
        if i == 0 {
            error_reply(429, "RequestRateLimitExceeded")
        } else {
            ok_with_etag(seen)
        }
    })
    .await;
    let client = m.client(fast_retry());
    client
        .put_object("bkt", "k", Bytes::from_static(b"x"), &PutOptions::default())
        .await
        .expect("put");
    assert_eq!(m.seen().len(), 2);
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    let m = mock(|_, _| error_reply(403, "SignatureDoesNotMatch")).await;
    let client = m.client(fast_retry());
    let e = client.get_object("bkt", "k", None).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied);
    assert_eq!(e.code(), Some("SignatureDoesNotMatch"));
    assert!(matches!(&e, BosError::Service { request_id, status: 403, .. } if request_id == "body-request-id"));
    assert_eq!(m.seen().len(), 1);
    let m = mock(|_, _| error_reply(409, "OffsetIncorrect")).await;
    let client = m.client(fast_retry());
    let e = client
        .append_object("bkt", "k", Some(3), Bytes::from_static(b"x"), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OffsetIncorrect);
    assert_eq!(m.seen().len(), 1);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let m = mock(|_, _| error_reply(500, "InternalError")).await;
    let client = m.client(fast_retry());
    let e = client.delete_object("bkt", "k").await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(500), Some("InternalError")));
    assert_eq!(m.seen().len(), 4);
}

#[tokio::test]
async fn copy_failing_inside_a_200_is_an_error_and_retried() {
    let m = mock(|_, i| {
        let body = if i == 0 {
            r#"{"code":"InternalError","message":"copy broke","requestId":"r1"}"#
        } else {
            r#"{"lastModified":"2016-05-12T09:14:32Z","eTag":"67b92a7c2a9b9c1809a6ae3295dcc127"}"#
        };
        reply(200).body(Body::from(body)).expect("response")
    })
    .await;
    let client = m.client(fast_retry());
    let mut options = CopyOptions::default();
    options.conditions.if_match = Some("abc".into());
    let r = client
        .copy_object("src", "dir/ü x", "bkt", "dst", &options)
        .await
        .expect("copy");
    assert_eq!(r.etag, "67b92a7c2a9b9c1809a6ae3295dcc127");
    let seen = m.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("x-bce-copy-source"), Some("/src/dir/%C3%BC%20x"));
    assert_eq!(seen[0].header("x-bce-copy-source-if-match"), Some("abc"));
    assert_eq!(seen[0].header("x-bce-metadata-directive"), Some("copy"));
    assert!(seen.iter().all(|s| s.signature_ok));

    let m = mock(|_, _| {
        reply(200)
            .body(Body::from(r#"{"code":"NoSuchKey","message":"m","requestId":"r"}"#))
            .expect("r")
    })
    .await;
    let e = m
        .client(fast_retry())
        .copy_object("src", "a", "bkt", "b", &CopyOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("NoSuchKey"));
}

#[tokio::test]
async fn bodiless_errors_get_a_code_from_the_status() {
    let m = mock(|_, _| reply(404).body(Body::empty()).expect("response")).await;
    let client = m.client(fast_retry());
    let e = client.head_object("bkt", "k").await.unwrap_err();
    assert_eq!((e.status(), e.code()), (Some(404), Some("NoSuchKey")));
    assert!(matches!(&e, BosError::Service { request_id, .. } if request_id == "mock-request"));
    let e = client.head_bucket("bkt").await.unwrap_err();
    assert_eq!(e.code(), Some("NoSuchBucket"));
    let m = mock(|_, _| reply(412).body(Body::empty()).expect("response")).await;
    let e = m.client(fast_retry()).head_object("bkt", "k").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::PreconditionFailed);
}

#[tokio::test]
async fn head_reads_every_header() {
    let m = mock(|_, _| {
        reply(200)
            .header("content-length", "42")
            .header("etag", "\"0123\"")
            .header("last-modified", "Wed, 06 Apr 2016 06:34:40 GMT")
            .header("content-type", "text/plain")
            .header("x-bce-object-type", "Appendable")
            .header("x-bce-next-append-offset", "42")
            .header("x-bce-storage-class", "STANDARD_IA")
            .header("x-bce-meta-mtime", "1700000000")
            .header("content-md5", "abc=")
            .header("cache-control", "no-cache")
            .body(Body::empty())
            .expect("response")
    })
    .await;
    let meta = m.client(fast_retry()).head_object("bkt", "k").await.expect("head");
    assert_eq!((meta.size, meta.etag.as_str()), (42, "0123"));
    assert_eq!(meta.object_type, ObjectType::Appendable);
    assert_eq!(meta.next_append_offset, Some(42));
    assert_eq!(meta.storage_class, StorageClass::StandardIa);
    assert_eq!(meta.user_meta.get("mtime").map(String::as_str), Some("1700000000"));
    assert_eq!(meta.content_type.as_deref(), Some("text/plain"));
    assert_eq!(meta.content_md5.as_deref(), Some("abc="));
    assert_eq!(meta.cache_control.as_deref(), Some("no-cache"));
    assert_eq!(format_iso8601(meta.last_modified), "2016-04-06T06:34:40Z");
}

#[tokio::test]
async fn ranged_read_of_an_empty_object_reads_it_whole() {
    let m = mock(|seen, _| {
        if seen.header("range").is_some() {
            error_reply(400, "InvalidRange")
        } else {
            reply(200)
                .header("etag", "\"d41d8cd98f00b204e9800998ecf8427e\"")
                .body(Body::empty())
                .expect("r")
        }
    })
    .await;
    let client = m.client(fast_retry());
    let r = client
        .get_object(
            "bkt",
            "empty",
            Some(ByteRange {
                start: 0,
                end: Some(4095),
            }),
        )
        .await
        .expect("read");
    assert!(r.body.is_empty());
    assert_eq!(r.meta.size, 0);
    let seen = m.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header("range"), Some("bytes=0-4095"));
    assert!(seen[1].header("range").is_none());
    // A read of the whole object sends no Range at all.
    client
        .get_object("bkt", "empty", Some(ByteRange { start: 0, end: None }))
        .await
        .expect("read");
    assert!(m.seen()[2].header("range").is_none());
    // A range from further in is a real error.
    let e = client
        .get_object("bkt", "empty", Some(ByteRange { start: 5, end: None }))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some("InvalidRange"));
}

/// An appendable object behind a scripted mock: `script(index_of_append_request)`
/// decides what each append does.
#[derive(Clone, Copy, PartialEq, Debug)]
enum AppendScript {
    /// Apply and answer 200.
    Normal,
    /// Apply, then answer 500: the answer is lost after the append landed.
    LandThenFail,
    /// Answer 503 without applying.
    FailBeforeLanding,
    /// Another writer's bytes land instead; answer 500.
    Overtaken,
}

/// The object's bytes, shared with the mock.
type SharedObject = Arc<Mutex<Vec<u8>>>;

fn appendable_mock(initial: &[u8], script: Vec<AppendScript>) -> (SharedObject, impl Fn(&Seen, usize) -> Response) {
    let object = Arc::new(Mutex::new(initial.to_vec()));
    let appends = Arc::new(Mutex::new(0usize));
    let obj = object.clone();
    let responder = move |seen: &Seen, _| {
        let mut data = obj.lock().expect("lock");
        match seen.method.as_str() {
            "POST" if seen.has_query("append") => {
                let n = {
                    let mut a = appends.lock().expect("lock");
                    *a += 1;
                    *a - 1
                };
                let step = script.get(n).copied().unwrap_or(AppendScript::Normal);
                let offset: usize = seen
                    .query
                    .iter()
                    .find(|(k, _)| k == "offset")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(0);
                if offset != data.len() {
                    return error_reply(409, "OffsetIncorrect");
                }
                match step {
                    AppendScript::FailBeforeLanding => error_reply(503, "ServiceUnavailable"),
                    AppendScript::Overtaken => {
                        data.extend_from_slice(b"OTHER WRITER\n");
                        error_reply(500, "InternalError")
                    }
                    AppendScript::LandThenFail | AppendScript::Normal => {
                        data.extend_from_slice(&seen.body);
                        if step == AppendScript::LandThenFail {
                            return error_reply(500, "InternalError");
                        }
                        reply(200)
                            .header("x-bce-next-append-offset", data.len().to_string())
                            .body(Body::empty())
                            .expect("r")
                    }
                }
            }
            "HEAD" => reply(200)
                .header("content-length", data.len().to_string())
                .header("x-bce-object-type", "Appendable")
                .header("x-bce-next-append-offset", data.len().to_string())
                .header("etag", "\"e\"")
                .body(Body::empty())
                .expect("r"),
            "GET" => {
                let range = seen.header("range").expect("verification reads a range");
                let (a, b) = range.trim_start_matches("bytes=").split_once('-').expect("range form");
                let (a, b): (usize, usize) = (a.parse().expect("start"), b.parse().expect("end"));
                let b = b.min(data.len() - 1);
                reply(206)
                    .header("content-range", format!("bytes {a}-{b}/{}", data.len()))
                    .body(Body::from(data[a..=b].to_vec()))
                    .expect("r")
            }
            other => panic!("unexpected {other}"),
        }
    };
    (object, responder)
}

fn count(seen: &[Seen], method: &str) -> usize {
    seen.iter().filter(|s| s.method == method).count()
}

#[tokio::test]
async fn append_whose_answer_was_lost_is_not_sent_twice() {
    let (object, responder) = appendable_mock(b"line1\n", vec![AppendScript::LandThenFail]);
    let m = mock(responder).await;
    let r = m
        .client(fast_retry())
        .append_object(
            "bkt",
            "log",
            Some(6),
            Bytes::from_static(b"line2\n"),
            &PutOptions::default(),
        )
        .await
        .expect("append");
    assert_eq!(r.next_offset, 12);
    assert_eq!(&object.lock().expect("lock")[..], b"line1\nline2\n", "no line doubled");
    let seen = m.seen();
    assert_eq!(
        (count(&seen, "POST"), count(&seen, "HEAD"), count(&seen, "GET")),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn append_that_did_not_land_is_sent_again() {
    let (object, responder) = appendable_mock(b"line1\n", vec![AppendScript::FailBeforeLanding]);
    let m = mock(responder).await;
    let r = m
        .client(fast_retry())
        .append_object(
            "bkt",
            "log",
            Some(6),
            Bytes::from_static(b"line2\n"),
            &PutOptions::default(),
        )
        .await
        .expect("append");
    assert_eq!(r.next_offset, 12);
    assert_eq!(&object.lock().expect("lock")[..], b"line1\nline2\n");
    let seen = m.seen();
    assert_eq!((count(&seen, "POST"), count(&seen, "HEAD")), (2, 1));
    assert!(seen.iter().all(|s| s.signature_ok));
}

#[tokio::test]
async fn append_overtaken_by_another_writer_reports_offset_incorrect() {
    let (object, responder) = appendable_mock(b"line1\n", vec![AppendScript::Overtaken]);
    let m = mock(responder).await;
    let e = m
        .client(fast_retry())
        .append_object(
            "bkt",
            "log",
            Some(6),
            Bytes::from_static(b"line2\n"),
            &PutOptions::default(),
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::OffsetIncorrect);
    assert_eq!(&object.lock().expect("lock")[..], b"line1\nOTHER WRITER\n");
    assert_eq!(count(&m.seen(), "POST"), 1);
}

#[tokio::test]
async fn refused_connection_fails_fast_as_connect() {
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let client = BosClient::new(ClientConfig::new(format!("http://{addr}"), Credentials::new(AK, SK))).expect("client");
    let started = Instant::now();
    let e = client.head_bucket("bkt").await.unwrap_err();
    assert!(matches!(e, BosError::Connect { .. }), "{e:?}");
    assert!(e.is_retryable());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn slow_answers_time_out() {
    let m = mock_with_delay(Duration::from_secs(3), |seen, _| ok_with_etag(seen)).await;
    let mut config = ClientConfig::new(format!("http://{}", m.addr), Credentials::new(AK, SK));
    config.request_timeout = Duration::from_millis(200);
    config.retry = RetryConfig {
        max_attempts: 2,
        ..fast_retry()
    };
    let client = BosClient::new(config).expect("client");
    let started = Instant::now();
    let e = client
        .put_object("bkt", "k", Bytes::from_static(b"x"), &PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(e, BosError::Timeout(_)), "{e:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(m.seen().len(), 2, "a timeout is retried");
}

#[tokio::test]
async fn session_token_is_sent_and_signed() {
    let m = mock(|seen, _| ok_with_etag(seen)).await;
    let mut creds = Credentials::new(AK, SK);
    creds.session_token = Some("sts-token".into());
    let client = BosClient::new(ClientConfig::new(format!("http://{}", m.addr), creds)).expect("client");
    client
        .put_object("bkt", "k", Bytes::new(), &PutOptions::default())
        .await
        .expect("put");
    let seen = m.seen();
    assert_eq!(seen[0].header("x-bce-security-token"), Some("sts-token"));
    assert_eq!(seen[0].header("content-length"), Some("0"));
    assert!(seen[0].signature_ok);
    let listed = auth::parse_authorization(seen[0].header("authorization").expect("auth")).expect("parse");
    assert!(listed.signed_headers.contains(&"x-bce-security-token".to_string()));
    assert!(!format!("{client:?}").contains(SK), "Debug hides the secret");
}

#[tokio::test]
async fn parts_carry_a_crc32_of_their_bytes() {
    let m = mock(|seen, _| ok_with_etag(seen)).await;
    let client = m.client(fast_retry());
    let body = Bytes::from(vec![7u8; 100_000]);
    let etag = client
        .upload_part("bkt", "big", "upload-1", 3, body.clone())
        .await
        .expect("part");
    assert_eq!(etag, auth::hex_lower(&Md5::digest(&body)));
    let seen = m.seen();
    assert_eq!(seen.len(), 1);
    let s = &seen[0];
    assert!(s.signature_ok);
    assert_eq!(
        s.header("x-bce-content-crc32"),
        Some(crc32fast::hash(&body).to_string().as_str())
    );
    let listed = auth::parse_authorization(s.header("authorization").expect("auth")).expect("parse");
    assert!(listed.signed_headers.contains(&"x-bce-content-crc32".to_string()));
}
