//! Decoding of BOS answers: error answers (JSON `{code, message, requestId}`, or a code
//! synthesised from the status when the answer has no body, as HEAD answers never do),
//! object metadata from response headers, and the JSON bodies of listings and copies.

use std::collections::BTreeMap;
use std::time::SystemTime;

use reqwest::header::HeaderMap;

use crate::bos::error::code_for_status;
use crate::bos::types::*;
use crate::bos::wire;
use crate::bos::{BosError, BosResult};

/// Header carrying the request id.
pub const REQUEST_ID: &str = "x-bce-request-id";

/// A header as text, trimmed; `None` when absent or not text.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

/// The request id of an answer (empty when absent).
pub fn request_id(headers: &HeaderMap) -> String {
    header(headers, REQUEST_ID).unwrap_or_default()
}

/// An ETag without quotes.
pub fn strip_etag(etag: &str) -> String {
    etag.trim().trim_matches('"').to_string()
}

/// The error an error answer stands for. `not_found_code` is the code a bodiless 404
/// means for this request (NoSuchKey for objects, NoSuchBucket for buckets).
pub fn decode_error(status: u16, headers: &HeaderMap, body: &[u8], not_found_code: &str) -> BosError {
    let header_id = request_id(headers);
    if let Ok(parsed) = serde_json::from_slice::<wire::ErrorBody>(body) {
        if !parsed.code.is_empty() {
            let id = if parsed.request_id.is_empty() {
                header_id
            } else {
                parsed.request_id
            };
            return BosError::service(status, parsed.code, parsed.message, id);
        }
    }
    let code = if status == 404 {
        not_found_code
    } else {
        code_for_status(status)
    };
    let message = if body.is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("error")
            .to_string()
    } else {
        String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()
    };
    BosError::service(status, code, message, header_id)
}

/// An error in the body of a 200 answer (CopyObject and UploadPartCopy can fail after
/// the status went out). Reported as a 500 with the body's code, as the Go SDK does.
pub fn error_in_success_body(headers: &HeaderMap, body: &[u8]) -> Option<BosError> {
    let parsed: wire::ErrorBody = serde_json::from_slice(body).ok()?;
    if parsed.code.is_empty() {
        return None;
    }
    let id = if parsed.request_id.is_empty() {
        request_id(headers)
    } else {
        parsed.request_id
    };
    Some(BosError::service(500, parsed.code, parsed.message, id))
}

/// Parse a JSON answer body.
pub fn json<T: serde::de::DeserializeOwned>(what: &str, body: &[u8]) -> BosResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        BosError::InvalidResponse(format!(
            "{what}: cannot parse the answer body ({e}): {}",
            String::from_utf8_lossy(&body[..body.len().min(200)])
        ))
    })
}

fn time(what: &str, text: &str) -> BosResult<SystemTime> {
    parse_iso8601(text).ok_or_else(|| BosError::InvalidResponse(format!("{what}: bad time {text:?}")))
}

fn storage_class(text: &str) -> StorageClass {
    text.parse().unwrap_or_else(|e| {
        log::warn!("{e}; treating it as STANDARD");
        StorageClass::Standard
    })
}

fn number(headers: &HeaderMap, name: &str) -> BosResult<Option<u64>> {
    match header(headers, name) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| BosError::InvalidResponse(format!("header {name} is not a number: {v:?}"))),
    }
}

/// The total size of the object from `Content-Range: bytes a-b/total`.
pub fn content_range_total(headers: &HeaderMap) -> Option<u64> {
    header(headers, "content-range")?
        .rsplit('/')
        .next()?
        .trim()
        .parse()
        .ok()
}

/// Object metadata from the headers of a HEAD or GET answer. `size` is the
/// `Content-Length` (the caller fixes it for ranged answers).
pub fn object_meta(key: &str, headers: &HeaderMap) -> BosResult<ObjectMeta> {
    let mut meta = ObjectMeta::new(key);
    meta.size = number(headers, "content-length")?.unwrap_or(0);
    meta.etag = header(headers, "etag").map(|e| strip_etag(&e)).unwrap_or_default();
    meta.last_modified = header(headers, "last-modified")
        .and_then(|v| httpdate::parse_http_date(&v).ok())
        .unwrap_or(SystemTime::UNIX_EPOCH);
    meta.content_type = header(headers, "content-type");
    meta.storage_class = header(headers, "x-bce-storage-class")
        .map(|v| storage_class(&v))
        .unwrap_or_default();
    meta.object_type = match header(headers, "x-bce-object-type").as_deref() {
        Some(t) if t.eq_ignore_ascii_case("appendable") => ObjectType::Appendable,
        _ => ObjectType::Normal,
    };
    meta.next_append_offset = number(headers, "x-bce-next-append-offset")?;
    meta.content_md5 = header(headers, "content-md5");
    meta.cache_control = header(headers, "cache-control");
    meta.content_disposition = header(headers, "content-disposition");
    meta.content_encoding = header(headers, "content-encoding");
    meta.expires = header(headers, "expires");
    let mut user_meta = BTreeMap::new();
    for (name, value) in headers {
        if let Some(short) = name.as_str().strip_prefix(USER_META_PREFIX) {
            let value = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
            user_meta.insert(short.to_ascii_lowercase(), value);
        }
    }
    meta.user_meta = user_meta;
    Ok(meta)
}

/// The common prefixes of a listing answer, and where a truncated listing continues: the
/// marker the server sent, else after the page's last key or prefix (whichever sorts later).
fn prefixes_and_next(
    prefixes: Option<Vec<wire::PrefixEntry>>,
    is_truncated: bool,
    sent_marker: Option<String>,
    last_key: Option<&str>,
) -> (Vec<String>, Option<String>) {
    let prefixes: Vec<String> = prefixes.unwrap_or_default().into_iter().map(|p| p.prefix).collect();
    let next = if is_truncated {
        sent_marker.filter(|m| !m.is_empty()).or_else(|| {
            let last_key = last_key.map(str::to_string);
            std::cmp::max(last_key, prefixes.last().cloned())
        })
    } else {
        None
    };
    (prefixes, next)
}

/// A ListObjects answer as a page. A truncated page without `nextMarker` continues after
/// its last key or prefix.
pub fn list_page(body: &[u8]) -> BosResult<ListPage> {
    let r: wire::ListObjectsResponse = json("ListObjects", body)?;
    let mut contents = Vec::with_capacity(r.contents.len());
    for e in r.contents {
        contents.push(ListEntry {
            last_modified: time("ListObjects", &e.last_modified)?,
            etag: strip_etag(&e.e_tag),
            storage_class: storage_class(&e.storage_class),
            size: e.size,
            key: e.key,
        });
    }
    let last_key = contents.last().map(|e| e.key.as_str());
    let (common_prefixes, next_marker) = prefixes_and_next(r.common_prefixes, r.is_truncated, r.next_marker, last_key);
    Ok(ListPage {
        contents,
        common_prefixes,
        is_truncated: r.is_truncated,
        next_marker,
    })
}

/// A CopyObject / UploadPartCopy answer.
pub fn copy_result(headers: &HeaderMap, body: &[u8]) -> BosResult<CopyResult> {
    if let Some(err) = error_in_success_body(headers, body) {
        return Err(err);
    }
    let r: wire::CopyObjectResponse = json("CopyObject", body)?;
    Ok(CopyResult {
        etag: strip_etag(&r.e_tag),
        last_modified: time("CopyObject", &r.last_modified)?,
    })
}

/// A ListParts answer.
pub fn list_parts(body: &[u8]) -> BosResult<ListPartsPage> {
    let r: wire::ListPartsResponse = json("ListParts", body)?;
    let mut parts = Vec::with_capacity(r.parts.len());
    for p in r.parts {
        parts.push(PartInfo {
            part_number: p.part_number,
            etag: strip_etag(&p.e_tag),
            size: p.size,
            last_modified: time("ListParts", &p.last_modified)?,
        });
    }
    let next = if r.next_part_number_marker > 0 {
        r.next_part_number_marker
    } else {
        parts.last().map_or(r.part_number_marker, |p| p.part_number)
    };
    Ok(ListPartsPage {
        parts,
        is_truncated: r.is_truncated,
        next_part_number_marker: next,
        storage_class: storage_class(&r.storage_class),
    })
}

/// A ListMultipartUploads answer. A truncated page without `nextKeyMarker` continues
/// after its last key or prefix.
pub fn list_uploads(body: &[u8]) -> BosResult<ListUploadsPage> {
    let r: wire::ListMultipartUploadsResponse = json("ListMultipartUploads", body)?;
    let mut uploads = Vec::with_capacity(r.uploads.len());
    for u in r.uploads {
        uploads.push(UploadInfo {
            initiated: time("ListMultipartUploads", &u.initiated)?,
            storage_class: storage_class(&u.storage_class),
            key: u.key,
            upload_id: u.upload_id,
        });
    }
    let last_key = uploads.last().map(|u| u.key.as_str());
    let (common_prefixes, next_key_marker) =
        prefixes_and_next(r.common_prefixes, r.is_truncated, r.next_key_marker, last_key);
    Ok(ListUploadsPage {
        uploads,
        common_prefixes,
        is_truncated: r.is_truncated,
        next_key_marker,
    })
}

/// A ListBuckets answer.
pub fn list_buckets(body: &[u8]) -> BosResult<Vec<BucketInfo>> {
    let r: wire::ListBucketsResponse = json("ListBuckets", body)?;
    r.buckets
        .into_iter()
        .map(|b| {
            Ok(BucketInfo {
                creation_date: time("ListBuckets", &b.creation_date)?,
                name: b.name,
                location: b.location,
            })
        })
        .collect()
}

/// A DeleteMultipleObjects answer (empty when every key went).
pub fn delete_failures(body: &[u8]) -> BosResult<Vec<DeleteFailure>> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Vec::new());
    }
    let r: wire::DeleteMultipleResponse = json("DeleteMultipleObjects", body)?;
    Ok(r.errors
        .into_iter()
        .map(|e| DeleteFailure {
            key: e.key,
            code: e.code,
            message: e.message,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn errors_from_bodies_and_statuses() {
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("rid-1"));
        let e = decode_error(
            409,
            &h,
            br#"{"code":"OffsetIncorrect","message":"m","requestId":"r2"}"#,
            "NoSuchKey",
        );
        assert_eq!((e.status(), e.code()), (Some(409), Some("OffsetIncorrect")));
        let e = decode_error(404, &h, b"", "NoSuchBucket");
        assert_eq!(e.code(), Some("NoSuchBucket"));
        assert!(matches!(&e, BosError::Service { request_id, .. } if request_id == "rid-1"));
        let e = decode_error(503, &h, b"<html>busy</html>", "NoSuchKey");
        assert!(e.is_retryable());
        assert!(error_in_success_body(&h, br#"{"lastModified":"2016-05-12T09:14:32Z","eTag":"x"}"#).is_none());
        let e = copy_result(
            &h,
            br#"{"code":"InternalError","message":"copy failed","requestId":"r"}"#,
        )
        .unwrap_err();
        assert_eq!(e.code(), Some("InternalError"));
    }

    #[test]
    fn meta_from_headers() {
        let mut h = HeaderMap::new();
        for (n, v) in [
            ("content-length", "5"),
            ("etag", "\"abc\""),
            ("last-modified", "Wed, 06 Apr 2016 06:34:40 GMT"),
            ("x-bce-object-type", "Appendable"),
            ("x-bce-next-append-offset", "5"),
            ("x-bce-storage-class", "COLD"),
            ("x-bce-meta-color", " red "),
            ("content-range", "bytes 0-4/99"),
        ] {
            h.insert(n, HeaderValue::from_static(v));
        }
        let m = object_meta("k", &h).expect("meta");
        assert_eq!((m.size, m.etag.as_str()), (5, "abc"));
        assert_eq!(m.object_type, ObjectType::Appendable);
        assert_eq!(m.next_append_offset, Some(5));
        assert_eq!(m.storage_class, StorageClass::Cold);
        assert_eq!(m.user_meta.get("color").map(String::as_str), Some("red"));
        assert_eq!(content_range_total(&h), Some(99));
        assert_eq!(
            crate::bos::types::format_iso8601(m.last_modified),
            "2016-04-06T06:34:40Z"
        );
    }
}
