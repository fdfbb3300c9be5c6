//! Arbitrary input never panics and always yields one valid response.

use crate::support;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Value, json};
use std::sync::OnceLock;

use support::assert_single_response;
use support::sim::SimEnv;

use bosh_azure_cpi::serve::serve;

const METHODS: [&str; 25] = [
    "info",
    "create_stemcell",
    "delete_stemcell",
    "create_vm",
    "delete_vm",
    "has_vm",
    "reboot_vm",
    "set_vm_metadata",
    "set_disk_metadata",
    "create_disk",
    "delete_disk",
    "has_disk",
    "attach_disk",
    "detach_disk",
    "get_disks",
    "resize_disk",
    "update_disk",
    "snapshot_disk",
    "delete_snapshot",
    "calculate_vm_cloud_properties",
    "ping",
    "create_network",
    "delete_network",
    "configure_networks",
    "current_vm_id",
];

/// One simulator for the whole file: calls with well-formed IDs really reach (simulated) Azure.
fn sim() -> &'static SimEnv {
    static SIM: OnceLock<SimEnv> = OnceLock::new();
    SIM.get_or_init(SimEnv::start)
}

fn answer(input: &[u8]) -> Value {
    bosh_azure_cpi::logging::silence();
    let response = serve(Some(&sim().config_path), input);
    let value = assert_single_response(&response.to_json());
    assert!(
        !value["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Internal error"),
        "a panic was caught: {value}"
    );
    value
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        ".{0,40}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(input in prop::collection::vec(any::<u8>(), 0..512)) {
        answer(&input);
    }

    #[test]
    fn arbitrary_arguments_for_every_method(
        method in prop::sample::select(METHODS.to_vec()),
        arguments in prop::collection::vec(arbitrary_json(), 0..7),
        api_version in prop::option::of(0u64..6),
    ) {
        let mut request = json!({"method": method, "arguments": arguments, "context": {"director_uuid": "d"}});
        if let Some(v) = api_version {
            request["api_version"] = json!(v);
        }
        answer(request.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_strings_as_cids(
        method in prop::sample::select(vec!["delete_vm", "has_vm", "reboot_vm", "get_disks", "delete_disk", "has_disk", "delete_snapshot", "delete_stemcell"]),
        cid in ".{0,200}",
    ) {
        let request = json!({"method": method, "arguments": [cid], "context": {"director_uuid": "d"}, "api_version": 2});
        answer(request.to_string().as_bytes());
    }

    #[test]
    fn arbitrary_strings_as_cid_pairs(vm in ".{0,100}", disk in ".{0,100}") {
        for method in ["attach_disk", "detach_disk"] {
            let request = json!({"method": method, "arguments": [vm, disk], "context": {"director_uuid": "d"}, "api_version": 2});
            answer(request.to_string().as_bytes());
        }
    }
}

#[test]
fn arbitrary_bytes_through_the_binary() {
    // A smaller seeded sample through the real process: stdout must hold one object, exit 0.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = prop::collection::vec(any::<u8>(), 0..256);
    for _ in 0..24 {
        let input = strategy.new_tree(&mut runner).unwrap().current();
        support::run(&sim().config_path, &input, &[]);
    }
}
