//! Azure's naming rules applied to every name in cloud_properties and networks, once decoded
//! and before any Azure call (see `crate::names`). Fields the CPI rewrites before use (an
//! availability set or `bosh.group` longer than 80 characters becomes `az-<md5>-<tail>`) are
//! left to that step.

use super::{
    BackendPoolRef, DiskCloudProps, ManagedIdentity, Networks, SecurityGroup, VmCloudProps,
};
use crate::error::CpiResult;
use crate::names::{Kind, check, quote};

pub(crate) fn optional(kind: Kind, field: &str, value: Option<&str>) -> CpiResult<()> {
    value.map_or(Ok(()), |value| check(kind, field, value))
}

pub(crate) fn security_group(field: &str, group: Option<&SecurityGroup>) -> CpiResult<()> {
    let Some(group) = group else { return Ok(()) };
    check(Kind::Resource, &format!("{field}.name"), &group.name)?;
    optional(
        Kind::ResourceGroup,
        &format!("{field}.resource_group_name"),
        group.resource_group_name.as_deref(),
    )
}

fn pools(field: &str, pools: Option<&Vec<BackendPoolRef>>) -> CpiResult<()> {
    for (index, pool) in pools.into_iter().flatten().enumerate() {
        check(
            Kind::Resource,
            &format!("{field}[{index}].name"),
            &pool.name,
        )?;
        check(
            Kind::ResourceGroup,
            &format!("{field}[{index}].resource_group_name"),
            &pool.resource_group_name,
        )?;
        optional(
            Kind::Resource,
            &format!("{field}[{index}].backend_pool_name"),
            pool.backend_pool_name.as_deref(),
        )?;
    }
    Ok(())
}

fn application_security_groups(field: &str, names: &[String]) -> CpiResult<()> {
    for (index, name) in names.iter().enumerate() {
        check(Kind::Resource, &format!("{field}[{index}]"), name)?;
    }
    Ok(())
}

impl VmCloudProps {
    pub(crate) fn check_names(&self) -> CpiResult<()> {
        check(
            Kind::ResourceGroup,
            "resource_group_name",
            &self.resource_group_name,
        )?;
        optional(
            Kind::StorageAccount,
            "storage_account_name",
            self.storage_account_name.as_deref(),
        )?;
        security_group("security_group", self.security_group.as_ref())?;
        application_security_groups(
            "application_security_groups",
            self.application_security_groups
                .as_deref()
                .unwrap_or_default(),
        )?;
        pools("load_balancer", self.load_balancers.as_ref())?;
        pools("application_gateway", self.application_gateways.as_ref())?;
        if let Some(ManagedIdentity::UserAssigned { name }) = &self.managed_identity {
            check(
                Kind::UserAssignedIdentity,
                "managed_identity.user_assigned_identity_name",
                name,
            )?;
        }
        optional(
            Kind::DiskEncryptionSet,
            "root_disk.disk_encryption_set_name",
            self.root_disk.disk_encryption_set_name.as_deref(),
        )?;
        optional(
            Kind::DiskEncryptionSet,
            "ephemeral_disk.disk_encryption_set_name",
            self.ephemeral_disk.disk_encryption_set_name.as_deref(),
        )?;
        optional(
            Kind::Resource,
            "capacity_reservation_group",
            self.capacity_reservation_group.as_deref(),
        )?;
        if let Some(group) = &self.proximity_placement_group {
            check(
                Kind::Resource,
                "proximity_placement_group.name",
                &group.name,
            )?;
            check(
                Kind::ResourceGroup,
                "proximity_placement_group.resource_group_name",
                &group.resource_group_name,
            )?;
        }
        Ok(())
    }
}

impl DiskCloudProps {
    pub(crate) fn check_names(&self) -> CpiResult<()> {
        optional(
            Kind::DiskEncryptionSet,
            "disk_encryption_set_name",
            self.disk_encryption_set_name.as_deref(),
        )
    }
}

impl Networks {
    pub(crate) fn check_names(&self) -> CpiResult<()> {
        for network in self.networks() {
            let field = |key: &str| format!("networks.{}.{key}", quote(&network.name));
            check(
                Kind::VirtualNetwork,
                &field("virtual_network_name"),
                &network.virtual_network_name,
            )?;
            check(Kind::Resource, &field("subnet_name"), &network.subnet_name)?;
            check(
                Kind::ResourceGroup,
                &field("resource_group_name"),
                &network.resource_group_name,
            )?;
            security_group(&field("security_group"), network.security_group.as_ref())?;
            application_security_groups(
                &field("application_security_groups"),
                &network.application_security_groups,
            )?;
        }
        if let Some(vip) = self.vip() {
            check(
                Kind::ResourceGroup,
                &format!("networks.{}.resource_group_name", quote(&vip.name)),
                &vip.resource_group_name,
            )?;
        }
        Ok(())
    }
}
