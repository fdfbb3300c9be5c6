//! Blob data plane: a small service over `azure_storage_blob` 1.1 with Shared Key auth.
//!
//! The CPI stores stemcells as page blobs (`stemcell/bosh-stemcell-<uuid>.vhd`) and light
//! stemcell records as 1 KiB page blobs carrying metadata only. Everything here speaks in
//! container/blob names; URLs stay inside this module.

mod bearer;
mod copy;
mod page_blob;
mod page_writer;
mod sas;
mod shared_key;

use std::collections::HashMap;
use std::sync::Arc;

use azure_core::error::ErrorKind;
use azure_core::http::{ClientOptions, StatusCode, Url};
use azure_storage_blob::models::{
    BlobClientCreateSnapshotResultHeaders, BlobClientGetPropertiesResultHeaders,
};
use azure_storage_blob::{BlobServiceClient, BlobServiceClientOptions};
use futures::TryStreamExt;

use crate::azure::deadline::Deadline;
use crate::azure::http;
use crate::azure::retry_delay::Backoff;
use crate::azure::sdk_retry::SdkRetry;
use crate::error::{CpiError, CpiResult};

pub use copy::{CopyPolling, CopyState};
pub use page_blob::{MAX_PUT_PAGE_BYTES, PAGE_SIZE, RECORD_BLOB_SIZE};
pub(crate) use page_writer::PageWriter;
pub(crate) use shared_key::SharedKeyPolicy;

/// What the data plane needs to reach one storage account (its key from ARM `listKeys`, or the
/// CPI's Entra ID credential; Azurite's well-known account in tests).
pub use super::account::{StorageAccess, StorageAuth};

/// How hard a single request is retried (failed connections, transport errors,
/// 408/429/500/502/503/504) by the one retry loop ([`crate::azure::retry`]), with exponential
/// backoff that honours Azure's `Retry-After` hints up to `max_delay`.
#[derive(Clone, Debug)]
pub struct RetrySettings {
    pub max_retries: u32,
    pub initial_delay: std::time::Duration,
    pub max_delay: std::time::Duration,
    pub max_total: std::time::Duration,
}

impl Default for RetrySettings {
    fn default() -> Self {
        Self {
            max_retries: 8,
            initial_delay: std::time::Duration::from_millis(500),
            max_delay: std::time::Duration::from_secs(20),
            max_total: std::time::Duration::from_secs(180),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct BlobServiceOptions {
    pub retry: RetrySettings,
    /// `x-ms-version` override (Azure Stack Hub lags behind public Azure).
    pub api_version: Option<String>,
    /// The process's HTTP client (see [`crate::azure::http`]); `None` builds one with the
    /// default options (no extra CA).
    pub http: Option<reqwest::Client>,
    /// The CPI method being served, named in network failure messages.
    pub cpi_method: Option<&'static str>,
    /// The CPI method's deadline: no blob request runs, nor is retried, past it.
    pub deadline: Option<Deadline>,
}

impl BlobServiceOptions {
    /// Options on the ARM client's HTTP stack (trust, proxy, timeouts), naming the same CPI
    /// method, so blob traffic is configured exactly as ARM traffic is.
    pub(crate) fn on_stack_of(arm: &crate::azure::ArmClient) -> Self {
        Self {
            http: Some(arm.http_client().clone()),
            cpi_method: arm.cpi_method(),
            deadline: arm.method_deadline(),
            ..Default::default()
        }
    }
}

/// Size and user metadata of an existing blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobProperties {
    pub content_length: u64,
    pub metadata: HashMap<String, String>,
}

/// One storage account's blob endpoint, authenticated with its account key.
#[derive(Clone)]
pub struct BlobService {
    client: Arc<BlobServiceClient>,
    account_name: String,
    /// Signs read SAS URLs and, for [`PageWriter`], its own requests (the pipeline's policy
    /// holds its own copy).
    auth: StorageAuth,
    version: String,
    retry: RetrySettings,
    list_page_size: Option<i32>,
    http: reqwest::Client,
    cpi_method: Option<&'static str>,
}

impl std::fmt::Debug for BlobService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobService")
            .field("account_name", &self.account_name)
            .field("endpoint", &self.client.url().as_str())
            .finish()
    }
}

impl BlobService {
    pub fn new(access: &StorageAccess, options: BlobServiceOptions) -> CpiResult<Self> {
        let mut endpoint = access.blob_endpoint.clone();
        // The SDK appends path segments: a trailing slash would yield `//container`, which
        // path-style endpoints (Azurite) reject.
        let trimmed = endpoint.path().trim_end_matches('/').to_owned();
        endpoint.set_path(&trimmed);

        let http = match &options.http {
            Some(http) => http.clone(),
            None => http::build(&http::HttpOptions::default())
                .map_err(|e| CpiError::cloud(e.to_string()))?,
        };
        let retry = &options.retry;
        let mut client_options = ClientOptions {
            per_try_policies: vec![match &access.auth {
                StorageAuth::SharedKey(key) => Arc::new(SharedKeyPolicy::new(
                    access.account_name.clone(),
                    key.clone(),
                ))
                    as Arc<dyn azure_core::http::policies::Policy>,
                StorageAuth::EntraId(credential) => {
                    Arc::new(bearer::StorageBearerPolicy::new(credential.clone()))
                }
            }],
            ..Default::default()
        };
        SdkRetry {
            service: http::Service::BlobStorage,
            attempts: retry.max_retries.saturating_add(1),
            backoff: Backoff {
                initial: retry.initial_delay,
                max: retry.max_delay,
            },
            max_elapsed: Some(retry.max_total),
            deadline: options.deadline,
            cpi_method: options.cpi_method,
            renew_token_on_401: matches!(access.auth, StorageAuth::EntraId(_)),
        }
        .install(&mut client_options, http.clone());
        let mut service_options = BlobServiceClientOptions {
            client_options,
            ..Default::default()
        };
        if let Some(version) = &options.api_version {
            service_options.version = version.clone();
        }
        let version = service_options.version.clone();
        let client =
            BlobServiceClient::new(endpoint, None, Some(service_options)).map_err(|e| {
                CpiError::cloud(format!(
                    "Invalid blob endpoint '{}' for storage account '{}': {e}",
                    access.blob_endpoint, access.account_name
                ))
            })?;
        Ok(Self {
            client: Arc::new(client),
            account_name: access.account_name.clone(),
            auth: access.auth.clone(),
            version,
            retry: options.retry,
            list_page_size: None,
            http,
            cpi_method: options.cpi_method,
        })
    }

    /// A lighter Put Page path for one blob (the stemcell upload), with this service's
    /// account, api-version and retry settings.
    pub fn page_writer(&self, container: &str, blob: &str) -> CpiResult<PageWriter> {
        PageWriter::new(
            &self.blob_url(container, blob),
            format!("{container}/{blob}"),
            &self.account_name,
            &self.auth,
            &self.version,
            &self.retry,
            self.http.clone(),
        )
    }

    /// A [`PageWriter`] for the upload URL of managed disk `disk_name` (`access_sas`, from
    /// `beginGetAccess`), with this service's api-version, retry settings and HTTP client and
    /// bearer tokens from `credential` (the disk audience's).
    pub(crate) fn disk_upload_writer(
        &self,
        access_sas: &Url,
        disk_name: &str,
        credential: crate::azure::auth::AudienceCredential,
    ) -> CpiResult<PageWriter> {
        PageWriter::for_disk_upload(
            access_sas,
            disk_name,
            credential,
            &self.version,
            &self.retry,
            self.http.clone(),
        )
    }

    /// True when this account is reached with Entra ID tokens (it forbids Shared Key, or the
    /// configuration asks for tokens), false with its account key.
    pub(crate) fn uses_entra_id(&self) -> bool {
        matches!(self.auth, StorageAuth::EntraId(_))
    }

    /// Lists at most `size` blobs a page (the service's default is 5000).
    pub fn with_list_page_size(mut self, size: u32) -> Self {
        self.list_page_size = Some(i32::try_from(size).unwrap_or(i32::MAX));
        self
    }

    pub(crate) fn account_name(&self) -> &str {
        &self.account_name
    }

    /// The blob's URL as Azure references it (e.g. a gallery version's `source.uri`).
    pub fn blob_url(&self, container: &str, blob: &str) -> Url {
        self.client.blob_client(container, blob).url().clone()
    }

    /// Creates the container (private access) unless it already exists.
    pub async fn ensure_container(&self, container: &str) -> CpiResult<()> {
        match self
            .client
            .blob_container_client(container)
            .create(None)
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.http_status() == Some(StatusCode::Conflict) => Ok(()),
            Err(e) => Err(self.failure("create", container, None, &e)),
        }
    }

    /// Properties of a blob, or `None` when the blob (or its container) does not exist.
    pub async fn get_properties(
        &self,
        container: &str,
        blob: &str,
    ) -> CpiResult<Option<BlobProperties>> {
        let response = match self
            .client
            .blob_client(container, blob)
            .get_properties(None)
            .await
        {
            Ok(response) => response,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
            Err(e) => return Err(self.failure("get properties of", container, Some(blob), &e)),
        };
        let content_length = response
            .content_length()
            .map_err(|e| self.failure("read properties of", container, Some(blob), &e))?
            .unwrap_or(0);
        let metadata = response
            .metadata()
            .map_err(|e| self.failure("read metadata of", container, Some(blob), &e))?;
        Ok(Some(BlobProperties {
            content_length,
            metadata,
        }))
    }

    pub async fn exists(&self, container: &str, blob: &str) -> CpiResult<bool> {
        Ok(self.get_properties(container, blob).await?.is_some())
    }

    /// User metadata of a blob, or `None` when it does not exist.
    pub async fn get_metadata(
        &self,
        container: &str,
        blob: &str,
    ) -> CpiResult<Option<HashMap<String, String>>> {
        Ok(self
            .get_properties(container, blob)
            .await?
            .map(|p| p.metadata))
    }

    /// Replaces the blob's user metadata with `metadata`.
    pub async fn set_metadata(
        &self,
        container: &str,
        blob: &str,
        metadata: &HashMap<String, String>,
    ) -> CpiResult<()> {
        self.client
            .blob_client(container, blob)
            .set_metadata(metadata, None)
            .await
            .map(|_| ())
            .map_err(|e| self.failure("set metadata of", container, Some(blob), &e))
    }

    /// Deletes a blob (and its snapshots). Answers `false` when it was already gone.
    pub async fn delete_blob(&self, container: &str, blob: &str) -> CpiResult<bool> {
        let options = azure_storage_blob::models::BlobClientDeleteOptions {
            delete_snapshots: Some(azure_storage_blob::models::DeleteSnapshotsOptionType::Include),
            ..Default::default()
        };
        self.delete_with(container, blob, options, "delete").await
    }

    /// One Delete Blob call; `false` when the blob (or snapshot) was already gone.
    async fn delete_with(
        &self,
        container: &str,
        blob: &str,
        options: azure_storage_blob::models::BlobClientDeleteOptions<'_>,
        what: &str,
    ) -> CpiResult<bool> {
        match self
            .client
            .blob_client(container, blob)
            .delete(Some(options))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => Ok(false),
            Err(e) => Err(self.failure(what, container, Some(blob), &e)),
        }
    }

    /// Takes a read-only snapshot of a blob carrying `metadata` (Put Blob `comp=snapshot`).
    /// Answers the snapshot's time stamp (`x-ms-snapshot`, the value that names it), or `None`
    /// when the blob does not exist.
    pub(crate) async fn create_snapshot(
        &self,
        container: &str,
        blob: &str,
        metadata: &HashMap<String, String>,
    ) -> CpiResult<Option<String>> {
        let options = azure_storage_blob::models::BlobClientCreateSnapshotOptions {
            metadata: Some(metadata.clone()),
            ..Default::default()
        };
        let response = match self
            .client
            .blob_client(container, blob)
            .create_snapshot(Some(options))
            .await
        {
            Ok(response) => response,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
            Err(e) => return Err(self.failure("snapshot", container, Some(blob), &e)),
        };
        response
            .snapshot()
            .map_err(|e| self.failure("read the snapshot of", container, Some(blob), &e))?
            .map(Some)
            .ok_or_else(|| {
                CpiError::cloud(format!(
                    "Blob storage answered no snapshot time for blob '{container}/{blob}' in storage account '{}'",
                    self.account_name
                ))
            })
    }

    /// Properties of one snapshot of a blob, or `None` when it does not exist.
    pub async fn get_snapshot_properties(
        &self,
        container: &str,
        blob: &str,
        snapshot: &str,
    ) -> CpiResult<Option<BlobProperties>> {
        let client = self
            .client
            .blob_client(container, blob)
            .with_snapshot(snapshot)
            .map_err(|e| self.failure("address a snapshot of", container, Some(blob), &e))?;
        let response = match client.get_properties(None).await {
            Ok(response) => response,
            Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(None),
            Err(e) => {
                return Err(self.failure(
                    "get properties of a snapshot of",
                    container,
                    Some(blob),
                    &e,
                ));
            }
        };
        let content_length = response
            .content_length()
            .map_err(|e| self.failure("read properties of", container, Some(blob), &e))?
            .unwrap_or(0);
        let metadata = response
            .metadata()
            .map_err(|e| self.failure("read metadata of", container, Some(blob), &e))?;
        Ok(Some(BlobProperties {
            content_length,
            metadata,
        }))
    }

    /// Deletes one snapshot of a blob, leaving the blob and its other snapshots. Answers
    /// `false` when the snapshot (or the blob) was already gone.
    pub(crate) async fn delete_snapshot(
        &self,
        container: &str,
        blob: &str,
        snapshot: &str,
    ) -> CpiResult<bool> {
        let options = azure_storage_blob::models::BlobClientDeleteOptions {
            snapshot: Some(snapshot.to_owned()),
            ..Default::default()
        };
        self.delete_with(container, blob, options, "delete a snapshot of")
            .await
    }

    /// Names of the blobs in `container` that start with `prefix`, across every page of the
    /// listing. A missing container holds no blobs.
    pub async fn list_blob_names(&self, container: &str, prefix: &str) -> CpiResult<Vec<String>> {
        let items = self.list_blobs(container, prefix, false).await?;
        Ok(items.into_iter().map(|(name, _)| name).collect())
    }

    /// Names and user metadata of the blobs in `container` that start with `prefix`, from the
    /// listing itself (`include=metadata`): no request per blob.
    pub async fn list_blobs_with_metadata(
        &self,
        container: &str,
        prefix: &str,
    ) -> CpiResult<Vec<(String, HashMap<String, String>)>> {
        self.list_blobs(container, prefix, true).await
    }

    async fn list_blobs(
        &self,
        container: &str,
        prefix: &str,
        with_metadata: bool,
    ) -> CpiResult<Vec<(String, HashMap<String, String>)>> {
        let options = azure_storage_blob::models::BlobContainerClientListBlobsOptions {
            // Sent only when set: Azurite refuses the Shared Key signature of an empty `prefix=`.
            prefix: (!prefix.is_empty()).then(|| prefix.to_owned()),
            maxresults: self.list_page_size,
            include: with_metadata
                .then(|| vec![azure_storage_blob::models::ListBlobsIncludeItem::Metadata]),
            ..Default::default()
        };
        let mut pager = self
            .client
            .blob_container_client(container)
            .list_blobs(Some(options))
            .map_err(|e| self.failure("list blobs of", container, None, &e))?;
        let mut blobs = Vec::new();
        loop {
            match pager.try_next().await {
                Ok(Some(item)) => {
                    if let Some(name) = item.name {
                        let metadata = item
                            .metadata
                            .and_then(|metadata| metadata.values)
                            .unwrap_or_default();
                        blobs.push((name, metadata));
                    }
                }
                Ok(None) => return Ok(blobs),
                Err(e) if e.http_status() == Some(StatusCode::NotFound) => return Ok(blobs),
                Err(e) => return Err(self.failure("list blobs of", container, None, &e)),
            }
        }
    }

    /// Downloads a whole blob into memory (small blobs: records, tests).
    pub async fn download(&self, container: &str, blob: &str) -> CpiResult<Vec<u8>> {
        let size = self
            .get_properties(container, blob)
            .await?
            .ok_or_else(|| {
                CpiError::cloud(format!(
                    "Blob '{container}/{blob}' not found in storage account '{}'",
                    self.account_name
                ))
            })?
            .content_length;
        let len = usize::try_from(size).map_err(|_| {
            CpiError::cloud(format!(
                "Blob '{container}/{blob}' is too large to download"
            ))
        })?;
        let mut buffer = vec![0u8; len];
        if len > 0 {
            self.client
                .blob_client(container, blob)
                .download_into(&mut buffer, None)
                .await
                .map_err(|e| self.failure("download", container, Some(blob), &e))?;
        }
        Ok(buffer)
    }

    fn failure(
        &self,
        action: &str,
        container: &str,
        blob: Option<&str>,
        error: &azure_core::Error,
    ) -> CpiError {
        let target = match blob {
            Some(blob) => format!("blob '{container}/{blob}'"),
            None => format!("container '{container}'"),
        };
        self.failure_of(&format!("{action} {target}"), error)
    }

    /// `Failed to <what> in storage account '<account>': <why>[: <what to change>]`.
    fn failure_of(&self, what: &str, error: &azure_core::Error) -> CpiError {
        let method = || {
            self.cpi_method
                .map(|m| format!("CPI method {m}: "))
                .unwrap_or_default()
        };
        if let Some(failure) = http::connect_failure_in(error) {
            return CpiError::cloud(format!(
                "{}Failed to {what} in storage account '{}': {failure}",
                method(),
                self.account_name
            ));
        }
        if let Some(late) = http::deadline_in(error) {
            return CpiError::cloud(format!(
                "{}Failed to {what} in storage account '{}': {late}",
                method(),
                self.account_name
            ));
        }
        let code = match error.kind() {
            ErrorKind::HttpResponse { error_code, .. } => error_code.as_deref(),
            _ => None,
        };
        let entra_id = matches!(self.auth, StorageAuth::EntraId(_));
        let hint = authorization_hint(code, &self.account_name, entra_id)
            .map(|hint| format!(": {hint}"))
            .unwrap_or_default();
        CpiError::cloud(format!(
            "Failed to {what} in storage account '{}': {}{hint}",
            self.account_name,
            describe(error)
        ))
    }
}

/// What the operator must change when the storage service refused a request for its
/// authorization: the CPI identity's role (Entra ID), or the authentication mode (an account
/// that forbids Shared Key answers `KeyBasedAuthenticationNotPermitted`, "Prevent Shared Key
/// authorization for an Azure Storage account"). `None` for any other refusal.
fn authorization_hint(code: Option<&str>, account: &str, entra_id: bool) -> Option<String> {
    match code? {
        "AuthorizationPermissionMismatch" | "AuthorizationFailure" if entra_id => Some(format!(
            "the CPI's identity is not authorized for this request: give it the role Storage Blob Data Contributor on storage account '{account}' (role assignments take a few minutes to apply)"
        )),
        "KeyBasedAuthenticationNotPermitted" => Some(format!(
            "storage account '{account}' forbids Shared Key access: set azure.storage_authentication to entra_id (or auto, which reads allowSharedKeyAccess) and give the CPI's identity the role Storage Blob Data Contributor on the account"
        )),
        _ => None,
    }
}

/// A one-line description: HTTP status and storage error code when there is one.
fn describe(error: &azure_core::Error) -> String {
    match error.kind() {
        ErrorKind::HttpResponse {
            status, error_code, ..
        } => match error_code {
            Some(code) => format!("HTTP {} {code}", u16::from(*status)),
            None => format!("HTTP {}", u16::from(*status)),
        },
        _ => crate::azure::http::error_chain(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::credentials::Secret;

    const KEY: &str = "c2VjcmV0LWFjY291bnQta2V5LXZhbHVl";

    fn access(endpoint: &str) -> StorageAccess {
        StorageAccess {
            account_name: "acct".to_owned(),
            blob_endpoint: Url::parse(endpoint).unwrap(),
            auth: StorageAuth::SharedKey(Secret::new(KEY)),
        }
    }

    #[test]
    fn debug_output_never_shows_the_account_key() {
        let access = access("https://acct.blob.core.windows.net/");
        let service = BlobService::new(&access, BlobServiceOptions::default()).unwrap();
        for printed in [format!("{access:?}"), format!("{service:?}")] {
            assert!(!printed.contains(KEY), "{printed}");
            assert!(printed.contains("acct"), "{printed}");
        }
    }

    #[test]
    fn blob_urls_never_get_a_double_slash() {
        for endpoint in [
            "http://127.0.0.1:10000/devstoreaccount1/",
            "http://127.0.0.1:10000/devstoreaccount1",
        ] {
            let service =
                BlobService::new(&access(endpoint), BlobServiceOptions::default()).unwrap();
            assert_eq!(
                service.blob_url("stemcell", "bosh-stemcell-1.vhd").as_str(),
                "http://127.0.0.1:10000/devstoreaccount1/stemcell/bosh-stemcell-1.vhd"
            );
        }
        let public = BlobService::new(
            &access("https://acct.blob.core.windows.net/"),
            BlobServiceOptions::default(),
        )
        .unwrap();
        assert_eq!(
            public.blob_url("stemcell", "x.vhd").as_str(),
            "https://acct.blob.core.windows.net/stemcell/x.vhd"
        );
    }
}
