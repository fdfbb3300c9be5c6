//! `has_disk`: managed disks by GET. Legacy unmanaged (blob) disks are not handled yet.

use serde_json::Value;

use super::azure::Azure;
use crate::cid::DiskCid;
use crate::error::{CpiError, CpiResult};

pub async fn has_disk(azure: &Azure<'_>, disk: &DiskCid) -> CpiResult<Value> {
    let found = azure
        .managed_disk(disk.resource_group_name(), disk.disk_name())
        .await?
        .is_some();
    if found || disk.has_managed_name() {
        return Ok(Value::Bool(found));
    }
    Err(legacy_blob_disk(disk))
}

/// A `bosh-data-*` disk that never became a managed disk lives in a storage account blob.
pub fn legacy_blob_disk(disk: &DiskCid) -> CpiError {
    CpiError::cloud(format!(
        "Disk '{disk}' is a legacy unmanaged (blob) disk; bosh-azure-cpi does not handle unmanaged disks yet"
    ))
}
