//! Writing the Prometheus text exposition format: `# HELP` / `# TYPE` headers, samples
//! with escaped label values, and histograms as `_bucket` / `_sum` / `_count` series.

use std::fmt::Write;

use super::primitives::{HistogramSnapshot, LATENCY_BUCKETS};

/// A growing exposition document.
#[derive(Debug, Default)]
pub struct Writer(String);

impl Writer {
    /// Start a metric family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    /// One sample.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.0.push_str(name);
        write_labels(&mut self.0, labels);
        let _ = writeln!(self.0, " {value}");
    }

    /// The series of one histogram with `labels`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &HistogramSnapshot) {
        let bucket = format!("{name}_bucket");
        for (i, count) in h.cumulative.iter().enumerate() {
            let bound = LATENCY_BUCKETS.get(i).map_or("+Inf".to_string(), |b| b.to_string());
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &bound));
            self.sample(&bucket, &with_le, count);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum_seconds);
        self.sample(&format!("{name}_count"), labels, h.count);
    }

    /// The document.
    pub fn finish(self) -> String {
        self.0
    }
}

fn write_labels(out: &mut String, labels: &[(&str, &str)]) {
    if labels.is_empty() {
        return;
    }
    out.push('{');
    for (i, (name, value)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push_str("=\"");
        for c in value.chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                '\n' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        let mut w = Writer::default();
        w.family("m_total", "counter", "Things.");
        w.sample("m_total", &[("a", "x\"y\\z\n")], 3);
        w.sample("m_total", &[], 1);
        assert_eq!(
            w.finish(),
            "# HELP m_total Things.\n# TYPE m_total counter\nm_total{a=\"x\\\"y\\\\z\\n\"} 3\nm_total 1\n"
        );
    }
}
