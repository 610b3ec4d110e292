//! What one writer is doing, readable without its lock: the counters a writer and its part
//! tasks update as they go (bytes and parts stored, bytes held in memory, whether an upload
//! is open, the last commit's ETag, the remembered failure), shared by `Arc` with whoever asks
//! ([`FileWriter::progress`](super::FileWriter::progress)). They are the writer's own state,
//! not a copy: the writer updates them at the moment it changes, so a status query never
//! waits for a write stuck in back-pressure or a commit waiting for its parts.
//!
//! The filesystem gauges of [`crate::metrics::FsMetrics`] follow from the same counters:
//! `bytes_buffered` moves with [`Progress::set_held`] and the in-flight part bodies
//! ([`InFlight`]), `uploads_in_flight` with [`Progress::set_uploading`]; dropping the last
//! reference gives back whatever is still counted, so the gauges return to 0 when writers go.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::metrics::FsMetrics;

/// Which pipeline a writer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriterKind {
    /// Stream writer: one PutObject or a multipart upload at commit.
    Stream,
    /// Append writer: AppendObject as it goes.
    Append,
}

/// A copy of a writer's counters at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The pipeline.
    pub kind: WriterKind,
    /// Logical size of the file.
    pub size: u64,
    /// Bytes this writer stored in BOS (parts finished, appends landed, the last PutObject).
    pub sent: u64,
    /// Parts of the open multipart upload that are stored.
    pub parts_done: u32,
    /// Parts of the open multipart upload started (stored or in flight).
    pub parts_started: u32,
    /// Bytes held in memory (tail window or append buffer, and part bodies in flight).
    pub held: u64,
    /// An upload is open (a multipart upload, a PutObject being sent, an append stream).
    pub uploading: bool,
    /// Written changes the next commit must still store.
    pub dirty: bool,
    /// ETag of the last object this writer stored.
    pub etag: Option<String>,
    /// The remembered failure.
    pub error: Option<String>,
}

/// Shared counters of one writer (cheap to clone).
#[derive(Debug, Clone)]
pub struct Progress(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    metrics: &'static FsMetrics,
    kind: Mutex<WriterKind>,
    size: AtomicU64,
    sent: AtomicU64,
    parts_done: AtomicU32,
    parts_started: AtomicU32,
    held: AtomicI64,
    in_flight: AtomicI64,
    uploading: AtomicBool,
    dirty: AtomicBool,
    text: Mutex<Texts>,
}

#[derive(Debug, Default)]
struct Texts {
    etag: Option<String>,
    error: Option<String>,
}

impl Progress {
    /// Counters of a new writer of `kind`, reporting to the process's gauges.
    pub fn new(kind: WriterKind) -> Self {
        Self::with_metrics(kind, &crate::metrics::global().fs)
    }

    /// Counters reporting to `metrics` (tests use their own).
    pub fn with_metrics(kind: WriterKind, metrics: &'static FsMetrics) -> Self {
        Progress(Arc::new(Inner {
            metrics,
            kind: Mutex::new(kind),
            size: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            parts_done: AtomicU32::new(0),
            parts_started: AtomicU32::new(0),
            held: AtomicI64::new(0),
            in_flight: AtomicI64::new(0),
            uploading: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            text: Mutex::new(Texts::default()),
        }))
    }

    fn texts(&self) -> MutexGuard<'_, Texts> {
        self.0.text.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer continues as another pipeline (an append writer turned stream writer).
    pub fn set_kind(&self, kind: WriterKind) {
        *self.0.kind.lock().unwrap_or_else(|p| p.into_inner()) = kind;
    }

    /// The logical size now.
    pub fn set_size(&self, size: u64) {
        self.0.size.store(size, Ordering::Relaxed);
    }

    /// Whether written changes wait for a commit.
    pub fn set_dirty(&self, dirty: bool) {
        self.0.dirty.store(dirty, Ordering::Relaxed);
    }

    /// `n` more bytes are stored in BOS.
    pub fn add_sent(&self, n: u64) {
        self.0.sent.fetch_add(n, Ordering::Relaxed);
    }

    /// A part was started (`+1`).
    pub fn part_started(&self) {
        self.0.parts_started.fetch_add(1, Ordering::Relaxed);
    }

    /// A part is stored, holding `bytes` of the file.
    pub fn part_done(&self, bytes: u64) {
        self.0.parts_done.fetch_add(1, Ordering::Relaxed);
        self.add_sent(bytes);
    }

    /// A new multipart upload starts: its part counters from zero.
    pub fn reset_parts(&self) {
        self.0.parts_done.store(0, Ordering::Relaxed);
        self.0.parts_started.store(0, Ordering::Relaxed);
    }

    /// Bytes the writer itself holds (tail window, append buffer) are now `n`.
    pub fn set_held(&self, n: usize) {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        let old = self.0.held.swap(n, Ordering::Relaxed);
        self.0.metrics.bytes_buffered.add(n - old);
    }

    /// Whether an upload is open; the gauge moves on each change.
    pub fn set_uploading(&self, on: bool) {
        let was = self.0.uploading.swap(on, Ordering::Relaxed);
        match (was, on) {
            (false, true) => self.0.metrics.uploads_in_flight.inc(),
            (true, false) => self.0.metrics.uploads_in_flight.dec(),
            _ => {}
        }
    }

    /// The writer stored an object with `etag` (and nothing waits).
    pub fn committed(&self, etag: &str) {
        self.texts().etag = Some(etag.to_string());
        self.set_dirty(false);
    }

    /// The writer failed (or was abandoned) for `reason`; it holds nothing any more.
    pub fn failed(&self, reason: &str) {
        {
            let mut texts = self.texts();
            if texts.error.is_none() {
                texts.error = Some(reason.to_string());
            }
        }
        self.set_held(0);
        self.set_uploading(false);
    }

    /// An AppendObject leaves with bytes whose oldest waited `lag`.
    pub fn observe_append_lag(&self, lag: Duration) {
        self.0.metrics.append_flush_lag.observe(lag);
    }

    /// A part body of `bytes` leaves for BOS; counted as buffered until the guard drops.
    pub fn in_flight(&self, bytes: usize) -> InFlight {
        let n = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.0.in_flight.fetch_add(n, Ordering::Relaxed);
        self.0.metrics.bytes_buffered.add(n);
        InFlight {
            progress: self.clone(),
            bytes: n,
        }
    }

    /// The counters now.
    pub fn snapshot(&self) -> Snapshot {
        let texts = self.texts();
        let held = self.0.held.load(Ordering::Relaxed) + self.0.in_flight.load(Ordering::Relaxed);
        Snapshot {
            kind: *self.0.kind.lock().unwrap_or_else(|p| p.into_inner()),
            size: self.0.size.load(Ordering::Relaxed),
            sent: self.0.sent.load(Ordering::Relaxed),
            parts_done: self.0.parts_done.load(Ordering::Relaxed),
            parts_started: self.0.parts_started.load(Ordering::Relaxed),
            held: u64::try_from(held).unwrap_or(0),
            uploading: self.0.uploading.load(Ordering::Relaxed),
            dirty: self.0.dirty.load(Ordering::Relaxed),
            etag: texts.etag.clone(),
            error: texts.error.clone(),
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Whatever is still counted leaves the gauges with the writer.
        self.metrics.bytes_buffered.add(-self.held.load(Ordering::Relaxed));
        if self.uploading.load(Ordering::Relaxed) {
            self.metrics.uploads_in_flight.dec();
        }
    }
}

/// A part body on its way to BOS: counted in `bytes_buffered` until dropped (the request
/// ended, or its task was cancelled).
#[derive(Debug)]
pub struct InFlight {
    progress: Progress,
    bytes: i64,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.progress.0.in_flight.fetch_sub(self.bytes, Ordering::Relaxed);
        self.progress.0.metrics.bytes_buffered.add(-self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics() -> &'static FsMetrics {
        Box::leak(Box::default())
    }

    #[test]
    fn gauges_follow_the_counters_and_return_to_zero_on_drop() {
        let m = metrics();
        let p = Progress::with_metrics(WriterKind::Stream, m);
        p.set_held(100);
        p.set_uploading(true);
        p.set_uploading(true);
        let part = p.in_flight(50);
        assert_eq!(m.bytes_buffered.get(), 150);
        assert_eq!(m.uploads_in_flight.get(), 1);
        assert_eq!(p.snapshot().held, 150);
        drop(part);
        p.set_held(10);
        assert_eq!(m.bytes_buffered.get(), 10);
        let kept = p.in_flight(7);
        drop(p);
        assert_eq!(m.bytes_buffered.get(), 17, "a part in flight keeps the counters alive");
        drop(kept);
        assert_eq!(m.bytes_buffered.get(), 0);
        assert_eq!(m.uploads_in_flight.get(), 0);
    }

    #[test]
    fn failure_is_remembered_once_and_releases_everything() {
        let m = metrics();
        let p = Progress::with_metrics(WriterKind::Append, m);
        p.set_held(5);
        p.set_uploading(true);
        p.failed("first");
        p.failed("second");
        let s = p.snapshot();
        assert_eq!(s.error.as_deref(), Some("first"));
        assert_eq!((m.bytes_buffered.get(), m.uploads_in_flight.get()), (0, 0));
    }
}
