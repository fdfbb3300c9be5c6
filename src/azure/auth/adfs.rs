//! Azure Stack ADFS: the OAuth2 v1 client-credentials grant with `resource=<audience>`, posted to
//! `https://adfs.<domain>/adfs/oauth2/token`. `azure_identity` only speaks the v2 endpoint.

use azure_core::credentials::Secret;
use url::Url;

use super::super::deadline::Deadline;
use super::super::error::{Error, Result};
use super::super::settings::{AzureSettings, CredentialSettings, Timings};
use super::certificate::CertificateAssertion;
use super::token_http::send_with_retries;
use super::{Token, token_from_response};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

enum Kind {
    Secret(Secret),
    Certificate(CertificateAssertion),
}

pub(super) struct AdfsSource {
    endpoint: Url,
    client_id: String,
    resource: String,
    kind: Kind,
    http: reqwest::Client,
    timings: Timings,
}

impl AdfsSource {
    pub(super) fn new(
        settings: &AzureSettings,
        endpoint: Url,
        http: reqwest::Client,
    ) -> Result<Self> {
        if endpoint.scheme() != "https" {
            return Err(Error::Invalid(format!(
                "the ADFS token endpoint must use https: {endpoint}"
            )));
        }
        let (client_id, kind) = match &settings.credential {
            CredentialSettings::ClientSecret { client_id, secret } => {
                (client_id.clone(), Kind::Secret(secret.clone()))
            }
            CredentialSettings::Certificate {
                client_id,
                pem_path,
            } => (
                client_id.clone(),
                Kind::Certificate(CertificateAssertion::new(
                    client_id.clone(),
                    pem_path.clone(),
                    endpoint.clone(),
                )),
            ),
            CredentialSettings::ManagedIdentity { .. } => {
                return Err(Error::Invalid("managed identity does not use ADFS".into()));
            }
        };
        Ok(Self {
            endpoint,
            client_id,
            resource: settings.token_audience.clone(),
            kind,
            http,
            timings: settings.timings.clone(),
        })
    }

    pub(super) async fn fetch(&self, deadline: Deadline) -> Result<Token> {
        let mut form: Vec<(&str, String)> = vec![
            ("grant_type", "client_credentials".into()),
            ("client_id", self.client_id.clone()),
            ("resource", self.resource.clone()),
        ];
        match &self.kind {
            Kind::Secret(secret) => form.push(("client_secret", secret.secret().to_owned())),
            Kind::Certificate(assertion) => {
                form.push(("client_assertion_type", ASSERTION_TYPE.into()));
                form.push(("client_assertion", assertion.sign()?));
            }
        }
        let (status, body) = send_with_retries("ADFS", &self.timings, deadline, &[], || {
            self.http.post(self.endpoint.clone()).form(&form)
        })
        .await?;
        token_from_response("ADFS", status, &body)
    }
}
