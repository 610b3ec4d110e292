//! Value types of the BOS API shared by the client, the in-memory twin, the local server
//! and the filesystem: object metadata, request options and operation results.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

/// Largest object a single PutObject or a single AppendObject call may carry (5 GiB).
pub const MAX_PUT_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest Appendable object this product writes (the seed page's 5 GiB limit).
pub const MAX_APPENDABLE_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Largest single part.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * 1024 * 1024;
/// Smallest non-last part the seed page allows (5 MiB).
pub const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;
/// Highest part number.
pub const MAX_PART_NUMBER: u32 = 10_000;
/// Longest object key in bytes.
pub const MAX_KEY_LENGTH: usize = 1023;
/// Total size allowed for user metadata (`x-bce-meta-` + name + value, summed).
pub const MAX_USER_METADATA_SIZE: usize = 2048;
/// Largest page of any listing.
pub const MAX_LIST_KEYS: u32 = 1000;
/// Bounds of `x-bce-traffic-limit`, bit/s.
pub const TRAFFIC_LIMIT_RANGE: std::ops::RangeInclusive<u64> = 819_200..=838_860_800;
/// Prefix of user metadata headers.
pub const USER_META_PREFIX: &str = "x-bce-meta-";

/// BOS storage classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum StorageClass {
    /// `STANDARD` (the default).
    #[default]
    #[serde(rename = "STANDARD")]
    Standard,
    /// `STANDARD_IA`, infrequent access.
    #[serde(rename = "STANDARD_IA")]
    StandardIa,
    /// `COLD`.
    #[serde(rename = "COLD")]
    Cold,
    /// `ARCHIVE`: cannot be appended to.
    #[serde(rename = "ARCHIVE")]
    Archive,
    /// `MAZ_STANDARD` (multi-AZ buckets).
    #[serde(rename = "MAZ_STANDARD")]
    MazStandard,
    /// `MAZ_STANDARD_IA`.
    #[serde(rename = "MAZ_STANDARD_IA")]
    MazStandardIa,
    /// `MAZ_COLD`.
    #[serde(rename = "MAZ_COLD")]
    MazCold,
}

impl StorageClass {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            StorageClass::Standard => "STANDARD",
            StorageClass::StandardIa => "STANDARD_IA",
            StorageClass::Cold => "COLD",
            StorageClass::Archive => "ARCHIVE",
            StorageClass::MazStandard => "MAZ_STANDARD",
            StorageClass::MazStandardIa => "MAZ_STANDARD_IA",
            StorageClass::MazCold => "MAZ_COLD",
        }
    }
}

impl fmt::Display for StorageClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for StorageClass {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.trim().to_ascii_uppercase().as_str() {
            "STANDARD" | "" => StorageClass::Standard,
            "STANDARD_IA" => StorageClass::StandardIa,
            "COLD" => StorageClass::Cold,
            "ARCHIVE" => StorageClass::Archive,
            "MAZ_STANDARD" => StorageClass::MazStandard,
            "MAZ_STANDARD_IA" => StorageClass::MazStandardIa,
            "MAZ_COLD" => StorageClass::MazCold,
            other => return Err(format!("invalid storage class {other:?}")),
        })
    }
}

/// How an object was written, which decides whether it can be appended to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub enum ObjectType {
    /// Written by PutObject, CopyObject or multipart upload.
    #[default]
    Normal,
    /// Written by AppendObject; `x-bce-object-type: Appendable`.
    Appendable,
}

/// Metadata of one object, as HeadObject / GetObject report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    /// Object key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last modification time.
    pub last_modified: SystemTime,
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// Storage class (absent on the wire means STANDARD).
    pub storage_class: StorageClass,
    /// Normal or Appendable.
    pub object_type: ObjectType,
    /// `x-bce-next-append-offset`, for Appendable objects.
    pub next_append_offset: Option<u64>,
    /// User metadata, names lower-case without the `x-bce-meta-` prefix.
    pub user_meta: BTreeMap<String, String>,
    /// `Content-MD5`, when the server reports one.
    pub content_md5: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Expires`.
    pub expires: Option<String>,
}

impl ObjectMeta {
    /// A blank record for `key`, for builders and tests.
    pub fn new(key: impl Into<String>) -> Self {
        ObjectMeta {
            key: key.into(),
            size: 0,
            etag: String::new(),
            last_modified: SystemTime::UNIX_EPOCH,
            content_type: None,
            storage_class: StorageClass::Standard,
            object_type: ObjectType::Normal,
            next_append_offset: None,
            user_meta: BTreeMap::new(),
            content_md5: None,
            cache_control: None,
            content_disposition: None,
            content_encoding: None,
            expires: None,
        }
    }
}

/// Optional headers of a write (PutObject, AppendObject, InitiateMultipartUpload, and
/// CopyObject with the `replace` directive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `x-bce-storage-class`.
    pub storage_class: Option<StorageClass>,
    /// `x-bce-meta-*`, names without the prefix.
    pub user_meta: BTreeMap<String, String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Expires`.
    pub expires: Option<String>,
    /// `x-bce-traffic-limit`, bit/s (validated to [`TRAFFIC_LIMIT_RANGE`]).
    pub traffic_limit: Option<u64>,
    /// `x-bce-forbid-overwrite: true`: fail with FileAlreadyExists if the key exists.
    pub forbid_overwrite: bool,
    /// `If-None-Match: *`: fail with PreconditionFailed if the key exists.
    pub if_none_match_any: bool,
    /// `If-Match`: write only if the current ETag equals this.
    pub if_match: Option<String>,
}

/// The size user metadata takes against the 2 KiB limit.
pub fn user_meta_size(meta: &BTreeMap<String, String>) -> usize {
    meta.iter()
        .map(|(k, v)| USER_META_PREFIX.len() + k.len() + v.len())
        .sum()
}

/// Result of PutObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// ETag of the new object.
    pub etag: String,
}

/// Result of AppendObject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendResult {
    /// Offset for the next append: the object's new length.
    pub next_offset: u64,
    /// ETag reported by the server.
    pub etag: String,
}

/// A byte range of a GET: `start..=end`, or `start..` to the end when `end` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    /// First byte.
    pub start: u64,
    /// Last byte, inclusive.
    pub end: Option<u64>,
}

/// Result of GetObject: the metadata and the (possibly ranged) bytes.
#[derive(Debug, Clone)]
pub struct GetResult {
    /// Metadata of the whole object (`size` is the whole object's size).
    pub meta: ObjectMeta,
    /// The bytes returned.
    pub body: bytes::Bytes,
}

/// Parameters of ListObjects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys by this character (at most one), usually `/`.
    pub delimiter: Option<String>,
    /// Only keys after this.
    pub marker: Option<String>,
    /// Page size, capped at 1000.
    pub max_keys: Option<u32>,
}

/// One object of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListEntry {
    /// Key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// ETag without quotes.
    pub etag: String,
    /// Last modification time.
    pub last_modified: SystemTime,
    /// Storage class.
    pub storage_class: StorageClass,
}

/// One page of ListObjects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    /// Objects in key order.
    pub contents: Vec<ListEntry>,
    /// Common prefixes (with the delimiter at the end), in order.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Marker for the next page, when truncated.
    pub next_marker: Option<String>,
}

/// Conditions on the source of a copy (`x-bce-copy-source-if-*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyConditions {
    /// Copy only if the source ETag equals this.
    pub if_match: Option<String>,
    /// Copy only if the source ETag differs from this.
    pub if_none_match: Option<String>,
    /// Copy only if the source was modified after this time.
    pub if_modified_since: Option<SystemTime>,
    /// Copy only if the source was not modified after this time.
    pub if_unmodified_since: Option<SystemTime>,
}

/// How CopyObject treats metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum MetadataDirective {
    /// Take Content-Type and user metadata from the source.
    #[default]
    Copy,
    /// Take them from these options.
    Replace(PutOptions),
}

/// Options of CopyObject.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// `copy` or `replace`.
    pub directive: MetadataDirective,
    /// Source conditions.
    pub conditions: CopyConditions,
    /// Storage class of the copy.
    pub storage_class: Option<StorageClass>,
    /// `x-bce-traffic-limit`.
    pub traffic_limit: Option<u64>,
}

/// Result of CopyObject and UploadPartCopy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyResult {
    /// ETag of the copy.
    pub etag: String,
    /// Modification time reported.
    pub last_modified: SystemTime,
}

/// One part named in CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompletedPart {
    /// Part number, 1..=10000.
    pub part_number: u32,
    /// ETag the part upload returned.
    pub e_tag: String,
}

/// Result of CompleteMultipartUpload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompleteResult {
    /// ETag of the object.
    pub etag: String,
    /// Location URL reported.
    pub location: String,
}

/// One uploaded part, as ListParts reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartInfo {
    /// Part number.
    pub part_number: u32,
    /// ETag.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    /// Upload time.
    pub last_modified: SystemTime,
}

/// One page of ListParts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPartsPage {
    /// Parts in ascending order.
    pub parts: Vec<PartInfo>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Marker for the next page.
    pub next_part_number_marker: u32,
    /// Storage class of the upload.
    pub storage_class: StorageClass,
}

/// Parameters of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploadsRequest {
    /// Only keys starting with this.
    pub prefix: String,
    /// Group keys by this character.
    pub delimiter: Option<String>,
    /// Only keys after this.
    pub key_marker: Option<String>,
    /// Page size, capped at 1000.
    pub max_uploads: Option<u32>,
}

/// One multipart upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadInfo {
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// When it started.
    pub initiated: SystemTime,
    /// Storage class.
    pub storage_class: StorageClass,
}

/// One page of ListMultipartUploads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploadsPage {
    /// Uploads in key order.
    pub uploads: Vec<UploadInfo>,
    /// Common prefixes when a delimiter was given.
    pub common_prefixes: Vec<String>,
    /// Whether more follow.
    pub is_truncated: bool,
    /// Marker for the next page.
    pub next_key_marker: Option<String>,
}

/// A key DeleteMultipleObjects could not delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteFailure {
    /// Key.
    pub key: String,
    /// BOS error code, e.g. NoSuchKey.
    pub code: String,
    /// Message.
    pub message: String,
}

/// A bucket of ListBuckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    /// Bucket name.
    pub name: String,
    /// Region.
    pub location: String,
    /// Creation time.
    pub creation_date: SystemTime,
}

/// Why a key is not a valid BOS object key, or `None` when it is.
pub fn key_problem(key: &str) -> Option<&'static str> {
    if key.is_empty() {
        Some("key is empty")
    } else if key.len() > MAX_KEY_LENGTH {
        Some("key is longer than 1023 bytes")
    } else {
        None
    }
}

/// Whether `name` is a valid bucket name (`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`).
pub fn is_valid_bucket_name(name: &str) -> bool {
    let b = name.as_bytes();
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (3..=63).contains(&b.len()) && edge(b[0]) && edge(b[b.len() - 1]) && b.iter().all(|&c| edge(c) || c == b'-')
}

/// ISO-8601 `YYYY-MM-DDThh:mm:ssZ` of a time, as BOS JSON bodies write it.
pub fn format_iso8601(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    crate::bos::auth::format_timestamp(secs)
}

/// Parse a BOS JSON time (`2016-04-05T10:20:35Z`, fractional seconds tolerated).
pub fn parse_iso8601(text: &str) -> Option<SystemTime> {
    let t = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let secs = u64::try_from(t.timestamp()).ok()?;
    Some(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

/// A BOS operation, named as BOS names it (and as the local server's `GET /_stats` keys
/// its request counters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operation {
    /// HEAD of a bucket.
    HeadBucket,
    /// Create a bucket.
    PutBucket,
    /// Delete a bucket.
    DeleteBucket,
    /// List buckets.
    ListBuckets,
    /// `GET /?location`.
    GetBucketLocation,
    /// PUT of an object.
    PutObject,
    /// GET of an object.
    GetObject,
    /// HEAD of an object.
    GetObjectMeta,
    /// DELETE of an object.
    DeleteObject,
    /// `POST /?delete`.
    DeleteMultipleObjects,
    /// List objects.
    ListObjects,
    /// PUT with `x-bce-copy-source`.
    CopyObject,
    /// `POST /key?append`.
    AppendObject,
    /// `POST /key?uploads`.
    InitiateMultipartUpload,
    /// PUT of a part.
    UploadPart,
    /// PUT of a part with `x-bce-copy-source`.
    UploadPartCopy,
    /// `POST /key?uploadId=`.
    CompleteMultipartUpload,
    /// `DELETE /key?uploadId=`.
    AbortMultipartUpload,
    /// `GET /key?uploadId=`.
    ListParts,
    /// `GET /?uploads`.
    ListMultipartUploads,
}

impl Operation {
    /// Every operation.
    pub const ALL: [Operation; 20] = [
        Operation::HeadBucket,
        Operation::PutBucket,
        Operation::DeleteBucket,
        Operation::ListBuckets,
        Operation::GetBucketLocation,
        Operation::PutObject,
        Operation::GetObject,
        Operation::GetObjectMeta,
        Operation::DeleteObject,
        Operation::DeleteMultipleObjects,
        Operation::ListObjects,
        Operation::CopyObject,
        Operation::AppendObject,
        Operation::InitiateMultipartUpload,
        Operation::UploadPart,
        Operation::UploadPartCopy,
        Operation::CompleteMultipartUpload,
        Operation::AbortMultipartUpload,
        Operation::ListParts,
        Operation::ListMultipartUploads,
    ];

    /// BOS's name of the operation.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::HeadBucket => "HeadBucket",
            Operation::PutBucket => "PutBucket",
            Operation::DeleteBucket => "DeleteBucket",
            Operation::ListBuckets => "ListBuckets",
            Operation::GetBucketLocation => "GetBucketLocation",
            Operation::PutObject => "PutObject",
            Operation::GetObject => "GetObject",
            Operation::GetObjectMeta => "GetObjectMeta",
            Operation::DeleteObject => "DeleteObject",
            Operation::DeleteMultipleObjects => "DeleteMultipleObjects",
            Operation::ListObjects => "ListObjects",
            Operation::CopyObject => "CopyObject",
            Operation::AppendObject => "AppendObject",
            Operation::InitiateMultipartUpload => "InitiateMultipartUpload",
            Operation::UploadPart => "UploadPart",
            Operation::UploadPartCopy => "UploadPartCopy",
            Operation::CompleteMultipartUpload => "CompleteMultipartUpload",
            Operation::AbortMultipartUpload => "AbortMultipartUpload",
            Operation::ListParts => "ListParts",
            Operation::ListMultipartUploads => "ListMultipartUploads",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Operation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .iter()
            .copied()
            .find(|op| op.as_str() == s)
            .ok_or_else(|| format!("unknown BOS operation {s:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names() {
        assert!(is_valid_bucket_name("my-bucket-1"));
        assert!(!is_valid_bucket_name("My"));
        assert!(!is_valid_bucket_name("-ab"));
        assert!(!is_valid_bucket_name("ab"));
    }

    #[test]
    fn iso_round_trip() {
        let t = parse_iso8601("2016-04-05T10:20:35Z").expect("parse");
        assert_eq!(format_iso8601(t), "2016-04-05T10:20:35Z");
    }
}
