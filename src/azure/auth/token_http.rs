//! Sending a token request with a few bounded retries: token endpoints throttle and IMDS
//! answers 404/410 while the identity is being attached to a fresh VM.

use std::time::Duration;

use super::super::deadline::Deadline;
use super::super::error::{Error, Result};
use super::super::http;
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
    let started = std::time::Instant::now();
    let mut failed_connects = 0;
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
                let url = e.url().cloned();
                let e = e.without_url();
                if let Some(problem) = http::connect_problem(&e) {
                    failed_connects += 1;
                    if failed_connects >= http::CONNECT_ATTEMPTS
                        || last
                        || !http::ConnectFailure::retryable(&problem)
                    {
                        return Err(Error::Connection {
                            method: None,
                            during: format!("{what} token request"),
                            cause: http::ConnectFailure {
                                service: http::Service::TokenEndpoint,
                                host: url.as_ref().map_or_else(String::new, http::host_of),
                                problem,
                                attempts: failed_connects,
                                elapsed_ms: u64::try_from(started.elapsed().as_millis())
                                    .unwrap_or(u64::MAX),
                            },
                        });
                    }
                }
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
