//! A point in time after which an operation gives up. Every retry sleep, every token request and
//! every LRO poll is bounded by the caller's deadline, so no CPI call can hang for hours.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
    /// How long it was set for, when set by [`Deadline::after`]: messages name it.
    length: Option<Duration>,
}

impl Deadline {
    /// A huge duration (e.g. a misconfigured timeout) means "a century", never a panic.
    pub fn after(duration: Duration) -> Self {
        let now = Instant::now();
        Self {
            at: now
                .checked_add(duration)
                .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 24 * 3600)),
            length: Some(duration),
        }
    }

    pub(crate) fn at(instant: Instant) -> Self {
        Self {
            at: instant,
            length: None,
        }
    }

    pub(crate) fn instant(&self) -> Instant {
        self.at
    }

    /// The duration it was set for by [`Deadline::after`].
    pub(crate) fn length(&self) -> Option<Duration> {
        self.length
    }

    /// Zero once the deadline has passed.
    pub(crate) fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
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
