//! `delete_disk`: DELETE the managed disk; a disk already gone is not an error. A legacy
//! `bosh-data-*` name without a managed disk is an unmanaged disk: its blob (with its blob
//! snapshots, as in the Ruby CPI) is deleted instead. A migrated blob disk is deleted as its
//! managed copy; the blob, marked migrated, stays for the operator (Ruby's behaviour).

use serde_json::Value;

use crate::azure::Deleted;
use crate::azure::storage::blob_disk::{DISK_CONTAINER, vhd_blob_name};
use crate::cid::DiskCid;
use crate::error::CpiResult;
use crate::services::{Azure, disks};

pub(super) async fn delete_disk(azure: &Azure<'_>, disk: &DiskCid) -> CpiResult<Value> {
    let path = disks::path(azure, disk.resource_group_name(), disk.disk_name());
    let deleted = disks::delete(azure, &path).await?;
    if deleted == Deleted::Deleted || disk.has_managed_name() {
        return Ok(Value::Null);
    }
    let account = azure
        .storage
        .blob_disk_account(disk.storage_account_name()?, azure.deadline)
        .await?;
    if let Some(account) = account {
        let blob = vhd_blob_name(disk.disk_name());
        if !account.blobs.delete_blob(DISK_CONTAINER, &blob).await? {
            tracing::info!(disk = %disk, "the disk's blob was already gone");
        }
    }
    Ok(Value::Null)
}
