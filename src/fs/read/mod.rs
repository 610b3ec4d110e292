//! Read path of one open file: ranged GetObject requests with sequential read-ahead.
//!
//! A [`FileReader`] serves the reads of one file handle. It tells two kinds of reader apart:
//!
//! - Sequential: each read starts where the previous one ended (or inside data already held).
//!   Read-ahead fetches beyond the read, as ranged GETs of up to `request_size` spawned as
//!   tasks, kept in file order; the window starts at `initial_window` and doubles up to what
//!   the measured bandwidth-delay product of the path calls for, at most `max_window`, and the
//!   GETs in flight follow it, at most `max_requests_in_flight` (`window`). Reads are then
//!   served from those chunks, so a kernel's 1 MiB reads cost a few large GETs. The kernel
//!   has several reads of one file in flight and they may arrive out of order: a read a
//!   little behind the reader, or a little beyond what is fetched, is still sequential
//!   (`REORDER_DISTANCE`), and the data just behind the reader is kept for such late reads.
//!   A read further away that lands in data held is served from it but plans nothing, so
//!   random reads landing in an earlier read-ahead do not grow it.
//! - Random: a read anywhere else is a seek. Everything held or in flight is dropped (and
//!   its requests aborted), the window goes back to its initial size, and exactly the asked
//!   range is fetched (clipped to the end of the file). If the reader then continues
//!   sequentially for two reads, read-ahead starts again from the initial window (one
//!   adjacent pair is common among random reads).
//!
//! Memory per reader stays below `max_window + request_size` whatever the file size (the
//! data kept behind the reader counts in it).
//! Every answer must carry the ETag and size seen at open; otherwise the read fails with
//! [`ReadError::Changed`] rather than mix two versions of the object. A failed request only
//! fails the read that needs its bytes; a later read asks again. Dropping the reader aborts
//! its requests.

mod fetch;
mod window;

#[cfg(test)]
mod scripted_bos;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use bytes::Bytes;

use crate::bos::{BosApi, BosError};
use fetch::{ChunkQueue, Clock, Fetcher, Version};
use window::{PlanInput, ReadAhead};

/// Tuning of the read path, shared by every reader of a mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadConfig {
    /// Size of the first read-ahead after a sequential read starts (or restarts after a seek).
    pub initial_window: usize,
    /// Largest read-ahead window (`--read-ahead`): how far ahead of the reader data is fetched.
    pub max_window: usize,
    /// Largest single ranged GET.
    pub request_size: usize,
    /// Most ranged GETs of read-ahead a reader keeps in flight at once; within it, the number
    /// follows the window (see `window`).
    pub max_requests_in_flight: usize,
}

impl Default for ReadConfig {
    /// 1 MiB first window (cheap for readers of file heads), 64 MiB largest window, 8 MiB
    /// requests (large enough that per-request latency is amortised), up to 8 in flight (as
    /// many as the largest window holds).
    fn default() -> Self {
        ReadConfig {
            initial_window: 1024 * 1024,
            max_window: 64 * 1024 * 1024,
            request_size: 8 * 1024 * 1024,
            max_requests_in_flight: 8,
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

/// How far from the reader's position a read may start and still be taken for one of its
/// own reads arriving out of order rather than a seek: the kernel sends up to 1 MiB per read
/// and has several in flight (its own read-ahead window, a few MiB). Data this far behind
/// the furthest read is kept, and a read this far beyond what is fetched extends the
/// read-ahead instead of resetting it.
const REORDER_DISTANCE: u64 = 4 * 1024 * 1024;

/// The read state of one file handle opened for reading.
#[derive(Debug)]
pub struct FileReader {
    fetcher: Fetcher,
    version: Version,
    read_ahead: ReadAhead,
    chunks: ChunkQueue,
    /// Where the previous read ended: a read starting here is sequential.
    next_offset: u64,
    /// The last read was a seek: read-ahead waits for a second read in sequence.
    after_seek: bool,
    max_bytes_held: u64,
}

impl FileReader {
    /// A reader of `bucket/key`, whose `size` and `etag` are those known at open time (an
    /// empty `etag` means unknown: the first answer's is then the one held to).
    pub fn new(
        api: Arc<dyn BosApi>,
        bucket: String,
        key: String,
        size: u64,
        etag: String,
        config: Arc<ReadConfig>,
    ) -> Self {
        Self::with_clock(api, bucket, key, size, etag, config, Clock::monotonic())
    }

    /// [`FileReader::new`] timing its requests and pace on `clock`.
    pub(crate) fn with_clock(
        api: Arc<dyn BosApi>,
        bucket: String,
        key: String,
        size: u64,
        etag: String,
        config: Arc<ReadConfig>,
        clock: Clock,
    ) -> Self {
        FileReader {
            fetcher: Fetcher::new(api, &bucket, &key, clock),
            version: Version { etag, size },
            read_ahead: ReadAhead::new(&config),
            chunks: ChunkQueue::default(),
            next_offset: 0,
            after_seek: false,
            max_bytes_held: 0,
        }
    }

    /// Bytes at `offset`, at most `len` (fewer only at end of file; empty at or after it).
    /// Cancel-safe: if the future is dropped, the reader stays usable.
    pub async fn read(&mut self, offset: u64, len: u32) -> Result<Bytes, ReadError> {
        let size = self.version.size;
        if offset >= size || len == 0 {
            return Ok(Bytes::new());
        }
        let end = size.min(offset.saturating_add(u64::from(len)));
        let held = self.chunks.contains(offset);
        let reading_ahead = self.chunks.held() > 0;
        let in_sequence = offset.abs_diff(self.next_offset) <= REORDER_DISTANCE;
        if held && !in_sequence && end <= self.chunks.end() {
            return self.read_held_jump(offset, end).await;
        }
        // A read a little beyond what is fetched, while read-ahead runs: the kernel sent it
        // before the reads that fill the gap, which the read-ahead now fetches too.
        let ahead = reading_ahead
            && in_sequence
            && offset >= self.chunks.end()
            && offset - self.chunks.end() <= REORDER_DISTANCE
            && end - self.chunks.start() <= self.read_ahead.memory_bound();
        let continues = !reading_ahead && offset == self.next_offset;
        if continues && !held && self.after_seek {
            // The first read continuing a seek's: one pair of adjacent reads is common among
            // random reads (fio's random map makes many). Fetch it exactly; read-ahead starts
            // if the next read continues too.
            self.after_seek = false;
            let bytes = self.read_exact(offset, end).await?;
            self.next_offset = end;
            return Ok(bytes);
        }
        if !held && !ahead && !continues {
            if self.is_straggler(offset, end) {
                return self.read_exact(offset, end).await;
            }
            if !reading_ahead && offset.abs_diff(self.next_offset) <= REORDER_DISTANCE {
                // Near where the last read ended, with nothing held: a sequential reader's
                // reads arriving out of order (at its start, or after a seek), or a random
                // reader. Either way fetch just this; the reader continues when a read
                // starts where the furthest one ended.
                let bytes = self.read_exact(offset, end).await?;
                self.next_offset = self.next_offset.max(end);
                return Ok(bytes);
            }
            return self.read_random(offset, end).await;
        }
        if !reading_ahead && self.chunks.end() != offset && !held {
            self.chunks.reset_at(offset);
        }
        self.schedule(end);
        let result = self
            .chunks
            .read(offset..end, &mut self.version, self.fetcher.key())
            .await;
        for elapsed in self.chunks.take_timings() {
            self.read_ahead.observe_request(elapsed);
        }
        if let Err(ReadError::Changed { .. }) = &result {
            self.chunks.reset_at(offset);
            self.read_ahead.reset();
        }
        let bytes = result?;
        self.next_offset = self.next_offset.max(end);
        self.read_ahead
            .observe_consumed(bytes.len() as u64, self.fetcher.clock().now());
        // Keep what lies just behind the reader: the kernel's reads arrive out of order.
        self.chunks
            .drop_before(self.next_offset.saturating_sub(REORDER_DISTANCE));
        Ok(bytes)
    }

    /// A jump to bytes already held or in flight, away from where the reader was: served from
    /// them, without planning more read-ahead. A random reader whose reads happen to land in
    /// what an earlier read fetched must not grow the window; a sequential reader that
    /// skipped ahead plans again at its next read, which continues from here.
    async fn read_held_jump(&mut self, offset: u64, end: u64) -> Result<Bytes, ReadError> {
        let result = self
            .chunks
            .read(offset..end, &mut self.version, self.fetcher.key())
            .await;
        for elapsed in self.chunks.take_timings() {
            self.read_ahead.observe_request(elapsed);
        }
        if let Err(ReadError::Changed { .. }) = &result {
            self.chunks.reset_at(offset);
            self.read_ahead.reset();
        }
        let bytes = result?;
        self.next_offset = end;
        self.chunks.drop_before(end.saturating_sub(REORDER_DISTANCE));
        Ok(bytes)
    }

    /// A seek: drop what is held and fetch exactly `offset..end`.
    async fn read_random(&mut self, offset: u64, end: u64) -> Result<Bytes, ReadError> {
        if self.chunks.held() > 0 {
            log::debug!(
                "{}: seek to {offset} drops read-ahead {}..{}",
                self.fetcher.key(),
                self.chunks.start(),
                self.chunks.end()
            );
        }
        self.chunks.reset_at(end);
        self.read_ahead.reset();
        self.next_offset = end;
        self.after_seek = true;
        self.read_exact(offset, end).await
    }

    /// A read that ends just before the data held while the reader is further on: a
    /// request the kernel sent earlier but that arrived late. Serving it must not throw away
    /// the read-ahead the reader is about to use.
    fn is_straggler(&self, offset: u64, end: u64) -> bool {
        self.chunks.held() > 0
            && offset < self.chunks.start()
            && self.chunks.start() - offset <= REORDER_DISTANCE
            && end <= self.next_offset
    }

    /// Exactly `offset..end`, fetched now, leaving read-ahead alone.
    async fn read_exact(&mut self, offset: u64, end: u64) -> Result<Bytes, ReadError> {
        let result = self.fetcher.fetch(offset..end).await?;
        let checked = self.version.check(self.fetcher.key(), &(offset..end), result);
        if let Err(ReadError::Changed { .. }) = &checked {
            self.chunks.reset_at(end);
            self.read_ahead.reset();
        }
        checked
    }

    /// The object is now known to be `size` bytes with ETag `etag` (the filesystem saw it
    /// change, e.g. grow by an append): drop what is held and serve that version from now on.
    /// The version already served (same ETag and size) changes nothing: the filesystem
    /// reports it on every read while its attributes are cached.
    pub fn set_object(&mut self, size: u64, etag: String) {
        if size == self.version.size && etag.trim_matches('"') == self.version.etag.trim_matches('"') {
            return;
        }
        self.version = Version { etag, size };
        self.chunks.reset_at(self.next_offset);
        self.read_ahead.reset();
    }

    /// Request what the window policy says: the bytes up to `needed_end` the current read
    /// lacks, plus read-ahead. Called once per read, before waiting for its bytes, so the
    /// window doubles at most once per read while it ramps up.
    fn schedule(&mut self, needed_end: u64) {
        let plan = self.read_ahead.plan(PlanInput {
            held_start: self.chunks.start(),
            fetch_end: self.chunks.end(),
            needed_end,
            size: self.version.size,
            in_flight: self.chunks.in_flight(),
        });
        for range in plan {
            let handle = self.fetcher.spawn(range.clone());
            self.chunks.push(range, handle);
        }
        self.max_bytes_held = self.max_bytes_held.max(self.chunks.held());
    }

    /// Total bytes received from BOS by this reader so far.
    pub fn bytes_fetched(&self) -> u64 {
        self.fetcher.bytes_fetched()
    }

    /// Bytes held in memory or being fetched now.
    pub fn bytes_held(&self) -> u64 {
        self.chunks.held()
    }

    /// The most bytes held or being fetched at any one time (at most `max_window + request_size`).
    pub fn max_bytes_held(&self) -> u64 {
        self.max_bytes_held
    }

    /// End of what is held or requested (the next read-ahead starts there).
    #[cfg(test)]
    pub(crate) fn fetch_end(&self) -> u64 {
        self.chunks.end()
    }

    /// The current read-ahead window in bytes.
    pub fn window(&self) -> u64 {
        self.read_ahead.window()
    }

    /// The measured bandwidth-delay product of the path to BOS, once known.
    pub fn bandwidth_delay(&self) -> Option<u64> {
        self.read_ahead.bandwidth_delay()
    }
}

impl Drop for FileReader {
    fn drop(&mut self) {
        log::debug!(
            "{}: fetched {} bytes, window {}, bandwidth x delay {:?}, at most {} bytes held",
            self.fetcher.key(),
            self.bytes_fetched(),
            self.read_ahead.window(),
            self.read_ahead.bandwidth_delay(),
            self.max_bytes_held
        );
    }
}
