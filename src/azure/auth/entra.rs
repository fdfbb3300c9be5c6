//! Entra ID (AAD v2) through `azure_identity`: a client secret, or our certificate assertion.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::ClientOptions;
use azure_identity::{
    ClientAssertionCredential, ClientAssertionCredentialOptions, ClientSecretCredential,
    ClientSecretCredentialOptions,
};
use url::Url;

use super::super::deadline::Deadline;
use super::super::error::{Error, Result};
use super::super::http::{Service, connect_failure_in};
use super::super::retry_delay::Backoff;
use super::super::sdk_retry::SdkRetry;
use super::super::settings::{AzureSettings, CredentialSettings, Timings};
use super::certificate::CertificateAssertion;
use super::{Token, auth_hint};

enum Kind {
    Secret { client_id: String, secret: Secret },
    Certificate(CertificateAssertion),
}

pub(super) struct EntraSource {
    host: Url,
    tenant_id: String,
    scope: String,
    http: reqwest::Client,
    timings: Timings,
    kind: Kind,
}

impl EntraSource {
    pub(super) fn new(settings: &AzureSettings, host: Url, http: reqwest::Client) -> Result<Self> {
        if host.scheme() != "https" {
            return Err(Error::Invalid(format!(
                "the Entra ID authority host must use https: {host}"
            )));
        }
        let kind = match &settings.credential {
            CredentialSettings::ClientSecret { client_id, secret } => Kind::Secret {
                client_id: client_id.clone(),
                secret: secret.clone(),
            },
            CredentialSettings::Certificate {
                client_id,
                pem_path,
            } => Kind::Certificate(CertificateAssertion::new(
                client_id.clone(),
                pem_path.clone(),
                token_endpoint(&host, &settings.tenant_id)?,
            )),
            CredentialSettings::ManagedIdentity { .. } => {
                return Err(Error::Invalid(
                    "managed identity does not use an Entra ID authority".into(),
                ));
            }
        };
        Ok(Self {
            scope: super::scope_for(&settings.token_audience),
            tenant_id: settings.tenant_id.clone(),
            host,
            http,
            timings: settings.timings.clone(),
            kind,
        })
    }

    fn client_options(&self, deadline: Deadline) -> ClientOptions {
        let mut custom = CustomConfiguration::default();
        custom.authority_host = self.host.as_str().trim_end_matches('/').to_owned();
        let cloud = CloudConfiguration::from(custom);
        let mut options = ClientOptions {
            cloud: Some(Arc::new(cloud)),
            ..Default::default()
        };
        // A few quick retries of the token request; the caller's deadline bounds the rest.
        SdkRetry {
            service: Service::TokenEndpoint,
            attempts: 5,
            backoff: Backoff {
                initial: self.timings.initial_backoff,
                max: self.timings.max_backoff,
            },
            max_elapsed: None,
            deadline: Some(deadline),
            cpi_method: None,
            renew_token_on_401: false,
        }
        .install(&mut options, self.http.clone());
        options
    }

    /// A fresh `azure_identity` credential per fetch: its internal cache cannot be told that ARM
    /// rejected a token, and our own cache already decides when to fetch.
    pub(super) async fn fetch(&self, deadline: Deadline) -> Result<Token> {
        let scopes = [self.scope.as_str()];
        let result = match &self.kind {
            Kind::Secret { client_id, secret } => {
                let options = ClientSecretCredentialOptions {
                    client_options: self.client_options(deadline),
                };
                let credential = ClientSecretCredential::new(
                    &self.tenant_id,
                    client_id.clone(),
                    secret.clone(),
                    Some(options),
                )
                .map_err(|e| Error::Invalid(format!("client secret credential: {e}")))?;
                credential.get_token(&scopes, None).await
            }
            Kind::Certificate(assertion) => {
                // Read and check the PEM file before any request, for a clear local error.
                assertion.load()?;
                let options = ClientAssertionCredentialOptions {
                    client_options: self.client_options(deadline),
                };
                let credential = ClientAssertionCredential::new(
                    self.tenant_id.clone(),
                    assertion.client_id().to_owned(),
                    assertion.clone(),
                    Some(options),
                )
                .map_err(|e| Error::Invalid(format!("certificate credential: {e}")))?;
                credential.get_token(&scopes, None).await
            }
        };
        let token = result.map_err(entra_error)?;
        let remaining = token.expires_on - azure_core::time::OffsetDateTime::now_utc();
        Ok(Token {
            secret: token.token,
            expires_in: std::time::Duration::try_from(remaining).unwrap_or_default(),
        })
    }
}

/// `{host}/{tenant}/oauth2/v2.0/token`, the audience of a certificate assertion.
fn token_endpoint(host: &Url, tenant_id: &str) -> Result<Url> {
    let mut url = host.clone();
    url.path_segments_mut()
        .map_err(|_| Error::Invalid(format!("bad authority host {host}")))?
        .pop_if_empty()
        .extend([tenant_id, "oauth2", "v2.0", "token"]);
    Ok(url)
}

/// The HTTP status of a token endpoint refusal, looking through `azure_identity`'s wrapping.
fn http_status(err: &azure_core::Error) -> Option<u16> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(azure) = e.downcast_ref::<azure_core::Error>()
            && let azure_core::error::ErrorKind::HttpResponse { status, .. } = azure.kind()
        {
            return Some(u16::from(*status));
        }
        current = e.source();
    }
    None
}

fn entra_error(err: azure_core::Error) -> Error {
    if let Some(failure) = connect_failure_in(&err) {
        return Error::Connection {
            method: None,
            during: "Entra ID token request".into(),
            cause: failure.clone(),
        };
    }
    let hint = match http_status(&err) {
        Some(status) => auth_hint(status, &err.to_string()),
        None => format!(
            "the token endpoint could not be reached: {}",
            err.to_string().lines().next().unwrap_or("")
        ),
    };
    Error::Auth {
        operation: "Entra ID token request".into(),
        hint,
    }
}
