//! Checks made before a request is sent: what BOS would refuse, or what cannot even be
//! put on the wire (bad bucket names, empty keys, header values with line breaks,
//! oversized metadata, out-of-range traffic limits and part numbers). Shared by the HTTP
//! client and the in-memory twin so both refuse the same things the same way
//! ([`BosError::InvalidArgument`]).

use crate::bos::types::{
    is_valid_bucket_name, key_problem, user_meta_size, ByteRange, ListRequest, PutOptions, MAX_LIST_KEYS,
    MAX_PART_NUMBER, MAX_USER_METADATA_SIZE, TRAFFIC_LIMIT_RANGE,
};
use crate::bos::{BosError, BosResult};

fn invalid(message: impl Into<String>) -> BosError {
    BosError::InvalidArgument(message.into())
}

/// A bucket name BOS accepts (`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`).
pub fn bucket(name: &str) -> BosResult<()> {
    if is_valid_bucket_name(name) {
        Ok(())
    } else {
        Err(invalid(format!("invalid bucket name {name:?}")))
    }
}

/// A valid object key: 1..=1023 bytes, and no `.` or `..` path segment. BOS refuses
/// those segments (400), and URL handling would resolve them away before the request
/// left, so a key like `a/../b` could never reach the server as written.
pub fn key(key: &str) -> BosResult<()> {
    if let Some(problem) = key_problem(key) {
        return Err(invalid(problem));
    }
    if key.split('/').any(|segment| segment == "." || segment == "..") {
        return Err(invalid(format!(
            "key {key:?} has a '.' or '..' segment, which BOS refuses"
        )));
    }
    Ok(())
}

/// Bucket and key together.
pub fn object(bucket_name: &str, key_name: &str) -> BosResult<()> {
    bucket(bucket_name)?;
    key(key_name)
}

/// A header value that can travel: visible ASCII and spaces only (no line breaks, no
/// control characters, no raw non-ASCII bytes).
pub fn header_value(what: &str, value: &str) -> BosResult<()> {
    if value
        .bytes()
        .all(|b| b == b' ' || b == b'\t' || (0x21..=0x7e).contains(&b))
    {
        Ok(())
    } else {
        Err(invalid(format!(
            "{what} must be printable ASCII (no control characters or non-ASCII bytes)"
        )))
    }
}

/// A user metadata name: a non-empty HTTP token.
fn meta_name(name: &str) -> BosResult<()> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.is_empty() && name.bytes().all(token) {
        Ok(())
    } else {
        Err(invalid(format!("invalid user metadata name {name:?}")))
    }
}

/// A traffic limit within 819200..=838860800 bit/s.
pub fn traffic_limit(limit: Option<u64>) -> BosResult<()> {
    match limit {
        Some(l) if !TRAFFIC_LIMIT_RANGE.contains(&l) => Err(invalid(format!(
            "traffic limit {l} bit/s is outside {}..={}",
            TRAFFIC_LIMIT_RANGE.start(),
            TRAFFIC_LIMIT_RANGE.end()
        ))),
        _ => Ok(()),
    }
}

/// Options of a write: user metadata (≤ 2 KiB, unique case-insensitive names, sendable
/// values), header values, traffic limit.
pub fn put_options(options: &PutOptions) -> BosResult<()> {
    let size = user_meta_size(&options.user_meta);
    if size > MAX_USER_METADATA_SIZE {
        return Err(invalid(format!(
            "user metadata takes {size} bytes, more than the {MAX_USER_METADATA_SIZE} BOS allows"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (name, value) in &options.user_meta {
        meta_name(name)?;
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(invalid(format!(
                "user metadata name {name:?} given twice (names ignore case)"
            )));
        }
        header_value("user metadata value", value)?;
    }
    let texts = [
        ("Content-Type", &options.content_type),
        ("Cache-Control", &options.cache_control),
        ("Content-Disposition", &options.content_disposition),
        ("Content-Encoding", &options.content_encoding),
        ("Expires", &options.expires),
        ("If-Match", &options.if_match),
    ];
    for (what, value) in texts {
        if let Some(v) = value {
            header_value(what, v)?;
        }
    }
    traffic_limit(options.traffic_limit)
}

/// A body no larger than `limit` bytes.
pub fn body_size(what: &str, len: u64, limit: u64) -> BosResult<()> {
    if len > limit {
        Err(invalid(format!("{what} of {len} bytes exceeds the {limit}-byte limit")))
    } else {
        Ok(())
    }
}

/// A GetObject range whose end, when given, is not before its start.
pub fn byte_range(range: Option<ByteRange>) -> BosResult<()> {
    match range {
        Some(ByteRange { start, end: Some(end) }) if end < start => {
            Err(invalid(format!("range {start}-{end} ends before it starts")))
        }
        _ => Ok(()),
    }
}

/// An inclusive copy range `(first, last)` that does not end before it starts.
pub fn copy_range(range: Option<(u64, u64)>) -> BosResult<()> {
    match range {
        Some((first, last)) if last < first => Err(invalid(format!("copy range {first}-{last} ends before it starts"))),
        _ => Ok(()),
    }
}

/// A part number in 1..=10000.
pub fn part_number(n: u32) -> BosResult<()> {
    if (1..=MAX_PART_NUMBER).contains(&n) {
        Ok(())
    } else {
        Err(invalid(format!("part number {n} is outside 1..={MAX_PART_NUMBER}")))
    }
}

/// A page size in 1..=1000 when given.
pub fn page_size(what: &str, n: Option<u32>) -> BosResult<()> {
    match n {
        Some(n) if n == 0 || n > MAX_LIST_KEYS => Err(invalid(format!("{what} {n} is outside 1..={MAX_LIST_KEYS}"))),
        _ => Ok(()),
    }
}

/// A delimiter of at most one character.
pub fn delimiter(d: Option<&str>) -> BosResult<()> {
    match d {
        Some(d) if d.chars().count() > 1 => Err(invalid(format!("delimiter {d:?} is longer than one character"))),
        _ => Ok(()),
    }
}

/// A ListObjects request.
pub fn list_request(request: &ListRequest) -> BosResult<()> {
    page_size("maxKeys", request.max_keys)?;
    delimiter(request.delimiter.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_bos_refuses() {
        assert!(bucket("ok-bucket").is_ok());
        assert!(bucket("Bad_Bucket").is_err());
        assert!(key("").is_err());
        assert!(key(&"k".repeat(1024)).is_err());
        assert!(key(&"k".repeat(1023)).is_ok());
        assert!(key("a/../b").is_err() && key("./a").is_err() && key("..").is_err());
        assert!(key("a//b").is_ok() && key("...").is_ok() && key(".hidden/x..y").is_ok());
        let mut o = PutOptions::default();
        o.user_meta.insert("a".into(), "x".repeat(2048 - 12));
        assert!(put_options(&o).is_ok());
        o.user_meta.insert("b".into(), String::new());
        assert!(put_options(&o).is_err());
        let mut o = PutOptions::default();
        o.user_meta.insert("A".into(), "1".into());
        o.user_meta.insert("a".into(), "2".into());
        assert!(put_options(&o).is_err());
        let o = PutOptions {
            content_type: Some("text/plain\r\nx: y".into()),
            ..PutOptions::default()
        };
        assert!(put_options(&o).is_err());
        assert!(traffic_limit(Some(819_199)).is_err());
        assert!(traffic_limit(Some(819_200)).is_ok());
        assert!(traffic_limit(Some(838_860_801)).is_err());
        assert!(part_number(0).is_err() && part_number(10_001).is_err() && part_number(1).is_ok());
        assert!(page_size("maxKeys", Some(0)).is_err());
        assert!(delimiter(Some("//")).is_err());
    }
}
