//! `delete_vm`: the VM, then its NICs, its dynamic public IP (named like the VM), its OS and
//! ephemeral disks (named after the VM), and its availability set when no VM is left in it.
//! Persistent disks are never touched. A VM that is already gone is not an error; any failed
//! deletion is, and a retry converges: everything but the VM is found by name, not through
//! the VM.
//!
//! A legacy VM with unmanaged disks (its CID names a storage account) keeps its OS and
//! ephemeral disks as blobs `bosh/bosh-os-<vm>[-ephemeral-disk].vhd` in that account, next to
//! the boot status blobs `bosh/<vm>*status`; those blobs go instead of managed disks. As in
//! the Ruby CPI, a status blob that cannot be deleted is only logged.

use futures::future::try_join_all;
use serde_json::Value;

use crate::azure::network::interface::availability_set_from_nics;
use crate::azure::storage::blob_disk::{DISK_CONTAINER, vhd_blob_name};
use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::locks::LockDir;
use crate::services::{Azure, availability_sets, disks, nics, public_ips, vms};

pub(super) async fn delete_vm(azure: &Azure<'_>, vm_cid: &VmCid) -> CpiResult<Value> {
    let locks = LockDir::default();
    let vm = vms::get(azure, vm_cid).await?;

    if let Some(vm) = &vm {
        // Shared: a create_vm joining the same set may run, but not a set deletion.
        let _lock = match vm.availability_set_name() {
            Some(name) => Some(availability_sets::lock_shared(azure, &locks, name).await?),
            None => None,
        };
        vms::delete(azure, vm_cid).await?;
    }

    let listing = nics::list(azure, vm_cid.resource_group_name()).await?;
    let (own_nics, nic_paths) = nics::of_vm(azure, vm_cid, &listing, vm.as_ref())?;
    // Once the VM is gone, only its primary NIC still tells which set it was in.
    let availability_set = match &vm {
        Some(vm) => vm.availability_set_name().map(str::to_owned),
        None => availability_set_from_nics(&own_nics).map(str::to_owned),
    };

    let nics = async {
        nics::delete_all(azure, &nic_paths).await?;
        // The public IP can go only after the NIC that used it.
        public_ips::delete_dynamic_of(azure, vm_cid).await
    };
    let disks = async {
        match vm_cid.storage_account_name() {
            None => disks::delete_vm_disks(azure, vm_cid).await,
            Some(account) => delete_disk_blobs(azure, vm_cid, account).await,
        }
    };
    let (nics, disks) = futures::join!(nics, disks);
    nics?;
    disks?;

    if let Some(name) = &availability_set {
        let path = availability_sets::path(azure, vm_cid.resource_group_name(), name);
        availability_sets::delete_if_empty(azure, &path, &locks).await?;
    }
    Ok(Value::Null)
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
