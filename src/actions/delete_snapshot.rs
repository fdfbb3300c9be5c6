//! `delete_snapshot`: DELETE the managed snapshot; one already gone is not an error. Blob
//! snapshots of legacy unmanaged disks need the blob layer and answer a CloudError for now.

use serde_json::Value;

use super::azure::Azure;
use crate::azure::ApiKind;
use crate::cid::SnapshotCid;
use crate::error::{CpiError, CpiResult};

pub async fn delete_snapshot(azure: &Azure<'_>, snapshot: &SnapshotCid) -> CpiResult<Value> {
    if !snapshot.is_managed() {
        return Err(CpiError::cloud(format!(
            "Snapshot '{snapshot}' is a blob snapshot of a legacy unmanaged disk; bosh-azure-cpi does not handle unmanaged disks yet"
        )));
    }
    let path = azure.snapshot_path(snapshot.resource_group_name(), snapshot.snapshot_name());
    azure
        .arm
        .delete(&path, ApiKind::Snapshots, azure.deadline)
        .await?;
    Ok(Value::Null)
}
