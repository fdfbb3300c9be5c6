//! Stemcell blobs in the `stemcell` container of the default storage account: the heavy
//! stemcell's page blob (`bosh-stemcell-<uuid>.vhd`, its metadata the stemcell's properties,
//! as the Ruby CPI writes them), the small record blobs of light stemcells and of gallery
//! stemcells that reuse a version, the partial blobs of killed uploads, and copies of a blob in
//! other regions.

mod abandoned_uploads;
mod copy;

use std::collections::HashMap;
use std::path::Path;

pub(crate) use abandoned_uploads::{max_upload_age, remove_abandoned_uploads};
pub(crate) use copy::stemcell_blob_in;

use super::Azure;
use crate::azure::compute::image::StemcellInfo;
use crate::azure::storage::blob::{BlobService, BlobServiceOptions};
use crate::cid::{STEMCELL_PREFIX, StemcellCid};
use crate::error::{CpiError, CpiResult};
use crate::stemcell::{UploadOptions, UploadReport, upload_stemcell_vhd};

/// The blob container of stemcells.
pub(crate) const CONTAINER: &str = "stemcell";

/// The default account's blob service, with the stemcell container created when missing and
/// the blobs of killed uploads removed.
pub(crate) async fn prepared_default(azure: &Azure<'_>) -> CpiResult<BlobService> {
    let blobs = azure.default_blobs().await?;
    blobs.ensure_container(CONTAINER).await?;
    remove_abandoned_uploads(azure, Some(&blobs)).await;
    Ok(blobs)
}

/// Streams the image's root.vhd into `stemcell/<cid>.vhd` with `metadata`, stopping at the
/// call's deadline (so an upload mark older than the create_stemcell timeout belongs to a
/// killed process: see `abandoned_uploads`).
pub(crate) async fn upload_vhd(
    azure: &Azure<'_>,
    image_path: &Path,
    blobs: &BlobService,
    cid: &StemcellCid,
    metadata: &HashMap<String, String>,
) -> CpiResult<()> {
    let blob = cid.blob_name();
    let options = upload_options(azure);
    let upload = upload_stemcell_vhd(image_path, blobs, CONTAINER, &blob, metadata, &options);
    let Ok(uploaded) = tokio::time::timeout(azure.deadline.remaining(), upload).await else {
        delete_quietly(blobs, cid, "partial stemcell blob").await;
        return Err(CpiError::cloud(upload_timed_out(cid)));
    };
    log_uploaded(cid, &uploaded?, "its blob");
    Ok(())
}

/// Why an upload stopped at the call's deadline.
pub(crate) fn upload_timed_out(cid: &StemcellCid) -> String {
    format!(
        "The upload of stemcell '{cid}' did not finish within the create_stemcell timeout (azure.method_timeouts.create_stemcell)"
    )
}

/// Logs a finished upload of the stemcell's VHD to `target`.
pub(crate) fn log_uploaded(cid: &StemcellCid, report: &UploadReport, target: &str) {
    tracing::info!(
        stemcell = %cid,
        to = target,
        vhd_bytes = report.vhd_size,
        uploaded_bytes = report.bytes_uploaded,
        put_page_calls = report.ranges,
        seconds = report.duration.as_secs_f64(),
        "stemcell uploaded"
    );
}

/// How a stemcell VHD is streamed: the configured parallelism and zero gaps, retrying throttled
/// calls until the call's deadline.
pub(crate) fn upload_options(azure: &Azure<'_>) -> UploadOptions {
    UploadOptions {
        parallelism: azure.config.parallel_upload_thread_num,
        max_zero_gap_bytes: azure.config.stemcell_upload_max_zero_gap_bytes,
        deadline: Some(azure.deadline.instant()),
    }
}

/// Deletes the CID's blob after a failure; a failure to delete is only logged, since the
/// original error is what the Director must see.
pub(crate) async fn delete_quietly(blobs: &BlobService, cid: &StemcellCid, what: &str) {
    if let Err(e) = blobs.delete_blob(CONTAINER, &cid.blob_name()).await {
        tracing::warn!(stemcell = %cid, error = %e, "cannot delete the {what}");
    }
}

/// Deletes the CID's blob from every storage account of the default resource group, as the Ruby
/// CPI cleans up (stemcells uploaded by older releases may sit in any of them).
pub(crate) async fn delete_in_every_account(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<()> {
    let blob = cid.blob_name();
    for account in azure.storage.list(azure.deadline).await? {
        let access = azure.storage.access(&account.name, azure.deadline).await?;
        let blobs = BlobService::new(&access, BlobServiceOptions::on_stack_of(&azure.arm))?;
        if blobs.delete_blob(CONTAINER, &blob).await? {
            tracing::info!(stemcell = %cid, account = %account.name, "stemcell blob deleted");
        }
    }
    Ok(())
}

/// The name of the stemcell blob `uri` addresses in `blobs`' account, or None for a blob
/// elsewhere (another account or container, not a heavy stemcell's blob).
/// Host names compare without case; container and blob names are case-sensitive.
pub(crate) fn blob_of_uri(blobs: &BlobService, uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    if url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    let name = url.path_segments()?.next_back()?;
    if !name.starts_with(STEMCELL_PREFIX) {
        return None;
    }
    let own = blobs.blob_url(CONTAINER, name);
    let same = own.scheme() == url.scheme()
        && own
            .host_str()
            .zip(url.host_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && own.port_or_known_default() == url.port_or_known_default()
        && own.path() == url.path();
    same.then(|| name.to_owned())
}

/// The stemcell's blob as create_vm reads it.
pub(crate) struct StemcellBlob {
    pub info: StemcellInfo,
    /// Bytes of the blob: a VHD, or a 1 KiB record of metadata only.
    pub content_length: u64,
}

/// The Director's error for a stemcell CID without a blob.
pub(crate) fn missing(cid: &StemcellCid) -> CpiError {
    CpiError::vm_creation_failed(format!("Given stemcell '{cid}' does not exist"), false)
}

/// The stemcell blob's metadata and size in the default storage account.
pub(crate) async fn read(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<StemcellBlob> {
    let blobs = azure.default_blobs().await?;
    let blob = cid.blob_name();
    let properties = blobs
        .get_properties(CONTAINER, &blob)
        .await?
        .ok_or_else(|| missing(cid))?;
    Ok(StemcellBlob {
        info: StemcellInfo::new(
            blobs.blob_url(CONTAINER, &blob).to_string(),
            properties.metadata.into_iter().collect(),
        )?,
        content_length: properties.content_length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::storage::StorageAccess;
    use crate::azure::storage::blob::BlobServiceOptions;

    fn service() -> BlobService {
        let access = StorageAccess {
            account_name: "acct".into(),
            blob_endpoint: url::Url::parse("https://acct.blob.core.windows.net/").unwrap(),
            auth: crate::azure::storage::StorageAuth::SharedKey("a2V5".to_string().into()),
        };
        BlobService::new(&access, BlobServiceOptions::default()).unwrap()
    }

    #[test]
    fn a_version_source_is_recognised_only_as_a_stemcell_blob_of_this_account() {
        let blobs = service();
        let name = "bosh-stemcell-1f0e.vhd";
        let own = format!("https://acct.blob.core.windows.net/stemcell/{name}");
        assert_eq!(blob_of_uri(&blobs, &own).as_deref(), Some(name));
        let host_in_capitals = own.replace("acct.blob", "ACCT.blob");
        assert_eq!(
            blob_of_uri(&blobs, &host_in_capitals).as_deref(),
            Some(name)
        );
        for other in [
            format!("https://other.blob.core.windows.net/stemcell/{name}"),
            format!("https://acct.blob.core.windows.net/vhds/{name}"),
            "https://acct.blob.core.windows.net/stemcell/bosh-light-stemcell-1.vhd".to_owned(),
            format!("{own}?sv=1"),
            own.replace("/stemcell/", "/Stemcell/"),
            String::new(),
        ] {
            assert_eq!(blob_of_uri(&blobs, &other), None, "{other}");
        }
    }
}
