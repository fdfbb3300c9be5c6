//! The input of the Azure access layer. The config module builds one [`AzureSettings`] from
//! cpi.json; nothing here reads files or the network, so building it can never fail late.

use std::path::PathBuf;
use std::time::Duration;

use azure_core::credentials::Secret;
use url::Url;

/// Which column of the api-version table applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloudKind {
    /// Public Azure and the sovereign clouds (China, US Government).
    Public,
    /// Azure Stack Hub, whose resource providers lag public Azure by years.
    Stack,
}

/// Where tokens come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// Entra ID (AAD v2 endpoint `{host}/{tenant}/oauth2/v2.0/token`, `scope=<audience>/.default`).
    /// Any https host: the sovereign clouds, or a private one such as a local simulator.
    EntraId { host: Url },
    /// Azure Stack ADFS: the v1 token endpoint itself, e.g.
    /// `https://adfs.<domain>/adfs/oauth2/token`, with a `resource=` form field.
    Adfs { token_endpoint: Url },
}

/// How the CPI proves who it is.
#[derive(Debug, Clone)]
pub enum CredentialSettings {
    /// A service principal with a client secret.
    ClientSecret { client_id: String, secret: Secret },
    /// A service principal with a certificate: one PEM file holding the private key and the
    /// certificate (the job writes it to `$BOSH_JOBS_DIR/azure_cpi/config/service_principal_certificate.pem`).
    Certificate {
        client_id: String,
        pem_path: PathBuf,
    },
    /// The VM's managed identity through IMDS: system-assigned, or the user-assigned one named
    /// by its ARM resource id. `endpoint` overrides the IMDS token URL (tests only).
    ManagedIdentity {
        resource_id: Option<String>,
        endpoint: Option<Url>,
    },
}

/// Retry, backoff and polling timings. Production code uses the defaults; tests shrink them.
#[derive(Debug, Clone)]
pub struct Timings {
    /// Attempts per HTTP call, the first one included (a 401 refresh is not counted).
    pub max_attempts: u32,
    /// First backoff when Azure gives no retry-after hint; doubles per attempt.
    pub initial_backoff: Duration,
    /// Largest backoff and largest honoured retry-after hint.
    pub max_backoff: Duration,
    /// LRO poll interval when Azure sends no `Retry-After`.
    pub poll_default: Duration,
    /// Polls never come faster than this, whatever `Retry-After` says.
    pub poll_floor: Duration,
    /// Polls never wait longer than this, whatever `Retry-After` says.
    pub poll_ceiling: Duration,
    /// TCP connect timeout of one attempt. Azure answers a SYN within milliseconds; a few
    /// seconds allow for a lost SYN, and an unreachable Azure fails a call quickly (see
    /// [`super::http::CONNECT_ATTEMPTS`]).
    pub connect_timeout: Duration,
    /// Whole-request timeout of a single HTTP exchange (the deadline bounds the operation).
    pub request_timeout: Duration,
}

impl Default for Timings {
    fn default() -> Self {
        Self {
            max_attempts: 10,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(60),
            poll_default: Duration::from_secs(5),
            poll_floor: Duration::from_secs(1),
            poll_ceiling: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(4),
            request_timeout: Duration::from_secs(120),
        }
    }
}

/// Everything the Azure layer needs; built by the config module.
#[derive(Debug, Clone)]
pub struct AzureSettings {
    pub cloud: CloudKind,
    /// ARM base URL, e.g. `https://management.azure.com/`. Plain http is accepted only for a
    /// loopback host (a local simulator), so a bearer token never crosses a network in clear.
    pub resource_manager_url: Url,
    pub authority: Authority,
    /// The token audience (`resource`), e.g. `https://management.azure.com/`; for Azure Stack
    /// the configured `azure_stack.resource`.
    pub token_audience: String,
    pub tenant_id: String,
    pub subscription_id: String,
    pub credential: CredentialSettings,
    /// Extra CA certificates (PEM) trusted for every HTTPS call, e.g. the Azure Stack CA.
    pub extra_ca_pem: Option<String>,
    /// Sent in the User-Agent as `pid-<guid>` for partner attribution, as the Ruby CPI does.
    pub isv_tracking_guid: String,
    /// Log request and response bodies (still through the allow-list redactor).
    pub debug_mode: bool,
    pub timings: Timings,
    /// The CPI method being served, named in network failure messages.
    pub cpi_method: Option<&'static str>,
    /// The deadline of the CPI method being served: blob requests stop there (ARM calls get
    /// theirs from each call).
    pub method_deadline: Option<super::deadline::Deadline>,
    /// How blob requests authenticate (`azure.storage_authentication`).
    pub storage_authentication: StorageAuthentication,
    /// The audience of blob data-plane tokens (`https://storage.azure.com/` in every Entra ID
    /// cloud); `None` where storage takes no Entra ID token (Azure Stack Hub).
    pub storage_audience: Option<String>,
    /// The audience of managed disk upload tokens (`https://disk.azure.com/`); `None` where
    /// disks take no Entra ID upload (Azure Stack Hub).
    pub disk_audience: Option<String>,
}

/// `azure.storage_authentication`: how the CPI authenticates to blob storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageAuthentication {
    /// Entra ID for an account whose `allowSharedKeyAccess` is `false`, Shared Key otherwise
    /// (so existing accounts get exactly the requests they got before).
    #[default]
    Auto,
    /// Always the account key from `listKeys`, as the Ruby CPI.
    SharedKey,
    /// Always a bearer token for the storage audience; no `listKeys`.
    EntraId,
}

impl StorageAuthentication {
    pub(crate) const VALUES: [&'static str; 3] = ["auto", "shared_key", "entra_id"];

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(Self::Auto),
            "shared_key" => Some(Self::SharedKey),
            "entra_id" => Some(Self::EntraId),
            _ => None,
        }
    }

    /// Whether an account with this `allowSharedKeyAccess` is reached with Entra ID.
    pub(crate) fn uses_entra_id(self, allow_shared_key_access: Option<bool>) -> bool {
        match self {
            Self::Auto => allow_shared_key_access == Some(false),
            Self::SharedKey => false,
            Self::EntraId => true,
        }
    }
}

/// The Ruby CPI's default partner attribution id.
pub const DEFAULT_ISV_TRACKING_GUID: &str = "563bbbca-7944-4791-b9c6-8af0928114ac";

/// `$BOSH_JOBS_DIR/azure_cpi/config/<file>`, `BOSH_JOBS_DIR` defaulting to `/var/vcap/jobs`.
pub(crate) fn job_config_file(file: &str) -> PathBuf {
    let jobs_dir = std::env::var_os("BOSH_JOBS_DIR").unwrap_or_else(|| "/var/vcap/jobs".into());
    PathBuf::from(jobs_dir)
        .join("azure_cpi")
        .join("config")
        .join(file)
}

/// Where the job template writes the service principal's key + certificate.
pub(crate) fn service_principal_certificate_path() -> PathBuf {
    job_config_file("service_principal_certificate.pem")
}

/// Where the job template writes the Azure Stack CA certificate.
pub(crate) fn azure_stack_ca_cert_path() -> PathBuf {
    job_config_file("azure_stack_ca_cert.pem")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_prints_the_client_secret() {
        let credential = CredentialSettings::ClientSecret {
            client_id: "app".into(),
            secret: Secret::new("hunter2-very-secret"),
        };
        let printed = format!("{credential:?}");
        assert!(printed.contains("app"));
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
