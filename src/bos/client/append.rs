//! AppendObject with safe retries.
//!
//! AppendObject is not idempotent: when an attempt fails in a way worth retrying (a
//! timeout, a broken connection, a 5xx or a throttling answer), the append may or may
//! not have landed, and blindly re-sending it could write the bytes twice (with an
//! offset the second copy fails with OffsetIncorrect, which would wrongly report a lost
//! append; without an offset it would wipe whatever other writers appended since).
//! So before re-sending, the client looks at the object (HeadObject, then a ranged
//! GetObject of where the bytes would be):
//!
//! - the object is Appendable and holds exactly our bytes at `[start, start + len)`
//!   (`start` = the offset, or 0 for a create): the append landed — success, next offset
//!   `start + len`;
//! - with an offset, the object is Appendable and still `offset` long: it did not land —
//!   send again;
//! - with an offset, the object is Appendable with another length and without our bytes
//!   at the offset: another writer moved the end — fail with `409 OffsetIncorrect`, as
//!   BOS itself would, so the caller re-reads the length and appends at the new end;
//! - anything else (object missing, Normal, a create that did not land): send again, and
//!   let the server's answer decide.
//!
//! Each re-send is signed afresh; the number of attempts is bounded by the retry policy.

use bytes::Bytes;
use reqwest::Method;

use super::request::Call;
use super::response::{header, strip_etag};
use super::BosClient;
use crate::bos::types::*;
use crate::bos::{BosApi, BosError, BosResult};

/// What the object says about an append whose answer was lost.
enum Outcome {
    /// The append is in the object.
    Landed(AppendResult),
    /// It is not; sending it again is safe.
    Resend,
    /// It is not, and the object moved on.
    Failed(BosError),
}

impl BosClient {
    /// AppendObject, re-sent only when the object shows the previous attempt did not land.
    pub(super) async fn append_guarded(
        &self,
        bucket: &str,
        key: &str,
        offset: Option<u64>,
        body: Bytes,
        options: &PutOptions,
    ) -> BosResult<AppendResult> {
        let start = offset.unwrap_or(0);
        let len = body.len() as u64;
        let call = Call::new(Operation::AppendObject, Method::POST, Some(bucket), Some(key))
            .query("append", "")
            .query_opt("offset", offset.map(|o| o.to_string()))
            .object_headers(options)
            .write_conditions(options)
            .body_with_md5(body.clone());
        let mut attempt = 0;
        loop {
            let error = match self.send_once(&call).await {
                Ok(answer) => {
                    let next_offset = match header(&answer.headers, "x-bce-next-append-offset") {
                        Some(v) => v.parse().map_err(|_| {
                            BosError::InvalidResponse(format!("x-bce-next-append-offset is not a number: {v:?}"))
                        })?,
                        None => start + len,
                    };
                    let etag = header(&answer.headers, "etag")
                        .map(|e| strip_etag(&e))
                        .unwrap_or_default();
                    return Ok(AppendResult { next_offset, etag });
                }
                Err(e) => e,
            };
            if !error.is_retryable() || !self.retry.may_retry(attempt) {
                return Err(error);
            }
            self.wait_before_retry(&call, attempt, &error).await;
            attempt += 1;
            match self.append_outcome(bucket, key, offset, &body).await? {
                Outcome::Landed(result) => {
                    log::info!("AppendObject {bucket}/{key}: the failed attempt had landed; not sending it again");
                    return Ok(result);
                }
                Outcome::Failed(e) => return Err(e),
                Outcome::Resend => {}
            }
        }
    }

    async fn append_outcome(&self, bucket: &str, key: &str, offset: Option<u64>, body: &Bytes) -> BosResult<Outcome> {
        let meta = match self.head_object(bucket, key).await {
            Ok(meta) => meta,
            Err(e) if e.is_not_found() => return Ok(Outcome::Resend),
            Err(e) => return Err(e),
        };
        if meta.object_type != ObjectType::Appendable {
            return Ok(Outcome::Resend);
        }
        let start = offset.unwrap_or(0);
        let len = body.len() as u64;
        let end = start + len;
        let landed = if len == 0 {
            meta.size == end
        } else if meta.size >= end {
            let range = ByteRange {
                start,
                end: Some(end - 1),
            };
            let there = self.get_object(bucket, key, Some(range)).await?;
            there.body == *body
        } else {
            false
        };
        if landed {
            return Ok(Outcome::Landed(AppendResult {
                next_offset: end,
                etag: meta.etag,
            }));
        }
        match offset {
            Some(n) if meta.size != n => Ok(Outcome::Failed(BosError::service(
                409,
                "OffsetIncorrect",
                format!(
                    "after a failed attempt the object is {} bytes long and does not hold the bytes appended at {n}",
                    meta.size
                ),
                "",
            ))),
            _ => Ok(Outcome::Resend),
        }
    }
}
