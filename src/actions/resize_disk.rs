//! `resize_disk`: grows a managed disk to ceil(MiB / 1024) GiB with a PATCH; the same size is a
//! no-op; shrinking is `NotSupported` (the Director then copies the data to a new disk). A
//! legacy unmanaged (blob) disk is `NotSupported` too, as in the Ruby CPI.

use serde_json::Value;

use crate::azure::compute::disk::{ResizePlan, plan_resize, resize_disk_body};
use crate::cid::DiskCid;
use crate::error::{CpiError, CpiResult};
use crate::services::{Azure, disks};

pub(super) async fn resize_disk(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    new_size_mib: u64,
) -> CpiResult<Value> {
    let found = disks::get(azure, disk_cid.resource_group_name(), disk_cid.disk_name()).await?;
    let disk = match found {
        Some(disk) => disk,
        None if !disk_cid.has_managed_name() => {
            return Err(CpiError::not_supported(format!(
                "Disk '{disk_cid}' is an unmanaged (blob) disk, which cannot be resized natively"
            )));
        }
        None => return Err(disks::not_found(disk_cid)),
    };
    if let ResizePlan::Grow(size_gib) = plan_resize(&disk, new_size_mib)? {
        let path = disks::path(azure, disk_cid.resource_group_name(), disk_cid.disk_name());
        disks::patch(azure, &path, &resize_disk_body(size_gib)).await?;
    }
    Ok(Value::Null)
}
