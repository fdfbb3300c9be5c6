//! `delete_vm`: the VM, then its NICs (by their deterministic names `<vm>-<i>`, stopping at
//! the first missing index, plus any other NIC the VM references), its dynamic public IP
//! (named like the VM), its OS and ephemeral disks, and its availability set when no VM is
//! left in it. Persistent disks are never touched. A VM that is already gone is not an error;
//! any failed deletion is.
//!
//! A legacy VM with unmanaged disks (its CID names a storage account) keeps its OS and
//! ephemeral disks as blobs `bosh/bosh-os-<vm>[-ephemeral-disk].vhd` in that account, next to
//! the boot status blobs `bosh/<vm>*status`; those blobs go instead of managed disks. As in
//! the Ruby CPI, a status blob that cannot be deleted is only logged.

use futures::future::try_join_all;
use serde_json::Value;

use super::azure::Azure;
use super::create_vm::{availability_set_of, delete_empty_availability_set};
use crate::azure::compute::vm::VirtualMachine;
use crate::azure::network::interface::{
    NIC_RESERVED_ERROR_CODE, NIC_RESERVED_MAX_ATTEMPTS, NIC_RESERVED_RETRY_DELAY, NetworkInterface,
};
use crate::azure::network::public_ip::dynamic_public_ip_name;
use crate::azure::storage::blob_disk::{DISK_CONTAINER, vhd_blob_name};
use crate::azure::{ApiKind, Deleted, ResourcePath};
use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::locks::{LockDir, LockMode};

pub async fn delete_vm(azure: &Azure<'_>, vm_cid: &VmCid) -> CpiResult<Value> {
    let locks = LockDir::default();
    let vm: Option<VirtualMachine> = azure.vm(vm_cid).await?;
    let network = azure
        .arm
        .resource_group_path(vm_cid.resource_group_name())
        .provider("Microsoft.Network");
    let nic_path = |name: &str| network.clone().child("networkInterfaces", name);

    // Once the VM is gone, only its primary NIC still tells which set it was in.
    let availability_set = match &vm {
        Some(vm) => vm.availability_set_name().map(str::to_owned),
        None => azure
            .get::<NetworkInterface>(&nic_path(&vm_cid.nic_name(0)), ApiKind::Network)
            .await?
            .and_then(|nic| nic.availability_set_tag().map(str::to_owned)),
    };

    if vm.is_some() {
        // Shared: a create_vm joining the same set may run, but not a set deletion.
        let _lock = match &availability_set {
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

    let nics = async {
        delete_nics(azure, vm_cid, vm.as_ref(), &nic_path).await?;
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

/// Deletes `<vm>-0`, `<vm>-1`, ... until one is missing, plus any other NIC the VM still
/// names (legacy VMs whose NICs do not follow the pattern): no resource-group listing.
async fn delete_nics(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    vm: Option<&VirtualMachine>,
    nic_path: &impl Fn(&str) -> ResourcePath,
) -> CpiResult<()> {
    let mut deleted = Vec::new();
    for index in 0.. {
        let name = vm_cid.nic_name(index);
        match delete_nic(azure, &nic_path(&name)).await? {
            Deleted::Deleted => deleted.push(name.to_ascii_lowercase()),
            Deleted::NotFound => break,
        }
    }
    let mut others: Vec<ResourcePath> = Vec::new();
    if let Some(vm) = vm {
        for id in vm.network_interface_ids() {
            let path = ResourcePath::parse_id(id)?;
            if !deleted.contains(&path.name().to_ascii_lowercase()) {
                others.push(path);
            }
        }
    }
    try_join_all(others.iter().map(|path| delete_nic(azure, path))).await?;
    Ok(())
}

/// Deletes a NIC. Azure keeps a NIC reserved for a while after a VM that used it failed or was
/// deleted (`NicReservedForAnotherVm`); the delete is retried then, as the Ruby CPI does,
/// within the call's deadline.
pub async fn delete_nic(azure: &Azure<'_>, path: &ResourcePath) -> CpiResult<Deleted> {
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
