//! Server-side blob copy (Copy Blob from a URL) and waiting for it.
//!
//! The destination service pulls the source itself, so the caller only polls the destination's
//! copy status. A stemcell VHD is tens of GiB: the poll interval starts short (small blobs and
//! same-region copies finish in seconds) and doubles while the copy is pending, up to a cap, so a
//! long copy costs few requests.

use std::time::Duration;

use azure_core::http::Url;
use azure_storage_blob::models::{BlobClientGetPropertiesResultHeaders, CopyStatus};

use super::BlobService;
use super::sas::BlobReadSas;
use crate::azure::deadline::Deadline;
use crate::error::{CpiError, CpiResult};

/// Where a copy into a blob stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyState {
    /// `progress` is the service's `<bytes copied>/<total bytes>`.
    Pending {
        progress: Option<String>,
    },
    Success,
    /// Failed or aborted, with the service's description.
    Failed {
        description: String,
    },
}

/// How often a pending copy is looked at.
#[derive(Debug, Clone, Copy)]
pub struct CopyPolling {
    pub first: Duration,
    pub max: Duration,
}

impl Default for CopyPolling {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl BlobService {
    /// The blob's URL with a read-only SAS valid for `valid_for`.
    pub fn read_sas_url(&self, container: &str, blob: &str, valid_for: Duration) -> CpiResult<Url> {
        BlobReadSas {
            account_name: &self.account_name,
            container,
            blob,
            expiry: time::OffsetDateTime::now_utc() + valid_for,
        }
        .sign_url(&self.blob_url(container, blob), &self.account_key)
    }

    /// Starts copying `source` (readable by this service, e.g. a SAS URL) into
    /// `container/blob`; the source's metadata comes along.
    pub async fn start_copy(&self, container: &str, blob: &str, source: &Url) -> CpiResult<()> {
        self.client
            .blob_client(container, blob)
            .start_copy_from_url(source.to_string(), None)
            .await
            .map(|_| ())
            .map_err(|e| self.failure("start a copy into", container, Some(blob), &e))
    }

    /// The state of the last copy into a blob; `None` when the blob does not exist, or was
    /// never a copy destination.
    pub async fn copy_state(&self, container: &str, blob: &str) -> CpiResult<Option<CopyState>> {
        let response = match self
            .client
            .blob_client(container, blob)
            .get_properties(None)
            .await
        {
            Ok(response) => response,
            Err(e) if e.http_status() == Some(azure_core::http::StatusCode::NotFound) => {
                return Ok(None);
            }
            Err(e) => return Err(self.failure("get properties of", container, Some(blob), &e)),
        };
        let read = |e: azure_core::Error| {
            self.failure("read the copy state of", container, Some(blob), &e)
        };
        let Some(status) = response.copy_status().map_err(read)? else {
            return Ok(None);
        };
        Ok(Some(match status {
            CopyStatus::Success => CopyState::Success,
            CopyStatus::Pending => CopyState::Pending {
                progress: response.copy_progress().map_err(read)?,
            },
            other => CopyState::Failed {
                description: format!(
                    "{other:?}: {}",
                    response
                        .copy_status_description()
                        .map_err(read)?
                        .unwrap_or_default()
                ),
            },
        }))
    }

    /// Copies `source` into `container/blob` and waits until the copy is done. A failed copy,
    /// or one still pending at the deadline, leaves no destination blob behind.
    pub async fn copy_and_wait(
        &self,
        container: &str,
        blob: &str,
        source: &Url,
        polling: CopyPolling,
        deadline: Deadline,
    ) -> CpiResult<()> {
        self.start_copy(container, blob, source).await?;
        let mut interval = polling.first;
        loop {
            let failure = match self.copy_state(container, blob).await? {
                Some(CopyState::Success) => return Ok(()),
                Some(CopyState::Pending { progress }) => {
                    if deadline.remaining() <= interval {
                        format!(
                            "the copy was still pending ({}) when the call's time ran out",
                            progress.as_deref().unwrap_or("no progress reported")
                        )
                    } else {
                        tracing::debug!(container, blob, ?progress, "copy pending");
                        tokio::time::sleep(interval).await;
                        interval = (interval * 2).min(polling.max);
                        continue;
                    }
                }
                Some(CopyState::Failed { description }) => description,
                None => "the destination blob vanished".to_owned(),
            };
            if let Err(e) = self.delete_blob(container, blob).await {
                tracing::warn!(error = %e, "could not delete the partial copy");
            }
            return Err(CpiError::cloud(format!(
                "Failed to copy a blob into '{container}/{blob}' in storage account '{}': {failure}",
                self.account_name
            )));
        }
    }
}
