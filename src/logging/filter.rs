//! The log filter: a `RUST_LOG`-style base (`info`, `warn,bosmount::fs=debug`) and the
//! steps SIGUSR2 cycles through, each raising this crate's own lines.

use std::fmt;

use log::LevelFilter;

/// Where the verbosity stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerbosityStep {
    /// The filter the process was started with.
    Base,
    /// The base, with every `bosmount` line down to debug.
    Debug,
    /// The base, with every `bosmount` line down to trace (each BOS request).
    Trace,
}

impl fmt::Display for VerbosityStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerbosityStep::Base => "the configured filter",
            VerbosityStep::Debug => "debug",
            VerbosityStep::Trace => "trace",
        })
    }
}

/// The filter in force.
pub struct Verbosity {
    base: String,
    step: VerbosityStep,
    filter: env_filter::Filter,
}

impl Verbosity {
    /// Start at `base`.
    pub fn new(base: &str) -> Self {
        Verbosity {
            base: base.to_string(),
            step: VerbosityStep::Base,
            filter: build(base, VerbosityStep::Base),
        }
    }

    /// Whether lines of `metadata` may pass.
    pub fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        self.filter.enabled(metadata)
    }

    /// Whether `record` passes.
    pub fn matches(&self, record: &log::Record<'_>) -> bool {
        self.filter.matches(record)
    }

    /// The most verbose level any line may have.
    pub fn max_level(&self) -> LevelFilter {
        self.filter.filter()
    }

    /// Go to the next step.
    pub fn cycle(&mut self) -> VerbosityStep {
        self.step = match self.step {
            VerbosityStep::Base => VerbosityStep::Debug,
            VerbosityStep::Debug => VerbosityStep::Trace,
            VerbosityStep::Trace => VerbosityStep::Base,
        };
        self.filter = build(&self.base, self.step);
        self.step
    }
}

fn build(base: &str, step: VerbosityStep) -> env_filter::Filter {
    let mut builder = env_filter::Builder::new();
    builder.parse(base);
    match step {
        VerbosityStep::Base => {}
        VerbosityStep::Debug => {
            builder.filter_module("bosmount", LevelFilter::Debug);
        }
        VerbosityStep::Trace => {
            builder.filter_module("bosmount", LevelFilter::Trace);
        }
    }
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn passes(v: &Verbosity, target: &str, level: log::Level) -> bool {
        v.enabled(&log::Metadata::builder().target(target).level(level).build())
    }

    #[test]
    fn cycling_raises_only_this_crate_and_comes_back() {
        let mut v = Verbosity::new("warn,bosmount::fs=info");
        assert!(!passes(&v, "bosmount::bos::client", log::Level::Info));
        assert!(passes(&v, "bosmount::fs::io", log::Level::Info));
        assert_eq!(v.cycle(), VerbosityStep::Debug);
        assert!(passes(&v, "bosmount::bos::client", log::Level::Debug));
        assert!(!passes(&v, "hyper::proto", log::Level::Info));
        assert_eq!(v.cycle(), VerbosityStep::Trace);
        assert!(passes(&v, "bosmount::bos::client", log::Level::Trace));
        assert_eq!(v.max_level(), LevelFilter::Trace);
        assert_eq!(v.cycle(), VerbosityStep::Base);
        assert!(!passes(&v, "bosmount::bos::client", log::Level::Debug));
    }
}
