//! Client-side metrics: what the BOS client sent and got back, updated by its one send
//! path for every attempt.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::primitives::Histogram;
use super::text::Writer;

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Outcome {
    /// An answer with this HTTP status.
    Status(u16),
    /// No answer: connection failure or timeout.
    Transport,
}

impl Outcome {
    fn label(self) -> String {
        match self {
            Outcome::Status(status) => status.to_string(),
            Outcome::Transport => "error".to_string(),
        }
    }
}

/// Counters of BOS requests.
#[derive(Debug, Default)]
pub struct ClientMetrics {
    requests: Mutex<BTreeMap<(&'static str, Outcome), u64>>,
    retries: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<BTreeMap<&'static str, Arc<Histogram>>>,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
}

impl ClientMetrics {
    /// Count one attempt of `operation` that ended with `outcome` after `elapsed`, having
    /// sent `sent` body bytes and received `received`.
    pub fn record(&self, operation: &'static str, outcome: Outcome, elapsed: Duration, sent: u64, received: u64) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry((operation, outcome)).or_insert(0) += 1;
        }
        let histogram = match self.latency.lock() {
            Ok(mut map) => Some(Arc::clone(map.entry(operation).or_default())),
            Err(_) => None,
        };
        if let Some(h) = histogram {
            h.observe(elapsed);
        }
        self.bytes_sent.fetch_add(sent, Ordering::Relaxed);
        self.bytes_received.fetch_add(received, Ordering::Relaxed);
    }

    /// Count one retry of `operation` (an attempt that failed and will be sent again).
    pub fn retry(&self, operation: &'static str) {
        if let Ok(mut map) = self.retries.lock() {
            *map.entry(operation).or_insert(0) += 1;
        }
    }

    /// Attempts of `operation` that ended with `outcome` so far.
    pub fn requests(&self, operation: &str, outcome: Outcome) -> u64 {
        self.requests
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|((op, o), _)| *op == operation && *o == outcome)
                    .map(|(_, n)| *n)
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Body bytes sent and received so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_sent.load(Ordering::Relaxed),
            self.bytes_received.load(Ordering::Relaxed),
        )
    }

    pub(super) fn render(&self, out: &mut Writer) {
        out.family(
            "bosmount_bos_requests_total",
            "counter",
            "BOS requests sent (every attempt), by operation and HTTP status (\"error\": no answer).",
        );
        if let Ok(map) = self.requests.lock() {
            for ((op, outcome), n) in map.iter() {
                out.sample(
                    "bosmount_bos_requests_total",
                    &[("operation", op), ("status", &outcome.label())],
                    n,
                );
            }
        }
        out.family(
            "bosmount_bos_retries_total",
            "counter",
            "Failed BOS attempts that were sent again, by operation.",
        );
        if let Ok(map) = self.retries.lock() {
            for (op, n) in map.iter() {
                out.sample("bosmount_bos_retries_total", &[("operation", op)], n);
            }
        }
        out.family(
            "bosmount_bos_bytes_sent_total",
            "counter",
            "Request body bytes sent to BOS.",
        );
        out.sample("bosmount_bos_bytes_sent_total", &[], self.bytes().0);
        out.family(
            "bosmount_bos_bytes_received_total",
            "counter",
            "Response body bytes received from BOS.",
        );
        out.sample("bosmount_bos_bytes_received_total", &[], self.bytes().1);
        out.family(
            "bosmount_bos_request_duration_seconds",
            "histogram",
            "Time from sending a BOS request to having its whole answer, by operation.",
        );
        let histograms: Vec<(&'static str, Arc<Histogram>)> = match self.latency.lock() {
            Ok(map) => map.iter().map(|(op, h)| (*op, Arc::clone(h))).collect(),
            Err(_) => Vec::new(),
        };
        for (op, h) in histograms {
            out.histogram(
                "bosmount_bos_request_duration_seconds",
                &[("operation", op)],
                &h.snapshot(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_retries_bytes_and_latency() {
        let m = ClientMetrics::default();
        m.record("PutObject", Outcome::Status(200), Duration::from_millis(20), 5, 0);
        m.record("PutObject", Outcome::Status(503), Duration::from_millis(20), 5, 100);
        m.record("GetObject", Outcome::Transport, Duration::from_secs(1), 0, 0);
        m.retry("PutObject");
        let mut w = Writer::default();
        m.render(&mut w);
        let text = w.finish();
        for line in [
            "bosmount_bos_requests_total{operation=\"PutObject\",status=\"200\"} 1",
            "bosmount_bos_requests_total{operation=\"PutObject\",status=\"503\"} 1",
            "bosmount_bos_requests_total{operation=\"GetObject\",status=\"error\"} 1",
            "bosmount_bos_retries_total{operation=\"PutObject\"} 1",
            "bosmount_bos_bytes_sent_total 10",
            "bosmount_bos_bytes_received_total 100",
            "bosmount_bos_request_duration_seconds_bucket{operation=\"PutObject\",le=\"0.025\"} 2",
            "bosmount_bos_request_duration_seconds_bucket{operation=\"GetObject\",le=\"+Inf\"} 1",
            "bosmount_bos_request_duration_seconds_count{operation=\"PutObject\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
        assert_eq!(m.requests("PutObject", Outcome::Status(503)), 1);
    }
}
