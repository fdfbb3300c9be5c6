//! Persistent disk methods through the binary against azure-sim.

use crate::support;

use serde_json::{Value, json};
use support::sim::{LOCATION, RESOURCE_GROUP, SimEnv};
use support::{error_message, error_type};

fn disk_id(env: &SimEnv, cid: &str) -> String {
    let name = cid
        .split(';')
        .find_map(|kv| kv.strip_prefix("disk_name:"))
        .expect("disk_name in the CID");
    format!("{}/providers/Microsoft.Compute/disks/{name}", env.rg_id())
}

#[test]
fn create_has_delete_a_disk_without_a_vm() {
    let env = SimEnv::start();
    let cid = env.ok("create_disk", json!([10240, {"caching": "ReadOnly"}, null]));
    let cid = cid.as_str().expect("a CID string");
    assert!(
        cid.starts_with("caching:ReadOnly;disk_name:bosh-disk-data-"),
        "{cid}"
    );
    assert!(
        cid.ends_with(&format!(";resource_group_name:{RESOURCE_GROUP}")),
        "{cid}"
    );

    let disk = env
        .resource(&disk_id(&env, cid))
        .expect("the disk exists in the sim");
    assert_eq!(disk["location"], LOCATION);
    assert_eq!(disk["sku"]["name"], "Standard_LRS");
    assert_eq!(disk["properties"]["diskSizeGB"], 10);
    assert_eq!(
        disk["tags"],
        json!({"user-agent": "bosh", "caching": "ReadOnly"})
    );

    assert_eq!(env.ok("has_disk", json!([cid])), Value::Bool(true));
    assert_eq!(env.ok("delete_disk", json!([cid])), Value::Null);
    assert!(env.resource(&disk_id(&env, cid)).is_none());
    assert_eq!(env.ok("has_disk", json!([cid])), Value::Bool(false));
    // Deleting a disk that is already gone succeeds.
    assert_eq!(env.ok("delete_disk", json!([cid])), Value::Null);
}

#[test]
fn create_disk_refuses_bad_sizes_and_caching() {
    let env = SimEnv::start();
    let small = env.call("create_disk", json!([1023, {}, null]));
    assert_eq!(
        error_type(&small.response),
        Some("Bosh::Clouds::CloudError")
    );
    assert_eq!(
        error_message(&small.response),
        "Azure CPI minimum disk size is 1 GiB"
    );
    let caching = env.call("create_disk", json!([2048, {"caching": "Sometimes"}, null]));
    assert_eq!(
        error_type(&caching.response),
        Some("Bosh::Clouds::CloudError")
    );
    assert!(
        error_message(&caching.response).contains("Sometimes"),
        "{}",
        caching.stdout
    );
}

#[test]
fn vm_methods_answer_vm_not_found_for_a_missing_vm() {
    let env = SimEnv::start();
    let vm = "agent_id:missing-agent;resource_group_name:rg";
    assert_eq!(env.ok("has_vm", json!([vm])), Value::Bool(false));
    for (method, args) in [
        ("get_disks", json!([vm])),
        ("reboot_vm", json!([vm])),
        ("set_vm_metadata", json!([vm, {"job": "x"}])),
        ("create_disk", json!([10240, {}, vm])),
    ] {
        let run = env.call(method, args);
        assert_eq!(
            error_type(&run.response),
            Some("Bosh::Clouds::VMNotFound"),
            "{method}: {}",
            run.stdout
        );
        assert!(
            error_message(&run.response).contains("missing-agent"),
            "{method}"
        );
    }
}
