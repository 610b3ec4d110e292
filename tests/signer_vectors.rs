//! Every signature in the shared vector file (produced by the official SDK) must be
//! reproduced byte for byte: canonical request, signing key and authorization string.

use bosmount::bos::auth::{sign, SigningInput};
use std::path::PathBuf;

fn vectors_path() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../shared/bce-signer-vectors.json"),
        manifest.join("tests/data/bce-signer-vectors.json"),
    ];
    for c in &candidates {
        if c.exists() {
            return c.clone();
        }
    }
    panic!("bce-signer-vectors.json not found in {candidates:?}");
}

#[test]
fn every_vector_matches_the_official_sdk() {
    let text = std::fs::read_to_string(vectors_path()).expect("read vectors");
    let vectors: Vec<serde_json::Value> = serde_json::from_str(&text).expect("parse vectors");
    assert!(vectors.len() >= 13, "expected the full vector set");
    for v in &vectors {
        let name = v["name"].as_str().expect("name");
        let str_pairs = |value: &serde_json::Value| -> Vec<(String, String)> {
            value
                .as_object()
                .expect("object")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        };
        let params = str_pairs(&v["params"]);
        let headers = str_pairs(&v["headers"]);
        let to_sign: Option<Vec<String>> = v["headers_to_sign"]
            .as_array()
            .map(|a| a.iter().map(|s| s.as_str().expect("name").to_string()).collect());
        let input = SigningInput {
            method: v["method"].as_str().expect("method"),
            path: v["path"].as_str().expect("path"),
            params: &params,
            headers: &headers,
            headers_to_sign: to_sign.as_deref(),
            timestamp: bosmount::bos::auth::parse_timestamp(v["timestamp_iso"].as_str().expect("ts")).expect("ts"),
            expiration_seconds: v["expiration_seconds"].as_u64().expect("exp"),
        };
        let sig = sign(v["ak"].as_str().expect("ak"), v["sk"].as_str().expect("sk"), &input);
        assert_eq!(
            sig.auth_string_prefix,
            v["auth_string_prefix"].as_str().expect("p"),
            "{name}: prefix"
        );
        assert_eq!(
            sig.signing_key,
            v["signing_key"].as_str().expect("k"),
            "{name}: signing key"
        );
        assert_eq!(
            sig.canonical_request,
            v["canonical_request"].as_str().expect("cr"),
            "{name}: canonical request"
        );
        assert_eq!(sig.signature, v["signature"].as_str().expect("s"), "{name}: signature");
        assert_eq!(
            sig.authorization,
            v["authorization"].as_str().expect("a"),
            "{name}: authorization"
        );
    }
}
