//! Fault and latency injection, from a scenario file or the control endpoint.

use std::time::Duration;

use hyper::StatusCode;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::http::{ArmError, Reply, Req};

/// A scenario file: a fixed latency plus a list of faults.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Delay added to every ARM and token request, in milliseconds.
    #[serde(default)]
    pub latency_ms: Option<u64>,
    #[serde(default)]
    pub faults: Vec<Fault>,
}

impl Scenario {
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let s: Scenario =
            serde_json::from_str(text).map_err(|e| Error::Config(format!("scenario: {e}")))?;
        for f in &s.faults {
            f.validate()?;
        }
        Ok(s)
    }
}

/// One fault rule. It matches requests by method and a regex on the path (no query string);
/// which matching requests it fires on is chosen by `nth`/`times` or `probability`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// HTTP method to match (any when absent).
    #[serde(default)]
    pub method: Option<String>,
    /// Regex matched against the request path (case-insensitive).
    pub path: String,
    /// Fire starting at the Nth matching request (1-based).
    #[serde(default)]
    pub nth: Option<u32>,
    /// How many matching requests to fire on (from `nth`, or from the first); unlimited if absent
    /// and neither `nth` nor `probability` is given.
    #[serde(default)]
    pub times: Option<u32>,
    /// Fire with this probability (seeded by the sim's `seed`).
    #[serde(default)]
    pub probability: Option<f64>,
    pub action: FaultAction,
}

impl Fault {
    pub(crate) fn validate(&self) -> Result<(), Error> {
        regex_for(&self.path)?;
        if let Some(p) = self.probability
            && !(0.0..=1.0).contains(&p)
        {
            return Err(Error::Config(format!(
                "fault probability {p} is not within 0..=1"
            )));
        }
        if let FaultAction::Status { status, .. } = &self.action
            && StatusCode::from_u16(*status).is_err()
        {
            return Err(Error::Config(format!(
                "fault status {status} is not an HTTP status"
            )));
        }
        Ok(())
    }
}

fn regex_for(path: &str) -> Result<Regex, Error> {
    Regex::new(&format!("(?i){path}"))
        .map_err(|e| Error::Config(format!("fault path regex '{path}': {e}")))
}

/// What a fault does.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultAction {
    /// 429 with `Retry-After`; with `retry_after_ms` also `retry-after-ms` and `x-ms-retry-after-ms`.
    Throttle {
        retry_after_secs: u64,
        #[serde(default)]
        retry_after_ms: Option<u64>,
    },
    /// Any status with an ARM error body, e.g. 500, 503, or 409 `AnotherOperationInProgress`.
    Status {
        status: u16,
        #[serde(default)]
        code: Option<String>,
        #[serde(default)]
        message: Option<String>,
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
    /// Close the connection without answering.
    Reset,
    /// Answer normally, but only after this delay.
    Delay { ms: u64 },
    /// The request is served, but the long-running operation it starts ends `Failed`
    /// (or `Canceled`) with this ARM error.
    LroFailed {
        code: String,
        message: String,
        #[serde(default)]
        canceled: bool,
        /// Send `Retry-After` with the terminal `Failed` status (the Ruby CPI re-issues the
        /// whole request when it sees one).
        #[serde(default)]
        retry_after_secs: Option<u64>,
    },
}

/// What the request pipeline must do for a request.
#[derive(Debug, Clone)]
pub(crate) enum Injection {
    Reply(Reply),
    Delay(Duration),
    LroOutcome(LroFailure),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LroFailure {
    pub error: ArmError,
    pub canceled: bool,
    pub retry_after_secs: Option<u64>,
}

struct Rule {
    fault: Fault,
    regex: Regex,
    matched: u32,
    fired: u32,
}

/// Fault rules plus their counters.
pub(crate) struct FaultEngine {
    rules: Vec<Rule>,
    rng: ChaCha8Rng,
    seed: u64,
}

/// A fault rule with its counters, as the control API reports it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FaultStatus {
    pub fault: Fault,
    pub matched: u32,
    pub fired: u32,
}

impl FaultEngine {
    pub fn new(seed: u64) -> Self {
        Self {
            rules: Vec::new(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            seed,
        }
    }

    pub fn add(&mut self, fault: Fault) -> Result<(), Error> {
        fault.validate()?;
        let regex = regex_for(&fault.path)?;
        self.rules.push(Rule {
            fault,
            regex,
            matched: 0,
            fired: 0,
        });
        Ok(())
    }

    pub fn clear(&mut self) {
        self.rules.clear();
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
    }

    pub fn status(&self) -> Vec<FaultStatus> {
        self.rules
            .iter()
            .map(|r| FaultStatus {
                fault: r.fault.clone(),
                matched: r.matched,
                fired: r.fired,
            })
            .collect()
    }

    /// Counts the request against every matching rule; the first rule that fires decides.
    pub fn check(&mut self, req: &Req) -> Option<Injection> {
        let mut chosen: Option<FaultAction> = None;
        for rule in &mut self.rules {
            let f = &rule.fault;
            if f.method
                .as_deref()
                .is_some_and(|m| !m.eq_ignore_ascii_case(req.method.as_str()))
            {
                continue;
            }
            if !rule.regex.is_match(&req.raw_path) {
                continue;
            }
            rule.matched += 1;
            let n = rule.matched;
            let fire = if let Some(nth) = f.nth {
                n >= nth && n < nth.saturating_add(f.times.unwrap_or(1))
            } else if let Some(p) = f.probability {
                let roll: f64 = self.rng.random();
                roll < p && f.times.is_none_or(|t| rule.fired < t)
            } else {
                f.times.is_none_or(|t| n <= t)
            };
            if fire && chosen.is_none() {
                rule.fired += 1;
                chosen = Some(f.action.clone());
            }
        }
        chosen.map(|action| match action {
            FaultAction::Throttle {
                retry_after_secs,
                retry_after_ms,
            } => {
                let mut reply = ArmError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been reached for operation type - Write_ObservationWindow_00:05:00. For more information, see - https://aka.ms/armthrottling",
                )
                .reply()
                .header("Retry-After", retry_after_secs.to_string());
                if let Some(ms) = retry_after_ms {
                    reply = reply
                        .header("retry-after-ms", ms.to_string())
                        .header("x-ms-retry-after-ms", ms.to_string());
                }
                Injection::Reply(reply)
            }
            FaultAction::Status {
                status,
                code,
                message,
                retry_after_secs,
            } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let code = code.unwrap_or_else(|| default_code(status).to_string());
                let message = message.unwrap_or_else(|| {
                    format!("Injected fault: {} {}", status.as_u16(), code)
                });
                let mut reply = ArmError::new(status, &code, message).reply();
                if let Some(s) = retry_after_secs {
                    reply = reply.header("Retry-After", s.to_string());
                }
                Injection::Reply(reply)
            }
            FaultAction::Reset => Injection::Reply(Reply::reset()),
            FaultAction::Delay { ms } => Injection::Delay(Duration::from_millis(ms)),
            FaultAction::LroFailed {
                code,
                message,
                canceled,
                retry_after_secs,
            } => Injection::LroOutcome(LroFailure {
                retry_after_secs,
                error: ArmError::new(StatusCode::OK, &code, message),
                canceled,
            }),
        })
    }
}

fn default_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        409 => "Conflict",
        429 => "TooManyRequests",
        500 => "InternalServerError",
        502 => "BadGateway",
        503 => "ServiceUnavailable",
        504 => "GatewayTimeout",
        _ => "InjectedFault",
    }
}
