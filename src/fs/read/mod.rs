//! Read path of one open file: ranged GetObject requests with sequential read-ahead.
//!
//! SKELETON: every read is one ranged GET of exactly the asked range; read-ahead follows.

use std::sync::Arc;

use bytes::Bytes;

use crate::bos::{BosApi, BosError, ByteRange};

/// Tuning of the read path, shared by every reader of a mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadConfig {
    /// Size of the first read-ahead after a sequential read starts (or restarts after a seek).
    pub initial_window: usize,
    /// Largest read-ahead window (`--read-ahead`): how far ahead of the reader data is fetched.
    pub max_window: usize,
    /// Largest single ranged GET.
    pub request_size: usize,
    /// Ranged GETs of read-ahead a reader keeps in flight at once.
    pub max_requests_in_flight: usize,
}

impl Default for ReadConfig {
    fn default() -> Self {
        ReadConfig {
            initial_window: 1024 * 1024,
            max_window: 64 * 1024 * 1024,
            request_size: 8 * 1024 * 1024,
            max_requests_in_flight: 4,
        }
    }
}

/// Why a read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// BOS answered with an error or could not be reached (after the client's retries).
    #[error(transparent)]
    Bos(#[from] BosError),
    /// The object changed since the file was opened (ETag or size differ); its bytes must not be mixed.
    #[error("object {key} changed while it was open for reading")]
    Changed {
        /// Key of the object.
        key: String,
    },
    /// A background fetch ended without an answer (its task panicked or was cancelled).
    #[error("read-ahead of {key} ended without an answer: {message}")]
    Aborted {
        /// Key of the object.
        key: String,
        /// What the task runtime reported.
        message: String,
    },
}

/// The read state of one file handle opened for reading.
#[derive(Debug)]
pub struct FileReader {
    api: Arc<dyn BosApi>,
    bucket: String,
    key: String,
    size: u64,
    etag: String,
    #[allow(dead_code)]
    config: Arc<ReadConfig>,
    bytes_fetched: u64,
}

impl FileReader {
    /// A reader of `bucket/key`, whose `size` and `etag` are those known at open time.
    pub fn new(
        api: Arc<dyn BosApi>,
        bucket: String,
        key: String,
        size: u64,
        etag: String,
        config: Arc<ReadConfig>,
    ) -> Self {
        FileReader {
            api,
            bucket,
            key,
            size,
            etag,
            config,
            bytes_fetched: 0,
        }
    }

    /// Bytes at `offset`, at most `len` (fewer only at end of file; empty at or after it).
    pub async fn read(&mut self, offset: u64, len: u32) -> Result<Bytes, ReadError> {
        if offset >= self.size || len == 0 {
            return Ok(Bytes::new());
        }
        let end = self.size.min(offset + u64::from(len));
        let range = ByteRange {
            start: offset,
            end: Some(end - 1),
        };
        let result = self.api.get_object(&self.bucket, &self.key, Some(range)).await?;
        self.bytes_fetched += result.body.len() as u64;
        if result.meta.etag != self.etag || result.body.len() as u64 != end - offset {
            return Err(ReadError::Changed { key: self.key.clone() });
        }
        Ok(result.body)
    }

    /// Total bytes received from BOS by this reader so far.
    pub fn bytes_fetched(&self) -> u64 {
        self.bytes_fetched
    }
}
