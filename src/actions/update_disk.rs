//! `update_disk`: changes a managed disk in place (size, SKU, IOPS, MBps) with one PATCH of the
//! values that differ. `NotSupported` (the Director then copies the data to a new disk) for an
//! unmanaged disk, a missing disk, a smaller size, a caching change, and SKU conversions Azure
//! refuses.

use serde_json::Value;

use crate::azure::compute::disk::{DiskUpdateRequest, map_update_error, plan_update};
use crate::cid::DiskCid;
use crate::error::{CpiError, CpiResult};
use crate::props::DiskCloudProps;
use crate::services::{Azure, disks};

pub(super) async fn update_disk(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    new_size_mib: u64,
    props: &DiskCloudProps,
) -> CpiResult<Value> {
    let disk = disks::get(azure, disk_cid.resource_group_name(), disk_cid.disk_name()).await?;
    if disk.is_none() && !disk_cid.has_managed_name() {
        return Err(CpiError::not_supported(
            "Native disk update only supported for managed disks",
        ));
    }
    let request = DiskUpdateRequest {
        new_size_mib,
        caching: props.caching,
        storage_account_type: props.storage_account_type.clone(),
        iops: props.iops,
        mbps: props.mbps,
    };
    let Some(patch) = plan_update(
        disk.as_ref(),
        disk_cid.disk_name(),
        disk_cid.caching()?,
        &request,
    )?
    else {
        return Ok(Value::Null);
    };
    let path = disks::path(azure, disk_cid.resource_group_name(), disk_cid.disk_name());
    match disks::patch(azure, &path, &patch.body()).await {
        Ok(_) => Ok(Value::Null),
        Err(e) => Err(map_update_error(&e.to_string()).unwrap_or_else(|| e.into())),
    }
}
