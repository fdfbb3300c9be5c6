//! ARM resource ids for Microsoft.Network resources, built from their parts.
//!
//! Ids are kept raw (unescaped): they go into request bodies as they are, and the ARM client
//! escapes each path segment itself when it turns an id into a URL.

use std::fmt;

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

/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/{namespace}/{type}/{name}[/{type}/{name}]...`
///
/// Equality is case-insensitive, as ARM treats ids.
#[derive(Debug, Clone)]
pub(crate) struct ResourceId {
    subscription_id: String,
    resource_group: String,
    namespace: String,
    /// `(collection, name)` pairs: the top-level resource first, then child resources.
    path: Vec<(String, String)>,
}

impl ResourceId {
    /// A top-level Microsoft.Network resource.
    pub(crate) fn network(
        subscription_id: &str,
        resource_group: &str,
        kind: NetworkKind,
        name: &str,
    ) -> Self {
        Self {
            subscription_id: subscription_id.to_owned(),
            resource_group: resource_group.to_owned(),
            namespace: NETWORK_NAMESPACE.to_owned(),
            path: vec![(kind.collection().to_owned(), name.to_owned())],
        }
    }

    /// `.../virtualNetworks/{vnet}/subnets/{subnet}`
    pub(crate) fn subnet(
        subscription_id: &str,
        resource_group: &str,
        vnet: &str,
        subnet: &str,
    ) -> Self {
        Self::network(
            subscription_id,
            resource_group,
            NetworkKind::VirtualNetwork,
            vnet,
        )
        .child("subnets", subnet)
    }

    /// Appends a child resource, e.g. `backendAddressPools/{pool}` below a load balancer.
    pub(crate) fn child(mut self, collection: &str, name: &str) -> Self {
        self.path.push((collection.to_owned(), name.to_owned()));
        self
    }
}

impl PartialEq for ResourceId {
    fn eq(&self, other: &Self) -> bool {
        self.to_string().eq_ignore_ascii_case(&other.to_string())
    }
}

impl Eq for ResourceId {}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "/subscriptions/{}/resourceGroups/{}/providers/{}",
            self.subscription_id, self.resource_group, self.namespace
        )?;
        for (collection, name) in &self.path {
            write!(f, "/{collection}/{name}")?;
        }
        Ok(())
    }
}

/// A resource to GET from an ordered list of places, first found wins; when none has it the
/// action fails with `not_found` as a CloudError (the Ruby CPI's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceLookup {
    pub name: String,
    pub(crate) candidates: Vec<ResourceId>,
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
        let nic = ResourceId::network("sub-1", "rg-1", NetworkKind::NetworkInterface, "vm-0");
        assert_eq!(
            nic.to_string(),
            "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/networkInterfaces/vm-0"
        );
        let subnet = ResourceId::subnet("sub-1", "rg-1", "vnet", "snet");
        assert_eq!(
            subnet.to_string(),
            "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet"
        );
        let pip = ResourceId::network("s", "r", NetworkKind::PublicIpAddress, "p");
        assert!(pip.to_string().ends_with("/publicIPAddresses/p"));
    }
}
