//! The network phase of create_vm (Ruby `VMManager#_create_network_interfaces`), decided before
//! any request is sent, from values `props` already parsed and validated ([`Networks`]: the
//! NetworkConfigurator rules, NIC order with the primary first, the vip network;
//! [`VmCloudProps`]: the VM-level overrides and the LB/AGW pools):
//!
//! - one NIC per manual/dynamic network, in `Networks` order: NIC `i` is `VmCid::nic_name(i)`
//!   with `ipconfig<i>`, in the VM's resource group;
//! - the public IP: the vip network's address (searched in its RG), else a dynamic PIP when
//!   `assign_dynamic_public_ip`, else none. PIP, LBs and AGWs go on the primary NIC only;
//! - per NIC: the NSG `props::effective_security_group` chooses (vm > network > default), ASGs
//!   (vm > network), ip_forwarding and accelerated_networking (vm > network), the subnet;
//! - the VNet that gives the VM its location (the primary network's).
//!
//! Its only errors are an empty NSG name once chosen and a bad `pip_idle_timeout_in_minutes`,
//! both raised before anything is created (Ruby found an empty NSG name only after creating
//! the public IP).

use super::backend_pool::BackendPoolPlan;
use super::ids::{NetworkKind, ResourceLookup};
use super::interface::{NicSpec, PrimaryNicAttachments, ResolvedNicIds, ipconfig_name};
use super::public_ip::DynamicPublicIp;
use super::security_group::{application_security_group_lookups, network_security_group_lookup};
use super::virtual_network::{subnet_lookup, virtual_network_lookup};
use crate::azure::ResourcePath;
use crate::cid::VmCid;
use crate::error::CpiResult;
use crate::props::{
    Networks, SecurityGroup, SubnetNetwork, SubnetNetworkType, VmCloudProps,
    effective_security_group,
};

/// Global settings and the new VM's identity.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanContext<'a> {
    pub subscription_id: &'a str,
    /// The new VM: its NICs are named after it, and its RG holds the NICs and the dynamic PIP.
    pub vm: &'a VmCid,
    /// cpi.json `resource_group_name`: the last place NSGs and ASGs are searched.
    pub(crate) default_resource_group: &'a str,
    /// cpi.json `default_security_group`.
    pub default_security_group: Option<&'a SecurityGroup>,
    /// cpi.json `pip_idle_timeout_in_minutes` (Ruby default 4).
    pub(crate) pip_idle_timeout_in_minutes: u64,
}

/// Where the primary NIC's public IP comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicIpPlan {
    None,
    /// List the PIPs of `resource_group` and take the one whose address is `address`
    /// (`public_ip::find_by_address`; none is `public_ip::vip_not_found_error`).
    Vip {
        address: String,
        resource_group: String,
    },
    /// PUT this PIP, then GET it for its id.
    Dynamic(DynamicPublicIp),
}

/// One NIC to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlannedNic {
    /// 0 is the primary NIC.
    pub index: usize,
    /// The Director's network name.
    pub(crate) network_name: String,
    pub name: String,
    pub id: ResourcePath,
    pub(crate) ipconfig_name: String,
    /// Manual networks: the Static address. Dynamic networks: `None`.
    pub(crate) private_ip: Option<String>,
    pub subnet: ResourceLookup,
    pub(crate) network_security_group: Option<ResourceLookup>,
    pub application_security_groups: Vec<ResourceLookup>,
    pub(crate) enable_ip_forwarding: bool,
    pub(crate) enable_accelerated_networking: bool,
}

impl PlannedNic {
    pub(crate) fn is_primary(&self) -> bool {
        self.index == 0
    }

    /// The NIC's PUT input, once its lookups are resolved and the location is known; only the
    /// primary NIC takes `primary`.
    pub(crate) fn spec(
        &self,
        location: &str,
        ids: ResolvedNicIds,
        primary: &PrimaryNicAttachments,
    ) -> NicSpec {
        NicSpec {
            name: self.name.clone(),
            location: location.to_owned(),
            ipconfig_name: self.ipconfig_name.clone(),
            private_ip: self.private_ip.clone(),
            ids,
            enable_ip_forwarding: self.enable_ip_forwarding,
            enable_accelerated_networking: self.enable_accelerated_networking,
            dns_servers: Vec::new(),
            primary: self.is_primary().then(|| primary.clone()),
        }
    }
}

/// The network phase of create_vm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NetworkPlan {
    /// Primary first.
    pub(crate) nics: Vec<PlannedNic>,
    /// The primary network's VNet: its location is the VM's.
    pub(crate) virtual_network: ResourceLookup,
    pub public_ip: PublicIpPlan,
    /// GET each owner; its `LoadBalancer::attachment` goes on the primary NIC.
    pub(crate) load_balancers: Vec<BackendPoolPlan>,
    /// GET each owner; its `ApplicationGateway::backend_pool_id` goes on the primary NIC.
    pub(crate) application_gateways: Vec<BackendPoolPlan>,
}

/// Decides the NICs, the public IP and the LB/AGW pools of the primary NIC.
pub(crate) fn plan_networks(
    networks: &Networks,
    vm: &VmCloudProps,
    context: &PlanContext<'_>,
) -> CpiResult<NetworkPlan> {
    let primary = networks.primary();
    let virtual_network = virtual_network_lookup(
        context.subscription_id,
        &primary.resource_group_name,
        &primary.virtual_network_name,
    );
    let public_ip = public_ip_plan(networks, vm, context)?;
    let nics = networks
        .networks()
        .iter()
        .enumerate()
        .map(|(index, network)| plan_nic(index, network, vm, context))
        .collect::<CpiResult<Vec<_>>>()?;
    let sub = context.subscription_id;
    Ok(NetworkPlan {
        nics,
        virtual_network,
        public_ip,
        load_balancers: (vm.load_balancers.iter().flatten())
            .map(|reference| BackendPoolPlan::load_balancer(sub, reference))
            .collect(),
        application_gateways: (vm.application_gateways.iter().flatten())
            .map(|reference| BackendPoolPlan::application_gateway(sub, reference))
            .collect(),
    })
}

fn public_ip_plan(
    networks: &Networks,
    vm: &VmCloudProps,
    context: &PlanContext<'_>,
) -> CpiResult<PublicIpPlan> {
    if let Some(vip) = networks.vip() {
        return Ok(PublicIpPlan::Vip {
            address: vip.ip.clone(),
            resource_group: vip.resource_group_name.clone(),
        });
    }
    if vm.assign_dynamic_public_ip {
        return Ok(PublicIpPlan::Dynamic(DynamicPublicIp::new(
            context.vm.resource_group_name(),
            context.vm.vm_name(),
            context.pip_idle_timeout_in_minutes,
            vm.availability_zone.as_deref(),
        )?));
    }
    Ok(PublicIpPlan::None)
}

fn plan_nic(
    index: usize,
    network: &SubnetNetwork,
    vm: &VmCloudProps,
    context: &PlanContext<'_>,
) -> CpiResult<PlannedNic> {
    let network_rg = network.resource_group_name.as_str();
    let name = context.vm.nic_name(index);
    let network_security_group = effective_security_group(
        vm.security_group.as_ref(),
        network.security_group.as_ref(),
        context.default_security_group,
    )?
    .map(|group| {
        network_security_group_lookup(
            context.subscription_id,
            group,
            network_rg,
            context.default_resource_group,
        )
    });
    Ok(PlannedNic {
        index,
        network_name: network.name.clone(),
        id: NetworkKind::NetworkInterface.id(
            context.subscription_id,
            context.vm.resource_group_name(),
            &name,
        ),
        name,
        ipconfig_name: ipconfig_name(index),
        private_ip: match network.network_type {
            SubnetNetworkType::Manual => network.ip.clone(),
            SubnetNetworkType::Dynamic => None,
        },
        subnet: subnet_lookup(
            context.subscription_id,
            network_rg,
            &network.virtual_network_name,
            &network.subnet_name,
        ),
        network_security_group,
        application_security_groups: application_security_group_lookups(
            context.subscription_id,
            vm.application_security_groups.as_deref(),
            &network.application_security_groups,
            network_rg,
            context.default_resource_group,
        ),
        enable_ip_forwarding: vm.ip_forwarding.unwrap_or(network.ip_forwarding),
        enable_accelerated_networking: vm
            .accelerated_networking
            .unwrap_or(network.accelerated_networking),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::network::load_balancer::LoadBalancerAttachment;
    use crate::props::PropsContext;
    use serde_json::{Value, json};

    const SUB: &str = "sub";

    fn vm_cid() -> VmCid {
        VmCid::new_managed("vm-1", "vm-rg").unwrap()
    }

    /// `networks` and the VM's cloud_properties as the Director sends them, through `props`.
    fn plan_with(
        networks: Value,
        vm: Value,
        default_security_group: Option<&SecurityGroup>,
        pip_idle_timeout_in_minutes: u64,
    ) -> CpiResult<NetworkPlan> {
        let networks = Networks::from_value(&networks, &PropsContext::for_tests()).unwrap();
        let mut vm_props = json!({"instance_type": "Standard_D1"});
        for (key, value) in vm.as_object().unwrap() {
            vm_props[key] = value.clone();
        }
        let vm_props = VmCloudProps::from_value(&vm_props, &PropsContext::for_tests()).unwrap();
        let vm = vm_cid();
        let context = PlanContext {
            subscription_id: SUB,
            vm: &vm,
            default_resource_group: "default-rg",
            default_security_group,
            pip_idle_timeout_in_minutes,
        };
        plan_networks(&networks, &vm_props, &context)
    }

    fn plan_for(networks: Value, vm: Value) -> NetworkPlan {
        plan_with(networks, vm, None, 4).unwrap()
    }

    fn manual(ip: &str, subnet: &str, default: &[&str]) -> Value {
        json!({
            "type": "manual",
            "ip": ip,
            "default": default,
            "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": subnet}
        })
    }

    fn dynamic(subnet: &str, default: &[&str]) -> Value {
        json!({
            "type": "dynamic",
            // Ignored: a dynamic network never pins its address.
            "ip": "10.9.9.9",
            "default": default,
            "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": subnet}
        })
    }

    fn nsg_name(nic: &PlannedNic) -> Option<&str> {
        nic.network_security_group.as_ref().map(|l| l.name.as_str())
    }

    #[test]
    fn single_manual_network_gives_one_static_primary_nic() {
        let plan = plan_for(json!({"a": manual("10.0.0.4", "subnet-a", &[])}), json!({}));
        assert_eq!(plan.nics.len(), 1);
        let nic = &plan.nics[0];
        assert!(nic.is_primary());
        assert_eq!(nic.network_name, "a");
        assert_eq!(nic.name, "vm-1-0");
        assert_eq!(nic.ipconfig_name, "ipconfig0");
        assert_eq!(nic.private_ip.as_deref(), Some("10.0.0.4"));
        assert_eq!(
            nic.id.to_string(),
            "/subscriptions/sub/resourceGroups/vm-rg/providers/Microsoft.Network/networkInterfaces/vm-1-0"
        );
        assert_eq!(
            nic.subnet.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/default-rg/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet-a"
        );
        assert_eq!(nic.network_security_group, None);
        assert!(nic.application_security_groups.is_empty());
        assert!(!nic.enable_ip_forwarding && !nic.enable_accelerated_networking);
        assert_eq!(
            plan.virtual_network.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/default-rg/providers/Microsoft.Network/virtualNetworks/vnet"
        );
        assert_eq!(plan.public_ip, PublicIpPlan::None);
        assert!(plan.load_balancers.is_empty() && plan.application_gateways.is_empty());
    }

    #[test]
    fn nics_follow_the_props_order_with_the_gateway_network_first() {
        let plan = plan_for(
            json!({
                "a": manual("10.0.0.4", "subnet-a", &["dns"]),
                "b": dynamic("subnet-b", &[]),
                "c": manual("10.0.2.4", "subnet-c", &["gateway"]),
            }),
            json!({}),
        );
        let order: Vec<(&str, &str, &str, Option<&str>)> = plan
            .nics
            .iter()
            .map(|n| {
                (
                    n.network_name.as_str(),
                    n.name.as_str(),
                    n.ipconfig_name.as_str(),
                    n.private_ip.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                ("c", "vm-1-0", "ipconfig0", Some("10.0.2.4")),
                ("a", "vm-1-1", "ipconfig1", Some("10.0.0.4")),
                ("b", "vm-1-2", "ipconfig2", None),
            ]
        );
        assert!(plan.nics[0].is_primary() && !plan.nics[1].is_primary());
    }

    #[test]
    fn primary_vnet_is_searched_in_the_network_resource_group() {
        let mut network = manual("10.0.0.4", "subnet-a", &[]);
        network["cloud_properties"]["resource_group_name"] = json!("net-rg");
        let plan = plan_for(json!({"a": network}), json!({}));
        assert_eq!(
            plan.virtual_network.not_found,
            "Cannot find the virtual network 'vnet' under resource group 'net-rg'"
        );
        assert!(
            plan.nics[0].subnet.candidates[0]
                .to_string()
                .contains("/resourceGroups/net-rg/")
        );
    }

    #[test]
    fn vip_wins_over_dynamic_public_ip() {
        let vm = json!({"assign_dynamic_public_ip": true});
        let plan = plan_for(
            json!({
                "a": manual("10.0.0.4", "subnet-a", &[]),
                "public": {"type": "vip", "ip": "52.1.2.3", "cloud_properties": {"resource_group_name": "pip-rg"}}
            }),
            vm.clone(),
        );
        assert_eq!(
            plan.public_ip,
            PublicIpPlan::Vip {
                address: "52.1.2.3".into(),
                resource_group: "pip-rg".into()
            }
        );
        assert_eq!(plan.nics.len(), 1);
        let default_rg = plan_for(
            json!({"public": {"type": "vip", "ip": "52.1.2.3"}, "a": dynamic("subnet-a", &[])}),
            vm,
        );
        assert_eq!(
            default_rg.public_ip,
            PublicIpPlan::Vip {
                address: "52.1.2.3".into(),
                resource_group: "default-rg".into()
            }
        );
    }

    #[test]
    fn dynamic_public_ip_is_named_after_the_vm_in_its_rg_and_zone() {
        let networks = json!({"a": manual("10.0.0.4", "subnet-a", &[])});
        let vm = json!({"assign_dynamic_public_ip": true, "availability_zone": "3"});
        let plan = plan_for(networks.clone(), vm.clone());
        let PublicIpPlan::Dynamic(pip) = &plan.public_ip else {
            panic!("expected a dynamic public IP, got {:?}", plan.public_ip);
        };
        assert_eq!(
            serde_json::to_value(pip.body("eastus")).unwrap(),
            json!({"location": "eastus", "sku": {"name": "Standard"},
                   "properties": {"publicIPAllocationMethod": "Static", "idleTimeoutInMinutes": 4},
                   "zones": ["3"]})
        );
        assert_eq!(
            pip.id(SUB).to_string(),
            "/subscriptions/sub/resourceGroups/vm-rg/providers/Microsoft.Network/publicIPAddresses/vm-1"
        );
        let err = plan_with(networks.clone(), vm, None, 31).unwrap_err();
        assert_eq!(
            err.message(),
            "Maximum idle_timeout_in_minutes is 30 minutes"
        );
        // The timeout only matters when a dynamic PIP is made.
        assert!(plan_with(networks, json!({}), None, 31).is_ok());
    }

    #[test]
    fn vm_overrides_network_settings_on_every_nic() {
        let mut a = manual("10.0.0.4", "subnet-a", &["gateway"]);
        a["cloud_properties"]["security_group"] = json!("net-nsg");
        a["cloud_properties"]["application_security_groups"] = json!(["net-asg"]);
        a["cloud_properties"]["ip_forwarding"] = json!(true);
        a["cloud_properties"]["resource_group_name"] = json!("net-rg");
        let networks = json!({"a": a, "b": dynamic("subnet-b", &[])});
        let vm = json!({
            "security_group": "vm-nsg",
            "application_security_groups": ["vm-asg"],
            "ip_forwarding": false,
            "accelerated_networking": true
        });
        let plan = plan_for(networks.clone(), vm);
        for nic in &plan.nics {
            assert_eq!(nsg_name(nic), Some("vm-nsg"));
            assert_eq!(nic.application_security_groups[0].name, "vm-asg");
            assert!(!nic.enable_ip_forwarding);
            assert!(nic.enable_accelerated_networking);
        }
        // NSG candidates follow each NIC's own network RG, then the default RG.
        let nsg_ids: Vec<String> = plan.nics[0]
            .network_security_group
            .as_ref()
            .unwrap()
            .candidates
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(nsg_ids.len(), 2);
        assert!(nsg_ids[0].contains("/resourceGroups/net-rg/"));
        assert!(nsg_ids[1].contains("/resourceGroups/default-rg/"));
        assert_eq!(
            plan.nics[1]
                .network_security_group
                .as_ref()
                .unwrap()
                .candidates
                .len(),
            1
        );

        // Without VM overrides each network keeps its own settings.
        let plan = plan_for(networks, json!({}));
        assert_eq!(nsg_name(&plan.nics[0]), Some("net-nsg"));
        assert_eq!(plan.nics[0].application_security_groups[0].name, "net-asg");
        assert!(plan.nics[0].enable_ip_forwarding);
        assert_eq!(plan.nics[1].network_security_group, None);
        assert!(!plan.nics[1].enable_ip_forwarding);
    }

    #[test]
    fn a_security_group_without_a_name_falls_through_to_the_next_level() {
        let mut network = manual("10.0.0.4", "subnet-a", &[]);
        network["cloud_properties"]["security_group"] =
            json!({"name": "net-nsg", "resource_group_name": "nsg-rg"});
        let plan = plan_for(
            json!({"a": network}),
            json!({"security_group": {"resource_group_name": "ignored"}}),
        );
        let nsg = plan.nics[0].network_security_group.as_ref().unwrap();
        assert_eq!(nsg.name, "net-nsg");
        assert_eq!(
            nsg.not_found,
            "Cannot found the security group: net-nsg in the specified resource group: nsg-rg"
        );
    }

    #[test]
    fn default_security_group_applies_when_vm_and_network_have_none() {
        let networks = json!({"a": manual("10.0.0.4", "subnet-a", &[])});
        let default_nsg = SecurityGroup {
            name: "default-nsg".into(),
            resource_group_name: Some("nsg-rg".into()),
        };
        let plan = plan_with(networks.clone(), json!({}), Some(&default_nsg), 4).unwrap();
        let nsg = plan.nics[0].network_security_group.as_ref().unwrap();
        assert_eq!(nsg.name, "default-nsg");
        assert_eq!(
            nsg.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/nsg-rg/providers/Microsoft.Network/networkSecurityGroups/default-nsg"
        );
        let err = plan_with(
            networks,
            json!({"security_group": ""}),
            Some(&default_nsg),
            4,
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "Cannot specify an empty string to the network security group"
        );
    }

    #[test]
    fn load_balancers_gateways_and_public_ip_go_on_the_primary_nic_only() {
        let plan = plan_for(
            json!({
                "a": manual("10.0.0.4", "subnet-a", &["gateway"]),
                "b": dynamic("subnet-b", &[]),
            }),
            json!({"load_balancer": ["lb-1", {"name": "lb-2", "backend_pool_name": "p"}]}),
        );
        assert_eq!(
            plan.load_balancers
                .iter()
                .map(|p| (p.owner.name.as_str(), p.backend_pool_name.as_deref()))
                .collect::<Vec<_>>(),
            [("lb-1", None), ("lb-2", Some("p"))]
        );
        let attachments = PrimaryNicAttachments {
            public_ip_id: Some("pip-id".into()),
            load_balancers: vec![LoadBalancerAttachment {
                backend_pool_id: Some("pool-id".into()),
                inbound_nat_rules: vec![],
            }],
            application_gateway_pool_ids: vec!["agw-pool".into()],
            availability_set: Some("as-1".into()),
        };
        let resolved = |subnet: &str| ResolvedNicIds {
            subnet_id: subnet.into(),
            network_security_group_id: Some("nsg-id".into()),
            application_security_group_ids: vec!["asg-id".into()],
        };
        let primary = plan.nics[0].spec("eastus", resolved("subnet-a"), &attachments);
        let secondary = plan.nics[1].spec("eastus", resolved("subnet-b"), &attachments);
        assert_eq!(
            serde_json::to_value(primary.body()).unwrap(),
            json!({
                "location": "eastus",
                "tags": {"user-agent": "bosh", "availability_set": "as-1"},
                "properties": {
                    "networkSecurityGroup": {"id": "nsg-id"},
                    "enableIPForwarding": false,
                    "enableAcceleratedNetworking": false,
                    "ipConfigurations": [{
                        "name": "ipconfig0",
                        "properties": {
                            "privateIPAllocationMethod": "Static",
                            "privateIPAddressVersion": "IPv4",
                            "subnet": {"id": "subnet-a"},
                            "primary": true,
                            "privateIPAddress": "10.0.0.4",
                            "publicIPAddress": {"id": "pip-id"},
                            "loadBalancerBackendAddressPools": [{"id": "pool-id"}],
                            "applicationGatewayBackendAddressPools": [{"id": "agw-pool"}],
                            "applicationSecurityGroups": [{"id": "asg-id"}]
                        }
                    }],
                    "dnsSettings": {"dnsServers": []}
                }
            })
        );
        assert_eq!(
            secondary,
            NicSpec {
                name: "vm-1-1".into(),
                location: "eastus".into(),
                ipconfig_name: "ipconfig1".into(),
                private_ip: None,
                ids: resolved("subnet-b"),
                primary: None,
                ..NicSpec::default()
            }
        );
    }

    /// End to end for the Ruby `create_network_interface` vectors "multiple load balancers /
    /// multiple application gateways, backend_pool_name specified": property → GET → NIC body.
    #[test]
    fn configured_pools_flow_from_the_property_to_the_nic_body() {
        use crate::azure::network::application_gateway::ApplicationGateway;
        use crate::azure::network::load_balancer::LoadBalancer;

        let plan = plan_for(
            json!({"a": manual("10.0.0.100", "subnet-a", &[])}),
            json!({
                "load_balancer": [
                    {"name": "lb1", "backend_pool_name": "lb1-pool2"},
                    {"name": "lb2", "resource_group_name": "lb-rg", "backend_pool_name": "lb2-pool2"}
                ],
                "application_gateway": "agw1,agw2"
            }),
        );
        let lb_get = |name: &str| -> LoadBalancer {
            serde_json::from_value(json!({
                "id": name, "name": name,
                "properties": {
                    "frontendIPConfigurations": [
                        {"properties": {"inboundNatRules": [{"id": format!("{name}-nat")}]}},
                        {"properties": {"inboundNatRules": [{"id": format!("{name}-other-nat")}]}}
                    ],
                    "backendAddressPools": [
                        {"name": format!("{name}-pool1"), "id": format!("{name}-pool1-id")},
                        {"name": format!("{name}-pool2"), "id": format!("{name}-pool2-id")}
                    ]
                }
            }))
            .unwrap()
        };
        let agw_get = |name: &str| -> ApplicationGateway {
            serde_json::from_value(json!({
                "id": name, "name": name,
                "properties": {"backendAddressPools": [
                    {"name": "first", "id": format!("{name}-first-id")},
                    {"name": "second", "id": format!("{name}-second-id")}
                ]}
            }))
            .unwrap()
        };
        assert_eq!(
            plan.load_balancers
                .iter()
                .map(|p| p.owner.candidates[0].to_string())
                .collect::<Vec<_>>(),
            [
                "/subscriptions/sub/resourceGroups/default-rg/providers/Microsoft.Network/loadBalancers/lb1",
                "/subscriptions/sub/resourceGroups/lb-rg/providers/Microsoft.Network/loadBalancers/lb2"
            ]
        );
        let attachments = PrimaryNicAttachments {
            public_ip_id: None,
            load_balancers: plan
                .load_balancers
                .iter()
                .map(|p| lb_get(&p.owner.name).attachment(p).unwrap())
                .collect(),
            application_gateway_pool_ids: plan
                .application_gateways
                .iter()
                .filter_map(|p| agw_get(&p.owner.name).backend_pool_id(p).unwrap())
                .collect(),
            availability_set: None,
        };
        let spec = plan.nics[0].spec(
            "eastus",
            ResolvedNicIds {
                subnet_id: "fake-subnet-id".into(),
                ..ResolvedNicIds::default()
            },
            &attachments,
        );
        let body = serde_json::to_value(spec.body()).unwrap();
        assert_eq!(
            body["properties"]["ipConfigurations"][0]["properties"],
            json!({
                "privateIPAllocationMethod": "Static",
                "privateIPAddressVersion": "IPv4",
                "subnet": {"id": "fake-subnet-id"},
                "primary": true,
                "privateIPAddress": "10.0.0.100",
                "loadBalancerBackendAddressPools": [{"id": "lb1-pool2-id"}, {"id": "lb2-pool2-id"}],
                "loadBalancerInboundNatRules": [{"id": "lb1-nat"}, {"id": "lb2-nat"}],
                "applicationGatewayBackendAddressPools": [{"id": "agw1-first-id"}, {"id": "agw2-first-id"}]
            })
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn network() -> impl Strategy<Value = Value> {
            (
                prop_oneof![4 => Just("manual"), 4 => Just("dynamic"), 1 => Just("vip")],
                prop::sample::subsequence(vec!["dns", "gateway", "addressable"], 0..=3),
                "[a-z]{1,4}",
                prop::option::of("[a-z]{1,4}"),
                prop::option::of("[a-z]{0,3}"),
            )
                .prop_map(|(network_type, default, subnet, rg, nsg)| {
                    let mut cloud_properties =
                        json!({"virtual_network_name": "vnet", "subnet_name": subnet});
                    if let Some(rg) = rg {
                        cloud_properties["resource_group_name"] = json!(rg);
                    }
                    if let Some(nsg) = nsg {
                        cloud_properties["security_group"] = json!(nsg);
                    }
                    json!({
                        "type": network_type,
                        "ip": "10.0.0.4",
                        "default": default,
                        "cloud_properties": cloud_properties
                    })
                })
        }

        proptest! {
            #[test]
            fn plan_never_panics_and_keeps_its_invariants(
                networks in prop::collection::vec(network(), 1..5),
                dynamic_ip in any::<bool>(),
            ) {
                let networks = Value::Object(
                    networks
                        .into_iter()
                        .enumerate()
                        .map(|(index, network)| (format!("n{index}"), network))
                        .collect(),
                );
                let Ok(parsed) = Networks::from_value(&networks, &PropsContext::for_tests()) else {
                    return Ok(());
                };
                let vm = json!({"assign_dynamic_public_ip": dynamic_ip});
                let plan = match plan_with(networks.clone(), vm, None, 4) {
                    Ok(plan) => plan,
                    Err(err) => {
                        // The only refusal left: an empty NSG name chosen for some NIC.
                        prop_assert_eq!(
                            err.message(),
                            "Cannot specify an empty string to the network security group"
                        );
                        return Ok(());
                    }
                };
                prop_assert_eq!(plan.nics.len(), parsed.networks().len());
                for (index, (nic, network)) in plan.nics.iter().zip(parsed.networks()).enumerate() {
                    prop_assert_eq!(nic.index, index);
                    prop_assert_eq!(&nic.name, &format!("vm-1-{index}"));
                    prop_assert_eq!(&nic.network_name, &network.name);
                    prop_assert_eq!(nic.subnet.candidates.len(), 1);
                    prop_assert_eq!(
                        nic.private_ip.is_some(),
                        network.network_type == SubnetNetworkType::Manual
                    );
                }
                let has_vip = parsed.vip().is_some();
                match &plan.public_ip {
                    PublicIpPlan::Vip { .. } => prop_assert!(has_vip),
                    PublicIpPlan::Dynamic(_) => prop_assert!(dynamic_ip && !has_vip),
                    PublicIpPlan::None => prop_assert!(!dynamic_ip && !has_vip),
                }
            }
        }
    }
}
