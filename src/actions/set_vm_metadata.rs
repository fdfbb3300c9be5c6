//! `set_vm_metadata`: merges the metadata into the VM's tags (values as strings, `user-agent:
//! bosh` kept) with a PATCH that carries only tags, guarded by the VM's ETag so a concurrent
//! attach or detach keeps its `disk-id-*` tag.

use serde_json::{Map, Value};

use crate::azure::compute::vm::metadata_patch;
use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::services::{Azure, vms};

pub(super) async fn set_vm_metadata(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    metadata: &Map<String, Value>,
) -> CpiResult<Value> {
    vms::update(azure, vm_cid, None, |vm| {
        Ok((Some(metadata_patch(vm, metadata)), ()))
    })
    .await?;
    Ok(Value::Null)
}
