//! Oversized and malformed names through the binary against azure-sim: refused at once with a
//! CloudError naming the field, no request reaches ARM, and neither stdout nor stderr echoes
//! more than a short prefix of the input.

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::sim::SimEnv;
use support::vm_env::manual_network;
use support::{error_message, error_type};

/// Past the name rules, past the longest CID accepted (2 kB), and huge.
const SIZES: [usize; 3] = [300, 100_000, 5 << 20];
/// A retried request would take minutes; an answer from the checks takes milliseconds.
const AT_ONCE: Duration = Duration::from_secs(10);

fn arm_requests(env: &SimEnv) -> usize {
    env.sim
        .request_log()
        .iter()
        .filter(|r| r.path.contains("/subscriptions/"))
        .count()
}

/// Runs `method` and checks the answer: the error `wire_type` naming `field`, nothing sent to
/// ARM, small output.
fn refused(env: &SimEnv, method: &str, arguments: Value, wire_type: &str, field: &str) {
    let before = arm_requests(env);
    let started = Instant::now();
    let run = env.call(method, arguments);
    let took = started.elapsed();
    let method = &method[..method.len().min(40)];
    eprintln!(
        "{method}: answered in {} ms, stdout {} bytes, stderr {} bytes",
        took.as_millis(),
        run.stdout.len(),
        run.stderr.len()
    );
    assert_eq!(
        error_type(&run.response),
        Some(wire_type),
        "{method}: {}",
        &run.stdout[..run.stdout.len().min(2000)]
    );
    assert_eq!(run.response["error"]["ok_to_retry"], json!(false));
    let message = error_message(&run.response);
    assert!(message.contains(field), "{method}: {message}");
    assert!(message.contains(" bytes)"), "visibly cut: {message}");
    assert!(
        run.stdout.len() < 4096,
        "{method}: stdout {} bytes",
        run.stdout.len()
    );
    assert!(
        run.stderr.len() < 16 * 1024,
        "{method}: stderr {} bytes",
        run.stderr.len()
    );
    assert_eq!(arm_requests(env), before, "{method}: a request reached ARM");
    assert!(took < AT_ONCE, "{method}: took {took:?}");
}

#[test]
fn oversized_cids_are_refused_before_any_azure_call() {
    let env = SimEnv::start();
    for size in SIZES {
        let long = "a".repeat(size);
        refused(
            &env,
            "has_vm",
            json!([format!("agent_id:{long};resource_group_name:rg")]),
            "Bosh::Clouds::CloudError",
            "vm_cid",
        );
        refused(
            &env,
            "delete_vm",
            json!([format!("agent_id:vm;resource_group_name:{long}")]),
            "Bosh::Clouds::CloudError",
            if size < 2048 {
                "vm_cid resource_group_name"
            } else {
                "vm_cid"
            },
        );
        // A plain (V1) id of the wrong shape: the Ruby CPI's message, cut.
        refused(
            &env,
            "delete_vm",
            json!([long.clone()]),
            "Bosh::Clouds::CloudError",
            if size < 2048 {
                "Invalid instance id (plain)"
            } else {
                "Invalid vm_cid"
            },
        );
        refused(
            &env,
            "delete_disk",
            json!([format!(
                "caching:None;disk_name:bosh-disk-data-{long};resource_group_name:rg"
            )]),
            "Bosh::Clouds::CloudError",
            "disk_cid",
        );
        refused(
            &env,
            "delete_snapshot",
            json!([format!(
                "caching:None;disk_name:bosh-disk-data-{long};resource_group_name:rg"
            )]),
            "Bosh::Clouds::CloudError",
            "snapshot_cid",
        );
        refused(
            &env,
            "delete_stemcell",
            json!([format!("bosh-stemcell-{long}")]),
            "Bosh::Clouds::CloudError",
            "stemcell_cid",
        );
        refused(
            &env,
            long.as_str(),
            json!([]),
            "Bosh::Clouds::NotImplemented",
            "Method is not known",
        );
    }
}

#[test]
fn oversized_names_in_cloud_properties_are_refused_before_any_azure_call() {
    let env = SimEnv::start();
    // Everything create_vm needs from cpi.json, so only the names can stop it.
    env.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!("devstoreaccount1"));
    });
    for size in SIZES {
        let long = "v".repeat(size);
        let mut networks = manual_network();
        networks["private"]["cloud_properties"]["virtual_network_name"] = json!(long);
        refused(
            &env,
            "create_vm",
            json!(["6a2f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b01", "bosh-stemcell-x",
                   {"instance_type": "Standard_D2s_v3"}, networks, [], {}]),
            "Bosh::Clouds::CloudError",
            "networks.private.virtual_network_name",
        );
        refused(
            &env,
            "create_vm",
            json!(["6a2f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b01", "bosh-stemcell-x",
                   {"instance_type": "Standard_D2s_v3", "security_group": long},
                   manual_network(), [], {}]),
            "Bosh::Clouds::CloudError",
            "security_group.name",
        );
        refused(
            &env,
            "create_disk",
            json!([10240, {"disk_encryption_set_name": long}, null]),
            "Bosh::Clouds::CloudError",
            "disk_encryption_set_name",
        );
    }
}

#[test]
fn malformed_names_are_refused_with_the_rule() {
    let env = SimEnv::start();
    let before = arm_requests(&env);
    let run = env.call("has_vm", json!(["agent_id:vm/../x;resource_group_name:rg"]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("not a valid Azure virtual machine name"),
        "{}",
        run.stdout
    );
    let run = env.call(
        "has_disk",
        json!(["caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg;storage_account_name:Not_Valid"]),
    );
    assert!(
        error_message(&run.response).contains("storage account"),
        "{}",
        run.stdout
    );
    assert_eq!(arm_requests(&env), before);
    // A well-formed name still reaches Azure.
    let run = env.call("has_vm", json!(["agent_id:vm-1;resource_group_name:rg"]));
    assert_eq!(run.response["result"], json!(false), "{}", run.stdout);
}
