//! Records kept in the index: buckets, objects (as a list of blob segments), multipart
//! uploads and their parts. Stored as JSON values in redb.

use crate::bos::types::{ObjectType, StorageClass};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A `SystemTime` from epoch milliseconds.
pub fn time_of(ms: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms)
}

/// A bucket.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BucketRecord {
    /// Creation time, epoch ms.
    pub created_ms: u64,
}

/// Metadata given when an object is written and echoed on GET/HEAD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredMeta {
    /// `Content-Type`.
    pub content_type: Option<String>,
    /// `Cache-Control`.
    pub cache_control: Option<String>,
    /// `Content-Disposition`.
    pub content_disposition: Option<String>,
    /// `Content-Encoding`.
    pub content_encoding: Option<String>,
    /// `Expires`.
    pub expires: Option<String>,
    /// Storage class.
    pub storage_class: StorageClass,
    /// User metadata, names lower-case without the prefix.
    pub user_meta: BTreeMap<String, String>,
}

/// A piece of an object's content: the first `len` bytes of a blob file, or of a value of
/// the index's inline table (small objects, written with their record in one commit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Blob id (file name under `blobs/`, or key of the inline table).
    pub blob: String,
    /// Bytes of the blob that belong to the object.
    pub len: u64,
    /// The content is in the index (inline table), not in a file.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inline: bool,
}

/// An object.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ObjectRecord {
    /// Content, in order.
    pub segments: Vec<Segment>,
    /// Total size.
    pub size: u64,
    /// ETag (bare hex, or `-hex` for multipart).
    pub etag: String,
    /// Last modification, epoch ms.
    pub modified_ms: u64,
    /// Normal or Appendable.
    pub object_type: ObjectType,
    /// Metadata.
    pub meta: StoredMeta,
    /// Base64 MD5 of the whole content, when known.
    pub content_md5: Option<String>,
    /// CRC-32 (IEEE) of the whole content.
    pub crc32: u32,
    /// Appendable objects: the serialized MD5 state of the whole content (base64), so an
    /// append extends the whole-content MD5 with its own bytes only. Committed together
    /// with `size`, so it always matches the committed length. Absent for Normal objects
    /// and for appendable objects written before the state was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5_state: Option<String>,
}

impl ObjectRecord {
    /// Blob ids this object uses (files and inline values).
    pub fn blobs(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.blob.as_str())
    }

    /// Ids of the blob files this object uses.
    pub fn file_blobs(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter(|s| !s.inline).map(|s| s.blob.as_str())
    }

    /// Ids of the inline values this object uses.
    pub fn inline_blobs(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().filter(|s| s.inline).map(|s| s.blob.as_str())
    }

    /// Whether the content lives in the index.
    pub fn is_inline(&self) -> bool {
        self.segments.iter().any(|s| s.inline)
    }
}

/// A multipart upload in progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UploadRecord {
    /// Object key.
    pub key: String,
    /// Metadata for the final object.
    pub meta: StoredMeta,
    /// Start time, epoch ms.
    pub initiated_ms: u64,
}

/// An uploaded part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PartRecord {
    /// Blob holding the part.
    pub blob: String,
    /// Size.
    pub size: u64,
    /// Hex MD5.
    pub etag: String,
    /// CRC-32 of the part.
    pub crc32: u32,
    /// Upload time, epoch ms.
    pub modified_ms: u64,
}
