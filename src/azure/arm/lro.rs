//! Long-running operations: `Azure-AsyncOperation` first, else `Location`, else a non-terminal
//! `provisioningState` in a 200/201 body. Polls wait for `Retry-After` (bounded by the floor
//! and ceiling timings) and stop at the caller's deadline with a message naming the operation.

use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde::Deserialize;
use url::Url;

use super::super::deadline::Deadline;
use super::super::error::{Error, Result};
use super::retry::{ErrorBody, flatten_details, retry_after};
use super::{Answer, ArmClient, Replay};

/// The body of an `Azure-AsyncOperation` status URL.
#[derive(Deserialize)]
struct OperationStatus {
    #[serde(default)]
    status: String,
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct ProvisioningEnvelope {
    properties: Option<ProvisioningProperties>,
}

#[derive(Deserialize)]
struct ProvisioningProperties {
    #[serde(rename = "provisioningState")]
    provisioning_state: Option<String>,
}

enum Progress {
    Succeeded,
    Failed(String),
    Running(String),
}

fn progress(status: &str) -> Progress {
    if status.eq_ignore_ascii_case("Succeeded") {
        Progress::Succeeded
    } else if status.eq_ignore_ascii_case("Failed")
        || status.eq_ignore_ascii_case("Canceled")
        || status.eq_ignore_ascii_case("Cancelled")
    {
        Progress::Failed(status.to_owned())
    } else {
        Progress::Running(status.to_owned())
    }
}

/// An absent provisioningState means finished (ARM RPC).
fn provisioning_state(body: &[u8]) -> Option<String> {
    serde_json::from_slice::<ProvisioningEnvelope>(body)
        .ok()?
        .properties?
        .provisioning_state
}

fn header_url(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

impl ArmClient {
    /// Drives an accepted write to its end. Returns the final body: the resource for PUT/PATCH
    /// (read once at the end), the result for POST, nothing for DELETE.
    pub(super) async fn complete(
        &self,
        method: Method,
        url: &Url,
        answer: Answer,
        op: &str,
        deadline: Deadline,
    ) -> Result<Option<Bytes>> {
        let is_write = method == Method::PUT || method == Method::PATCH;
        let hint = retry_after(&answer.headers);
        if let Some(status_url) = header_url(&answer.headers, "azure-asyncoperation") {
            let status_url = self.poll_url(&status_url, op)?;
            self.poll_async_operation(status_url, op, hint, deadline)
                .await?;
            return if is_write {
                let done = self
                    .send(Method::GET, url.clone(), None, Replay::Always, op, deadline)
                    .await?;
                Ok(Some(done.body))
            } else if method == Method::POST {
                match header_url(&answer.headers, "location") {
                    Some(location) => {
                        let location = self.poll_url(&location, op)?;
                        let result = self
                            .send(Method::GET, location, None, Replay::Always, op, deadline)
                            .await?;
                        Ok(Some(result.body))
                    }
                    None => Ok(None),
                }
            } else {
                Ok(None)
            };
        }
        if answer.status == 202
            && let Some(location) = header_url(&answer.headers, "location")
        {
            let location = self.poll_url(&location, op)?;
            let result = self.poll_location(location, op, hint, deadline).await?;
            return if is_write {
                let done = self
                    .send(Method::GET, url.clone(), None, Replay::Always, op, deadline)
                    .await?;
                Ok(Some(done.body))
            } else {
                Ok(result)
            };
        }
        if is_write && (answer.status == 202 || answer.body.is_empty()) {
            // Accepted without a status URL: the resource itself tells when it is done.
            let first = self
                .send(Method::GET, url.clone(), None, Replay::Always, op, deadline)
                .await?;
            return self
                .poll_resource(url, first.body, retry_after(&first.headers), op, deadline)
                .await
                .map(Some);
        }
        if is_write {
            return self
                .poll_resource(url, answer.body, hint, op, deadline)
                .await
                .map(Some);
        }
        Ok(Some(answer.body))
    }

    fn poll_url(&self, raw: &str, op: &str) -> Result<Url> {
        let url = Url::parse(raw)
            .map_err(|_| Error::Invalid(format!("{op}: Azure sent an invalid operation URL")))?;
        self.check_same_origin(&url, "operation status")?;
        Ok(url)
    }

    /// Waits between polls: Azure's hint or the default, clamped to [floor, ceiling]; fails
    /// at once when the next poll would come after the deadline.
    async fn pause_between_polls(
        &self,
        hint: Option<Duration>,
        deadline: Deadline,
        waiting_for: impl FnOnce() -> String,
    ) -> Result<()> {
        let timings = &self.inner.timings;
        let interval = hint.unwrap_or(timings.poll_default).clamp(
            timings.poll_floor,
            timings.poll_ceiling.max(timings.poll_floor),
        );
        if interval >= deadline.remaining() {
            return Err(Error::Deadline {
                waiting_for: waiting_for(),
            });
        }
        tokio::time::sleep(interval).await;
        Ok(())
    }

    async fn poll_async_operation(
        &self,
        status_url: Url,
        op: &str,
        mut hint: Option<Duration>,
        deadline: Deadline,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        let mut polls = 0u32;
        let mut last = String::from("Accepted");
        loop {
            self.pause_between_polls(hint, deadline, || {
                format!(
                    "{op} to finish (operation status still {last} after {polls} polls in {:.0}s)",
                    started.elapsed().as_secs_f64()
                )
            })
            .await?;
            let answer = self
                .send(
                    Method::GET,
                    status_url.clone(),
                    None,
                    Replay::Always,
                    op,
                    deadline,
                )
                .await
                .map_err(|e| {
                    in_lro(e, || {
                        format!(
                            "{op} to finish (operation status still {last} after {polls} polls)"
                        )
                    })
                })?;
            polls += 1;
            let status: OperationStatus = serde_json::from_slice(&answer.body).map_err(|_| {
                Error::Invalid(format!("{op}: the operation status answer is not JSON"))
            })?;
            match progress(&status.status) {
                Progress::Succeeded => return Ok(()),
                Progress::Failed(state) => return Err(operation_failed(op, &state, status.error)),
                Progress::Running(state) => {
                    last = if state.is_empty() {
                        "unknown".into()
                    } else {
                        state
                    };
                    hint = retry_after(&answer.headers);
                }
            }
        }
    }

    async fn poll_location(
        &self,
        location: Url,
        op: &str,
        mut hint: Option<Duration>,
        deadline: Deadline,
    ) -> Result<Option<Bytes>> {
        let started = std::time::Instant::now();
        let mut polls = 0u32;
        loop {
            self.pause_between_polls(hint, deadline, || {
                format!(
                    "{op} to finish (Location still answering 202 after {polls} polls in {:.0}s)",
                    started.elapsed().as_secs_f64()
                )
            })
            .await?;
            let answer = self
                .send(
                    Method::GET,
                    location.clone(),
                    None,
                    Replay::Always,
                    op,
                    deadline,
                )
                .await
                .map_err(|e| {
                    in_lro(e, || {
                        format!("{op} to finish (Location still answering 202 after {polls} polls)")
                    })
                })?;
            polls += 1;
            match answer.status {
                202 => hint = retry_after(&answer.headers),
                204 => return Ok(None),
                _ => {
                    // Some providers answer the Location URL with an operation status body.
                    if let Ok(status) = serde_json::from_slice::<OperationStatus>(&answer.body)
                        && let Progress::Failed(state) = progress(&status.status)
                    {
                        return Err(operation_failed(op, &state, status.error));
                    }
                    return Ok(Some(answer.body));
                }
            }
        }
    }

    async fn poll_resource(
        &self,
        url: &Url,
        mut body: Bytes,
        mut hint: Option<Duration>,
        op: &str,
        deadline: Deadline,
    ) -> Result<Bytes> {
        let started = std::time::Instant::now();
        let mut polls = 0u32;
        loop {
            let Some(state) = provisioning_state(&body) else {
                return Ok(body);
            };
            match progress(&state) {
                Progress::Succeeded => return Ok(body),
                Progress::Failed(state) => {
                    return Err(Error::Terminal {
                        operation: op.to_owned(),
                        status: 200,
                        code: format!("Provisioning{state}"),
                        message: format!("the resource's provisioningState is {state}"),
                        details: Vec::new(),
                    });
                }
                Progress::Running(state) => {
                    let waiting_for = || {
                        format!(
                            "{op} to finish (provisioningState still {state} after {polls} polls in {:.0}s)",
                            started.elapsed().as_secs_f64()
                        )
                    };
                    self.pause_between_polls(hint, deadline, waiting_for)
                        .await?;
                    let answer = self
                        .send(Method::GET, url.clone(), None, Replay::Always, op, deadline)
                        .await
                        .map_err(|e| in_lro(e, waiting_for))?;
                    polls += 1;
                    hint = retry_after(&answer.headers);
                    body = answer.body;
                }
            }
        }
    }
}

/// A deadline that hits during a poll request reports the LRO's progress, not just the URL.
fn in_lro(err: Error, waiting_for: impl FnOnce() -> String) -> Error {
    match err {
        Error::Deadline { .. } => Error::Deadline {
            waiting_for: waiting_for(),
        },
        other => other,
    }
}

fn operation_failed(op: &str, state: &str, error: Option<ErrorBody>) -> Error {
    let (code, message, details) = match error {
        Some(e) => (
            if e.code.is_empty() {
                format!("Operation{state}")
            } else {
                e.code
            },
            if e.message.is_empty() {
                format!("the operation ended {state}")
            } else {
                e.message
            },
            flatten_details(&e.details),
        ),
        None => (
            format!("Operation{state}"),
            format!("the operation ended {state} without an error body"),
            Vec::new(),
        ),
    };
    Error::Terminal {
        operation: op.to_owned(),
        status: 200,
        code,
        message,
        details,
    }
}
