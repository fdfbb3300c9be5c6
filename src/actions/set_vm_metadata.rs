//! `set_vm_metadata`: merges the metadata into the VM's tags (values as strings, `user-agent:
//! bosh` kept) with a PATCH that carries only tags.

use serde_json::{Map, Value};

use super::azure::Azure;
use crate::azure::ApiKind;
use crate::azure::compute::vm::metadata_patch;
use crate::cid::VmCid;
use crate::error::CpiResult;

pub async fn set_vm_metadata(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    metadata: &Map<String, Value>,
) -> CpiResult<Value> {
    let vm = azure.existing_vm(vm_cid).await?;
    let body = metadata_patch(&vm, metadata);
    azure
        .arm
        .patch::<_, Value>(
            &azure.vm_path(vm_cid),
            ApiKind::Compute,
            &body,
            azure.deadline,
        )
        .await?;
    Ok(Value::Null)
}
