//! Retry policy: which answers are worth another attempt, how long to wait, and how to read
//! Azure's error body.

use crate::names::quote_up_to;

use serde::Deserialize;

use super::super::error::ErrorDetail;
use super::super::settings::Timings;

/// 409 (and sometimes 429) codes that mean "another operation holds the resource; try later".
pub(crate) const RETRYABLE_CODES: [&str; 4] = [
    "AnotherOperationInProgress",
    "StorageAccountOperationInProgress",
    "ConflictingConcurrentWriteNotAllowed",
    "RetryableErrorDueToAnotherOperation",
];

pub(super) use super::super::retry::is_retryable_status;

pub(super) fn is_retryable_code(code: &str) -> bool {
    RETRYABLE_CODES.iter().any(|c| c.eq_ignore_ascii_case(code))
}

use super::super::retry_delay::Backoff;
pub(super) use super::super::retry_delay::retry_after;

pub(super) fn backoff_policy(timings: &Timings) -> Backoff {
    Backoff {
        initial: timings.initial_backoff,
        max: timings.max_backoff,
    }
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: Option<ErrorBody>,
    // Some providers answer with a bare {code, message}.
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct ErrorBody {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub details: Vec<ErrorBody>,
}

/// (code, message, details) from an ARM error body; tolerant of odd or empty bodies.
pub(super) fn parse_error(status: u16, body: &[u8]) -> (String, String, Vec<ErrorDetail>) {
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

pub(super) fn flatten_details(details: &[ErrorBody]) -> Vec<ErrorDetail> {
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
