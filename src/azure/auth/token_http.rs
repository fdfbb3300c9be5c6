//! Sending a token request with a few bounded retries: token endpoints throttle and IMDS
//! answers 404/410 while the identity is being attached to a fresh VM. The retries are the one
//! retry loop's ([`crate::azure::retry`]).

use std::time::Instant;

use super::super::deadline::Deadline;
use super::super::error::{Error, Result};
use super::super::http::{self, ConnectFailure, Problem, Service};
use super::super::retry::{self, Attempts, Budget, Cause, Stop, Tally, Verdict};
use super::super::retry_delay::{self, Backoff};
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
    let budget = Budget {
        attempts: MAX_TOKEN_ATTEMPTS,
        elapsed: None,
        backoff: Backoff {
            initial: timings.initial_backoff,
            max: timings.max_backoff,
        },
        deadline: Some(deadline),
    };
    let mut request = TokenRequest {
        what,
        also_retry,
        build,
        host: String::new(),
    };
    match retry::run(&budget, &mut request).await {
        Ok(answer) => Ok(answer),
        Err(result) => result,
    }
}

struct TokenRequest<'a, B> {
    what: &'a str,
    also_retry: &'a [u16],
    build: B,
    /// `host:port` of the endpoint, once a request was built.
    host: String,
}

enum TokenFailure {
    /// A retryable answer; the last one is returned as it is when retries run out.
    Status(u16, bytes::Bytes),
    Connect(Problem),
    Transport(String),
}

impl<B> TokenRequest<'_, B> {
    fn connection_error(&self, problem: Problem, attempts: u32, elapsed_ms: u64) -> Error {
        Error::Connection {
            method: None,
            during: format!("{} token request", self.what),
            cause: ConnectFailure {
                service: Service::TokenEndpoint,
                host: self.host.clone(),
                problem,
                attempts,
                elapsed_ms,
            },
        }
    }
}

type Answer = (u16, bytes::Bytes);

impl<B: Fn() -> reqwest::RequestBuilder> Attempts for TokenRequest<'_, B> {
    type Output = Answer;
    type Failure = TokenFailure;
    type Error = Result<Answer>;

    async fn attempt(&mut self, tally: &Tally) -> Verdict<Answer, TokenFailure, Result<Answer>> {
        let what = self.what;
        let started = Instant::now();
        match (self.build)().send().await {
            Ok(response) => {
                self.host = http::host_of(response.url());
                let status = response.status().as_u16();
                let hint = retry_delay::retry_after(response.headers());
                let body = response.bytes().await.unwrap_or_default();
                let retryable =
                    matches!(status, 408 | 429 | 500..=599) || self.also_retry.contains(&status);
                tracing::debug!(target: "azure::auth", endpoint = what, status, attempt = tally.attempts, "token request");
                if retryable {
                    Verdict::Retry(
                        TokenFailure::Status(status, body),
                        Cause::Transient { hint },
                    )
                } else {
                    Verdict::Done((status, body))
                }
            }
            Err(e) => {
                if let Some(url) = e.url() {
                    self.host = http::host_of(url);
                }
                let e = e.without_url();
                tracing::debug!(target: "azure::auth", endpoint = what, attempt = tally.attempts, error = %e, "token request failed");
                match http::connect_problem(&e) {
                    Some(problem) if !ConnectFailure::retryable(&problem) => {
                        Verdict::Fail(Err(self.connection_error(
                            problem,
                            tally.failed_connects + 1,
                            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        )))
                    }
                    Some(problem) => Verdict::Retry(TokenFailure::Connect(problem), Cause::Connect),
                    None => Verdict::Retry(
                        TokenFailure::Transport(e.to_string()),
                        Cause::Transient { hint: None },
                    ),
                }
            }
        }
    }

    fn give_up(&mut self, last: Option<TokenFailure>, stop: Stop, tally: &Tally) -> Result<Answer> {
        match (last, stop) {
            (Some(TokenFailure::Status(status, body)), Stop::Exhausted) => Ok((status, body)),
            (Some(TokenFailure::Connect(problem)), Stop::Exhausted) => Err(self.connection_error(
                problem,
                tally.failed_connects,
                tally.connect_elapsed_ms(),
            )),
            (Some(TokenFailure::Transport(message)), Stop::Exhausted) => Err(Error::Transient {
                operation: format!("{} token request", self.what),
                attempts: tally.attempts,
                message,
            }),
            _ => Err(Error::Deadline {
                waiting_for: format!("a token from {}", self.what),
            }),
        }
    }

    fn describe(&self, failure: &TokenFailure) -> String {
        let why = match failure {
            TokenFailure::Status(status, _) => format!("HTTP {status}"),
            TokenFailure::Connect(Problem::Network(p) | Problem::Untrusted(p)) => p.clone(),
            TokenFailure::Transport(message) => message.clone(),
        };
        format!("{} token request: {why}", self.what)
    }
}
