//! Public IP addresses: a vm_type's static VIP found by address, and the dynamic IP a VM gets
//! (named after the VM, so delete_vm finds it without the VM).

use serde_json::Value;

use super::Azure;
use crate::azure::network::public_ip::{
    DynamicPublicIp, PublicIpAddress, dynamic_public_ip_name, find_by_address, vip_not_found_error,
};
use crate::azure::{ApiKind, ResourcePath};
use crate::cid::VmCid;
use crate::error::CpiResult;

/// The id of the public IP holding `address` in `resource_group`.
pub(crate) async fn find_vip(
    azure: &Azure<'_>,
    address: &str,
    resource_group: &str,
) -> CpiResult<String> {
    let path = azure
        .network_path(resource_group)
        .segment("publicIPAddresses");
    let all: Vec<PublicIpAddress> = azure
        .arm
        .list(&path, ApiKind::Network, azure.deadline)
        .await?;
    let found = find_by_address(&all, address)
        .ok_or_else(|| vip_not_found_error(address, resource_group))?;
    Ok(found.id.clone())
}

/// The path of the VM's dynamic public IP, before it is written.
pub(crate) fn dynamic_path(azure: &Azure<'_>, dynamic: &DynamicPublicIp) -> ResourcePath {
    dynamic.id(azure.arm.subscription_id())
}

pub(crate) async fn create_dynamic(
    azure: &Azure<'_>,
    path: &ResourcePath,
    dynamic: &DynamicPublicIp,
    location: &str,
) -> CpiResult<()> {
    azure
        .arm
        .put::<_, Value>(
            path,
            ApiKind::Network,
            &dynamic.body(location),
            azure.deadline,
        )
        .await?;
    Ok(())
}

/// Deletes an IP; it can go only after the NIC that used it.
pub(crate) async fn delete(azure: &Azure<'_>, path: &ResourcePath) -> CpiResult<()> {
    azure
        .arm
        .delete(path, ApiKind::Network, azure.deadline)
        .await?;
    Ok(())
}

/// Deletes the VM's dynamic public IP, if it has one.
pub(crate) async fn delete_dynamic_of(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<()> {
    let path = azure
        .network_path(vm.resource_group_name())
        .child("publicIPAddresses", &dynamic_public_ip_name(vm.vm_name()));
    delete(azure, &path).await
}
