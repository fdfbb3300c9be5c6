//! `get_disks`: the persistent disk CIDs recorded on the VM (its `disk-id-<name>` tags), the
//! ephemeral disk left out.

use serde_json::Value;

use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::services::{Azure, vms};

pub(super) async fn get_disks(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Value> {
    let vm = vms::existing(azure, vm).await?;
    Ok(Value::from(vm.bosh_disk_ids()))
}
