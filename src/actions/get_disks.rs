//! `get_disks`: the persistent disk CIDs recorded on the VM (its `disk-id-<name>` tags), the
//! ephemeral disk left out.

use serde_json::Value;

use super::azure::Azure;
use crate::cid::VmCid;
use crate::error::CpiResult;

pub(super) async fn get_disks(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Value> {
    let vm = azure.existing_vm(vm).await?;
    Ok(Value::from(vm.bosh_disk_ids()))
}
