//! Read-ahead policy of one reader, as pure arithmetic: which byte ranges to request next.
//!
//! The window is how far beyond the end of the current read data is fetched. It starts at
//! `initial_window`, so a reader that only wants the head of a file costs little, and doubles
//! each time more read-ahead is requested, up to `max_window`, so a long sequential read
//! soon has several large requests in flight. A seek resets it ([`ReadAhead::reset`]).
//!
//! Memory: the reader holds the contiguous range `held_start..fetch_end` (fetched or in
//! flight). Planning never lets `fetch_end` pass `held_start + max_window + request_size`
//! except for bytes the current read itself needs, and the reader drops chunks that end more
//! than a few MiB behind it (kept for the kernel's late reads), so `held_start` trails the
//! reader by a bounded amount: memory stays below `max_window + request_size` whatever the
//! file size.
//!
//! Request sizes: read-ahead is only requested once the missing part of the window is worth
//! a request (half the window, or a whole `request_size` once the window exceeds two of
//! them), so 128 KiB kernel reads do not each become a 128 KiB GET.
//!
//! Filling the pipe: how much must be in flight is the bandwidth-delay product of the path to
//! BOS. The reader reports the time each ranged GET took ([`ReadAhead::observe_request`]) and
//! the pace at which it hands bytes out ([`ReadAhead::observe_consumed`], on a clock it is
//! given, so tests drive it without sleeping). The product of the delivery rate and the
//! shortest recent request time, times [`HEADROOM`], caps the window (between two requests
//! and `max_window`); the requests in flight follow the window (as many as it holds plus
//! one, at most `max_requests_in_flight`). With no measurement yet the cap is
//! `max_window`. Near the server (0 ms) the window stays small; 20 ms away it grows until the
//! delivery rate stops growing, never beyond `max_window` (`--read-ahead`).

use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use super::ReadConfig;

/// How many times the measured bandwidth-delay product the window may hold: room for the
/// delivery rate to grow (a window-limited reader doubles its window per round trip) and for
/// requests that take longer than the shortest one.
const HEADROOM: f64 = 2.0;
/// Request times remembered for the shortest-recent-request estimate of the delay.
const LATENCY_SAMPLES: usize = 16;
/// Weight of a new delivery-rate sample in its moving average.
const RATE_WEIGHT: f64 = 0.25;

/// The growing read-ahead window and the request planner of one reader.
#[derive(Debug, Clone)]
pub(crate) struct ReadAhead {
    initial: u64,
    max: u64,
    request_size: u64,
    max_in_flight: usize,
    window: u64,
    /// Durations of the most recent ranged GETs, newest last.
    latencies: VecDeque<Duration>,
    /// Moving average of the rate bytes are handed to the reader, in bytes per second.
    rate: Option<f64>,
    /// Start of the current rate sample: clock time and bytes consumed until then.
    rate_mark: Option<(Duration, u64)>,
    consumed: u64,
}

/// What the planner needs to know about a reader's state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanInput {
    /// First byte held in memory or in flight.
    pub held_start: u64,
    /// End (exclusive) of what is held or in flight; the next request starts here.
    pub fetch_end: u64,
    /// End (exclusive) of the bytes the current read needs; they are always requested.
    pub needed_end: u64,
    /// Object size.
    pub size: u64,
    /// Read-ahead requests still in flight.
    pub in_flight: usize,
}

impl ReadAhead {
    /// A window at its initial size. Zero settings are treated as 1 so the plan always advances.
    pub(crate) fn new(config: &ReadConfig) -> Self {
        let initial = config.initial_window.max(1) as u64;
        ReadAhead {
            initial,
            max: (config.max_window as u64).max(initial),
            request_size: config.request_size.max(1) as u64,
            max_in_flight: config.max_requests_in_flight.max(1),
            window: initial,
            latencies: VecDeque::with_capacity(LATENCY_SAMPLES),
            rate: None,
            rate_mark: None,
            consumed: 0,
        }
    }

    /// A ranged GET took `elapsed` from being sent to its last byte.
    pub(crate) fn observe_request(&mut self, elapsed: Duration) {
        if elapsed.is_zero() {
            return;
        }
        if self.latencies.len() == LATENCY_SAMPLES {
            self.latencies.pop_front();
        }
        self.latencies.push_back(elapsed);
    }

    /// The reader handed out `bytes` of sequential data at clock time `now`. A rate sample is
    /// taken each time a whole request's worth has been consumed.
    pub(crate) fn observe_consumed(&mut self, bytes: u64, now: Duration) {
        self.consumed += bytes;
        let Some((since, at)) = self.rate_mark else {
            self.rate_mark = Some((now, self.consumed));
            return;
        };
        let (bytes, elapsed) = (self.consumed - at, now.saturating_sub(since));
        if bytes < self.request_size || elapsed.is_zero() {
            return;
        }
        let sample = bytes as f64 / elapsed.as_secs_f64();
        self.rate = Some(match self.rate {
            Some(rate) => rate + RATE_WEIGHT * (sample - rate),
            None => sample,
        });
        self.rate_mark = Some((now, self.consumed));
    }

    /// The measured bandwidth-delay product in bytes, once both halves are known.
    pub(crate) fn bandwidth_delay(&self) -> Option<u64> {
        let delay = self.latencies.iter().min()?;
        Some((self.rate? * delay.as_secs_f64()) as u64)
    }

    /// The largest window the measurements call for: [`HEADROOM`] times the bandwidth-delay
    /// product, at least two requests, at most `max_window`; `max_window` before measuring.
    pub(crate) fn ceiling(&self) -> u64 {
        match self.bandwidth_delay() {
            Some(bdp) => ((bdp as f64 * HEADROOM) as u64).clamp(self.floor(), self.max),
            None => self.max,
        }
    }

    fn floor(&self) -> u64 {
        (2 * self.request_size).min(self.max)
    }

    /// Read-ahead requests allowed in flight at the current window: as many requests of the
    /// size planned now as the window holds, plus the one being read from, at most
    /// `max_requests_in_flight`.
    pub(crate) fn in_flight_limit(&self) -> usize {
        let request = self.request_size.min(self.window / 2).max(1);
        let wanted = self.window.div_ceil(request) + 1;
        usize::try_from(wanted).unwrap_or(usize::MAX).min(self.max_in_flight)
    }

    /// The most a reader may hold: `max_window + request_size`.
    pub(crate) fn memory_bound(&self) -> u64 {
        self.max + self.request_size
    }

    /// Current window size in bytes.
    pub(crate) fn window(&self) -> u64 {
        self.window
    }

    /// Back to the initial window (after a seek). The measurements describe the path to BOS,
    /// not the reader's position, and stay; the rate sample in progress is dropped.
    pub(crate) fn reset(&mut self) {
        self.window = self.initial;
        self.rate_mark = None;
    }

    /// The ranges to request now, in order and contiguous from `input.fetch_end`. Grows the
    /// window when any is planned.
    pub(crate) fn plan(&mut self, input: PlanInput) -> Vec<Range<u64>> {
        self.window = self.window.min(self.ceiling()).max(self.initial);
        let memory_cap = input.held_start.saturating_add(self.max + self.request_size);
        let target = input
            .size
            .min(input.needed_end.saturating_add(self.window))
            .min(memory_cap.max(input.needed_end));
        let worth_a_request = self.request_size.min(self.window / 2).max(1);
        let max_in_flight = self.in_flight_limit();
        let mut ranges = Vec::new();
        let mut start = input.fetch_end;
        let mut in_flight = input.in_flight;
        while start < target {
            let gap = target - start;
            let needed = start < input.needed_end;
            if !needed && (in_flight >= max_in_flight || (gap < worth_a_request && target < input.size)) {
                break;
            }
            let end = start + gap.min(self.request_size);
            ranges.push(start..end);
            start = end;
            in_flight += 1;
        }
        if !ranges.is_empty() {
            self.window = (self.window * 2).min(self.ceiling()).max(self.initial);
        }
        ranges
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;

    fn config() -> ReadConfig {
        ReadConfig {
            initial_window: MIB as usize,
            max_window: 64 * MIB as usize,
            request_size: 8 * MIB as usize,
            max_requests_in_flight: 4,
        }
    }

    fn input(held_start: u64, fetch_end: u64, needed_end: u64, size: u64, in_flight: usize) -> PlanInput {
        PlanInput {
            held_start,
            fetch_end,
            needed_end,
            size,
            in_flight,
        }
    }

    #[test]
    fn first_read_fetches_the_read_plus_the_initial_window_in_one_request() {
        let mut ra = ReadAhead::new(&config());
        assert_eq!(ra.plan(input(0, 0, 128 * KIB, 100 * MIB, 0)), vec![0..128 * KIB + MIB]);
        assert_eq!(ra.window(), 2 * MIB);
    }

    #[test]
    fn small_file_is_one_request_to_its_end() {
        let mut ra = ReadAhead::new(&config());
        assert_eq!(ra.plan(input(0, 0, 128 * KIB, 300 * KIB, 0)), vec![0..300 * KIB]);
    }

    #[test]
    fn no_request_until_the_missing_part_is_worth_one() {
        let mut ra = ReadAhead::new(&config());
        ra.plan(input(0, 0, 128 * KIB, 100 * MIB, 0));
        // Window 2 MiB; 128 KiB further on, the missing part is 1.125 MiB >= 1 MiB: request it.
        assert_eq!(
            ra.plan(input(0, 128 * KIB + MIB, 256 * KIB, 100 * MIB, 1)),
            vec![128 * KIB + MIB..256 * KIB + 2 * MIB]
        );
        // Window 4 MiB; at the next read the missing part (2 MiB + 128 KiB) is worth a request
        // of half the window, and then the window is 8 MiB.
        let ranges = ra.plan(input(0, 256 * KIB + 2 * MIB, 384 * KIB, 100 * MIB, 2));
        assert_eq!(ranges, vec![256 * KIB + 2 * MIB..384 * KIB + 4 * MIB]);
        assert_eq!(ra.window(), 8 * MIB);
        // A missing part below half the window (here 3.5 MiB of 8) is not requested yet.
        assert!(ra.plan(input(0, 5 * MIB, 512 * KIB, 100 * MIB, 3)).is_empty());
        assert_eq!(ra.window(), 8 * MIB);
    }

    #[test]
    fn window_doubles_up_to_the_maximum_and_requests_are_capped() {
        let mut ra = ReadAhead::new(&config());
        let mut seen = Vec::new();
        for _ in 0..10 {
            // The reader is at 0 with nothing held each time: only the window policy matters.
            ra.plan(input(0, 0, 0, u64::MAX, 0));
            seen.push(ra.window());
        }
        assert_eq!(
            seen[..7],
            [2 * MIB, 4 * MIB, 8 * MIB, 16 * MIB, 32 * MIB, 64 * MIB, 64 * MIB]
        );
        let ranges = ra.plan(input(0, 0, 0, u64::MAX, 0));
        assert_eq!(
            ranges,
            vec![0..8 * MIB, 8 * MIB..16 * MIB, 16 * MIB..24 * MIB, 24 * MIB..32 * MIB]
        );
        ra.reset();
        assert_eq!(ra.window(), MIB);
    }

    #[test]
    fn read_ahead_respects_the_in_flight_limit_but_needed_bytes_do_not_wait() {
        let mut ra = ReadAhead::new(&config());
        for _ in 0..6 {
            ra.plan(input(0, 0, 0, u64::MAX, 0));
        }
        assert!(ra.plan(input(0, 0, 0, u64::MAX, 4)).is_empty());
        assert_eq!(ra.plan(input(0, 0, 128 * KIB, u64::MAX, 4)), vec![0..8 * MIB]);
    }

    #[test]
    fn the_tail_of_the_file_is_requested_even_when_small() {
        let mut ra = ReadAhead::new(&config());
        for _ in 0..6 {
            ra.plan(input(0, 0, 0, u64::MAX, 0));
        }
        let size = 20 * MIB + 5;
        assert_eq!(
            ra.plan(input(19 * MIB, 20 * MIB, 19 * MIB + 128 * KIB, size, 0)),
            vec![20 * MIB..size]
        );
    }

    #[test]
    fn plans_stay_inside_the_memory_bound() {
        let mut ra = ReadAhead::new(&config());
        let bound = 64 * MIB + 8 * MIB;
        let mut held: std::collections::VecDeque<Range<u64>> = Default::default();
        let mut fetch_end = 0;
        let mut reader = 0;
        let mut sizes = Vec::new();
        while reader < 1024 * MIB {
            let needed_end = reader + 128 * KIB;
            let held_start = held.front().map_or(fetch_end, |r| r.start);
            for r in ra.plan(input(held_start, fetch_end, needed_end, u64::MAX, 0)) {
                assert_eq!(r.start, fetch_end);
                fetch_end = r.end;
                sizes.push(r.end - r.start);
                held.push_back(r);
            }
            let held_start = held.front().map_or(fetch_end, |r| r.start);
            assert!(
                fetch_end - held_start <= bound,
                "holding {} bytes",
                fetch_end - held_start
            );
            reader = needed_end;
            // As the reader does: drop requests it has read past.
            while held.front().is_some_and(|r| r.end <= reader) {
                held.pop_front();
            }
        }
        // A few small requests while the window grew, then only full 8 MiB ones.
        assert!(sizes[..4].iter().all(|&s| s < 8 * MIB), "{sizes:?}");
        assert!(sizes[4..].iter().all(|&s| s == 8 * MIB), "{sizes:?}");
    }

    /// The default settings: up to 8 requests in flight.
    fn adaptive() -> ReadConfig {
        ReadConfig {
            max_requests_in_flight: 8,
            ..config()
        }
    }

    /// Feeds `ra` a reader consuming at `rate` bytes/s from requests that each take
    /// `request_time`, for `seconds` of simulated time, planning after every 1 MiB read;
    /// returns the largest window seen.
    fn simulate(ra: &mut ReadAhead, rate: f64, request_time: Duration, seconds: f64) -> u64 {
        let mut now = Duration::ZERO;
        let step = Duration::from_secs_f64(MIB as f64 / rate);
        let mut offset = 0;
        let mut largest = 0;
        while now.as_secs_f64() < seconds {
            ra.plan(input(offset, offset, offset + MIB, u64::MAX, 0));
            ra.observe_request(request_time);
            ra.observe_consumed(MIB, now);
            largest = largest.max(ra.window());
            offset += MIB;
            now += step;
        }
        largest
    }

    const GIB_S: f64 = 1024.0 * 1024.0 * 1024.0;

    #[test]
    fn without_measurements_the_window_may_reach_the_maximum() {
        let mut ra = ReadAhead::new(&adaptive());
        assert_eq!(ra.bandwidth_delay(), None);
        assert_eq!(ra.ceiling(), 64 * MIB);
        // A clock that does not move gives no sample.
        ra.observe_request(Duration::ZERO);
        ra.observe_consumed(100 * MIB, Duration::ZERO);
        ra.observe_consumed(100 * MIB, Duration::ZERO);
        assert_eq!(ra.bandwidth_delay(), None);
    }

    #[test]
    fn the_window_is_twice_the_bandwidth_delay_product() {
        // 1 GiB/s, requests of 12 ms: 12.3 MiB in flight would do, the window allows twice.
        let mut ra = ReadAhead::new(&adaptive());
        simulate(&mut ra, GIB_S, Duration::from_millis(12), 1.0);
        let expected = GIB_S * 0.012;
        let bdp = ra.bandwidth_delay().expect("measured") as f64;
        assert!((bdp / expected - 1.0).abs() < 0.01, "{bdp} vs {expected}");
        let window = ra.window() as f64;
        assert!((window / (2.0 * expected) - 1.0).abs() < 0.01, "{window}");
        // Four 8 MiB requests fill it, and one more to read from.
        assert_eq!(ra.in_flight_limit(), 5);
    }

    #[test]
    fn a_path_20_ms_away_gets_a_larger_window_and_more_requests_in_flight() {
        let mut near = ReadAhead::new(&adaptive());
        simulate(&mut near, GIB_S, Duration::from_millis(7), 1.0);
        let mut far = ReadAhead::new(&adaptive());
        simulate(&mut far, GIB_S, Duration::from_millis(27), 1.0);
        assert_eq!(near.window(), 16 * MIB, "the floor, two requests");
        assert_eq!(near.in_flight_limit(), 3);
        // 1 GiB/s x 27 ms = 27.6 MiB; twice that is seven 8 MiB requests, and one more.
        assert!((55 * MIB..=56 * MIB).contains(&far.window()), "{}", far.window());
        assert_eq!(far.in_flight_limit(), 8);
    }

    #[test]
    fn the_window_never_exceeds_the_maximum() {
        let mut ra = ReadAhead::new(&adaptive());
        let largest = simulate(&mut ra, 4.0 * GIB_S, Duration::from_millis(100), 1.0);
        assert_eq!(largest, 64 * MIB);
        assert_eq!(ra.ceiling(), 64 * MIB);
        assert_eq!(ra.in_flight_limit(), 8, "max_requests_in_flight");
    }

    #[test]
    fn the_shortest_recent_request_is_the_delay() {
        let mut ra = ReadAhead::new(&adaptive());
        ra.observe_consumed(0, Duration::ZERO);
        ra.observe_consumed(8 * MIB, Duration::from_millis(8));
        for ms in [40, 9, 30, 25] {
            ra.observe_request(Duration::from_millis(ms));
        }
        // 1 GB/s-ish (8 MiB in 8 ms) times 9 ms.
        assert_eq!(ra.bandwidth_delay(), Some((8.0 * MIB as f64 / 0.008 * 0.009) as u64));
        // Old samples age out: after 16 slower ones the delay is theirs.
        for _ in 0..LATENCY_SAMPLES {
            ra.observe_request(Duration::from_millis(20));
        }
        assert_eq!(ra.bandwidth_delay(), Some((8.0 * MIB as f64 / 0.008 * 0.020) as u64));
    }

    #[test]
    fn a_window_limited_reader_keeps_growing_its_window() {
        // The reader is only as fast as the window lets it be (rate = window / request time):
        // headroom over the product lets it double each round until the maximum.
        let mut ra = ReadAhead::new(&adaptive());
        let request_time = Duration::from_millis(20);
        let mut now = Duration::ZERO;
        ra.observe_consumed(0, now);
        let mut windows = Vec::new();
        for _ in 0..12 {
            let window = ra.window().max(16 * MIB);
            let rate = window as f64 / request_time.as_secs_f64();
            ra.observe_request(request_time);
            now += Duration::from_secs_f64(window as f64 / rate);
            ra.observe_consumed(window, now);
            ra.plan(input(0, 0, MIB, u64::MAX, 0));
            windows.push(ra.window());
        }
        assert_eq!(windows.last(), Some(&(64 * MIB)), "{windows:?}");
        assert!(windows.windows(2).all(|w| w[1] >= w[0]), "{windows:?}");
    }

    #[test]
    fn a_slow_reader_holds_little() {
        // A reader taking 50 MB/s from requests of 20 ms needs 1 MB in flight: the window
        // stays at its floor of two requests.
        let mut ra = ReadAhead::new(&adaptive());
        simulate(&mut ra, 50e6, Duration::from_millis(20), 2.0);
        assert_eq!(ra.window(), 16 * MIB);
    }

    #[test]
    fn a_seek_resets_the_window_but_keeps_what_was_measured() {
        let mut ra = ReadAhead::new(&adaptive());
        simulate(&mut ra, GIB_S, Duration::from_millis(27), 1.0);
        let bdp = ra.bandwidth_delay();
        ra.reset();
        assert_eq!(ra.window(), MIB);
        assert_eq!(ra.bandwidth_delay(), bdp);
    }
}
