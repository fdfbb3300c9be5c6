//! Sending a token request with a few bounded retries: token endpoints throttle and IMDS
//! answers 404/410 while the identity is being attached to a fresh VM.

use std::time::Duration;

use super::super::deadline::Deadline;
use super::super::error::{Error, Result};
use super::super::settings::Timings;

const MAX_TOKEN_ATTEMPTS: u32 = 5;

/// Sends `build()` until a non-retryable answer; returns (status, body). `also_retry` adds
/// statuses retried for this endpoint only (IMDS: 404, 410).
pub(super) async fn send_with_retries(
    what: &str,
    timings: &Timings,
    deadline: Deadline,
    also_retry: &[u16],
    build: impl Fn() -> reqwest::RequestBuilder,
) -> Result<(u16, bytes::Bytes)> {
    let mut delay = timings.initial_backoff;
    for attempt in 1..=MAX_TOKEN_ATTEMPTS {
        let last = attempt == MAX_TOKEN_ATTEMPTS;
        match build().send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body = response.bytes().await.unwrap_or_default();
                let retryable =
                    matches!(status, 408 | 429 | 500..=599) || also_retry.contains(&status);
                tracing::debug!(target: "azure::auth", endpoint = what, status, attempt, "token request");
                if !retryable || last {
                    return Ok((status, body));
                }
            }
            Err(e) => {
                let e = e.without_url();
                tracing::debug!(target: "azure::auth", endpoint = what, attempt, error = %e, "token request failed");
                if last {
                    return Err(Error::Transient {
                        operation: format!("{what} token request"),
                        attempts: attempt,
                        message: e.to_string(),
                    });
                }
            }
        }
        if delay >= deadline.remaining() {
            break;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2)
            .min(timings.max_backoff)
            .max(Duration::from_millis(1));
    }
    Err(Error::Deadline {
        waiting_for: format!("a token from {what}"),
    })
}
