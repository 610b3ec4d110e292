//! Request routing as a pure function: (method, decoded path, query, Host, copy-source
//! present) → which BOS operation is asked for, on which bucket and key. Supports path
//! style `/bucket/key` (with an optional `/v1` prefix) and virtual-hosted `<bucket>.<host>`.

use axum::http::Method;

/// A BOS operation with its bucket / key / upload coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BosOp {
    /// `GET /`.
    ListBuckets,
    /// `HEAD /bucket`.
    HeadBucket { bucket: String },
    /// `PUT /bucket`.
    PutBucket { bucket: String },
    /// `DELETE /bucket`.
    DeleteBucket { bucket: String },
    /// `GET /bucket?location`.
    GetBucketLocation { bucket: String },
    /// `GET /bucket`.
    ListObjects { bucket: String },
    /// `GET /bucket?uploads`.
    ListMultipartUploads { bucket: String },
    /// `POST /bucket?delete`.
    DeleteMultipleObjects { bucket: String },
    /// `PUT /bucket/key`.
    PutObject { bucket: String, key: String },
    /// `PUT /bucket/key` with `x-bce-copy-source`.
    CopyObject { bucket: String, key: String },
    /// `GET /bucket/key`.
    GetObject { bucket: String, key: String },
    /// `HEAD /bucket/key`.
    GetObjectMeta { bucket: String, key: String },
    /// `DELETE /bucket/key`.
    DeleteObject { bucket: String, key: String },
    /// `POST /bucket/key?append[&offset=n]`.
    AppendObject { bucket: String, key: String },
    /// `POST /bucket/key?uploads`.
    InitiateMultipartUpload { bucket: String, key: String },
    /// `PUT /bucket/key?partNumber=n&uploadId=id`.
    UploadPart { bucket: String, key: String },
    /// `PUT /bucket/key?partNumber=n&uploadId=id` with `x-bce-copy-source`.
    UploadPartCopy { bucket: String, key: String },
    /// `POST /bucket/key?uploadId=id`.
    CompleteMultipartUpload { bucket: String, key: String },
    /// `DELETE /bucket/key?uploadId=id`.
    AbortMultipartUpload { bucket: String, key: String },
    /// `GET /bucket/key?uploadId=id`.
    ListParts { bucket: String, key: String },
    /// Anything else (answered 501 NotImplemented or 405 MethodNotAllowed).
    Unsupported { reason: String },
}

impl BosOp {
    /// The object key the operation names, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            BosOp::PutObject { key, .. }
            | BosOp::CopyObject { key, .. }
            | BosOp::GetObject { key, .. }
            | BosOp::GetObjectMeta { key, .. }
            | BosOp::DeleteObject { key, .. }
            | BosOp::AppendObject { key, .. }
            | BosOp::InitiateMultipartUpload { key, .. }
            | BosOp::UploadPart { key, .. }
            | BosOp::UploadPartCopy { key, .. }
            | BosOp::CompleteMultipartUpload { key, .. }
            | BosOp::AbortMultipartUpload { key, .. }
            | BosOp::ListParts { key, .. } => Some(key),
            _ => None,
        }
    }

    /// BOS's name of the operation, as counted by `/_stats`.
    pub fn name(&self) -> &'static str {
        match self {
            BosOp::ListBuckets => "ListBuckets",
            BosOp::HeadBucket { .. } => "HeadBucket",
            BosOp::PutBucket { .. } => "PutBucket",
            BosOp::DeleteBucket { .. } => "DeleteBucket",
            BosOp::GetBucketLocation { .. } => "GetBucketLocation",
            BosOp::ListObjects { .. } => "ListObjects",
            BosOp::ListMultipartUploads { .. } => "ListMultipartUploads",
            BosOp::DeleteMultipleObjects { .. } => "DeleteMultipleObjects",
            BosOp::PutObject { .. } => "PutObject",
            BosOp::CopyObject { .. } => "CopyObject",
            BosOp::GetObject { .. } => "GetObject",
            BosOp::GetObjectMeta { .. } => "GetObjectMeta",
            BosOp::DeleteObject { .. } => "DeleteObject",
            BosOp::AppendObject { .. } => "AppendObject",
            BosOp::InitiateMultipartUpload { .. } => "InitiateMultipartUpload",
            BosOp::UploadPart { .. } => "UploadPart",
            BosOp::UploadPartCopy { .. } => "UploadPartCopy",
            BosOp::CompleteMultipartUpload { .. } => "CompleteMultipartUpload",
            BosOp::AbortMultipartUpload { .. } => "AbortMultipartUpload",
            BosOp::ListParts { .. } => "ListParts",
            BosOp::Unsupported { .. } => "Unsupported",
        }
    }
}

/// What routing looks at.
#[derive(Debug, Clone)]
pub struct RouteInput<'a> {
    /// HTTP method.
    pub method: &'a Method,
    /// Percent-decoded path, `//` preserved.
    pub path: &'a str,
    /// Decoded query parameters (a parameter without value has an empty value).
    pub query: &'a [(String, String)],
    /// `Host` header, if any.
    pub host: Option<&'a str>,
    /// Whether `x-bce-copy-source` was sent.
    pub copy_source: bool,
}

/// Whether the query has parameter `name`.
pub fn has_param(query: &[(String, String)], name: &str) -> bool {
    query.iter().any(|(k, _)| k == name)
}

/// The value of query parameter `name`.
pub fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The bucket named by a virtual-hosted `Host`, when its first label is an existing bucket
/// and the host is not an IP address or `localhost`.
fn virtual_host_bucket(host: Option<&str>, bucket_exists: &dyn Fn(&str) -> bool) -> Option<String> {
    let host = host?.trim();
    let name = if host.starts_with('[') {
        return None; // IPv6 literal
    } else {
        host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host)
    };
    if name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok() {
        return None;
    }
    let (first, rest) = name.split_once('.')?;
    if rest.is_empty() || !bucket_exists(first) {
        return None;
    }
    Some(first.to_string())
}

/// Route a request. `bucket_exists` answers whether a bucket of that name exists (used
/// only to recognise virtual-hosted requests).
pub fn route(input: &RouteInput<'_>, bucket_exists: &dyn Fn(&str) -> bool) -> BosOp {
    let (bucket, key) = match virtual_host_bucket(input.host, bucket_exists) {
        Some(bucket) => {
            let key = input.path.strip_prefix('/').unwrap_or(input.path);
            (Some(bucket), (!key.is_empty()).then(|| key.to_string()))
        }
        None => {
            let mut path = input.path;
            if path == "/v1" {
                path = "/";
            } else if let Some(rest) = path.strip_prefix("/v1/") {
                path = rest;
            }
            let path = path.strip_prefix('/').unwrap_or(path);
            match path.split_once('/') {
                Some((b, k)) => (Some(b.to_string()), (!k.is_empty()).then(|| k.to_string())),
                None => ((!path.is_empty()).then(|| path.to_string()), None),
            }
        }
    };
    let q = |name: &str| has_param(input.query, name);
    let m = input.method;
    let unsupported = |what: &str| BosOp::Unsupported {
        reason: format!("{what} is not supported by this server"),
    };
    let Some(bucket) = bucket.filter(|b| !b.is_empty()) else {
        return if *m == Method::GET {
            BosOp::ListBuckets
        } else {
            unsupported(&format!("{m} on the service"))
        };
    };
    match key {
        None => match *m {
            Method::HEAD => BosOp::HeadBucket { bucket },
            Method::PUT if input.query.is_empty() => BosOp::PutBucket { bucket },
            Method::DELETE if input.query.is_empty() => BosOp::DeleteBucket { bucket },
            Method::GET if q("location") => BosOp::GetBucketLocation { bucket },
            Method::GET if q("uploads") => BosOp::ListMultipartUploads { bucket },
            Method::GET if !bucket_subresource(input.query) => BosOp::ListObjects { bucket },
            Method::POST if q("delete") => BosOp::DeleteMultipleObjects { bucket },
            _ => unsupported(&format!("{m} on a bucket with this query")),
        },
        Some(key) => match *m {
            Method::PUT if q("partNumber") || q("uploadId") => {
                if input.copy_source {
                    BosOp::UploadPartCopy { bucket, key }
                } else {
                    BosOp::UploadPart { bucket, key }
                }
            }
            Method::PUT if object_subresource(input.query) => unsupported("this object sub-resource"),
            Method::PUT if input.copy_source => BosOp::CopyObject { bucket, key },
            Method::PUT => BosOp::PutObject { bucket, key },
            Method::GET if q("uploadId") => BosOp::ListParts { bucket, key },
            Method::GET if object_subresource(input.query) => unsupported("this object sub-resource"),
            Method::GET => BosOp::GetObject { bucket, key },
            Method::HEAD => BosOp::GetObjectMeta { bucket, key },
            Method::DELETE if q("uploadId") => BosOp::AbortMultipartUpload { bucket, key },
            Method::DELETE if object_subresource(input.query) => unsupported("this object sub-resource"),
            Method::DELETE => BosOp::DeleteObject { bucket, key },
            Method::POST if q("append") => BosOp::AppendObject { bucket, key },
            Method::POST if q("uploads") => BosOp::InitiateMultipartUpload { bucket, key },
            Method::POST if q("uploadId") => BosOp::CompleteMultipartUpload { bucket, key },
            _ => unsupported(&format!("{m} on an object with this query")),
        },
    }
}

/// Bucket sub-resources this server does not implement (acl, lifecycle, ...).
fn bucket_subresource(query: &[(String, String)]) -> bool {
    const KNOWN: &[&str] = &[
        "acl",
        "lifecycle",
        "cors",
        "logging",
        "replication",
        "encryption",
        "website",
        "versioning",
        "tagging",
        "quota",
        "storageClass",
        "trash",
        "inventory",
        "copyrightProtection",
        "objectlock",
        "notification",
    ];
    query.iter().any(|(k, _)| KNOWN.contains(&k.as_str()))
}

/// Object sub-resources this server does not implement.
fn object_subresource(query: &[(String, String)]) -> bool {
    const KNOWN: &[&str] = &["acl", "restore", "symlink", "tagging", "fetch", "select"];
    query.iter().any(|(k, _)| KNOWN.contains(&k.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(method: Method, path: &str, query: &[(&str, &str)], host: Option<&str>, copy: bool) -> BosOp {
        let query: Vec<(String, String)> = query.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let exists = |b: &str| b == "mybucket";
        route(
            &RouteInput {
                method: &method,
                path,
                query: &query,
                host,
                copy_source: copy,
            },
            &exists,
        )
    }

    fn obj(b: &str, k: &str) -> (String, String) {
        (b.to_string(), k.to_string())
    }

    #[test]
    fn service_and_bucket_level() {
        assert_eq!(
            r(Method::GET, "/", &[], Some("127.0.0.1:8080"), false),
            BosOp::ListBuckets
        );
        let b = "mybucket".to_string();
        assert_eq!(
            r(Method::HEAD, "/mybucket", &[], None, false),
            BosOp::HeadBucket { bucket: b.clone() }
        );
        assert_eq!(
            r(Method::PUT, "/mybucket/", &[], None, false),
            BosOp::PutBucket { bucket: b.clone() }
        );
        assert_eq!(
            r(Method::GET, "/mybucket", &[("location", "")], None, false),
            BosOp::GetBucketLocation { bucket: b.clone() }
        );
        assert_eq!(
            r(Method::GET, "/mybucket", &[("uploads", "")], None, false),
            BosOp::ListMultipartUploads { bucket: b.clone() }
        );
        assert_eq!(
            r(Method::GET, "/mybucket", &[("prefix", "a/")], None, false),
            BosOp::ListObjects { bucket: b.clone() }
        );
        assert_eq!(
            r(Method::POST, "/mybucket", &[("delete", "")], None, false),
            BosOp::DeleteMultipleObjects { bucket: b.clone() }
        );
        assert_eq!(
            r(Method::DELETE, "/mybucket", &[], None, false),
            BosOp::DeleteBucket { bucket: b }
        );
        assert!(matches!(
            r(Method::GET, "/mybucket", &[("acl", "")], None, false),
            BosOp::Unsupported { .. }
        ));
    }

    #[test]
    fn object_level_and_v1_prefix() {
        let (b, k) = obj("mybucket", "a//b/../c");
        assert_eq!(
            r(Method::PUT, "/mybucket/a//b/../c", &[], None, false),
            BosOp::PutObject {
                bucket: b.clone(),
                key: k.clone()
            }
        );
        assert_eq!(
            r(Method::PUT, "/v1/mybucket/a//b/../c", &[], None, false),
            BosOp::PutObject {
                bucket: b.clone(),
                key: k.clone()
            }
        );
        assert_eq!(
            r(Method::PUT, "/mybucket/a//b/../c", &[], None, true),
            BosOp::CopyObject {
                bucket: b.clone(),
                key: k.clone()
            }
        );
        assert_eq!(
            r(Method::HEAD, "/mybucket/a//b/../c", &[], None, false),
            BosOp::GetObjectMeta {
                bucket: b.clone(),
                key: k.clone()
            }
        );
        assert_eq!(
            r(
                Method::POST,
                "/mybucket/a//b/../c",
                &[("append", ""), ("offset", "3")],
                None,
                false
            ),
            BosOp::AppendObject {
                bucket: b.clone(),
                key: k.clone()
            }
        );
        assert_eq!(
            r(
                Method::PUT,
                "/mybucket/x",
                &[("partNumber", "1"), ("uploadId", "u")],
                None,
                false
            ),
            BosOp::UploadPart {
                bucket: b.clone(),
                key: "x".into()
            }
        );
        assert_eq!(
            r(
                Method::PUT,
                "/mybucket/x",
                &[("partNumber", "1"), ("uploadId", "u")],
                None,
                true
            ),
            BosOp::UploadPartCopy {
                bucket: b.clone(),
                key: "x".into()
            }
        );
        assert_eq!(
            r(Method::POST, "/mybucket/x", &[("uploads", "")], None, false),
            BosOp::InitiateMultipartUpload {
                bucket: b.clone(),
                key: "x".into()
            }
        );
        assert_eq!(
            r(Method::POST, "/mybucket/x", &[("uploadId", "u")], None, false),
            BosOp::CompleteMultipartUpload {
                bucket: b.clone(),
                key: "x".into()
            }
        );
        assert_eq!(
            r(Method::DELETE, "/mybucket/x", &[("uploadId", "u")], None, false),
            BosOp::AbortMultipartUpload {
                bucket: b.clone(),
                key: "x".into()
            }
        );
        assert_eq!(
            r(Method::GET, "/mybucket/x", &[("uploadId", "u")], None, false),
            BosOp::ListParts {
                bucket: b.clone(),
                key: "x".into()
            }
        );
        assert_eq!(
            r(Method::DELETE, "/mybucket/x", &[], None, false),
            BosOp::DeleteObject {
                bucket: b,
                key: "x".into()
            }
        );
    }

    #[test]
    fn virtual_host_only_for_existing_buckets_and_names() {
        assert_eq!(
            r(Method::GET, "/dir//file", &[], Some("mybucket.bj.bcebos.com"), false),
            BosOp::GetObject {
                bucket: "mybucket".into(),
                key: "dir//file".into()
            }
        );
        assert_eq!(
            r(Method::GET, "/", &[], Some("mybucket.localhost:9000"), false),
            BosOp::ListObjects {
                bucket: "mybucket".into()
            }
        );
        // Unknown first label: path style.
        assert_eq!(
            r(Method::GET, "/mybucket/k", &[], Some("bj.bcebos.com"), false),
            BosOp::GetObject {
                bucket: "mybucket".into(),
                key: "k".into()
            }
        );
        // IPs and localhost are never virtual hosts.
        assert_eq!(
            r(Method::GET, "/", &[], Some("localhost:80"), false),
            BosOp::ListBuckets
        );
        assert_eq!(r(Method::GET, "/", &[], Some("[::1]:80"), false), BosOp::ListBuckets);
    }
}
