//! `delete_disk`: DELETE the managed disk; a disk already gone is not an error.

use serde_json::Value;

use super::azure::Azure;
use super::has_disk::legacy_blob_disk;
use crate::azure::{ApiKind, Deleted};
use crate::cid::DiskCid;
use crate::error::CpiResult;

pub async fn delete_disk(azure: &Azure<'_>, disk: &DiskCid) -> CpiResult<Value> {
    let path = azure.disk_path(disk.resource_group_name(), disk.disk_name());
    let deleted = azure
        .arm
        .delete(&path, ApiKind::Disks, azure.deadline)
        .await?;
    if deleted == Deleted::NotFound && !disk.has_managed_name() {
        // A `bosh-data-*` name that is not a managed disk may still be a blob.
        return Err(legacy_blob_disk(disk));
    }
    Ok(Value::Null)
}
