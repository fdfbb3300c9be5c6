//! Network interfaces (NICs): names, the PUT body of create_vm, and the GET model.
//!
//! Body (Ruby `create_network_interface` for create_vm, which builds one IPv4 ipconfig per NIC):
//! `{location, tags, properties{networkSecurityGroup?, enableIPForwarding,
//! enableAcceleratedNetworking, ipConfigurations:[{name, properties{privateIPAllocationMethod,
//! privateIPAddressVersion:"IPv4", subnet, primary:true, privateIPAddress?, publicIPAddress?,
//! loadBalancerBackendAddressPools?, loadBalancerInboundNatRules?,
//! applicationGatewayBackendAddressPools?, applicationSecurityGroups?}}], dnsSettings{dnsServers}}}`.
//!
//! Two deliberate differences from the Ruby body, both required by the 2024-05-01 spec: no
//! `name` (read-only; the URL names the NIC), and no `networkSecurityGroup: null` (not
//! nullable; leaving it out of a PUT removes the NSG just the same).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::load_balancer::LoadBalancerAttachment;
use super::{ChildResource, Resource, SubResource};
use crate::azure::compute::bosh_tags;

/// On the primary NIC: the VM's availability set, so delete_vm can find the AS after the VM
/// is gone.
pub(crate) const AVAILABILITY_SET_TAG: &str = "availability_set";

/// `ipconfig<index>`
pub(crate) fn ipconfig_name(index: usize) -> String {
    format!("ipconfig{index}")
}

/// Whether `name` is one of `vm_name`'s NICs (`<vm_name>-<digits>`, the names
/// `VmCid::nic_name` gives), compared without case as Azure compares names. Stricter than
/// Ruby's substring match, which could pick up another VM's NIC whose name contains this
/// VM's (`agent-1` in `agent-10-0`).
pub(crate) fn is_nic_of_vm(name: &str, vm_name: &str) -> bool {
    let Some((base, index)) = name.rsplit_once('-') else {
        return false;
    };
    base.eq_ignore_ascii_case(vm_name)
        && !index.is_empty()
        && index.bytes().all(|b| b.is_ascii_digit())
}

/// The ARM error code when a NIC cannot be deleted yet because a failed VM still holds it;
/// Ruby's create_vm cleanup retries the DELETE on it up to [`NIC_RESERVED_MAX_ATTEMPTS`] times,
/// [`NIC_RESERVED_RETRY_DELAY`] apart.
pub(crate) const NIC_RESERVED_ERROR_CODE: &str = "NicReservedForAnotherVm";
pub(crate) const NIC_RESERVED_MAX_ATTEMPTS: u32 = 20;
pub(crate) const NIC_RESERVED_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(10);

/// The NICs of `vm_name` among a listing of its resource group (delete_vm, and cleanup after a
/// create_vm that failed part-way through the NIC PUTs).
pub(crate) fn nics_of_vm<'a>(
    nics: &'a [NetworkInterface],
    vm_name: &str,
) -> Vec<&'a NetworkInterface> {
    nics.iter()
        .filter(|nic| is_nic_of_vm(&nic.name, vm_name))
        .collect()
}

/// The availability set recorded on a VM's NICs, for delete_vm when the VM is already gone
/// (only the primary NIC carries the tag).
pub(crate) fn availability_set_from_nics<'a>(nics: &[&'a NetworkInterface]) -> Option<&'a str> {
    nics.iter().rev().find_map(|nic| nic.availability_set_tag())
}

/// The tags of a NIC: `user-agent: bosh`, plus `availability_set` on the primary NIC when the
/// VM is in one.
fn nic_tags(availability_set: Option<&str>) -> BTreeMap<String, String> {
    let mut tags = bosh_tags();
    if let Some(name) = availability_set {
        tags.insert(AVAILABILITY_SET_TAG.to_owned(), name.to_owned());
    }
    tags
}

/// Everything one NIC PUT needs, already resolved to ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct NicSpec {
    pub name: String,
    pub location: String,
    pub(crate) ipconfig_name: String,
    /// `Some` for a manual network: Static allocation of this address; `None`: Dynamic.
    pub(crate) private_ip: Option<String>,
    pub ids: ResolvedNicIds,
    pub(crate) enable_ip_forwarding: bool,
    pub(crate) enable_accelerated_networking: bool,
    /// create_vm leaves this empty (DNS reaches the agent through its settings), as Ruby does.
    pub(crate) dns_servers: Vec<String>,
    /// `Some` on the primary NIC only.
    pub primary: Option<PrimaryNicAttachments>,
}

/// What the action found for one NIC's lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResolvedNicIds {
    pub(crate) subnet_id: String,
    pub(crate) network_security_group_id: Option<String>,
    pub(crate) application_security_group_ids: Vec<String>,
}

/// What only the primary NIC gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PrimaryNicAttachments {
    pub(crate) public_ip_id: Option<String>,
    pub(crate) load_balancers: Vec<LoadBalancerAttachment>,
    pub(crate) application_gateway_pool_ids: Vec<String>,
    /// Recorded as the primary NIC's `availability_set` tag.
    pub availability_set: Option<String>,
}

impl NicSpec {
    /// The PUT body.
    pub(crate) fn body(&self) -> NicCreate {
        let secondary = PrimaryNicAttachments::default();
        let primary = self.primary.as_ref().unwrap_or(&secondary);
        let ids = |ids: &[String]| ids.iter().map(|id| SubResource::new(id)).collect();
        let ip_configuration = NicIpConfigurationCreate {
            name: self.ipconfig_name.clone(),
            properties: NicIpConfigurationCreateProperties {
                private_ip_allocation_method: if self.private_ip.is_some() {
                    "Static"
                } else {
                    "Dynamic"
                },
                private_ip_address_version: "IPv4",
                subnet: SubResource::new(&self.ids.subnet_id),
                primary: true,
                private_ip_address: self.private_ip.clone(),
                public_ip_address: primary.public_ip_id.as_deref().map(SubResource::new),
                load_balancer_backend_address_pools: (primary.load_balancers.iter())
                    .filter_map(|lb| lb.backend_pool_id.as_deref().map(SubResource::new))
                    .collect(),
                load_balancer_inbound_nat_rules: (primary.load_balancers.iter())
                    .flat_map(|lb| lb.inbound_nat_rules.iter().cloned())
                    .collect(),
                application_gateway_backend_address_pools: ids(
                    &primary.application_gateway_pool_ids
                ),
                application_security_groups: ids(&self.ids.application_security_group_ids),
            },
        };
        NicCreate {
            location: self.location.clone(),
            tags: nic_tags(primary.availability_set.as_deref()),
            properties: NicCreateProperties {
                network_security_group: (self.ids.network_security_group_id.as_deref())
                    .map(SubResource::new),
                enable_ip_forwarding: self.enable_ip_forwarding,
                enable_accelerated_networking: self.enable_accelerated_networking,
                ip_configurations: vec![ip_configuration],
                dns_settings: DnsSettingsCreate {
                    dns_servers: self.dns_servers.clone(),
                },
            },
        }
    }
}

/// `PUT .../networkInterfaces/{name}` body.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct NicCreate {
    pub location: String,
    pub tags: BTreeMap<String, String>,
    pub properties: NicCreateProperties,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct NicCreateProperties {
    #[serde(
        rename = "networkSecurityGroup",
        skip_serializing_if = "Option::is_none"
    )]
    pub(crate) network_security_group: Option<SubResource>,
    #[serde(rename = "enableIPForwarding")]
    pub(crate) enable_ip_forwarding: bool,
    #[serde(rename = "enableAcceleratedNetworking")]
    pub(crate) enable_accelerated_networking: bool,
    #[serde(rename = "ipConfigurations")]
    pub(crate) ip_configurations: Vec<NicIpConfigurationCreate>,
    #[serde(rename = "dnsSettings")]
    pub(crate) dns_settings: DnsSettingsCreate,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct DnsSettingsCreate {
    #[serde(rename = "dnsServers")]
    pub(crate) dns_servers: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct NicIpConfigurationCreate {
    pub name: String,
    pub properties: NicIpConfigurationCreateProperties,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct NicIpConfigurationCreateProperties {
    #[serde(rename = "privateIPAllocationMethod")]
    pub(crate) private_ip_allocation_method: &'static str,
    #[serde(rename = "privateIPAddressVersion")]
    pub(crate) private_ip_address_version: &'static str,
    pub subnet: SubResource,
    pub primary: bool,
    #[serde(rename = "privateIPAddress", skip_serializing_if = "Option::is_none")]
    pub(crate) private_ip_address: Option<String>,
    #[serde(rename = "publicIPAddress", skip_serializing_if = "Option::is_none")]
    pub(crate) public_ip_address: Option<SubResource>,
    #[serde(
        rename = "loadBalancerBackendAddressPools",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) load_balancer_backend_address_pools: Vec<SubResource>,
    #[serde(
        rename = "loadBalancerInboundNatRules",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) load_balancer_inbound_nat_rules: Vec<SubResource>,
    #[serde(
        rename = "applicationGatewayBackendAddressPools",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub(crate) application_gateway_backend_address_pools: Vec<SubResource>,
    #[serde(
        rename = "applicationSecurityGroups",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub application_security_groups: Vec<SubResource>,
}

/// The fields the CPI reads from a NIC GET or list entry.
pub(crate) type NetworkInterface = Resource<NetworkInterfaceProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct NetworkInterfaceProperties {
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(
        rename = "ipConfigurations",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) ip_configurations: Vec<NicIpConfiguration>,
    /// The VM using the NIC; absent while it is free.
    #[serde(rename = "virtualMachine", default)]
    pub(crate) virtual_machine: Option<SubResource>,
    #[serde(rename = "networkSecurityGroup", default)]
    pub(crate) network_security_group: Option<SubResource>,
    #[serde(rename = "dnsSettings", default)]
    pub(crate) dns_settings: Option<DnsSettings>,
    #[serde(rename = "enableIPForwarding", default)]
    pub(crate) enable_ip_forwarding: Option<bool>,
    #[serde(rename = "enableAcceleratedNetworking", default)]
    pub(crate) enable_accelerated_networking: Option<bool>,
    /// Whether this is the VM's primary NIC (read-only, set once attached).
    #[serde(default)]
    pub primary: Option<bool>,
    #[serde(rename = "macAddress", default)]
    pub(crate) mac_address: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct DnsSettings {
    #[serde(
        rename = "dnsServers",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) dns_servers: Vec<String>,
}

pub(crate) type NicIpConfiguration = ChildResource<NicIpConfigurationProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct NicIpConfigurationProperties {
    #[serde(rename = "privateIPAddress", default)]
    pub(crate) private_ip_address: Option<String>,
    #[serde(rename = "privateIPAllocationMethod", default)]
    pub(crate) private_ip_allocation_method: Option<String>,
    #[serde(rename = "privateIPAddressVersion", default)]
    pub(crate) private_ip_address_version: Option<String>,
    #[serde(default)]
    pub primary: Option<bool>,
    #[serde(default)]
    pub subnet: Option<SubResource>,
    #[serde(rename = "publicIPAddress", default)]
    pub(crate) public_ip_address: Option<SubResource>,
    #[serde(
        rename = "loadBalancerBackendAddressPools",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) load_balancer_backend_address_pools: Vec<SubResource>,
    #[serde(
        rename = "loadBalancerInboundNatRules",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) load_balancer_inbound_nat_rules: Vec<SubResource>,
    #[serde(
        rename = "applicationGatewayBackendAddressPools",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) application_gateway_backend_address_pools: Vec<SubResource>,
    #[serde(
        rename = "applicationSecurityGroups",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub application_security_groups: Vec<SubResource>,
}

impl NetworkInterface {
    /// The availability set recorded on the primary NIC at create time.
    pub(crate) fn availability_set_tag(&self) -> Option<&str> {
        self.tags.get(AVAILABILITY_SET_TAG).map(String::as_str)
    }

    /// The ipconfig marked primary, else the first (Ruby's rule).
    #[cfg(test)]
    pub(crate) fn primary_ip_configuration(&self) -> Option<&NicIpConfiguration> {
        let configs = &self.properties.ip_configurations;
        configs
            .iter()
            .find(|c| c.properties.primary == Some(true))
            .or_else(|| configs.first())
    }

    /// The primary ipconfig's private address.
    #[cfg(test)]
    pub(crate) fn private_ip(&self) -> Option<&str> {
        self.primary_ip_configuration()
            .and_then(|c| c.properties.private_ip_address.as_deref())
    }

    /// The id of the VM the NIC is attached to.
    #[cfg(test)]
    pub(crate) fn virtual_machine_id(&self) -> Option<&str> {
        self.properties
            .virtual_machine
            .as_ref()
            .map(|vm| vm.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const SUBNET: &str = "/subscriptions/sub/resourceGroups/net-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet";
    const NSG: &str = "/subscriptions/sub/resourceGroups/net-rg/providers/Microsoft.Network/networkSecurityGroups/nsg";
    const PIP: &str =
        "/subscriptions/sub/resourceGroups/vm-rg/providers/Microsoft.Network/publicIPAddresses/vm";

    fn base_spec() -> NicSpec {
        NicSpec {
            name: "vm-0".into(),
            location: "eastus".into(),
            ipconfig_name: ipconfig_name(0),
            private_ip: Some("10.0.0.100".into()),
            ids: ResolvedNicIds {
                subnet_id: SUBNET.into(),
                network_security_group_id: Some(NSG.into()),
                ..ResolvedNicIds::default()
            },
            ..NicSpec::default()
        }
    }

    fn body(spec: &NicSpec) -> Value {
        serde_json::to_value(spec.body()).unwrap()
    }

    #[test]
    fn names_are_deterministic() {
        assert_eq!(ipconfig_name(2), "ipconfig2");
    }

    #[test]
    fn recognises_only_this_vms_nics() {
        let vm = crate::cid::VmCid::new_managed("vm-abc", "rg").unwrap();
        for index in [0, 1, 12] {
            assert!(is_nic_of_vm(&vm.nic_name(index), vm.vm_name()));
        }
        for other in [
            "vm-abc",
            "vm-abc-",
            "vm-abc-x",
            "vm-abc-0-1",
            "xvm-abc-0",
            "vm-ab-0",
            "vm-abcd-0",
            "vm-abc0",
        ] {
            assert!(!is_nic_of_vm(other, "vm-abc"), "{other}");
        }
        assert!(is_nic_of_vm("VM-ABC-3", "vm-abc"));
        assert!(!is_nic_of_vm("agent-10-0", "agent-1"));
        assert!(!is_nic_of_vm("agent-1-0", "agent"));
    }

    #[test]
    fn static_nic_with_nsg_and_public_ip() {
        let spec = NicSpec {
            primary: Some(PrimaryNicAttachments {
                public_ip_id: Some(PIP.into()),
                availability_set: Some("as-1".into()),
                ..PrimaryNicAttachments::default()
            }),
            ..base_spec()
        };
        assert_eq!(
            body(&spec),
            json!({
                "location": "eastus",
                "tags": {"user-agent": "bosh", "availability_set": "as-1"},
                "properties": {
                    "networkSecurityGroup": {"id": NSG},
                    "enableIPForwarding": false,
                    "enableAcceleratedNetworking": false,
                    "ipConfigurations": [{
                        "name": "ipconfig0",
                        "properties": {
                            "privateIPAllocationMethod": "Static",
                            "privateIPAddressVersion": "IPv4",
                            "subnet": {"id": SUBNET},
                            "primary": true,
                            "privateIPAddress": "10.0.0.100",
                            "publicIPAddress": {"id": PIP}
                        }
                    }],
                    "dnsSettings": {"dnsServers": []}
                }
            })
        );
    }

    #[test]
    fn dynamic_nic_without_nsg_leaves_both_out() {
        let mut spec = NicSpec {
            private_ip: None,
            enable_ip_forwarding: true,
            enable_accelerated_networking: true,
            dns_servers: vec!["168.63.129.16".into()],
            ..base_spec()
        };
        spec.ids.network_security_group_id = None;
        let body = serde_json::to_string(&spec.body()).unwrap();
        assert_eq!(
            body,
            format!(
                concat!(
                    r#"{{"location":"eastus","tags":{{"user-agent":"bosh"}},"properties":{{"#,
                    r#""enableIPForwarding":true,"enableAcceleratedNetworking":true,"#,
                    r#""ipConfigurations":[{{"name":"ipconfig0","properties":{{"#,
                    r#""privateIPAllocationMethod":"Dynamic","privateIPAddressVersion":"IPv4","#,
                    r#""subnet":{{"id":"{}"}},"primary":true}}}}],"#,
                    r#""dnsSettings":{{"dnsServers":["168.63.129.16"]}}}}}}"#
                ),
                SUBNET
            )
        );
    }

    #[test]
    fn load_balancers_add_one_pool_each_and_first_frontend_nat_rules() {
        let mut spec = NicSpec {
            primary: Some(PrimaryNicAttachments {
                load_balancers: vec![
                    LoadBalancerAttachment {
                        backend_pool_id: Some("lb1-pool2".into()),
                        inbound_nat_rules: vec![
                            SubResource::new("lb1-nat-a"),
                            SubResource::new("lb1-nat-b"),
                        ],
                    },
                    LoadBalancerAttachment {
                        backend_pool_id: Some("lb2-pool1".into()),
                        inbound_nat_rules: vec![],
                    },
                    // An LB without pools contributes nothing but its NAT rules.
                    LoadBalancerAttachment {
                        backend_pool_id: None,
                        inbound_nat_rules: vec![SubResource::new("lb3-nat")],
                    },
                ],
                application_gateway_pool_ids: vec!["agw1-pool".into(), "agw2-pool".into()],
                ..PrimaryNicAttachments::default()
            }),
            ..base_spec()
        };
        spec.ids.application_security_group_ids = vec!["asg-1".into(), "asg-2".into()];
        let ipconfig = &body(&spec)["properties"]["ipConfigurations"][0]["properties"];
        assert_eq!(
            ipconfig["loadBalancerBackendAddressPools"],
            json!([{"id": "lb1-pool2"}, {"id": "lb2-pool1"}])
        );
        assert_eq!(
            ipconfig["loadBalancerInboundNatRules"],
            json!([{"id": "lb1-nat-a"}, {"id": "lb1-nat-b"}, {"id": "lb3-nat"}])
        );
        assert_eq!(
            ipconfig["applicationGatewayBackendAddressPools"],
            json!([{"id": "agw1-pool"}, {"id": "agw2-pool"}])
        );
        assert_eq!(
            ipconfig["applicationSecurityGroups"],
            json!([{"id": "asg-1"}, {"id": "asg-2"}])
        );
    }

    #[test]
    fn empty_lists_are_left_out() {
        let spec = NicSpec {
            primary: Some(PrimaryNicAttachments {
                load_balancers: vec![LoadBalancerAttachment::default()],
                ..PrimaryNicAttachments::default()
            }),
            ..base_spec()
        };
        let ipconfig = &body(&spec)["properties"]["ipConfigurations"][0]["properties"];
        let keys: Vec<&str> = ipconfig
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "privateIPAllocationMethod",
                "privateIPAddressVersion",
                "subnet",
                "primary",
                "privateIPAddress"
            ]
        );
    }

    /// Azure's NetworkInterfaceGet example (2024-05-01), plus tags.
    fn nic_get() -> Value {
        json!({
            "name": "test-nic",
            "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/test-nic",
            "location": "eastus",
            "tags": {"user-agent": "bosh", "availability_set": "bosh-as"},
            "properties": {
                "provisioningState": "Succeeded",
                "ipConfigurations": [
                    {
                        "name": "ipconfig2",
                        "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/test-nic/ipConfigurations/ipconfig2",
                        "properties": {
                            "provisioningState": "Succeeded",
                            "privateIPAddress": "172.20.2.16/28",
                            "privateIPAddressPrefixLength": 28,
                            "privateIPAllocationMethod": "Dynamic",
                            "subnet": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/rg1-vnet/subnets/default"},
                            "primary": false,
                            "privateIPAddressVersion": "IPv4"
                        }
                    },
                    {
                        "name": "ipconfig1",
                        "id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkInterfaces/test-nic/ipConfigurations/ipconfig1",
                        "properties": {
                            "provisioningState": "Succeeded",
                            "privateIPAddress": "172.20.2.4",
                            "privateIPAllocationMethod": "Dynamic",
                            "publicIPAddress": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/publicIPAddresses/test-ip"},
                            "subnet": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/rg1-vnet/subnets/default"},
                            "primary": true,
                            "privateIPAddressVersion": "IPv4",
                            "loadBalancerBackendAddressPools": [{"id": "pool-k"}],
                            "applicationGatewayBackendAddressPools": [{"id": "pool-l"}],
                            "applicationSecurityGroups": [{"id": "asg-1"}]
                        }
                    }
                ],
                "dnsSettings": {"dnsServers": [], "appliedDnsServers": [], "internalDomainNameSuffix": "test.bx.internal.cloudapp.net"},
                "macAddress": "00-0D-3A-1B-C7-21",
                "enableAcceleratedNetworking": true,
                "disableTcpStateTracking": true,
                "enableIPForwarding": false,
                "networkSecurityGroup": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/networkSecurityGroups/nsg"},
                "primary": true,
                "virtualMachine": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"},
                "vnetEncryptionSupported": false
            },
            "type": "Microsoft.Network/networkInterfaces"
        })
    }

    #[test]
    fn parses_a_nic_get() {
        let nic: NetworkInterface = serde_json::from_value(nic_get()).unwrap();
        assert_eq!(nic.name, "test-nic");
        assert_eq!(nic.availability_set_tag(), Some("bosh-as"));
        assert_eq!(
            nic.virtual_machine_id(),
            Some(
                "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"
            )
        );
        // The primary ipconfig is found even when it is not first.
        let primary = nic.primary_ip_configuration().unwrap();
        assert_eq!(primary.name, "ipconfig1");
        assert_eq!(nic.private_ip(), Some("172.20.2.4"));
        assert_eq!(
            primary.properties.load_balancer_backend_address_pools[0].id,
            "pool-k"
        );
        assert_eq!(
            primary.properties.application_gateway_backend_address_pools[0].id,
            "pool-l"
        );
        assert_eq!(
            primary.properties.application_security_groups[0].id,
            "asg-1"
        );
        assert!(primary.properties.public_ip_address.is_some());
        assert_eq!(nic.properties.enable_accelerated_networking, Some(true));
        assert_eq!(
            nic.properties.provisioning_state.as_deref(),
            Some("Succeeded")
        );
        assert!(nic.properties.network_security_group.is_some());
        assert_eq!(nic.properties.dns_settings.unwrap().dns_servers.len(), 0);
    }

    #[test]
    fn finds_a_vms_nics_and_its_availability_set_in_a_listing() {
        let listing: Vec<NetworkInterface> = serde_json::from_value(json!([
            {"name": "vm-abc-0", "id": "a", "tags": {"user-agent": "bosh", "availability_set": "as-1"}},
            {"name": "vm-abc-1", "id": "b", "tags": {"user-agent": "bosh"}},
            {"name": "vm-abcd-0", "id": "c", "tags": {"availability_set": "as-other"}},
            {"name": "unrelated", "id": "d"}
        ]))
        .unwrap();
        let mine = nics_of_vm(&listing, "vm-abc");
        assert_eq!(
            mine.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["vm-abc-0", "vm-abc-1"]
        );
        assert_eq!(availability_set_from_nics(&mine), Some("as-1"));
        assert_eq!(availability_set_from_nics(&mine[1..]), None);
        assert!(nics_of_vm(&listing, "vm-x").is_empty());
    }

    #[test]
    fn nulls_in_a_response_read_as_empty() {
        let nic: NetworkInterface = serde_json::from_value(json!({
            "id": "nic-id",
            "name": null,
            "tags": null,
            "properties": {
                "ipConfigurations": [{"id": null, "properties": {
                    "loadBalancerBackendAddressPools": null,
                    "applicationSecurityGroups": null
                }}],
                "dnsSettings": {"dnsServers": null}
            }
        }))
        .unwrap();
        assert_eq!(nic.name, "");
        assert!(nic.tags.is_empty());
        let config = nic.primary_ip_configuration().unwrap();
        assert!(
            config
                .properties
                .load_balancer_backend_address_pools
                .is_empty()
        );
        assert!(nic.properties.dns_settings.unwrap().dns_servers.is_empty());
        let lb: crate::azure::network::load_balancer::LoadBalancer = serde_json::from_value(
            json!({"id": "lb", "properties": {"backendAddressPools": null, "frontendIPConfigurations": null}}),
        )
        .unwrap();
        assert!(lb.properties.backend_address_pools.is_empty());
    }

    #[test]
    fn a_free_minimal_nic_falls_back_to_its_first_ipconfig() {
        let nic: NetworkInterface = serde_json::from_value(json!({
            "id": "nic-id",
            "name": "vm-1",
            "properties": {"ipConfigurations": [{"id": "d1", "properties": {"privateIPAddress": "10.0.0.9"}}]}
        }))
        .unwrap();
        assert_eq!(nic.private_ip(), Some("10.0.0.9"));
        assert_eq!(nic.virtual_machine_id(), None);
        assert_eq!(nic.availability_set_tag(), None);
    }
}
