//! A heavy stemcell for a VM in another region than the default storage account (managed
//! disks, no gallery): a user image can only be made from a blob in its own region, so the
//! stemcell blob is first copied, server side, into the account tagged `type: stemcell` in the
//! VM's location (created when missing), as the Ruby CPI does. The copy runs once per stemcell
//! and account under the lock `copy-stemcell-<cid>-<account>`; a later VM finds it done.

use super::CONTAINER as STEMCELL_CONTAINER;
use crate::azure::storage::blob::{BlobService, BlobServiceOptions, CopyPolling, CopyState};
use crate::cid::StemcellCid;
use crate::error::CpiResult;
use crate::locks::{LockDir, LockMode};
use crate::services::Azure;
use crate::services::storage_accounts;

/// The `type` tag of stemcell copy accounts.
const PURPOSE: &str = "stemcell";

/// The URL (no SAS) of the stemcell's blob in the stemcell account of `location`, copied there
/// from the default account when it is not there yet.
pub(crate) async fn stemcell_blob_in(
    azure: &Azure<'_>,
    cid: &StemcellCid,
    location: &str,
    locks: &LockDir,
) -> CpiResult<String> {
    let account = storage_accounts::find_or_create_tagged(azure, location, PURPOSE, locks).await?;
    let access = azure.storage.access_of(&account, azure.deadline).await?;
    let target = BlobService::new(&access, BlobServiceOptions::on_stack_of(&azure.arm))?;
    let blob = cid.blob_name();
    let url = target.blob_url(STEMCELL_CONTAINER, &blob).to_string();

    let _lock = locks
        .lock(
            &format!("copy-stemcell-{}-{}", cid.as_str(), account.name),
            LockMode::Exclusive,
            azure.deadline.instant(),
        )
        .await?;
    match target.copy_state(STEMCELL_CONTAINER, &blob).await? {
        Some(CopyState::Success) => return Ok(url),
        // No copy record: a blob put there otherwise (e.g. uploaded by hand) is used as is.
        None if target.exists(STEMCELL_CONTAINER, &blob).await? => return Ok(url),
        // Pending under our lock: a CPI died while waiting, and the service copies on.
        Some(CopyState::Pending { .. }) => {
            target
                .wait_for_copy(
                    STEMCELL_CONTAINER,
                    &blob,
                    CopyPolling::default(),
                    azure.deadline,
                )
                .await?;
            return Ok(url);
        }
        // A failed copy is overwritten by a new one.
        _ => {}
    }
    target.ensure_container(STEMCELL_CONTAINER).await?;
    let source = azure.default_blobs().await?;
    let source_url = source
        .read_sas_url(STEMCELL_CONTAINER, &blob, azure.deadline.remaining())
        .await?;
    tracing::info!(
        stemcell = cid.as_str(),
        from = source.account_name(),
        to = %account.name,
        location,
        "copying the stemcell into the VM's region"
    );
    target
        .copy_and_wait(
            STEMCELL_CONTAINER,
            &blob,
            &source_url,
            CopyPolling::default(),
            azure.deadline,
        )
        .await?;
    Ok(url)
}
