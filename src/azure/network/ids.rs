//! ARM resource ids for Microsoft.Network resources: build, parse, compare.
//!
//! Ids are kept raw (unescaped): they go into request bodies as they are, and the ARM client
//! escapes each path segment itself when it turns an id into a URL.

use crate::names::{RESOURCE_ID_SHOWN_CHARS, quote_up_to};
use std::fmt;

use crate::error::{CpiError, CpiResult};

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
    const ALL: [NetworkKind; 7] = [
        NetworkKind::NetworkInterface,
        NetworkKind::PublicIpAddress,
        NetworkKind::LoadBalancer,
        NetworkKind::ApplicationGateway,
        NetworkKind::NetworkSecurityGroup,
        NetworkKind::ApplicationSecurityGroup,
        NetworkKind::VirtualNetwork,
    ];

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

    /// ARM type names are case-insensitive (`publicIpAddresses` appears in the wild).
    pub(crate) fn from_collection(collection: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.collection().eq_ignore_ascii_case(collection))
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
    pub(crate) fn subnet(subscription_id: &str, resource_group: &str, vnet: &str, subnet: &str) -> Self {
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

    /// Parses an id as ARM returns it. Segment keywords are matched case-insensitively.
    pub(crate) fn parse(id: &str) -> CpiResult<Self> {
        let invalid = || {
            CpiError::cloud(format!(
                "'{}' is not a valid Azure resource id",
                quote_up_to(id, RESOURCE_ID_SHOWN_CHARS)
            ))
        };
        let rest = id.strip_prefix('/').ok_or_else(invalid)?;
        let segments: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        if segments.iter().any(|s| s.is_empty()) || segments.len() < 7 {
            return Err(invalid());
        }
        let keyword_ok = segments[0].eq_ignore_ascii_case("subscriptions")
            && segments[2].eq_ignore_ascii_case("resourceGroups")
            && segments[4].eq_ignore_ascii_case("providers");
        // After the namespace come (type, name) pairs.
        let pairs = &segments[6..];
        if !keyword_ok || !pairs.len().is_multiple_of(2) {
            return Err(invalid());
        }
        Ok(Self {
            subscription_id: segments[1].to_owned(),
            resource_group: segments[3].to_owned(),
            namespace: segments[5].to_owned(),
            path: pairs
                .chunks(2)
                .map(|pair| (pair[0].to_owned(), pair[1].to_owned()))
                .collect(),
        })
    }

    pub(crate) fn subscription_id(&self) -> &str {
        &self.subscription_id
    }

    pub(crate) fn resource_group(&self) -> &str {
        &self.resource_group
    }

    pub(crate) fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The name of the innermost resource (a pool's name for a backend pool id).
    pub(crate) fn name(&self) -> &str {
        self.path
            .last()
            .map(|(_, name)| name.as_str())
            .unwrap_or("")
    }

    /// `Microsoft.Network/loadBalancers/backendAddressPools` for a pool id.
    pub(crate) fn resource_type(&self) -> String {
        let mut out = self.namespace.clone();
        for (collection, _) in &self.path {
            out.push('/');
            out.push_str(collection);
        }
        out
    }

    /// The top-level resource that owns this id (the load balancer of a backend pool).
    pub(crate) fn top_level(&self) -> Self {
        Self {
            subscription_id: self.subscription_id.clone(),
            resource_group: self.resource_group.clone(),
            namespace: self.namespace.clone(),
            path: self.path.iter().take(1).cloned().collect(),
        }
    }

    /// The Microsoft.Network kind of the top-level resource, if it is one this module knows.
    pub(crate) fn network_kind(&self) -> Option<NetworkKind> {
        if !self.namespace.eq_ignore_ascii_case(NETWORK_NAMESPACE) {
            return None;
        }
        self.path
            .first()
            .and_then(|(collection, _)| NetworkKind::from_collection(collection))
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

/// Whether two id strings name the same resource (ARM ids are case-insensitive; a trailing
/// slash does not matter).
pub(crate) fn same_resource_id(a: &str, b: &str) -> bool {
    match (ResourceId::parse(a), ResourceId::parse(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}

/// A resource to GET from an ordered list of places, first found wins; when none has it the
/// action fails with `not_found` as a CloudError (the Ruby CPI's message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourceLookup {
    pub name: String,
    pub candidates: Vec<ResourceId>,
    pub not_found: String,
}

impl ResourceLookup {
    pub(crate) fn not_found_error(&self) -> CpiError {
        CpiError::cloud(self.not_found.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POOL: &str = "/subscriptions/sub-1/resourceGroups/rg-1/providers/Microsoft.Network/loadBalancers/lb-1/backendAddressPools/pool-a";

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
        assert_eq!(subnet.name(), "snet");
        assert_eq!(
            subnet.resource_type(),
            "Microsoft.Network/virtualNetworks/subnets"
        );
        let pip = ResourceId::network("s", "r", NetworkKind::PublicIpAddress, "p");
        assert!(pip.to_string().ends_with("/publicIPAddresses/p"));
    }

    #[test]
    fn parses_child_ids_and_finds_the_owner() {
        let id = ResourceId::parse(POOL).unwrap();
        assert_eq!(id.subscription_id(), "sub-1");
        assert_eq!(id.resource_group(), "rg-1");
        assert_eq!(id.namespace(), "Microsoft.Network");
        assert_eq!(id.name(), "pool-a");
        assert_eq!(id.to_string(), POOL);
        let lb = id.top_level();
        assert_eq!(lb.name(), "lb-1");
        assert_eq!(lb.network_kind(), Some(NetworkKind::LoadBalancer));
        assert_eq!(
            lb,
            ResourceId::network("sub-1", "rg-1", NetworkKind::LoadBalancer, "lb-1")
        );
    }

    #[test]
    fn equality_ignores_case_and_trailing_slash() {
        let upper = POOL.to_uppercase();
        assert_eq!(
            ResourceId::parse(&upper).unwrap(),
            ResourceId::parse(POOL).unwrap()
        );
        assert!(same_resource_id(POOL, &format!("{upper}/")));
        assert!(!same_resource_id(POOL, &POOL.replace("pool-a", "pool-b")));
        let lowercase_keywords = POOL
            .replace("resourceGroups", "resourcegroups")
            .replace("publicIPAddresses", "publicipaddresses");
        assert!(ResourceId::parse(&lowercase_keywords).is_ok());
        assert_eq!(
            NetworkKind::from_collection("publicipaddresses"),
            Some(NetworkKind::PublicIpAddress)
        );
    }

    #[test]
    fn rejects_malformed_ids_with_a_cloud_error() {
        for bad in [
            "",
            "/",
            "fake-id",
            "subscriptions/s/resourceGroups/r/providers/Microsoft.Network/x/y",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/loadBalancers",
            "/subscriptions/s/resourceGroups//providers/Microsoft.Network/loadBalancers/lb",
            "/subscriptions/s/groups/r/providers/Microsoft.Network/loadBalancers/lb",
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/loadBalancers/lb/pools",
        ] {
            let err = ResourceId::parse(bad).unwrap_err();
            assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError", "{bad}");
            assert!(err.message().contains("not a valid Azure resource id"));
        }
    }

    #[test]
    fn kinds_round_trip_through_their_collection() {
        for kind in NetworkKind::ALL {
            assert_eq!(NetworkKind::from_collection(kind.collection()), Some(kind));
        }
        let compute = ResourceId::parse(
            "/subscriptions/s/resourceGroups/r/providers/Microsoft.Compute/virtualMachines/vm",
        )
        .unwrap();
        assert_eq!(compute.network_kind(), None);
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// An ARM name segment: anything but `/`, never empty.
        fn segment() -> impl Strategy<Value = String> {
            "[^/]{1,12}"
        }

        proptest! {
            #[test]
            fn parse_never_panics(id in ".{0,120}") {
                let _ = ResourceId::parse(&id);
                let _ = same_resource_id(&id, "/subscriptions/s");
            }

            #[test]
            fn built_ids_round_trip(
                sub in segment(), rg in segment(), name in segment(), child in segment()
            ) {
                let id = ResourceId::network(&sub, &rg, NetworkKind::LoadBalancer, &name)
                    .child("backendAddressPools", &child);
                let parsed = ResourceId::parse(&id.to_string()).unwrap();
                prop_assert_eq!(parsed.subscription_id(), sub.as_str());
                prop_assert_eq!(parsed.resource_group(), rg.as_str());
                prop_assert_eq!(parsed.name(), child.as_str());
                let owner = parsed.top_level();
                prop_assert_eq!(owner.name(), name.as_str());
                prop_assert_eq!(&parsed, &id);
                prop_assert!(same_resource_id(&id.to_string(), &id.to_string().to_ascii_uppercase()));
            }
        }
    }
}
