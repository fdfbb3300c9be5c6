//! The pure decisions of create_vm's network phase (Ruby `NetworkConfigurator` plus
//! `VMManager#_create_network_interfaces`), made before any request is sent:
//!
//! - one NIC per manual/dynamic network, in the Director's order, except that a network whose
//!   `default` contains `gateway` is moved to the front (the last such network wins, as Ruby's
//!   `insert(0)`), so it is the primary NIC `<vm>-0`;
//! - the public IP: the vip network's address (searched in its RG), else a dynamic PIP when
//!   `assign_dynamic_public_ip`, else none. PIP, LBs and AGWs go on the primary NIC only;
//! - per NIC: NSG (vm > network > default), ASGs (vm > network), ip_forwarding and
//!   accelerated_networking (vm > network), the subnet;
//! - the agent's DNS: the `dns` of the network whose `default` contains `dns`, else the
//!   primary network's;
//! - the VNet that gives the VM its location (the primary network's).
//!
//! Errors are the Ruby CloudErrors. They are all raised here, before anything is created;
//! Ruby found an empty NSG name only after creating the public IP.

use super::backend_pool::BackendPoolRef;
use super::ids::{NetworkKind, ResourceId, ResourceLookup};
use super::interface::{NicSpec, ipconfig_name, nic_name, nic_tags};
use super::load_balancer::LoadBalancerAttachment;
use super::public_ip::DynamicPublicIp;
use super::security_group::{
    SecurityGroupSetting, application_security_group_lookups, network_security_group_lookup,
};
use super::virtual_network::{subnet_lookup, virtual_network_lookup};
use crate::error::{CpiError, CpiResult};

/// One entry of create_vm's `networks` argument, in the order the Director sent them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkInput {
    pub name: String,
    /// The `type` as sent; `None` means manual (Ruby's default).
    pub network_type: Option<String>,
    pub ip: Option<String>,
    /// The `default` list (`dns`, `gateway`, ...).
    pub default: Vec<String>,
    pub dns: Option<Vec<String>>,
    /// `None` when the network has no `cloud_properties`.
    pub cloud_properties: Option<NetworkCloudProperties>,
}

/// The Azure keys of a network's `cloud_properties` (defaults as in Ruby).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkCloudProperties {
    pub virtual_network_name: Option<String>,
    pub subnet_name: Option<String>,
    /// Defaults to the global RG. For a vip network: where its public IP is searched.
    pub resource_group_name: Option<String>,
    pub security_group: SecurityGroupSetting,
    pub application_security_groups: Vec<String>,
    pub ip_forwarding: bool,
    pub accelerated_networking: bool,
}

/// The network-related keys of the VM's cloud_properties (vm_type + vm_extensions).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VmNetworkSettings {
    pub security_group: SecurityGroupSetting,
    /// `Some` (even empty) overrides every network's list.
    pub application_security_groups: Option<Vec<String>>,
    pub ip_forwarding: Option<bool>,
    pub accelerated_networking: Option<bool>,
    pub assign_dynamic_public_ip: bool,
    pub load_balancers: Vec<BackendPoolRef>,
    pub application_gateways: Vec<BackendPoolRef>,
    pub availability_zone: Option<String>,
}

/// Global settings and the VM's identity.
#[derive(Debug, Clone, Copy)]
pub struct PlanContext<'a> {
    pub subscription_id: &'a str,
    /// cpi.json `resource_group_name`.
    pub default_resource_group: &'a str,
    /// cpi.json `default_security_group`.
    pub default_security_group: &'a SecurityGroupSetting,
    /// cpi.json `pip_idle_timeout_in_minutes` (Ruby default 4).
    pub pip_idle_timeout_in_minutes: i64,
    pub vm_name: &'a str,
    /// The VM's RG: NICs and the dynamic PIP are created there.
    pub vm_resource_group: &'a str,
}

/// Where the primary NIC's public IP comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicIpPlan {
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
pub struct PlannedNic {
    /// 0 is the primary NIC.
    pub index: usize,
    /// The Director's network name.
    pub network_name: String,
    pub name: String,
    pub id: ResourceId,
    pub ipconfig_name: String,
    /// Manual networks: the Static address. Dynamic networks: `None`.
    pub private_ip: Option<String>,
    pub subnet: ResourceLookup,
    pub network_security_group: Option<ResourceLookup>,
    pub application_security_groups: Vec<ResourceLookup>,
    pub enable_ip_forwarding: bool,
    pub enable_accelerated_networking: bool,
}

/// What the action found for one NIC's lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResolvedNicIds {
    pub subnet_id: String,
    pub network_security_group_id: Option<String>,
    pub application_security_group_ids: Vec<String>,
}

/// What only the primary NIC gets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrimaryNicAttachments {
    pub public_ip_id: Option<String>,
    pub load_balancers: Vec<LoadBalancerAttachment>,
    pub application_gateway_pool_ids: Vec<String>,
    /// Recorded as the primary NIC's `availability_set` tag.
    pub availability_set: Option<String>,
}

impl PlannedNic {
    pub fn is_primary(&self) -> bool {
        self.index == 0
    }

    /// The NIC's PUT input, once its lookups are resolved and the location is known.
    pub fn spec(
        &self,
        location: &str,
        resolved: ResolvedNicIds,
        primary: &PrimaryNicAttachments,
    ) -> NicSpec {
        let mut spec = NicSpec {
            name: self.name.clone(),
            location: location.to_owned(),
            tags: nic_tags(None),
            ipconfig_name: self.ipconfig_name.clone(),
            private_ip: self.private_ip.clone(),
            subnet_id: resolved.subnet_id,
            network_security_group_id: resolved.network_security_group_id,
            application_security_group_ids: resolved.application_security_group_ids,
            enable_ip_forwarding: self.enable_ip_forwarding,
            enable_accelerated_networking: self.enable_accelerated_networking,
            ..NicSpec::default()
        };
        if self.is_primary() {
            spec.tags = nic_tags(primary.availability_set.as_deref());
            spec.public_ip_id = primary.public_ip_id.clone();
            spec.load_balancers = primary.load_balancers.clone();
            spec.application_gateway_pool_ids = primary.application_gateway_pool_ids.clone();
        }
        spec
    }
}

/// The network phase of create_vm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlan {
    /// Primary first.
    pub nics: Vec<PlannedNic>,
    /// The primary network's VNet: its location is the VM's.
    pub virtual_network: ResourceLookup,
    pub public_ip: PublicIpPlan,
    /// GET each; its `attachment` goes on the primary NIC.
    pub load_balancers: Vec<BackendPoolRef>,
    /// GET each; its `backend_pool_id` goes on the primary NIC.
    pub application_gateways: Vec<BackendPoolRef>,
    /// The agent's `dns.nameserver` (absent when the chosen network has no `dns`).
    pub dns: Option<Vec<String>>,
}

/// A manual or dynamic network after validation.
struct NicNetwork<'a> {
    input: &'a NetworkInput,
    manual: bool,
    properties: &'a NetworkCloudProperties,
    vnet: &'a str,
    subnet: &'a str,
}

impl NicNetwork<'_> {
    fn resource_group<'c>(&'c self, context: &PlanContext<'c>) -> &'c str {
        self.properties
            .resource_group_name
            .as_deref()
            .unwrap_or(context.default_resource_group)
    }

    fn has_default(&self, what: &str) -> bool {
        self.input.default.iter().any(|d| d == what)
    }
}

/// Validates the networks and decides the NICs, public IP, LB/AGW pools and DNS.
pub fn plan_networks(
    networks: &[NetworkInput],
    vm: &VmNetworkSettings,
    context: &PlanContext<'_>,
) -> CpiResult<NetworkPlan> {
    let mut nic_networks: Vec<NicNetwork<'_>> = Vec::new();
    let mut vip: Option<&NetworkInput> = None;
    for network in networks {
        let network_type = network.network_type.as_deref().unwrap_or("manual");
        let manual = match network_type {
            "manual" => true,
            "dynamic" => false,
            "vip" => {
                if vip.is_some() {
                    return Err(CpiError::cloud(format!(
                        "More than one vip network for '{}'",
                        network.name
                    )));
                }
                vip = Some(network);
                continue;
            }
            other => {
                return Err(CpiError::cloud(format!(
                    "Invalid network type '{other}' for Azure, can only handle 'dynamic', \
                     'vip', or 'manual' network types"
                )));
            }
        };
        let nic_network = validate_nic_network(network, network_type, manual)?;
        if nic_network.has_default("gateway") {
            nic_networks.insert(0, nic_network);
        } else {
            nic_networks.push(nic_network);
        }
    }
    let Some(primary) = nic_networks.first() else {
        return Err(CpiError::cloud(
            "At least one dynamic or manual network must be defined",
        ));
    };

    let virtual_network = virtual_network_lookup(
        context.subscription_id,
        primary.resource_group(context),
        primary.vnet,
    );
    let dns = nic_networks
        .iter()
        .find(|n| n.has_default("dns"))
        .unwrap_or(primary)
        .input
        .dns
        .clone();
    let public_ip = public_ip_plan(vip, vm, context)?;

    let nics = nic_networks
        .iter()
        .enumerate()
        .map(|(index, network)| plan_nic(index, network, vm, context))
        .collect::<CpiResult<Vec<_>>>()?;

    Ok(NetworkPlan {
        nics,
        virtual_network,
        public_ip,
        load_balancers: vm.load_balancers.clone(),
        application_gateways: vm.application_gateways.clone(),
        dns,
    })
}

fn validate_nic_network<'a>(
    network: &'a NetworkInput,
    network_type: &str,
    manual: bool,
) -> CpiResult<NicNetwork<'a>> {
    let required =
        |what: &str| CpiError::cloud(format!("{what} required for {network_type} network"));
    let properties = network
        .cloud_properties
        .as_ref()
        .ok_or_else(|| required("cloud_properties"))?;
    // Ruby only rejected nil; an empty name could never be found either.
    let present = |value: &'a Option<String>| value.as_deref().filter(|v| !v.is_empty());
    let vnet = present(&properties.virtual_network_name)
        .ok_or_else(|| required("virtual_network_name"))?;
    let subnet = present(&properties.subnet_name).ok_or_else(|| required("subnet_name"))?;
    if manual && present(&network.ip).is_none() {
        return Err(required("ip address"));
    }
    Ok(NicNetwork {
        input: network,
        manual,
        properties,
        vnet,
        subnet,
    })
}

fn public_ip_plan(
    vip: Option<&NetworkInput>,
    vm: &VmNetworkSettings,
    context: &PlanContext<'_>,
) -> CpiResult<PublicIpPlan> {
    if let Some(vip) = vip {
        // Ruby would look for a PIP whose address is nil; a clear error is better.
        let address = vip
            .ip
            .as_deref()
            .filter(|ip| !ip.is_empty())
            .ok_or_else(|| CpiError::cloud("ip address required for vip network"))?;
        let resource_group = vip
            .cloud_properties
            .as_ref()
            .and_then(|p| p.resource_group_name.as_deref())
            .unwrap_or(context.default_resource_group);
        return Ok(PublicIpPlan::Vip {
            address: address.to_owned(),
            resource_group: resource_group.to_owned(),
        });
    }
    if vm.assign_dynamic_public_ip {
        return Ok(PublicIpPlan::Dynamic(DynamicPublicIp::new(
            context.vm_resource_group,
            context.vm_name,
            context.pip_idle_timeout_in_minutes,
            vm.availability_zone.as_deref(),
        )?));
    }
    Ok(PublicIpPlan::None)
}

fn plan_nic(
    index: usize,
    network: &NicNetwork<'_>,
    vm: &VmNetworkSettings,
    context: &PlanContext<'_>,
) -> CpiResult<PlannedNic> {
    let network_rg = network.resource_group(context);
    let properties = network.properties;
    let name = nic_name(context.vm_name, index);
    Ok(PlannedNic {
        index,
        network_name: network.input.name.clone(),
        id: ResourceId::network(
            context.subscription_id,
            context.vm_resource_group,
            NetworkKind::NetworkInterface,
            &name,
        ),
        name,
        ipconfig_name: ipconfig_name(index),
        private_ip: if network.manual {
            network.input.ip.clone()
        } else {
            None
        },
        subnet: subnet_lookup(
            context.subscription_id,
            network_rg,
            network.vnet,
            network.subnet,
        ),
        network_security_group: network_security_group_lookup(
            context.subscription_id,
            &vm.security_group,
            &properties.security_group,
            context.default_security_group,
            network_rg,
            context.default_resource_group,
        )?,
        application_security_groups: application_security_group_lookups(
            context.subscription_id,
            vm.application_security_groups.as_deref(),
            &properties.application_security_groups,
            network_rg,
            context.default_resource_group,
        ),
        enable_ip_forwarding: vm.ip_forwarding.unwrap_or(properties.ip_forwarding),
        enable_accelerated_networking: vm
            .accelerated_networking
            .unwrap_or(properties.accelerated_networking),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::network::backend_pool::PoolOwnerKind;
    use crate::azure::network::interface::NicSpec;
    use serde_json::json;

    const SUB: &str = "sub";

    fn context(default_nsg: &SecurityGroupSetting) -> PlanContext<'_> {
        PlanContext {
            subscription_id: SUB,
            default_resource_group: "default-rg",
            default_security_group: default_nsg,
            pip_idle_timeout_in_minutes: 4,
            vm_name: "vm-1",
            vm_resource_group: "vm-rg",
        }
    }

    fn properties(vnet: &str, subnet: &str) -> NetworkCloudProperties {
        NetworkCloudProperties {
            virtual_network_name: Some(vnet.into()),
            subnet_name: Some(subnet.into()),
            ..NetworkCloudProperties::default()
        }
    }

    fn manual(name: &str, ip: &str, default: &[&str]) -> NetworkInput {
        NetworkInput {
            name: name.into(),
            network_type: Some("manual".into()),
            ip: Some(ip.into()),
            default: default.iter().map(|d| (*d).to_owned()).collect(),
            dns: Some(vec![format!("dns-of-{name}")]),
            cloud_properties: Some(properties("vnet", &format!("subnet-{name}"))),
        }
    }

    fn dynamic(name: &str, default: &[&str]) -> NetworkInput {
        NetworkInput {
            network_type: Some("dynamic".into()),
            ip: Some("10.9.9.9".into()),
            ..manual(name, "unused", default)
        }
    }

    fn vip(ip: &str, rg: Option<&str>) -> NetworkInput {
        NetworkInput {
            name: "public".into(),
            network_type: Some("vip".into()),
            ip: Some(ip.into()),
            cloud_properties: rg.map(|rg| NetworkCloudProperties {
                resource_group_name: Some(rg.into()),
                ..NetworkCloudProperties::default()
            }),
            ..NetworkInput::default()
        }
    }

    fn plan_for(networks: &[NetworkInput], vm: &VmNetworkSettings) -> CpiResult<NetworkPlan> {
        plan_networks(networks, vm, &context(&SecurityGroupSetting::default()))
    }

    fn error(networks: &[NetworkInput]) -> String {
        let err = plan_for(networks, &VmNetworkSettings::default()).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
        err.message().to_owned()
    }

    #[test]
    fn single_manual_network_gives_one_static_primary_nic() {
        let plan = plan_for(
            &[manual("a", "10.0.0.4", &[])],
            &VmNetworkSettings::default(),
        )
        .unwrap();
        assert_eq!(plan.nics.len(), 1);
        let nic = &plan.nics[0];
        assert!(nic.is_primary());
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
        // A lone network's dns is used even without `default`.
        assert_eq!(plan.dns, Some(vec!["dns-of-a".to_owned()]));
    }

    #[test]
    fn gateway_network_becomes_primary_and_dns_follows_default_dns() {
        let networks = [
            manual("a", "10.0.0.4", &["dns"]),
            dynamic("b", &[]),
            manual("c", "10.0.2.4", &["gateway"]),
        ];
        let plan = plan_for(&networks, &VmNetworkSettings::default()).unwrap();
        let order: Vec<(&str, &str, Option<&str>)> = plan
            .nics
            .iter()
            .map(|n| {
                (
                    n.network_name.as_str(),
                    n.name.as_str(),
                    n.private_ip.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                ("c", "vm-1-0", Some("10.0.2.4")),
                ("a", "vm-1-1", Some("10.0.0.4")),
                // Dynamic networks never pin their address.
                ("b", "vm-1-2", None),
            ]
        );
        assert_eq!(plan.nics[2].ipconfig_name, "ipconfig2");
        assert_eq!(plan.dns, Some(vec!["dns-of-a".to_owned()]));
        assert!(
            plan.virtual_network.candidates[0]
                .to_string()
                .ends_with("/virtualNetworks/vnet")
        );
    }

    #[test]
    fn last_gateway_network_wins_and_dns_falls_back_to_the_primary() {
        let networks = [
            manual("a", "10.0.0.4", &["gateway"]),
            manual("b", "10.0.1.4", &["gateway"]),
        ];
        let plan = plan_for(&networks, &VmNetworkSettings::default()).unwrap();
        assert_eq!(plan.nics[0].network_name, "b");
        assert_eq!(plan.dns, Some(vec!["dns-of-b".to_owned()]));
    }

    #[test]
    fn primary_vnet_is_searched_in_the_network_resource_group() {
        let mut network = manual("a", "10.0.0.4", &[]);
        network
            .cloud_properties
            .as_mut()
            .unwrap()
            .resource_group_name = Some("net-rg".into());
        let plan = plan_for(&[network], &VmNetworkSettings::default()).unwrap();
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
    fn configurator_errors_are_the_ruby_messages() {
        let unknown = NetworkInput {
            network_type: Some("foo".into()),
            ..manual("a", "10.0.0.4", &[])
        };
        assert_eq!(
            error(&[unknown]),
            "Invalid network type 'foo' for Azure, can only handle 'dynamic', 'vip', or 'manual' network types"
        );
        assert_eq!(
            error(&[vip("1.1.1.1", None)]),
            "At least one dynamic or manual network must be defined"
        );
        assert_eq!(
            error(&[]),
            "At least one dynamic or manual network must be defined"
        );
        assert_eq!(
            error(&[
                manual("a", "10.0.0.4", &[]),
                vip("1.1.1.1", None),
                vip("2.2.2.2", None)
            ]),
            "More than one vip network for 'public'"
        );
    }

    #[test]
    fn missing_network_fields_are_the_ruby_messages() {
        let no_props = NetworkInput {
            cloud_properties: None,
            ..manual("a", "10.0.0.4", &[])
        };
        assert_eq!(
            error(&[no_props]),
            "cloud_properties required for manual network"
        );
        let mut no_vnet = dynamic("a", &[]);
        no_vnet
            .cloud_properties
            .as_mut()
            .unwrap()
            .virtual_network_name = None;
        assert_eq!(
            error(&[no_vnet]),
            "virtual_network_name required for dynamic network"
        );
        let mut empty_subnet = manual("a", "10.0.0.4", &[]);
        empty_subnet.cloud_properties.as_mut().unwrap().subnet_name = Some(String::new());
        assert_eq!(
            error(&[empty_subnet]),
            "subnet_name required for manual network"
        );
        let no_ip = NetworkInput {
            ip: None,
            ..manual("a", "x", &[])
        };
        assert_eq!(error(&[no_ip]), "ip address required for manual network");
        // A network without `type` is manual.
        let untyped = NetworkInput {
            network_type: None,
            ip: None,
            ..manual("a", "x", &[])
        };
        assert_eq!(error(&[untyped]), "ip address required for manual network");
        let vip_without_ip = NetworkInput {
            ip: None,
            ..vip("", None)
        };
        assert_eq!(
            error(&[manual("a", "10.0.0.4", &[]), vip_without_ip]),
            "ip address required for vip network"
        );
    }

    #[test]
    fn vip_wins_over_dynamic_public_ip() {
        let vm = VmNetworkSettings {
            assign_dynamic_public_ip: true,
            ..VmNetworkSettings::default()
        };
        let plan = plan_for(
            &[
                manual("a", "10.0.0.4", &[]),
                vip("52.1.2.3", Some("pip-rg")),
            ],
            &vm,
        )
        .unwrap();
        assert_eq!(
            plan.public_ip,
            PublicIpPlan::Vip {
                address: "52.1.2.3".into(),
                resource_group: "pip-rg".into()
            }
        );
        assert_eq!(plan.nics.len(), 1);
        let default_rg = plan_for(&[vip("52.1.2.3", None), dynamic("a", &[])], &vm).unwrap();
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
        let vm = VmNetworkSettings {
            assign_dynamic_public_ip: true,
            availability_zone: Some("3".into()),
            ..VmNetworkSettings::default()
        };
        let plan = plan_for(&[manual("a", "10.0.0.4", &[])], &vm).unwrap();
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
        let default_nsg = SecurityGroupSetting::default();
        let bad_timeout = PlanContext {
            pip_idle_timeout_in_minutes: 31,
            ..context(&default_nsg)
        };
        let err = plan_networks(&[manual("a", "10.0.0.4", &[])], &vm, &bad_timeout).unwrap_err();
        assert_eq!(
            err.message(),
            "Maximum idle_timeout_in_minutes is 30 minutes"
        );
    }

    #[test]
    fn vm_overrides_network_settings_on_every_nic() {
        let mut a = manual("a", "10.0.0.4", &["gateway"]);
        {
            let props = a.cloud_properties.as_mut().unwrap();
            props.security_group = SecurityGroupSetting::named("net-nsg");
            props.application_security_groups = vec!["net-asg".into()];
            props.ip_forwarding = true;
            props.resource_group_name = Some("net-rg".into());
        }
        let b = dynamic("b", &[]);
        let vm = VmNetworkSettings {
            security_group: SecurityGroupSetting::named("vm-nsg"),
            application_security_groups: Some(vec!["vm-asg".into()]),
            ip_forwarding: Some(false),
            accelerated_networking: Some(true),
            ..VmNetworkSettings::default()
        };
        let plan = plan_for(&[a.clone(), b.clone()], &vm).unwrap();
        for nic in &plan.nics {
            assert_eq!(nic.network_security_group.as_ref().unwrap().name, "vm-nsg");
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
        let plan = plan_for(&[a, b], &VmNetworkSettings::default()).unwrap();
        assert_eq!(
            plan.nics[0].network_security_group.as_ref().unwrap().name,
            "net-nsg"
        );
        assert_eq!(plan.nics[0].application_security_groups[0].name, "net-asg");
        assert!(plan.nics[0].enable_ip_forwarding);
        assert_eq!(plan.nics[1].network_security_group, None);
        assert!(!plan.nics[1].enable_ip_forwarding);
    }

    #[test]
    fn default_security_group_applies_when_vm_and_network_have_none() {
        let default_nsg = SecurityGroupSetting::named("default-nsg");
        let plan = plan_networks(
            &[manual("a", "10.0.0.4", &[])],
            &VmNetworkSettings::default(),
            &context(&default_nsg),
        )
        .unwrap();
        assert_eq!(
            plan.nics[0].network_security_group.as_ref().unwrap().name,
            "default-nsg"
        );
        let vm = VmNetworkSettings {
            security_group: SecurityGroupSetting::named(""),
            ..VmNetworkSettings::default()
        };
        let err = plan_networks(&[manual("a", "10.0.0.4", &[])], &vm, &context(&default_nsg))
            .unwrap_err();
        assert_eq!(
            err.message(),
            "Cannot specify an empty string to the network security group"
        );
    }

    #[test]
    fn load_balancers_gateways_and_public_ip_go_on_the_primary_nic_only() {
        let lbs = BackendPoolRef::parse_property(
            PoolOwnerKind::LoadBalancer,
            Some(&json!(["lb-1", {"name": "lb-2", "backend_pool_name": "p"}])),
            "default-rg",
        )
        .unwrap();
        let vm = VmNetworkSettings {
            load_balancers: lbs.clone(),
            ..VmNetworkSettings::default()
        };
        let plan = plan_for(
            &[manual("a", "10.0.0.4", &["gateway"]), dynamic("b", &[])],
            &vm,
        )
        .unwrap();
        assert_eq!(plan.load_balancers, lbs);
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
                tags: nic_tags(None),
                ipconfig_name: "ipconfig1".into(),
                private_ip: None,
                subnet_id: "subnet-b".into(),
                network_security_group_id: Some("nsg-id".into()),
                application_security_group_ids: vec!["asg-id".into()],
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

        let lb_refs = BackendPoolRef::parse_property(
            PoolOwnerKind::LoadBalancer,
            Some(&json!([
                {"name": "lb1", "backend_pool_name": "lb1-pool2"},
                {"name": "lb2", "resource_group_name": "lb-rg", "backend_pool_name": "lb2-pool2"}
            ])),
            "default-rg",
        )
        .unwrap();
        let agw_refs = BackendPoolRef::parse_property(
            PoolOwnerKind::ApplicationGateway,
            Some(&json!("agw1,agw2")),
            "default-rg",
        )
        .unwrap();
        let vm = VmNetworkSettings {
            load_balancers: lb_refs,
            application_gateways: agw_refs,
            ..VmNetworkSettings::default()
        };
        let plan = plan_for(&[manual("a", "10.0.0.100", &[])], &vm).unwrap();
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
                .map(|r| r.lookup(SUB).candidates[0].to_string())
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
                .map(|r| lb_get(&r.name).attachment(r).unwrap())
                .collect(),
            application_gateway_pool_ids: plan
                .application_gateways
                .iter()
                .filter_map(|r| agw_get(&r.name).backend_pool_id(r).unwrap())
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
        use proptest::option;
        use proptest::prelude::*;

        fn text() -> impl Strategy<Value = String> {
            prop_oneof![1 => Just(String::new()), 9 => "[a-z0-9.]{1,6}"]
        }

        fn network() -> impl Strategy<Value = NetworkInput> {
            let network_type = option::weighted(
                0.9,
                prop_oneof![
                    4 => Just("manual".to_owned()),
                    4 => Just("dynamic".to_owned()),
                    2 => Just("vip".to_owned()),
                    1 => "[a-z]{1,4}",
                ],
            );
            let default = prop::sample::subsequence(vec!["dns", "gateway", "addressable"], 0..=3)
                .prop_map(|d| d.into_iter().map(str::to_owned).collect::<Vec<_>>());
            let properties = option::weighted(
                0.95,
                (
                    option::weighted(0.95, text()),
                    option::weighted(0.95, text()),
                    option::of(text()),
                    option::of(text()),
                    any::<bool>(),
                )
                    .prop_map(|(vnet, subnet, rg, nsg, forwarding)| {
                        NetworkCloudProperties {
                            virtual_network_name: vnet,
                            subnet_name: subnet,
                            resource_group_name: rg,
                            security_group: SecurityGroupSetting {
                                name: nsg,
                                resource_group: None,
                            },
                            application_security_groups: vec![],
                            ip_forwarding: forwarding,
                            accelerated_networking: false,
                        }
                    }),
            );
            (
                text(),
                network_type,
                option::of(text()),
                default,
                properties,
            )
                .prop_map(|(name, network_type, ip, default, cloud_properties)| {
                    NetworkInput {
                        name,
                        network_type,
                        ip,
                        default,
                        dns: Some(vec!["8.8.8.8".into()]),
                        cloud_properties,
                    }
                })
        }

        proptest! {
            #[test]
            fn plan_never_panics_and_keeps_its_invariants(
                networks in prop::collection::vec(network(), 0..5),
                dynamic_ip in any::<bool>(),
            ) {
                let vm = VmNetworkSettings {
                    assign_dynamic_public_ip: dynamic_ip,
                    ..VmNetworkSettings::default()
                };
                let default_nsg = SecurityGroupSetting::default();
                let Ok(plan) = plan_networks(&networks, &vm, &context(&default_nsg)) else {
                    return Ok(());
                };
                prop_assert!(!plan.nics.is_empty());
                for (index, nic) in plan.nics.iter().enumerate() {
                    prop_assert_eq!(nic.index, index);
                    prop_assert_eq!(&nic.name, &format!("vm-1-{index}"));
                    prop_assert_eq!(nic.subnet.candidates.len(), 1);
                }
                let has_gateway = |name: &str| {
                    networks.iter().any(|n| {
                        n.name == name
                            && n.network_type.as_deref() != Some("vip")
                            && n.default.iter().any(|d| d == "gateway")
                    })
                };
                let any_gateway = plan.nics.iter().any(|n| has_gateway(&n.network_name));
                prop_assert!(!any_gateway || has_gateway(&plan.nics[0].network_name));
                let has_vip = networks.iter().any(|n| n.network_type.as_deref() == Some("vip"));
                match &plan.public_ip {
                    PublicIpPlan::Vip { .. } => prop_assert!(has_vip),
                    PublicIpPlan::Dynamic(_) => prop_assert!(dynamic_ip && !has_vip),
                    PublicIpPlan::None => prop_assert!(!dynamic_ip && !has_vip),
                }
            }
        }
    }
}
