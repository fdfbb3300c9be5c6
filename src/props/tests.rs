//! Arbitrary JSON, built from the keys and values the decoders look for so that deep branches
//! are reached, never panics any decoder; whatever is refused is a CloudError with a message.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;
use crate::error::CpiResult;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "instance_type",
        "instance_types",
        "root_disk",
        "size",
        "type",
        "placement",
        "ephemeral_disk",
        "use_root_disk",
        "caching",
        "availability_zone",
        "availability_set",
        "platform_fault_domain_count",
        "name",
        "load_balancer",
        "application_gateway",
        "resource_group_name",
        "backend_pool_name",
        "managed_identity",
        "user_assigned_identity_name",
        "security_group",
        "application_security_groups",
        "tags",
        "cloud_properties",
        "virtual_network_name",
        "subnet_name",
        "ip",
        "default",
        "dns",
        "prefix",
        "cpu",
        "ram",
        "ephemeral_disk_size",
        "iops",
        "mbps",
        "n1",
        "n2",
    ])
    .prop_map(str::to_string)
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (0u64..4096).prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        prop::sample::select(vec![
            "1",
            "4",
            "24",
            "manual",
            "dynamic",
            "vip",
            "None",
            "ReadOnly",
            "UserAssigned",
            "remote",
            "cache-disk",
            "a,b",
            "a,,b",
            " a, b,",
            "",
            "gateway",
            "dns",
            "x",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// `base` with up to six random entries merged over it.
fn mutated(base: Value) -> impl Strategy<Value = Value> {
    prop::collection::vec((key(), json_value()), 0..6).prop_map(move |entries| {
        let mut value = base.clone();
        for (key, entry) in entries {
            value[key] = entry;
        }
        value
    })
}

fn network() -> impl Strategy<Value = Value> {
    let cloud_properties = prop_oneof![
        1 => json_value(),
        4 => mutated(serde_json::json!({"virtual_network_name": "v", "subnet_name": "s"})),
    ];
    (
        prop::sample::select(vec![
            Value::Null,
            Value::from("manual"),
            Value::from("dynamic"),
            Value::from("vip"),
        ]),
        prop::option::of(Just(Value::from("10.0.0.4"))),
        prop::sample::subsequence(vec!["dns", "gateway"], 0..=2),
        cloud_properties,
    )
        .prop_map(|(network_type, ip, default, cloud_properties)| {
            let mut network = serde_json::json!({
                "type": network_type,
                "default": default,
                "dns": ["168.63.129.16"],
                "cloud_properties": cloud_properties,
            });
            if let Some(ip) = ip {
                network["ip"] = ip;
            }
            network
        })
        .prop_flat_map(mutated)
}

fn networks() -> impl Strategy<Value = Value> {
    prop::collection::vec(network(), 1..4).prop_map(|networks| {
        Value::Object(
            networks
                .into_iter()
                .enumerate()
                .map(|(index, network)| (format!("net{index}"), network))
                .collect(),
        )
    })
}

fn fails_cleanly<T>(result: &CpiResult<T>) -> bool {
    match result {
        Ok(_) => true,
        Err(err) => err.wire_type() == "Bosh::Clouds::CloudError" && !err.message().is_empty(),
    }
}

proptest! {
    #[test]
    fn decoders_never_panic(
        value in prop_oneof![
            1 => json_value(),
            2 => mutated(serde_json::json!({"instance_type": "t"})),
            1 => mutated(serde_json::json!({"cpu": 1, "ram": 2, "ephemeral_disk_size": 3})),
            4 => networks(),
        ],
        managed in any::<bool>(),
        stack in any::<bool>(),
    ) {
        let ctx = PropsContext {
            default_resource_group_name: "rg".into(),
            is_azure_stack: stack,
            use_managed_disks: managed,
            default_managed_identity: None,
        };
        let vm = VmCloudProps::from_value(&value, &ctx);
        prop_assert!(fails_cleanly(&vm));
        if let Ok(vm) = vm {
            // Every pool names one LB/AGW: never empty, never a list, never padded.
            let pools = vm.load_balancers.iter().chain(&vm.application_gateways).flatten();
            for pool in pools {
                prop_assert!(!pool.name.is_empty());
                prop_assert!(!pool.name.contains(','));
                prop_assert_eq!(pool.name.trim(), pool.name.as_str());
            }
        }
        prop_assert!(fails_cleanly(&DiskCloudProps::from_value(&value)));
        prop_assert!(fails_cleanly(&VmResources::from_value(&value)));
        let networks = Networks::from_value(&value, &ctx);
        prop_assert!(fails_cleanly(&networks));
        if let Ok(networks) = networks {
            let gateway = networks.networks().iter().any(SubnetNetwork::has_default_gateway);
            prop_assert_eq!(networks.primary().has_default_gateway(), gateway);
            let _ = networks.default_dns();
            for network in networks.networks() {
                prop_assert!(!network.virtual_network_name.is_empty());
                prop_assert!(!network.subnet_name.is_empty());
            }
            prop_assert!(networks.vip().is_none_or(|vip| !vip.ip.is_empty()));
            let echoed = crate::agent_settings::agent_networks(networks.raw(), &Default::default());
            prop_assert_eq!(
                echoed.keys().collect::<Vec<_>>(),
                value.as_object().unwrap().keys().collect::<Vec<_>>()
            );
            prop_assert!(echoed.values().all(|n| n["use_dhcp"] == Value::Bool(true)));
        }
    }
}
