//! One multipart upload in progress: parts in flight as tokio tasks (a `JoinSet`) with a bounded
//! number at once, the ETags of finished parts, and the abort on every way out.
//!
//! `upload`/`copy` wait for a free slot before spawning, which is the back-pressure that bounds a
//! writer's memory to `concurrency` part bodies in flight. The first failed part is returned by
//! the call that notices it; the caller then aborts. A `PartUploader` dropped without
//! [`PartUploader::complete`] or [`PartUploader::abort`] aborts the upload in the background, so
//! no code path leaves an orphaned upload behind.

use bytes::Bytes;
use tokio::task::JoinSet;

use crate::bos::{BosResult, CompleteResult, CompletedPart, CopyConditions, PutOptions};

use super::progress::Progress;
use super::{Target, WriteError};

/// What one part task reports: part number, body bytes it held, ETag or error.
type PartOutcome = (u32, usize, BosResult<String>);

/// A multipart upload and its parts in flight.
#[derive(Debug)]
pub struct PartUploader {
    target: Target,
    upload_id: String,
    concurrency: usize,
    tasks: JoinSet<PartOutcome>,
    parts: Vec<CompletedPart>,
    in_flight_bytes: usize,
    finished: bool,
    progress: Progress,
}

impl PartUploader {
    /// InitiateMultipartUpload with `options` (content type, storage class, user metadata).
    pub(crate) async fn initiate(
        target: Target,
        options: &PutOptions,
        concurrency: usize,
        progress: Progress,
    ) -> BosResult<Self> {
        let upload_id = target
            .api
            .initiate_multipart_upload(&target.bucket, &target.key, options)
            .await?;
        progress.reset_parts();
        progress.set_uploading(true);
        log::debug!("multipart upload {upload_id} started for {}", target.key);
        Ok(PartUploader {
            target,
            upload_id,
            concurrency: concurrency.max(1),
            tasks: JoinSet::new(),
            parts: Vec::new(),
            in_flight_bytes: 0,
            finished: false,
            progress,
        })
    }

    /// The upload id.
    pub fn upload_id(&self) -> &str {
        &self.upload_id
    }

    /// Body bytes of parts being uploaded now.
    pub fn in_flight_bytes(&self) -> usize {
        self.in_flight_bytes
    }

    /// Parts uploaded or in flight.
    pub fn part_count(&self) -> usize {
        self.parts.len() + self.tasks.len()
    }

    /// Start UploadPart of `body` as `part_number`, after waiting for a free slot.
    pub async fn upload(&mut self, part_number: u32, body: Bytes) -> Result<(), WriteError> {
        self.wait_for_capacity().await?;
        let t = self.target.clone();
        let upload_id = self.upload_id.clone();
        let len = body.len();
        self.in_flight_bytes += len;
        let progress = self.progress.clone();
        progress.part_started();
        let held = progress.in_flight(len);
        self.tasks.spawn(async move {
            let result = t
                .api
                .upload_part(&t.bucket, &t.key, &upload_id, part_number, body)
                .await;
            drop(held);
            if result.is_ok() {
                progress.part_done(len as u64);
            }
            (part_number, len, result)
        });
        Ok(())
    }

    /// Start UploadPartCopy of the inclusive byte range `first..=last` of `source_key` (same
    /// bucket) as `part_number`, only if the source still has ETag `source_etag`.
    pub async fn copy(
        &mut self,
        part_number: u32,
        source_key: &str,
        first: u64,
        last: u64,
        source_etag: &str,
    ) -> Result<(), WriteError> {
        self.wait_for_capacity().await?;
        let t = self.target.clone();
        let upload_id = self.upload_id.clone();
        let source_key = source_key.to_owned();
        let conditions = CopyConditions {
            if_match: Some(source_etag.to_owned()),
            ..CopyConditions::default()
        };
        let progress = self.progress.clone();
        progress.part_started();
        self.tasks.spawn(async move {
            let result = t
                .api
                .upload_part_copy(
                    &t.bucket,
                    &t.key,
                    &upload_id,
                    part_number,
                    &t.bucket,
                    &source_key,
                    Some((first, last)),
                    &conditions,
                )
                .await
                .map(|r| r.etag);
            if result.is_ok() {
                progress.part_done(last + 1 - first);
            }
            (part_number, 0, result)
        });
        Ok(())
    }

    /// Wait until every part started so far is stored.
    pub async fn wait_all(&mut self) -> Result<(), WriteError> {
        while !self.tasks.is_empty() {
            self.join_one().await?;
        }
        Ok(())
    }

    /// Wait for the remaining parts and CompleteMultipartUpload with the parts in ascending order.
    pub async fn complete(&mut self, options: &PutOptions) -> Result<CompleteResult, WriteError> {
        self.wait_all().await?;
        self.parts.sort_by_key(|p| p.part_number);
        let t = &self.target;
        let result = t
            .api
            .complete_multipart_upload(&t.bucket, &t.key, &self.upload_id, &self.parts, options)
            .await?;
        self.finished = true;
        self.progress.set_uploading(false);
        log::debug!(
            "multipart upload {} of {} completed with {} parts",
            self.upload_id,
            t.key,
            self.parts.len()
        );
        Ok(result)
    }

    /// Cancel the parts in flight and AbortMultipartUpload (failures are logged: BOS lifecycle
    /// rules or `ListMultipartUploads` can still clean up).
    pub async fn abort(&mut self) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.tasks.shutdown().await;
        self.in_flight_bytes = 0;
        self.progress.set_uploading(false);
        let t = &self.target;
        match t.api.abort_multipart_upload(&t.bucket, &t.key, &self.upload_id).await {
            Ok(()) => log::info!("aborted multipart upload {} of {}", self.upload_id, t.key),
            Err(e) => log::warn!("could not abort multipart upload {} of {}: {e}", self.upload_id, t.key),
        }
    }

    async fn wait_for_capacity(&mut self) -> Result<(), WriteError> {
        while self.tasks.len() >= self.concurrency {
            self.join_one().await?;
        }
        Ok(())
    }

    async fn join_one(&mut self) -> Result<(), WriteError> {
        let Some(joined) = self.tasks.join_next().await else {
            return Ok(());
        };
        match joined {
            Ok((part_number, len, result)) => {
                self.in_flight_bytes -= len;
                let e_tag = result?;
                self.parts.push(CompletedPart { part_number, e_tag });
                Ok(())
            }
            Err(e) => Err(WriteError::Failed(format!("a part upload task ended abnormally: {e}"))),
        }
    }
}

impl Drop for PartUploader {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        self.tasks.abort_all();
        self.progress.set_uploading(false);
        let t = self.target.clone();
        let upload_id = std::mem::take(&mut self.upload_id);
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if let Err(e) = t.api.abort_multipart_upload(&t.bucket, &t.key, &upload_id).await {
                        log::warn!("could not abort multipart upload {upload_id} of {}: {e}", t.key);
                    }
                });
            }
            Err(_) => log::warn!(
                "multipart upload {upload_id} of {} dropped outside the runtime; it is left for lifecycle cleanup",
                t.key
            ),
        }
    }
}
