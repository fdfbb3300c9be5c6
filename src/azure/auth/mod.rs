//! Credentials: one ARM token per process, fetched on first use, refreshed ahead of expiry and
//! once more when ARM rejects it (401).
//!
//! - Entra ID client secret and certificate: `azure_identity` (`ClientSecretCredential`,
//!   `ClientAssertionCredential` fed with our RS256 assertion), any https authority host.
//! - Azure Stack ADFS: our own v1 client (`resource=`), which `azure_identity` does not speak.
//! - Managed identity: our own IMDS client, so `msi_res_id` and a test endpoint are possible.

mod adfs;
mod certificate;
mod entra;
mod managed_identity;
mod token_http;

use std::sync::Arc;
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use tokio::sync::Mutex;

use super::deadline::Deadline;
use super::error::{Error, Result};
use super::settings::{Authority, AzureSettings, CredentialSettings};

/// The resource id of managed disk uploads and downloads with `dataAccessAuthMode:
/// AzureActiveDirectory` ("Secure downloads and uploads with Microsoft Entra ID"). The
/// service compares the token's audience with this exact value, trailing slash included.
pub const DISK_AUDIENCE: &str = "https://disk.azure.com/";

/// A bearer token and when it expires.
#[derive(Clone)]
struct Token {
    secret: Secret,
    expires_in: Duration,
}

/// Where tokens come from; chosen once from the settings.
enum Source {
    Entra(entra::EntraSource),
    Adfs(adfs::AdfsSource),
    ManagedIdentity(managed_identity::ImdsSource),
}

struct Cached {
    secret: Secret,
    refresh_at: Instant,
    expires_at: Instant,
}

/// Tokens longer-lived than this are refreshed this long before expiry; shorter ones at half
/// their lifetime.
const REFRESH_AHEAD: Duration = Duration::from_secs(300);

pub(crate) struct TokenProvider {
    source: Source,
    cache: Mutex<Option<Cached>>,
}

impl TokenProvider {
    /// Builds the provider; no file is read and no request is sent until the first token.
    pub fn new(settings: &AzureSettings, http: reqwest::Client) -> Result<Self> {
        let source = match (&settings.credential, &settings.authority) {
            (CredentialSettings::ManagedIdentity { .. }, _) => {
                Source::ManagedIdentity(managed_identity::ImdsSource::new(settings, http)?)
            }
            (_, Authority::EntraId { host }) => {
                Source::Entra(entra::EntraSource::new(settings, host.clone(), http)?)
            }
            (_, Authority::Adfs { token_endpoint }) => Source::Adfs(adfs::AdfsSource::new(
                settings,
                token_endpoint.clone(),
                http,
            )?),
        };
        Ok(Self {
            source,
            cache: Mutex::new(None),
        })
    }

    /// A provider of tokens for `audience` (e.g. blob storage) from the same credential as
    /// the settings' ARM tokens, with its own cache.
    pub(crate) fn for_audience(
        settings: &AzureSettings,
        http: reqwest::Client,
        audience: &str,
    ) -> Result<Self> {
        let mut settings = settings.clone();
        settings.token_audience = audience.to_owned();
        Self::new(&settings, http)
    }

    /// The current token, fetching one if there is none or it is close to expiry.
    pub(crate) async fn token(&self, deadline: Deadline) -> Result<Secret> {
        Ok(self.token_with_expiry(deadline).await?.0)
    }

    /// The current token and when it expires.
    pub(crate) async fn token_with_expiry(&self, deadline: Deadline) -> Result<(Secret, Instant)> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && Instant::now() < cached.refresh_at
        {
            return Ok((cached.secret.clone(), cached.expires_at));
        }
        let secret = self.fetch_into(&mut cache, deadline).await?;
        let expires_at = cache.as_ref().map_or_else(Instant::now, |c| c.expires_at);
        Ok((secret, expires_at))
    }

    /// ARM answered 401 to `rejected`: fetch a new token unless another task already did.
    pub(crate) async fn refresh_rejected(
        &self,
        rejected: &Secret,
        deadline: Deadline,
    ) -> Result<Secret> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.secret != *rejected
        {
            return Ok(cached.secret.clone());
        }
        self.fetch_into(&mut cache, deadline).await
    }

    /// A service refused `rejected`: forget it, so the next request fetches a fresh token
    /// (unless another task already did).
    pub(crate) async fn evict(&self, rejected: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| c.secret == *rejected) {
            *cache = None;
        }
    }

    async fn fetch_into(&self, cache: &mut Option<Cached>, deadline: Deadline) -> Result<Secret> {
        let fetch = async {
            match &self.source {
                Source::Entra(s) => s.fetch(deadline).await,
                Source::Adfs(s) => s.fetch(deadline).await,
                Source::ManagedIdentity(s) => s.fetch(deadline).await,
            }
        };
        let token = tokio::time::timeout(deadline.remaining(), fetch)
            .await
            .map_err(|_| Error::Deadline {
                waiting_for: "an access token".into(),
            })??;
        let ahead = REFRESH_AHEAD.min(token.expires_in / 2);
        let now = Instant::now();
        *cache = Some(Cached {
            secret: token.secret.clone(),
            refresh_at: now + token.expires_in.saturating_sub(ahead),
            expires_at: now + token.expires_in,
        });
        Ok(token.secret)
    }
}

/// How long one token request for blob storage may take: the SDK's bearer policy asks without
/// the call's deadline, and a token endpoint that hangs must not hold a blob request forever.
const STORAGE_TOKEN_WAIT: Duration = Duration::from_secs(120);

/// The CPI's credential for blob storage (the blob pipeline's bearer policy and the page
/// writer): tokens for one audience (blob storage) from the same source as ARM's
/// (client secret, certificate, managed identity, ADFS), cached and refreshed the same way.
#[derive(Clone)]
pub struct AudienceCredential {
    provider: Arc<TokenProvider>,
    audience: String,
}

impl std::fmt::Debug for AudienceCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudienceCredential")
            .field("audience", &self.audience)
            .finish()
    }
}

impl AudienceCredential {
    pub fn new(settings: &AzureSettings, http: reqwest::Client, audience: &str) -> Result<Self> {
        Ok(Self {
            provider: Arc::new(TokenProvider::for_audience(settings, http, audience)?),
            audience: audience.to_owned(),
        })
    }

    /// A token for the audience (from the cache while it is fresh).
    pub(crate) async fn bearer(&self) -> Result<Secret> {
        self.provider
            .token(Deadline::after(STORAGE_TOKEN_WAIT))
            .await
    }

    /// The service refused `token` (401): the next [`Self::bearer`] fetches a fresh one.
    pub(crate) async fn reject(&self, token: &Secret) {
        tracing::debug!(audience = %self.audience, "a token was refused; dropping it from the cache");
        self.provider.evict(token).await;
    }
}

/// The v2 scope of `audience`: `<audience without trailing slash>/.default`, except for the
/// managed disk audience, which keeps its slash (`https://disk.azure.com//.default`): the
/// disk service accepts only tokens whose audience is `https://disk.azure.com/` exactly, and
/// Entra ID issues that audience only for this scope (AzCopy's `ManagedDiskScope`, the Azure
/// SDKs' challenge policies).
pub(crate) fn scope_for(audience: &str) -> String {
    if audience == DISK_AUDIENCE {
        return format!("{audience}/.default");
    }
    format!("{}/.default", audience.trim_end_matches('/'))
}

/// Shared by every source: what an `expires_in` field holds (AAD v1 and IMDS send a string).
fn parse_expires_in(value: Option<&serde_json::Value>) -> Option<Duration> {
    let seconds = match value? {
        serde_json::Value::Number(n) => n.as_u64()?,
        serde_json::Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

/// Turns a token endpoint answer into a token, or an Auth error whose hint names the setting
/// to fix. `what` names the endpoint ("Entra ID", "ADFS", "IMDS").
fn token_from_response(what: &str, status: u16, body: &[u8]) -> Result<Token> {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if (200..300).contains(&status) {
        let secret = json
            .get("access_token")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .ok_or_else(|| Error::Invalid(format!("{what} token answer has no access_token")))?;
        let expires_in = parse_expires_in(json.get("expires_in"))
            .ok_or_else(|| Error::Invalid(format!("{what} token answer has no expires_in")))?;
        return Ok(Token {
            secret: Secret::new(secret.to_owned()),
            expires_in,
        });
    }
    let description = json
        .get("error_description")
        .and_then(|v| v.as_str())
        .or_else(|| json.get("error").and_then(|v| v.as_str()))
        .unwrap_or("");
    Err(Error::Auth {
        operation: format!("{what} token request"),
        hint: auth_hint(status, description),
    })
}

/// Maps the well-known Entra/ADFS failure codes to what the operator must change.
pub(crate) fn auth_hint(status: u16, description: &str) -> String {
    let first_line = description.lines().next().unwrap_or("").trim();
    let fix = if description.contains("AADSTS7000215") || description.contains("AADSTS7000222") {
        "the client secret is wrong or expired: set a valid azure.client_secret"
    } else if description.contains("AADSTS700016") {
        "azure.client_id is not an application in tenant azure.tenant_id: check both values"
    } else if description.contains("AADSTS90002") || description.contains("AADSTS900023") {
        "tenant azure.tenant_id does not exist: check it"
    } else if description.contains("AADSTS700027") || description.contains("AADSTS700024") {
        "the certificate assertion was rejected: upload the certificate to the app registration and check it has not expired"
    } else if status == 400 || status == 401 {
        "the credentials were rejected: check azure.tenant_id, azure.client_id and the secret or certificate"
    } else {
        "the token endpoint failed"
    };
    if first_line.is_empty() {
        format!("{fix} (HTTP {status})")
    } else {
        format!("{fix} (HTTP {status}: {first_line})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrong_secret_hint_names_the_setting() {
        let err = token_from_response(
            "Entra ID",
            401,
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
        )
        .err()
        .unwrap();
        let text = err.to_string();
        assert!(text.contains("azure.client_secret"), "{text}");
        assert!(text.contains("AADSTS7000215"), "{text}");
    }

    #[test]
    fn expires_in_as_string_or_number() {
        let t = token_from_response("IMDS", 200, br#"{"access_token":"a","expires_in":"3599"}"#)
            .ok()
            .unwrap();
        assert_eq!(t.expires_in, Duration::from_secs(3599));
        let t = token_from_response("ADFS", 200, br#"{"access_token":"a","expires_in":60}"#)
            .ok()
            .unwrap();
        assert_eq!(t.expires_in, Duration::from_secs(60));
        assert!(token_from_response("ADFS", 200, br#"{"access_token":"a"}"#).is_err());
    }
}
