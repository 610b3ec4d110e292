//! Request and byte counters served at `GET /_stats`, keyed by BOS operation names, and the
//! most requests answered at once (a client that should overlap its requests shows it here,
//! whatever the machine's speed).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A copy of the counters at one moment (also the JSON of `GET /_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Requests per BOS operation name.
    pub requests: BTreeMap<String, u64>,
    /// Request body bytes received.
    pub bytes_in: u64,
    /// Response body bytes sent.
    pub bytes_out: u64,
    /// Most BOS requests in progress at once (latency included) since the last reset.
    #[serde(default)]
    pub peak_in_flight: u64,
}

impl StatsSnapshot {
    /// Requests counted for `operation` (0 when none).
    pub fn count(&self, operation: &str) -> u64 {
        self.requests.get(operation).copied().unwrap_or(0)
    }

    /// All requests counted.
    pub fn total(&self) -> u64 {
        self.requests.values().sum()
    }
}

/// Live counters, shared by every request.
#[derive(Debug, Default)]
pub struct Stats {
    requests: Mutex<BTreeMap<&'static str, u64>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    in_flight: AtomicU64,
    peak_in_flight: AtomicU64,
}

/// One BOS request in progress; counted out when dropped.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Stats);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Stats {
    /// Count one request of `operation`.
    pub fn request(&self, operation: &'static str) {
        if let Ok(mut map) = self.requests.lock() {
            *map.entry(operation).or_insert(0) += 1;
        }
    }

    /// A request begins (its answer, latency included, ends when the guard drops).
    pub fn begin(&self) -> InFlight<'_> {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        InFlight(self)
    }

    /// Count received body bytes.
    pub fn add_in(&self, n: u64) {
        self.bytes_in.fetch_add(n, Ordering::Relaxed);
    }

    /// Count sent body bytes.
    pub fn add_out(&self, n: u64) {
        self.bytes_out.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub fn snapshot(&self) -> StatsSnapshot {
        let requests = match self.requests.lock() {
            Ok(map) => map.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            Err(_) => BTreeMap::new(),
        };
        StatsSnapshot {
            requests,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            peak_in_flight: self.peak_in_flight.load(Ordering::Relaxed),
        }
    }

    /// Set every counter back to zero.
    pub fn reset(&self) {
        if let Ok(mut map) = self.requests.lock() {
            map.clear();
        }
        self.bytes_in.store(0, Ordering::Relaxed);
        self.bytes_out.store(0, Ordering::Relaxed);
        self.peak_in_flight
            .store(self.in_flight.load(Ordering::Relaxed), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let s = Stats::default();
        s.request("PutObject");
        s.request("PutObject");
        s.add_in(5);
        let snap = s.snapshot();
        assert_eq!(snap.count("PutObject"), 2);
        assert_eq!(snap.bytes_in, 5);
        let json = serde_json::to_string(&snap).expect("json");
        assert!(json.contains("\"requests\":{\"PutObject\":2}"));
        s.reset();
        assert_eq!(s.snapshot().total(), 0);
    }

    #[test]
    fn peak_in_flight_counts_overlapping_requests() {
        let s = Stats::default();
        let a = s.begin();
        let b = s.begin();
        drop(a);
        let _c = s.begin();
        assert_eq!(s.snapshot().peak_in_flight, 2);
        drop(b);
        s.reset();
        assert_eq!(s.snapshot().peak_in_flight, 1, "the one still running");
    }
}
