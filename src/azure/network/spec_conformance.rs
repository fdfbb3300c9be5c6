//! Checks the request bodies this module builds against Azure's published Microsoft.Network
//! 2024-05-01 spec (see `crate::azure::spec_check` for what is checked, and the skip when the
//! specs are absent).

use serde_json::{Value, json};

use super::SubResource;
use super::interface::{NicSpec, PrimaryNicAttachments, ResolvedNicIds, ipconfig_name};
use super::load_balancer::LoadBalancerAttachment;
use super::public_ip::DynamicPublicIp;
use crate::azure::spec_check::specs_or_skip;

const NETWORK_SPEC: &str =
    "specification/network/resource-manager/Microsoft.Network/stable/2024-05-01";

/// Errors of `body` against `file#/definitions/definition`; `None` when the spec is absent.
fn violations(file: &str, definition: &str, body: &Value) -> Option<Vec<String>> {
    let mut specs = specs_or_skip(NETWORK_SPEC, "the Microsoft.Network spec check")?;
    Some(specs.violations(file, definition, body, "$"))
}

fn full_nic() -> NicSpec {
    let id = |kind: &str, name: &str| {
        format!("/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/{kind}/{name}")
    };
    NicSpec {
        name: "vm-0".into(),
        location: "eastus".into(),
        ipconfig_name: ipconfig_name(0),
        private_ip: Some("10.0.0.4".into()),
        ids: ResolvedNicIds {
            subnet_id: id("virtualNetworks", "v/subnets/s"),
            network_security_group_id: Some(id("networkSecurityGroups", "nsg")),
            application_security_group_ids: vec![id("applicationSecurityGroups", "asg")],
        },
        enable_ip_forwarding: true,
        enable_accelerated_networking: true,
        dns_servers: vec!["168.63.129.16".into()],
        primary: Some(PrimaryNicAttachments {
            public_ip_id: Some(id("publicIPAddresses", "vm")),
            load_balancers: vec![LoadBalancerAttachment {
                backend_pool_id: Some(id("loadBalancers", "lb/backendAddressPools/p")),
                inbound_nat_rules: vec![SubResource::new(&id(
                    "loadBalancers",
                    "lb/inboundNatRules/n",
                ))],
            }],
            application_gateway_pool_ids: vec![id(
                "applicationGateways",
                "agw/backendAddressPools/p",
            )],
            availability_set: Some("as-1".into()),
        }),
    }
}

#[test]
fn nic_bodies_conform_to_the_spec() {
    let minimal = NicSpec {
        name: "vm-1".into(),
        location: "eastus".into(),
        ipconfig_name: ipconfig_name(1),
        private_ip: None,
        ids: ResolvedNicIds {
            subnet_id: "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/s".into(),
            ..ResolvedNicIds::default()
        },
        ..NicSpec::default()
    };
    for spec in [full_nic(), minimal] {
        let body = serde_json::to_value(spec.body()).unwrap();
        if let Some(errors) = violations("networkInterface.json", "NetworkInterface", &body) {
            assert!(errors.is_empty(), "{errors:#?}\nbody: {body}");
        }
    }
}

#[test]
fn public_ip_bodies_conform_to_the_spec() {
    for zone in [None, Some("1")] {
        let pip = DynamicPublicIp::new("rg", "vm", 4, zone).unwrap();
        let body = serde_json::to_value(pip.body("eastus")).unwrap();
        if let Some(errors) = violations("publicIpAddress.json", "PublicIPAddress", &body) {
            assert!(errors.is_empty(), "{errors:#?}\nbody: {body}");
        }
    }
}

/// The checker must catch what the Ruby CPI sends, or it proves nothing.
#[test]
fn the_checker_rejects_the_ruby_deviations() {
    let mut ruby = serde_json::to_value(full_nic().body()).unwrap();
    ruby["name"] = json!("vm-0");
    ruby["properties"]["networkSecurityGroup"] = Value::Null;
    ruby["properties"]["enableIPForwarding"] = json!("true");
    ruby["properties"]["ipConfigurations"][0]["properties"]["privateIPAllocationMethod"] =
        json!("static");
    ruby["properties"]["bogus"] = json!(1);
    let Some(errors) = violations("networkInterface.json", "NetworkInterface", &ruby) else {
        return;
    };
    for expected in [
        "$.name: read-only",
        "$.properties.networkSecurityGroup: null",
        "$.properties.enableIPForwarding: expected boolean",
        "privateIPAllocationMethod: \"static\" is not one of",
        "$.properties.bogus: not in the spec",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "missing '{expected}' in {errors:#?}"
        );
    }
}
