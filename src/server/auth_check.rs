//! Verification of `bce-auth-v1` signatures on incoming requests (protocol §3.7): parse
//! the authorization (header or presigned `authorization` query parameter), check the key,
//! the time window and the STS token, rebuild the canonical request from the decoded path,
//! every query parameter and the received headers, and compare in constant time.
//!
//! STS: when the configured credentials carry a session token, requests must present the
//! same `x-bce-security-token` (header or query); when they carry none, any token a client
//! sends is accepted (it is still covered by the signature as an `x-bce-*` header).

use crate::bos::auth::{parse_authorization, sign, signatures_equal, SigningInput};
use crate::bos::credentials::Credentials;
use crate::server::error::ApiError;
use axum::http::{HeaderMap, StatusCode};

/// How far in the future a signing time may be.
const MAX_FUTURE_SKEW_SECONDS: i64 = 15 * 60;

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
    let expires_at = parsed
        .timestamp
        .saturating_add(i64::try_from(parsed.expiration_seconds).unwrap_or(i64::MAX));
    if now > expires_at {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "RequestExpired",
            "Request has expired.",
        ));
    }
    if parsed.timestamp > now + MAX_FUTURE_SKEW_SECONDS {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the server's time is too large.",
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
    let listed = (!parsed.signed_headers.is_empty()).then_some(parsed.signed_headers.as_slice());
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
        headers.insert("x-bce-date", HeaderValue::from_static("2024-01-02T03:04:05Z"));
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
