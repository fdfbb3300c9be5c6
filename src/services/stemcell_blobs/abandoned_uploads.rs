//! Stemcell blobs of uploads that can no longer be running. create_stemcell marks its page blob
//! with the upload's start time ([`UPLOAD_STARTED_METADATA`]) and removes the mark in the
//! metadata write that ends the upload; a process killed in between (the Director never got a
//! CID) leaves a marked, partial blob that nothing else would ever delete. create_stemcell and
//! delete_stemcell remove such blobs once the mark is older than the longest an upload may run:
//! the create_stemcell method timeout (create_stemcell stops its upload at the call's deadline),
//! plus [`CLOCK_SKEW`] because the mark is written by the uploading host's clock.
//!
//! Blobs without a mark (finished uploads, stemcells of the Ruby CPI) are never touched.

use std::time::Duration;

use super::CONTAINER as STEMCELL_CONTAINER;
use crate::azure::compute::UPLOAD_STARTED_METADATA;
use crate::azure::storage::blob::BlobService;
use crate::call::Method;
use crate::cid::STEMCELL_PREFIX;
use crate::services::Azure;
use crate::stemcell::unix_now;

/// Allowance for the clocks of two Director hosts disagreeing.
const CLOCK_SKEW: Duration = Duration::from_secs(10 * 60);

/// The longest a marked upload may still be running, as this CPI's configuration bounds it.
pub(crate) fn max_upload_age(azure: &Azure<'_>) -> Duration {
    // create_stemcell always has a timeout; without one an upload could be running still.
    azure
        .config
        .method_timeout(Method::CreateStemcell)
        .map_or(Duration::MAX, |timeout| timeout.saturating_add(CLOCK_SKEW))
}

/// Deletes the default storage account's stemcell blobs whose upload mark is older than
/// [`max_upload_age`]. Never fails the call: a failure is logged as a warning.
pub(crate) async fn remove_abandoned_uploads(azure: &Azure<'_>, blobs: Option<&BlobService>) {
    if azure.config.storage_account_name.is_none() {
        // No default account: this configuration never uploaded a stemcell.
        return;
    }
    let owned;
    let blobs = match blobs {
        Some(blobs) => blobs,
        None => match azure.default_blobs().await {
            Ok(service) => {
                owned = service;
                &owned
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for stemcell blobs of killed uploads");
                return;
            }
        },
    };
    let prefix = format!("{STEMCELL_PREFIX}-");
    let listed = blobs
        .list_blobs_with_metadata(STEMCELL_CONTAINER, &prefix)
        .await;
    let listed = match listed {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for stemcell blobs of killed uploads");
            return;
        }
    };
    let max_age = max_upload_age(azure).as_secs();
    let now = unix_now();
    for (name, metadata) in listed {
        let Some(mark) = metadata.get(UPLOAD_STARTED_METADATA) else {
            continue;
        };
        // An unreadable mark was not written by this CPI: leave the blob alone.
        let Ok(started) = mark.trim().parse::<u64>() else {
            continue;
        };
        let age = now.saturating_sub(started);
        if age <= max_age {
            continue;
        }
        match blobs.delete_blob(STEMCELL_CONTAINER, &name).await {
            Ok(_) => tracing::info!(
                blob = %format!("{STEMCELL_CONTAINER}/{name}"),
                account = blobs.account_name(),
                upload_started_secs_ago = age,
                max_upload_secs = max_age,
                "deleted the partial blob of a stemcell upload that was killed (it started longer ago than create_stemcell may run)"
            ),
            Err(e) => tracing::warn!(
                blob = %format!("{STEMCELL_CONTAINER}/{name}"),
                error = %e,
                "cannot delete the partial blob of a killed stemcell upload"
            ),
        }
    }
}
