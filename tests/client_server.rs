//! The HTTP client against the local server (`bosmount::server`, started in-process on
//! 127.0.0.1 port 0 over a temp dir): the conformance suite, retries against injected
//! failures (files still end up correct), refused connections, wrong credentials.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};

use bosmount::bos::client::{BosClient, ClientConfig};
use bosmount::bos::credentials::Credentials;
use bosmount::bos::retry::RetryConfig;
use bosmount::bos::types::*;
use bosmount::bos::{BosApi, BosError, ErrorKind};
use bosmount::server::{self, RunningServer, ServerConfig};
use common::conformance::Target;

const MIN_PART: u64 = 1024;
const BUCKET: &str = "conformance";

struct Local {
    server: RunningServer,
    _dir: tempfile::TempDir,
}

async fn start_server(fail_rate: f64) -> Local {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = ServerConfig {
        data_dir: dir.path().to_path_buf(),
        buckets: vec![BUCKET.to_string()],
        credentials: Some(Credentials::local_default()),
        min_part_size: MIN_PART,
        latency: Duration::ZERO,
        fail_rate,
        refuse_appendable_copy: false,
        region: "bj".to_string(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = server::start(config, listener).await.expect("start the local server");
    Local { server, _dir: dir }
}

fn client_for(local: &Local, credentials: Credentials, retry: RetryConfig) -> BosClient {
    let mut config = ClientConfig::new(format!("http://{}", local.server.addr), credentials);
    config.retry = retry;
    BosClient::new(config).expect("client")
}

async fn server_target() -> Target {
    let local = start_server(0.0).await;
    let client = client_for(&local, Credentials::local_default(), RetryConfig::default());
    Target {
        api: Arc::new(client),
        bucket: BUCKET.into(),
        min_part: MIN_PART,
        guard: Box::new(local),
    }
}

conformance_tests!(server_target;
    put_get_head, error_kinds, conditional_put, list_pagination, copy_object, append_table,
    multipart, upload_part_copy, deletes, buckets, edge_rules);

/// The same checks with the bucket in the Host (`conformance.bos.test`), names pinned
/// to the local server's address.
mod virtual_host {
    use super::*;
    use bosmount::bos::client::Addressing;

    async fn virtual_host_target() -> Target {
        let local = start_server(0.0).await;
        let port = local.server.addr.port();
        let mut config = ClientConfig::new(format!("http://bos.test:{port}"), Credentials::local_default());
        config.addressing = Addressing::VirtualHost;
        config.resolve = [BUCKET, "no-such-bucket-x"]
            .iter()
            .map(|b| (format!("{b}.bos.test"), local.server.addr))
            .chain([("bos.test".to_string(), local.server.addr)])
            .collect();
        let client = BosClient::new(config).expect("client");
        Target {
            api: Arc::new(client),
            bucket: BUCKET.into(),
            min_part: MIN_PART,
            guard: Box::new(local),
        }
    }

    conformance_tests!(virtual_host_target;
        put_get_head, error_kinds, conditional_put, copy_object, append_table, multipart, upload_part_copy, deletes);
}

fn patterned(len: usize, seed: u64) -> Bytes {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    Bytes::from(
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>(),
    )
}

#[tokio::test]
async fn files_end_up_correct_through_injected_failures() {
    let local = start_server(0.3).await;
    let retry = RetryConfig {
        max_attempts: 12,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
    };
    let client = Arc::new(client_for(&local, Credentials::local_default(), retry));

    // Small objects, several in flight.
    let objects: Vec<(String, Bytes)> = (0..40)
        .map(|i| (format!("small/{i:03}"), patterned(3000 + i, i as u64)))
        .collect();
    stream::iter(objects.clone())
        .map(|(key, body)| {
            let c = client.clone();
            async move { c.put_object(BUCKET, &key, body, &PutOptions::default()).await }
        })
        .buffer_unordered(8)
        .try_collect::<Vec<_>>()
        .await
        .expect("puts survive failures");

    // A multipart object.
    let id = client
        .initiate_multipart_upload(BUCKET, "multi", &PutOptions::default())
        .await
        .expect("initiate");
    let parts: Vec<Bytes> = (0..6)
        .map(|i| patterned(MIN_PART as usize * 2 + i, 100 + i as u64))
        .collect();
    let mut completed = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let etag = client
            .upload_part(BUCKET, "multi", &id, i as u32 + 1, p.clone())
            .await
            .expect("part");
        completed.push(CompletedPart {
            part_number: i as u32 + 1,
            e_tag: etag,
        });
    }
    client
        .complete_multipart_upload(BUCKET, "multi", &id, &completed, &PutOptions::default())
        .await
        .expect("complete");

    // An appendable log: every line exactly once, in order.
    let mut offset = None;
    let mut expected_log = Vec::new();
    for i in 0..60 {
        let line = format!("line {i:04}\n");
        expected_log.extend_from_slice(line.as_bytes());
        let r = client
            .append_object(BUCKET, "log", offset, Bytes::from(line), &PutOptions::default())
            .await
            .expect("append survives failures");
        offset = Some(r.next_offset);
    }

    // Read everything back through the same failing server.
    for (key, body) in &objects {
        let got = client.get_object(BUCKET, key, None).await.expect("get");
        assert!(got.body == *body, "{key} differs");
    }
    let got = client.get_object(BUCKET, "multi", None).await.expect("get multi");
    assert!(got.body[..] == parts.concat()[..], "multipart object differs");
    let got = client.get_object(BUCKET, "log", None).await.expect("get log");
    assert_eq!(
        String::from_utf8_lossy(&got.body),
        String::from_utf8_lossy(&expected_log)
    );

    // Retries did happen.
    let sent: u64 = client.counts().values().sum();
    let logical = (objects.len() * 2 + parts.len() + 2 + 60 + 2) as u64;
    assert!(
        sent > logical,
        "{sent} requests for {logical} operations: the failures were not injected"
    );
}

#[tokio::test]
async fn wrong_credentials_are_access_denied_and_not_retried() {
    let local = start_server(0.0).await;
    let wrong_secret = client_for(
        &local,
        Credentials::new(
            bosmount::bos::credentials::LOCAL_DEFAULT_ACCESS_KEY_ID,
            "not-the-secret",
        ),
        RetryConfig::default(),
    );
    let e = wrong_secret
        .put_object(BUCKET, "k", Bytes::from_static(b"x"), &PutOptions::default())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");
    assert_eq!(e.status(), Some(403));
    assert_eq!(wrong_secret.count(Operation::PutObject), 1, "not retried");
    let e = wrong_secret.head_object(BUCKET, "k").await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");

    let unknown_key = client_for(&local, Credentials::new("who-is-this", "x"), RetryConfig::default());
    let e = unknown_key.list_buckets().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::AccessDenied, "{e}");

    let right = client_for(&local, Credentials::local_default(), RetryConfig::default());
    assert!(
        right.head_object(BUCKET, "k").await.unwrap_err().is_not_found(),
        "nothing was written"
    );
}

#[tokio::test]
async fn stopped_server_is_a_quick_connect_error() {
    let local = start_server(0.0).await;
    let client = client_for(&local, Credentials::local_default(), RetryConfig::default());
    client.head_bucket(BUCKET).await.expect("server up");
    let Local { server, _dir } = local;
    server.shutdown().await;
    let started = Instant::now();
    let e = client.head_bucket(BUCKET).await.unwrap_err();
    assert!(matches!(e, BosError::Connect { .. }), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}
