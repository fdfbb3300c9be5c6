//! Network interfaces: created with the VM, and found and deleted by name after it.
//!
//! A VM's NICs are found as the Ruby CPI finds them, by one listing of the resource group: every
//! NIC named `<vm>-<digits>` (the only names create_vm gives, by either CPI), plus any other NIC
//! the VM still references. Probing `<vm>-0`, `<vm>-1`, ... would stop at the first gap that a
//! half-done earlier delete left, and leak the NICs after it.

use futures::future::{join_all, try_join_all};
use serde_json::Value;

use super::Azure;
use crate::azure::compute::vm::VirtualMachine;
use crate::azure::network::interface::{
    NIC_RESERVED_ERROR_CODE, NIC_RESERVED_MAX_ATTEMPTS, NIC_RESERVED_RETRY_DELAY, NetworkInterface,
    NicCreate, nics_of_vm,
};
use crate::azure::{ApiKind, Deleted, ResourcePath};
use crate::cid::VmCid;
use crate::error::CpiResult;

pub(crate) async fn create(
    azure: &Azure<'_>,
    path: &ResourcePath,
    body: &NicCreate,
) -> CpiResult<()> {
    azure
        .arm
        .put::<_, Value>(path, ApiKind::Network, body, azure.deadline)
        .await?;
    Ok(())
}

/// The resource group's NICs, in one listing; none when the group itself is gone.
pub(crate) async fn list(
    azure: &Azure<'_>,
    resource_group: &str,
) -> CpiResult<Vec<NetworkInterface>> {
    let path = azure
        .network_path(resource_group)
        .segment("networkInterfaces");
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

/// The NICs of a VM: its own by name in `listing`, then any other NIC the VM still references
/// (legacy VMs whose NICs do not follow the pattern), each once. Names compare without case,
/// as Azure's do.
pub(crate) fn of_vm<'a>(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    listing: &'a [NetworkInterface],
    vm: Option<&VirtualMachine>,
) -> CpiResult<(Vec<&'a NetworkInterface>, Vec<ResourcePath>)> {
    let own = nics_of_vm(listing, vm_cid.vm_name());
    let network = azure.network_path(vm_cid.resource_group_name());
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
    Ok((own, paths))
}

/// Deletes every NIC in `paths`; every deletion runs to its end before the first error is
/// answered, so one NIC that cannot go yet does not leave the others behind.
pub(crate) async fn delete_all(azure: &Azure<'_>, paths: &[ResourcePath]) -> CpiResult<()> {
    for (path, result) in paths
        .iter()
        .zip(join_all(paths.iter().map(|path| delete(azure, path))).await)
    {
        match result {
            Ok(Deleted::Deleted) => tracing::info!(nic = %path.name(), "deleted NIC"),
            Ok(Deleted::NotFound) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Creates NICs at once; all are written even when one fails.
pub(crate) async fn create_all(
    azure: &Azure<'_>,
    nics: impl IntoIterator<Item = (ResourcePath, NicCreate)>,
) -> CpiResult<()> {
    try_join_all(
        nics.into_iter()
            .map(|(path, body)| async move { create(azure, &path, &body).await }),
    )
    .await?;
    Ok(())
}

/// Deletes a NIC. Azure keeps a NIC reserved for a while after a VM that used it failed or was
/// deleted (`NicReservedForAnotherVm`); the delete is retried then, as the Ruby CPI does,
/// within the call's deadline.
pub(crate) async fn delete(azure: &Azure<'_>, path: &ResourcePath) -> CpiResult<Deleted> {
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
