//! Managed identity through the Instance Metadata Service, as the Ruby CPI does it:
//! `GET <imds>?api-version=2018-02-01&resource=<audience>[&msi_res_id=<id>]` with `Metadata: true`.

use url::Url;

use super::super::deadline::Deadline;
use super::super::error::{Error, Result};
use super::super::settings::{AzureSettings, CredentialSettings, Timings};
use super::token_http::send_with_retries;
use super::{Token, token_from_response};

const IMDS_TOKEN_URL: &str = "http://169.254.169.254/metadata/identity/oauth2/token";
const IMDS_API_VERSION: &str = "2018-02-01";

pub(super) struct ImdsSource {
    url: Url,
    http: reqwest::Client,
    timings: Timings,
}

impl ImdsSource {
    pub(super) fn new(settings: &AzureSettings, http: reqwest::Client) -> Result<Self> {
        let CredentialSettings::ManagedIdentity {
            resource_id,
            endpoint,
        } = &settings.credential
        else {
            return Err(Error::Invalid("not a managed identity credential".into()));
        };
        let mut url = match endpoint {
            Some(url) => url.clone(),
            None => Url::parse(IMDS_TOKEN_URL).map_err(|e| Error::Invalid(e.to_string()))?,
        };
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("api-version", IMDS_API_VERSION)
                .append_pair("resource", &settings.token_audience);
            if let Some(id) = resource_id {
                query.append_pair("msi_res_id", id);
            }
        }
        Ok(Self {
            url,
            http,
            timings: settings.timings.clone(),
        })
    }

    pub(super) async fn fetch(&self, deadline: Deadline) -> Result<Token> {
        // IMDS answers 404/410 while an identity is still being attached to a new VM.
        let (status, body) =
            send_with_retries("IMDS", &self.timings, deadline, &[404, 410], || {
                self.http.get(self.url.clone()).header("Metadata", "true")
            })
            .await?;
        if status == 400 || status == 404 {
            return Err(Error::Auth {
                operation: "IMDS token request".into(),
                hint: format!(
                    "no managed identity is available to this VM (HTTP {status}): assign one, or check azure.managed_identity_resource_id"
                ),
            });
        }
        token_from_response("IMDS", status, &body)
    }
}
