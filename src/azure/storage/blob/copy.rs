//! Server-side blob copy (Copy Blob from a URL) and waiting for it.
//!
//! The destination service pulls the source itself, so the caller only polls the destination's
//! copy status. A stemcell VHD is tens of GiB: the next poll comes when the copy should be done
//! at the rate seen so far (`remaining / copied × elapsed`, as the Ruby CPI waits), kept between
//! a floor and a cap, so a long copy costs few requests and a short one is not overslept.

use std::time::Duration;

use azure_core::http::Url;
use azure_storage_blob::models::{BlobClientGetPropertiesResultHeaders, CopyStatus};

use azure_core::credentials::Secret;

use super::sas::{BlobReadSas, DelegationKey};
use super::{BlobService, StorageAuth};
use crate::azure::deadline::Deadline;
use crate::error::{CpiError, CpiResult};

/// Azure's limit on a user delegation key's lifetime ("Get User Delegation Key": at most
/// seven days from the current time), less a margin.
const MAX_DELEGATION_KEY_VALIDITY: Duration = Duration::from_secs(7 * 24 * 3600 - 600);

/// How far a SAS's start is put back, and its expiry put forward, for the difference between
/// this machine's clock and the storage service's.
pub(crate) const SAS_CLOCK_SKEW: Duration = Duration::from_secs(5 * 60);

/// `(start, expiry)` of a SAS for a copy with `remaining` time left: from `SAS_CLOCK_SKEW`
/// before `now` until `SAS_CLOCK_SKEW` after the deadline, and never beyond what a user
/// delegation key may cover.
fn sas_validity(
    now: time::OffsetDateTime,
    remaining: Duration,
) -> (time::OffsetDateTime, time::OffsetDateTime) {
    let start = now - SAS_CLOCK_SKEW;
    let expiry = now
        + remaining
            .saturating_add(SAS_CLOCK_SKEW)
            .min(MAX_DELEGATION_KEY_VALIDITY);
    (start, expiry)
}

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
    /// While no progress is reported.
    pub without_progress: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Default for CopyPolling {
    fn default() -> Self {
        Self {
            without_progress: Duration::from_secs(5),
            min: Duration::from_secs(1),
            max: Duration::from_secs(30),
        }
    }
}

impl CopyPolling {
    /// The wait before the next look, from the service's `<copied>/<total>` progress after
    /// `elapsed`.
    pub(crate) fn next_interval(&self, progress: Option<&str>, elapsed: Duration) -> Duration {
        let parsed = progress.and_then(|p| {
            let (copied, total) = p.split_once('/')?;
            Some((
                copied.trim().parse::<u64>().ok()?,
                total.trim().parse::<u64>().ok()?,
            ))
        });
        match parsed {
            Some((copied, total)) if copied > 0 => {
                let remaining = total.saturating_sub(copied) as f64 / copied as f64;
                Duration::try_from_secs_f64(elapsed.as_secs_f64() * remaining)
                    .unwrap_or(self.max)
                    .clamp(self.min, self.max)
            }
            _ => self.without_progress,
        }
    }
}

impl BlobService {
    /// The blob's URL with a read-only SAS for a copy that may run for `copy_time` more (the
    /// rest of the CPI method's time: at its deadline the copy is abandoned and its destination
    /// deleted): valid from a little before now until then, each end widened by
    /// [`SAS_CLOCK_SKEW`] for the storage service's clock, and no longer. A service SAS signed
    /// with the account key, or with Entra ID a user delegation SAS (Get User Delegation Key,
    /// whose key lasts as long), never an account-key SAS.
    pub async fn read_sas_url(
        &self,
        container: &str,
        blob: &str,
        copy_time: Duration,
    ) -> CpiResult<Url> {
        let now = time::OffsetDateTime::now_utc();
        let (start, expiry) = sas_validity(now, copy_time);
        let url = self.blob_url(container, blob);
        let sas = BlobReadSas {
            account_name: &self.account_name,
            container,
            blob,
            start,
            expiry,
        };
        match &self.auth {
            StorageAuth::SharedKey(key) => sas.sign_url(&url, key),
            StorageAuth::EntraId(_) => {
                let key = self.user_delegation_key(start, expiry).await?;
                sas.sign_url_with_delegation(&url, &key)
            }
        }
    }

    /// A user delegation key valid from `start` until `expiry`.
    async fn user_delegation_key(
        &self,
        start: time::OffsetDateTime,
        expiry: time::OffsetDateTime,
    ) -> CpiResult<DelegationKey> {
        let whole = |t: time::OffsetDateTime| t.replace_nanosecond(0).unwrap_or(t);
        let info = azure_storage_blob::models::KeyInfo {
            start: Some(whole(start)),
            expiry: Some(whole(expiry)),
            ..Default::default()
        };
        let failed = |e: azure_core::Error| self.failure_of("get a user delegation key", &e);
        let content = info.try_into().map_err(failed)?;
        let key = self
            .client
            .get_user_delegation_key(content, None)
            .await
            .map_err(failed)?
            .into_model()
            .map_err(failed)?;
        let text = |t: Option<time::OffsetDateTime>| t.map(super::sas::expiry_text).transpose();
        let missing = || {
            CpiError::cloud(format!(
                "Storage account '{}' answered an incomplete user delegation key",
                self.account_name
            ))
        };
        Ok(DelegationKey {
            signed_oid: key.signed_oid.ok_or_else(missing)?,
            signed_tid: key.signed_tid.ok_or_else(missing)?,
            signed_start: text(key.signed_start)?.ok_or_else(missing)?,
            signed_expiry: text(key.signed_expiry)?.ok_or_else(missing)?,
            signed_service: key.signed_service.ok_or_else(missing)?,
            signed_version: key.signed_version.ok_or_else(missing)?,
            // The SDK decodes the key; the signer takes it base64 encoded, as Azure sends it.
            value: Secret::new(base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                key.value.ok_or_else(missing)?,
            )),
        })
    }

    /// Starts copying `source` (readable by this service, e.g. a SAS URL) into
    /// `container/blob`; the source's metadata comes along.
    pub(crate) async fn start_copy(
        &self,
        container: &str,
        blob: &str,
        source: &Url,
    ) -> CpiResult<()> {
        self.client
            .blob_client(container, blob)
            .start_copy_from_url(source.to_string(), None)
            .await
            .map(|_| ())
            .map_err(|e| self.failure("start a copy into", container, Some(blob), &e))
    }

    /// The state of the last copy into a blob; `None` when the blob does not exist, or was
    /// never a copy destination.
    pub(crate) async fn copy_state(
        &self,
        container: &str,
        blob: &str,
    ) -> CpiResult<Option<CopyState>> {
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
        self.wait_for_copy(container, blob, polling, deadline).await
    }

    /// Waits until the copy into `container/blob` (started here or by an earlier process) is
    /// done. A failed copy, or one still pending at the deadline, leaves no destination blob.
    pub(crate) async fn wait_for_copy(
        &self,
        container: &str,
        blob: &str,
        polling: CopyPolling,
        deadline: Deadline,
    ) -> CpiResult<()> {
        let started = std::time::Instant::now();
        loop {
            let failure = match self.copy_state(container, blob).await? {
                Some(CopyState::Success) => return Ok(()),
                Some(CopyState::Pending { progress }) => {
                    let interval = polling.next_interval(progress.as_deref(), started.elapsed());
                    if deadline.remaining() <= interval {
                        format!(
                            "the copy was still pending ({}) when the call's time ran out",
                            progress.as_deref().unwrap_or("no progress reported")
                        )
                    } else {
                        tracing::debug!(container, blob, ?progress, "copy pending");
                        tokio::time::sleep(interval).await;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_sas_lasts_until_the_deadline_plus_the_skew_margin() {
        let now = time::macros::datetime!(2026-12-07 10:00:00 UTC);
        let (start, expiry) = sas_validity(now, Duration::from_secs(3600));
        assert_eq!(start, time::macros::datetime!(2026-12-07 09:55:00 UTC));
        assert_eq!(expiry, time::macros::datetime!(2026-12-07 11:05:00 UTC));
        // A deadline that has passed still gives the margin, never a SAS already expired.
        let (_, expiry) = sas_validity(now, Duration::ZERO);
        assert_eq!(expiry, time::macros::datetime!(2026-12-07 10:05:00 UTC));
        // A delegation key cannot outlive seven days, so neither does the SAS.
        let (_, expiry) = sas_validity(now, Duration::from_secs(30 * 24 * 3600));
        assert!(expiry < now + Duration::from_secs(7 * 24 * 3600));
    }

    #[test]
    fn the_interval_follows_the_copy_rate_within_bounds() {
        let polling = CopyPolling::default();
        let secs = Duration::from_secs;
        assert_eq!(polling.next_interval(None, secs(3)), secs(5));
        assert_eq!(polling.next_interval(Some("0/100"), secs(3)), secs(5));
        assert_eq!(polling.next_interval(Some("garbage"), secs(3)), secs(5));
        // A quarter done after 4 s: three times as long again, 12 s.
        assert_eq!(polling.next_interval(Some("25/100"), secs(4)), secs(12));
        assert_eq!(polling.next_interval(Some("1/100"), secs(60)), secs(30));
        assert_eq!(polling.next_interval(Some("99/100"), secs(10)), secs(1));
        assert_eq!(polling.next_interval(Some("100/100"), secs(10)), secs(1));
    }
}
