//! BCE authentication v1 (`bce-auth-v1`): the signer shared by the client, which signs
//! requests, and by the local server, which verifies them.
//!
//! Everything here is a pure function of its inputs: no clock, no environment, no I/O.
//! The canonical forms follow the BOS protocol reference (sections 3.2–3.6) and are
//! checked byte for byte against signatures produced by the official SDK.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Default signing validity, as every official SDK uses.
pub const DEFAULT_EXPIRATION_SECONDS: u64 = 1800;

/// Percent-encode `input` the BCE way: RFC 3986 unreserved bytes stay literal, every
/// other byte becomes `%XX` with upper-case hex. With `keep_slash`, `/` stays literal too.
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(input.len() * 3 / 2);
    for &b in input.as_bytes() {
        let literal = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/');
        if literal {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[(b >> 4) as usize]));
            out.push(char::from(HEX_UPPER[(b & 0x0f) as usize]));
        }
    }
    out
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// The canonical URI of a decoded request path: `/` plus the path (without its leading
/// slash) encoded with slashes kept. An empty path is `/`.
pub fn canonical_uri(decoded_path: &str) -> String {
    let trimmed = decoded_path.strip_prefix('/').unwrap_or(decoded_path);
    format!("/{}", uri_encode(trimmed, true))
}

/// The canonical query string: every parameter but `authorization` as `name=value`
/// (both encoded, `/` included), sorted as whole strings, joined by `&`.
pub fn canonical_query<'a, I>(params: I) -> String
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut pairs: Vec<String> = params
        .into_iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("authorization"))
        .map(|(name, value)| format!("{}={}", uri_encode(name, false), uri_encode(value, false)))
        .collect();
    pairs.sort();
    pairs.join("&")
}

/// Whether a header belongs to the default signed set (used when the signed-header list
/// of an authorization string is empty).
pub fn is_default_signed_header(lower_name: &str) -> bool {
    matches!(lower_name, "host" | "content-length" | "content-type" | "content-md5") || lower_name.starts_with("x-bce-")
}

/// Canonical headers and the names that were signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanonicalHeaders {
    /// `name:value` lines, sorted as strings and joined by `\n`.
    pub text: String,
    /// Lower-case names of the headers that went into `text`, sorted.
    pub signed_names: Vec<String>,
}

/// Build the canonical header block. With `headers_to_sign` = `None` the default set is
/// used; otherwise exactly the listed (case-insensitive) names. Values are trimmed, and a
/// header whose trimmed value is empty is skipped.
pub fn canonical_headers<'a, I>(headers: I, headers_to_sign: Option<&[String]>) -> CanonicalHeaders
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let wanted: Option<Vec<String>> =
        headers_to_sign.map(|names| names.iter().map(|n| n.trim().to_ascii_lowercase()).collect());
    let mut lines = Vec::new();
    let mut names = Vec::new();
    for (name, value) in headers {
        let name = name.trim().to_ascii_lowercase();
        let selected = match &wanted {
            Some(list) => list.contains(&name),
            None => is_default_signed_header(&name),
        };
        let value = value.trim();
        if !selected || value.is_empty() {
            continue;
        }
        lines.push(format!("{}:{}", uri_encode(&name, false), uri_encode(value, false)));
        names.push(name);
    }
    lines.sort();
    names.sort();
    names.dedup();
    CanonicalHeaders {
        text: lines.join("\n"),
        signed_names: names,
    }
}

/// `YYYY-MM-DDThh:mm:ssZ` for a Unix timestamp (UTC), the form BCE signs.
pub fn format_timestamp(unix_seconds: i64) -> String {
    match chrono::DateTime::from_timestamp(unix_seconds, 0) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => "1970-01-01T00:00:00Z".to_string(),
    }
}

/// Parse `YYYY-MM-DDThh:mm:ssZ` into a Unix timestamp.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%SZ")
        .ok()
        .map(|t| t.and_utc().timestamp())
}

fn hmac_hex(key: &[u8], message: &str) -> String {
    // HMAC accepts keys of any length, so construction cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC-SHA256 takes keys of any length"),
    };
    mac.update(message.as_bytes());
    hex_lower(&mac.finalize().into_bytes())
}

/// Lower-case hex of `bytes`.
pub fn hex_lower(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(HEX[(b >> 4) as usize]));
        out.push(char::from(HEX[(b & 0x0f) as usize]));
    }
    out
}

/// Everything that is signed, in decoded form.
#[derive(Debug, Clone)]
pub struct SigningInput<'a> {
    /// Upper-case HTTP method.
    pub method: &'a str,
    /// Decoded request path as the server sees it (`/bucket/key` in path style).
    pub path: &'a str,
    /// Decoded query parameters; an empty value stands for a parameter without value.
    pub params: &'a [(String, String)],
    /// Request headers as sent.
    pub headers: &'a [(String, String)],
    /// `None` for the default set (signedHeaders printed empty), else the explicit list.
    pub headers_to_sign: Option<&'a [String]>,
    /// Signing time, Unix seconds.
    pub timestamp: i64,
    /// Validity in seconds from `timestamp`.
    pub expiration_seconds: u64,
}

/// The intermediate values of a signature, exposed for tests and server diagnostics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// `bce-auth-v1/{ak}/{timestamp}/{expiration}`.
    pub auth_string_prefix: String,
    /// Hex HMAC of the prefix under the secret key.
    pub signing_key: String,
    /// The canonical request that was signed.
    pub canonical_request: String,
    /// Hex HMAC of the canonical request under the signing key.
    pub signature: String,
    /// The complete `Authorization` value.
    pub authorization: String,
}

/// Sign `input` with the given access key id and secret.
pub fn sign(access_key_id: &str, secret_access_key: &str, input: &SigningInput<'_>) -> Signature {
    let auth_string_prefix = format!(
        "bce-auth-v1/{}/{}/{}",
        access_key_id,
        format_timestamp(input.timestamp),
        input.expiration_seconds
    );
    let signing_key = hmac_hex(secret_access_key.as_bytes(), &auth_string_prefix);
    let headers = canonical_headers(
        input.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        input.headers_to_sign,
    );
    let canonical_request = format!(
        "{}\n{}\n{}\n{}",
        input.method.to_ascii_uppercase(),
        canonical_uri(input.path),
        canonical_query(input.params.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        headers.text
    );
    let signature = hmac_hex(signing_key.as_bytes(), &canonical_request);
    let listed = match input.headers_to_sign {
        Some(_) => headers.signed_names.join(";"),
        None => String::new(),
    };
    let authorization = format!("{auth_string_prefix}/{listed}/{signature}");
    Signature {
        auth_string_prefix,
        signing_key,
        canonical_request,
        signature,
        authorization,
    }
}

/// A parsed `bce-auth-v1` authorization string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedAuthorization {
    /// Access key id.
    pub access_key_id: String,
    /// Signing time, Unix seconds.
    pub timestamp: i64,
    /// Validity in seconds.
    pub expiration_seconds: u64,
    /// Explicit signed header names; empty means the default set.
    pub signed_headers: Vec<String>,
    /// The 64-hex-digit signature.
    pub signature: String,
}

/// Parse an authorization string; `None` when it is not a well-formed `bce-auth-v1` string.
pub fn parse_authorization(value: &str) -> Option<ParsedAuthorization> {
    let parts: Vec<&str> = value.trim().split('/').collect();
    if parts.len() != 6 || parts[0] != "bce-auth-v1" || parts[1].is_empty() {
        return None;
    }
    let timestamp = parse_timestamp(parts[2])?;
    let expiration_seconds = parts[3].parse().ok()?;
    let signed_headers = if parts[4].is_empty() {
        Vec::new()
    } else {
        parts[4].split(';').map(|s| s.trim().to_ascii_lowercase()).collect()
    };
    let signature = parts[5].to_string();
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Some(ParsedAuthorization {
        access_key_id: parts[1].to_string(),
        timestamp,
        expiration_seconds,
        signed_headers,
        signature,
    })
}

/// Constant-time comparison of two signatures.
pub fn signatures_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_like_bce() {
        assert_eq!(uri_encode("a b*~/+", false), "a%20b%2A~%2F%2B");
        assert_eq!(uri_encode("a b/c", true), "a%20b/c");
        assert_eq!(uri_encode("测试", false), "%E6%B5%8B%E8%AF%95");
    }

    #[test]
    fn parses_authorization() {
        let s = "bce-auth-v1/ak/2015-04-27T08:23:49Z/1800//d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e";
        let p = parse_authorization(s).expect("well formed");
        assert_eq!(p.access_key_id, "ak");
        assert_eq!(p.timestamp, 1430123029);
        assert!(p.signed_headers.is_empty());
        assert!(parse_authorization("bce-auth-v1/ak/bad/1800//x").is_none());
    }
}
