//! Fault injection for tests and benchmarks: a share of requests answered with a
//! retryable error before anything is done (so a retry is always safe).

use crate::server::error::ApiError;
use axum::http::StatusCode;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;

/// Decides which requests fail.
#[derive(Debug)]
pub struct Faults {
    rate: f64,
    rng: Mutex<StdRng>,
}

impl Faults {
    /// Fail a share `rate` (clamped to 0..=1) of requests; `seed` makes the choice reproducible.
    pub fn new(rate: f64, seed: Option<u64>) -> Self {
        let rng = match seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        Faults {
            rate: if rate.is_finite() { rate.clamp(0.0, 1.0) } else { 0.0 },
            rng: Mutex::new(rng),
        }
    }

    /// The injected error for this request, if it is to fail.
    pub fn pick(&self) -> Option<ApiError> {
        if self.rate <= 0.0 {
            return None;
        }
        let mut rng = self.rng.lock().ok()?;
        if rng.random::<f64>() >= self.rate {
            return None;
        }
        Some(match rng.random_range(0..3u8) {
            0 => ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "InternalError",
                "Injected fault: internal error.",
            ),
            1 => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailable",
                "Injected fault: service unavailable.",
            ),
            _ => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RequestRateLimitExceeded",
                "Injected fault: request rate limit exceeded.",
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_bounds_and_kinds() {
        assert!(Faults::new(0.0, Some(1)).pick().is_none());
        let all = Faults::new(1.0, Some(7));
        let codes: std::collections::BTreeSet<_> = (0..100).filter_map(|_| all.pick()).map(|e| e.code).collect();
        assert_eq!(codes.len(), 3, "{codes:?}");
        let half = Faults::new(0.5, Some(3));
        let failed = (0..1000).filter(|_| half.pick().is_some()).count();
        assert!((350..650).contains(&failed), "{failed}");
    }
}
