//! The `networks` argument of create_vm (network name → `type`, `ip`, `default`, `dns`,
//! `cloud_properties`) with the Azure cloud_properties of each network and the Ruby NetworkConfigurator's rules.

use crate::names::quote;
use serde_json::{Map, Value};

use super::PropsContext;
use super::security_group::SecurityGroup;
use crate::error::{CpiError, CpiResult};
use crate::fields::{Fields, type_error};

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Networks {
    /// Never empty (private so that stays true); index 0 is the primary NIC.
    networks: Vec<SubnetNetwork>,
    vip: Option<VipNetwork>,
    /// The argument as received, for the agent settings.
    raw: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubnetNetworkType {
    Manual,
    Dynamic,
}

impl SubnetNetworkType {
    fn as_str(self) -> &'static str {
        match self {
            Self::Manual => "manual",
            Self::Dynamic => "dynamic",
        }
    }
}

/// A manual or dynamic network: a NIC in an existing subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SubnetNetwork {
    pub name: String,
    pub(crate) network_type: SubnetNetworkType,
    /// The private IP; always set for manual networks.
    pub ip: Option<String>,
    pub netmask: Option<String>,
    pub gateway: Option<String>,
    /// Sent as an integer or a string by different Director versions.
    pub prefix: Option<u32>,
    pub dns: Option<Vec<String>>,
    /// A subset of `["addressable", "dns", "gateway"]`.
    pub default: Vec<String>,
    pub virtual_network_name: String,
    pub subnet_name: String,
    /// Where the VNet lives: the network's `resource_group_name`, else the default.
    pub resource_group_name: String,
    pub security_group: Option<SecurityGroup>,
    pub application_security_groups: Vec<String>,
    pub ip_forwarding: bool,
    pub accelerated_networking: bool,
}

impl SubnetNetwork {
    pub(crate) fn has_default_gateway(&self) -> bool {
        self.default.iter().any(|d| d == "gateway")
    }

    pub(crate) fn has_default_dns(&self) -> bool {
        self.default.iter().any(|d| d == "dns")
    }
}

/// A vip network: an existing public IP, found by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VipNetwork {
    pub name: String,
    /// The public IP address to look for; never empty. The Ruby CPI accepted a vip network
    /// without one and then searched for a public IP whose address is nil; we refuse it.
    pub ip: String,
    /// Where to look for the public IP: `cloud_properties.resource_group_name`, else the default.
    pub resource_group_name: String,
}

impl Networks {
    /// Applies the NetworkConfigurator's rules in its order: each network in turn (type, then
    /// its required keys), then "at least one manual or dynamic network".
    pub(crate) fn from_value(value: &Value, ctx: &PropsContext) -> CpiResult<Self> {
        let Value::Object(raw) = value else {
            return Err(type_error("networks", "", "an object", value));
        };
        let mut networks: Vec<SubnetNetwork> = Vec::new();
        let mut vip: Option<(VipNetwork, bool)> = None;
        for (name, spec) in raw {
            let owner = format!("network '{}'", quote(name));
            if spec.is_null() {
                return Err(type_error(&owner, "", "an object", spec));
            }
            let fields = Fields::new(spec, &owner)?;
            let network = match fields.str("type")?.unwrap_or("manual") {
                "manual" => parse_subnet_network(name, &fields, SubnetNetworkType::Manual, ctx)?,
                "dynamic" => parse_subnet_network(name, &fields, SubnetNetworkType::Dynamic, ctx)?,
                "vip" => {
                    if vip.is_some() {
                        return Err(CpiError::cloud(format!(
                            "More than one vip network for '{}'",
                            quote(name)
                        )));
                    }
                    vip = Some(parse_vip_network(name, &fields, ctx)?);
                    continue;
                }
                other => {
                    return Err(CpiError::cloud(format!(
                        "Invalid network type '{}' for Azure, can only handle 'dynamic', 'vip', or 'manual' network types",
                        quote(other)
                    )));
                }
            };
            // The network holding the default gateway becomes the primary NIC; with several,
            // the last one wins, as in the Ruby CPI.
            if network.has_default_gateway() {
                networks.insert(0, network);
            } else {
                networks.push(network);
            }
        }
        if networks.is_empty() {
            return Err(CpiError::cloud(
                "At least one dynamic or manual network must be defined",
            ));
        }
        // Checked after the Ruby rules, so every input Ruby refuses gets Ruby's message.
        let vip = match vip {
            Some((vip, false)) => {
                return Err(CpiError::cloud(format!(
                    "ip address required for vip network '{}'",
                    quote(&vip.name)
                )));
            }
            Some((vip, true)) => Some(vip),
            None => None,
        };
        Ok(Self {
            networks,
            vip,
            raw: raw.clone(),
        })
    }

    /// Manual and dynamic networks, one NIC each; the first is the primary NIC.
    pub(crate) fn networks(&self) -> &[SubnetNetwork] {
        &self.networks
    }

    pub(crate) fn primary(&self) -> &SubnetNetwork {
        // from_value guarantees at least one network and nothing can remove it.
        &self.networks[0]
    }

    pub(crate) fn vip(&self) -> Option<&VipNetwork> {
        self.vip.as_ref()
    }

    /// The DNS servers for the agent: those of the network whose `default` has `dns`, else the
    /// primary network's.
    pub(crate) fn default_dns(&self) -> Option<&[String]> {
        self.networks
            .iter()
            .find(|network| network.has_default_dns())
            .unwrap_or(self.primary())
            .dns
            .as_deref()
    }

    /// Every network as the Director sent it (vip included, keys and order kept), for the
    /// agent settings (`crate::agent_settings::agent_networks`).
    pub(crate) fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }
}

fn parse_subnet_network(
    name: &str,
    fields: &Fields,
    network_type: SubnetNetworkType,
    ctx: &PropsContext,
) -> CpiResult<SubnetNetwork> {
    let kind = network_type.as_str();
    let Some(cloud_properties) = fields.object("cloud_properties")? else {
        return Err(CpiError::cloud(format!(
            "cloud_properties required for {kind} network"
        )));
    };
    // Ruby only refused nil; an empty name can never be found either.
    let required = |key: &str| -> CpiResult<String> {
        cloud_properties
            .string(key)?
            .filter(|value| !value.is_empty())
            .ok_or_else(|| CpiError::cloud(format!("{key} required for {kind} network")))
    };
    let virtual_network_name = required("virtual_network_name")?;
    let subnet_name = required("subnet_name")?;
    let ip = fields.string("ip")?;
    if network_type == SubnetNetworkType::Manual && ip.is_none() {
        return Err(CpiError::cloud("ip address required for manual network"));
    }
    Ok(SubnetNetwork {
        name: name.to_string(),
        network_type,
        ip,
        netmask: fields.string("netmask")?,
        gateway: fields.string("gateway")?,
        prefix: parse_prefix(fields)?,
        dns: fields.string_list("dns")?,
        default: fields.string_list("default")?.unwrap_or_default(),
        virtual_network_name,
        subnet_name,
        resource_group_name: cloud_properties
            .string("resource_group_name")?
            .unwrap_or_else(|| ctx.default_resource_group_name.clone()),
        security_group: SecurityGroup::from_field(&cloud_properties, "security_group")?,
        application_security_groups: cloud_properties
            .string_list("application_security_groups")?
            .unwrap_or_default(),
        ip_forwarding: cloud_properties.bool("ip_forwarding")?.unwrap_or(false),
        accelerated_networking: cloud_properties
            .bool("accelerated_networking")?
            .unwrap_or(false),
    })
}

/// The vip network, and whether it has an address (refused later, see `from_value`).
fn parse_vip_network(
    name: &str,
    fields: &Fields,
    ctx: &PropsContext,
) -> CpiResult<(VipNetwork, bool)> {
    let cloud_properties = fields.object_or_empty("cloud_properties")?;
    let ip = fields.string("ip")?.unwrap_or_default();
    let has_ip = !ip.is_empty();
    let vip = VipNetwork {
        name: name.to_string(),
        ip,
        resource_group_name: cloud_properties
            .string("resource_group_name")?
            .unwrap_or_else(|| ctx.default_resource_group_name.clone()),
    };
    Ok((vip, has_ip))
}

fn parse_prefix(fields: &Fields) -> CpiResult<Option<u32>> {
    let expected = "an integer or a numeric string";
    match fields.get("prefix") {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| fields.type_error("prefix", expected, &Value::Number(n.clone()))),
        Some(value @ Value::String(s)) => s
            .parse()
            .map(Some)
            .map_err(|_| fields.type_error("prefix", expected, value)),
        Some(other) => Err(fields.type_error("prefix", expected, other)),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx() -> PropsContext {
        PropsContext::for_tests()
    }

    fn parse(value: Value) -> CpiResult<Networks> {
        Networks::from_value(&value, &ctx())
    }

    fn message(value: Value) -> String {
        parse(value).unwrap_err().message().to_string()
    }

    fn dynamic() -> Value {
        json!({
            "type": "dynamic",
            "default": ["dns", "gateway"],
            "dns": ["8.8.8.8"],
            "cloud_properties": {"subnet_name": "bar", "virtual_network_name": "foo"}
        })
    }

    fn manual() -> Value {
        json!({
            "type": "manual",
            "dns": ["9.9.9.9"],
            "ip": "fake-ip",
            "cloud_properties": {
                "resource_group_name": "fake-rg",
                "subnet_name": "bar",
                "virtual_network_name": "foo",
                "security_group": "fake-nsg"
            }
        })
    }

    #[test]
    fn a_manual_network_with_every_property() {
        let networks = parse(json!({"default": {
            "ip": "fake-private-ip",
            "netmask": "255.255.255.0",
            "gateway": "10.0.0.1",
            "prefix": "24",
            "default": ["dns", "gateway"],
            "dns": ["fake-dns"],
            "cloud_properties": {
                "virtual_network_name": "fake-vnet-name",
                "subnet_name": "fake-subnet-name",
                "resource_group_name": "fake-resource-group-name",
                "security_group": "fake-nsg-name",
                "application_security_groups": ["fake-asg-name-1", "fake-asg-name-2"],
                "ip_forwarding": true,
                "accelerated_networking": true
            }
        }}))
        .unwrap();
        assert_eq!(
            networks.networks(),
            vec![SubnetNetwork {
                name: "default".into(),
                network_type: SubnetNetworkType::Manual,
                ip: Some("fake-private-ip".into()),
                netmask: Some("255.255.255.0".into()),
                gateway: Some("10.0.0.1".into()),
                prefix: Some(24),
                dns: Some(vec!["fake-dns".into()]),
                default: vec!["dns".into(), "gateway".into()],
                virtual_network_name: "fake-vnet-name".into(),
                subnet_name: "fake-subnet-name".into(),
                resource_group_name: "fake-resource-group-name".into(),
                security_group: Some(SecurityGroup {
                    name: "fake-nsg-name".into(),
                    resource_group_name: None
                }),
                application_security_groups: vec![
                    "fake-asg-name-1".into(),
                    "fake-asg-name-2".into()
                ],
                ip_forwarding: true,
                accelerated_networking: true,
            }]
        );
        assert!(networks.primary().has_default_dns());
        assert!(networks.primary().has_default_gateway());
        assert_eq!(networks.vip(), None);
    }

    #[test]
    fn optional_cloud_properties_take_defaults() {
        let networks = parse(json!({"n": {
            "ip": "fake-ip",
            "prefix": 32,
            "cloud_properties": {"virtual_network_name": "foo", "subnet_name": "bar"}
        }}))
        .unwrap();
        let network = networks.primary();
        // No `type` means manual.
        assert_eq!(network.network_type, SubnetNetworkType::Manual);
        assert_eq!(network.security_group, None);
        assert!(network.application_security_groups.is_empty());
        assert!(!network.ip_forwarding);
        assert!(!network.accelerated_networking);
        assert_eq!(network.resource_group_name, "default-rg");
        assert_eq!(network.prefix, Some(32));
        assert_eq!(network.dns, None);
        assert!(!network.has_default_dns());
        assert!(!network.has_default_gateway());
        assert_eq!(networks.default_dns(), None);
    }

    #[test]
    fn network_types() {
        let networks = parse(json!({"network1": manual()})).unwrap();
        assert_eq!(networks.networks().len(), 1);
        assert_eq!(networks.primary().network_type, SubnetNetworkType::Manual);

        let networks = parse(json!({"network1": dynamic()})).unwrap();
        assert_eq!(networks.primary().network_type, SubnetNetworkType::Dynamic);
        assert_eq!(networks.primary().ip, None);

        let networks =
            parse(json!({"network1": manual(), "network2": {"type": "vip", "ip": "52.1.2.3"}}))
                .unwrap();
        assert_eq!(networks.networks().len(), 1);
        assert_eq!(
            networks.vip(),
            Some(&VipNetwork {
                name: "network2".into(),
                ip: "52.1.2.3".into(),
                resource_group_name: "default-rg".into()
            })
        );

        let networks = parse(json!({"network1": dynamic(), "network2": manual()})).unwrap();
        assert_eq!(networks.networks().len(), 2);
    }

    #[test]
    fn vip_resource_group_comes_from_its_cloud_properties() {
        let networks = parse(json!({
            "n": manual(),
            "vip": {"type": "vip", "ip": "fake-vip", "cloud_properties": {"resource_group_name": "foo"}}
        }))
        .unwrap();
        let vip = networks.vip().unwrap();
        assert_eq!(vip.ip, "fake-vip");
        assert_eq!(vip.resource_group_name, "foo");
        let networks = parse(json!({
            "n": manual(),
            "vip": {"type": "vip", "ip": "fake-vip", "cloud_properties": {}}
        }))
        .unwrap();
        assert_eq!(networks.vip().unwrap().resource_group_name, "default-rg");
    }

    #[test]
    fn configurator_errors() {
        assert_eq!(
            message(json!({"network1": {"type": "vip"}})),
            "At least one dynamic or manual network must be defined"
        );
        assert_eq!(
            message(json!({})),
            "At least one dynamic or manual network must be defined"
        );
        assert_eq!(
            message(json!({"network1": {"type": "vip"}, "network2": {"type": "vip"}})),
            "More than one vip network for 'network2'"
        );
        assert_eq!(
            message(json!({"network1": {"type": "foo"}})),
            "Invalid network type 'foo' for Azure, can only handle 'dynamic', 'vip', or 'manual' network types"
        );
        assert_eq!(
            message(json!("cool")),
            "Invalid networks: must be an object, got a string"
        );
        assert_eq!(
            message(json!({"n": null})),
            "Invalid network 'n': must be an object, got null"
        );
        assert_eq!(
            message(json!({"n": [1]})),
            "Invalid network 'n': must be an object, got an array"
        );
    }

    #[test]
    fn a_vip_network_needs_an_address_checked_after_the_ruby_rules() {
        for vip in [
            json!({"type": "vip"}),
            json!({"type": "vip", "ip": null}),
            json!({"type": "vip", "ip": ""}),
        ] {
            assert_eq!(
                message(json!({"n": manual(), "public": vip})),
                "ip address required for vip network 'public'"
            );
        }
        // Inputs Ruby refuses keep Ruby's message even when the vip has no address.
        assert_eq!(
            message(json!({"public": {"type": "vip"}})),
            "At least one dynamic or manual network must be defined"
        );
        assert_eq!(
            message(json!({"public": {"type": "vip"}, "n": {"type": "foo"}})),
            "Invalid network type 'foo' for Azure, can only handle 'dynamic', 'vip', or 'manual' network types"
        );
        assert_eq!(
            message(json!({"n": manual(), "public": {"type": "vip", "ip": 1}})),
            "Invalid network 'public': 'ip' must be a string, got an integer"
        );
    }

    #[test]
    fn required_keys_of_manual_and_dynamic_networks() {
        for kind in ["manual", "dynamic"] {
            assert_eq!(
                message(json!({"n": {"type": kind, "fake-key": "fake-value"}})),
                format!("cloud_properties required for {kind} network")
            );
            for cloud_properties in [
                json!({"subnet_name": "bar"}),
                json!({"virtual_network_name": null, "subnet_name": "bar"}),
                json!({"virtual_network_name": "", "subnet_name": "bar"}),
            ] {
                assert_eq!(
                    message(json!({"n": {"type": kind, "cloud_properties": cloud_properties}})),
                    format!("virtual_network_name required for {kind} network")
                );
            }
            for cloud_properties in [
                json!({"virtual_network_name": "foo"}),
                json!({"virtual_network_name": "foo", "subnet_name": null}),
                json!({"virtual_network_name": "foo", "subnet_name": ""}),
            ] {
                assert_eq!(
                    message(json!({"n": {"type": kind, "cloud_properties": cloud_properties}})),
                    format!("subnet_name required for {kind} network")
                );
            }
        }
        let without_ip = json!({"virtual_network_name": "foo", "subnet_name": "bar"});
        for network in [
            json!({"cloud_properties": without_ip}),
            json!({"ip": null, "cloud_properties": without_ip}),
        ] {
            assert_eq!(
                message(json!({"n": network})),
                "ip address required for manual network"
            );
        }
        assert!(parse(json!({"n": {"type": "dynamic", "cloud_properties": without_ip}})).is_ok());
    }

    #[test]
    fn type_errors_name_the_network_and_field() {
        let base = |extra: Value| {
            let mut network = manual();
            for (key, value) in extra.as_object().unwrap() {
                network[key] = value.clone();
            }
            message(json!({"n1": network}))
        };
        assert_eq!(
            base(json!({"prefix": "abc"})),
            "Invalid network 'n1': 'prefix' must be an integer or a numeric string, got a string"
        );
        assert_eq!(
            base(json!({"prefix": -1})),
            "Invalid network 'n1': 'prefix' must be an integer or a numeric string, got an integer"
        );
        assert_eq!(
            base(json!({"dns": "8.8.8.8"})),
            "Invalid network 'n1': 'dns' must be an array of strings, got a string"
        );
        assert_eq!(
            base(
                json!({"cloud_properties": {"virtual_network_name": "v", "subnet_name": "s", "ip_forwarding": "yes"}})
            ),
            "Invalid network 'n1': 'cloud_properties.ip_forwarding' must be a boolean, got a string"
        );
        assert_eq!(
            base(json!({"cloud_properties": "vnet"})),
            "Invalid network 'n1': 'cloud_properties' must be an object, got a string"
        );
        assert_eq!(
            base(json!({"type": 1})),
            "Invalid network 'n1': 'type' must be a string, got an integer"
        );
    }

    #[test]
    fn the_default_gateway_network_is_primary() {
        let mut first = manual();
        first["ip"] = json!("10.0.0.4");
        let networks = parse(json!({"a": first, "b": dynamic(), "c": manual()})).unwrap();
        let names: Vec<&str> = networks
            .networks()
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["b", "a", "c"]);
        assert_eq!(networks.primary().name, "b");

        // With two gateway networks, the later one is inserted at index 0 last.
        let networks = parse(json!({"a": dynamic(), "b": manual(), "c": dynamic()})).unwrap();
        let names: Vec<&str> = networks
            .networks()
            .iter()
            .map(|n| n.name.as_str())
            .collect();
        assert_eq!(names, ["c", "a", "b"]);
    }

    #[test]
    fn default_dns() {
        // From the network whose default has dns.
        let networks = parse(json!({"network1": manual(), "network2": dynamic()})).unwrap();
        assert_eq!(networks.default_dns(), Some(&["8.8.8.8".to_string()][..]));
        // A single network's dns is used anyway.
        let networks = parse(json!({"network1": manual()})).unwrap();
        assert_eq!(networks.default_dns(), Some(&["9.9.9.9".to_string()][..]));
        // Without a `dns` default, the primary (gateway) network's dns, not the first one's.
        let mut gateway = manual();
        gateway["default"] = json!(["gateway"]);
        gateway["dns"] = json!(["10.0.0.53"]);
        let networks = parse(json!({"a": manual(), "b": gateway})).unwrap();
        assert_eq!(networks.primary().name, "b");
        assert_eq!(networks.default_dns(), Some(&["10.0.0.53".to_string()][..]));
    }

    #[test]
    fn agent_settings_echo_every_network_with_use_dhcp() {
        let input = json!({
            "private": {
                "type": "manual", "ip": "10.0.0.5", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
                "prefix": "32", "dns": ["168.63.129.16"], "default": ["dns", "gateway"],
                "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": "sub", "custom": [1]},
                "use_dhcp": false
            },
            "public": {"type": "vip", "ip": "52.1.2.3"}
        });
        let networks = parse(input).unwrap();
        let settings = Value::Object(crate::agent_settings::agent_networks(
            networks.raw(),
            &Default::default(),
        ));
        assert_eq!(
            serde_json::to_string(&settings).unwrap(),
            concat!(
                r#"{"private":{"type":"manual","ip":"10.0.0.5","netmask":"255.255.255.0","gateway":"10.0.0.1","#,
                r#""prefix":"32","dns":["168.63.129.16"],"default":["dns","gateway"],"#,
                r#""cloud_properties":{"virtual_network_name":"vnet","subnet_name":"sub","custom":[1]},"#,
                r#""use_dhcp":true},"public":{"type":"vip","ip":"52.1.2.3","use_dhcp":true}}"#
            )
        );
    }
}
