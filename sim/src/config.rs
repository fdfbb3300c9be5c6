//! Configuration of one simulator instance.

use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::faults::Scenario;

/// Blob storage the simulated storage accounts point at (an Azurite instance).
#[derive(Debug, Clone)]
pub struct StorageBackend {
    /// Blob service endpoint, e.g. `http://127.0.0.1:10000/devstoreaccount1`.
    pub blob_endpoint: Url,
    /// Account name Azurite serves, e.g. `devstoreaccount1`.
    pub account_name: String,
    /// Base64 account key; returned by `listKeys` and used to HEAD source blobs.
    pub account_key: String,
}

/// Everything a simulator instance needs. `Default` gives values that suit tests.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// The only subscription ARM knows; other ids get `SubscriptionNotFound`.
    pub subscription_id: String,
    /// The tenant the token endpoints accept (besides `adfs`).
    pub tenant_id: String,
    /// The service principal's application id.
    pub client_id: String,
    /// The secret the token endpoints accept (a test value, not a real secret).
    pub client_secret: String,
    /// PEM certificate whose private key signs client assertions (`x5t` must be its thumbprint).
    pub client_certificate_pem: Option<String>,
    /// User-assigned identity resource ids IMDS accepts as `msi_res_id` (system-assigned is always on).
    pub managed_identity_resource_ids: Vec<String>,
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// How many times an operation status is reported `InProgress` before it ends.
    pub lro_in_progress_polls: u32,
    /// `Retry-After` seconds sent with LRO responses.
    pub retry_after_secs: u64,
    /// Items per page of every list (small so paging bugs show).
    pub page_size: usize,
    /// Azurite (or other blob service) the storage accounts point at.
    pub storage: Option<StorageBackend>,
    /// `(name, base64 key)` of further accounts the same backend serves (Azurite's
    /// `AZURITE_ACCOUNTS`): an ARM storage account of that name points at its own account
    /// there instead of `storage.account_name`.
    pub extra_storage_accounts: Vec<(String, String)>,
    /// A CA (PEM) the sim trusts when it reads source blobs over HTTPS (Azurite in OAuth
    /// mode, the blob front).
    pub storage_ca_pem: Option<String>,
    /// Append one JSON line per request to this file.
    pub request_log: Option<PathBuf>,
    /// Conformance mode: write every ARM request/response pair as an `oav validate-traffic`
    /// file into this directory. When `None`, `AZURE_SIM_TRAFFIC_DIR` (if set) is used.
    pub traffic_dir: Option<PathBuf>,
    /// Faults (and latency) active from the start.
    pub scenario: Option<Scenario>,
    /// Seed for probabilistic faults.
    pub seed: u64,
    /// Fixed delay added to every ARM and token request.
    pub latency: Option<Duration>,
    /// HTTPS port for ARM and token endpoints (0 = pick a free one).
    pub port: u16,
    /// Plain-HTTP port for the IMDS endpoint (0 = pick a free one).
    pub imds_port: u16,
    /// Directory for the CA certificate file (a temporary directory when `None`).
    pub state_dir: Option<PathBuf>,
    /// Default location used by seeded fixtures and `skus`.
    pub location: String,
    /// Enforce ARM's per-subscription token buckets with 429s (headers are sent either way).
    pub arm_rate_limits: bool,
    /// Give gallery image versions an ETag and honour `If-Match` on them. Azure's gallery
    /// specs declare no ETag (so the default sends none, and conformance mode stays clean);
    /// turn it on to test clients that use one when Azure does send it. Such a sim writes no
    /// conformance traffic.
    pub gallery_version_etags: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        Self {
            subscription_id: "00000000-0000-0000-0000-000000000001".into(),
            tenant_id: "00000000-0000-0000-0000-0000000000aa".into(),
            client_id: "00000000-0000-0000-0000-0000000000cc".into(),
            client_secret: "sim-client-secret".into(),
            client_certificate_pem: None,
            managed_identity_resource_ids: vec![
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/identities/providers/Microsoft.ManagedIdentity/userAssignedIdentities/bosh".into(),
            ],
            token_lifetime: Duration::from_secs(3600),
            lro_in_progress_polls: 1,
            retry_after_secs: 0,
            page_size: 2,
            storage: None,
            extra_storage_accounts: Vec::new(),
            storage_ca_pem: None,
            request_log: None,
            traffic_dir: None,
            scenario: None,
            seed: 1,
            latency: None,
            port: 0,
            imds_port: 0,
            state_dir: None,
            location: "eastus".into(),
            arm_rate_limits: true,
            gallery_version_etags: false,
        }
    }
}
