//! Retry policy of the BOS client: how many attempts, and how long to wait between them
//! (exponential backoff with full jitter). Which errors are worth retrying is decided in
//! one place, [`crate::bos::BosError::is_retryable`]: 5xx, throttling
//! (RequestRateLimitExceeded, SlowDown), connection failures and timeouts — never other
//! 4xx.

use std::time::Duration;

/// How the client retries failed requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryConfig {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// Base of the exponential backoff: attempt `n` (0-based) waits up to `base · 2^n`.
    pub base_delay: Duration,
    /// Upper bound of any single wait.
    pub max_delay: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryConfig {
    /// No retries at all.
    pub fn none() -> Self {
        RetryConfig {
            max_attempts: 1,
            ..RetryConfig::default()
        }
    }

    /// The ceiling of the wait after failed attempt `attempt` (0-based):
    /// `min(max_delay, base_delay · 2^attempt)`.
    pub fn delay_ceiling(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(30)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The wait after failed attempt `attempt` (0-based): uniformly random in
    /// `0..=delay_ceiling(attempt)` ("full jitter"), so clients that failed together do
    /// not come back together.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.delay_ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::random_range(0..=nanos))
    }

    /// Whether another attempt may follow attempt `attempt` (0-based).
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt + 1 < self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let c = RetryConfig {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        };
        assert_eq!(c.delay_ceiling(0), Duration::from_millis(100));
        assert_eq!(c.delay_ceiling(1), Duration::from_millis(200));
        assert_eq!(c.delay_ceiling(2), Duration::from_millis(350));
        assert_eq!(c.delay_ceiling(60), Duration::from_millis(350));
        for attempt in 0..6 {
            for _ in 0..100 {
                assert!(c.backoff(attempt) <= c.delay_ceiling(attempt));
            }
        }
        // Full jitter spreads the waits: 100 draws are not all equal.
        let draws: std::collections::BTreeSet<Duration> = (0..100).map(|_| c.backoff(2)).collect();
        assert!(draws.len() > 10);
    }

    #[test]
    fn attempts_are_bounded() {
        let c = RetryConfig::default();
        assert!(c.may_retry(0) && c.may_retry(2));
        assert!(!c.may_retry(3));
        assert!(!RetryConfig::none().may_retry(0));
    }
}
