//! The one ARM client: URL and api-version, headers, token, retries and throttling, LROs,
//! paging, error classification and redacted logging all happen here and nowhere else.

mod api_version;
mod etag;
mod lro;
mod path;
pub(crate) mod redact;
mod retry;
mod send;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

use super::auth::{AudienceCredential, TokenProvider};
use super::deadline::Deadline;
use super::error::{Error, Result};
use super::settings::{AzureSettings, CloudKind, StorageAuthentication, Timings};

pub use api_version::ApiKind;
pub(crate) use etag::{Etagged, Write};
pub use path::ResourcePath;

/// Whether a POST may be sent again when its outcome is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostSafety {
    /// Repeating it changes nothing (listKeys, restart, a name check).
    Idempotent,
    /// Re-sent only when Azure cannot have acted on it: a refused connection, 429, or a
    /// retryable "another operation in progress" conflict. No POST the CPI sends needs it yet.
    #[cfg(test)]
    NotIdempotent,
}

/// What a DELETE found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deleted {
    Deleted,
    /// 404 or 204: there was nothing to delete.
    NotFound,
}

/// When a request may be replayed after an unknown outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Replay {
    Always,
    #[cfg(test)]
    OnlyIfUnprocessed,
}

/// A 2xx answer.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

struct Inner {
    http: reqwest::Client,
    base: Url,
    cloud: CloudKind,
    subscription_id: String,
    tokens: TokenProvider,
    user_agent: HeaderValue,
    debug_mode: bool,
    timings: Timings,
    cpi_method: Option<&'static str>,
    method_deadline: Option<Deadline>,
    storage_authentication: StorageAuthentication,
    /// Tokens for blob storage from the same credential; `None` where storage takes none.
    storage_credential: Option<AudienceCredential>,
    /// Tokens for managed disk upload URLs, from the same credential.
    disk_credential: Option<AudienceCredential>,
}

/// Cheap to clone; every clone shares the connection pool and the token.
#[derive(Clone)]
pub struct ArmClient {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ArmClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmClient")
            .field("base", &self.inner.base.as_str())
            .field("cloud", &self.inner.cloud)
            .finish_non_exhaustive()
    }
}

impl ArmClient {
    /// Builds the client. Sends nothing: the first call fetches the token.
    pub fn new(settings: &AzureSettings) -> Result<Self> {
        let http = super::http::build_client(settings)?;
        Self::with_http_client(settings, http)
    }

    /// Builds the client on an existing HTTP client (shared with the blob layer).
    pub(crate) fn with_http_client(
        settings: &AzureSettings,
        http: reqwest::Client,
    ) -> Result<Self> {
        let base = settings.resource_manager_url.clone();
        check_transport_security(&base)?;
        if base.cannot_be_a_base() {
            return Err(Error::Invalid(format!("bad resource manager URL {base}")));
        }
        if settings.subscription_id.trim().is_empty() {
            return Err(Error::Invalid("azure.subscription_id is empty".into()));
        }
        let user_agent = HeaderValue::from_str(&format!(
            "BOSH-AZURE-CPI/{} pid-{}",
            env!("CARGO_PKG_VERSION"),
            settings.isv_tracking_guid
        ))
        .map_err(|_| Error::Invalid("azure.isv_tracking_guid holds invalid characters".into()))?;
        let tokens = TokenProvider::new(settings, http.clone())?;
        let storage_credential = settings
            .storage_audience
            .as_deref()
            .map(|audience| AudienceCredential::new(settings, http.clone(), audience))
            .transpose()?;
        let disk_credential = settings
            .disk_audience
            .as_deref()
            .map(|audience| AudienceCredential::new(settings, http.clone(), audience))
            .transpose()?;
        let timings = poll_timings_for(&base, &settings.timings);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                cloud: settings.cloud,
                subscription_id: settings.subscription_id.clone(),
                tokens,
                user_agent,
                debug_mode: settings.debug_mode,
                timings,
                cpi_method: settings.cpi_method,
                method_deadline: settings.method_deadline,
                storage_authentication: settings.storage_authentication,
                storage_credential,
                disk_credential,
            }),
        })
    }

    pub(crate) fn subscription_id(&self) -> &str {
        &self.inner.subscription_id
    }

    pub fn cloud(&self) -> CloudKind {
        self.inner.cloud
    }

    /// The process's HTTP client (connection pool, proxy settings, extra CA), for the blob
    /// layer to reuse.
    pub(crate) fn http_client(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// `azure.storage_authentication`.
    pub(crate) fn storage_authentication(&self) -> StorageAuthentication {
        self.inner.storage_authentication
    }

    /// The credential's tokens for blob storage; `None` on clouds whose storage takes none.
    pub(crate) fn storage_credential(&self) -> Option<AudienceCredential> {
        self.inner.storage_credential.clone()
    }

    /// The CPI method being served, named in network failure messages.
    pub(crate) fn cpi_method(&self) -> Option<&'static str> {
        self.inner.cpi_method
    }

    /// The deadline of the CPI method being served, which bounds blob calls as well.
    pub(crate) fn method_deadline(&self) -> Option<Deadline> {
        self.inner.method_deadline
    }

    /// The credential's tokens for managed disk upload URLs; `None` on clouds without them.
    pub(crate) fn disk_credential(&self) -> Option<AudienceCredential> {
        self.inner.disk_credential.clone()
    }

    /// `/subscriptions/{configured subscription}/resourceGroups/{resource_group}`.
    pub fn resource_group_path(&self, resource_group: &str) -> ResourcePath {
        ResourcePath::resource_group(&self.inner.subscription_id, resource_group)
    }

    /// The full request URL: ARM endpoint, escaped segments, query, api-version.
    pub fn url(&self, path: &ResourcePath, api: ApiKind) -> Result<Url> {
        let version = api.api_version(self.inner.cloud)?;
        let mut url = self.inner.base.clone();
        url.set_query(None);
        {
            let mut segments = url
                .path_segments_mut()
                .map_err(|_| Error::Invalid("bad resource manager URL".into()))?;
            segments.pop_if_empty();
            for segment in path.segments() {
                // URL normalisation would drop or climb these, changing the path's shape.
                if segment.is_empty() || segment == "." || segment == ".." {
                    return Err(Error::Invalid(format!(
                        "'{segment}' is not a valid name in Azure resource path {path}"
                    )));
                }
                segments.push(segment);
            }
        }
        {
            let mut query = url.query_pairs_mut();
            for (key, value) in path.query_pairs() {
                query.append_pair(key, value);
            }
            query.append_pair("api-version", version);
        }
        // Azure's front end refuses longer URLs (HTTP 414); such a request is never sent, so
        // it cannot be mistaken for a transient failure when the server drops it.
        if url.as_str().len() > MAX_URL_BYTES {
            return Err(Error::Invalid(format!(
                "the request URL for {path} would be {} bytes long; Azure accepts at most {MAX_URL_BYTES}",
                url.as_str().len()
            )));
        }
        Ok(url)
    }

    /// GET a resource; `None` when it does not exist (404).
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        deadline: Deadline,
    ) -> Result<Option<T>> {
        let url = self.url(path, api)?;
        let op = operation(&Method::GET, path);
        match self
            .send(Method::GET, url, None, Replay::Always, &op, deadline)
            .await
        {
            Ok(answer) if answer.status == 204 => Ok(None),
            Ok(answer) => decode(&op, &answer.body).map(Some),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// PUT (create or update), wait for the operation, and return the final resource.
    pub async fn put<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        body: &B,
        deadline: Deadline,
    ) -> Result<T> {
        self.write(Method::PUT, path, api, body, deadline).await
    }

    /// PATCH (partial update), wait for the operation, and return the final resource.
    pub(crate) async fn patch<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        body: &B,
        deadline: Deadline,
    ) -> Result<T> {
        self.write(Method::PATCH, path, api, body, deadline).await
    }

    /// PATCH only if the resource still has `etag` (`If-Match`), for read-modify-write updates:
    /// a resource changed since it was read fails with [`Error::PreconditionFailed`], and the
    /// caller reads it again and recomputes the change.
    pub(crate) async fn patch_if_match<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        body: &B,
        etag: &str,
        deadline: Deadline,
    ) -> Result<T> {
        let if_match = HeaderValue::from_str(etag)
            .map_err(|_| Error::Invalid(format!("Azure sent an unusable ETag for {path}")))?;
        self.write_conditional(Method::PATCH, path, api, body, Some(&if_match), deadline)
            .await
    }

    /// DELETE and wait until the resource is gone. A missing resource is not an error.
    pub async fn delete(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        deadline: Deadline,
    ) -> Result<Deleted> {
        self.delete_conditional(path, api, None, deadline).await
    }

    /// DELETE only if the resource still has `etag` (`If-Match`): a resource changed since it
    /// was read fails with [`Error::PreconditionFailed`] and is left as it is.
    pub(crate) async fn delete_if_match(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        etag: &str,
        deadline: Deadline,
    ) -> Result<Deleted> {
        let if_match = HeaderValue::from_str(etag)
            .map_err(|_| Error::Invalid(format!("Azure sent an unusable ETag for {path}")))?;
        self.delete_conditional(path, api, Some(&if_match), deadline)
            .await
    }

    async fn delete_conditional(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        if_match: Option<&HeaderValue>,
        deadline: Deadline,
    ) -> Result<Deleted> {
        let url = self.url(path, api)?;
        let op = operation(&Method::DELETE, path);
        let answer = match self
            .send_conditional(
                Method::DELETE,
                url.clone(),
                None,
                Replay::Always,
                &op,
                if_match,
                deadline,
            )
            .await
        {
            Ok(answer) => answer,
            Err(e) if e.is_not_found() => return Ok(Deleted::NotFound),
            Err(e) => return Err(e),
        };
        if answer.status == 204 {
            return Ok(Deleted::NotFound);
        }
        self.complete(Method::DELETE, &url, answer, &op, deadline)
            .await?;
        Ok(Deleted::Deleted)
    }

    /// POST an action (`listKeys`, `restart`, `checkNameAvailability`...), wait for it, and
    /// return its result when it has one.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        body: Option<&serde_json::Value>,
        safety: PostSafety,
        deadline: Deadline,
    ) -> Result<Option<T>> {
        let url = self.url(path, api)?;
        let op = operation(&Method::POST, path);
        let bytes = match body {
            Some(value) => Some(Bytes::from(serde_json::to_vec(value).map_err(|e| {
                Error::Invalid(format!("{op}: cannot encode the request body: {e}"))
            })?)),
            None => None,
        };
        let replay = match safety {
            PostSafety::Idempotent => Replay::Always,
            #[cfg(test)]
            PostSafety::NotIdempotent => Replay::OnlyIfUnprocessed,
        };
        let answer = self
            .send(
                Method::POST,
                url.clone(),
                bytes.as_ref(),
                replay,
                &op,
                deadline,
            )
            .await?;
        match self
            .complete(Method::POST, &url, answer, &op, deadline)
            .await?
        {
            Some(body) if !body.is_empty() => decode(&op, &body).map(Some),
            _ => Ok(None),
        }
    }

    /// GET a collection and follow every `nextLink`.
    pub(crate) async fn list<T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        deadline: Deadline,
    ) -> Result<Vec<T>> {
        #[derive(serde::Deserialize)]
        #[serde(bound(deserialize = "T: DeserializeOwned"))]
        struct Page<T> {
            #[serde(default = "Vec::new")]
            value: Vec<T>,
            #[serde(rename = "nextLink")]
            next_link: Option<String>,
        }
        let op = operation(&Method::GET, path);
        let mut url = self.url(path, api)?;
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        loop {
            let answer = self
                .send(
                    Method::GET,
                    url.clone(),
                    None,
                    Replay::Always,
                    &op,
                    deadline,
                )
                .await?;
            let page: Page<T> = decode(&op, &answer.body)?;
            items.extend(page.value);
            let Some(next) = page.next_link.filter(|l| !l.is_empty()) else {
                return Ok(items);
            };
            let next = Url::parse(&next)
                .map_err(|_| Error::Invalid(format!("{op}: Azure sent an invalid nextLink")))?;
            self.check_same_origin(&next, "nextLink")?;
            if !seen.insert(next.clone()) {
                return Err(Error::Invalid(format!(
                    "{op}: Azure sent the same nextLink twice; stopping to avoid an endless list"
                )));
            }
            url = next;
        }
    }

    async fn write<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &ResourcePath,
        api: ApiKind,
        body: &B,
        deadline: Deadline,
    ) -> Result<T> {
        self.write_conditional(method, path, api, body, None, deadline)
            .await
    }

    async fn write_conditional<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &ResourcePath,
        api: ApiKind,
        body: &B,
        if_match: Option<&HeaderValue>,
        deadline: Deadline,
    ) -> Result<T> {
        let url = self.url(path, api)?;
        let op = operation(&method, path);
        let bytes =
            Bytes::from(serde_json::to_vec(body).map_err(|e| {
                Error::Invalid(format!("{op}: cannot encode the request body: {e}"))
            })?);
        let answer = self
            .send_conditional(
                method.clone(),
                url.clone(),
                Some(&bytes),
                Replay::Always,
                &op,
                if_match,
                deadline,
            )
            .await?;
        match self.complete(method, &url, answer, &op, deadline).await? {
            Some(body) if !body.is_empty() => decode(&op, &body),
            _ => Err(Error::Invalid(format!(
                "{op}: Azure returned no resource after the operation finished"
            ))),
        }
    }

    /// Sends one logical request: token, headers, retries with backoff and retry-after hints,
    /// one token refresh on 401. Returns the 2xx answer or a classified error.
    async fn send(
        &self,
        method: Method,
        url: Url,
        body: Option<&Bytes>,
        replay: Replay,
        op: &str,
        deadline: Deadline,
    ) -> Result<Answer> {
        self.send_conditional(method, url, body, replay, op, None, deadline)
            .await
    }

    /// [`Self::send`] with an optional `If-Match` precondition on every attempt.
    #[allow(clippy::too_many_arguments)]
    async fn send_conditional(
        &self,
        method: Method,
        url: Url,
        body: Option<&Bytes>,
        replay: Replay,
        op: &str,
        if_match: Option<&HeaderValue>,
        deadline: Deadline,
    ) -> Result<Answer> {
        let timings = &self.inner.timings;
        let token = self
            .inner
            .tokens
            .token(deadline)
            .await
            .map_err(|e| self.for_call(e, op))?;
        let budget = super::retry::Budget {
            attempts: timings.max_attempts,
            elapsed: None,
            backoff: retry::backoff_policy(timings),
            deadline: Some(deadline),
        };
        let mut request = send::ArmRequest {
            client: self,
            method,
            url: &url,
            body,
            replay,
            op,
            if_match,
            deadline,
            token,
            refreshed: false,
        };
        super::retry::run(&budget, &mut request).await
    }

    /// A token failure seen by ARM call `op`: a failed connection to the token endpoint names
    /// the call and the CPI method too.
    fn for_call(&self, err: Error, op: &str) -> Error {
        match err {
            Error::Connection { during, cause, .. } => Error::Connection {
                method: self.inner.cpi_method,
                during: format!("{op} ({during})"),
                cause,
            },
            other => other,
        }
    }

    /// Poll and redirect URLs come from Azure: the token goes only to the ARM endpoint itself.
    fn check_same_origin(&self, url: &Url, what: &str) -> Result<()> {
        let base = &self.inner.base;
        if url.scheme() == base.scheme()
            && url.host_str() == base.host_str()
            && url.port_or_known_default() == base.port_or_known_default()
        {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "refusing to follow the {what} URL on {}: it is not the ARM endpoint {}",
                url.host_str().unwrap_or("?"),
                base.host_str().unwrap_or("?")
            )))
        }
    }
}

/// Plain http is only for a loopback simulator: a bearer token must not cross a network in clear.
fn check_transport_security(base: &Url) -> Result<()> {
    match base.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(base) => Ok(()),
        _ => Err(Error::Invalid(format!(
            "the resource manager URL must use https: {base}"
        ))),
    }
}

/// The longest request URL sent: Http.sys, in front of ARM, answers 414 past 16 KiB by
/// default (MaxFieldLength; learn.microsoft.com/troubleshoot/developer/webapps/iis/
/// iisadmin-service-inetinfo/httpsys-registry-windows).
const MAX_URL_BYTES: usize = 16 * 1024;

/// Smallest pause between LRO polls against a loopback endpoint (a local simulator).
const LOOPBACK_POLL_FLOOR: Duration = Duration::from_millis(10);
/// Poll interval on loopback when the server sends no `Retry-After` (the sim's gallery
/// operations, like Azure's, send none).
const LOOPBACK_POLL_DEFAULT: Duration = Duration::from_millis(100);

/// Real Azure keeps the configured poll floor whatever `Retry-After` says; a loopback
/// simulator answers at once, so there the server's hint is honoured down to
/// [`LOOPBACK_POLL_FLOOR`], and without a hint polls come every [`LOOPBACK_POLL_DEFAULT`],
/// instead of idling seconds on every operation.
fn poll_timings_for(base: &Url, timings: &Timings) -> Timings {
    let mut timings = timings.clone();
    if is_loopback(base) {
        timings.poll_floor = timings.poll_floor.min(LOOPBACK_POLL_FLOOR);
        timings.poll_default = timings.poll_default.min(LOOPBACK_POLL_DEFAULT);
    }
    timings
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

fn operation(method: &Method, path: &ResourcePath) -> String {
    format!("{method} {path}")
}

fn classify(
    op: &str,
    status: u16,
    code: String,
    message: String,
    details: Vec<super::error::ErrorDetail>,
    attempts: u32,
    transient: bool,
) -> Error {
    let operation = op.to_owned();
    match status {
        404 => Error::NotFound {
            operation,
            code,
            message,
        },
        403 => Error::Auth {
            operation,
            hint: format!(
                "{code}: {message} — grant the service principal or managed identity a role that allows this action (e.g. Contributor) on the subscription or resource group"
            ),
        },
        429 => Error::Throttled {
            operation,
            attempts,
            code,
            message,
        },
        412 => Error::PreconditionFailed {
            operation,
            code,
            message,
        },
        // An in-progress conflict that outlived every retry is still a conflict.
        409 => Error::Conflict {
            operation,
            code,
            message,
        },
        _ if transient => Error::Transient {
            operation,
            attempts,
            message: format!("{code}: {message}"),
        },
        _ => Error::Terminal {
            operation,
            status,
            code,
            message,
            details,
        },
    }
}

/// Decodes an ARM answer without ever echoing its content (it may hold keys or customData).
fn decode<T: DeserializeOwned>(op: &str, body: &[u8]) -> Result<T> {
    serde_json::from_slice(body).map_err(|e| {
        let what = e.to_string();
        let reason = if what.starts_with("missing field") {
            what.split(" at line").next().unwrap_or("").to_owned()
        } else {
            format!("{:?} error", e.classify())
        };
        Error::Invalid(format!(
            "{op}: Azure's answer does not have the expected shape ({reason} at line {} column {})",
            e.line(),
            e.column()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_errors_never_echo_values() {
        #[derive(serde::Deserialize, Debug)]
        struct Keys {
            #[allow(dead_code)]
            value: u32,
        }
        let err = decode::<Keys>("POST listKeys", br#"{"value":"SECRETKEY=="}"#)
            .err()
            .unwrap()
            .to_string();
        assert!(!err.contains("SECRETKEY"), "{err}");
        let err = decode::<Keys>("GET x", b"{}").err().unwrap().to_string();
        assert!(err.contains("missing field `value`"), "{err}");
    }

    #[test]
    fn poll_floor_drops_only_for_a_loopback_endpoint() {
        let production = Timings::default();
        assert_eq!(production.poll_floor, Duration::from_secs(1));
        for azure in [
            "https://management.azure.com/",
            "https://management.chinacloudapi.cn/",
            "https://10.0.0.1/",
        ] {
            let timings = poll_timings_for(&Url::parse(azure).unwrap(), &production);
            assert_eq!(timings.poll_floor, Duration::from_secs(1), "{azure}");
            assert_eq!(timings.poll_default, production.poll_default, "{azure}");
        }
        for simulator in [
            "https://127.0.0.1:8443/",
            "http://localhost:1/",
            "https://[::1]:9/",
        ] {
            let timings = poll_timings_for(&Url::parse(simulator).unwrap(), &production);
            assert_eq!(timings.poll_floor, LOOPBACK_POLL_FLOOR, "{simulator}");
            assert_eq!(timings.poll_default, LOOPBACK_POLL_DEFAULT, "{simulator}");
            assert_eq!(timings.poll_ceiling, production.poll_ceiling);
        }
        // A floor already below the loopback one (tests) is kept.
        let fast = Timings {
            poll_floor: Duration::from_millis(1),
            ..Timings::default()
        };
        let timings = poll_timings_for(&Url::parse("https://127.0.0.1/").unwrap(), &fast);
        assert_eq!(timings.poll_floor, Duration::from_millis(1));
    }

    #[test]
    fn http_only_for_loopback() {
        for ok in [
            "https://management.azure.com/",
            "http://127.0.0.1:8080/",
            "http://localhost:1/",
            "http://[::1]:9/",
        ] {
            assert!(
                check_transport_security(&Url::parse(ok).unwrap()).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "http://management.azure.com/",
            "http://10.0.0.1/",
            "ftp://127.0.0.1/",
        ] {
            assert!(
                check_transport_security(&Url::parse(bad).unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn classification() {
        let e = classify(
            "op",
            409,
            "AnotherOperationInProgress".into(),
            "m".into(),
            vec![],
            10,
            true,
        );
        assert!(matches!(e, Error::Conflict { .. }));
        let e = classify(
            "op",
            412,
            "PreconditionFailed".into(),
            "etag".into(),
            vec![],
            1,
            false,
        );
        assert!(e.is_precondition_failed());
        let e = classify("op", 503, "Busy".into(), "m".into(), vec![], 10, true);
        assert!(matches!(e, Error::Transient { attempts: 10, .. }));
        let e = classify(
            "op",
            409,
            "OperationNotAllowed".into(),
            "quota".into(),
            vec![],
            1,
            false,
        );
        assert!(matches!(e, Error::Conflict { .. }));
        let e = classify(
            "op",
            400,
            "InvalidParameter".into(),
            "m".into(),
            vec![],
            1,
            false,
        );
        assert!(matches!(e, Error::Terminal { status: 400, .. }));
        let e = classify(
            "op",
            403,
            "AuthorizationFailed".into(),
            "no".into(),
            vec![],
            1,
            false,
        );
        assert!(e.to_string().contains("grant the service principal"));
        let e = classify(
            "op",
            429,
            "TooManyRequests".into(),
            "m".into(),
            vec![],
            10,
            true,
        );
        assert!(matches!(e, Error::Throttled { attempts: 10, .. }));
    }
}
