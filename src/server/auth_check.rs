//! Verification of `bce-auth-v1` signatures on incoming requests (protocol §3.7): parse
//! the authorization (header or presigned `authorization` query parameter), check the key,
//! the time window and the STS token, rebuild the canonical request from the decoded path,
//! every query parameter and the received headers, and compare in constant time.
//!
//! Scope: nothing unsigned may change what a request does. Whatever `signedHeaders`
//! lists, the canonical request always covers `host` (which must be listed when a list is
//! given) and every `x-bce-*` header present (as the default set does; the official
//! Python SDK signs them without listing them), and, for a signature in the
//! `Authorization` header, `Content-Length`, `Content-Type` and `Content-MD5` when
//! present (the default set every SDK signs). A presigned URL is used by clients that add
//! their own `Content-*` headers, so there only `host` and `x-bce-*` are required. An
//! unsigned `x-bce-copy-source` on a presigned PUT therefore fails as any changed signed
//! header does: 403 `SignatureDoesNotMatch`.
//!
//! Time: the expiration period is at most 7 days (400 `InvalidHTTPAuthHeader` beyond);
//! the signing time may be at most 15 minutes ahead, and an `x-bce-date` header, when
//! sent, must be within 15 minutes of the server's clock (403 `RequestTimeTooSkewed`).
//!
//! STS: when the configured credentials carry a session token, requests must present the
//! same `x-bce-security-token` (header or query); when they carry none, any token a client
//! sends is accepted (it is still covered by the signature as an `x-bce-*` header).

use crate::bos::auth::{parse_authorization, parse_timestamp, sign, signatures_equal, SigningInput};
use crate::bos::credentials::Credentials;
use crate::server::error::ApiError;
use axum::http::{HeaderMap, StatusCode};

/// How far the signing time may be ahead, and `x-bce-date` off, of the server's clock.
const MAX_SKEW_SECONDS: i64 = 15 * 60;

/// Longest expiration period accepted: 7 days, like presigned URLs elsewhere.
pub const MAX_EXPIRATION_SECONDS: u64 = 7 * 24 * 3600;

/// Headers covered by a header signature whenever present.
const CONTENT_HEADERS: [&str; 3] = ["content-length", "content-type", "content-md5"];

/// `headers` without the `x-bce-*` headers whose value is empty: no signer covers those
/// (empty values are skipped when signing), so they must not act either.
pub fn without_empty_bce_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = headers.clone();
    let empty: Vec<_> = headers
        .iter()
        .filter(|(k, v)| k.as_str().starts_with("x-bce-") && v.as_bytes().trim_ascii().is_empty())
        .map(|(k, _)| k.clone())
        .collect();
    for name in empty {
        out.remove(name);
    }
    out
}

fn skewed() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "RequestTimeTooSkewed",
        "The difference between the request time and the server's time is too large.",
    )
}

/// The header names the canonical request covers: the listed ones plus `host`, every
/// `x-bce-*` present and, unless presigned, the `Content-*` trio; `None` (the default set,
/// which covers all of them) when nothing was listed.
fn covered_names(listed: &[String], headers: &HeaderMap, presigned: bool) -> Option<Vec<String>> {
    if listed.is_empty() {
        return None;
    }
    let mut names: Vec<String> = listed.to_vec();
    names.push("host".to_string());
    for name in headers.keys() {
        let name = name.as_str();
        if name.starts_with("x-bce-") || (!presigned && CONTENT_HEADERS.contains(&name)) {
            names.push(name.to_string());
        }
    }
    names.sort();
    names.dedup();
    Some(names)
}

/// Headers as (name, value) text pairs; non-UTF-8 bytes are replaced (they could not have
/// been signed by any SDK anyway).
pub fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// Check the request's signature against `credentials` at time `now` (Unix seconds).
pub fn verify(
    credentials: &Credentials,
    method: &str,
    decoded_path: &str,
    query: &[(String, String)],
    headers: &HeaderMap,
    now: i64,
) -> Result<(), ApiError> {
    let from_header = headers
        .get("authorization")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let from_query = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.clone());
    let presigned = from_header.is_none();
    let Some(text) = from_header.or(from_query) else {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "Anonymous access is forbidden for this operation.",
        ));
    };
    let Some(parsed) = parse_authorization(&text) else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidHTTPAuthHeader",
            "The Authorization header you provided is invalid.",
        ));
    };
    if parsed.access_key_id != credentials.access_key_id {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "InvalidAccessKeyId",
            "The Access Key Id you provided does not exist in our records.",
        ));
    }
    if parsed.expiration_seconds > MAX_EXPIRATION_SECONDS {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidHTTPAuthHeader",
            format!("The expiration period must be at most {MAX_EXPIRATION_SECONDS} seconds (7 days)."),
        ));
    }
    // At most 7 days, so this cannot overflow.
    let expires_at = parsed.timestamp.saturating_add(parsed.expiration_seconds as i64);
    if now > expires_at {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "RequestExpired",
            "Request has expired.",
        ));
    }
    if parsed.timestamp > now.saturating_add(MAX_SKEW_SECONDS) {
        return Err(skewed());
    }
    if let Some(date) = headers.get("x-bce-date") {
        let text = String::from_utf8_lossy(date.as_bytes());
        let Some(at) = parse_timestamp(text.trim()) else {
            return Err(ApiError::invalid_argument(
                "x-bce-date must be YYYY-MM-DDThh:mm:ssZ (UTC).",
            ));
        };
        if (at - now).abs() > MAX_SKEW_SECONDS {
            return Err(skewed());
        }
    }
    let host_sent = headers
        .get("host")
        .is_some_and(|h| !h.as_bytes().trim_ascii().is_empty());
    let host_listed = parsed.signed_headers.is_empty() || parsed.signed_headers.iter().any(|h| h == "host");
    if !host_sent || !host_listed {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "AccessDenied",
            "The Host header must be sent and signed.",
        ));
    }
    if let Some(expected) = &credentials.session_token {
        let sent = headers
            .get("x-bce-security-token")
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .or_else(|| {
                query
                    .iter()
                    .find(|(k, _)| k == "x-bce-security-token")
                    .map(|(_, v)| v.clone())
            });
        if sent.as_deref().map(|s| signatures_equal(s, expected)) != Some(true) {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "InvalidSessionToken",
                "The session token is missing or invalid.",
            ));
        }
    }
    let header_list = header_pairs(headers);
    let covered = covered_names(&parsed.signed_headers, headers, presigned);
    let listed = covered.as_deref();
    let expected = sign(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        &SigningInput {
            method,
            path: decoded_path,
            params: query,
            headers: &header_list,
            headers_to_sign: listed,
            timestamp: parsed.timestamp,
            expiration_seconds: parsed.expiration_seconds,
        },
    );
    if !signatures_equal(&expected.signature, &parsed.signature.to_ascii_lowercase()) {
        log::debug!(
            "signature mismatch; canonical request was {:?}",
            redact_session_token(&expected.canonical_request)
        );
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided.",
        ));
    }
    Ok(())
}

/// `canonical` with the value of every `x-bce-security-token` (a signed header line or a
/// query parameter) replaced, so the canonical request can be logged without the STS token.
fn redact_session_token(canonical: &str) -> String {
    const NAME: &str = "x-bce-security-token";
    let mut out = String::with_capacity(canonical.len());
    let mut rest = canonical;
    while let Some(at) = rest.find(NAME) {
        let after = &rest[at + NAME.len()..];
        out.push_str(&rest[..at + NAME.len()]);
        match after.chars().next() {
            Some(sep @ (':' | '=')) => {
                out.push(sep);
                out.push_str("<redacted>");
                let end = after.find(['\n', '&']).unwrap_or(after.len());
                rest = &after[end..];
            }
            _ => rest = after,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn signed(creds: &Credentials, ts: i64, path: &str, query: &[(String, String)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("host", HeaderValue::from_static("127.0.0.1:9000"));
        let date = crate::bos::auth::format_timestamp(ts);
        headers.insert("x-bce-date", HeaderValue::from_str(&date).expect("ascii"));
        headers.insert("content-length", HeaderValue::from_static("0"));
        let pairs = header_pairs(&headers);
        let s = sign(
            &creds.access_key_id,
            &creds.secret_access_key,
            &SigningInput {
                method: "GET",
                path,
                params: query,
                headers: &pairs,
                headers_to_sign: None,
                timestamp: ts,
                expiration_seconds: 1800,
            },
        );
        headers.insert("authorization", HeaderValue::from_str(&s.authorization).expect("ascii"));
        headers
    }

    #[test]
    fn accepts_good_and_rejects_bad() {
        let creds = Credentials::new("ak", "sk");
        let q = vec![("append".to_string(), String::new())];
        let h = signed(&creds, 1_700_000_000, "/b/a b", &q);
        assert!(verify(&creds, "GET", "/b/a b", &q, &h, 1_700_000_100).is_ok());
        assert_eq!(
            verify(&creds, "GET", "/b/a c", &q, &h, 1_700_000_100).map_err(|e| e.code),
            Err("SignatureDoesNotMatch")
        );
        assert_eq!(
            verify(&creds, "GET", "/b/a b", &q, &h, 1_700_002_000).map_err(|e| e.code),
            Err("RequestExpired")
        );
        assert_eq!(
            verify(&creds, "GET", "/b/a b", &q, &h, 1_699_990_000).map_err(|e| e.code),
            Err("RequestTimeTooSkewed")
        );
        // Within the expiration period but x-bce-date more than 15 minutes old.
        assert_eq!(
            verify(&creds, "GET", "/b/a b", &q, &h, 1_700_001_000).map_err(|e| e.code),
            Err("RequestTimeTooSkewed")
        );
        let other = Credentials::new("ak2", "sk");
        assert_eq!(
            verify(&other, "GET", "/b/a b", &q, &h, 1_700_000_100).map_err(|e| e.code),
            Err("InvalidAccessKeyId")
        );
        let mut bad = h.clone();
        bad.insert("authorization", HeaderValue::from_static("bce-auth-v1/ak/zzz"));
        assert_eq!(
            verify(&creds, "GET", "/b/a b", &q, &bad, 1_700_000_100).map_err(|e| e.code),
            Err("InvalidHTTPAuthHeader")
        );
    }

    fn sign_listed(creds: &Credentials, headers: &mut HeaderMap, listed: &[&str], exp: u64) {
        let pairs = header_pairs(headers);
        let names: Vec<String> = listed.iter().map(|s| s.to_string()).collect();
        let s = sign(
            &creds.access_key_id,
            &creds.secret_access_key,
            &SigningInput {
                method: "PUT",
                path: "/b/k",
                params: &[],
                headers: &pairs,
                headers_to_sign: Some(&names),
                timestamp: 1_700_000_000,
                expiration_seconds: exp,
            },
        );
        headers.insert("authorization", HeaderValue::from_str(&s.authorization).expect("ascii"));
    }

    #[test]
    fn host_and_every_bce_header_must_be_signed() {
        let creds = Credentials::new("ak", "sk");
        let now = 1_700_000_100;
        let base = || {
            let mut h = HeaderMap::new();
            h.insert("host", HeaderValue::from_static("127.0.0.1:9000"));
            h.insert("content-length", HeaderValue::from_static("3"));
            h
        };
        // Listed without host: refused even though the signature is right for that list.
        let mut h = base();
        sign_listed(&creds, &mut h, &["content-length"], 1800);
        assert_eq!(
            verify(&creds, "PUT", "/b/k", &[], &h, now).map_err(|e| e.code),
            Err("AccessDenied")
        );
        // Listed host and content-length: fine.
        let mut h = base();
        sign_listed(&creds, &mut h, &["content-length", "host"], 1800);
        assert!(verify(&creds, "PUT", "/b/k", &[], &h, now).is_ok());
        // An x-bce-* header added after signing is not covered.
        h.insert("x-bce-copy-source", HeaderValue::from_static("/other/secret"));
        assert_eq!(
            verify(&creds, "PUT", "/b/k", &[], &h, now).map_err(|e| e.code),
            Err("SignatureDoesNotMatch")
        );
        // Signed but unlisted x-bce-* (as the Python SDK does): covered, accepted.
        let mut h = base();
        h.insert("x-bce-meta-a", HeaderValue::from_static("1"));
        let pairs = header_pairs(&h);
        let names = vec![
            "content-length".to_string(),
            "host".to_string(),
            "x-bce-meta-a".to_string(),
        ];
        let s = sign(
            "ak",
            "sk",
            &SigningInput {
                method: "PUT",
                path: "/b/k",
                params: &[],
                headers: &pairs,
                headers_to_sign: Some(&names),
                timestamp: 1_700_000_000,
                expiration_seconds: 1800,
            },
        );
        let python_style = s
            .authorization
            .replace("content-length;host;x-bce-meta-a", "content-length;host");
        h.insert("authorization", HeaderValue::from_str(&python_style).expect("ascii"));
        assert!(verify(&creds, "PUT", "/b/k", &[], &h, now).is_ok());
        // An unsigned Content-Type on a header signature is not accepted.
        let mut h = base();
        sign_listed(&creds, &mut h, &["content-length", "host"], 1800);
        h.insert("content-type", HeaderValue::from_static("text/html"));
        assert_eq!(
            verify(&creds, "PUT", "/b/k", &[], &h, now).map_err(|e| e.code),
            Err("SignatureDoesNotMatch")
        );
    }

    #[test]
    fn expiration_is_capped_at_seven_days() {
        let creds = Credentials::new("ak", "sk");
        let mut h = HeaderMap::new();
        h.insert("host", HeaderValue::from_static("h"));
        sign_listed(&creds, &mut h, &["host"], MAX_EXPIRATION_SECONDS);
        assert!(verify(&creds, "PUT", "/b/k", &[], &h, 1_700_000_100).is_ok());
        for exp in [MAX_EXPIRATION_SECONDS + 1, 10_000_000_000, u64::MAX] {
            let mut h = HeaderMap::new();
            h.insert("host", HeaderValue::from_static("h"));
            sign_listed(&creds, &mut h, &["host"], exp);
            assert_eq!(
                verify(&creds, "PUT", "/b/k", &[], &h, 1_700_000_100).map_err(|e| e.code),
                Err("InvalidHTTPAuthHeader"),
                "{exp}"
            );
        }
    }

    #[test]
    fn empty_bce_headers_are_dropped() {
        let mut h = HeaderMap::new();
        h.insert("x-bce-copy-source", HeaderValue::from_static(" "));
        h.insert("x-bce-meta-a", HeaderValue::from_static("1"));
        let out = without_empty_bce_headers(&h);
        assert!(!out.contains_key("x-bce-copy-source"));
        assert!(out.contains_key("x-bce-meta-a"));
    }

    #[test]
    fn redacts_the_session_token_from_a_canonical_request() {
        let canonical = "GET\n/b/k\nx-bce-security-token=tok1&z=1\nhost:h\nx-bce-security-token:tok2";
        let redacted = redact_session_token(canonical);
        assert_eq!(
            redacted,
            "GET\n/b/k\nx-bce-security-token=<redacted>&z=1\nhost:h\nx-bce-security-token:<redacted>"
        );
        assert!(!redacted.contains("tok1") && !redacted.contains("tok2"));
    }
}
