//! JSON bodies of the BOS HTTP API, exactly as they travel, shared by the client (which
//! decodes answers) and the local server (which encodes them). Field names follow BOS.

use serde::{Deserialize, Serialize};

/// Error body: `{code, message, requestId}` (all three always present).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// BOS error code.
    #[serde(default)]
    pub code: String,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// Request id.
    #[serde(default)]
    pub request_id: String,
}

/// Owner block of listings.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// Owner id.
    #[serde(default)]
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
}

/// One object of ListObjects.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListObjectsEntry {
    /// Key.
    pub key: String,
    /// ISO-8601 time.
    pub last_modified: String,
    /// ETag, bare hex.
    #[serde(alias = "ETag", alias = "etag")]
    pub e_tag: String,
    /// Size.
    pub size: u64,
    /// Storage class.
    #[serde(default)]
    pub storage_class: String,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// A common prefix entry.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrefixEntry {
    /// The prefix, ending with the delimiter.
    pub prefix: String,
}

/// ListObjects answer.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListObjectsResponse {
    /// Bucket.
    #[serde(default)]
    pub name: String,
    /// Prefix echoed.
    #[serde(default)]
    pub prefix: String,
    /// Delimiter echoed (omitted when none was given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Marker echoed.
    #[serde(default)]
    pub marker: String,
    /// Page size used.
    #[serde(default)]
    pub max_keys: u32,
    /// Whether more follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Next marker, only when truncated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    /// Objects.
    #[serde(default)]
    pub contents: Vec<ListObjectsEntry>,
    /// Common prefixes, only with a delimiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_prefixes: Option<Vec<PrefixEntry>>,
}

/// InitiateMultipartUpload answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitiateMultipartResponse {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
}

/// CompleteMultipartUpload request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CompleteMultipartRequest {
    /// Parts in ascending order.
    pub parts: Vec<crate::bos::types::CompletedPart>,
}

/// CompleteMultipartUpload answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteMultipartResponse {
    /// Location URL.
    #[serde(default)]
    pub location: String,
    /// Bucket.
    #[serde(default)]
    pub bucket: String,
    /// Key.
    #[serde(default)]
    pub key: String,
    /// ETag of the object.
    #[serde(alias = "ETag", alias = "etag")]
    pub e_tag: String,
}

/// CopyObject / UploadPartCopy answer (a 200 may instead carry an [`ErrorBody`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyObjectResponse {
    /// ISO-8601 time.
    pub last_modified: String,
    /// ETag.
    #[serde(alias = "ETag", alias = "etag")]
    pub e_tag: String,
}

/// One part of ListParts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPartsEntry {
    /// Part number.
    pub part_number: u32,
    /// ISO-8601 time.
    pub last_modified: String,
    /// ETag.
    #[serde(alias = "ETag", alias = "etag")]
    pub e_tag: String,
    /// Size.
    pub size: u64,
}

/// ListParts answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListPartsResponse {
    /// Bucket.
    pub bucket: String,
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// ISO-8601 start time.
    pub initiated: String,
    /// Owner.
    #[serde(default)]
    pub owner: Owner,
    /// Storage class.
    #[serde(default)]
    pub storage_class: String,
    /// Marker echoed.
    #[serde(default)]
    pub part_number_marker: u32,
    /// Last part number returned.
    #[serde(default)]
    pub next_part_number_marker: u32,
    /// Page size.
    #[serde(default)]
    pub max_parts: u32,
    /// Whether more follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Parts, ascending.
    #[serde(default)]
    pub parts: Vec<ListPartsEntry>,
}

/// One upload of ListMultipartUploads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadEntry {
    /// Key.
    pub key: String,
    /// Upload id.
    pub upload_id: String,
    /// Owner.
    #[serde(default)]
    pub owner: Owner,
    /// ISO-8601 start time.
    pub initiated: String,
    /// Storage class.
    #[serde(default)]
    pub storage_class: String,
}

/// ListMultipartUploads answer.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListMultipartUploadsResponse {
    /// Bucket.
    #[serde(default)]
    pub bucket: String,
    /// Marker echoed.
    #[serde(default)]
    pub key_marker: String,
    /// Next marker (only with a delimiter and truncated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_key_marker: Option<String>,
    /// Page size.
    #[serde(default)]
    pub max_uploads: u32,
    /// Whether more follow.
    #[serde(default)]
    pub is_truncated: bool,
    /// Prefix echoed.
    #[serde(default)]
    pub prefix: String,
    /// Delimiter echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delimiter: Option<String>,
    /// Common prefixes, only with a delimiter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_prefixes: Option<Vec<PrefixEntry>>,
    /// Uploads.
    #[serde(default)]
    pub uploads: Vec<UploadEntry>,
}

/// One key of DeleteMultipleObjects.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteKey {
    /// Key.
    pub key: String,
}

/// DeleteMultipleObjects request body.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteMultipleRequest {
    /// Keys.
    pub objects: Vec<DeleteKey>,
}

/// A failed key of DeleteMultipleObjects.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteErrorEntry {
    /// Key.
    pub key: String,
    /// Code.
    pub code: String,
    /// Message.
    pub message: String,
}

/// DeleteMultipleObjects answer (empty body when every key was deleted).
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct DeleteMultipleResponse {
    /// Failures.
    #[serde(default)]
    pub errors: Vec<DeleteErrorEntry>,
}

/// One bucket of ListBuckets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketEntry {
    /// Name.
    pub name: String,
    /// Region.
    pub location: String,
    /// ISO-8601 creation time.
    pub creation_date: String,
}

/// ListBuckets answer.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct ListBucketsResponse {
    /// Owner.
    #[serde(default)]
    pub owner: Owner,
    /// Buckets.
    #[serde(default)]
    pub buckets: Vec<BucketEntry>,
}

/// GetBucketLocation answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BucketLocationResponse {
    /// Region.
    pub location_constraint: String,
}
