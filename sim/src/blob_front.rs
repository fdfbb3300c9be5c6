//! The blob front: a loopback proxy in front of a blob backend (Azurite, or the discard sink)
//! that holds each page blob and each storage account to Azure's scalability targets, and
//! answers beyond them as Azure does.
//!
//! Azure's figures (learn.microsoft.com, "Scalability and performance targets for Blob
//! storage" and "Scalability and performance targets for standard storage accounts"):
//! - a single blob: up to 500 requests per second;
//! - a single page blob: up to 60 MiB per second;
//! - a standard (general-purpose v2) account: 20,000 requests per second and 60 Gbps of
//!   ingress in US and Europe regions.
//!
//! Beyond a target Azure answers `503 Server Busy` with the storage error body and the code
//! `ServerBusy` ("Common REST API error codes", Azure Storage REST reference):
//! "The server is currently unable to receive requests. Please retry your request." for a busy
//! partition (a blob over its targets), "Ingress is over the account limit." and "Operations per
//! second is over the account limit." for an account.
//!
//! Model: each target is a schedule that a request books ahead of time (one request slot,
//! or its body's bytes); the answer is held until the booking is served, so a client gets at
//! most the target. Azure documents no queue: a request that would have to wait more than
//! [`BlobLimits::backlog`] for its booking is refused with 503 and books nothing.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

const MIB: f64 = 1024.0 * 1024.0;

/// Azure's target request rate of a single blob.
pub const BLOB_REQUESTS_PER_SECOND: f64 = 500.0;
/// Azure's target throughput of a single page blob: 60 MiB/s.
pub const PAGE_BLOB_BYTES_PER_SECOND: f64 = 60.0 * MIB;
/// Azure's target request rate of a standard storage account.
pub const ACCOUNT_REQUESTS_PER_SECOND: f64 = 20_000.0;
/// Azure's ingress target of a standard storage account (US, Europe): 60 Gbps.
pub const ACCOUNT_INGRESS_BYTES_PER_SECOND: f64 = 60e9 / 8.0;
/// How far ahead a request may book before it is refused. Azure documents no queue depth; one
/// second of a blob's work is what a client may hold in flight before hearing 503.
pub const DEFAULT_BACKLOG: Duration = Duration::from_secs(1);

/// The message of a 503 for a blob (a partition) over its targets.
pub const SERVER_BUSY_MESSAGE: &str =
    "The server is currently unable to receive requests. Please retry your request.";
pub const ACCOUNT_INGRESS_MESSAGE: &str = "Ingress is over the account limit.";
pub const ACCOUNT_OPERATIONS_MESSAGE: &str = "Operations per second is over the account limit.";

/// The targets the front enforces.
#[derive(Clone, Debug, PartialEq)]
pub struct BlobLimits {
    pub blob_requests_per_second: f64,
    pub page_blob_bytes_per_second: f64,
    pub account_requests_per_second: f64,
    pub account_ingress_bytes_per_second: f64,
    pub backlog: Duration,
}

impl BlobLimits {
    /// Azure's documented targets.
    pub fn azure() -> Self {
        Self {
            blob_requests_per_second: BLOB_REQUESTS_PER_SECOND,
            page_blob_bytes_per_second: PAGE_BLOB_BYTES_PER_SECOND,
            account_requests_per_second: ACCOUNT_REQUESTS_PER_SECOND,
            account_ingress_bytes_per_second: ACCOUNT_INGRESS_BYTES_PER_SECOND,
            backlog: DEFAULT_BACKLOG,
        }
    }
}

impl Default for BlobLimits {
    fn default() -> Self {
        Self::azure()
    }
}

/// A `Retry-After` value for an injected 503.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryAfter {
    Seconds(u64),
    /// An HTTP date this far after the answer.
    DateIn(Duration),
}

/// An injected 503 ServerBusy for the first Put Page, with these wait hints.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct BusyOnce {
    pub retry_after: Option<RetryAfter>,
    pub retry_after_ms: Option<u64>,
}

/// How the front behaves.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FrontOptions {
    /// `None`: no limits (a plain proxy).
    pub limits: Option<BlobLimits>,
    pub busy_first_put_page: Option<BusyOnce>,
    /// Serve HTTPS with this certificate, and trust its CA for an HTTPS upstream (Azurite in
    /// OAuth mode).
    pub tls: Option<crate::tls::LoopbackTls>,
    /// Accounts whose `allowSharedKeyAccess` is false. Azure answers a Shared Key request, and
    /// a SAS signed with an account key (service or account SAS), to such an account with
    /// `403 KeyBasedAuthenticationNotPermitted` ("Prevent Shared Key authorization for an
    /// Azure Storage account", learn.microsoft.com); a bearer token or a user delegation SAS
    /// passes. Azurite (even with `--oauth basic`) accepts them all, so the front refuses.
    pub keyless_accounts: Vec<String>,
    /// Accounts on which the token's identity holds no data role: Azure answers a bearer
    /// request there `403 AuthorizationPermissionMismatch` ("Authorize access to blobs using
    /// Microsoft Entra ID": data access needs a role such as Storage Blob Data Contributor;
    /// the code is listed in "Blob storage error codes"). Azurite checks no roles.
    pub no_data_role_accounts: Vec<String>,
    /// The first bearer token the front sees is treated as revoked (or expired early): every
    /// request bearing it gets Azure's answer to a token it no longer accepts, `401
    /// InvalidAuthenticationInfo` "Server failed to authenticate the request. Please refer to
    /// the information in the www-authenticate header." with a `WWW-Authenticate: Bearer`
    /// challenge (as recorded in Azure/azure-sdk-for-net#42859, AuthenticationErrorDetail
    /// "Lifetime validation failed. The token is expired."). Azurite only checks `exp`.
    pub revoke_first_bearer_token: bool,
}

/// How a request authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    SharedKey,
    Bearer,
    /// A SAS signed with an account key (service or account SAS).
    KeySas,
    /// A user delegation SAS (`skoid` …), signed with a key derived for an Entra ID identity.
    DelegationSas,
    Anonymous,
}

/// Azure's message for a key-based request to an account that forbids it.
pub const KEY_BASED_AUTHENTICATION_MESSAGE: &str =
    "Key based authentication is not permitted on this storage account.";

/// One Put Page as the front saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct PutPageAttempt {
    pub at: Instant,
    pub blob: String,
    pub offset: u64,
    pub length: u64,
    /// Answered 503 ServerBusy.
    pub busy: bool,
    /// The body was all zero bytes.
    pub all_zero: bool,
}

/// What the front saw.
#[derive(Debug, Default)]
pub struct FrontStats {
    /// `(account, how it authenticated, method and path)` of every request.
    pub requests: Mutex<Vec<(String, Auth, String)>>,
    pub put_page_attempts: AtomicU64,
    /// Requests refused for bearing the revoked token.
    pub revoked_token_refusals: AtomicU64,
    /// The query of every request authorized by a SAS (its validity times, signature and all).
    pub sas_queries: Mutex<Vec<String>>,
    pub server_busy: AtomicU64,
    pub bytes_forwarded: AtomicU64,
    pub attempts: Mutex<Vec<PutPageAttempt>>,
}

impl FrontStats {
    pub fn attempts(&self) -> Vec<PutPageAttempt> {
        lock(&self.attempts).clone()
    }

    pub fn requests(&self) -> Vec<(String, Auth, String)> {
        lock(&self.requests).clone()
    }

    pub fn sas_queries(&self) -> Vec<String> {
        lock(&self.sas_queries).clone()
    }
}

/// A running front; stops when dropped.
pub struct BlobFront {
    address: SocketAddr,
    scheme: &'static str,
    stats: Arc<FrontStats>,
    runtime: Option<tokio::runtime::Runtime>,
}

struct State {
    upstream: String,
    options: FrontOptions,
    client: reqwest::Client,
    stats: Arc<FrontStats>,
    blobs: Mutex<HashMap<String, Schedule>>,
    accounts: Mutex<HashMap<String, Schedule>>,
    busy_sent: std::sync::atomic::AtomicBool,
    /// The bearer token treated as revoked ([`FrontOptions::revoke_first_bearer_token`]).
    revoked_token: Mutex<Option<String>>,
}

/// When a target's next request slot and next byte are free.
#[derive(Clone, Copy)]
struct Schedule {
    requests_free: Instant,
    bytes_free: Instant,
}

impl Schedule {
    fn new(now: Instant) -> Self {
        Self {
            requests_free: now,
            bytes_free: now,
        }
    }

    /// The instant this request is served, or `None` when it would wait beyond `backlog`.
    fn book(
        &self,
        now: Instant,
        bytes: u64,
        requests_per_second: f64,
        bytes_per_second: f64,
        backlog: Duration,
    ) -> Option<Self> {
        let request_start = self.requests_free.max(now);
        let bytes_start = self.bytes_free.max(now);
        if request_start - now > backlog || (bytes > 0 && bytes_start - now > backlog) {
            return None;
        }
        let bytes_free = if bytes > 0 {
            bytes_start + Duration::from_secs_f64(bytes as f64 / bytes_per_second)
        } else {
            self.bytes_free
        };
        Some(Self {
            requests_free: request_start + Duration::from_secs_f64(1.0 / requests_per_second),
            bytes_free,
        })
    }

    fn served_at(&self) -> Instant {
        self.requests_free.max(self.bytes_free)
    }
}

impl BlobFront {
    /// Starts on a free loopback port, forwarding to `upstream` (`http://host:port`), on its
    /// own runtime so that blocking and async callers alike can use it.
    pub fn start(upstream: &url::Url, options: FrontOptions) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("blob-front")
            .enable_all()
            .build()?;
        let mut client = reqwest::Client::builder().no_proxy().no_gzip().no_deflate();
        let mut acceptor = None;
        if let Some(tls) = &options.tls {
            let ca = reqwest::Certificate::from_pem(tls.ca_pem.as_bytes())
                .map_err(std::io::Error::other)?;
            client = client.tls_certs_merge([ca]);
            let config = tls
                .server_config()
                .map_err(|e| std::io::Error::other(e.to_string()))?;
            acceptor = Some(tokio_rustls::TlsAcceptor::from(config));
        }
        let client = client.build().map_err(std::io::Error::other)?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let stats = Arc::new(FrontStats::default());
        let origin = upstream.origin().ascii_serialization();
        let state = Arc::new(State {
            upstream: origin,
            options,
            client,
            stats: stats.clone(),
            blobs: Mutex::new(HashMap::new()),
            accounts: Mutex::new(HashMap::new()),
            busy_sent: std::sync::atomic::AtomicBool::new(false),
            revoked_token: Mutex::new(None),
        });
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            while let Ok((stream, _)) = listener.accept().await {
                let _ = stream.set_nodelay(true);
                let state = state.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, std::convert::Infallible>(handle(request, &state).await) }
                    });
                    let builder = hyper::server::conn::http1::Builder::new();
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), service).await;
                            }
                        }
                        None => {
                            let _ = builder
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        }
                    }
                });
            }
        });
        Ok(Self {
            address,
            scheme,
            stats,
            runtime: Some(runtime),
        })
    }

    /// Path-style endpoint of `account` through the front: `http://127.0.0.1:<port>/<account>`
    /// (`https` with [`FrontOptions::tls`]).
    pub fn account_endpoint(&self, account: &str) -> url::Url {
        url::Url::parse(&format!("{}://{}/{account}", self.scheme, self.address))
            .expect("a loopback URL always parses")
    }

    pub fn stats(&self) -> &FrontStats {
        &self.stats
    }
}

impl Drop for BlobFront {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

async fn handle(request: Request<Incoming>, state: &State) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return storage_error(StatusCode::BAD_REQUEST, "InvalidInput", "Bad body."),
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or_default();
    let put_page = parts.method == Method::PUT && query.split('&').any(|p| p == "comp=page");
    // Path style: /<account>/<container>/<blob...>.
    let mut segments = path.trim_start_matches('/').splitn(3, '/');
    let account = segments.next().unwrap_or_default().to_owned();
    let blob = match (segments.next(), segments.next()) {
        (Some(container), Some(name)) if !name.is_empty() => Some(format!("{container}/{name}")),
        _ => None,
    };

    let auth = auth_of(&parts.headers, query);
    if matches!(auth, Auth::KeySas | Auth::DelegationSas) {
        lock(&state.stats.sas_queries).push(query.to_owned());
    }
    lock(&state.stats.requests).push((account.clone(), auth, format!("{} {path}", parts.method)));
    if matches!(auth, Auth::SharedKey | Auth::KeySas)
        && state.options.keyless_accounts.contains(&account)
    {
        return storage_error(
            StatusCode::FORBIDDEN,
            "KeyBasedAuthenticationNotPermitted",
            KEY_BASED_AUTHENTICATION_MESSAGE,
        );
    }

    if auth == Auth::Bearer && state.options.revoke_first_bearer_token {
        let token = parts
            .headers
            .get(hyper::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let revoked = lock(&state.revoked_token)
            .get_or_insert_with(|| token.clone())
            .clone();
        if revoked == token {
            state
                .stats
                .revoked_token_refusals
                .fetch_add(1, Ordering::Relaxed);
            let mut response = storage_error(
                StatusCode::UNAUTHORIZED,
                "InvalidAuthenticationInfo",
                "Server failed to authenticate the request. Please refer to the information in the www-authenticate header.",
            );
            response.headers_mut().insert(
                hyper::header::WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static(
                    "Bearer authorization_uri=https://login.microsoftonline.com/00000000-0000-0000-0000-0000000000aa/oauth2/authorize resource_id=https://storage.azure.com",
                ),
            );
            return response;
        }
    }

    if auth == Auth::Bearer && state.options.no_data_role_accounts.contains(&account) {
        return storage_error(
            StatusCode::FORBIDDEN,
            "AuthorizationPermissionMismatch",
            "This request is not authorized to perform this operation using this permission.",
        );
    }

    let mut attempt = put_page.then(|| {
        let (offset, length) = page_range(&parts.headers).unwrap_or((0, 0));
        PutPageAttempt {
            at: Instant::now(),
            blob: blob.clone().unwrap_or_default(),
            offset,
            length,
            busy: false,
            all_zero: !body.is_empty() && body.iter().all(|&b| b == 0),
        }
    });
    if put_page {
        state
            .stats
            .put_page_attempts
            .fetch_add(1, Ordering::Relaxed);
    }

    let verdict = if put_page
        && let Some(busy) = &state.options.busy_first_put_page
        && !state.busy_sent.swap(true, Ordering::Relaxed)
    {
        Err((SERVER_BUSY_MESSAGE, Some(busy.clone())))
    } else {
        match &state.options.limits {
            Some(limits) => book(
                state,
                limits,
                &account,
                blob.as_deref(),
                &parts.method,
                body.len() as u64,
            )
            .map_err(|message| (message, None)),
            None => Ok(None),
        }
    };
    let served_at = match verdict {
        Ok(served_at) => served_at,
        Err((message, hints)) => {
            state.stats.server_busy.fetch_add(1, Ordering::Relaxed);
            if let Some(mut attempt) = attempt.take() {
                attempt.busy = true;
                lock(&state.stats.attempts).push(attempt);
            }
            let mut response =
                storage_error(StatusCode::SERVICE_UNAVAILABLE, "ServerBusy", message);
            if let Some(hints) = hints {
                add_hints(&mut response, &hints);
            }
            return response;
        }
    };
    if let Some(attempt) = attempt {
        lock(&state.stats.attempts).push(attempt);
    }

    let forwarded = forward(state, &parts, body.clone()).await;
    state
        .stats
        .bytes_forwarded
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    if let Some(at) = served_at {
        tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
    }
    forwarded
}

/// Books the request on its blob's and account's schedules: the instant it is served, or the
/// 503 message when a target is over its backlog.
fn book(
    state: &State,
    limits: &BlobLimits,
    account: &str,
    blob: Option<&str>,
    method: &Method,
    bytes: u64,
) -> Result<Option<Instant>, &'static str> {
    let now = Instant::now();
    let ingress = if matches!(*method, Method::PUT | Method::POST) {
        bytes
    } else {
        0
    };
    let mut accounts = lock(&state.accounts);
    let account_schedule = accounts
        .entry(account.to_owned())
        .or_insert_with(|| Schedule::new(now));
    let Some(account_booked) = account_schedule.book(
        now,
        ingress,
        limits.account_requests_per_second,
        limits.account_ingress_bytes_per_second,
        limits.backlog,
    ) else {
        let over_rate = account_schedule
            .requests_free
            .saturating_duration_since(now)
            > limits.backlog;
        return Err(if over_rate {
            ACCOUNT_OPERATIONS_MESSAGE
        } else {
            ACCOUNT_INGRESS_MESSAGE
        });
    };
    let mut served_at = account_booked.served_at();
    if let Some(blob) = blob {
        let mut blobs = lock(&state.blobs);
        let key = format!("{account}/{blob}");
        let schedule = blobs.entry(key).or_insert_with(|| Schedule::new(now));
        let booked = schedule
            .book(
                now,
                ingress,
                limits.blob_requests_per_second,
                limits.page_blob_bytes_per_second,
                limits.backlog,
            )
            .ok_or(SERVER_BUSY_MESSAGE)?;
        *schedule = booked;
        served_at = served_at.max(booked.served_at());
    }
    *account_schedule = account_booked;
    Ok(Some(served_at))
}

async fn forward(
    state: &State,
    parts: &hyper::http::request::Parts,
    body: Bytes,
) -> Response<Full<Bytes>> {
    let target = format!(
        "{}{}",
        state.upstream,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let Ok(method) = reqwest::Method::from_bytes(parts.method.as_str().as_bytes()) else {
        return storage_error(StatusCode::BAD_REQUEST, "UnsupportedHttpVerb", "Bad verb.");
    };
    let mut request = state.client.request(method, target);
    // Over HTTPS the client's Host is kept: Azurite accepts a cross-account copy source only
    // on its own host, and the source URL names the front.
    let keep_host = state.options.tls.is_some();
    for (name, value) in &parts.headers {
        if matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding"
        ) || (name.as_str() == "host" && !keep_host)
        {
            continue;
        }
        request = request.header(name.as_str(), value.as_bytes());
    }
    if !body.is_empty() || parts.headers.contains_key("content-length") {
        // Stated even when 0: the client signed it, and a PUT without it is refused.
        request = request
            .header("content-length", body.len().to_string())
            .body(body);
    }
    let upstream = match request.send().await {
        Ok(response) => response,
        Err(_) => {
            return storage_error(
                StatusCode::BAD_GATEWAY,
                "InternalError",
                "The blob backend could not be reached.",
            );
        }
    };
    let status = upstream.status().as_u16();
    let headers = upstream.headers().clone();
    let bytes = upstream.bytes().await.unwrap_or_default();
    let mut response = Response::new(Full::new(bytes));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (name, value) in &headers {
        if matches!(
            name.as_str(),
            "connection" | "content-length" | "transfer-encoding" | "keep-alive"
        ) {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_str().as_bytes()),
            hyper::header::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}

fn auth_of(headers: &hyper::HeaderMap, query: &str) -> Auth {
    let authorization = headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if authorization.starts_with("SharedKey") {
        return Auth::SharedKey;
    }
    if authorization.starts_with("Bearer ") {
        return Auth::Bearer;
    }
    let has = |key: &str| {
        url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k.eq_ignore_ascii_case(key))
    };
    match (has("sig"), has("skoid")) {
        (true, true) => Auth::DelegationSas,
        (true, false) => Auth::KeySas,
        _ => Auth::Anonymous,
    }
}

/// Azure Storage's error answer: `x-ms-error-code` and the XML body
/// `<Error><Code>…</Code><Message>…\nRequestId:…\nTime:…</Message></Error>`.
fn storage_error(status: StatusCode, code: &str, message: &str) -> Response<Full<Bytes>> {
    let request_id = uuid::Uuid::new_v4();
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let body = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>{message}\nRequestId:{request_id}\nTime:{time}</Message></Error>"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("content-type", "application/xml".to_owned());
    put("x-ms-error-code", code.to_owned());
    put("x-ms-request-id", request_id.to_string());
    put("x-ms-version", "2026-04-06".to_owned());
    put("date", httpdate::fmt_http_date(SystemTime::now()));
    response
}

fn add_hints(response: &mut Response<Full<Bytes>>, hints: &BusyOnce) {
    let headers = response.headers_mut();
    let retry_after = match &hints.retry_after {
        Some(RetryAfter::Seconds(s)) => Some(s.to_string()),
        Some(RetryAfter::DateIn(after)) => {
            Some(httpdate::fmt_http_date(SystemTime::now() + *after))
        }
        None => None,
    };
    if let Some(value) = retry_after.and_then(|v| hyper::header::HeaderValue::from_str(&v).ok()) {
        headers.insert("retry-after", value);
    }
    if let Some(ms) = hints.retry_after_ms
        && let Ok(value) = hyper::header::HeaderValue::from_str(&ms.to_string())
    {
        headers.insert("retry-after-ms", value);
    }
}

/// `(offset, length)` from `x-ms-range` or `Range: bytes=start-end`.
fn page_range(headers: &hyper::HeaderMap) -> Option<(u64, u64)> {
    let header = headers
        .get("x-ms-range")
        .or_else(|| headers.get(hyper::header::RANGE))?
        .to_str()
        .ok()?;
    let (start, end) = header.strip_prefix("bytes=")?.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    (end >= start).then(|| (start, end - start + 1))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_serves_at_the_target_and_refuses_beyond_its_backlog() {
        let now = Instant::now();
        let mut schedule = Schedule::new(now);
        let backlog = Duration::from_millis(100);
        // 10 requests/s: the first is served after 100 ms, the second after 200 ms (beyond
        // the backlog only for the third).
        for expected_ms in [100u64, 200] {
            schedule = schedule.book(now, 0, 10.0, 1e9, backlog).unwrap();
            assert_eq!(
                schedule.served_at() - now,
                Duration::from_millis(expected_ms)
            );
        }
        assert!(schedule.book(now, 0, 10.0, 1e9, backlog).is_none());
        // Bytes: 1 MiB at 10 MiB/s takes 100 ms.
        let bytes = Schedule::new(now)
            .book(now, 1 << 20, 1e6, 10.0 * MIB, backlog)
            .unwrap();
        assert_eq!(bytes.served_at() - now, Duration::from_millis(100));
    }

    #[test]
    fn the_busy_answer_is_azures() {
        let response = storage_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServerBusy",
            SERVER_BUSY_MESSAGE,
        );
        assert_eq!(response.status(), 503);
        assert_eq!(response.headers()["x-ms-error-code"], "ServerBusy");
    }
}
