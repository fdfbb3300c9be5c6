//! `snapshot_disk`: a full managed snapshot `bosh-disk-data-<uuid>` in the disk's resource group
//! and location, tagged with the metadata and `original: <disk name>`. The CID has the Ruby
//! format `caching:<c>;disk_name:bosh-disk-data-<uuid>;resource_group_name:<rg>`.
//!
//! A legacy `bosh-data-*` disk that is a managed disk (imported from its blob) is snapshotted
//! the same way; one that is still a blob gets a blob snapshot carrying the metadata, with the
//! Ruby CID `caching:<c>;disk_name:<disk name>--<snapshot time>;storage_account_name:<sa>`.

use serde_json::{Map, Value};

use crate::azure::compute::snapshot::{snapshot_body, snapshot_tags};
use crate::azure::storage::blob_disk::{DISK_CONTAINER, snapshot_metadata, vhd_blob_name};
use crate::cid::{DiskCid, SnapshotCid};
use crate::error::CpiResult;
use crate::services::{Azure, disks, snapshots};

pub(super) async fn snapshot_disk(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    metadata: &Map<String, Value>,
) -> CpiResult<Value> {
    let caching = disk_cid.caching()?;
    let resource_group = disk_cid.resource_group_name();
    let disk = disks::get(azure, resource_group, disk_cid.disk_name()).await?;
    let Some(disk) = disk else {
        if disk_cid.has_managed_name() {
            return Err(disks::not_found(disk_cid));
        }
        return snapshot_blob_disk(azure, disk_cid, metadata).await;
    };
    let snapshot = SnapshotCid::new_managed(caching, resource_group)?;
    let body = snapshot_body(
        &disk.location,
        &disk.id,
        &snapshot_tags(metadata, &disk.name),
    );
    let path = snapshots::path(azure, resource_group, snapshot.snapshot_name());
    snapshots::put(azure, &path, &body).await?;
    Ok(Value::String(snapshot.to_string()))
}

async fn snapshot_blob_disk(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    metadata: &Map<String, Value>,
) -> CpiResult<Value> {
    let account_name = disk_cid.storage_account_name()?;
    let Some(account) = azure
        .storage
        .blob_disk_account(account_name, azure.deadline)
        .await?
    else {
        return Err(disks::not_found(disk_cid));
    };
    let snapshot_time = account
        .blobs
        .create_snapshot(
            DISK_CONTAINER,
            &vhd_blob_name(disk_cid.disk_name()),
            &snapshot_metadata(metadata),
        )
        .await?
        .ok_or_else(|| disks::not_found(disk_cid))?;
    let snapshot = SnapshotCid::new_unmanaged(
        disk_cid.caching()?,
        disk_cid.disk_name(),
        &snapshot_time,
        account_name,
        disk_cid.resource_group_name(),
    )?;
    Ok(Value::String(snapshot.to_string()))
}
