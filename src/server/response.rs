//! Building answers: the headers every response carries (request id, debug id, Server,
//! Date), object metadata headers for GET/HEAD, and JSON bodies.

use crate::server::store::records::{time_of, ObjectRecord};
use axum::body::Body;
use axum::http::header::{self, HeaderName, HeaderValue};
use axum::http::response::Builder;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::time::SystemTime;

/// RFC 1123 date.
pub fn http_date(t: SystemTime) -> String {
    httpdate::fmt_http_date(t)
}

/// A new UUID-like request id.
pub fn new_request_id() -> String {
    let b: [u8; 16] = rand::random();
    let h = crate::bos::auth::hex_lower(&b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Add the headers every answer carries.
pub fn add_common_headers(response: &mut Response, request_id: &str) {
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(request_id) {
        headers.insert("x-bce-request-id", v);
    }
    let debug: [u8; 12] = rand::random();
    {
        use base64::Engine;
        let text = base64::engine::general_purpose::STANDARD.encode(debug);
        if let Ok(v) = HeaderValue::from_str(&text) {
            headers.insert("x-bce-debug-id", v);
        }
    }
    headers.insert(header::SERVER, HeaderValue::from_static("BceBos"));
    if let Ok(v) = HeaderValue::from_str(&http_date(SystemTime::now())) {
        headers.insert(header::DATE, v);
    }
}

/// Set `name` to `value` when the value is a valid header value.
pub fn set(builder: Builder, name: &str, value: &str) -> Builder {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_bytes(value.as_bytes()),
    ) {
        (Ok(n), Ok(v)) => builder.header(n, v),
        _ => builder,
    }
}

/// The quoted `ETag` header value.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

/// Metadata headers of an object (GET and HEAD).
pub fn object_headers(mut b: Builder, record: &ObjectRecord) -> Builder {
    let meta = &record.meta;
    b = set(
        b,
        "content-type",
        meta.content_type.as_deref().unwrap_or("application/octet-stream"),
    );
    b = set(b, "etag", &quoted(&record.etag));
    b = set(b, "last-modified", &http_date(time_of(record.modified_ms)));
    b = set(b, "x-bce-storage-class", meta.storage_class.as_str());
    b = set(b, "x-bce-content-crc32", &record.crc32.to_string());
    if let Some(md5) = &record.content_md5 {
        b = set(b, "content-md5", md5);
    }
    match record.object_type {
        crate::bos::types::ObjectType::Appendable => {
            b = set(b, "x-bce-object-type", "Appendable");
            b = set(b, "x-bce-next-append-offset", &record.size.to_string());
        }
        crate::bos::types::ObjectType::Normal => {
            b = set(b, "x-bce-object-type", "Normal");
        }
    }
    for (name, value) in [
        ("cache-control", &meta.cache_control),
        ("content-disposition", &meta.content_disposition),
        ("content-encoding", &meta.content_encoding),
        ("expires", &meta.expires),
    ] {
        if let Some(v) = value {
            b = set(b, name, v);
        }
    }
    for (name, value) in &meta.user_meta {
        b = set(b, &format!("x-bce-meta-{name}"), value);
    }
    b
}

/// A JSON answer.
pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Response {
    let text = serde_json::to_vec(value).unwrap_or_default();
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::from(text))
        .unwrap_or_default()
}

/// An empty 200.
pub fn ok() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, "0")
        .body(Body::empty())
        .unwrap_or_default()
}
