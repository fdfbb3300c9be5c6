//! Virtual machines: their path, reads, changes under the ETag and deletion.

use serde_json::Value;

use super::Azure;
use crate::azure::arm::Write;
use crate::azure::compute::vm::{VirtualMachine, VmSpec, vm_body};
use crate::azure::{ApiKind, Deleted, Error as AzureError, PostSafety, ResourcePath};
use crate::cid::VmCid;
use crate::error::{CpiError, CpiResult};

pub(crate) fn path(azure: &Azure<'_>, vm: &VmCid) -> ResourcePath {
    azure.compute_path(vm.resource_group_name(), "virtualMachines", vm.vm_name())
}

pub(crate) async fn get(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Option<VirtualMachine>> {
    azure.get(&path(azure, vm), ApiKind::Compute).await
}

/// The Director's `VMNotFound` (which delete_vm and cck understand).
pub(crate) fn not_found(vm: &VmCid) -> CpiError {
    CpiError::VmNotFound(format!("VM '{vm}' cannot be found"))
}

/// The VM, or `VMNotFound`.
pub(crate) async fn existing(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<VirtualMachine> {
    get(azure, vm).await?.ok_or_else(|| not_found(vm))
}

/// Read-modify-write of a VM without lost updates: `change` computes a PATCH from what was read
/// (`None`: nothing to write), sent under the read's ETag; a VM changed in between is read
/// again. `read` saves the first GET when the caller has just read the VM. A missing VM is
/// `VMNotFound`. Returns what `change` returned for the VM it wrote.
pub(crate) async fn update<R>(
    azure: &Azure<'_>,
    vm: &VmCid,
    read: Option<VirtualMachine>,
    mut change: impl FnMut(&VirtualMachine) -> CpiResult<(Option<Value>, R)>,
) -> CpiResult<R> {
    azure
        .arm
        .read_modify_write(
            &path(azure, vm),
            ApiKind::Compute,
            azure.deadline,
            read,
            |read| {
                let (patch, outcome) = change(read)?;
                CpiResult::Ok((patch.map(Write::Patch), outcome))
            },
        )
        .await?
        .ok_or_else(|| not_found(vm))
}

/// The VM PUT, waiting until Azure has provisioned it. Answers Azure's own error, whose code
/// tells capacity refusals from the rest.
pub(crate) async fn create(azure: &Azure<'_>, vm: &VmCid, spec: &VmSpec) -> Result<(), AzureError> {
    azure
        .arm
        .put::<_, Value>(
            &path(azure, vm),
            ApiKind::Compute,
            &vm_body(spec),
            azure.deadline,
        )
        .await
        .map(drop)
}

/// Deletes the VM (its NICs and disks stay: see [`super::nics`], [`super::disks`]).
pub(crate) async fn delete(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<Deleted> {
    Ok(azure
        .arm
        .delete(&path(azure, vm), ApiKind::Compute, azure.deadline)
        .await?)
}

/// Restarts the VM, waiting until Azure has done it.
pub(crate) async fn restart(azure: &Azure<'_>, vm: &VmCid) -> Result<(), AzureError> {
    azure
        .arm
        .post::<Value>(
            &path(azure, vm).segment("restart"),
            ApiKind::Compute,
            None,
            PostSafety::Idempotent,
            azure.deadline,
        )
        .await
        .map(drop)
}
