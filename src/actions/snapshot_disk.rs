//! `snapshot_disk`: a full managed snapshot `bosh-disk-data-<uuid>` in the disk's resource group
//! and location, tagged with the metadata and `original: <disk name>`. The CID has the Ruby
//! format `caching:<c>;disk_name:bosh-disk-data-<uuid>;resource_group_name:<rg>`. Snapshots of
//! legacy unmanaged (blob) disks need the blob layer and answer a CloudError for now.

use serde_json::{Map, Value};

use super::azure::Azure;
use crate::azure::ApiKind;
use crate::azure::compute::snapshot::{snapshot_body, snapshot_tags};
use crate::cid::{DiskCid, SnapshotCid};
use crate::error::CpiResult;

pub async fn snapshot_disk(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    metadata: &Map<String, Value>,
) -> CpiResult<Value> {
    let caching = disk_cid.caching()?;
    let disk = azure.existing_disk(disk_cid).await?;
    let resource_group = disk_cid.resource_group_name();
    let snapshot = SnapshotCid::new_managed(caching, resource_group)?;
    let body = snapshot_body(
        &disk.location,
        &disk.id,
        &snapshot_tags(metadata, &disk.name),
    );
    azure
        .arm
        .put::<_, Value>(
            &azure.snapshot_path(resource_group, snapshot.snapshot_name()),
            ApiKind::Snapshots,
            &body,
            azure.deadline,
        )
        .await?;
    Ok(Value::String(snapshot.to_string()))
}
