//! Retry policy: which answers are worth another attempt, how long to wait, and how to read
//! Azure's error body.

use crate::names::quote_up_to;
use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::super::error::ErrorDetail;
use super::super::settings::Timings;

/// 409 (and sometimes 429) codes that mean "another operation holds the resource; try later".
pub const RETRYABLE_CODES: [&str; 4] = [
    "AnotherOperationInProgress",
    "StorageAccountOperationInProgress",
    "ConflictingConcurrentWriteNotAllowed",
    "RetryableErrorDueToAnotherOperation",
];

/// Statuses that are retried for an idempotent request.
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

pub fn is_retryable_code(code: &str) -> bool {
    RETRYABLE_CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
}

/// Azure's wait hint: `x-ms-retry-after-ms`, `retry-after-ms`, then `Retry-After` (seconds or
/// an HTTP date).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
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
/// random share of the other half, so parallel CPI processes do not retry in lockstep.
pub fn backoff(timings: &Timings, attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let nominal = timings
        .initial_backoff
        .saturating_mul(1u32 << exponent)
        .min(timings.max_backoff);
    let half = nominal / 2;
    let jitter = rand::rng().random_range(0.0..=1.0);
    half + half.mul_f64(jitter)
}

/// The wait before the next attempt: Azure's hint when it gave one, else our backoff; never more
/// than `max_backoff`.
pub fn delay_before_retry(timings: &Timings, attempt: u32, hint: Option<Duration>) -> Duration {
    hint.unwrap_or_else(|| backoff(timings, attempt))
        .min(timings.max_backoff)
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorBody>,
    // Some providers answer with a bare {code, message}.
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
pub struct ErrorBody {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Vec<ErrorBody>,
}

/// (code, message, details) from an ARM error body; tolerant of odd or empty bodies.
pub fn parse_error(status: u16, body: &[u8]) -> (String, String, Vec<ErrorDetail>) {
    let envelope: Option<ErrorEnvelope> = serde_json::from_slice(body).ok();
    let (code, message, details) = match envelope {
        Some(ErrorEnvelope {
            error: Some(error), ..
        }) => (error.code, error.message, error.details),
        Some(ErrorEnvelope { code, message, .. }) => (
            code.unwrap_or_default(),
            message.unwrap_or_default(),
            Vec::new(),
        ),
        None => (String::new(), String::new(), Vec::new()),
    };
    let code = if code.is_empty() {
        format!("HTTP{status}")
    } else {
        code
    };
    let message = if message.is_empty() {
        format!("Azure answered HTTP {status} without an error message")
    } else {
        message
    };
    // Azure's messages quote the request's names and values back.
    let mut details = flatten_details(&details);
    for detail in &mut details {
        detail.message = quote_up_to(&detail.message, AZURE_MESSAGE_SHOWN_CHARS).to_string();
    }
    (
        quote_up_to(&code, AZURE_MESSAGE_SHOWN_CHARS).to_string(),
        quote_up_to(&message, AZURE_MESSAGE_SHOWN_CHARS).to_string(),
        details,
    )
}

/// How much of an Azure error message a CPI error shows.
const AZURE_MESSAGE_SHOWN_CHARS: usize = 1024;

pub fn flatten_details(details: &[ErrorBody]) -> Vec<ErrorDetail> {
    let mut out = Vec::new();
    for detail in details {
        out.push(ErrorDetail {
            code: detail.code.clone(),
            message: detail.message.clone(),
        });
        out.extend(flatten_details(&detail.details));
    }
    out
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
            retry_after(&headers(&[("retry-after-ms", "1500")])),
            Some(Duration::from_millis(1500))
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
        assert_eq!(retry_after(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn backoff_grows_is_jittered_and_capped() {
        let timings = Timings {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
            ..Timings::default()
        };
        for attempt in 1..=30 {
            let d = backoff(&timings, attempt);
            let nominal = (100u64 << (attempt - 1).min(20)).min(1000);
            assert!(d >= Duration::from_millis(nominal / 2), "{attempt}: {d:?}");
            assert!(d <= Duration::from_millis(nominal), "{attempt}: {d:?}");
        }
        assert_eq!(
            delay_before_retry(&timings, 1, Some(Duration::from_secs(480))),
            Duration::from_millis(1000)
        );
    }

    #[test]
    fn error_bodies_of_every_shape() {
        let (code, message, details) = parse_error(
            409,
            br#"{"error":{"code":"OperationNotAllowed","message":"quota","details":[{"code":"QuotaExceeded","message":"cores","details":[{"code":"Inner","message":"x"}]}]}}"#,
        );
        assert_eq!(
            (code.as_str(), message.as_str()),
            ("OperationNotAllowed", "quota")
        );
        assert_eq!(details.len(), 2);
        assert_eq!(details[1].code, "Inner");
        let (code, message, _) = parse_error(400, br#"{"code":"BadRequest","message":"m"}"#);
        assert_eq!((code.as_str(), message.as_str()), ("BadRequest", "m"));
        let (code, _, _) = parse_error(502, b"<html>bad gateway</html>");
        assert_eq!(code, "HTTP502");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_error_bodies_never_panic(status in 100u16..600, body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let (code, message, _) = parse_error(status, &body);
            prop_assert!(!code.is_empty() && !message.is_empty());
        }
    }
}
