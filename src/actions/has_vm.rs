//! `has_vm`: one GET. A VM being deleted counts as gone, as in the Ruby CPI.

use serde_json::Value;

use super::azure::Azure;
use crate::cid::VmCid;
use crate::error::CpiResult;

pub(super) async fn has_vm(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Value> {
    let exists = azure.vm(vm).await?.is_some_and(|vm| !vm.is_deleting());
    Ok(Value::Bool(exists))
}
