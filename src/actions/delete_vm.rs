//! `delete_vm`: the VM, then its NICs, its dynamic public IP (named like the VM), its OS and
//! ephemeral disks (named after the VM), and its availability set when no VM is left in it.
//! Persistent disks are never touched. A VM that is already gone is not an error; any failed
//! deletion is, and a retry converges: everything but the VM is found by name, not through
//! the VM.
//!
//! The NICs are found as the Ruby CPI finds them, by one listing of the resource group: every
//! NIC named `<vm>-<digits>` (the only names create_vm gives, by either CPI), plus any other
//! NIC the VM still references. Probing `<vm>-0`, `<vm>-1`, ... would stop at the first gap
//! that a half-done earlier delete left, and leak the NICs after it.
//!
//! A legacy VM with unmanaged disks (its CID names a storage account) keeps its OS and
//! ephemeral disks as blobs `bosh/bosh-os-<vm>[-ephemeral-disk].vhd` in that account, next to
//! the boot status blobs `bosh/<vm>*status`; those blobs go instead of managed disks. As in
//! the Ruby CPI, a status blob that cannot be deleted is only logged.

use futures::future::{join_all, try_join_all};
use serde_json::Value;

use super::azure::Azure;
use super::create_vm::{availability_set_of, delete_empty_availability_set};
use crate::azure::compute::vm::VirtualMachine;
use crate::azure::network::interface::{
    NIC_RESERVED_ERROR_CODE, NIC_RESERVED_MAX_ATTEMPTS, NIC_RESERVED_RETRY_DELAY, NetworkInterface,
    availability_set_from_nics, nics_of_vm,
};
use crate::azure::network::public_ip::dynamic_public_ip_name;
use crate::azure::storage::blob_disk::{DISK_CONTAINER, vhd_blob_name};
use crate::azure::{ApiKind, Deleted, ResourcePath};
use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::locks::{LockDir, LockMode};

pub(super) async fn delete_vm(azure: &Azure<'_>, vm_cid: &VmCid) -> CpiResult<Value> {
    let locks = LockDir::default();
    let vm: Option<VirtualMachine> = azure.vm(vm_cid).await?;
    let network = azure
        .arm
        .resource_group_path(vm_cid.resource_group_name())
        .provider("Microsoft.Network");

    if let Some(vm) = &vm {
        // Shared: a create_vm joining the same set may run, but not a set deletion.
        let _lock = match vm.availability_set_name() {
            Some(name) => Some(
                locks
                    .lock(
                        &format!("availability-set-{name}"),
                        LockMode::Shared,
                        azure.deadline.instant(),
                    )
                    .await?,
            ),
            None => None,
        };
        azure
            .arm
            .delete(&azure.vm_path(vm_cid), ApiKind::Compute, azure.deadline)
            .await?;
    }

    let listing = list_nics(azure, &network).await?;
    let own_nics = nics_of_vm(&listing, vm_cid.vm_name());
    // Once the VM is gone, only its primary NIC still tells which set it was in.
    let availability_set = match &vm {
        Some(vm) => vm.availability_set_name().map(str::to_owned),
        None => availability_set_from_nics(&own_nics).map(str::to_owned),
    };
    let nic_paths = nics_to_delete(&network, &own_nics, vm.as_ref())?;

    let nics = async {
        delete_nics(azure, &nic_paths).await?;
        // The public IP can go only after the NIC that used it.
        let pip = network.clone().child(
            "publicIPAddresses",
            &dynamic_public_ip_name(vm_cid.vm_name()),
        );
        azure
            .arm
            .delete(&pip, ApiKind::Network, azure.deadline)
            .await?;
        CpiResult::Ok(())
    };
    let disks = async {
        match vm_cid.storage_account_name() {
            None => delete_managed_disks(azure, vm_cid).await,
            Some(account) => delete_disk_blobs(azure, vm_cid, account).await,
        }
    };
    let (nics, disks) = futures::join!(nics, disks);
    nics?;
    disks?;

    if let Some(name) = &availability_set {
        let path = availability_set_of(azure, vm_cid, name);
        delete_empty_availability_set(azure, name, &path, &locks).await?;
    }
    Ok(Value::Null)
}

async fn delete_managed_disks(azure: &Azure<'_>, vm_cid: &VmCid) -> CpiResult<()> {
    try_join_all(
        [vm_cid.os_disk_name(), vm_cid.ephemeral_disk_name()].map(|name| async move {
            azure
                .arm
                .delete(
                    &azure.disk_path(vm_cid.resource_group_name(), &name),
                    ApiKind::Disks,
                    azure.deadline,
                )
                .await
        }),
    )
    .await?;
    Ok(())
}

/// The unmanaged VM's OS and ephemeral disk blobs and its status blobs, in the storage account
/// its CID names. An account that is gone holds none of them.
async fn delete_disk_blobs(azure: &Azure<'_>, vm_cid: &VmCid, account: &str) -> CpiResult<()> {
    let Some(account) = azure
        .storage
        .blob_disk_account(account, azure.deadline)
        .await?
    else {
        tracing::info!(vm = %vm_cid, account, "the VM's storage account is gone, and its disk blobs with it");
        return Ok(());
    };
    let blobs = &account.blobs;
    let vhds = try_join_all([vm_cid.os_disk_name(), vm_cid.ephemeral_disk_name()].map(
        |disk| async move {
            blobs
                .delete_blob(DISK_CONTAINER, &vhd_blob_name(&disk))
                .await
        },
    ));
    let (vhds, status) = futures::join!(vhds, account.delete_status_blobs(vm_cid.vm_name()));
    vhds?;
    if let Err(e) = status {
        tracing::warn!(vm = %vm_cid, error = %e, "could not delete the VM's status blobs");
    }
    Ok(())
}

/// The resource group's NICs, in one listing; none when the group itself is gone.
async fn list_nics(azure: &Azure<'_>, network: &ResourcePath) -> CpiResult<Vec<NetworkInterface>> {
    let path = network.clone().segment("networkInterfaces");
    match azure
        .arm
        .list::<NetworkInterface>(&path, ApiKind::Network, azure.deadline)
        .await
    {
        Ok(nics) => Ok(nics),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// The VM's own NICs by name, then any other NIC the VM still references (legacy VMs whose
/// NICs do not follow the pattern), each once. Names compare without case, as Azure's do.
fn nics_to_delete(
    network: &ResourcePath,
    own: &[&NetworkInterface],
    vm: Option<&VirtualMachine>,
) -> CpiResult<Vec<ResourcePath>> {
    let mut paths: Vec<ResourcePath> = own
        .iter()
        .map(|nic| network.clone().child("networkInterfaces", &nic.name))
        .collect();
    for id in vm
        .map(VirtualMachine::network_interface_ids)
        .into_iter()
        .flatten()
    {
        let path = ResourcePath::parse_id(id)?;
        if !paths
            .iter()
            .any(|known| known.name().eq_ignore_ascii_case(path.name()))
        {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// Deletes every NIC in `paths`; every deletion runs to its end before the first error is
/// answered, so one NIC that cannot go yet does not leave the others behind.
async fn delete_nics(azure: &Azure<'_>, paths: &[ResourcePath]) -> CpiResult<()> {
    for (path, result) in paths
        .iter()
        .zip(join_all(paths.iter().map(|path| delete_nic(azure, path))).await)
    {
        match result {
            Ok(Deleted::Deleted) => tracing::info!(nic = %path.name(), "deleted NIC"),
            Ok(Deleted::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Deletes a NIC. Azure keeps a NIC reserved for a while after a VM that used it failed or was
/// deleted (`NicReservedForAnotherVm`); the delete is retried then, as the Ruby CPI does,
/// within the call's deadline.
pub(super) async fn delete_nic(azure: &Azure<'_>, path: &ResourcePath) -> CpiResult<Deleted> {
    let mut attempt = 1;
    loop {
        match azure
            .arm
            .delete(path, ApiKind::Network, azure.deadline)
            .await
        {
            Err(e)
                if e.code() == Some(NIC_RESERVED_ERROR_CODE)
                    && attempt < NIC_RESERVED_MAX_ATTEMPTS
                    && NIC_RESERVED_RETRY_DELAY < azure.deadline.remaining() =>
            {
                tracing::info!(nic = %path.name(), attempt, "NIC still reserved; retrying its deletion");
                attempt += 1;
                tokio::time::sleep(NIC_RESERVED_RETRY_DELAY).await;
            }
            result => return Ok(result?),
        }
    }
}
