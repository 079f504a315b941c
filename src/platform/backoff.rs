//! How long to wait before the next try after a failed post: exponential backoff with full
//! jitter, capped, and never shorter than what the platform asked for with `Retry-After`.
//!
//! Full jitter (a uniform draw in `[0, min(cap, base·2^n)]`) spreads the retries of many gateways
//! that lost the network at the same moment, so they do not all come back at once.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Longest `Retry-After` honoured by default: a platform asking for more is likely misconfigured,
/// and a day without trying would look like a dead gateway.
const DEFAULT_RETRY_AFTER_LIMIT: Duration = Duration::from_secs(3600);

#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    retry_after_limit: Duration,
    failures: u32,
    rng: StdRng,
}

impl Backoff {
    /// `base`: ceiling of the first delay; `cap`: the ceiling never grows past it.
    pub fn new(base: Duration, cap: Duration) -> Backoff {
        Backoff {
            base,
            cap: cap.max(base),
            retry_after_limit: DEFAULT_RETRY_AFTER_LIMIT.max(cap),
            failures: 0,
            rng: StdRng::from_rng(&mut rand::rng()),
        }
    }

    /// The delay before the next try, after one more failure. `retry_after` is the platform's
    /// `Retry-After` (see `PostError::retry_after`): the delay is at least that long.
    pub fn next_delay(&mut self, retry_after: Option<Duration>) -> Duration {
        let ceiling = self.ceiling();
        self.failures = self.failures.saturating_add(1);
        let jittered = if ceiling.is_zero() {
            Duration::ZERO
        } else {
            self.rng.random_range(Duration::ZERO..=ceiling)
        };
        match retry_after {
            Some(asked) => jittered.max(asked.min(self.retry_after_limit)),
            None => jittered,
        }
    }

    /// The upper bound of the next draw: `min(cap, base·2^failures)`.
    fn ceiling(&self) -> Duration {
        let factor = 1_u32.checked_shl(self.failures.min(31)).unwrap_or(u32::MAX);
        self.base
            .checked_mul(factor)
            .map_or(self.cap, |d| d.min(self.cap))
    }

    /// Call after a success: the next failure starts again from `base`.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Backoff {
        /// Same draws every run.
        fn with_seed(mut self, seed: u64) -> Backoff {
            self.rng = StdRng::seed_from_u64(seed);
            self
        }

        /// Longest `Retry-After` that is honoured as given; longer ones are shortened to this.
        fn with_retry_after_limit(mut self, limit: Duration) -> Backoff {
            self.retry_after_limit = limit;
            self
        }
    }

    #[test]
    fn ceiling_doubles_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(10)).with_seed(1);
        let mut ceilings = Vec::new();
        for _ in 0..6 {
            ceilings.push(b.ceiling().as_secs());
            b.next_delay(None);
        }
        assert_eq!(ceilings, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.failures, 6);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_secs(1));
    }

    #[test]
    fn delays_stay_within_the_ceiling_and_vary() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(60)).with_seed(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let ceiling = b.ceiling();
            let d = b.next_delay(None);
            assert!(d <= ceiling, "{d:?} > {ceiling:?}");
            seen.insert(d);
        }
        assert!(
            seen.len() > 100,
            "jitter should spread delays, got {} values",
            seen.len()
        );
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let mut b = Backoff::new(Duration::from_secs(3600), Duration::from_secs(7200)).with_seed(3);
        for _ in 0..100 {
            assert!(b.next_delay(None) <= Duration::from_secs(7200));
        }
    }

    #[test]
    fn retry_after_is_a_floor_within_its_limit() {
        let mut b = Backoff::new(Duration::from_millis(10), Duration::from_millis(20)).with_seed(5);
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(30))),
            Duration::from_secs(30)
        );
        let mut b = b.with_retry_after_limit(Duration::from_secs(60));
        assert_eq!(
            b.next_delay(Some(Duration::from_secs(86_400))),
            Duration::from_secs(60)
        );
        assert!(b.next_delay(Some(Duration::ZERO)) <= Duration::from_millis(20));
    }

    #[test]
    fn the_same_seed_gives_the_same_delays() {
        let run = |seed| {
            let mut b =
                Backoff::new(Duration::from_secs(1), Duration::from_secs(300)).with_seed(seed);
            (0..5).map(|_| b.next_delay(None)).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
    }
}
