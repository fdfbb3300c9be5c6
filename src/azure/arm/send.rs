//! One ARM request as the retry loop ([`crate::azure::retry`]) drives it: what each attempt
//! sends, how its outcome is classified, and what error a stopped request answers.

use std::time::Instant;

use azure_core::credentials::Secret;
use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{Method, StatusCode};
use url::Url;

use super::super::deadline::Deadline;
use super::super::error::{Error, ErrorDetail};
use super::super::http::{self, ConnectFailure, Problem, Service, error_chain};
use super::super::retry::{Attempts, Cause, Stop, Tally, Verdict};
use super::{Answer, ArmClient, Replay, classify, redact, retry};

pub(super) struct ArmRequest<'a> {
    pub client: &'a ArmClient,
    pub method: Method,
    pub url: &'a Url,
    pub body: Option<&'a Bytes>,
    pub replay: Replay,
    pub op: &'a str,
    pub if_match: Option<&'a HeaderValue>,
    pub deadline: Deadline,
    pub token: Secret,
    /// The token was renewed once after a 401: a second 401 is an error, not a loop.
    pub refreshed: bool,
}

/// Why an attempt failed but may be repeated.
pub(super) enum ArmFailure {
    Connect(Problem),
    /// The request was sent, or may have been, and no (whole) answer came.
    Transport {
        message: String,
        reason: &'static str,
    },
    Status {
        status: u16,
        code: String,
        message: String,
        details: Vec<ErrorDetail>,
    },
    /// ARM refused the token; a fresh one is in hand.
    Unauthorized,
}

impl ArmFailure {
    fn reason(&self) -> String {
        match self {
            Self::Connect(_) => "a failed connection".to_owned(),
            Self::Transport { reason, .. } => (*reason).to_owned(),
            Self::Status { status, code, .. } => format!("HTTP {status} {code}"),
            Self::Unauthorized => "HTTP 401".to_owned(),
        }
    }
}

type ArmVerdict = Verdict<Answer, ArmFailure, Error>;

impl ArmRequest<'_> {
    fn connection_error(&self, problem: Problem, attempts: u32, elapsed_ms: u64) -> Error {
        Error::Connection {
            method: self.client.inner.cpi_method,
            during: self.op.to_owned(),
            cause: ConnectFailure {
                service: Service::ResourceManager,
                host: http::host_of(self.url),
                problem,
                attempts,
                elapsed_ms,
            },
        }
    }

    /// A request sent (or maybe sent) that got no whole answer: repeated only when that is safe.
    fn unanswered(&self, tally: &Tally, message: String, reason: &'static str) -> ArmVerdict {
        if self.replay == Replay::Always {
            Verdict::Retry(
                ArmFailure::Transport { message, reason },
                Cause::Transient { hint: None },
            )
        } else {
            Verdict::Fail(Error::Transient {
                operation: self.op.to_owned(),
                attempts: tally.attempts,
                message,
            })
        }
    }
}

impl Attempts for ArmRequest<'_> {
    type Output = Answer;
    type Failure = ArmFailure;
    type Error = Error;

    async fn attempt(&mut self, tally: &Tally) -> ArmVerdict {
        let inner = &*self.client.inner;
        let timings = &inner.timings;
        let (method, url, op) = (&self.method, self.url, self.op);
        let Ok(mut bearer) = HeaderValue::from_str(&format!("Bearer {}", self.token.secret()))
        else {
            return Verdict::Fail(Error::Invalid(
                "the access token holds invalid characters".into(),
            ));
        };
        bearer.set_sensitive(true);
        let mut request = inner
            .http
            .request(method.clone(), url.clone())
            .header(reqwest::header::AUTHORIZATION, bearer)
            .header(reqwest::header::USER_AGENT, inner.user_agent.clone())
            .header("x-ms-client-request-id", uuid::Uuid::new_v4().to_string())
            .header("x-ms-return-client-request-id", "true")
            .timeout(timings.request_timeout.min(self.deadline.remaining()));
        if let Some(etag) = self.if_match {
            request = request.header(reqwest::header::IF_MATCH, etag.clone());
        }
        if let Some(body) = self.body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone());
            if inner.debug_mode {
                tracing::debug!(target: "azure::arm", %method, body = %redact::body(body), "request body");
            }
        }
        let started = Instant::now();
        let attempt = tally.attempts;
        let response = match request.send().await {
            Ok(response) => response,
            // A request that cannot even be built (e.g. a URL the HTTP stack refuses) fails
            // the same way on every try: never retried.
            Err(e) if e.is_builder() => {
                return Verdict::Fail(Error::Invalid(format!(
                    "{op}: the request cannot be built: {}",
                    error_chain(&e.without_url())
                )));
            }
            Err(e) => {
                let e = e.without_url();
                tracing::debug!(
                    target: "azure::arm", %method, url = %redact::url(url), attempt,
                    duration_ms = started.elapsed().as_millis() as u64, error = %e,
                    "ARM request failed"
                );
                if self.deadline.passed() {
                    return Verdict::Fail(Error::Deadline {
                        waiting_for: format!("{op} (the request was cut off at the deadline)"),
                    });
                }
                if let Some(problem) = http::connect_problem(&e) {
                    if !ConnectFailure::retryable(&problem) {
                        return Verdict::Fail(self.connection_error(
                            problem,
                            tally.failed_connects + 1,
                            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        ));
                    }
                    return Verdict::Retry(ArmFailure::Connect(problem), Cause::Connect);
                }
                return self.unanswered(tally, error_chain(&e), "a failed connection");
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body_result = response.bytes().await;
        let request_id = headers
            .get("x-ms-request-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        tracing::debug!(
            target: "azure::arm", %method, url = %redact::url(url), status, attempt,
            duration_ms = started.elapsed().as_millis() as u64, request_id = %request_id,
            "ARM request"
        );
        let body = match body_result {
            Ok(body) => body,
            // The answer was cut off: as unknown an outcome as a reset connection.
            Err(e) => {
                return self.unanswered(tally, error_chain(&e.without_url()), "a cut-off answer");
            }
        };
        if inner.debug_mode && !body.is_empty() {
            tracing::debug!(target: "azure::arm", status, body = %redact::body(&body), "response body");
        }
        if StatusCode::from_u16(status).is_ok_and(|s| s.is_success()) {
            return Verdict::Done(Answer {
                status,
                headers,
                body,
            });
        }
        if status == 401 {
            if self.refreshed {
                return Verdict::Fail(Error::Auth {
                    operation: op.to_owned(),
                    hint: "ARM rejected a freshly issued token: check that azure.tenant_id is the subscription's tenant and that the environment's token audience matches its ARM endpoint".into(),
                });
            }
            self.refreshed = true;
            return match inner
                .tokens
                .refresh_rejected(&self.token, self.deadline)
                .await
            {
                Ok(token) => {
                    self.token = token;
                    Verdict::Retry(ArmFailure::Unauthorized, Cause::Reauthenticated)
                }
                Err(e) => Verdict::Fail(self.client.for_call(e, op)),
            };
        }
        let (code, message, details) = retry::parse_error(status, &body);
        let retryable_code = retry::is_retryable_code(&code);
        let retryable = match self.replay {
            Replay::Always => retry::is_retryable_status(status) || retryable_code,
            // 429 and the in-progress conflicts mean ARM refused before acting.
            #[cfg(test)]
            Replay::OnlyIfUnprocessed => status == 429 || retryable_code,
        };
        if retryable {
            let hint = retry::retry_after(&headers);
            return Verdict::Retry(
                ArmFailure::Status {
                    status,
                    code,
                    message,
                    details,
                },
                Cause::Transient { hint },
            );
        }
        // The kind of failure does not depend on whether this request could be retried.
        let transient = retry::is_retryable_status(status) || retryable_code;
        Verdict::Fail(classify(
            op,
            status,
            code,
            message,
            details,
            tally.attempts,
            transient,
        ))
    }

    fn give_up(&mut self, last: Option<ArmFailure>, stop: Stop, tally: &Tally) -> Error {
        let op = self.op;
        match (stop, last) {
            (Stop::PastDeadline { delay }, Some(failure)) => Error::Deadline {
                waiting_for: format!(
                    "{op} (after {}, the next retry would come in {:.1}s, past the deadline)",
                    failure.reason(),
                    delay.as_secs_f64()
                ),
            },
            (Stop::Exhausted, Some(ArmFailure::Connect(problem))) => {
                self.connection_error(problem, tally.failed_connects, tally.connect_elapsed_ms())
            }
            (Stop::Exhausted, Some(ArmFailure::Transport { message, .. })) => Error::Transient {
                operation: op.to_owned(),
                attempts: tally.attempts,
                message,
            },
            (
                Stop::Exhausted,
                Some(ArmFailure::Status {
                    status,
                    code,
                    message,
                    details,
                }),
            ) => classify(op, status, code, message, details, tally.attempts, true),
            _ => Error::Deadline {
                waiting_for: op.to_owned(),
            },
        }
    }

    fn describe(&self, failure: &ArmFailure) -> String {
        format!("{} after {}", self.op, failure.reason())
    }
}
