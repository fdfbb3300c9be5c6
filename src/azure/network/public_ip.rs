//! Public IP addresses: the dynamic PIP a VM gets with `assign_dynamic_public_ip`, the GET/list
//! model, and finding a vip network's address.
//!
//! The dynamic PIP is named `<vm_name>` in the VM's RG, Standard SKU, Static allocation, with
//! `pip_idle_timeout_in_minutes` (4..=30) and the VM's zone. It carries no tags (Ruby sends none).
//! The body omits `name`: it is read-only in the 2024-05-01 spec and the URL already names it.

use serde::{Deserialize, Serialize};

use super::ids::NetworkKind;
use super::{Resource, SubResource};
use crate::azure::ResourcePath;
use crate::error::{CpiError, CpiResult};

pub(crate) const MIN_IDLE_TIMEOUT_IN_MINUTES: u64 = 4;
pub(crate) const MAX_IDLE_TIMEOUT_IN_MINUTES: u64 = 30;

/// The Ruby CPI's bounds check, with its messages.
pub(crate) fn validate_idle_timeout(minutes: u64) -> CpiResult<()> {
    if minutes < MIN_IDLE_TIMEOUT_IN_MINUTES {
        return Err(CpiError::cloud(
            "Minimum idle_timeout_in_minutes is 4 minutes",
        ));
    }
    if minutes > MAX_IDLE_TIMEOUT_IN_MINUTES {
        return Err(CpiError::cloud(
            "Maximum idle_timeout_in_minutes is 30 minutes",
        ));
    }
    Ok(())
}

/// The dynamic public IP of a VM, before the location is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DynamicPublicIp {
    pub(crate) resource_group: String,
    /// Always the VM name: delete_vm and failure cleanup find it by that name.
    pub name: String,
    pub(crate) idle_timeout_in_minutes: u64,
    pub zone: Option<String>,
}

impl DynamicPublicIp {
    /// Validates the idle timeout (CloudError outside 4..=30).
    pub(crate) fn new(
        resource_group: &str,
        vm_name: &str,
        idle_timeout_in_minutes: u64,
        zone: Option<&str>,
    ) -> CpiResult<Self> {
        validate_idle_timeout(idle_timeout_in_minutes)?;
        Ok(Self {
            resource_group: resource_group.to_owned(),
            name: dynamic_public_ip_name(vm_name),
            idle_timeout_in_minutes,
            zone: zone.map(str::to_owned),
        })
    }

    pub(crate) fn id(&self, subscription_id: &str) -> ResourcePath {
        NetworkKind::PublicIpAddress.id(subscription_id, &self.resource_group, &self.name)
    }

    /// The PUT body.
    pub(crate) fn body(&self, location: &str) -> PublicIpCreate {
        PublicIpCreate {
            location: location.to_owned(),
            sku: PublicIpSku {
                name: "Standard".to_owned(),
            },
            properties: PublicIpCreateProperties {
                public_ip_allocation_method: "Static".to_owned(),
                idle_timeout_in_minutes: self.idle_timeout_in_minutes,
            },
            zones: self.zone.iter().cloned().collect(),
        }
    }
}

/// The name of a VM's dynamic public IP.
pub(crate) fn dynamic_public_ip_name(vm_name: &str) -> String {
    vm_name.to_owned()
}

/// `PUT .../publicIPAddresses/{name}` body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct PublicIpCreate {
    pub location: String,
    pub sku: PublicIpSku,
    pub properties: PublicIpCreateProperties,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct PublicIpSku {
    pub name: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct PublicIpCreateProperties {
    #[serde(rename = "publicIPAllocationMethod")]
    pub(crate) public_ip_allocation_method: String,
    #[serde(rename = "idleTimeoutInMinutes")]
    pub(crate) idle_timeout_in_minutes: u64,
}

/// The fields the CPI reads from a public IP GET or list entry.
pub(crate) type PublicIpAddress = Resource<PublicIpProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct PublicIpProperties {
    #[serde(rename = "ipAddress", default)]
    pub(crate) ip_address: Option<String>,
    #[serde(rename = "publicIPAllocationMethod", default)]
    pub(crate) public_ip_allocation_method: Option<String>,
    #[serde(rename = "publicIPAddressVersion", default)]
    pub(crate) public_ip_address_version: Option<String>,
    #[serde(rename = "idleTimeoutInMinutes", default)]
    pub(crate) idle_timeout_in_minutes: Option<i64>,
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
    /// The NIC ipconfig (or LB frontend) the address is bound to.
    #[serde(rename = "ipConfiguration", default)]
    pub(crate) ip_configuration: Option<SubResource>,
}

impl PublicIpAddress {
    pub(crate) fn ip_address(&self) -> Option<&str> {
        self.properties.ip_address.as_deref()
    }
}

/// The public IP in a vip network's RG whose address is `address` (exact match, as Ruby).
/// An unallocated PIP (no address yet) never matches.
pub(crate) fn find_by_address<'a>(
    public_ips: &'a [PublicIpAddress],
    address: &str,
) -> Option<&'a PublicIpAddress> {
    public_ips
        .iter()
        .find(|pip| pip.ip_address() == Some(address))
}

/// Ruby's CloudError when no public IP in `resource_group` has the vip address.
pub(crate) fn vip_not_found_error(address: &str, resource_group: &str) -> CpiError {
    CpiError::cloud(format!(
        "Cannot find the public IP address '{address}' in the resource group '{resource_group}'"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dynamic_public_ip_body_matches_the_ruby_fields() {
        let pip = DynamicPublicIp::new("vm-rg", "vm-abc", 4, None).unwrap();
        assert_eq!(pip.name, "vm-abc");
        let body = serde_json::to_value(pip.body("eastus")).unwrap();
        assert_eq!(
            body,
            json!({
                "location": "eastus",
                "sku": {"name": "Standard"},
                "properties": {"publicIPAllocationMethod": "Static", "idleTimeoutInMinutes": 4}
            })
        );
        assert_eq!(
            pip.id("sub").to_string(),
            "/subscriptions/sub/resourceGroups/vm-rg/providers/Microsoft.Network/publicIPAddresses/vm-abc"
        );
    }

    #[test]
    fn zonal_dynamic_public_ip_lists_the_zone() {
        let pip = DynamicPublicIp::new("rg", "vm", 30, Some("2")).unwrap();
        let body = serde_json::to_string(&pip.body("westeurope")).unwrap();
        assert_eq!(
            body,
            r#"{"location":"westeurope","sku":{"name":"Standard"},"properties":{"publicIPAllocationMethod":"Static","idleTimeoutInMinutes":30},"zones":["2"]}"#
        );
    }

    #[test]
    fn idle_timeout_outside_4_to_30_is_the_ruby_error() {
        for (minutes, message) in [
            (3, "Minimum idle_timeout_in_minutes is 4 minutes"),
            (0, "Minimum idle_timeout_in_minutes is 4 minutes"),
            (31, "Maximum idle_timeout_in_minutes is 30 minutes"),
        ] {
            let err = DynamicPublicIp::new("rg", "vm", minutes, None).unwrap_err();
            assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
            assert_eq!(err.message(), message);
        }
        assert!(validate_idle_timeout(4).is_ok());
        assert!(validate_idle_timeout(30).is_ok());
    }

    #[test]
    fn parses_a_public_ip_and_finds_a_vip_by_address() {
        let list: Vec<PublicIpAddress> = serde_json::from_value(json!([
            {
                "name": "unallocated",
                "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/publicIPAddresses/unallocated",
                "location": "eastus",
                "properties": {"provisioningState": "Succeeded", "publicIPAllocationMethod": "Dynamic", "idleTimeoutInMinutes": 4},
                "sku": {"name": "Basic"},
                "type": "Microsoft.Network/publicIPAddresses"
            },
            {
                "name": "test-ip",
                "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/publicIPAddresses/test-ip",
                "location": "eastus",
                "zones": ["1"],
                "properties": {
                    "provisioningState": "Succeeded",
                    "ipAddress": "40.85.154.247",
                    "publicIPAddressVersion": "IPv4",
                    "publicIPAllocationMethod": "Static",
                    "idleTimeoutInMinutes": 10,
                    "ipConfiguration": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/nic/ipConfigurations/ipconfig1"}
                },
                "sku": {"name": "Standard", "tier": "Regional"}
            }
        ]))
        .unwrap();
        let found = find_by_address(&list, "40.85.154.247").unwrap();
        assert_eq!(found.name, "test-ip");
        assert_eq!(found.location.as_deref(), Some("eastus"));
        assert_eq!(found.properties.idle_timeout_in_minutes, Some(10));
        assert!(found.properties.ip_configuration.is_some());
        assert!(find_by_address(&list, "40.85.154.248").is_none());
        assert!(find_by_address(&list, "").is_none());
        assert_eq!(
            vip_not_found_error("1.2.3.4", "rg").message(),
            "Cannot find the public IP address '1.2.3.4' in the resource group 'rg'"
        );
    }
}
