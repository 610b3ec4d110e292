//! The append pipeline (`O_APPEND`): writes coalesced in memory and sent with AppendObject at
//! the tracked next-append offset.
//!
//! When bytes are sent: when the buffer reaches `append_buffer`, on fsync and commit, and from a
//! background timer task at most `append_flush_interval` after the first waiting byte arrived, so
//! a reader on another mount sees a logger's line within about that interval. One `write()` is
//! never split across two AppendObject requests (a line lands whole): the buffer is sent before a
//! write that would overflow it, and a write larger than the buffer goes out as one request. (On
//! Linux 6.6 and later the FUSE layer opens `O_APPEND` write handles with direct I/O, so the
//! kernel hands over each `write()` of up to `max_write` bytes as one request; see
//! `fuse::open_reply_flags`.)
//!
//! Where bytes go (`Origin`):
//! - a missing object is created by AppendObject without offset and with `x-bce-forbid-overwrite`;
//!   if someone else created it first (FileAlreadyExists / PreconditionFailed) we HEAD it and
//!   append at its end, so two writers creating one file keep both their lines;
//! - an Appendable object gets AppendObject at the offset the last answer (or HEAD) gave. On
//!   OffsetIncorrect another writer appended: HEAD for the new length and send the same bytes
//!   again there (bounded attempts). After a transport failure the append may have landed: HEAD,
//!   and if the object grew by at least our length, read those bytes back — ours means done,
//!   otherwise send again at the new end. No line lost, none doubled;
//! - a small Normal object is converted on the first send: its bytes are read and sent together
//!   with the new ones in one AppendObject without offset, which BOS applies atomically — the old
//!   object is only ever replaced by one that holds all of its bytes.
//!
//! The object cannot grow past [`MAX_APPENDABLE_OBJECT_SIZE`]; the write that would cross it is
//! refused with [`WriteError::TooLarge`]. The first failed send is remembered: later calls fail.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::{Mutex, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::bos::{ByteRange, ErrorKind, ObjectMeta, ObjectType, PutOptions, MAX_APPENDABLE_OBJECT_SIZE};

use super::progress::{Progress, WriterKind};
use super::{Committed, Target, WriteConfig, WriteError};

/// How many times one batch is re-sent after conflicts or ambiguous failures before giving up.
const MAX_SEND_ATTEMPTS: u32 = 16;

/// What is at the key, as far as this writer knows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// An Appendable object ending at `next_offset`.
    Appendable,
    /// Nothing: create it, refusing to overwrite one made meanwhile.
    Missing,
    /// A Normal object whose bytes move into a new Appendable object on the first send.
    Normal {
        /// ETag of the version read.
        etag: String,
        /// Its size.
        size: u64,
    },
    /// Replace whatever is there by a new Appendable object (after a truncation to 0).
    Replace,
}

/// State shared by the writer and its flush timer.
#[derive(Debug)]
struct AppendState {
    target: Target,
    /// Shared with [`AppendWriter::set_options`], which must not wait for a running flush.
    options: Arc<std::sync::Mutex<PutOptions>>,
    append_buffer: usize,
    rewrite_limit: u64,
    origin: Origin,
    next_offset: u64,
    pending: Vec<u8>,
    pending_since: Option<Instant>,
    failed: Option<String>,
    /// Bytes landed since the last commit: the object changed though nothing waits.
    landed_since_commit: bool,
    etag: String,
    last_modified: SystemTime,
    size: Arc<AtomicU64>,
    high_water: Arc<AtomicUsize>,
    progress: Progress,
}

/// The append pipeline of one file handle.
#[derive(Debug)]
pub struct AppendWriter {
    target: Target,
    config: Arc<WriteConfig>,
    state: Arc<Mutex<AppendState>>,
    size: Arc<AtomicU64>,
    high_water: Arc<AtomicUsize>,
    options: Arc<std::sync::Mutex<PutOptions>>,
    wake: Arc<Notify>,
    flusher: JoinHandle<()>,
}

impl AppendWriter {
    /// A writer appending to `existing` (or creating the object). Starts the flush timer task, so
    /// it must be called inside a tokio runtime. Sends nothing.
    pub(crate) fn new(
        target: Target,
        options: PutOptions,
        config: Arc<WriteConfig>,
        existing: Option<ObjectMeta>,
        progress: Progress,
    ) -> Self {
        let (origin, next_offset, etag, last_modified) = match &existing {
            None => (Origin::Missing, 0, String::new(), SystemTime::now()),
            Some(m) if m.object_type == ObjectType::Appendable => (
                Origin::Appendable,
                m.next_append_offset.unwrap_or(m.size),
                m.etag.clone(),
                m.last_modified,
            ),
            Some(m) => (
                Origin::Normal {
                    etag: m.etag.clone(),
                    size: m.size,
                },
                m.size,
                m.etag.clone(),
                m.last_modified,
            ),
        };
        progress.set_kind(WriterKind::Append);
        progress.set_size(next_offset);
        progress.set_dirty(origin == Origin::Missing);
        let size = Arc::new(AtomicU64::new(next_offset));
        let high_water = Arc::new(AtomicUsize::new(0));
        let options = Arc::new(std::sync::Mutex::new(options));
        let state = Arc::new(Mutex::new(AppendState {
            target: target.clone(),
            options: options.clone(),
            append_buffer: config.append_buffer.max(1),
            rewrite_limit: config.append_rewrite_limit(),
            origin,
            next_offset,
            pending: Vec::new(),
            pending_since: None,
            failed: None,
            landed_since_commit: false,
            etag,
            last_modified,
            size: size.clone(),
            high_water: high_water.clone(),
            progress,
        }));
        let wake = Arc::new(Notify::new());
        let flusher = tokio::spawn(flush_timer(
            Arc::downgrade(&state),
            wake.clone(),
            config.append_flush_interval,
        ));
        let config_kept = config.clone();
        AppendWriter {
            target,
            config: config_kept,
            state,
            size,
            high_water,
            options,
            wake,
            flusher,
        }
    }

    /// Logical size: bytes in the object plus bytes waiting.
    pub fn size(&self) -> u64 {
        self.size.load(Ordering::Relaxed)
    }

    /// Largest number of bytes that waited in the buffer at once.
    pub fn memory_high_water(&self) -> usize {
        self.high_water.load(Ordering::Relaxed)
    }

    /// Queue `data` for the end of the object; sends when the buffer is full.
    pub async fn write(&mut self, data: &[u8]) -> Result<usize, WriteError> {
        let mut s = self.state.lock().await;
        s.usable()?;
        if data.is_empty() {
            return Ok(0);
        }
        let new_size = s.logical_size() + data.len() as u64;
        if new_size > MAX_APPENDABLE_OBJECT_SIZE {
            log::warn!(
                "{}: append of {} bytes refused: an appendable object cannot pass {} bytes (EFBIG)",
                s.target.key,
                data.len(),
                MAX_APPENDABLE_OBJECT_SIZE
            );
            return Err(WriteError::TooLarge {
                size: new_size,
                limit: MAX_APPENDABLE_OBJECT_SIZE,
            });
        }
        if !s.pending.is_empty() && s.pending.len() + data.len() > s.append_buffer {
            s.flush().await?;
        }
        let was_empty = s.pending.is_empty();
        s.pending.extend_from_slice(data);
        // An append stream is an upload in flight from its first write until it closes.
        s.progress.set_uploading(true);
        s.publish();
        if s.pending.len() >= s.append_buffer {
            s.flush().await?;
        } else if was_empty {
            s.pending_since = Some(Instant::now());
            self.wake.notify_one();
        }
        Ok(data.len())
    }

    /// Read `[offset, offset + len)`: what is in the object from BOS (ranged GetObject), what
    /// waits from the buffer.
    pub async fn read(&mut self, offset: u64, len: usize) -> Result<Bytes, WriteError> {
        let s = self.state.lock().await;
        s.usable()?;
        let end = offset.saturating_add(len as u64).min(s.logical_size());
        if offset >= end {
            return Ok(Bytes::new());
        }
        let mut out = Vec::with_capacity((end - offset) as usize);
        if offset < s.next_offset {
            let t = &s.target;
            let range = ByteRange {
                start: offset,
                end: Some(end.min(s.next_offset) - 1),
            };
            let got = t.api.get_object(&t.bucket, &t.key, Some(range)).await?;
            out.extend_from_slice(&got.body);
        }
        if end > s.next_offset {
            let from = offset.max(s.next_offset) - s.next_offset;
            let to = end - s.next_offset;
            out.extend_from_slice(&s.pending[from as usize..to as usize]);
        }
        Ok(Bytes::from(out))
    }

    /// Send everything waiting; returns once BOS has it.
    pub async fn flush(&mut self) -> Result<(), WriteError> {
        self.state.lock().await.flush().await
    }

    /// Flush and describe the object.
    pub async fn commit(&mut self) -> Result<Committed, WriteError> {
        let mut s = self.state.lock().await;
        s.flush().await?;
        s.landed_since_commit = false;
        Ok(Committed {
            size: s.next_offset,
            etag: s.etag.clone(),
            last_modified: s.last_modified,
        })
    }

    /// Only 0 (the object is replaced by an empty Appendable one at the next send) and the current
    /// size are accepted: BOS cannot cut an Appendable object.
    pub async fn truncate(&mut self, size: u64) -> Result<(), WriteError> {
        let mut s = self.state.lock().await;
        s.usable()?;
        if size == s.logical_size() {
            return Ok(());
        }
        if size != 0 {
            log::warn!(
                "{}: truncate to {size} refused on an appendable file; only truncation to 0 is possible",
                s.target.key
            );
            return Err(WriteError::NotAppendable(format!(
                "an appendable object can only be truncated to 0, not {size}"
            )));
        }
        s.pending.clear();
        s.pending_since = None;
        if s.origin != Origin::Missing {
            s.origin = Origin::Replace;
        }
        s.next_offset = 0;
        s.publish();
        s.progress.set_dirty(true);
        Ok(())
    }

    /// Options used when the object is created or converted.
    pub fn set_options(&mut self, options: PutOptions) {
        *lock_options(&self.options) = options;
    }

    /// Where this writer appends.
    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    /// The pipeline settings it was made with.
    pub(crate) fn config(&self) -> Arc<WriteConfig> {
        self.config.clone()
    }

    /// What the bucket holds for this writer (`None`: nothing it should keep) and the bytes
    /// still waiting after it, taken out of the writer (which must not be used afterwards but
    /// for [`AppendWriter::abort`]).
    pub(crate) async fn take_unsent(&self) -> Result<(Option<ObjectMeta>, Vec<u8>), WriteError> {
        let mut s = self.state.lock().await;
        s.usable()?;
        let pending = std::mem::take(&mut s.pending);
        s.pending_since = None;
        let mut meta = ObjectMeta::new(s.target.key.clone());
        meta.etag = s.etag.clone();
        meta.last_modified = s.last_modified;
        let base = match &s.origin {
            Origin::Missing | Origin::Replace => None,
            Origin::Appendable => {
                meta.size = s.next_offset;
                meta.object_type = ObjectType::Appendable;
                meta.next_append_offset = Some(s.next_offset);
                Some(meta)
            }
            Origin::Normal { etag, size } => {
                meta.size = *size;
                meta.etag = etag.clone();
                Some(meta)
            }
        };
        Ok((base, pending))
    }

    /// Whether the next send creates (or converts) the object, so options set now go with it.
    pub async fn will_create(&self) -> bool {
        let s = self.state.lock().await;
        s.failed.is_none() && !matches!(s.origin, Origin::Appendable)
    }

    /// Whether written bytes wait to be sent.
    pub async fn holds_bytes(&self) -> bool {
        !self.state.lock().await.pending.is_empty()
    }

    /// Whether bytes wait to be sent or the object still has to be made (or replaced).
    pub async fn has_unsent(&self) -> bool {
        let s = self.state.lock().await;
        !s.pending.is_empty() || matches!(s.origin, Origin::Missing | Origin::Replace)
    }

    /// Whether the object changed since the last commit (bytes sent when the buffer filled or
    /// the timer fired), so what is known of it must be learnt again.
    pub async fn landed_since_commit(&self) -> bool {
        self.state.lock().await.landed_since_commit
    }

    /// The options in force.
    pub fn options(&self) -> PutOptions {
        lock_options(&self.options).clone()
    }

    /// Drop what waits and stop; later calls fail.
    pub async fn abort(&mut self) {
        self.flusher.abort();
        let mut s = self.state.lock().await;
        if s.failed.is_none() {
            s.failed = Some("the write was abandoned".into());
        }
        s.pending = Vec::new();
        s.pending_since = None;
        s.progress.set_held(0);
        s.progress.set_uploading(false);
    }
}

impl Drop for AppendWriter {
    fn drop(&mut self) {
        self.flusher.abort();
        let state = self.state.clone();
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            if let Ok(s) = self.state.try_lock() {
                if s.failed.is_none() && !s.pending.is_empty() {
                    log::error!(
                        "{}: append writer dropped outside the runtime; {} bytes unsent are lost",
                        s.target.key,
                        s.pending.len()
                    );
                }
            }
            return;
        };
        handle.spawn(async move {
            let mut s = state.lock().await;
            if s.failed.is_none() && !s.pending.is_empty() {
                log::warn!(
                    "{}: append writer dropped with {} bytes unsent; sending them",
                    s.target.key,
                    s.pending.len()
                );
                if let Err(e) = s.flush().await {
                    log::error!("{}: bytes of a dropped append writer were lost: {e}", s.target.key);
                }
            }
        });
    }
}

fn lock_options(options: &std::sync::Mutex<PutOptions>) -> std::sync::MutexGuard<'_, PutOptions> {
    // Options are replaced whole; a panic elsewhere cannot leave them half-written.
    options.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sends waiting bytes once they have waited `interval`. Ends when the writer is gone.
async fn flush_timer(state: Weak<Mutex<AppendState>>, wake: Arc<Notify>, interval: Duration) {
    loop {
        wake.notified().await;
        loop {
            let Some(shared) = state.upgrade() else { return };
            let deadline = match shared.lock().await.pending_since {
                Some(since) => since + interval,
                None => break,
            };
            drop(shared);
            tokio::time::sleep_until(deadline).await;
            let Some(shared) = state.upgrade() else { return };
            let mut s = shared.lock().await;
            match s.pending_since {
                Some(since) if since + interval <= Instant::now() => {
                    // A failure is remembered in the state and reported by the next call.
                    let _ = s.flush().await;
                    break;
                }
                Some(_) => continue,
                None => break,
            }
        }
    }
}

impl AppendState {
    fn usable(&self) -> Result<(), WriteError> {
        match &self.failed {
            Some(reason) => Err(WriteError::Failed(reason.clone())),
            None => Ok(()),
        }
    }

    fn logical_size(&self) -> u64 {
        self.next_offset + self.pending.len() as u64
    }

    fn publish(&self) {
        self.size.store(self.logical_size(), Ordering::Relaxed);
        self.high_water.fetch_max(self.pending.capacity(), Ordering::Relaxed);
        self.progress.set_size(self.logical_size());
        self.progress.set_held(self.pending.len());
        let owed = matches!(self.origin, Origin::Missing | Origin::Replace);
        self.progress.set_dirty(owed || !self.pending.is_empty());
    }

    /// Send what waits (and create / replace the object if that is still owed).
    async fn flush(&mut self) -> Result<(), WriteError> {
        self.usable()?;
        let owed = matches!(self.origin, Origin::Missing | Origin::Replace);
        if self.pending.is_empty() && !owed {
            return Ok(());
        }
        let body = Bytes::from(std::mem::take(&mut self.pending));
        let waited = self
            .pending_since
            .take()
            .map_or(Duration::ZERO, |since| since.elapsed());
        let sent = body.len() as u64;
        if sent > 0 {
            self.progress.observe_append_lag(waited);
        }
        let held = self.progress.in_flight(body.len());
        self.progress.set_held(0);
        let result = self.send(body).await;
        drop(held);
        match result {
            Ok(()) => {
                self.progress.add_sent(sent);
                self.progress.committed(&self.etag);
                self.publish();
                Ok(())
            }
            Err(e) => {
                log::warn!("appending to {} failed: {e}", self.target.key);
                self.failed = Some(e.to_string());
                self.progress.failed(&e.to_string());
                Err(e)
            }
        }
    }

    /// Put `body` at the end of the object, whatever other writers do meanwhile.
    async fn send(&mut self, body: Bytes) -> Result<(), WriteError> {
        let t = self.target.clone();
        for _ in 0..MAX_SEND_ATTEMPTS {
            match self.origin.clone() {
                Origin::Appendable => {
                    if body.is_empty() {
                        return Ok(());
                    }
                    let offset = self.next_offset;
                    let options = self.plain_options();
                    match t
                        .api
                        .append_object(&t.bucket, &t.key, Some(offset), body.clone(), &options)
                        .await
                    {
                        Ok(r) => return self.landed(r.next_offset, r.etag),
                        Err(e) => match e.kind() {
                            ErrorKind::OffsetIncorrect => {
                                log::debug!("{}: offset {offset} is stale; another writer appended", t.key);
                                self.resync().await?;
                            }
                            ErrorKind::NotFound => {
                                log::warn!("{}: the object disappeared while appending; creating it again", t.key);
                                self.origin = Origin::Missing;
                                self.next_offset = 0;
                            }
                            ErrorKind::Transport | ErrorKind::Unavailable => {
                                log::warn!("{}: append at {offset} may or may not have landed ({e})", t.key);
                                if self.check_landed(offset, &body, false).await? {
                                    return Ok(());
                                }
                            }
                            _ => return Err(e.into()),
                        },
                    }
                }
                origin @ (Origin::Missing | Origin::Replace) => {
                    let mut options = self.plain_options();
                    options.forbid_overwrite = origin == Origin::Missing;
                    match t
                        .api
                        .append_object(&t.bucket, &t.key, None, body.clone(), &options)
                        .await
                    {
                        Ok(r) => {
                            self.origin = Origin::Appendable;
                            return self.landed(r.next_offset, r.etag);
                        }
                        Err(e) => match e.kind() {
                            ErrorKind::AlreadyExists | ErrorKind::PreconditionFailed if origin == Origin::Missing => {
                                log::debug!("{}: created by another writer first; appending after it", t.key);
                                self.resync().await?;
                            }
                            ErrorKind::Transport | ErrorKind::Unavailable => {
                                log::warn!("{}: creating append may or may not have landed ({e})", t.key);
                                if self.check_landed(0, &body, origin == Origin::Replace).await? {
                                    return Ok(());
                                }
                                if origin == Origin::Replace {
                                    self.origin = Origin::Replace;
                                }
                            }
                            _ => return Err(e.into()),
                        },
                    }
                }
                Origin::Normal { etag, size } => {
                    if self.convert(&etag, size, &body).await? {
                        return Ok(());
                    }
                }
            }
        }
        Err(WriteError::Failed(format!(
            "appending to {} did not succeed after {MAX_SEND_ATTEMPTS} attempts (other writers keep moving the end)",
            t.key
        )))
    }

    /// Replace the Normal object (`etag`, `size`) by an Appendable one holding its bytes and then
    /// `body`. `Ok(false)` = the object changed meanwhile; the state is updated, try again.
    async fn convert(&mut self, etag: &str, size: u64, body: &Bytes) -> Result<bool, WriteError> {
        let t = self.target.clone();
        let old = if size == 0 {
            Bytes::new()
        } else {
            let got = t.api.get_object(&t.bucket, &t.key, None).await?;
            if !super::existing::same_etag(&got.meta.etag, etag) {
                self.adopt(got.meta)?;
                return Ok(false);
            }
            got.body
        };
        if old.len() as u64 != size {
            return Err(WriteError::Failed(format!(
                "reading {}: expected {size} bytes, got {}",
                t.key,
                old.len()
            )));
        }
        let mut whole = Vec::with_capacity(old.len() + body.len());
        whole.extend_from_slice(&old);
        whole.extend_from_slice(body);
        drop(old);
        let whole = Bytes::from(whole);
        // Replace only the version we read (If-Match): a concurrent change is never overwritten.
        let options = PutOptions {
            if_match: Some(etag.to_owned()),
            ..self.plain_options()
        };
        log::info!(
            "{}: converting the {size}-byte Normal object to an Appendable one to append to it",
            t.key
        );
        match t
            .api
            .append_object(&t.bucket, &t.key, None, whole.clone(), &options)
            .await
        {
            Ok(r) => {
                self.origin = Origin::Appendable;
                self.landed(r.next_offset, r.etag)?;
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::PreconditionFailed | ErrorKind::NotFound) => {
                log::info!(
                    "{}: changed by someone else during the conversion; starting over",
                    t.key
                );
                self.resync().await?;
                Ok(false)
            }
            Err(e) if matches!(e.kind(), ErrorKind::Transport | ErrorKind::Unavailable) => {
                // The replacement may have landed. It did if the object is now Appendable and
                // holds exactly our bytes; if it is still the old Normal object, try again.
                match t.api.head_object(&t.bucket, &t.key).await {
                    Ok(meta) if meta.object_type == ObjectType::Appendable && meta.size == whole.len() as u64 => {
                        if self.bytes_at(0, &whole).await? {
                            self.origin = Origin::Appendable;
                            self.landed(meta.size, meta.etag)?;
                            return Ok(true);
                        }
                        Err(e.into())
                    }
                    Ok(meta)
                        if meta.object_type == ObjectType::Normal && super::existing::same_etag(&meta.etag, etag) =>
                    {
                        Ok(false)
                    }
                    _ => Err(e.into()),
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// After an ambiguous failure of an append at `offset`: did `body` land there? If not, the
    /// state now points at the current end (or says the object is missing). A replacement
    /// (`whole`) landed only if the object is exactly `body`.
    async fn check_landed(&mut self, offset: u64, body: &Bytes, whole: bool) -> Result<bool, WriteError> {
        self.resync().await?;
        let end = offset + body.len() as u64;
        let long_enough = if whole {
            self.next_offset == end
        } else {
            self.next_offset >= end
        };
        if self.origin == Origin::Appendable && long_enough && self.bytes_at(offset, body).await? {
            log::info!("{}: the append at {offset} had landed", self.target.key);
            return Ok(true);
        }
        Ok(false)
    }

    /// Whether the object holds `body` at `offset`.
    async fn bytes_at(&self, offset: u64, body: &Bytes) -> Result<bool, WriteError> {
        if body.is_empty() {
            return Ok(true);
        }
        let t = &self.target;
        let range = ByteRange {
            start: offset,
            end: Some(offset + body.len() as u64 - 1),
        };
        let got = t.api.get_object(&t.bucket, &t.key, Some(range)).await?;
        Ok(got.body == *body)
    }

    /// HEAD the object and take its current state.
    async fn resync(&mut self) -> Result<(), WriteError> {
        let t = self.target.clone();
        match t.api.head_object(&t.bucket, &t.key).await {
            Ok(meta) => self.adopt(meta),
            Err(e) if e.is_not_found() => {
                self.origin = Origin::Missing;
                self.next_offset = 0;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Continue from what is at the key now.
    fn adopt(&mut self, meta: ObjectMeta) -> Result<(), WriteError> {
        if meta.object_type == ObjectType::Appendable {
            self.origin = Origin::Appendable;
            self.next_offset = meta.next_append_offset.unwrap_or(meta.size);
        } else if meta.size <= self.rewrite_limit {
            log::info!(
                "{}: another writer left a Normal object; its bytes are kept",
                self.target.key
            );
            self.origin = Origin::Normal {
                etag: meta.etag.clone(),
                size: meta.size,
            };
            self.next_offset = meta.size;
        } else {
            return Err(WriteError::NotAppendable(format!(
                "{} was replaced by a {}-byte non-appendable object",
                self.target.key, meta.size
            )));
        }
        self.etag = meta.etag;
        self.last_modified = meta.last_modified;
        Ok(())
    }

    fn landed(&mut self, next_offset: u64, etag: String) -> Result<(), WriteError> {
        self.landed_since_commit = true;
        self.next_offset = next_offset;
        self.etag = etag;
        self.last_modified = SystemTime::now();
        Ok(())
    }

    /// The options of an append, without the conditions meant for other requests.
    fn plain_options(&self) -> PutOptions {
        PutOptions {
            forbid_overwrite: false,
            if_none_match_any: false,
            if_match: None,
            ..lock_options(&self.options).clone()
        }
    }
}
