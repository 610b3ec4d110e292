//! The stream writer: new content (create / O_TRUNC) and rewrites of existing objects, as one
//! PutObject or a streaming multipart upload.
//!
//! The file is cut into windows of `part_size` bytes; window `k` becomes part `k + 1`. Only the
//! current window (the tail) is in memory. A write past the tail seals it: the window goes out as
//! a part in the background (the multipart upload starts with the first sealed window) and the
//! next window becomes the tail. Windows skipped by a sparse write are zeros; windows of an old
//! object nobody wrote are carried over with UploadPartCopy; an old window that is written to is
//! read in first. At commit a file still inside its first window is one PutObject; otherwise the
//! tail is the last part and the upload is completed.
//!
//! Writes below the tail's start are refused ([`WriteError::NonSequential`]): those bytes are in
//! BOS as parts already. The first upload failure aborts the multipart upload and is remembered.

use std::sync::Arc;
use std::time::SystemTime;

use crate::bos::{ObjectMeta, PutOptions};

use super::buffer::TailBuffer;
use super::existing::BaseObject;
use super::multipart::PartUploader;
use super::progress::Progress;
use super::{Committed, Target, WriteConfig, WriteError};

/// Buffered / multipart writer of one file handle.
#[derive(Debug)]
pub struct StreamWriter {
    target: Target,
    options: PutOptions,
    config: Arc<WriteConfig>,
    tail: TailBuffer,
    size: u64,
    base: Option<BaseObject>,
    upload: Option<PartUploader>,
    dirty: bool,
    failed: Option<String>,
    committed: Option<Committed>,
    append_mode: bool,
    high_water: usize,
    progress: Progress,
}

impl StreamWriter {
    /// A writer over `existing` (old bytes kept) or over nothing (new content). In `append_mode`
    /// every write goes to the current end of the file.
    pub(crate) fn new(
        target: Target,
        options: PutOptions,
        config: Arc<WriteConfig>,
        existing: Option<ObjectMeta>,
        append_mode: bool,
        progress: Progress,
    ) -> Self {
        let base = existing.as_ref().map(BaseObject::from_meta);
        let part_size = config.part_size;
        let loaded = base.as_ref().is_none_or(|b| !b.overlaps(0, part_size as u64));
        progress.set_kind(super::progress::WriterKind::Stream);
        progress.set_size(base.as_ref().map_or(0, |b| b.size));
        progress.set_dirty(base.is_none());
        StreamWriter {
            target,
            options,
            tail: TailBuffer::new(0, part_size, loaded),
            size: base.as_ref().map_or(0, |b| b.size),
            // New content must be stored even if nothing is written (an empty file).
            dirty: base.is_none(),
            base,
            config,
            upload: None,
            failed: None,
            committed: None,
            append_mode,
            high_water: 0,
            progress,
        }
    }

    /// From now on, write where told (the caller passes the end for appending descriptors).
    pub fn stop_appending(&mut self) {
        self.append_mode = false;
    }

    /// Whether every write goes to the end.
    pub fn is_append_mode(&self) -> bool {
        self.append_mode
    }

    /// Logical size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Highest tail capacity plus part bytes in flight seen so far.
    pub fn memory_high_water(&self) -> usize {
        self.high_water
    }

    /// Write `data` at `offset` (at the end in append mode).
    pub async fn write(&mut self, offset: u64, data: &[u8]) -> Result<usize, WriteError> {
        self.usable()?;
        let offset = if self.append_mode { self.size } else { offset };
        if data.is_empty() {
            return Ok(0);
        }
        if offset < self.tail.start() {
            log::warn!(
                "{}: write of {} bytes at offset {offset} refused: the first {} bytes are already uploaded as \
                 parts; only the last {}-byte window can still change (EINVAL)",
                self.target.key,
                data.len(),
                self.tail.start(),
                self.config.part_size
            );
            return Err(WriteError::NonSequential {
                offset,
                uploaded: self.tail.start(),
            });
        }
        let end = offset.saturating_add(data.len() as u64);
        self.check_limit(end)?;
        self.dirty = true;
        self.committed = None;
        self.progress.set_dirty(true);
        match self.write_inner(offset, data).await {
            Ok(()) => {
                self.progress.set_size(self.size);
                Ok(data.len())
            }
            Err(e) => Err(self.fail(e).await),
        }
    }

    async fn write_inner(&mut self, offset: u64, data: &[u8]) -> Result<(), WriteError> {
        let mut pos = 0usize;
        while pos < data.len() {
            let cur = offset + pos as u64;
            if cur >= self.tail.end() {
                self.seal_window().await?;
                continue;
            }
            self.ensure_loaded().await?;
            let at = (cur - self.tail.start()) as usize;
            let n = (data.len() - pos).min((self.tail.end() - cur) as usize);
            self.tail.write_at(at, &data[pos..pos + n]);
            pos += n;
            self.size = self.size.max(cur + n as u64);
            self.note_memory(0);
        }
        Ok(())
    }

    /// Read `[offset, offset + len)` of the file as this writer holds it: the tail window from
    /// memory, bytes after it from the old object (nothing after the tail was written) or zeros.
    /// Parts already uploaded are not readable until the upload completes
    /// ([`WriteError::NonSequential`]).
    pub async fn read(&mut self, offset: u64, len: usize) -> Result<bytes::Bytes, WriteError> {
        self.usable()?;
        let end = offset.saturating_add(len as u64).min(self.size);
        if offset >= end {
            return Ok(bytes::Bytes::new());
        }
        if offset < self.tail.start() {
            return Err(WriteError::NonSequential {
                offset,
                uploaded: self.tail.start(),
            });
        }
        let total = (end - offset) as usize;
        let mut out = Vec::with_capacity(total);
        let (start, window_end) = (self.tail.start(), self.tail.end());
        if offset < window_end {
            if let Err(e) = self.ensure_loaded().await {
                return Err(self.fail(e).await);
            }
            let held = self.tail.bytes();
            let a = ((offset - start) as usize).min(held.len());
            let b = ((end.min(window_end) - start) as usize).min(held.len());
            out.extend_from_slice(&held[a..b]);
            out.resize((end.min(window_end) - offset) as usize, 0);
        }
        if end > window_end {
            if let Some(base) = &self.base {
                let old = base.read(&self.target, offset.max(window_end), end).await?;
                out.extend_from_slice(&old);
            }
            out.resize(total, 0);
        }
        Ok(bytes::Bytes::from(out))
    }

    /// Change the logical size. Shrinking below the uploaded boundary is refused except to 0,
    /// which starts over (aborting an open multipart upload).
    pub async fn truncate(&mut self, new_size: u64) -> Result<(), WriteError> {
        self.usable()?;
        if new_size == self.size {
            return Ok(());
        }
        self.check_limit(new_size)?;
        if new_size < self.tail.start() {
            if new_size != 0 {
                log::warn!(
                    "{}: truncate to {new_size} refused: the first {} bytes are already uploaded as parts",
                    self.target.key,
                    self.tail.start()
                );
                return Err(WriteError::NonSequential {
                    offset: new_size,
                    uploaded: self.tail.start(),
                });
            }
            if let Some(mut upload) = self.upload.take() {
                upload.abort().await;
            }
            self.tail.reset(0, true);
        }
        if new_size < self.size {
            if let Some(base) = &mut self.base {
                base.truncate(new_size);
            }
            let keep = (new_size - self.tail.start()) as usize;
            if keep < self.tail.len() {
                self.tail.truncate(keep);
            }
        }
        self.size = new_size;
        self.dirty = true;
        self.committed = None;
        self.progress.set_size(new_size);
        self.progress.set_dirty(true);
        self.note_memory(0);
        Ok(())
    }

    /// Options stored at commit.
    pub fn set_options(&mut self, options: PutOptions) {
        if options != self.options {
            self.options = options;
            self.dirty = true;
            self.committed = None;
            self.progress.set_dirty(true);
        }
    }

    /// The options in force.
    pub fn options(&self) -> &PutOptions {
        &self.options
    }

    /// Whether the next commit will send something.
    pub fn is_dirty(&self) -> bool {
        self.dirty
    }

    /// Replace the options without marking the file changed: the object already carries them
    /// (they were stored by other means, e.g. CopyObject onto itself).
    pub fn note_options_stored(&mut self, options: PutOptions) {
        self.options = options;
    }

    /// Small file: commit. Multipart in progress: wait for the parts sent so far.
    pub async fn fsync(&mut self) -> Result<(), WriteError> {
        self.usable()?;
        let Some(upload) = &mut self.upload else {
            return self.commit().await.map(|_| ());
        };
        match upload.wait_all().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e).await),
        }
    }

    /// Store the content: PutObject when it fits one window, else the last part and
    /// CompleteMultipartUpload. Nothing is sent when nothing changed since the last commit.
    pub async fn commit(&mut self) -> Result<Committed, WriteError> {
        self.usable()?;
        if !self.dirty {
            if let Some(c) = &self.committed {
                return Ok(c.clone());
            }
            if let Some(base) = &self.base {
                return Ok(base.committed());
            }
        }
        match self.commit_inner().await {
            Ok(c) => {
                self.base = Some(BaseObject::from_committed(&c));
                self.dirty = false;
                self.committed = Some(c.clone());
                // What is still in memory is in BOS too: nothing waits.
                self.progress.set_held(0);
                self.progress.set_size(c.size);
                self.progress.committed(&c.etag);
                Ok(c)
            }
            Err(e) => Err(self.fail(e).await),
        }
    }

    async fn commit_inner(&mut self) -> Result<Committed, WriteError> {
        let t = self.target.clone();
        if self.upload.is_none() && self.size <= self.tail.end() {
            // Everything is in the first window: one PutObject. The tail stays loaded, so a
            // write after this commit patches it and the next commit puts it again.
            self.ensure_loaded().await?;
            let body = self.tail.snapshot(self.size as usize);
            self.note_memory(body.len());
            let sent = body.len() as u64;
            self.progress.set_uploading(true);
            let put = t.api.put_object(&t.bucket, &t.key, body, &self.options).await;
            self.progress.set_uploading(false);
            let put = put?;
            self.progress.add_sent(sent);
            return Ok(Committed {
                size: self.size,
                etag: put.etag,
                last_modified: SystemTime::now(),
            });
        }
        while self.size > self.tail.end() {
            self.seal_window().await?;
        }
        let start = self.tail.start();
        let part_number = self.part_number(start);
        if self.size > start {
            let covered = self.base.as_ref().is_some_and(|b| b.covers(start, self.size));
            if !self.tail.is_loaded() && covered {
                let etag = self.base_etag();
                let last = self.size - 1;
                let upload = self.uploader().await?;
                upload.copy(part_number, &t.key, start, last, &etag).await?;
            } else {
                self.ensure_loaded().await?;
                let body = self.tail.take_part((self.size - start) as usize);
                let upload = self.uploader().await?;
                upload.upload(part_number, body).await?;
            }
        }
        let options = self.options.clone();
        let upload = self.uploader().await?;
        let done = upload.complete(&options).await?;
        self.upload = None;
        let committed = Committed {
            size: self.size,
            etag: done.etag,
            last_modified: SystemTime::now(),
        };
        // The new object is the base for any later write; the first window must be read back
        // before it is changed.
        let base = BaseObject::from_committed(&committed);
        self.tail.reset(0, !base.overlaps(0, self.config.part_size as u64));
        self.base = Some(base);
        Ok(committed)
    }

    /// Give up: abort the multipart upload and drop the buffers.
    pub async fn abort(&mut self) {
        if self.failed.is_none() {
            self.failed = Some("the write was abandoned".into());
        }
        if let Some(mut upload) = self.upload.take() {
            upload.abort().await;
        }
        self.tail.reset(self.tail.start(), false);
        self.progress.set_held(0);
        self.progress.set_uploading(false);
    }

    /// Send the current window as a full part and make the next window the tail.
    async fn seal_window(&mut self) -> Result<(), WriteError> {
        let start = self.tail.start();
        let end = self.tail.end();
        let part_number = self.part_number(start);
        let key = self.target.key.clone();
        let copy = !self.tail.is_loaded() && self.base.as_ref().is_some_and(|b| b.covers(start, end));
        if copy {
            let etag = self.base_etag();
            let upload = self.uploader().await?;
            upload.copy(part_number, &key, start, end - 1, &etag).await?;
            let next_loaded = self.next_window_loaded(end);
            self.tail.reset(end, next_loaded);
        } else {
            self.ensure_loaded().await?;
            let body = self.tail.take_part(self.config.part_size);
            if self.next_window_loaded(end) {
                self.tail.mark_loaded();
            }
            // While waiting for a free slot this body is held next to the parts in flight.
            self.note_memory(body.len());
            let upload = self.uploader().await?;
            upload.upload(part_number, body).await?;
        }
        self.note_memory(0);
        Ok(())
    }

    /// Read the tail window's old bytes in, if it has any and they are not in yet.
    async fn ensure_loaded(&mut self) -> Result<(), WriteError> {
        if self.tail.is_loaded() {
            return Ok(());
        }
        let (start, end) = (self.tail.start(), self.tail.end());
        match &self.base {
            Some(base) if base.overlaps(start, end) => {
                let old = base.read(&self.target, start, end).await?;
                self.tail.load(&old);
            }
            _ => self.tail.mark_loaded(),
        }
        self.note_memory(0);
        Ok(())
    }

    /// The multipart upload, started on first use.
    async fn uploader(&mut self) -> Result<&mut PartUploader, WriteError> {
        if self.upload.is_none() {
            let upload = PartUploader::initiate(
                self.target.clone(),
                &self.options,
                self.config.upload_concurrency,
                self.progress.clone(),
            )
            .await?;
            self.upload = Some(upload);
        }
        self.upload
            .as_mut()
            .ok_or_else(|| WriteError::Failed("multipart upload missing".into()))
    }

    fn next_window_loaded(&self, start: u64) -> bool {
        !self
            .base
            .as_ref()
            .is_some_and(|b| b.overlaps(start, start + self.config.part_size as u64))
    }

    fn base_etag(&self) -> String {
        self.base.as_ref().map(|b| b.etag.clone()).unwrap_or_default()
    }

    fn part_number(&self, window_start: u64) -> u32 {
        (window_start / self.config.part_size as u64) as u32 + 1
    }

    fn check_limit(&self, end: u64) -> Result<(), WriteError> {
        let limit = self.config.max_file_size();
        if end > limit {
            log::warn!(
                "{}: size {end} refused: more than {limit} bytes cannot be uploaded with {}-byte parts (EFBIG)",
                self.target.key,
                self.config.part_size
            );
            return Err(WriteError::TooLarge { size: end, limit });
        }
        Ok(())
    }

    fn usable(&self) -> Result<(), WriteError> {
        match &self.failed {
            Some(reason) => Err(WriteError::Failed(reason.clone())),
            None => Ok(()),
        }
    }

    /// Remember the failure, abort the upload, drop the buffers; hand the error back.
    async fn fail(&mut self, error: WriteError) -> WriteError {
        log::warn!("writing {} failed: {error}", self.target.key);
        self.failed = Some(error.to_string());
        if let Some(mut upload) = self.upload.take() {
            upload.abort().await;
        }
        self.tail.reset(self.tail.start(), false);
        self.progress.failed(&error.to_string());
        error
    }

    fn note_memory(&mut self, extra: usize) {
        let in_flight = self.upload.as_ref().map_or(0, |u| u.in_flight_bytes());
        self.high_water = self.high_water.max(self.tail.capacity() + in_flight + extra);
        // Part bodies in flight count themselves (`Progress::in_flight`).
        self.progress.set_held(self.tail.len() + extra);
    }
}
