//! Reading what a request asks for: object metadata headers, integrity digests, write
//! conditions, key rules, ranges and times — each validated the way BOS does.

use crate::bos::types::{key_problem, StorageClass, MAX_USER_METADATA_SIZE, TRAFFIC_LIMIT_RANGE, USER_META_PREFIX};
use crate::server::error::{ApiError, ApiResult};
use crate::server::store::blobs::Received;
use crate::server::store::records::{ObjectRecord, StoredMeta};
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use std::collections::BTreeMap;
use std::time::SystemTime;

/// Header `name` as trimmed text (non-UTF-8 bytes replaced).
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_string())
}

/// 400 InvalidObjectName unless `key` is a valid BOS key.
pub fn validate_key(key: &str) -> ApiResult<()> {
    if let Some(problem) = key_problem(key) {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "InvalidObjectName", problem));
    }
    if key.starts_with('/') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidObjectName",
            "key must not start with '/'",
        ));
    }
    Ok(())
}

/// 400 InvalidURI when `key` has a `.` or `..` path segment: BOS refuses both with 400
/// (the official SDK's key check says so, naming `InvalidURI` for `.`), for every
/// operation, before looking at the object.
pub fn check_key_segments(key: &str) -> ApiResult<()> {
    if key.split('/').any(|segment| segment == "." || segment == "..") {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidURI",
            "The object key must not have a '.' or '..' path segment.",
        ));
    }
    Ok(())
}

/// `Content-Length`, if sent and numeric.
pub fn content_length(headers: &HeaderMap) -> Option<u64> {
    header(headers, "content-length").and_then(|v| v.parse().ok())
}

/// 400 EntityTooLarge when the announced length passes `limit`.
pub fn check_length(headers: &HeaderMap, limit: u64) -> ApiResult<()> {
    match content_length(headers) {
        Some(n) if n > limit => Err(ApiError::entity_too_large()),
        _ => Ok(()),
    }
}

/// `x-bce-storage-class`, validated (absent = STANDARD).
pub fn storage_class(headers: &HeaderMap) -> ApiResult<Option<StorageClass>> {
    match header(headers, "x-bce-storage-class") {
        None => Ok(None),
        Some(v) => v
            .parse::<StorageClass>()
            .map(Some)
            .map_err(|_| ApiError::invalid_argument(format!("Invalid storage class {v:?}."))),
    }
}

/// `x-bce-meta-*`: names lower-cased, values trimmed, 2 KiB in total.
pub fn user_meta(headers: &HeaderMap) -> ApiResult<BTreeMap<String, String>> {
    let mut meta = BTreeMap::new();
    for (name, value) in headers {
        if let Some(rest) = name.as_str().strip_prefix(USER_META_PREFIX) {
            let value = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
            meta.insert(rest.to_ascii_lowercase(), value);
        }
    }
    if crate::bos::types::user_meta_size(&meta) > MAX_USER_METADATA_SIZE {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "MetadataTooLarge",
            "Your metadata headers exceed the maximum allowed metadata size.",
        ));
    }
    Ok(meta)
}

/// 400 InvalidArgument when `x-bce-traffic-limit` is present but not a number in
/// 819200..=838860800 (bit/s). Checked for every request before its handler runs.
pub fn check_traffic_limit(headers: &HeaderMap) -> ApiResult<()> {
    match header(headers, "x-bce-traffic-limit") {
        None => Ok(()),
        Some(v) => match v.parse::<u64>() {
            Ok(n) if TRAFFIC_LIMIT_RANGE.contains(&n) => Ok(()),
            _ => Err(ApiError::invalid_argument(format!(
                "x-bce-traffic-limit must be between {} and {} bit/s",
                TRAFFIC_LIMIT_RANGE.start(),
                TRAFFIC_LIMIT_RANGE.end()
            ))),
        },
    }
}

/// All metadata of a write request.
pub fn stored_meta(headers: &HeaderMap) -> ApiResult<StoredMeta> {
    Ok(StoredMeta {
        content_type: header(headers, "content-type").filter(|v| !v.is_empty()),
        cache_control: header(headers, "cache-control"),
        content_disposition: header(headers, "content-disposition"),
        content_encoding: header(headers, "content-encoding"),
        expires: header(headers, "expires"),
        storage_class: storage_class(headers)?.unwrap_or_default(),
        user_meta: user_meta(headers)?,
    })
}

/// Digests a client announced for the body.
#[derive(Debug, Clone, Default)]
pub struct ExpectedDigests {
    md5: Option<[u8; 16]>,
    sha256: Option<String>,
    crc32: Option<u32>,
}

fn invalid_digest(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "InvalidDigest",
        format!("The {what} you specified is not valid."),
    )
}

impl ExpectedDigests {
    /// Read `Content-MD5`, `x-bce-content-sha256` and `x-bce-content-crc32`.
    pub fn parse(headers: &HeaderMap) -> ApiResult<Self> {
        let md5 = match header(headers, "content-md5") {
            None => None,
            Some(v) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(v.as_bytes())
                    .map_err(|_| invalid_digest("Content-MD5"))?;
                Some(<[u8; 16]>::try_from(bytes.as_slice()).map_err(|_| invalid_digest("Content-MD5"))?)
            }
        };
        let sha256 = match header(headers, "x-bce-content-sha256") {
            None => None,
            Some(v) if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) => Some(v.to_ascii_lowercase()),
            Some(_) => return Err(invalid_digest("x-bce-content-sha256")),
        };
        let crc32 = match header(headers, "x-bce-content-crc32") {
            None => None,
            Some(v) => Some(v.parse::<u32>().map_err(|_| invalid_digest("x-bce-content-crc32"))?),
        };
        Ok(ExpectedDigests { md5, sha256, crc32 })
    }

    /// Whether SHA-256 must be computed.
    pub fn wants_sha256(&self) -> bool {
        self.sha256.is_some()
    }

    /// The announced CRC-32.
    pub fn crc32(&self) -> Option<u32> {
        self.crc32
    }

    /// 400 BadDigest unless the received body matches every announced digest.
    pub fn check(&self, got: &Received) -> ApiResult<()> {
        let md5_ok = self.md5.is_none_or(|m| m == got.md5);
        let sha_ok = match (&self.sha256, &got.sha256) {
            (Some(want), Some(have)) => *want == crate::bos::auth::hex_lower(have),
            (Some(_), None) => false,
            (None, _) => true,
        };
        let crc_ok = self.crc32.is_none_or(|c| c == got.crc32);
        if md5_ok && sha_ok && crc_ok {
            Ok(())
        } else {
            Err(ApiError::bad_digest())
        }
    }
}

fn strip_quotes(s: &str) -> &str {
    s.trim().trim_matches('"')
}

/// Conditions on the current object of a write.
#[derive(Debug, Clone, Default)]
pub struct WriteConditions {
    forbid_overwrite: bool,
    if_none_match: Option<String>,
    if_match: Option<String>,
}

impl WriteConditions {
    /// Read `x-bce-forbid-overwrite`, `If-None-Match` and `If-Match`.
    pub fn parse(headers: &HeaderMap) -> Self {
        WriteConditions {
            forbid_overwrite: header(headers, "x-bce-forbid-overwrite").is_some_and(|v| v.eq_ignore_ascii_case("true")),
            if_none_match: header(headers, "if-none-match").map(|v| strip_quotes(&v).to_string()),
            if_match: header(headers, "if-match").map(|v| strip_quotes(&v).to_string()),
        }
    }

    /// Whether any condition was given.
    pub fn any(&self) -> bool {
        self.forbid_overwrite || self.if_none_match.is_some() || self.if_match.is_some()
    }

    /// 409 FileAlreadyExists / 412 PreconditionFailed unless the conditions hold for `current`.
    pub fn check(&self, current: Option<&ObjectRecord>) -> ApiResult<()> {
        if self.forbid_overwrite && current.is_some() {
            return Err(ApiError::file_already_exists());
        }
        if let Some(inm) = &self.if_none_match {
            if let Some(cur) = current {
                if inm == "*" || inm.eq_ignore_ascii_case(&cur.etag) {
                    return Err(ApiError::precondition_failed());
                }
            }
        }
        if let Some(im) = &self.if_match {
            match current {
                None => return Err(ApiError::precondition_failed()),
                Some(cur) if im != "*" && !im.eq_ignore_ascii_case(&cur.etag) => {
                    return Err(ApiError::precondition_failed())
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// Parse an HTTP date.
pub fn parse_http_date(text: &str) -> Option<SystemTime> {
    httpdate::parse_http_date(text.trim()).ok()
}

/// Conditions on the source of a copy (`x-bce-copy-source-if-*`): 412 unless they hold.
pub fn check_copy_source(headers: &HeaderMap, source: &ObjectRecord) -> ApiResult<()> {
    let modified = crate::server::store::records::time_of(source.modified_ms / 1000 * 1000);
    if let Some(v) = header(headers, "x-bce-copy-source-if-match") {
        if !strip_quotes(&v).eq_ignore_ascii_case(&source.etag) {
            return Err(ApiError::precondition_failed());
        }
    }
    if let Some(v) = header(headers, "x-bce-copy-source-if-none-match") {
        if strip_quotes(&v).eq_ignore_ascii_case(&source.etag) {
            return Err(ApiError::precondition_failed());
        }
    }
    if let Some(t) = header(headers, "x-bce-copy-source-if-modified-since").and_then(|v| parse_http_date(&v)) {
        if modified <= t {
            return Err(ApiError::precondition_failed());
        }
    }
    if let Some(t) = header(headers, "x-bce-copy-source-if-unmodified-since").and_then(|v| parse_http_date(&v)) {
        if modified > t {
            return Err(ApiError::precondition_failed());
        }
    }
    Ok(())
}

/// A parsed `bytes=` range, inclusive, resolved against `size`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeAsk {
    /// No (usable) Range header: the whole object.
    Whole,
    /// Bytes `start..=end`.
    Part(u64, u64),
}

/// Resolve a `Range` header against an object of `size` bytes: 400 InvalidRange on an
/// empty object, 416 InvalidRange when unsatisfiable; a malformed header is ignored.
pub fn resolve_range(value: Option<&str>, size: u64) -> ApiResult<RangeAsk> {
    let Some(value) = value else {
        return Ok(RangeAsk::Whole);
    };
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(RangeAsk::Whole);
    };
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(RangeAsk::Whole);
    };
    let (a, b) = (a.trim(), b.trim());
    if spec.contains(',') {
        return Ok(RangeAsk::Whole);
    }
    if size == 0 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "InvalidRange",
            "A range cannot be read from an empty object.",
        ));
    }
    let unsatisfiable = || {
        ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "InvalidRange",
            "The requested range is not satisfiable.",
        )
    };
    let (start, end) = match (a.parse::<u64>().ok(), b.parse::<u64>().ok()) {
        (Some(s), Some(e)) if s <= e => (s, e.min(size - 1)),
        (Some(_), Some(_)) => return Ok(RangeAsk::Whole),
        (Some(s), None) if b.is_empty() => (s, size - 1),
        (None, Some(n)) if a.is_empty() => {
            if n == 0 {
                return Err(unsatisfiable());
            }
            (size.saturating_sub(n), size - 1)
        }
        _ => return Ok(RangeAsk::Whole),
    };
    if start >= size {
        return Err(unsatisfiable());
    }
    Ok(RangeAsk::Part(start, end))
}

/// Parse `x-bce-copy-source` (`/bucket/encoded-key[?versionId=..]`) into bucket and key.
pub fn parse_copy_source(value: &str) -> ApiResult<(String, String)> {
    let value = value.trim();
    let value = value.split_once('?').map(|(p, _)| p).unwrap_or(value);
    let decoded = percent_encoding::percent_decode_str(value)
        .decode_utf8()
        .map_err(|_| ApiError::invalid_argument("x-bce-copy-source is not valid UTF-8"))?;
    let path = decoded.strip_prefix('/').unwrap_or(&decoded);
    match path.split_once('/') {
        Some((b, k)) if !b.is_empty() && !k.is_empty() => Ok((b.to_string(), k.to_string())),
        _ => Err(ApiError::invalid_argument("x-bce-copy-source must be /bucket/key")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(resolve_range(None, 10), Ok(RangeAsk::Whole));
        assert_eq!(resolve_range(Some("bytes=2-4"), 10), Ok(RangeAsk::Part(2, 4)));
        assert_eq!(resolve_range(Some("bytes=2-"), 10), Ok(RangeAsk::Part(2, 9)));
        assert_eq!(resolve_range(Some("bytes=5-100"), 10), Ok(RangeAsk::Part(5, 9)));
        assert_eq!(resolve_range(Some("bytes=-3"), 10), Ok(RangeAsk::Part(7, 9)));
        assert_eq!(
            resolve_range(Some("bytes=10-"), 10).map_err(|e| e.status.as_u16()),
            Err(416)
        );
        assert_eq!(
            resolve_range(Some("bytes=0-0"), 0).map_err(|e| e.status.as_u16()),
            Err(400)
        );
        assert_eq!(resolve_range(Some("items=1-2"), 10), Ok(RangeAsk::Whole));
    }

    #[test]
    fn copy_source() {
        assert_eq!(
            parse_copy_source("/b/dir/a%20b%2Bc").expect("ok"),
            ("b".to_string(), "dir/a b+c".to_string())
        );
        assert_eq!(
            parse_copy_source("/b/k?versionId=1").expect("ok"),
            ("b".to_string(), "k".to_string())
        );
        assert!(parse_copy_source("/b").is_err());
    }

    #[test]
    fn meta_rules() {
        let mut h = HeaderMap::new();
        h.insert("x-bce-meta-Foo", " bar 3 ".parse().expect("value"));
        assert_eq!(user_meta(&h).expect("ok").get("foo").map(String::as_str), Some("bar 3"));
        h.insert("x-bce-meta-big", "x".repeat(2100).parse().expect("value"));
        assert_eq!(user_meta(&h).map_err(|e| e.code), Err("MetadataTooLarge"));
        let mut h = HeaderMap::new();
        h.insert("x-bce-storage-class", "FROZEN".parse().expect("value"));
        assert_eq!(storage_class(&h).map_err(|e| e.code), Err("InvalidArgument"));
        let mut h = HeaderMap::new();
        h.insert("x-bce-traffic-limit", "100".parse().expect("value"));
        assert!(check_traffic_limit(&h).is_err());
        h.insert("x-bce-traffic-limit", "819200".parse().expect("value"));
        assert!(check_traffic_limit(&h).is_ok());
    }
}
