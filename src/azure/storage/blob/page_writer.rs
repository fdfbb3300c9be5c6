//! Put Page without the SDK pipeline, for the stemcell upload's tens of thousands of small
//! calls (one per run of non-zero pages). Through the pipeline each call paid for its policy
//! chain, several header maps and URL copies, a client request id, the key decoded again and
//! the response's headers collected into a model: more CPU than moving the page data itself.
//!
//! The wire request is the SDK's `upload_pages` (`PUT <blob>?comp=page`, `Range`,
//! `x-ms-page-write: update`), Shared Key signed as [`super::SharedKeyPolicy`] signs it, over
//! one pooled client (connections are reused across calls). Retries run in the one retry loop
//! ([`crate::azure::retry`]) within the service's [`RetrySettings`]: failed connections (their
//! own budget), transport errors and 408/429/500/502/503/504, delays by the one rule of every
//! Azure call (Azure's `retry-after-ms` / `Retry-After` hint, else jittered exponential
//! backoff). A throttling answer (503 ServerBusy, 429, 500
//! OperationTimedOut) pauses every call for the throttled call's delay, counts as one
//! throttle episode (logged once) that halves the tries allowed in flight, which grow back by
//! one per window of successes (AIMD; retries of calls already in flight are gated too, so
//! they do not all hit the busy blob again when the pause ends), and is retried for as long as
//! the caller's deadline allows.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use azure_core::credentials::Secret;
use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Client, StatusCode, Url};

use super::{MAX_PUT_PAGE_BYTES, PAGE_SIZE, RetrySettings, StorageAuth};
use crate::azure::auth::AudienceCredential;
use crate::azure::deadline::Deadline;
use crate::azure::http::{self, ConnectFailure, Problem, Service};
use crate::azure::retry::{self, Attempts, Budget, Cause, Stop, Tally, Verdict};
use crate::azure::retry_delay::{self, Backoff};
use crate::error::{CpiError, CpiResult};

/// One try may take this long (a 4 MiB call at 1 MiB/s takes 4 s).
const TRY_TIMEOUT: Duration = Duration::from_secs(120);

/// Writes pages of one page blob: a blob of a storage account, or the upload URL of a managed
/// disk created for upload (a page blob behind a SAS, written with a bearer token too).
pub struct PageWriter {
    client: Client,
    /// The blob's URL with `?comp=page` (and, for a disk's upload URL, its SAS: never logged).
    url: Url,
    /// The URL without its query, for logs.
    log_url: String,
    /// `Some(name)` when writing a managed disk's upload URL.
    disk: Option<String>,
    /// `/<account><path>\ncomp:page`, the end of every string to sign.
    canonical_resource: String,
    account_name: String,
    auth: StorageAuth,
    /// `container/blob`, for messages.
    label: String,
    version: HeaderValue,
    retry: RetrySettings,
    /// After a throttling answer (503 or 429), no try of any call starts before this instant:
    /// one call's backoff paces them all, instead of the other calls in flight pressing on
    /// and being throttled in turn.
    paused_until: std::sync::Mutex<Option<tokio::time::Instant>>,
    /// Throttle episodes so far: throttling answers that arrived while no pause was running.
    throttle_episodes: AtomicU64,
    /// How many tries may be in flight.
    gate: Gate,
    /// Throttled calls retry until this instant (the CPI method's deadline) rather than
    /// within `retry`'s budget: a busy blob is a reason to slow down, not to fail.
    deadline: Option<Instant>,
}

impl std::fmt::Debug for PageWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageWriter")
            .field("url", &self.log_url)
            .field("account_key", &"<redacted>")
            .finish()
    }
}

impl PageWriter {
    pub(super) fn new(
        blob_url: &Url,
        label: String,
        account_name: &str,
        auth: &StorageAuth,
        version: &str,
        retry: &RetrySettings,
        client: Client,
    ) -> CpiResult<Self> {
        // A bearer token never travels in clear, as the SDK's bearer policy insists too.
        if matches!(auth, StorageAuth::EntraId(_)) && blob_url.scheme() != "https" {
            return Err(CpiError::cloud(format!(
                "Blob '{label}' of storage account '{account_name}' is not served over https: Microsoft Entra ID tokens are sent over https only"
            )));
        }
        let mut url = blob_url.clone();
        url.query_pairs_mut().append_pair("comp", "page");
        let version = HeaderValue::from_str(version)
            .map_err(|_| CpiError::cloud(format!("Invalid storage api-version '{version}'")))?;
        Ok(Self {
            client,
            canonical_resource: format!("/{account_name}{}\ncomp:page", url.path()),
            log_url: without_query(&url),
            disk: None,
            url,
            account_name: account_name.to_owned(),
            auth: auth.clone(),
            label,
            version,
            retry: retry.clone(),
            paused_until: std::sync::Mutex::new(None),
            throttle_episodes: AtomicU64::new(0),
            gate: Gate::new(DEFAULT_TRIES_IN_FLIGHT),
            deadline: None,
        })
    }

    /// Writes the upload URL of managed disk `disk_name`: `access_sas` as `beginGetAccess`
    /// answered it, each call with a bearer token for the disk audience (`credential`), as a
    /// disk with `dataAccessAuthMode: AzureActiveDirectory` demands besides the SAS.
    pub(crate) fn for_disk_upload(
        access_sas: &Url,
        disk_name: &str,
        credential: AudienceCredential,
        version: &str,
        retry: &RetrySettings,
        client: Client,
    ) -> CpiResult<Self> {
        let label = format!("managed disk '{disk_name}'");
        if access_sas.scheme() != "https" {
            return Err(CpiError::cloud(format!(
                "The upload URL of {label} is not https: Microsoft Entra ID tokens are sent over https only"
            )));
        }
        let mut writer = Self::new(
            access_sas,
            label,
            "",
            &StorageAuth::EntraId(credential),
            version,
            retry,
            client,
        )?;
        writer.disk = Some(disk_name.to_owned());
        Ok(writer)
    }

    /// What the pages are written to, for messages.
    fn target(&self) -> String {
        match &self.disk {
            Some(_) => format!("the upload URL of {}", self.label),
            None => format!(
                "blob '{}' in storage account '{}'",
                self.label, self.account_name
            ),
        }
    }

    /// Throttled calls keep retrying until `deadline` (the CPI method's); without one they
    /// stay within the retry settings' budget.
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// At most `max` tries in flight; throttling lowers it for a while.
    pub(crate) fn set_max_tries_in_flight(&mut self, max: usize) {
        self.gate = Gate::new(max);
    }

    /// Tries allowed in flight now.
    pub(crate) fn tries_allowed(&self) -> usize {
        self.gate.limit()
    }

    /// Writes `data` at `offset`. Both must be page aligned and `data` at most 4 MiB.
    pub async fn put_pages(&self, offset: u64, data: Bytes) -> CpiResult<()> {
        let len = data.len() as u64;
        if len == 0
            || len > MAX_PUT_PAGE_BYTES
            || !len.is_multiple_of(PAGE_SIZE)
            || !offset.is_multiple_of(PAGE_SIZE)
        {
            return Err(CpiError::cloud(format!(
                "Invalid Put Page for '{}': offset {offset}, length {len} \
                 (both must be multiples of {PAGE_SIZE}, length at most {MAX_PUT_PAGE_BYTES})",
                self.label
            )));
        }
        let range = format!("bytes={offset}-{}", offset + len - 1);
        let budget = Budget {
            attempts: self.retry.max_retries.saturating_add(1),
            elapsed: Some(self.retry.max_total),
            backoff: self.backoff(),
            deadline: self.deadline.map(Deadline::at),
        };
        let mut call = PutPage {
            writer: self,
            offset,
            len,
            range: &range,
            data: &data,
            renewed: false,
        };
        retry::run(&budget, &mut call).await
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: self.retry.initial_delay,
            max: self.retry.max_delay,
        }
    }

    async fn wait_while_paused(&self) {
        let until = *self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(until) = until {
            tokio::time::sleep_until(until).await;
        }
    }

    fn pause_all(&self, delay: Duration, cause: &str) {
        let now = tokio::time::Instant::now();
        let until = now + delay;
        let mut paused = self
            .paused_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Calls in flight when the blob got busy are answered the same way: one episode.
        if paused.is_none_or(|current| current <= now) {
            let episode = self.throttle_episodes.fetch_add(1, Ordering::Relaxed) + 1;
            self.gate.halve();
            tracing::info!(
                blob = %self.label,
                cause,
                pause_ms = delay.as_millis() as u64,
                episode,
                "the storage service is throttling Put Page; every call pauses, then the upload resumes with fewer calls in flight"
            );
        }
        if paused.is_none_or(|current| current < until) {
            *paused = Some(until);
        }
    }

    async fn try_once(&self, range: &str, len: u64, data: Bytes) -> Result<(), Failure> {
        let bearer = match &self.auth {
            StorageAuth::EntraId(credential) => Some(
                credential
                    .bearer()
                    .await
                    .map_err(|e| Failure::terminal(format!("no token for blob storage: {e}")))?,
            ),
            StorageAuth::SharedKey(_) => None,
        };
        let headers = self.signed_headers(range, len, bearer.as_ref())?;
        tracing::trace!(url = %self.log_url, range, "Put Page");
        let timeout = match self.deadline {
            Some(deadline) => TRY_TIMEOUT.min(deadline.saturating_duration_since(Instant::now())),
            None => TRY_TIMEOUT,
        };
        let response = self
            .client
            .put(self.url.clone())
            .headers(headers)
            .body(data)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| self.transport_failure(e))?;
        let status = response.status();
        if status.is_success() {
            // Read to the end (it is empty) so the connection goes back to the pool: a body
            // left unread, e.g. a chunked one, would close it.
            return response
                .bytes()
                .await
                .map(drop)
                .map_err(|e| self.transport_failure(e));
        }
        let retry_after = retry_delay::retry_after(response.headers());
        let code = response
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .map(|code| code.chars().take(64).collect::<String>());
        let mut message = match &code {
            Some(code) => format!("HTTP {} {code}", status.as_u16()),
            None => format!("HTTP {}", status.as_u16()),
        };
        let entra_id = matches!(self.auth, StorageAuth::EntraId(_));
        let hint = match &self.disk {
            Some(disk) => disk_upload_hint(status, disk),
            None => super::authorization_hint(code.as_deref(), &self.account_name, entra_id),
        };
        if let Some(hint) = hint {
            message = format!("{message}: {hint}");
        }
        let cause = if status == StatusCode::UNAUTHORIZED && bearer.is_some() {
            Some(Cause::Reauthenticated)
        } else if is_throttled(status, code.as_deref()) {
            Some(Cause::Throttled { hint: retry_after })
        } else if retry::is_retryable_status(status.as_u16()) {
            Some(Cause::Transient { hint: retry_after })
        } else {
            None
        };
        Err(Failure {
            cause,
            message,
            refused_token: bearer.filter(|_| status == StatusCode::UNAUTHORIZED),
        })
    }

    /// No answer: a failed connection counts against the connection budget, and an untrusted
    /// certificate is not retried.
    fn transport_failure(&self, error: reqwest::Error) -> Failure {
        match http::connect_problem(&error) {
            Some(Problem::Network(problem)) => Failure {
                cause: Some(Cause::Connect),
                message: problem,
                refused_token: None,
            },
            Some(problem) => Failure::terminal(
                ConnectFailure {
                    service: Service::BlobStorage,
                    host: http::host_of(&self.url),
                    problem,
                    attempts: 1,
                    elapsed_ms: 0,
                }
                .to_string(),
            ),
            None => Failure {
                cause: Some(Cause::Transient { hint: None }),
                message: describe_transport(error, self.disk.is_some()),
                refused_token: None,
            },
        }
    }

    /// The request's headers with `x-ms-date` and the `Authorization`: `bearer` when given,
    /// else the Shared Key signature.
    fn signed_headers(
        &self,
        range: &str,
        len: u64,
        bearer: Option<&Secret>,
    ) -> Result<HeaderMap, Failure> {
        let date = httpdate::fmt_http_date(SystemTime::now());
        let length = len.to_string();
        // The Blob service's string to sign: the standard headers in their fixed places
        // (content-length, content-type, range set; the others empty), then the x-ms-
        // headers sorted, then the canonicalized resource.
        let string_to_sign = format!(
            "PUT\n\n\n{length}\n\napplication/octet-stream\n\n\n\n\n\n{range}\nx-ms-date:{date}\nx-ms-page-write:update\nx-ms-version:{}\n{}",
            self.version.to_str().unwrap_or_default(),
            self.canonical_resource
        );
        let authorization = match (bearer, &self.auth) {
            (Some(token), _) => format!("Bearer {}", token.secret()),
            (None, StorageAuth::SharedKey(key)) => {
                let signature = azure_core::hmac::hmac_sha256(&string_to_sign, key)
                    .map_err(|e| Failure::terminal(format!("cannot sign the request: {e}")))?;
                format!("SharedKey {}:{signature}", self.account_name)
            }
            (None, StorageAuth::EntraId(_)) => {
                return Err(Failure::terminal("no token for blob storage".into()));
            }
        };
        let unusable = |what: &str| Failure::terminal(format!("unusable {what} header"));
        let mut headers = HeaderMap::with_capacity(8);
        let mut put = |name: &'static str, value: String| -> Result<(), Failure> {
            let value = HeaderValue::try_from(value).map_err(|_| unusable(name))?;
            headers.insert(HeaderName::from_static(name), value);
            Ok(())
        };
        put("content-length", length)?;
        put("content-type", "application/octet-stream".to_owned())?;
        put("range", range.to_owned())?;
        put("x-ms-date", date)?;
        put("x-ms-page-write", "update".to_owned())?;
        put("authorization", authorization)?;
        headers.insert(
            HeaderName::from_static("x-ms-version"),
            self.version.clone(),
        );
        Ok(headers)
    }
}

/// Without [`PageWriter::set_max_tries_in_flight`]: the Ruby CPI's upload threads.
const DEFAULT_TRIES_IN_FLIGHT: usize = 16;

/// Tries in flight, with an AIMD limit: halved per throttle episode, one more per window of
/// as many successes as the limit, never above `max`.
struct Gate {
    state: std::sync::Mutex<GateState>,
    changed: tokio::sync::Notify,
}

struct GateState {
    limit: usize,
    max: usize,
    active: usize,
    successes: usize,
}

/// Proof of one entered try; give it back with [`Gate::leave`].
struct Permit;

impl Gate {
    fn new(max: usize) -> Self {
        let max = max.max(1);
        Self {
            state: std::sync::Mutex::new(GateState {
                limit: max,
                max,
                active: 0,
                successes: 0,
            }),
            changed: tokio::sync::Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn limit(&self) -> usize {
        self.lock().limit
    }

    async fn enter(&self) -> Permit {
        loop {
            // Registered before the check, so a leave in between still wakes this waiter.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let mut state = self.lock();
                if state.active < state.limit {
                    state.active += 1;
                    return Permit;
                }
            }
            changed.await;
        }
    }

    fn leave(&self, _permit: Permit, succeeded: bool) {
        {
            let mut state = self.lock();
            state.active = state.active.saturating_sub(1);
            if succeeded {
                state.successes += 1;
                if state.successes >= state.limit {
                    state.successes = 0;
                    state.limit = (state.limit + 1).min(state.max);
                }
            }
        }
        self.changed.notify_waiters();
    }

    fn halve(&self) {
        let mut state = self.lock();
        state.limit = (state.limit / 2).max(1);
        state.successes = 0;
    }
}

struct Failure {
    /// Why another try may succeed; `None`: it will not.
    cause: Option<Cause>,
    message: String,
    /// The bearer token storage refused (401).
    refused_token: Option<Secret>,
}

impl Failure {
    fn terminal(message: String) -> Self {
        Self {
            cause: None,
            message,
            refused_token: None,
        }
    }
}

/// One Put Page call as the retry loop drives it. Each try waits out a running pause and
/// passes the gate; a throttling answer (503 ServerBusy, 429, 500 OperationTimedOut) pauses
/// every call and is retried until the deadline; a 401 to a token is answered once with a
/// fresh one.
struct PutPage<'a> {
    writer: &'a PageWriter,
    offset: u64,
    len: u64,
    range: &'a str,
    data: &'a Bytes,
    renewed: bool,
}

impl Attempts for PutPage<'_> {
    type Output = ();
    type Failure = Failure;
    type Error = CpiError;

    async fn attempt(&mut self, tally: &Tally) -> Verdict<(), Failure, CpiError> {
        let writer = self.writer;
        writer.wait_while_paused().await;
        let permit = writer.gate.enter().await;
        // A pause may have begun while this try waited at the gate.
        writer.wait_while_paused().await;
        let outcome = writer
            .try_once(self.range, self.len, self.data.clone())
            .await;
        writer.gate.leave(permit, outcome.is_ok());
        let failure = match outcome {
            Ok(()) => return Verdict::Done(()),
            Err(failure) => failure,
        };
        match failure.cause {
            Some(Cause::Reauthenticated) if !self.renewed => {
                self.renewed = true;
                if let (Some(token), StorageAuth::EntraId(credential)) =
                    (&failure.refused_token, &writer.auth)
                {
                    credential.reject(token).await;
                }
                Verdict::Retry(failure, Cause::Reauthenticated)
            }
            Some(Cause::Reauthenticated) | None => {
                let stop = Stop::Exhausted;
                Verdict::Fail(self.give_up(Some(failure), stop, tally))
            }
            Some(cause) => Verdict::Retry(failure, cause),
        }
    }

    fn give_up(&mut self, last: Option<Failure>, stop: Stop, tally: &Tally) -> CpiError {
        let writer = self.writer;
        let why = match (last, stop) {
            (Some(failure), Stop::Exhausted) if failure.cause == Some(Cause::Connect) => {
                ConnectFailure {
                    service: Service::BlobStorage,
                    host: http::host_of(&writer.url),
                    problem: Problem::Network(failure.message),
                    attempts: tally.failed_connects,
                    elapsed_ms: tally.connect_elapsed_ms(),
                }
                .to_string()
            }
            (Some(failure), Stop::PastDeadline { delay }) => format!(
                "{} (the next retry would come in {:.1}s, past the call's deadline)",
                failure.message,
                delay.as_secs_f64()
            ),
            (Some(failure), _) => failure.message,
            (None, _) => "the call's deadline passed".to_owned(),
        };
        CpiError::cloud(format!(
            "Failed to upload pages {}..{} of {}: {why}",
            self.offset,
            self.offset + self.len,
            writer.target(),
        ))
    }

    fn describe(&self, failure: &Failure) -> String {
        format!(
            "Put Page {} of '{}': {}",
            self.range, self.writer.label, failure.message
        )
    }

    fn before_retry(&mut self, failure: &Failure, cause: Cause, delay: Duration) {
        if matches!(cause, Cause::Throttled { .. }) {
            self.writer.pause_all(delay, &failure.message);
        }
    }
}

/// Azure Storage's answers for "over a scalability target": 503 `ServerBusy`, 500
/// `OperationTimedOut` (see "Scalability and performance targets for Blob storage"), and 429.
fn is_throttled(status: StatusCode, code: Option<&str>) -> bool {
    match status.as_u16() {
        429 | 503 => true,
        500 => code.is_some_and(|c| c.eq_ignore_ascii_case("OperationTimedOut")),
        _ => false,
    }
}

/// What to do about a refused write to a disk's upload URL. The upload needs the data action
/// `Microsoft.Compute/disks/upload/action`, which no `Actions` wildcard such as Contributor's
/// grants ("Secure downloads and uploads with Microsoft Entra ID": the built-in role Data
/// Operator for Managed Disks holds it).
fn disk_upload_hint(status: StatusCode, disk: &str) -> Option<String> {
    matches!(status, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN).then(|| {
        format!(
            "the CPI's identity may not upload to managed disk '{disk}': give it the data action Microsoft.Compute/disks/upload/action (the built-in role Data Operator for Managed Disks) on the default resource group"
        )
    })
}

/// A transport failure on one line, with its causes. A blob URL carries no secret (Shared Key
/// and bearer tokens travel in headers); a disk's upload URL carries a SAS, so `hide_url`.
fn describe_transport(error: reqwest::Error, hide_url: bool) -> String {
    if hide_url {
        http::error_chain(&error.without_url())
    } else {
        http::error_chain(&error)
    }
}

/// The URL without its query (a SAS is secret).
fn without_query(url: &Url) -> String {
    let mut bare = url.clone();
    bare.set_query(None);
    bare.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> PageWriter {
        let url = Url::parse("http://127.0.0.1:10000/devstoreaccount1/stemcell/b.vhd").unwrap();
        PageWriter::new(
            &url,
            "stemcell/b.vhd".into(),
            "devstoreaccount1",
            &StorageAuth::SharedKey(Secret::new("c2VjcmV0LWtleQ==")),
            "2026-04-06",
            &RetrySettings::default(),
            Client::new(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_transport_failure_on_an_upload_url_does_not_quote_its_sas() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let url = "http://127.0.0.1:1/md/abcd?sv=1&sig=SECRETSIG";
        let error = Client::new().put(url).send().await.unwrap_err();
        let hidden = describe_transport(error, true);
        assert!(!hidden.contains("SECRETSIG"), "{hidden}");
        let error = Client::new().put(url).send().await.unwrap_err();
        assert!(describe_transport(error, false).contains("127.0.0.1:1"));
        let bare = without_query(&Url::parse(url).unwrap());
        assert_eq!(bare, "http://127.0.0.1:1/md/abcd");
    }

    #[test]
    fn signs_the_same_string_as_the_pipeline_policy() {
        let writer = writer();
        assert_eq!(
            writer.url.as_str(),
            "http://127.0.0.1:10000/devstoreaccount1/stemcell/b.vhd?comp=page"
        );
        let headers = writer
            .signed_headers("bytes=0-511", 512, None)
            .ok()
            .unwrap();
        let date = headers["x-ms-date"].to_str().unwrap().to_owned();
        // The policy's string for the same request (see shared_key.rs).
        let expected = format!(
            "PUT\n\n\n512\n\napplication/octet-stream\n\n\n\n\n\nbytes=0-511\n\
             x-ms-date:{date}\nx-ms-page-write:update\nx-ms-version:2026-04-06\n\
             /devstoreaccount1/devstoreaccount1/stemcell/b.vhd\ncomp:page"
        );
        let signature =
            azure_core::hmac::hmac_sha256(&expected, &Secret::new("c2VjcmV0LWtleQ==")).unwrap();
        assert_eq!(
            headers["authorization"].to_str().unwrap(),
            format!("SharedKey devstoreaccount1:{signature}")
        );
        assert_eq!(headers["range"], "bytes=0-511");
        assert_eq!(headers["x-ms-page-write"], "update");
    }

    #[tokio::test]
    async fn the_gate_halves_per_episode_and_grows_back_by_one_per_window() {
        let gate = Gate::new(16);
        gate.halve();
        assert_eq!(gate.limit(), 8);
        gate.halve();
        assert_eq!(gate.limit(), 4);
        let entered = [
            gate.enter().await,
            gate.enter().await,
            gate.enter().await,
            gate.enter().await,
        ];
        // A fifth try waits until one leaves.
        let fifth = tokio::time::timeout(Duration::from_millis(50), gate.enter()).await;
        assert!(fifth.is_err());
        for permit in entered {
            gate.leave(permit, true);
        }
        assert_eq!(gate.limit(), 5);
        for _ in 0..1000 {
            let permit = gate.enter().await;
            gate.leave(permit, true);
        }
        assert_eq!(gate.limit(), 16);
        for _ in 0..10 {
            gate.halve();
        }
        assert_eq!(gate.limit(), 1);
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let printed = format!("{:?}", writer());
        assert!(!printed.contains("c2VjcmV0LWtleQ"), "{printed}");
    }

    #[test]
    fn retry_delays_grow_are_capped_and_honour_retry_after() {
        let writer = writer();
        let policy = writer.backoff();
        let first = retry_delay::delay_before_retry(policy, 1, None);
        assert!(first >= Duration::from_millis(250) && first <= Duration::from_millis(500));
        assert!(retry_delay::delay_before_retry(policy, 31, None) <= Duration::from_secs(20));
        let asked = Some(Duration::from_millis(300));
        assert_eq!(
            retry_delay::delay_before_retry(policy, 4, asked),
            Duration::from_millis(300)
        );
        assert!(retry::is_retryable_status(503));
        assert!(!retry::is_retryable_status(403));
        assert!(is_throttled(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("OperationTimedOut")
        ));
        assert!(!is_throttled(
            StatusCode::INTERNAL_SERVER_ERROR,
            Some("InternalError")
        ));
    }
}
