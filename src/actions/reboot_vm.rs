//! `reboot_vm`: POST restart. A missing VM is `VMNotFound` (the Ruby CPI answered a generic
//! Azure error there).

use serde_json::Value;

use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::services::{Azure, vms};

pub(super) async fn reboot_vm(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Value> {
    match vms::restart(azure, vm).await {
        Ok(()) => Ok(Value::Null),
        Err(e) if e.is_not_found() => Err(vms::not_found(vm)),
        Err(e) => Err(e.into()),
    }
}
