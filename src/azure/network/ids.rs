//! ARM ids of Microsoft.Network resources, built from their parts as [`ResourcePath`]s: raw
//! segments that go into request bodies as they are ([`ResourcePath::id`]), and that the ARM
//! client escapes one by one when it turns them into URLs.

use crate::azure::ResourcePath;
use crate::error::CpiError;

/// The resource provider namespace of every resource in this module.
pub(crate) const NETWORK_NAMESPACE: &str = "Microsoft.Network";

/// The top-level Microsoft.Network resource types the CPI reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NetworkKind {
    NetworkInterface,
    PublicIpAddress,
    LoadBalancer,
    ApplicationGateway,
    NetworkSecurityGroup,
    ApplicationSecurityGroup,
    VirtualNetwork,
}

impl NetworkKind {
    /// The collection segment in ids and URLs, e.g. `networkInterfaces`.
    pub(crate) fn collection(self) -> &'static str {
        match self {
            NetworkKind::NetworkInterface => "networkInterfaces",
            NetworkKind::PublicIpAddress => "publicIPAddresses",
            NetworkKind::LoadBalancer => "loadBalancers",
            NetworkKind::ApplicationGateway => "applicationGateways",
            NetworkKind::NetworkSecurityGroup => "networkSecurityGroups",
            NetworkKind::ApplicationSecurityGroup => "applicationSecurityGroups",
            NetworkKind::VirtualNetwork => "virtualNetworks",
        }
    }
}

impl NetworkKind {
    /// The id of a top-level Microsoft.Network resource of this kind.
    pub(crate) fn id(
        self,
        subscription_id: &str,
        resource_group: &str,
        name: &str,
    ) -> ResourcePath {
        ResourcePath::resource_group(subscription_id, resource_group)
            .provider(NETWORK_NAMESPACE)
            .child(self.collection(), name)
    }
}

/// `.../virtualNetworks/{vnet}/subnets/{subnet}`
pub(crate) fn subnet_id(
    subscription_id: &str,
    resource_group: &str,
    vnet: &str,
    subnet: &str,
) -> ResourcePath {
    NetworkKind::VirtualNetwork
        .id(subscription_id, resource_group, vnet)
        .child("subnets", subnet)
}

/// A resource to GET from an ordered list of places, first found wins; when none has it the
/// action fails with `not_found` as a CloudError (the Ruby CPI's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceLookup {
    pub name: String,
    pub(crate) candidates: Vec<ResourcePath>,
    pub(crate) not_found: String,
}

impl ResourceLookup {
    pub(crate) fn not_found_error(&self) -> CpiError {
        CpiError::cloud(self.not_found.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_top_level_and_child_ids() {
        let nic = NetworkKind::NetworkInterface.id("sub-1", "rg-1", "vm-0");
        assert_eq!(
            nic.to_string(),
            "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/networkInterfaces/vm-0"
        );
        let subnet = subnet_id("sub-1", "rg-1", "vnet", "snet");
        assert_eq!(
            subnet.to_string(),
            "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet"
        );
        let pip = NetworkKind::PublicIpAddress.id("s", "r", "p");
        assert!(pip.to_string().ends_with("/publicIPAddresses/p"));
    }
}
