//! The retry policy of every Azure SDK client the CPI builds (blob storage, Entra ID tokens):
//! the SDK's own is turned off (`RetryOptions::none()`) and this one runs last among the
//! per-call policies, where the SDK's would run, so each try still passes the per-try policies
//! (Shared Key signs every try anew, the bearer policy sets a current token). It drives the one
//! retry loop ([`super::retry`]), so blob and token calls follow the same rules as ARM's:
//! Azure's `Retry-After` hints capped by the backoff maximum (the SDK's took any hint as
//! given), a failed connection counted against [`super::retry::CONNECT_ATTEMPTS`], an
//! untrusted certificate never retried, and nothing waited for past the CPI method's deadline.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use azure_core::error::ErrorKind;
use azure_core::http::headers::HeaderName;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{
    AsyncRawResponse, ClientOptions, Context, Request, RetryOptions, Transport,
};

use super::deadline::Deadline;
use super::http::{self, ConnectFailure, NoAnswerByDeadline, Problem, Service};
use super::retry::{self, Attempts, Budget, Cause, Stop, Tally, Verdict};
use super::retry_delay::{self, Backoff};

/// How an SDK client's requests are retried.
#[derive(Debug, Clone)]
pub(crate) struct SdkRetry {
    pub service: Service,
    /// Attempts per request, the first included.
    pub attempts: u32,
    pub backoff: Backoff,
    /// No retry starts later than this after the first try.
    pub max_elapsed: Option<Duration>,
    /// The CPI method's deadline: no try runs and no retry is planned past it.
    pub deadline: Option<Deadline>,
    /// The CPI method, named when its deadline ends a request.
    pub cpi_method: Option<&'static str>,
    /// A 401 is answered once with a fresh token (the per-try bearer policy dropped the
    /// refused one).
    pub renew_token_on_401: bool,
}

impl SdkRetry {
    /// `options` with the shared HTTP client as transport and this policy as the only retry.
    pub(crate) fn install(self, options: &mut ClientOptions, client: reqwest::Client) {
        options.transport = Some(Transport::new(Arc::new(client)));
        options.retry = RetryOptions::none();
        options.per_call_policies.push(Arc::new(self));
    }
}

#[async_trait]
impl Policy for SdkRetry {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        let budget = Budget {
            attempts: self.attempts.max(1),
            elapsed: self.max_elapsed,
            backoff: self.backoff,
            deadline: self.deadline,
        };
        let mut attempt = SdkAttempt {
            policy: self,
            ctx,
            request,
            next,
            renewed: false,
        };
        match retry::run(&budget, &mut attempt).await {
            Ok(response) => Ok(response),
            // The last answer itself when retries ran out on a status: the client turns it
            // into its error with the service's code.
            Err(result) => result,
        }
    }
}

struct SdkAttempt<'a> {
    policy: &'a SdkRetry,
    ctx: &'a Context<'a>,
    request: &'a mut Request,
    next: &'a [Arc<dyn Policy>],
    renewed: bool,
}

enum SdkFailure {
    Status(AsyncRawResponse),
    Connect(Problem),
    Transport(azure_core::Error),
}

impl SdkAttempt<'_> {
    fn host(&self) -> String {
        http::host_of(self.request.url())
    }

    fn no_answer(&self) -> azure_core::Error {
        let policy = self.policy;
        azure_core::Error::new(
            ErrorKind::Other,
            NoAnswerByDeadline {
                service: policy.service,
                host: self.host(),
                method: policy.cpi_method,
                timeout: policy.deadline.and_then(|d| d.length()),
            },
        )
    }

    fn connect_failure(
        &self,
        problem: Problem,
        attempts: u32,
        elapsed_ms: u64,
    ) -> azure_core::Error {
        azure_core::Error::new(
            ErrorKind::Other,
            ConnectFailure {
                service: self.policy.service,
                host: self.host(),
                problem,
                attempts,
                elapsed_ms,
            },
        )
    }
}

/// The reqwest error inside an SDK transport error.
fn reqwest_error(err: &azure_core::Error) -> Option<&reqwest::Error> {
    http::find_in::<reqwest::Error>(err)
}

impl Attempts for SdkAttempt<'_> {
    type Output = AsyncRawResponse;
    type Failure = SdkFailure;
    type Error = PolicyResult;

    async fn attempt(
        &mut self,
        tally: &Tally,
    ) -> Verdict<AsyncRawResponse, SdkFailure, PolicyResult> {
        if tally.attempts > 1
            && let Err(e) = self.request.body_mut().reset().await
        {
            return Verdict::Fail(Err(e));
        }
        let sent = self.next[0].send(self.ctx, self.request, &self.next[1..]);
        let result = match self.policy.deadline {
            Some(deadline) => match tokio::time::timeout(deadline.remaining(), sent).await {
                Ok(result) => result,
                Err(_) => return Verdict::Fail(Err(self.no_answer())),
            },
            None => sent.await,
        };
        match result {
            Ok(response) => {
                let status = u16::from(response.status());
                if status == 401 && self.policy.renew_token_on_401 && !self.renewed {
                    self.renewed = true;
                    return Verdict::Retry(SdkFailure::Status(response), Cause::Reauthenticated);
                }
                if !retry::is_retryable_status(status) {
                    return Verdict::Done(response);
                }
                let headers = response.headers();
                let hint = retry_delay::retry_after_from(|name| {
                    headers.get_optional_str(&HeaderName::from_static(name))
                });
                Verdict::Retry(SdkFailure::Status(response), Cause::Transient { hint })
            }
            Err(err) => {
                if let Some(problem) = reqwest_error(&err).and_then(http::connect_problem) {
                    if !ConnectFailure::retryable(&problem) {
                        return Verdict::Fail(Err(self.connect_failure(
                            problem,
                            tally.failed_connects + 1,
                            0,
                        )));
                    }
                    return Verdict::Retry(SdkFailure::Connect(problem), Cause::Connect);
                }
                if self.policy.deadline.is_some_and(|d| d.passed()) {
                    return Verdict::Fail(Err(self.no_answer()));
                }
                match err.kind() {
                    ErrorKind::Io | ErrorKind::Connection => {
                        Verdict::Retry(SdkFailure::Transport(err), Cause::Transient { hint: None })
                    }
                    _ => Verdict::Fail(Err(err)),
                }
            }
        }
    }

    fn give_up(&mut self, last: Option<SdkFailure>, stop: Stop, tally: &Tally) -> PolicyResult {
        match (last, stop) {
            (Some(SdkFailure::Status(response)), _) => Ok(response),
            (Some(SdkFailure::Connect(problem)), Stop::Exhausted | Stop::PastDeadline { .. }) => {
                Err(self.connect_failure(
                    problem,
                    tally.failed_connects,
                    tally.connect_elapsed_ms(),
                ))
            }
            (Some(SdkFailure::Transport(err)), Stop::Exhausted) => Err(err),
            _ => Err(self.no_answer()),
        }
    }

    fn describe(&self, failure: &SdkFailure) -> String {
        let what = match failure {
            SdkFailure::Status(response) => format!("HTTP {}", u16::from(response.status())),
            SdkFailure::Connect(Problem::Network(problem) | Problem::Untrusted(problem)) => {
                problem.clone()
            }
            // The causes only: reqwest's own text names the URL, query and all.
            SdkFailure::Transport(err) => {
                match reqwest_error(err).and_then(std::error::Error::source) {
                    Some(cause) => format!("{}: {}", err.kind(), http::error_chain(cause)),
                    None => err.kind().to_string(),
                }
            }
        };
        format!(
            "{} {} at {}: {what}",
            self.policy.service,
            self.request.method(),
            self.host()
        )
    }
}
