//! `has_vm`: one GET. A VM being deleted counts as gone, as in the Ruby CPI.

use serde_json::Value;

use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::services::{Azure, vms};

pub(super) async fn has_vm(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Value> {
    let exists = vms::get(azure, vm)
        .await?
        .is_some_and(|vm| !vm.is_deleting());
    Ok(Value::Bool(exists))
}
