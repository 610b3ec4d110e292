//! Copying an object through the mount when the server will not copy it: BOS has been seen
//! to refuse CopyObject of an Appendable object (400 NotAllowCopy), which a rename (e.g.
//! logrotate's `app.log` → `app.log.1`) needs.
//!
//! The source is read in `part_size` ranges (GetObject) and written by a stream writer —
//! one PutObject for a small object, a multipart upload for a large one, so memory stays
//! within the writer's budget — with the source's content type and user metadata. Every
//! range read must come from the ETag we started with, and the source is checked once more
//! after the copy is stored: if it changed meanwhile (a logger appended), the copy is made
//! again from the new version; after a few tries the rename fails with ESTALE rather than
//! losing the new lines. A failed copy never deletes the target (it may have existed). The copy is a
//! Normal object (a rotated log is not appended to again). Once a server has refused such a
//! copy, the mount goes straight to this path for Appendable sources.

use std::sync::atomic::Ordering;

use crate::bos::{ByteRange, ErrorKind, ObjectType};
use crate::fs::attr::Perms;
use crate::fs::error::{FsError, FsResult};
use crate::fs::write::existing::same_etag;
use crate::fs::write::FileWriter;
use crate::fs::BosFs;

impl BosFs {
    /// Whether a copy of `from` should be streamed rather than asked of the server.
    pub(crate) fn should_stream_copy(&self, source_type: Option<ObjectType>) -> bool {
        source_type == Some(ObjectType::Appendable) && self.copy_refused.load(Ordering::Relaxed)
    }

    /// Remember that the server refuses CopyObject of Appendable objects.
    pub(crate) fn note_copy_refused(&self, error: &crate::bos::BosError) -> bool {
        if error.kind() == ErrorKind::NotAllowCopy {
            if !self.copy_refused.swap(true, Ordering::Relaxed) {
                log::info!("the server refuses CopyObject of appendable objects; renames will stream them");
            }
            return true;
        }
        false
    }

    /// Copy `from` to `to` by reading and writing it (see the module doc), again from the
    /// source's new version when it changed during the copy ([`STREAM_COPY_ATTEMPTS`] in all).
    /// Returns the copy's ETag.
    pub(crate) async fn copy_by_streaming(&self, from: &str, to: &str) -> FsResult<String> {
        for _ in 1..STREAM_COPY_ATTEMPTS {
            match self.copy_by_streaming_once(from, to).await {
                Err(FsError::Read(crate::fs::read::ReadError::Changed { .. })) => {
                    log::info!("{from} changed while it was copied to {to}; copying it again");
                }
                other => return other,
            }
        }
        self.copy_by_streaming_once(from, to).await
    }

    async fn copy_by_streaming_once(&self, from: &str, to: &str) -> FsResult<String> {
        self.cache().invalidate(from);
        let meta = self.head(from).await?;
        let mut options = self.put_options(to, Some(&meta), &Perms::default());
        // Keep the source's times and headers: a rename does not change them.
        options.user_meta = meta.user_meta.clone();
        options.cache_control = meta.cache_control.clone();
        options.content_disposition = meta.content_disposition.clone();
        options.content_encoding = meta.content_encoding.clone();
        options.expires = meta.expires.clone();
        if !options.user_meta.contains_key(crate::fs::meta_codec::MTIME) {
            options.user_meta.insert(
                crate::fs::meta_codec::MTIME.into(),
                crate::fs::meta_codec::format_time(meta.last_modified),
            );
        }
        let bucket = self.config.bucket.clone();
        let mut writer = FileWriter::create(
            self.api.clone(),
            bucket.clone(),
            to.to_string(),
            options,
            self.config.write.clone(),
        );
        let chunk = self.config.write.part_size.max(1) as u64;
        let changed = || FsError::Read(crate::fs::read::ReadError::Changed { key: from.to_string() });
        let result = async {
            let mut offset = 0;
            while offset < meta.size {
                let end = (offset + chunk).min(meta.size);
                let range = ByteRange {
                    start: offset,
                    end: Some(end - 1),
                };
                let got = self.api.get_object(&bucket, from, Some(range)).await?;
                if !same_etag(&got.meta.etag, &meta.etag) || got.body.len() as u64 != end - offset {
                    return Err(changed());
                }
                writer.write(offset, &got.body).await?;
                offset = end;
            }
            Ok(writer.commit().await?)
        }
        .await;
        let done = match result {
            Ok(done) => done,
            Err(e) => {
                // Nothing was stored: a target that existed is untouched.
                writer.abort().await;
                return Err(e);
            }
        };
        let now = self.api.head_object(&bucket, from).await?;
        if !same_etag(&now.etag, &meta.etag) {
            // The copy is complete and consistent (an older version of the source); it is
            // replaced by the next attempt, never deleted — the target may have existed.
            return Err(changed());
        }
        Ok(done.etag)
    }
}

/// Streamed copies tried when the source keeps changing under them.
const STREAM_COPY_ATTEMPTS: u32 = 3;
