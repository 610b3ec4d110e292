//! What the client records about every attempt it sends: the metrics of
//! [`crate::metrics::global`] (requests by operation and status, bytes, latency, retries)
//! and one log line — `debug` for a failure answered by BOS, `trace` for a success —
//! naming operation, bucket/key, status, time taken and BOS request id. Nothing of the
//! request's headers is logged, so neither the Authorization header nor a session token
//! can appear.

use std::time::Duration;

use super::request::Call;
use super::Answer;
use crate::bos::BosError;
use crate::metrics::Outcome;

/// Record attempt `call` that ended with `result` after `elapsed`.
pub(super) fn attempt(call: &Call<'_>, result: &Result<Answer, BosError>, elapsed: Duration) {
    let op = call.op.as_str();
    let sent = call.body.len() as u64;
    let target = format!("{}/{}", call.bucket.unwrap_or(""), call.key.unwrap_or(""));
    match result {
        Ok(answer) => {
            crate::metrics::global().client.record(
                op,
                Outcome::Status(answer.status),
                elapsed,
                sent,
                answer.body.len() as u64,
            );
            if log::log_enabled!(log::Level::Trace) {
                let id = answer
                    .headers
                    .get("x-bce-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                log::trace!(
                    "{op} {target}: HTTP {} in {elapsed:?}, {sent} bytes up, {} down [request id {id}]",
                    answer.status,
                    answer.body.len()
                );
            }
        }
        Err(e) => {
            let outcome = e.status().map_or(Outcome::Transport, Outcome::Status);
            crate::metrics::global().client.record(op, outcome, elapsed, sent, 0);
            log::debug!("{op} {target}: failed in {elapsed:?}: {e}");
        }
    }
}

/// Count a retry of `call`.
pub(super) fn retry(call: &Call<'_>) {
    crate::metrics::global().client.retry(call.op.as_str());
}
