//! Filesystem-side metrics: gauges the filesystem maintains (open files, uploads in
//! flight, bytes buffered) and the append flush lag histogram.
//!
//! How the filesystem uses them (all through [`crate::metrics::global`]`().fs`):
//! - call [`FsMetrics::enable`] once when the filesystem starts; before that none of
//!   these series is rendered;
//! - `open_files`: `inc()` when a handle is opened, `dec()` when it is released;
//! - `uploads_in_flight`: `inc()` when an object upload (PutObject, a multipart upload,
//!   an append stream) starts, `dec()` when it is committed or abandoned;
//! - `bytes_buffered`: `add(n)` when written bytes are held in memory, `add(-n)` when
//!   they are sent or dropped;
//! - `append_flush_lag`: `observe(d)` for every AppendObject sent, `d` being the age of
//!   its oldest byte (time from `write()` to the append leaving).

use std::sync::atomic::{AtomicBool, Ordering};

use super::primitives::{Gauge, Histogram};
use super::text::Writer;

/// The filesystem's gauges.
#[derive(Debug, Default)]
pub struct FsMetrics {
    enabled: AtomicBool,
    /// Open file handles.
    pub open_files: Gauge,
    /// Object uploads started and not yet committed or abandoned.
    pub uploads_in_flight: Gauge,
    /// Written bytes held in memory, not yet in BOS.
    pub bytes_buffered: Gauge,
    /// Age of the oldest byte of each AppendObject when it was sent.
    pub append_flush_lag: Histogram,
}

impl FsMetrics {
    /// Start rendering these series (the filesystem maintains them from now on).
    pub fn enable(&self) {
        self.enabled.store(true, Ordering::Relaxed);
    }

    /// Whether the filesystem maintains these series.
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    pub(super) fn render(&self, out: &mut Writer) {
        if !self.is_enabled() {
            return;
        }
        for (name, help, gauge) in [
            ("bosmount_open_files", "Open file handles.", &self.open_files),
            (
                "bosmount_uploads_in_flight",
                "Object uploads started and not yet committed.",
                &self.uploads_in_flight,
            ),
            (
                "bosmount_bytes_buffered",
                "Written bytes held in memory, not yet in BOS.",
                &self.bytes_buffered,
            ),
        ] {
            out.family(name, "gauge", help);
            out.sample(name, &[], gauge.get());
        }
        out.family(
            "bosmount_append_flush_lag_seconds",
            "histogram",
            "Age of the oldest byte of each AppendObject when it was sent.",
        );
        out.histogram(
            "bosmount_append_flush_lag_seconds",
            &[],
            &self.append_flush_lag.snapshot(),
        );
    }
}
