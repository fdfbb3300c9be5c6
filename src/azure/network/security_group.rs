//! Network security groups (NSG) and application security groups (ASG): where a NIC's groups
//! come from, and in which resource groups to look for them.
//!
//! Ruby CPI facts: the NSG comes from vm_type/vm_extension > network > `default_security_group`
//! (a level counts only when it has a `name`). With an explicit `resource_group_name` only that
//! RG is searched; otherwise the network's RG, then the default RG. ASG names come from the
//! vm_type list (even an empty one) > the network list, each searched in the network's RG, then
//! the default RG.

use serde::Deserialize;
use serde_json::Value;

use super::ids::{NetworkKind, ResourceId, ResourceLookup};
use crate::error::{CpiError, CpiResult};

/// A `security_group` setting: a plain name, or `{name, resource_group_name}`.
/// Both fields absent means "not set at this level".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityGroupSetting {
    pub name: Option<String>,
    pub resource_group: Option<String>,
}

impl SecurityGroupSetting {
    pub fn named(name: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            resource_group: None,
        }
    }

    /// Parses the raw `security_group` value of vm/network cloud_properties or cpi.json.
    pub fn from_cloud_property(value: Option<&Value>) -> CpiResult<Self> {
        let invalid = || {
            CpiError::cloud(
                "'security_group' must be a string or a hash with 'name' and optional \
                 'resource_group_name'",
            )
        };
        match value {
            None | Some(Value::Null) => Ok(Self::default()),
            Some(Value::String(name)) => Ok(Self::named(name)),
            Some(Value::Object(fields)) => {
                let text = |key: &str| match fields.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(_) => Err(invalid()),
                };
                Ok(Self {
                    name: text("name")?,
                    resource_group: text("resource_group_name")?,
                })
            }
            Some(_) => Err(invalid()),
        }
    }
}

/// Where the NIC's NSG is searched, in order. `Ok(None)`: no NSG at any level.
pub fn network_security_group_lookup(
    subscription_id: &str,
    vm: &SecurityGroupSetting,
    network: &SecurityGroupSetting,
    default: &SecurityGroupSetting,
    network_resource_group: &str,
    default_resource_group: &str,
) -> CpiResult<Option<ResourceLookup>> {
    let Some((setting, name)) = [vm, network, default]
        .into_iter()
        .find_map(|setting| setting.name.as_deref().map(|name| (setting, name)))
    else {
        return Ok(None);
    };
    if name.is_empty() {
        return Err(CpiError::cloud(
            "Cannot specify an empty string to the network security group",
        ));
    }
    let id = |rg: &str| {
        ResourceId::network(subscription_id, rg, NetworkKind::NetworkSecurityGroup, name)
    };
    let lookup = match setting.resource_group.as_deref() {
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
    };
    Ok(Some(lookup))
}

/// Where each of the NIC's ASGs is searched, in the order the names were given.
pub fn application_security_group_lookups(
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
                .map(|rg| {
                    ResourceId::network(
                        subscription_id,
                        rg,
                        NetworkKind::ApplicationSecurityGroup,
                        name,
                    )
                })
                .collect(),
            not_found: format!("Cannot find the application security group '{name}'"),
        })
        .collect()
}

/// The network's RG, then the default RG when it differs (Ruby compares the names exactly).
fn search_order<'a>(network_rg: &'a str, default_rg: &'a str) -> impl Iterator<Item = &'a str> {
    std::iter::once(network_rg).chain((network_rg != default_rg).then_some(default_rg))
}

/// The fields the CPI reads from an NSG or ASG GET.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct SecurityGroup {
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn lookup(
        vm: SecurityGroupSetting,
        network: SecurityGroupSetting,
        default: SecurityGroupSetting,
        network_rg: &str,
    ) -> CpiResult<Option<ResourceLookup>> {
        network_security_group_lookup(SUB, &vm, &network, &default, network_rg, "default-rg")
    }

    #[test]
    fn parses_string_hash_and_absent_settings() {
        assert_eq!(
            SecurityGroupSetting::from_cloud_property(Some(&json!("nsg-a"))).unwrap(),
            SecurityGroupSetting::named("nsg-a")
        );
        assert_eq!(
            SecurityGroupSetting::from_cloud_property(Some(
                &json!({"name": "nsg-b", "resource_group_name": "rg-b"})
            ))
            .unwrap(),
            SecurityGroupSetting {
                name: Some("nsg-b".into()),
                resource_group: Some("rg-b".into())
            }
        );
        assert_eq!(
            SecurityGroupSetting::from_cloud_property(None).unwrap(),
            SecurityGroupSetting::default()
        );
        assert_eq!(
            SecurityGroupSetting::from_cloud_property(Some(&json!({"resource_group_name": "x"})))
                .unwrap()
                .name,
            None
        );
        for bad in [json!(1), json!(["a"]), json!({"name": 3})] {
            let err = SecurityGroupSetting::from_cloud_property(Some(&bad)).unwrap_err();
            assert!(err.message().contains("'security_group'"), "{bad}");
        }
    }

    #[test]
    fn vm_setting_wins_over_network_and_default() {
        let found = lookup(
            SecurityGroupSetting::named("vm-nsg"),
            SecurityGroupSetting::named("net-nsg"),
            SecurityGroupSetting::named("default-nsg"),
            "net-rg",
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.name, "vm-nsg");
        assert_eq!(
            ids(&found),
            [nsg("net-rg", "vm-nsg"), nsg("default-rg", "vm-nsg")]
        );
        assert_eq!(
            found.not_found_error().message(),
            "Cannot find the network security group 'vm-nsg'"
        );
    }

    #[test]
    fn network_then_default_when_higher_levels_have_no_name() {
        let vm_without_name = SecurityGroupSetting {
            name: None,
            resource_group: Some("ignored".into()),
        };
        let found = lookup(
            vm_without_name.clone(),
            SecurityGroupSetting::named("net-nsg"),
            SecurityGroupSetting::named("default-nsg"),
            "net-rg",
        )
        .unwrap()
        .unwrap();
        assert_eq!(found.name, "net-nsg");
        let found = lookup(
            vm_without_name,
            SecurityGroupSetting::default(),
            SecurityGroupSetting::named("default-nsg"),
            "default-rg",
        )
        .unwrap()
        .unwrap();
        // Network RG == default RG: searched once.
        assert_eq!(ids(&found), [nsg("default-rg", "default-nsg")]);
    }

    #[test]
    fn explicit_resource_group_is_the_only_candidate() {
        let found = lookup(
            SecurityGroupSetting::default(),
            SecurityGroupSetting {
                name: Some("net-nsg".into()),
                resource_group: Some("nsg-rg".into()),
            },
            SecurityGroupSetting::default(),
            "net-rg",
        )
        .unwrap()
        .unwrap();
        assert_eq!(ids(&found), [nsg("nsg-rg", "net-nsg")]);
        assert_eq!(
            found.not_found_error().message(),
            "Cannot found the security group: net-nsg in the specified resource group: nsg-rg"
        );
    }

    #[test]
    fn no_name_anywhere_means_no_nsg_and_empty_name_is_an_error() {
        let none = lookup(
            SecurityGroupSetting::default(),
            SecurityGroupSetting::default(),
            SecurityGroupSetting::default(),
            "net-rg",
        )
        .unwrap();
        assert_eq!(none, None);
        let err = lookup(
            SecurityGroupSetting::named(""),
            SecurityGroupSetting::named("net-nsg"),
            SecurityGroupSetting::default(),
            "net-rg",
        )
        .unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
        assert_eq!(
            err.message(),
            "Cannot specify an empty string to the network security group"
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
        let nsg: SecurityGroup = serde_json::from_value(json!({
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
