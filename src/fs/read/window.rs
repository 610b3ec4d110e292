//! Read-ahead policy of one reader, as pure arithmetic: which byte ranges to request next.
//!
//! The window is how far beyond the end of the current read data is fetched. It starts at
//! `initial_window`, so a reader that only wants the head of a file costs little, and doubles
//! each time more read-ahead is requested, up to `max_window`, so a long sequential read
//! soon has several large requests in flight. A seek resets it ([`ReadAhead::reset`]).
//!
//! Memory: the reader holds the contiguous range `held_start..fetch_end` (fetched or in
//! flight). Planning never lets `fetch_end` pass `held_start + max_window + request_size`
//! except for bytes the current read itself needs, and the reader drops chunks it has read
//! past, so `held_start` trails the reader by less than one request: memory stays below
//! `max_window + request_size` whatever the file size.
//!
//! Request sizes: read-ahead is only requested once the missing part of the window is worth
//! a request (half the window, or a whole `request_size` once the window exceeds two of
//! them), so 128 KiB kernel reads do not each become a 128 KiB GET.

use std::ops::Range;

use super::ReadConfig;

/// The growing read-ahead window and the request planner of one reader.
#[derive(Debug, Clone)]
pub(crate) struct ReadAhead {
    initial: u64,
    max: u64,
    request_size: u64,
    max_in_flight: usize,
    window: u64,
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
        }
    }

    /// Current window size in bytes.
    pub(crate) fn window(&self) -> u64 {
        self.window
    }

    /// Back to the initial window (after a seek).
    pub(crate) fn reset(&mut self) {
        self.window = self.initial;
    }

    /// The ranges to request now, in order and contiguous from `input.fetch_end`. Grows the
    /// window when any is planned.
    pub(crate) fn plan(&mut self, input: PlanInput) -> Vec<Range<u64>> {
        let memory_cap = input.held_start.saturating_add(self.max + self.request_size);
        let target = input
            .size
            .min(input.needed_end.saturating_add(self.window))
            .min(memory_cap.max(input.needed_end));
        let worth_a_request = self.request_size.min(self.window / 2).max(1);
        let mut ranges = Vec::new();
        let mut start = input.fetch_end;
        let mut in_flight = input.in_flight;
        while start < target {
            let gap = target - start;
            let needed = start < input.needed_end;
            if !needed && (in_flight >= self.max_in_flight || (gap < worth_a_request && target < input.size)) {
                break;
            }
            let end = start + gap.min(self.request_size);
            ranges.push(start..end);
            start = end;
            in_flight += 1;
        }
        if !ranges.is_empty() {
            self.window = (self.window * 2).min(self.max);
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
}
