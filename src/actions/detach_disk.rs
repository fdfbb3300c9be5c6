//! `detach_disk`: removes the data disk and its `disk-id-<name>` tag from the VM in one PATCH
//! guarded by the VM's ETag. A disk that is not attached is `DiskNotAttached` (ok_to_retry), which
//! the Director swallows; a missing VM is `VMNotFound`.

use serde_json::Value;

use crate::azure::compute::vm::detach_disk_patch;
use crate::cid::{DiskCid, VmCid};
use crate::error::CpiResult;
use crate::services::{Azure, vms};

pub(super) async fn detach_disk(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    disk_cid: &DiskCid,
) -> CpiResult<Value> {
    let disk_name = disk_cid.disk_name();
    let mut sent = false;
    vms::update(azure, vm_cid, None, |vm| {
        // Gone after a PATCH of ours was refused: ours landed before its answer was lost,
        // or another writer detached it. Either way the disk is detached.
        if sent && vm.data_disk(disk_name).is_none() {
            return Ok((None, ()));
        }
        sent = true;
        Ok((Some(detach_disk_patch(vm, disk_name)?), ()))
    })
    .await?;
    Ok(Value::Null)
}
