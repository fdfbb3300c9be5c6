//! The one retry loop of every Azure request the CPI retries itself: ARM requests, blob
//! requests sent through the SDK pipeline (see [`super::storage::blob`]) and Put Page. The loop
//! owns attempt counting, the deadline, the delay ([`super::retry_delay`]), the budget of failed
//! connections and the log line of each retry; each caller only classifies what one attempt
//! gave ([`Attempts::attempt`]) and says what to answer when the loop stops
//! ([`Attempts::give_up`]).

use std::time::{Duration, Instant};

use super::deadline::Deadline;
use super::retry_delay::{self, Backoff};

/// Connection attempts an endpoint gets before it counts as unreachable: one lost SYN or a
/// blip survives, a dead route does not hold a Director's call for long.
pub const CONNECT_ATTEMPTS: u32 = 3;

/// The statuses Azure's services answer when another try of the same request may succeed.
pub(crate) fn is_retryable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// What one attempt gave.
pub(crate) enum Verdict<T, F, E> {
    Done(T),
    /// Not worth another attempt.
    Fail(E),
    /// Worth another attempt; `F` says why, for the log and for [`Attempts::give_up`].
    Retry(F, Cause),
}

/// Why an attempt is worth repeating, which decides its budget and its delay.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cause {
    /// No connection (refused, timed out, DNS): the request never reached the service.
    /// Bounded by [`CONNECT_ATTEMPTS`] besides the attempt budget, paced by
    /// [`connect_backoff`].
    Connect,
    /// A failure another attempt may not meet; `hint` is Azure's wait hint.
    Transient { hint: Option<Duration> },
    /// The service asked to slow down. With a deadline, retried until it rather than within
    /// the attempt budget: a busy service is a reason to slow down, not to fail.
    Throttled { hint: Option<Duration> },
    /// The service refused the credential and a fresh one is in hand: the attempt is
    /// repeated at once and not counted (the caller makes sure this happens once).
    Reauthenticated,
}

/// How far one request is retried.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    /// Attempts, the first one included.
    pub attempts: u32,
    /// No retry starts later than this after the first attempt began.
    pub elapsed: Option<Duration>,
    pub backoff: Backoff,
    /// No attempt starts, and no retry is planned, past this.
    pub deadline: Option<Deadline>,
}

/// What the loop has counted so far, for messages.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tally {
    /// Attempts made, the current one included.
    pub attempts: u32,
    /// Attempts that failed to connect.
    pub failed_connects: u32,
    pub first_connect_failure: Option<Instant>,
    pub started: Instant,
}

impl Tally {
    /// Milliseconds since the first failed connection (or the first attempt).
    pub(crate) fn connect_elapsed_ms(&self) -> u64 {
        let since = self.first_connect_failure.unwrap_or(self.started);
        u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// Why the loop stopped retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The attempt budget (or the connection budget) is spent.
    Exhausted,
    /// The deadline passed before the next attempt could start.
    DeadlinePassed,
    /// The next retry would come `delay` from now, past the deadline.
    PastDeadline { delay: Duration },
}

/// One kind of request, as the loop drives it.
pub(crate) trait Attempts {
    type Output;
    /// Why an attempt failed but may be repeated.
    type Failure;
    type Error;

    /// Makes one attempt and classifies what came of it.
    async fn attempt(&mut self, tally: &Tally)
    -> Verdict<Self::Output, Self::Failure, Self::Error>;

    /// The error to answer when the loop stops: `last` is the last retryable failure (`None`
    /// when the deadline passed before the first attempt).
    fn give_up(&mut self, last: Option<Self::Failure>, stop: Stop, tally: &Tally) -> Self::Error;

    /// What is being retried and why, for the log line.
    fn describe(&self, failure: &Self::Failure) -> String;

    /// Called before the pause ahead of a retry (the page writer pauses every call then).
    fn before_retry(&mut self, _failure: &Self::Failure, _cause: Cause, _delay: Duration) {}
}

/// The pause after failed connection attempt `attempt` (1-based).
pub(crate) fn connect_backoff(attempt: u32) -> Duration {
    Duration::from_millis(500) * 2u32.saturating_pow(attempt.saturating_sub(1).min(4))
}

/// Attempts `request` until it is done, fails, or the budget or the deadline ends it.
pub(crate) async fn run<A: Attempts>(
    budget: &Budget,
    request: &mut A,
) -> Result<A::Output, A::Error> {
    let mut tally = Tally {
        attempts: 0,
        failed_connects: 0,
        first_connect_failure: None,
        started: Instant::now(),
    };
    let mut last = None;
    loop {
        if budget.deadline.is_some_and(|d| d.passed()) {
            return Err(request.give_up(last, Stop::DeadlinePassed, &tally));
        }
        tally.attempts += 1;
        let attempt_started = Instant::now();
        let (failure, cause) = match request.attempt(&tally).await {
            Verdict::Done(output) => return Ok(output),
            Verdict::Fail(error) => return Err(error),
            Verdict::Retry(failure, cause) => (failure, cause),
        };
        if cause == Cause::Reauthenticated {
            tally.attempts -= 1;
            last = Some(failure);
            continue;
        }
        let delay = match cause {
            Cause::Reauthenticated => Duration::ZERO,
            Cause::Connect => {
                tally.failed_connects += 1;
                tally.first_connect_failure.get_or_insert(attempt_started);
                connect_backoff(tally.failed_connects)
            }
            Cause::Transient { hint } | Cause::Throttled { hint } => {
                retry_delay::delay_before_retry(budget.backoff, tally.attempts, hint)
            }
        };
        let until_deadline = matches!(cause, Cause::Throttled { .. }) && budget.deadline.is_some();
        let exhausted = if until_deadline {
            false
        } else {
            tally.attempts >= budget.attempts
                || (cause == Cause::Connect && tally.failed_connects >= CONNECT_ATTEMPTS)
                || budget
                    .elapsed
                    .is_some_and(|max| tally.started.elapsed() + delay > max)
        };
        if exhausted {
            return Err(request.give_up(Some(failure), Stop::Exhausted, &tally));
        }
        if budget.deadline.is_some_and(|d| delay >= d.remaining()) {
            return Err(request.give_up(Some(failure), Stop::PastDeadline { delay }, &tally));
        }
        tracing::debug!(
            target: "azure::retry",
            attempt = tally.attempts,
            delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
            cause = %request.describe(&failure),
            "retrying"
        );
        request.before_retry(&failure, cause, delay);
        last = Some(failure);
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers from a script; counts attempts.
    struct Script {
        answers: Vec<Verdict<u32, &'static str, String>>,
        paused: Vec<Duration>,
    }

    impl Attempts for Script {
        type Output = u32;
        type Failure = &'static str;
        type Error = String;

        async fn attempt(&mut self, _tally: &Tally) -> Verdict<u32, &'static str, String> {
            if self.answers.is_empty() {
                Verdict::Done(0)
            } else {
                self.answers.remove(0)
            }
        }

        fn give_up(&mut self, last: Option<&'static str>, stop: Stop, tally: &Tally) -> String {
            format!(
                "{stop:?} after {} attempts ({} connects): {}",
                tally.attempts,
                tally.failed_connects,
                last.unwrap_or("-")
            )
        }

        fn describe(&self, failure: &&'static str) -> String {
            (*failure).to_owned()
        }

        fn before_retry(&mut self, _failure: &&'static str, _cause: Cause, delay: Duration) {
            self.paused.push(delay);
        }
    }

    fn budget(attempts: u32, deadline: Option<Deadline>) -> Budget {
        Budget {
            attempts,
            elapsed: None,
            backoff: Backoff {
                initial: Duration::from_millis(1),
                max: Duration::from_millis(2),
            },
            deadline,
        }
    }

    fn transient() -> Verdict<u32, &'static str, String> {
        Verdict::Retry("busy", Cause::Transient { hint: None })
    }

    #[tokio::test]
    async fn retries_within_the_attempt_budget() {
        let mut script = Script {
            answers: vec![transient(), transient(), Verdict::Done(7)],
            paused: vec![],
        };
        assert_eq!(run(&budget(3, None), &mut script).await, Ok(7));
        assert_eq!(script.paused.len(), 2);
        let mut script = Script {
            answers: vec![transient(), transient(), transient()],
            paused: vec![],
        };
        assert_eq!(
            run(&budget(3, None), &mut script).await,
            Err("Exhausted after 3 attempts (0 connects): busy".to_owned())
        );
    }

    #[tokio::test]
    async fn failed_connections_have_their_own_budget_and_pace() {
        let connect = || Verdict::Retry("refused", Cause::Connect);
        let mut script = Script {
            answers: vec![connect(), connect(), connect(), Verdict::Done(1)],
            paused: vec![],
        };
        assert_eq!(
            run(&budget(10, None), &mut script).await,
            Err("Exhausted after 3 attempts (3 connects): refused".to_owned())
        );
        assert_eq!(
            script.paused,
            [Duration::from_millis(500), Duration::from_millis(1000)]
        );
    }

    #[tokio::test]
    async fn throttling_is_bounded_by_the_deadline_not_the_budget() {
        let throttled = || {
            Verdict::Retry(
                "slow down",
                Cause::Throttled {
                    hint: Some(Duration::from_millis(2)),
                },
            )
        };
        let mut script = Script {
            answers: (0..20).map(|_| throttled()).collect(),
            paused: vec![],
        };
        let deadline = Deadline::after(Duration::from_secs(60));
        assert_eq!(run(&budget(3, Some(deadline)), &mut script).await, Ok(0));
        assert_eq!(script.paused.len(), 20);
        // Without a deadline, the attempt budget holds.
        let mut script = Script {
            answers: (0..20).map(|_| throttled()).collect(),
            paused: vec![],
        };
        assert!(run(&budget(3, None), &mut script).await.is_err());
        assert_eq!(script.paused.len(), 2);
    }

    #[tokio::test]
    async fn a_retry_past_the_deadline_is_not_waited_for() {
        let mut script = Script {
            answers: vec![Verdict::Retry(
                "busy",
                Cause::Transient {
                    hint: Some(Duration::from_secs(30)),
                },
            )],
            paused: vec![],
        };
        let mut far = budget(5, Some(Deadline::after(Duration::from_secs(10))));
        far.backoff.max = Duration::from_secs(60);
        assert_eq!(
            run(&far, &mut script).await,
            Err("PastDeadline { delay: 30s } after 1 attempts (0 connects): busy".to_owned())
        );
        let mut script = Script {
            answers: vec![],
            paused: vec![],
        };
        let passed = Deadline::at(Instant::now() - Duration::from_secs(1));
        assert_eq!(
            run(&budget(5, Some(passed)), &mut script).await,
            Err("DeadlinePassed after 0 attempts (0 connects): -".to_owned())
        );
    }

    #[tokio::test]
    async fn a_terminal_answer_ends_at_once() {
        let mut script = Script {
            answers: vec![transient(), Verdict::Fail("no".to_owned())],
            paused: vec![],
        };
        assert_eq!(
            run(&budget(5, None), &mut script).await,
            Err("no".to_owned())
        );
    }
}
