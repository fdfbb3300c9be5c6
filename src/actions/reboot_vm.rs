//! `reboot_vm`: POST restart. A missing VM is `VMNotFound` (the Ruby CPI answered a generic
//! Azure error there).

use serde_json::Value;

use super::azure::Azure;
use crate::azure::{ApiKind, PostSafety};
use crate::cid::VmCid;
use crate::error::{CpiError, CpiResult};

pub(super) async fn reboot_vm(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Value> {
    let restart = azure.vm_path(vm).segment("restart");
    match azure
        .arm
        .post::<Value>(
            &restart,
            ApiKind::Compute,
            None,
            PostSafety::Idempotent,
            azure.deadline,
        )
        .await
    {
        Ok(_) => Ok(Value::Null),
        Err(e) if e.is_not_found() => {
            Err(CpiError::VmNotFound(format!("VM '{vm}' cannot be found")))
        }
        Err(e) => Err(e.into()),
    }
}
