//! `has_disk`: a managed disk of the CID's name first. A legacy `bosh-data-*` name without one
//! is an unmanaged disk: it exists while its blob does, unless the blob is marked migrated
//! (its managed copy was the disk, and that is gone), as in the Ruby CPI.

use serde_json::Value;

use crate::azure::storage::blob_disk::{DISK_CONTAINER, is_migrated, vhd_blob_name};
use crate::cid::DiskCid;
use crate::error::CpiResult;
use crate::services::{Azure, disks};

pub(super) async fn has_disk(azure: &Azure<'_>, disk: &DiskCid) -> CpiResult<Value> {
    let found = disks::get(azure, disk.resource_group_name(), disk.disk_name())
        .await?
        .is_some();
    if found || disk.has_managed_name() {
        return Ok(Value::Bool(found));
    }
    let Some(account) = azure
        .storage
        .blob_disk_account(disk.storage_account_name()?, azure.deadline)
        .await?
    else {
        return Ok(Value::Bool(false));
    };
    let blob = account
        .blobs
        .get_properties(DISK_CONTAINER, &vhd_blob_name(disk.disk_name()))
        .await?;
    Ok(Value::Bool(blob.is_some_and(|b| !is_migrated(&b.metadata))))
}
