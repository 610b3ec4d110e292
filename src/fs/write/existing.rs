//! The old object under a writer that keeps existing bytes (open without O_TRUNC, O_APPEND on a
//! large Normal object, or a write after a commit): which of its bytes are still part of the
//! file, and reading a window of them.
//!
//! Every read is checked against the ETag the writer started from, and every UploadPartCopy is
//! conditioned on it, so a file changed by someone else meanwhile fails the writer instead of
//! producing a mix of two versions. The old object itself is never modified: it is replaced only
//! by the PutObject or CompleteMultipartUpload that carries all of the new content.

use std::time::SystemTime;

use bytes::Bytes;

use crate::bos::{ByteRange, ObjectMeta};

use super::{Committed, Target, WriteError};

/// The object a writer started from.
#[derive(Debug, Clone)]
pub struct BaseObject {
    /// ETag of the version we read from and copy from.
    pub etag: String,
    /// Its size.
    pub size: u64,
    /// Its modification time.
    pub last_modified: SystemTime,
    /// How many of its leading bytes are still part of the file (less than `size` after a
    /// truncation).
    pub visible: u64,
}

impl BaseObject {
    /// The base for an object as HEAD (or a listing) described it.
    pub fn from_meta(meta: &ObjectMeta) -> Self {
        BaseObject {
            etag: meta.etag.clone(),
            size: meta.size,
            last_modified: meta.last_modified,
            visible: meta.size,
        }
    }

    /// The base for an object we just committed.
    pub fn from_committed(c: &Committed) -> Self {
        BaseObject {
            etag: c.etag.clone(),
            size: c.size,
            last_modified: c.last_modified,
            visible: c.size,
        }
    }

    /// The commit result describing this base unchanged.
    pub fn committed(&self) -> Committed {
        Committed {
            size: self.size,
            etag: self.etag.clone(),
            last_modified: self.last_modified,
        }
    }

    /// Whether `[start, end)` lies wholly in the visible old bytes.
    pub fn covers(&self, start: u64, end: u64) -> bool {
        end <= self.visible && start < end
    }

    /// Whether any visible old byte lies at or after `start` and before `end`.
    pub fn overlaps(&self, start: u64, end: u64) -> bool {
        start < self.visible && start < end
    }

    /// Forget old bytes at `len` and beyond (a truncation).
    pub fn truncate(&mut self, len: u64) {
        self.visible = self.visible.min(len);
    }

    /// Read the visible old bytes of `[start, end)` (ranged GetObject), failing if the object is
    /// no longer the version we started from.
    pub async fn read(&self, target: &Target, start: u64, end: u64) -> Result<Bytes, WriteError> {
        let end = end.min(self.visible);
        if start >= end {
            return Ok(Bytes::new());
        }
        let range = ByteRange {
            start,
            end: Some(end - 1),
        };
        let got = target.api.get_object(&target.bucket, &target.key, Some(range)).await?;
        if !same_etag(&got.meta.etag, &self.etag) {
            return Err(WriteError::Failed(format!(
                "{} was changed by someone else while open for writing (ETag {} → {})",
                target.key, self.etag, got.meta.etag
            )));
        }
        let want = (end - start) as usize;
        if got.body.len() != want {
            return Err(WriteError::Failed(format!(
                "reading {}: expected {want} bytes at {start}, got {}",
                target.key,
                got.body.len()
            )));
        }
        Ok(got.body)
    }
}

/// Whether two ETags name the same version (quotes and case ignored).
pub fn same_etag(a: &str, b: &str) -> bool {
    let norm = |e: &str| e.trim().trim_matches('"').to_ascii_lowercase();
    norm(a) == norm(b)
}
