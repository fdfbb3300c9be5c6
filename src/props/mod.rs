//! cloud_properties and create_vm `networks` as typed, validated values, decoded late (per
//! action) from the Director's JSON. Shapes, defaults and error messages follow the Ruby CPI;
//! unknown keys are ignored. Every failure is a
//! `CpiError::Cloud`; type errors name the field and the JSON type found, never the value.
//!
//! Public API:
//! - [`PropsContext`]: the global settings defaults depend on.
//! - [`VmCloudProps::from_value(&Value, &PropsContext)`](VmCloudProps::from_value), with
//!   [`RootDisk`], [`RootDiskPlacement`], [`EphemeralDisk`], [`AvailabilitySet`] and
//!   [`BackendPoolRef`] (load balancer / application gateway pools).
//! - [`DiskCloudProps::from_value(&Value)`](DiskCloudProps::from_value); `caching()` applies the
//!   default `None`.
//! - [`Networks::from_value(&Value, &PropsContext)`](Networks::from_value): `networks()` (never
//!   empty; the first is primary), `primary()`, `vip()`, `default_dns()`,
//!   `raw()` (echoed into the agent settings).
//! - [`VmResources::from_value(&Value)`](VmResources::from_value): calculate_vm_cloud_properties'
//!   argument; `ephemeral_disk_size_rounded_mib()`.
//! - [`SecurityGroup::from_value`] and [`effective_security_group`] (vm > network > global);
//!   [`ManagedIdentity::from_value`] (also for the global `default_managed_identity`).

mod disk;
mod managed_identity;
pub(crate) mod names;
mod network;
mod security_group;
mod vm;
mod vm_options;
mod vm_resources;

pub(crate) use disk::DiskCloudProps;
pub(crate) use managed_identity::ManagedIdentity;
pub(crate) use network::{Networks, SubnetNetwork, SubnetNetworkType};
pub(crate) use security_group::{SecurityGroup, effective_security_group};
pub(crate) use vm::{BackendPoolRef, VmCloudProps};
pub(crate) use vm_options::SecurityProfile;
pub(crate) use vm_resources::VmResources;

/// The global configuration that cloud_properties defaults depend on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PropsContext {
    /// `azure.resource_group_name`: the default for every `resource_group_name`.
    pub(crate) default_resource_group_name: String,
    /// `azure.environment == "AzureStack"`: availability sets get 1 update and 1 fault domain.
    pub(crate) is_azure_stack: bool,
    /// `azure.use_managed_disks`.
    pub use_managed_disks: bool,
    /// `azure.default_managed_identity`, used when a VM sets none.
    pub default_managed_identity: Option<ManagedIdentity>,
}

#[cfg(test)]
impl PropsContext {
    /// Public Azure with managed disks and default RG `default-rg`: what most tests assume.
    pub(crate) fn for_tests() -> Self {
        Self {
            default_resource_group_name: "default-rg".into(),
            is_azure_stack: false,
            use_managed_disks: true,
            default_managed_identity: None,
        }
    }
}

#[cfg(test)]
mod tests;
