//! The one HTTP client of the process: shared by ARM calls and token requests, so connections
//! are reused and the extra CA (Azure Stack, a local simulator) is trusted everywhere.

use reqwest::Certificate;

use super::error::{Error, Result};
use super::settings::AzureSettings;

/// Builds the shared client. Proxies come from `HTTP(S)_PROXY` / `NO_PROXY`, as in the Ruby CPI.
pub fn build_client(settings: &AzureSettings) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(settings.timings.connect_timeout)
        .timeout(settings.timings.request_timeout)
        .pool_idle_timeout(std::time::Duration::from_secs(60));
    if let Some(pem) = &settings.extra_ca_pem {
        let certs = Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            Error::Invalid(format!("the extra CA certificate is not valid PEM: {e}"))
        })?;
        if certs.is_empty() {
            return Err(Error::Invalid(
                "the extra CA certificate PEM holds no certificate".into(),
            ));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder
        .build()
        .map_err(|e| Error::Invalid(format!("cannot build the HTTP client: {e}")))
}
