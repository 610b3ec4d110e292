//! Keys with `.` or `..` segments between our HTTP client and the local server: the
//! client refuses them before anything is sent (the server never sees a request), and a
//! key without such a segment that merely contains dots goes through.

mod server_common;

use bosmount::bos::client::{BosClient, ClientConfig};
use bosmount::bos::types::PutOptions;
use bosmount::bos::{BosApi, BosError};
use bytes::Bytes;
use server_common::TestServer;

#[tokio::test]
async fn the_client_refuses_dot_segments_before_sending() {
    let s = TestServer::start().await;
    let client = BosClient::new(ClientConfig::new(format!("http://{}", s.addr), s.creds.clone())).expect("client");
    s.server.as_ref().expect("server").reset_stats();
    for key in ["..", ".", "a/../b", "a/./b", "dir/..", "./x"] {
        let put = client
            .put_object("bkt", key, Bytes::from_static(b"x"), &PutOptions::default())
            .await;
        assert!(matches!(put, Err(BosError::InvalidArgument(_))), "{key}: {put:?}");
        let get = client.get_object("bkt", key, None).await;
        assert!(matches!(get, Err(BosError::InvalidArgument(_))), "{key}");
        let delete = client.delete_object("bkt", key).await;
        assert!(matches!(delete, Err(BosError::InvalidArgument(_))), "{key}");
    }
    assert_eq!(
        s.server.as_ref().expect("server").stats().total(),
        0,
        "nothing was sent"
    );
    for key in ["...", "a/.b", "a/b..", ".hidden/..x"] {
        client
            .put_object("bkt", key, Bytes::from_static(b"x"), &PutOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}
