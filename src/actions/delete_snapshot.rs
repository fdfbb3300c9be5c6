//! `delete_snapshot`: DELETE the managed snapshot, or, for a legacy `<disk>--<time>` CID, the
//! blob snapshot of the unmanaged disk. One already gone (or whose storage account is gone) is
//! not an error.

use serde_json::Value;

use crate::azure::storage::blob_disk::{DISK_CONTAINER, vhd_blob_name};
use crate::cid::SnapshotCid;
use crate::error::CpiResult;
use crate::services::{Azure, snapshots};

pub(super) async fn delete_snapshot(azure: &Azure<'_>, snapshot: &SnapshotCid) -> CpiResult<Value> {
    if !snapshot.is_managed() {
        let (disk_name, snapshot_time) = snapshot.blob_snapshot()?;
        let account = azure
            .storage
            .blob_disk_account(snapshot.storage_account_name()?, azure.deadline)
            .await?;
        if let Some(account) = account {
            let blob = vhd_blob_name(disk_name);
            if !account
                .blobs
                .delete_snapshot(DISK_CONTAINER, &blob, snapshot_time)
                .await?
            {
                tracing::info!(snapshot = %snapshot, "the blob snapshot was already gone");
            }
        }
        return Ok(Value::Null);
    }
    let path = snapshots::path(
        azure,
        snapshot.resource_group_name(),
        snapshot.snapshot_name(),
    );
    snapshots::delete(azure, &path).await?;
    Ok(Value::Null)
}
