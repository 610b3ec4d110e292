//! Write path of one open file handle: everything between `write(2)` and an object in BOS.
//!
//! A [`FileWriter`] is one of two pipelines, chosen when the handle opens:
//!
//! - **Stream** ([`stream`]) — for new content (`O_CREAT`, `O_TRUNC`) and for writing into an
//!   existing object without `O_APPEND`. The file is a sequence of `part_size` windows; only the
//!   window being written (the *tail*, [`buffer`]) is in memory. A file that closes inside the first
//!   window becomes exactly one PutObject. Once a write goes past the first window the upload turns
//!   into a multipart upload ([`multipart`]): each finished window is sent as a part in the
//!   background with `upload_concurrency` parts in flight, and `write` waits while that budget is
//!   used, so memory stays below `part_size × (upload_concurrency + 1)` whatever the file size.
//!   When the handle writes into an existing object, untouched windows of the old object are
//!   carried over with UploadPartCopy and touched ones are first read from it ([`existing`]); the
//!   old object stays in place until CompleteMultipartUpload (or the single PutObject) succeeds.
//! - **Append** ([`append`]) — for `O_APPEND`: writes are coalesced and sent with AppendObject at
//!   the tracked next-append offset, on a full buffer, on fsync/commit and from a timer.
//!
//! Every pipeline remembers its first upload failure: the writer aborts what it started and every
//! later call returns [`WriteError::Failed`], so `close()` can never succeed after a lost part.

pub mod append;
pub mod buffer;
pub mod existing;
pub mod multipart;
pub mod progress;
pub mod stream;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::bos::{BosApi, BosError, ObjectMeta, ObjectType, PutOptions, StorageClass};

use append::AppendWriter;
use progress::{Progress, WriterKind};
use stream::StreamWriter;

/// Largest object a multipart upload can produce: 10 000 parts of at most 5 GiB (BOS's 48.8 TB).
pub const MAX_OBJECT_SIZE: u64 = crate::bos::MAX_PART_SIZE * crate::bos::MAX_PART_NUMBER as u64;

/// Tuning of the write pipelines (command-line options of the mount).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteConfig {
    /// Size of every multipart part but the last, and the PutObject/multipart threshold
    /// (`--part-size`, default 8 MiB). Files up to this size are one PutObject.
    pub part_size: usize,
    /// Parts uploading at once (`--upload-concurrency`, default 4).
    pub upload_concurrency: usize,
    /// Bytes an append handle coalesces before sending an AppendObject (`--append-buffer`,
    /// default 256 KiB).
    pub append_buffer: usize,
    /// Longest time appended bytes wait in memory before being sent (`--append-flush-ms`,
    /// default 1 s).
    pub append_flush_interval: Duration,
}

impl Default for WriteConfig {
    fn default() -> Self {
        WriteConfig {
            part_size: 8 * 1024 * 1024,
            upload_concurrency: 4,
            append_buffer: 256 * 1024,
            append_flush_interval: Duration::from_secs(1),
        }
    }
}

impl WriteConfig {
    /// Why this configuration cannot work, or `None` when it can.
    pub fn problem(&self) -> Option<String> {
        if self.part_size == 0 || self.part_size as u64 > crate::bos::MAX_PART_SIZE {
            return Some(format!(
                "part size {} must be between 1 byte and {} bytes",
                self.part_size,
                crate::bos::MAX_PART_SIZE
            ));
        }
        if self.upload_concurrency == 0 {
            return Some("upload concurrency must be at least 1".into());
        }
        if self.append_buffer == 0 {
            return Some("append buffer must be at least 1 byte".into());
        }
        None
    }

    /// Largest Normal object that `O_APPEND` converts to an Appendable one by reading it whole
    /// (GetObject, then one AppendObject carrying the old bytes and the first new ones). Larger
    /// Normal objects are appended to through a multipart upload that copies the old object
    /// (see [`FileWriter::append`]). The limit keeps the conversion inside the memory budget of
    /// a streaming writer, `part_size × upload_concurrency`.
    pub fn append_rewrite_limit(&self) -> u64 {
        (self.part_size as u64).saturating_mul(self.upload_concurrency.max(1) as u64)
    }

    /// Largest file a stream writer can produce with this part size.
    pub fn max_file_size(&self) -> u64 {
        (self.part_size as u64)
            .saturating_mul(crate::bos::MAX_PART_NUMBER as u64)
            .min(MAX_OBJECT_SIZE)
    }
}

/// Why a write, fsync or commit failed. Mapped to errno in `crate::fs::error`.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// A BOS request failed after the client's retries (EIO, or what the BOS error means).
    #[error("upload failed: {0}")]
    Bos(#[from] BosError),
    /// A write into a part that is already uploaded (EINVAL).
    #[error("write at offset {offset} goes below the {uploaded} bytes already uploaded; only the tail can change")]
    NonSequential {
        /// Offset of the refused write (or truncation).
        offset: u64,
        /// Bytes already sent as parts.
        uploaded: u64,
    },
    /// The file would pass a BOS size limit (EFBIG).
    #[error("size {size} would exceed the limit of {limit} bytes")]
    TooLarge {
        /// Size the operation would reach.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The object cannot be appended to, e.g. ARCHIVE storage class (EINVAL / EOPNOTSUPP).
    #[error("cannot append: {0}")]
    NotAppendable(String),
    /// An earlier failure of this writer, remembered (EIO).
    #[error("an earlier upload of this file failed: {0}")]
    Failed(String),
}

/// What the object is after a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// Size in bytes.
    pub size: u64,
    /// ETag of the object as BOS reported it.
    pub etag: String,
    /// Modification time (the time of the commit when BOS does not report one).
    pub last_modified: SystemTime,
}

/// Where a writer writes: the API, bucket and key.
#[derive(Debug, Clone)]
pub struct Target {
    /// The BOS backend.
    pub api: Arc<dyn BosApi>,
    /// Bucket.
    pub bucket: String,
    /// Object key.
    pub key: String,
}

/// The write pipeline of one file handle opened for writing.
///
/// The caller (the file handle table) must serialise calls on one writer (they take `&mut self`)
/// and call [`FileWriter::commit`] on flush/close and [`FileWriter::abort`] when giving up. A
/// writer dropped with a multipart upload open aborts it in the background.
#[derive(Debug)]
pub struct FileWriter {
    inner: Inner,
    /// Set for an existing Appendable object opened without O_APPEND: writes at the current end
    /// go out as AppendObject until one lands elsewhere, which switches to a stream writer.
    positional: Option<Reopen>,
    /// The stream writer a pure append writer turns into keeps appending.
    append_after_reopen: bool,
    /// What this writer is doing, shared with status queries (every pipeline it becomes
    /// updates the same counters).
    progress: Progress,
}

/// What a positional append writer needs to become a stream writer.
#[derive(Debug)]
struct Reopen {
    target: Target,
    config: Arc<WriteConfig>,
}

#[derive(Debug)]
enum Inner {
    Stream(Box<StreamWriter>),
    Append(AppendWriter),
}

impl FileWriter {
    /// New content (O_CREAT / O_TRUNC / a new file): buffer, then PutObject or streaming multipart.
    /// No request is sent before the first window fills or [`FileWriter::commit`] runs; an empty
    /// file commits as a 0-byte PutObject.
    pub fn create(
        api: Arc<dyn BosApi>,
        bucket: String,
        key: String,
        options: PutOptions,
        config: Arc<WriteConfig>,
    ) -> Self {
        let target = Target { api, bucket, key };
        let progress = Progress::new(WriterKind::Stream);
        FileWriter {
            inner: Inner::Stream(Box::new(StreamWriter::new(
                target,
                options,
                config,
                None,
                false,
                progress.clone(),
            ))),
            positional: None,
            append_after_reopen: false,
            progress,
        }
    }

    /// O_APPEND: every write goes to the end. `existing` = HEAD of the object if it exists.
    ///
    /// - Missing object: created on the first send by AppendObject with `x-bce-forbid-overwrite`,
    ///   so two writers creating it at once do not wipe each other.
    /// - Appendable object: AppendObject at its `x-bce-next-append-offset`; no request at open.
    /// - Normal object up to [`WriteConfig::append_rewrite_limit`]: converted on the first send —
    ///   GetObject of the old bytes, then one AppendObject (no offset) carrying old and new bytes.
    ///   BOS replaces the object atomically, so a failure leaves the old object as it was.
    /// - Larger Normal object: appended through a stream writer over the old object (UploadPartCopy
    ///   of its part-sized windows, then the new tail), completed at commit; it stays Normal and the
    ///   old object stays in place until CompleteMultipartUpload succeeds.
    ///
    /// ARCHIVE storage class (in `options` or on the object) → [`WriteError::NotAppendable`].
    pub async fn append(
        api: Arc<dyn BosApi>,
        bucket: String,
        key: String,
        options: PutOptions,
        config: Arc<WriteConfig>,
        existing: Option<ObjectMeta>,
    ) -> Result<Self, WriteError> {
        let archived = options.storage_class == Some(StorageClass::Archive)
            || existing.as_ref().map(|m| m.storage_class) == Some(StorageClass::Archive);
        if archived {
            log::warn!("refusing O_APPEND on {key}: ARCHIVE objects cannot be appended to in BOS");
            return Err(WriteError::NotAppendable(format!(
                "{key} has storage class ARCHIVE, which BOS cannot append to"
            )));
        }
        let target = Target { api, bucket, key };
        let progress = Progress::new(WriterKind::Append);
        let inner = match existing {
            Some(meta) if meta.object_type == ObjectType::Normal && meta.size > config.append_rewrite_limit() => {
                log::info!(
                    "O_APPEND on the {}-byte Normal object {}: appending through a multipart upload that copies it",
                    meta.size,
                    target.key
                );
                Inner::Stream(Box::new(StreamWriter::new(
                    target,
                    options,
                    config,
                    Some(meta),
                    true,
                    progress.clone(),
                )))
            }
            existing => Inner::Append(AppendWriter::new(target, options, config, existing, progress.clone())),
        };
        Ok(FileWriter {
            inner,
            positional: None,
            append_after_reopen: false,
            progress,
        })
    }

    /// Open for writing without O_TRUNC/O_APPEND on an existing object: old bytes stay, writes
    /// modify or extend them. The object is rewritten at commit, and only if something changed:
    /// up to `part_size` as one PutObject (the old bytes are read once, when first written to);
    /// larger as a multipart upload where windows nobody wrote are UploadPartCopy of the old
    /// object (conditioned on its ETag) and written windows are read, patched and uploaded. Writes
    /// must move forward window by window like a streaming writer's ([`WriteError::NonSequential`]
    /// below the uploaded boundary). The old object stays until the new one is complete.
    ///
    /// An Appendable object (a log opened with `O_WRONLY` and written at its end, as some loggers
    /// do instead of `O_APPEND`) keeps being appended to with AppendObject for as long as every
    /// write lands exactly at the current end; the first write (or truncation) anywhere else
    /// sends what is buffered and continues as described above, from the object as it then is.
    pub async fn open_existing(
        api: Arc<dyn BosApi>,
        bucket: String,
        key: String,
        options: PutOptions,
        config: Arc<WriteConfig>,
        existing: ObjectMeta,
    ) -> Result<Self, WriteError> {
        let target = Target { api, bucket, key };
        if existing.object_type == ObjectType::Appendable && existing.storage_class != StorageClass::Archive {
            let progress = Progress::new(WriterKind::Append);
            let writer = AppendWriter::new(
                target.clone(),
                options,
                config.clone(),
                Some(existing),
                progress.clone(),
            );
            return Ok(FileWriter {
                inner: Inner::Append(writer),
                positional: Some(Reopen { target, config }),
                append_after_reopen: false,
                progress,
            });
        }
        let progress = Progress::new(WriterKind::Stream);
        Ok(FileWriter {
            inner: Inner::Stream(Box::new(StreamWriter::new(
                target,
                options,
                config,
                Some(existing),
                false,
                progress.clone(),
            ))),
            positional: None,
            append_after_reopen: false,
            progress,
        })
    }

    /// Leave positional append mode: send what waits, then continue as a stream writer over the
    /// object as it is now.
    async fn leave_positional(&mut self) -> Result<(), WriteError> {
        self.become_stream(true).await
    }

    /// Continue as a stream writer over what the bucket has and the bytes still waiting
    /// (nothing is sent). A pure append writer turned into one keeps appending when
    /// `keep_appending`; otherwise it writes where it is told (the caller passes the end for
    /// descriptors opened with `O_APPEND`).
    pub async fn become_stream(&mut self, keep_appending: bool) -> Result<(), WriteError> {
        let writer = match &mut self.inner {
            Inner::Append(writer) => writer,
            Inner::Stream(stream) => {
                if !keep_appending {
                    stream.stop_appending();
                }
                return Ok(());
            }
        };
        if self.positional.is_none() {
            // A pure append writer asked to do what only a stream writer can (truncate to a
            // size other than 0 or its end): it continues as a stream writer in append mode.
            let target = writer.target().clone();
            self.positional = Some(Reopen {
                target,
                config: writer.config(),
            });
            self.append_after_reopen = keep_appending;
        }
        if self.positional.is_none() {
            return Ok(());
        }
        // Nothing is sent here: the stream writer starts over what the bucket has and takes
        // the bytes still waiting, and stores it all at its commit.
        let (base, unsent) = writer.take_unsent().await?;
        let options = writer.options();
        writer.abort().await;
        let reopen = self
            .positional
            .take()
            .ok_or_else(|| WriteError::Failed("reopen state lost".into()))?;
        log::debug!(
            "{}: write away from the end of an appendable object; rewriting it at commit",
            reopen.target.key
        );
        let append_mode = std::mem::take(&mut self.append_after_reopen);
        let start = base.as_ref().map_or(0, |m| m.size);
        let mut stream = StreamWriter::new(
            reopen.target,
            options,
            reopen.config,
            base,
            append_mode,
            self.progress.clone(),
        );
        if !unsent.is_empty() {
            stream.write(start, &unsent).await?;
        }
        self.inner = Inner::Stream(Box::new(stream));
        Ok(())
    }

    /// Write at `offset` (ignored in append mode: the bytes go to the end); may wait
    /// (back-pressure) while the in-flight budget is used. Returns bytes accepted.
    pub async fn write(&mut self, offset: u64, data: &[u8]) -> Result<usize, WriteError> {
        if self.positional.is_some() && offset != self.size() && !data.is_empty() {
            self.leave_positional().await?;
        }
        match &mut self.inner {
            Inner::Stream(w) => w.write(offset, data).await,
            Inner::Append(w) => w.write(data).await,
        }
    }

    /// Read `[offset, offset + len)` of the file as this handle sees it (O_RDWR handles): an
    /// append writer answers from BOS and its buffer; a stream writer from its tail window
    /// (the whole file while it is within the first part). Bytes already sent as parts of an
    /// unfinished multipart upload cannot be read back ([`WriteError::NonSequential`]).
    pub async fn read(&mut self, offset: u64, len: usize) -> Result<bytes::Bytes, WriteError> {
        match &mut self.inner {
            Inner::Stream(w) => w.read(offset, len).await,
            Inner::Append(w) => w.read(offset, len).await,
        }
    }

    /// Current logical size (for getattr while open).
    pub fn size(&self) -> u64 {
        match &self.inner {
            Inner::Stream(w) => w.size(),
            Inner::Append(w) => w.size(),
        }
    }

    /// Truncate the pending content (ftruncate / setattr size while open). Stream writers accept
    /// any size at or above the uploaded boundary, and 0 always (an open multipart upload is
    /// aborted). Append writers accept 0 (the object is replaced by an empty Appendable one at the
    /// next send) and the current size.
    pub async fn truncate(&mut self, size: u64) -> Result<(), WriteError> {
        let append_cannot = matches!(self.inner, Inner::Append(_)) && size != 0;
        if (self.positional.is_some() || append_cannot) && size != self.size() {
            self.leave_positional().await?;
        }
        match &mut self.inner {
            Inner::Stream(w) => w.truncate(size).await,
            Inner::Append(w) => w.truncate(size).await,
        }
    }

    /// Replace user metadata / options to be stored at commit (chmod/utimes while open). For a
    /// stream writer they apply at commit (a multipart upload already started keeps the storage
    /// class and content type it was initiated with; user metadata is sent again at Complete).
    /// For an append writer they apply when the object is created or converted; BOS ignores
    /// metadata on later appends.
    pub fn set_options(&mut self, options: PutOptions) {
        match &mut self.inner {
            Inner::Stream(w) => w.set_options(options),
            Inner::Append(w) => w.set_options(options),
        }
    }

    /// The options in force (stored with the object at the next create/commit).
    pub fn options(&self) -> PutOptions {
        match &self.inner {
            Inner::Stream(w) => w.options().clone(),
            Inner::Append(w) => w.options(),
        }
    }

    /// The type of object this writer produces.
    pub fn object_type(&self) -> ObjectType {
        match &self.inner {
            Inner::Stream(_) => ObjectType::Normal,
            Inner::Append(_) => ObjectType::Appendable,
        }
    }

    /// Whether options set now are carried by the next commit: a stream writer with changes
    /// not yet committed (an append writer stores options only when it creates the object).
    pub fn carries_options(&self) -> bool {
        match &self.inner {
            Inner::Stream(w) => w.is_dirty(),
            Inner::Append(_) => false,
        }
    }

    /// Whether options set now reach the bucket with the writer's next store: a stream writer
    /// with changes, or an append writer whose next send creates (or converts) the object.
    pub async fn options_go_with_next_store(&self) -> bool {
        match &self.inner {
            Inner::Stream(w) => w.is_dirty(),
            Inner::Append(w) => w.will_create().await,
        }
    }

    /// Replace the options without making the next commit send anything: the object already
    /// carries them (stored by CopyObject onto itself).
    pub fn note_options_stored(&mut self, options: PutOptions) {
        match &mut self.inner {
            Inner::Stream(w) => w.note_options_stored(options),
            Inner::Append(w) => w.set_options(options),
        }
    }

    /// fsync: make what was written durable in BOS as far as the mode allows.
    ///
    /// - Append: every buffered byte is sent; returns once BOS has it.
    /// - Stream, file still within the first part: same as [`FileWriter::commit`] (one PutObject);
    ///   later writes are committed again at the next flush.
    /// - Stream, multipart upload in progress: waits until every part sent so far is stored. The
    ///   tail (less than one part) stays in memory and the object becomes visible only at commit:
    ///   BOS has no way to make an unfinished multipart upload readable.
    pub async fn fsync(&mut self) -> Result<(), WriteError> {
        match &mut self.inner {
            Inner::Stream(w) => w.fsync().await,
            Inner::Append(w) => w.flush().await,
        }
    }

    /// flush / close: after `Ok` the object holds exactly the bytes written. Idempotent: without
    /// writes in between it sends nothing and returns the same [`Committed`]. A write after a
    /// commit (dup'ed descriptors flush more than once) keeps working: the committed object becomes
    /// the base of the writer — as if reopened without O_TRUNC — and the next commit stores the
    /// new content (append writers simply keep appending).
    pub async fn commit(&mut self) -> Result<Committed, WriteError> {
        match &mut self.inner {
            Inner::Stream(w) => w.commit().await,
            Inner::Append(w) => w.commit().await,
        }
    }

    /// Give up: abort any multipart upload, drop buffers. Later calls return
    /// [`WriteError::Failed`]. Must be called on every failure path and on drop paths (a writer
    /// dropped without it still aborts its multipart upload in the background).
    pub async fn abort(&mut self) {
        match &mut self.inner {
            Inner::Stream(w) => w.abort().await,
            Inner::Append(w) => w.abort().await,
        }
    }

    /// Highest number of payload bytes this writer held at once (tail buffer capacity plus parts
    /// in flight, or the append buffer), for memory-bound checks.
    pub fn memory_high_water(&self) -> usize {
        match &self.inner {
            Inner::Stream(w) => w.memory_high_water(),
            Inner::Append(w) => w.memory_high_water(),
        }
    }

    /// Whether the next commit sends something (writes, a truncation, a new object, bytes an
    /// append writer still holds).
    pub async fn has_unsent(&self) -> bool {
        match &self.inner {
            Inner::Stream(w) => w.is_dirty(),
            Inner::Append(w) => w.has_unsent().await,
        }
    }

    /// Whether the commit changes the object: bytes or an upload wait, or (append writers) bytes
    /// already landed since the last commit.
    pub async fn changes_object(&self) -> bool {
        match &self.inner {
            Inner::Stream(w) => w.is_dirty(),
            Inner::Append(w) => w.has_unsent().await || w.landed_since_commit().await,
        }
    }

    /// Whether an append writer holds written bytes not sent yet (stream writers: false).
    pub async fn holds_appended_bytes(&self) -> bool {
        match &self.inner {
            Inner::Stream(_) => false,
            Inner::Append(w) => w.holds_bytes().await,
        }
    }

    /// What this writer is doing, readable without its lock (status queries, gauges).
    pub fn progress(&self) -> Progress {
        self.progress.clone()
    }

    /// Whether the writer is in append mode (every write goes to the end of the object).
    pub fn is_append(&self) -> bool {
        match &self.inner {
            Inner::Stream(w) => w.is_append_mode(),
            Inner::Append(_) => self.positional.is_none(),
        }
    }
}

impl Drop for FileWriter {
    fn drop(&mut self) {
        // A closed file holds nothing and uploads nothing, whoever still reads its counters.
        self.progress.set_held(0);
        self.progress.set_uploading(false);
    }
}

#[cfg(test)]
mod tests;
