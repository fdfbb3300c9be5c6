//! Virtual networks and subnets: GET models, lookups, and the location rule of create_vm (the
//! primary network's VNet decides where the VM and its resources go).

use serde::Deserialize;

use super::ids::{NetworkKind, ResourceLookup, subnet_id};
use super::{ChildResource, Resource};
use crate::error::{CpiError, CpiResult};

/// The fields the CPI reads from `GET .../virtualNetworks/{name}`.
pub(crate) type VirtualNetwork = Resource<VirtualNetworkProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct VirtualNetworkProperties {
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(
        rename = "addressSpace",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) address_space: AddressSpace,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub subnets: Vec<Subnet>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct AddressSpace {
    #[serde(
        rename = "addressPrefixes",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) address_prefixes: Vec<String>,
}

/// The fields the CPI reads from `GET .../virtualNetworks/{vnet}/subnets/{name}`.
pub(crate) type Subnet = ChildResource<SubnetProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct SubnetProperties {
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(rename = "addressPrefix", default)]
    pub(crate) address_prefix: Option<String>,
    #[serde(
        rename = "addressPrefixes",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) address_prefixes: Vec<String>,
}

impl Subnet {
    /// All prefixes, whichever of the two fields Azure filled.
    #[cfg(test)]
    pub(crate) fn prefixes(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self
            .properties
            .address_prefix
            .iter()
            .map(String::as_str)
            .collect();
        for prefix in &self.properties.address_prefixes {
            if !out.contains(&prefix.as_str()) {
                out.push(prefix);
            }
        }
        out
    }
}

/// The VNet of a network, for its location; missing is the Ruby CloudError.
pub(crate) fn virtual_network_lookup(
    subscription_id: &str,
    resource_group: &str,
    vnet: &str,
) -> ResourceLookup {
    ResourceLookup {
        name: vnet.to_owned(),
        candidates: vec![NetworkKind::VirtualNetwork.id(subscription_id, resource_group, vnet)],
        not_found: format!(
            "Cannot find the virtual network '{vnet}' under resource group '{resource_group}'"
        ),
    }
}

/// The subnet a NIC goes into; missing is the Ruby CloudError.
pub(crate) fn subnet_lookup(
    subscription_id: &str,
    resource_group: &str,
    vnet: &str,
    subnet: &str,
) -> ResourceLookup {
    ResourceLookup {
        name: subnet.to_owned(),
        candidates: vec![subnet_id(subscription_id, resource_group, vnet, subnet)],
        not_found: format!(
            "Cannot find the subnet '{vnet}/{subnet}' in the resource group '{resource_group}'"
        ),
    }
}

/// The VM's location: the primary VNet's. A `location` in cpi.json must equal it (Ruby
/// compares exactly).
pub(crate) fn vm_location<'a>(
    configured: Option<&str>,
    vnet: &'a VirtualNetwork,
) -> CpiResult<&'a str> {
    let Some(location) = vnet.location.as_deref().filter(|l| !l.is_empty()) else {
        return Err(CpiError::cloud(format!(
            "The virtual network '{}' has no location",
            vnet.name
        )));
    };
    match configured {
        Some(configured) if configured != location => Err(CpiError::cloud(format!(
            "The location in the global configuration '{configured}' is different from the \
             location of the virtual network '{location}'"
        ))),
        _ => Ok(location),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_a_virtual_network_get() {
        // Azure's VirtualNetworkGet example (2024-05-01), trimmed.
        let vnet: VirtualNetwork = serde_json::from_value(json!({
            "name": "test-vnet",
            "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/test-vnet",
            "type": "Microsoft.Network/virtualNetworks",
            "location": "westus",
            "properties": {
                "provisioningState": "Succeeded",
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{
                    "name": "subnet1",
                    "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/test-vnet/subnets/subnet1",
                    "properties": {"provisioningState": "Succeeded", "addressPrefix": "10.0.1.0/24",
                                   "ipConfigurations": [{"id": "x"}]}
                }],
                "virtualNetworkPeerings": []
            }
        }))
        .unwrap();
        assert_eq!(vm_location(None, &vnet).unwrap(), "westus");
        assert_eq!(
            vnet.properties.address_space.address_prefixes,
            ["10.0.0.0/16"]
        );
        assert_eq!(vnet.properties.subnets[0].prefixes(), ["10.0.1.0/24"]);
    }

    #[test]
    fn parses_a_subnet_with_either_prefix_field() {
        let subnet: Subnet = serde_json::from_value(json!({
            "id": "/subscriptions/subid/resourceGroups/subnet-test/providers/Microsoft.Network/virtualNetworks/vnetname/subnets/subnet1",
            "name": "subnet1",
            "properties": {"addressPrefixes": ["10.0.0.0/24", "fd00::/64"], "provisioningState": "Succeeded"}
        }))
        .unwrap();
        assert_eq!(subnet.prefixes(), ["10.0.0.0/24", "fd00::/64"]);
        assert_eq!(subnet.name, "subnet1");
    }

    #[test]
    fn lookups_carry_ids_and_ruby_messages() {
        let vnet = virtual_network_lookup("sub", "rg", "boshvnet");
        assert_eq!(
            vnet.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/boshvnet"
        );
        assert_eq!(
            vnet.not_found,
            "Cannot find the virtual network 'boshvnet' under resource group 'rg'"
        );
        let subnet = subnet_lookup("sub", "rg", "boshvnet", "bosh");
        assert_eq!(
            subnet.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/boshvnet/subnets/bosh"
        );
        assert_eq!(
            subnet.not_found_error().message(),
            "Cannot find the subnet 'boshvnet/bosh' in the resource group 'rg'"
        );
    }

    #[test]
    fn configured_location_must_match_the_vnet() {
        let vnet: VirtualNetwork =
            serde_json::from_value(json!({"name": "vnet", "location": "westus"})).unwrap();
        assert_eq!(vm_location(None, &vnet).unwrap(), "westus");
        assert_eq!(vm_location(Some("westus"), &vnet).unwrap(), "westus");
        let err = vm_location(Some("eastus"), &vnet).unwrap_err();
        assert_eq!(
            err.message(),
            "The location in the global configuration 'eastus' is different from the location of the virtual network 'westus'"
        );
        for value in [
            json!({"name": "vnet"}),
            json!({"name": "vnet", "location": null}),
        ] {
            let vnet: VirtualNetwork = serde_json::from_value(value).unwrap();
            assert_eq!(
                vm_location(None, &vnet).unwrap_err().message(),
                "The virtual network 'vnet' has no location"
            );
        }
    }
}
