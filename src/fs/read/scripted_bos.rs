//! A BOS double for the read-path tests: it answers only GetObject, records the range of
//! every GET, and can fail, delay or hold back chosen requests, noticing those cancelled
//! before they answered.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::bos::*;

/// A BOS double that only answers GetObject, records each GET and can misbehave on request.
#[derive(Debug, Default)]
pub(super) struct ScriptedBos {
    pub(super) objects: Mutex<HashMap<String, (Bytes, String)>>,
    /// Range of every GET received, in order.
    pub(super) gets: Mutex<Vec<Range<u64>>>,
    pub(super) in_flight: AtomicUsize,
    pub(super) max_in_flight: AtomicUsize,
    /// GETs whose range contains this byte fail once (with a 500 after the client's retries).
    pub(super) fail_once_at: Mutex<Option<u64>>,
    /// The range of the GET that failed.
    pub(super) failed: Mutex<Vec<Range<u64>>>,
    /// GETs starting at or after this offset never answer (until cancelled).
    pub(super) hold_from: Mutex<Option<u64>>,
    pub(super) held_started: AtomicUsize,
    pub(super) cancelled: AtomicUsize,
    pub(super) delay: Mutex<Option<Duration>>,
}

/// Counts a GET as in flight; on drop before `finish`, counts it as cancelled.
struct InFlight<'a> {
    bos: &'a ScriptedBos,
    finished: AtomicBool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.bos.in_flight.fetch_sub(1, Ordering::SeqCst);
        if !self.finished.load(Ordering::SeqCst) {
            self.bos.cancelled.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl ScriptedBos {
    pub(super) fn with_object(key: &str, data: Bytes) -> Arc<Self> {
        let bos = Arc::new(ScriptedBos::default());
        bos.replace(key, data, "etag-1");
        bos
    }

    pub(super) fn replace(&self, key: &str, data: Bytes, etag: &str) {
        self.objects
            .lock()
            .expect("lock")
            .insert(key.to_string(), (data, etag.to_string()));
    }

    pub(super) fn gets(&self) -> Vec<Range<u64>> {
        self.gets.lock().expect("lock").clone()
    }

    pub(super) fn get_count(&self) -> usize {
        self.gets.lock().expect("lock").len()
    }
}

fn unsupported<T>() -> BosResult<T> {
    Err(BosError::InvalidArgument(
        "not supported by the read-path test double".into(),
    ))
}

#[async_trait]
impl BosApi for ScriptedBos {
    async fn get_object(&self, _bucket: &str, key: &str, range: Option<ByteRange>) -> BosResult<GetResult> {
        let (data, etag) = self
            .objects
            .lock()
            .expect("lock")
            .get(key)
            .cloned()
            .ok_or_else(|| BosError::service(404, "NoSuchKey", "no such key", "test"))?;
        let range = match range {
            Some(ByteRange { start, end: Some(end) }) => start..end + 1,
            Some(ByteRange { start, end: None }) => start..data.len() as u64,
            None => 0..data.len() as u64,
        };
        assert!(
            !data.is_empty() || range.is_empty(),
            "a Range was sent for an empty object"
        );
        self.gets.lock().expect("lock").push(range.clone());
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight {
            bos: self,
            finished: AtomicBool::new(false),
        };
        let delay = *self.delay.lock().expect("lock");
        if let Some(delay) = delay {
            tokio::time::sleep(delay).await;
        }
        let hold_from = *self.hold_from.lock().expect("lock");
        if hold_from.is_some_and(|from| range.start >= from) {
            self.held_started.fetch_add(1, Ordering::SeqCst);
            std::future::pending::<()>().await;
        }
        guard.finished.store(true, Ordering::SeqCst);
        {
            let mut fail = self.fail_once_at.lock().expect("lock");
            if fail.is_some_and(|at| range.contains(&at)) {
                *fail = None;
                self.failed.lock().expect("lock").push(range);
                return Err(BosError::service(500, "InternalError", "injected", "test"));
            }
        }
        let end = range.end.min(data.len() as u64);
        let mut meta = ObjectMeta::new(key);
        meta.size = data.len() as u64;
        meta.etag = etag;
        Ok(GetResult {
            meta,
            body: data.slice(range.start as usize..end as usize),
        })
    }

    async fn head_bucket(&self, _: &str) -> BosResult<()> {
        unsupported()
    }
    async fn put_bucket(&self, _: &str) -> BosResult<()> {
        unsupported()
    }
    async fn delete_bucket(&self, _: &str) -> BosResult<()> {
        unsupported()
    }
    async fn list_buckets(&self) -> BosResult<Vec<BucketInfo>> {
        unsupported()
    }
    async fn put_object(&self, _: &str, _: &str, _: Bytes, _: &PutOptions) -> BosResult<PutResult> {
        unsupported()
    }
    async fn head_object(&self, _: &str, _: &str) -> BosResult<ObjectMeta> {
        unsupported()
    }
    async fn delete_object(&self, _: &str, _: &str) -> BosResult<()> {
        unsupported()
    }
    async fn delete_multiple_objects(&self, _: &str, _: &[String]) -> BosResult<Vec<DeleteFailure>> {
        unsupported()
    }
    async fn list_objects(&self, _: &str, _: &ListRequest) -> BosResult<ListPage> {
        unsupported()
    }
    async fn copy_object(&self, _: &str, _: &str, _: &str, _: &str, _: &CopyOptions) -> BosResult<CopyResult> {
        unsupported()
    }
    async fn append_object(
        &self,
        _: &str,
        _: &str,
        _: Option<u64>,
        _: Bytes,
        _: &PutOptions,
    ) -> BosResult<AppendResult> {
        unsupported()
    }
    async fn initiate_multipart_upload(&self, _: &str, _: &str, _: &PutOptions) -> BosResult<String> {
        unsupported()
    }
    async fn upload_part(&self, _: &str, _: &str, _: &str, _: u32, _: Bytes) -> BosResult<String> {
        unsupported()
    }
    async fn upload_part_copy(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: u32,
        _: &str,
        _: &str,
        _: Option<(u64, u64)>,
        _: &CopyConditions,
    ) -> BosResult<CopyResult> {
        unsupported()
    }
    async fn complete_multipart_upload(
        &self,
        _: &str,
        _: &str,
        _: &str,
        _: &[CompletedPart],
        _: &PutOptions,
    ) -> BosResult<CompleteResult> {
        unsupported()
    }
    async fn abort_multipart_upload(&self, _: &str, _: &str, _: &str) -> BosResult<()> {
        unsupported()
    }
    async fn list_parts(&self, _: &str, _: &str, _: &str, _: Option<u32>, _: Option<u32>) -> BosResult<ListPartsPage> {
        unsupported()
    }
    async fn list_multipart_uploads(&self, _: &str, _: &ListUploadsRequest) -> BosResult<ListUploadsPage> {
        unsupported()
    }
}
