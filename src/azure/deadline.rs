//! A point in time after which an operation gives up. Every retry sleep, every token request and
//! every LRO poll is bounded by the caller's deadline, so no CPI call can hang for hours.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(Instant);

impl Deadline {
    /// A huge duration (e.g. a misconfigured timeout) means "a century", never a panic.
    pub fn after(duration: Duration) -> Self {
        let now = Instant::now();
        Self(
            now.checked_add(duration)
                .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600)),
        )
    }

    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    pub fn instant(&self) -> Instant {
        self.0
    }

    /// Zero once the deadline has passed.
    pub fn remaining(&self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub(crate) fn passed(&self) -> bool {
        self.remaining().is_zero()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remaining_saturates_at_zero() {
        let past = Deadline::at(Instant::now() - Duration::from_secs(1));
        assert!(past.passed());
        assert_eq!(past.remaining(), Duration::ZERO);
        let future = Deadline::after(Duration::from_secs(60));
        assert!(!future.passed());
        assert!(future.remaining() > Duration::from_secs(59));
        assert!(Deadline::after(Duration::MAX).remaining() > Duration::from_secs(3600));
    }
}
