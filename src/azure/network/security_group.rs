//! Network security groups (NSG) and application security groups (ASG): where a NIC's groups
//! come from, and in which resource groups to look for them.
//!
//! Ruby CPI facts: which NSG applies (vm_type/vm_extension > network > `default_security_group`)
//! is decided in `props`. With an explicit `resource_group_name` only that RG is searched;
//! otherwise the network's RG, then the default RG. ASG names come from the vm_type list (even
//! an empty one) > the network list, each searched in the network's RG, then the default RG.

use super::ids::{NetworkKind, ResourceLookup};
use crate::props;

/// Where the NIC's NSG is searched, in order; `group` is the one
/// [`props::effective_security_group`] chose.
pub(crate) fn network_security_group_lookup(
    subscription_id: &str,
    group: &props::SecurityGroup,
    network_resource_group: &str,
    default_resource_group: &str,
) -> ResourceLookup {
    let name = group.name.as_str();
    let id = |rg: &str| NetworkKind::NetworkSecurityGroup.id(subscription_id, rg, name);
    match group.resource_group_name.as_deref() {
        Some(rg) => ResourceLookup {
            name: name.to_owned(),
            candidates: vec![id(rg)],
            not_found: format!(
                "Cannot found the security group: {name} in the specified resource group: {rg}"
            ),
        },
        None => ResourceLookup {
            name: name.to_owned(),
            candidates: search_order(network_resource_group, default_resource_group)
                .map(id)
                .collect(),
            not_found: format!("Cannot find the network security group '{name}'"),
        },
    }
}

/// Where each of the NIC's ASGs is searched, in the order the names were given.
pub(crate) fn application_security_group_lookups(
    subscription_id: &str,
    vm: Option<&[String]>,
    network: &[String],
    network_resource_group: &str,
    default_resource_group: &str,
) -> Vec<ResourceLookup> {
    vm.unwrap_or(network)
        .iter()
        .map(|name| ResourceLookup {
            name: name.clone(),
            candidates: search_order(network_resource_group, default_resource_group)
                .map(|rg| NetworkKind::ApplicationSecurityGroup.id(subscription_id, rg, name))
                .collect(),
            not_found: format!("Cannot find the application security group '{name}'"),
        })
        .collect()
}

/// The network's RG, then the default RG when it differs (Ruby compares the names exactly).
fn search_order<'a>(network_rg: &'a str, default_rg: &'a str) -> impl Iterator<Item = &'a str> {
    std::iter::once(network_rg).chain((network_rg != default_rg).then_some(default_rg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::network::{Resource, Unread};
    use serde_json::json;

    const SUB: &str = "sub";

    fn ids(lookup: &ResourceLookup) -> Vec<String> {
        lookup.candidates.iter().map(|id| id.to_string()).collect()
    }

    fn nsg(rg: &str, name: &str) -> String {
        format!(
            "/subscriptions/sub/resourceGroups/{rg}/providers/Microsoft.Network/networkSecurityGroups/{name}"
        )
    }

    fn group(name: &str, resource_group_name: Option<&str>) -> props::SecurityGroup {
        props::SecurityGroup {
            name: name.into(),
            resource_group_name: resource_group_name.map(Into::into),
        }
    }

    #[test]
    fn nsg_is_searched_in_the_network_rg_then_the_default_rg() {
        let found =
            network_security_group_lookup(SUB, &group("vm-nsg", None), "net-rg", "default-rg");
        assert_eq!(found.name, "vm-nsg");
        assert_eq!(
            ids(&found),
            [nsg("net-rg", "vm-nsg"), nsg("default-rg", "vm-nsg")]
        );
        assert_eq!(
            found.not_found_error().message(),
            "Cannot find the network security group 'vm-nsg'"
        );
        // Network RG == default RG: searched once.
        let found = network_security_group_lookup(
            SUB,
            &group("default-nsg", None),
            "default-rg",
            "default-rg",
        );
        assert_eq!(ids(&found), [nsg("default-rg", "default-nsg")]);
    }

    #[test]
    fn explicit_resource_group_is_the_only_candidate() {
        let found = network_security_group_lookup(
            SUB,
            &group("net-nsg", Some("nsg-rg")),
            "net-rg",
            "default-rg",
        );
        assert_eq!(ids(&found), [nsg("nsg-rg", "net-nsg")]);
        assert_eq!(
            found.not_found_error().message(),
            "Cannot found the security group: net-nsg in the specified resource group: nsg-rg"
        );
    }

    #[test]
    fn asg_names_from_vm_override_the_network_even_when_empty() {
        let network = vec!["net-asg".to_owned()];
        let vm = vec!["vm-asg-1".to_owned(), "vm-asg-2".to_owned()];
        let found =
            application_security_group_lookups(SUB, Some(&vm), &network, "net-rg", "default-rg");
        assert_eq!(
            found.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(),
            ["vm-asg-1", "vm-asg-2"]
        );
        assert_eq!(
            ids(&found[0]),
            [
                "/subscriptions/sub/resourceGroups/net-rg/providers/Microsoft.Network/applicationSecurityGroups/vm-asg-1",
                "/subscriptions/sub/resourceGroups/default-rg/providers/Microsoft.Network/applicationSecurityGroups/vm-asg-1",
            ]
        );
        assert_eq!(
            found[1].not_found_error().message(),
            "Cannot find the application security group 'vm-asg-2'"
        );
        let from_network =
            application_security_group_lookups(SUB, None, &network, "default-rg", "default-rg");
        assert_eq!(from_network.len(), 1);
        assert_eq!(from_network[0].candidates.len(), 1);
        assert!(application_security_group_lookups(SUB, Some(&[]), &network, "r", "d").is_empty());
    }

    #[test]
    fn reads_a_security_group_get() {
        let nsg: Resource<Unread> = serde_json::from_value(json!({
            "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/nsg1",
            "name": "nsg1",
            "location": "eastus",
            "properties": {"provisioningState": "Succeeded", "securityRules": []}
        }))
        .unwrap();
        assert_eq!(nsg.name, "nsg1");
        assert_eq!(nsg.location.as_deref(), Some("eastus"));
    }
}
