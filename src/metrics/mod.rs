//! The mount's metrics: one process-wide registry ([`global`]) that the BOS client and
//! the filesystem update, rendered in the Prometheus text format by [`render`] and
//! served on `--metrics-addr` by [`http`].
//!
//! Client side ([`ClientMetrics`], updated by the one send path of the BOS client):
//! requests by operation and HTTP status, retries, body bytes up and down, and a latency
//! histogram per operation. Filesystem side ([`FsMetrics`]): gauges and a histogram the
//! filesystem sets; they are rendered only once the filesystem calls
//! [`FsMetrics::enable`], so a mount never reports a gauge nobody maintains.
//!
//! Everything is plain atomics or short mutex sections: cheap enough to update on every
//! request whether or not an endpoint is serving them.

mod client;
mod fsgauges;
pub mod http;
mod primitives;
mod text;

use std::sync::OnceLock;

pub use client::{ClientMetrics, Outcome};
pub use fsgauges::FsMetrics;
pub use primitives::{Gauge, Histogram, LATENCY_BUCKETS};

/// Every metric of the process.
#[derive(Debug, Default)]
pub struct Metrics {
    /// BOS requests as the client sees them.
    pub client: ClientMetrics,
    /// The filesystem's gauges.
    pub fs: FsMetrics,
}

/// The process-wide registry.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

/// The whole registry in the Prometheus text exposition format (version 0.0.4).
pub fn render(metrics: &Metrics) -> String {
    let mut out = text::Writer::default();
    metrics.client.render(&mut out);
    metrics.fs.render(&mut out);
    out.finish()
}
