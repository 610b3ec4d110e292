//! The ranged GETs of one reader: spawning them as tasks, keeping their results in file
//! order, checking each answer belongs to the version opened, and cancelling them.
//!
//! A [`ChunkQueue`] holds a contiguous run of chunks `start..end`, each a ranged GET in
//! flight or its bytes. Dropping the queue (or resetting it) aborts whatever is in flight,
//! so a closed file handle or a seek stops paying for bytes nobody will read. Each spawned
//! GET is timed on the reader's [`Clock`]; the queue keeps those times until the reader
//! hands them to the read-ahead policy.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::task::JoinHandle;

use super::ReadError;
use crate::bos::{BosApi, BosError, BosResult, ByteRange, GetResult};

/// Monotonic time since an arbitrary epoch: how a reader times its requests and its pace.
/// Tests give a clock they move by hand, so nothing depends on how fast the machine is.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> Duration + Send + Sync>);

impl Clock {
    /// The machine's monotonic clock.
    pub(crate) fn monotonic() -> Self {
        let epoch = Instant::now();
        Clock(Arc::new(move || epoch.elapsed()))
    }

    /// A clock reading `now()`.
    #[cfg(test)]
    pub(crate) fn from_fn(now: impl Fn() -> Duration + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    pub(crate) fn now(&self) -> Duration {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// A spawned GET's answer and how long it took.
type Timed = BosResult<(GetResult, Duration)>;

/// Issues ranged GETs of one object and counts the bytes they bring back.
#[derive(Debug)]
pub(crate) struct Fetcher {
    api: Arc<dyn BosApi>,
    bucket: Arc<str>,
    key: Arc<str>,
    bytes_fetched: Arc<AtomicU64>,
    clock: Clock,
}

impl Fetcher {
    pub(crate) fn new(api: Arc<dyn BosApi>, bucket: &str, key: &str, clock: Clock) -> Self {
        Fetcher {
            api,
            bucket: bucket.into(),
            key: key.into(),
            bytes_fetched: Arc::default(),
            clock,
        }
    }

    pub(crate) fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn key(&self) -> &str {
        &self.key
    }

    /// Bytes received so far, by every request including aborted-after-answer ones.
    pub(crate) fn bytes_fetched(&self) -> u64 {
        self.bytes_fetched.load(Ordering::Relaxed)
    }

    /// GET `range` (non-empty) now, in the caller's task.
    pub(crate) async fn fetch(&self, range: Range<u64>) -> BosResult<GetResult> {
        get_range(&*self.api, &self.bucket, &self.key, range, &self.bytes_fetched).await
    }

    /// GET `range` (non-empty) in a task of its own, timed from now to its last byte.
    pub(crate) fn spawn(&self, range: Range<u64>) -> JoinHandle<Timed> {
        let (api, bucket, key, counter, clock) = (
            self.api.clone(),
            self.bucket.clone(),
            self.key.clone(),
            self.bytes_fetched.clone(),
            self.clock.clone(),
        );
        let sent = clock.now();
        tokio::spawn(async move {
            let result = get_range(&*api, &bucket, &key, range, &counter).await?;
            Ok((result, clock.now().saturating_sub(sent)))
        })
    }
}

async fn get_range(
    api: &dyn BosApi,
    bucket: &str,
    key: &str,
    range: Range<u64>,
    counter: &AtomicU64,
) -> BosResult<GetResult> {
    let byte_range = ByteRange {
        start: range.start,
        end: Some(range.end - 1),
    };
    let result = api.get_object(bucket, key, Some(byte_range)).await?;
    counter.fetch_add(result.body.len() as u64, Ordering::Relaxed);
    Ok(result)
}

/// The version of the object a reader serves; answers of any other version are refused.
#[derive(Debug, Clone)]
pub(crate) struct Version {
    /// ETag at open; empty means unknown, and the first answer's ETag is adopted.
    pub etag: String,
    /// Size at open.
    pub size: u64,
}

impl Version {
    /// The body of `result`, the answer to a GET of `range`, if it belongs to this version.
    pub(crate) fn check(&mut self, key: &str, range: &Range<u64>, result: GetResult) -> Result<Bytes, ReadError> {
        let etag = result.meta.etag.trim_matches('"');
        if self.etag.is_empty() {
            self.etag = etag.to_string();
        }
        if etag != self.etag.trim_matches('"') || result.meta.size != self.size {
            log::debug!(
                "{key}: expected ETag {} and {} bytes, the answer has ETag {etag} and {} bytes",
                self.etag,
                self.size,
                result.meta.size
            );
            return Err(ReadError::Changed { key: key.to_string() });
        }
        if result.body.len() as u64 != range.end - range.start {
            return Err(BosError::InvalidResponse(format!(
                "GET of bytes {}..{} of {key} returned {} bytes",
                range.start,
                range.end,
                result.body.len()
            ))
            .into());
        }
        Ok(result.body)
    }
}

#[derive(Debug)]
enum ChunkState {
    InFlight(JoinHandle<Timed>),
    Ready(Bytes),
}

#[derive(Debug)]
struct Chunk {
    range: Range<u64>,
    state: ChunkState,
}

/// A contiguous run of chunks, fetched or in flight, in file order.
#[derive(Debug, Default)]
pub(crate) struct ChunkQueue {
    chunks: VecDeque<Chunk>,
    start: u64,
    end: u64,
    /// Times of the requests answered since [`ChunkQueue::take_timings`] last ran.
    timings: Vec<Duration>,
}

impl ChunkQueue {
    /// First byte held.
    pub(crate) fn start(&self) -> u64 {
        self.start
    }

    /// End (exclusive) of what is held or in flight.
    pub(crate) fn end(&self) -> u64 {
        self.end
    }

    /// Bytes held or in flight.
    pub(crate) fn held(&self) -> u64 {
        self.end - self.start
    }

    /// Whether `offset` is held or in flight.
    pub(crate) fn contains(&self, offset: u64) -> bool {
        (self.start..self.end).contains(&offset)
    }

    /// The times of the requests answered since the last call.
    pub(crate) fn take_timings(&mut self) -> Vec<Duration> {
        std::mem::take(&mut self.timings)
    }

    /// Requests still running.
    pub(crate) fn in_flight(&self) -> usize {
        self.chunks
            .iter()
            .filter(|c| matches!(&c.state, ChunkState::InFlight(h) if !h.is_finished()))
            .count()
    }

    /// Drop everything (aborting requests in flight) and continue at `offset`.
    pub(crate) fn reset_at(&mut self, offset: u64) {
        self.truncate_from(0);
        self.start = offset;
        self.end = offset;
    }

    /// Append the request for `range`, which must start at [`ChunkQueue::end`].
    pub(crate) fn push(&mut self, range: Range<u64>, handle: JoinHandle<Timed>) {
        debug_assert_eq!(range.start, self.end);
        if self.chunks.is_empty() {
            self.start = range.start;
        }
        self.end = range.end;
        self.chunks.push_back(Chunk {
            range,
            state: ChunkState::InFlight(handle),
        });
    }

    /// Drop the chunks that end at or before `offset` (the reader is past them).
    pub(crate) fn drop_before(&mut self, offset: u64) {
        while self.chunks.front().is_some_and(|c| c.range.end <= offset) {
            if let Some(chunk) = self.chunks.pop_front() {
                abort(chunk);
            }
        }
        self.start = self.chunks.front().map_or(self.end, |c| c.range.start);
    }

    /// Drop the chunk at `index` and every one after it.
    fn truncate_from(&mut self, index: usize) {
        if let Some(chunk) = self.chunks.get(index) {
            self.end = chunk.range.start;
        }
        while self.chunks.len() > index {
            if let Some(chunk) = self.chunks.pop_back() {
                abort(chunk);
            }
        }
        if self.chunks.is_empty() {
            self.start = self.end;
        }
    }

    /// The bytes `range` (held or in flight), waiting for the requests that carry them.
    /// On failure the chunk that failed and all after it are dropped, so a later read asks
    /// BOS again; chunks before it stay. Cancel-safe: dropping the future loses nothing.
    pub(crate) async fn read(
        &mut self,
        range: Range<u64>,
        version: &mut Version,
        key: &str,
    ) -> Result<Bytes, ReadError> {
        let mut parts: Vec<Bytes> = Vec::new();
        let mut index = self.chunks.partition_point(|c| c.range.end <= range.start);
        while let Some(chunk) = self.chunks.get_mut(index) {
            if chunk.range.start >= range.end {
                break;
            }
            let bytes = match resolve(chunk, version, key, &mut self.timings).await {
                Ok(bytes) => bytes,
                Err(error) => {
                    self.truncate_from(index);
                    return Err(error);
                }
            };
            let from = range.start.max(chunk.range.start) - chunk.range.start;
            let to = range.end.min(chunk.range.end) - chunk.range.start;
            parts.push(bytes.slice(from as usize..to as usize));
            index += 1;
        }
        Ok(match parts.len() {
            1 => parts.swap_remove(0),
            _ => parts.concat().into(),
        })
    }
}

/// The bytes of `chunk`, waiting for its request if needed.
async fn resolve(
    chunk: &mut Chunk,
    version: &mut Version,
    key: &str,
    timings: &mut Vec<Duration>,
) -> Result<Bytes, ReadError> {
    let handle = match &mut chunk.state {
        ChunkState::Ready(bytes) => return Ok(bytes.clone()),
        ChunkState::InFlight(handle) => handle,
    };
    let joined = handle.await;
    // From here on no await: the handle has given its output and must be replaced now.
    let result = match joined {
        Ok(Ok((result, elapsed))) => {
            timings.push(elapsed);
            result
        }
        Ok(Err(error)) => return Err(error.into()),
        Err(error) => {
            return Err(ReadError::Aborted {
                key: key.to_string(),
                message: error.to_string(),
            })
        }
    };
    let bytes = version.check(key, &chunk.range, result)?;
    chunk.state = ChunkState::Ready(bytes.clone());
    Ok(bytes)
}

fn abort(chunk: Chunk) {
    if let ChunkState::InFlight(handle) = chunk.state {
        handle.abort();
    }
}

impl Drop for ChunkQueue {
    fn drop(&mut self) {
        for chunk in self.chunks.drain(..) {
            abort(chunk);
        }
    }
}
