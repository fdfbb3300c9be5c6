//! The one retry-delay rule of every Azure call the CPI retries itself (ARM requests, LRO
//! polls, blob and token calls through the SDK, Put Page): Azure's wait hint when it gives
//! one, else jittered exponential backoff, never more than the caller's cap.
//!
//! The hint is read as Azure documents it: `x-ms-retry-after-ms`, then `retry-after-ms`
//! (milliseconds, the finer and newer form), then `Retry-After` as seconds or as an HTTP date.
//! Blob and token calls made through an SDK pipeline follow it too (see
//! [`super::sdk_retry`]).

use std::time::{Duration, SystemTime};

use rand::RngExt;
use reqwest::header::HeaderMap;

/// Backoff bounds of one kind of call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Backoff {
    /// The nominal delay before the first retry; it doubles with each retry.
    pub(crate) initial: Duration,
    /// No delay (nominal or asked for by Azure) is longer.
    pub max: Duration,
}

/// Azure's wait hint: `x-ms-retry-after-ms`, `retry-after-ms`, then `Retry-After` (seconds or
/// an HTTP date; a date in the past means "now").
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    retry_after_from(|name| headers.get(name).and_then(|v| v.to_str().ok()))
}

/// [`retry_after`] over any header store: `header` answers a header's value by its
/// lower-case name.
pub(crate) fn retry_after_from<'h>(
    header: impl Fn(&'static str) -> Option<&'h str>,
) -> Option<Duration> {
    let text = |name: &'static str| header(name).map(str::trim);
    for name in ["x-ms-retry-after-ms", "retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<u64>().ok()) {
            return Some(Duration::from_millis(ms));
        }
    }
    let value = text("retry-after")?;
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Exponential backoff with jitter for attempt `n` (1-based): half the nominal delay plus a
/// random share of the other half, so parallel calls and CPI processes do not retry in
/// lockstep.
pub(crate) fn backoff(policy: Backoff, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let nominal = policy
        .initial
        .saturating_mul(1u32 << exponent)
        .min(policy.max);
    let half = nominal / 2;
    let jitter = rand::rng().random_range(0.0..=1.0);
    half + half.mul_f64(jitter)
}

/// The wait before retry `attempt` (1-based): Azure's hint when it gave one, else our backoff;
/// never more than `policy.max`.
pub(crate) fn delay_before_retry(
    policy: Backoff,
    attempt: u32,
    hint: Option<Duration>,
) -> Duration {
    hint.unwrap_or_else(|| backoff(policy, attempt))
        .min(policy.max)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    #[test]
    fn retry_after_forms_in_priority_order() {
        assert_eq!(
            retry_after(&headers(&[
                ("x-ms-retry-after-ms", "250"),
                ("retry-after", "9")
            ])),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            retry_after(&headers(&[
                ("retry-after-ms", "300"),
                ("retry-after", "20")
            ])),
            Some(Duration::from_millis(300))
        );
        assert_eq!(
            retry_after(&headers(&[("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        let later = SystemTime::now() + Duration::from_secs(30);
        let date = httpdate::fmt_http_date(later);
        let parsed = retry_after(&headers(&[("retry-after", &date)])).unwrap();
        assert!(
            parsed > Duration::from_secs(28) && parsed <= Duration::from_secs(30),
            "{parsed:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(
            retry_after(&headers(&[("retry-after", &past)])),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let policy = Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
        };
        for attempt in 1..=30 {
            let d = backoff(policy, attempt);
            let nominal = (100u64 << (attempt - 1).min(20)).min(1000);
            assert!(d >= Duration::from_millis(nominal / 2), "{attempt}: {d:?}");
            assert!(d <= Duration::from_millis(nominal), "{attempt}: {d:?}");
        }
        assert_eq!(
            delay_before_retry(policy, 1, Some(Duration::from_secs(480))),
            Duration::from_millis(1000)
        );
        // A hint shorter than the backoff is taken as given.
        assert_eq!(
            delay_before_retry(policy, 5, Some(Duration::from_millis(30))),
            Duration::from_millis(30)
        );
    }
}
