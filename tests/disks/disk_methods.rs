//! resize_disk, update_disk, set_disk_metadata, snapshot_disk and delete_snapshot through the
//! binary against azure-sim: request bodies, resulting resources and error types.

use crate::support;

use bosh_azure_sim::{Fault, FaultAction};
use serde_json::{Value, json};
use support::disk::{disk_cid, disk_id, seed_disk};
use support::sim::{LOCATION, RESOURCE_GROUP, SimEnv};
use support::{error_message, error_type};

const LEGACY_DISK: &str = "bosh-data-sa1-00000000-0000-0000-0000-000000000001-None";

fn disk(env: &SimEnv, name: &str) -> Value {
    env.resource(&disk_id(env, name)).expect("the disk exists")
}

/// Bodies of the requests with this method whose path ends with `suffix`.
fn bodies(env: &SimEnv, method: &str, suffix: &str) -> Vec<Value> {
    env.sim
        .request_log()
        .into_iter()
        .filter(|r| r.method == method && r.path.ends_with(suffix) && !r.fault)
        .map(|r| r.body.unwrap_or(Value::Null))
        .collect()
}

fn assert_error(run: &support::CpiRun, wire_type: &str, text: &str) {
    assert_eq!(error_type(&run.response), Some(wire_type), "{}", run.stdout);
    assert!(
        error_message(&run.response).contains(text),
        "{}",
        run.stdout
    );
}

#[test]
fn resize_grows_ignores_equal_and_refuses_to_shrink() {
    let env = SimEnv::start();
    seed_disk(&env, "bosh-disk-data-r", "None", None);
    let cid = disk_cid("bosh-disk-data-r", "None");
    // 20481 MiB rounds up to 21 GiB.
    assert_eq!(env.ok("resize_disk", json!([cid, 20481])), Value::Null);
    assert_eq!(
        disk(&env, "bosh-disk-data-r")["properties"]["diskSizeGB"],
        21
    );
    assert_eq!(
        bodies(&env, "PATCH", "/disks/bosh-disk-data-r"),
        vec![json!({"properties": {"diskSizeGB": 21}})]
    );
    assert_eq!(env.ok("resize_disk", json!([cid, 21504])), Value::Null);
    assert_eq!(bodies(&env, "PATCH", "/disks/bosh-disk-data-r").len(), 1);

    let run = env.call("resize_disk", json!([cid, 10240]));
    assert_error(
        &run,
        "Bosh::Clouds::NotSupported",
        "cannot shrink from 21 GiB to 10 GiB",
    );
    let run = env.call(
        "resize_disk",
        json!([disk_cid("bosh-disk-data-gone", "None"), 20480]),
    );
    assert_error(&run, "Bosh::Clouds::DiskNotFound", "bosh-disk-data-gone");
    let run = env.call("resize_disk", json!([LEGACY_DISK, 20480]));
    assert_error(&run, "Bosh::Clouds::NotSupported", "unmanaged");
}

#[test]
fn update_disk_changes_in_place_or_says_not_supported() {
    let env = SimEnv::start();
    seed_disk(&env, "bosh-disk-data-u", "ReadOnly", None);
    let cid = disk_cid("bosh-disk-data-u", "ReadOnly");
    let path = "/disks/bosh-disk-data-u";
    // Same caching as the disk has is no change (the Ruby CPI refused any caching).
    let props = json!({"caching": "ReadOnly", "storage_account_type": "StandardSSD_LRS"});
    assert_eq!(
        env.ok("update_disk", json!([cid, 20480, props])),
        Value::Null
    );
    assert_eq!(
        bodies(&env, "PATCH", path),
        vec![json!({"sku": {"name": "StandardSSD_LRS"}, "properties": {"diskSizeGB": 20}})]
    );
    let updated = disk(&env, "bosh-disk-data-u");
    assert_eq!(updated["sku"]["name"], "StandardSSD_LRS");
    assert_eq!(updated["properties"]["diskSizeGB"], 20);
    // Asking again for what the disk already is writes nothing.
    env.ok(
        "update_disk",
        json!([cid, 20480, {"storage_account_type": "StandardSSD_LRS"}]),
    );
    assert_eq!(bodies(&env, "PATCH", path).len(), 1);

    let run = env.call("update_disk", json!([cid, 20480, {"caching": "None"}]));
    assert_error(
        &run,
        "Bosh::Clouds::NotSupported",
        "Disk caching cannot be modified",
    );
    let run = env.call("update_disk", json!([cid, 10240, {}]));
    assert_error(
        &run,
        "Bosh::Clouds::NotSupported",
        "Disk size cannot be decreased",
    );
    let run = env.call(
        "update_disk",
        json!([disk_cid("bosh-disk-data-gone", "None"), 10240, {}]),
    );
    assert_error(&run, "Bosh::Clouds::NotSupported", "not found");
    let run = env.call("update_disk", json!([LEGACY_DISK, 10240, {}]));
    assert_error(
        &run,
        "Bosh::Clouds::NotSupported",
        "only supported for managed disks",
    );

    // A conversion Azure refuses becomes NotSupported, so the Director copies the data instead.
    env.sim
        .add_fault(Fault {
            method: Some("PATCH".into()),
            path: "/disks/bosh-disk-data-u$".into(),
            nth: None,
            times: Some(1),
            probability: None,
            action: FaultAction::Status {
                status: 400,
                code: Some("BadRequest".into()),
                message: Some("Changing a disk's account type from 'StandardSSD_LRS' to 'UltraSSD_LRS' is not supported.".into()),
                retry_after_secs: None,
            },
        })
        .expect("fault");
    let run = env.call(
        "update_disk",
        json!([cid, 20480, {"storage_account_type": "UltraSSD_LRS"}]),
    );
    assert_error(
        &run,
        "Bosh::Clouds::NotSupported",
        "Disk conversion is not supported",
    );
    assert_eq!(
        disk(&env, "bosh-disk-data-u")["sku"]["name"],
        "StandardSSD_LRS"
    );
}

#[test]
fn set_disk_metadata_merges_tags_and_keeps_its_own() {
    let env = SimEnv::start();
    seed_disk(&env, "bosh-disk-data-m", "ReadWrite", None);
    let cid = disk_cid("bosh-disk-data-m", "ReadWrite");
    let metadata = json!({"director": "bosh", "index": 2, "caching": "None", "user-agent": "x"});
    assert_eq!(
        env.ok("set_disk_metadata", json!([cid, metadata])),
        Value::Null
    );
    let expected =
        json!({"user-agent": "bosh", "caching": "ReadWrite", "director": "bosh", "index": "2"});
    assert_eq!(disk(&env, "bosh-disk-data-m")["tags"], expected);
    assert_eq!(
        bodies(&env, "PATCH", "/disks/bosh-disk-data-m"),
        vec![json!({"tags": expected})]
    );
    // Later metadata merges over earlier; the same metadata again writes nothing.
    env.ok("set_disk_metadata", json!([cid, {"index": 3}]));
    assert_eq!(disk(&env, "bosh-disk-data-m")["tags"]["index"], "3");
    assert_eq!(disk(&env, "bosh-disk-data-m")["tags"]["director"], "bosh");
    env.ok("set_disk_metadata", json!([cid, {"index": 3}]));
    assert_eq!(bodies(&env, "PATCH", "/disks/bosh-disk-data-m").len(), 2);

    let run = env.call(
        "set_disk_metadata",
        json!([disk_cid("bosh-disk-data-gone", "None"), {}]),
    );
    assert_error(&run, "Bosh::Clouds::DiskNotFound", "bosh-disk-data-gone");
    // The Director ignores NotImplemented here, so a blob disk does not fail a deploy.
    let run = env.call("set_disk_metadata", json!([LEGACY_DISK, {"a": "b"}]));
    assert_error(&run, "Bosh::Clouds::NotImplemented", "unmanaged");
}

#[test]
fn snapshot_and_delete_snapshot() {
    let env = SimEnv::start();
    seed_disk(&env, "bosh-disk-data-s", "ReadOnly", None);
    let cid = disk_cid("bosh-disk-data-s", "ReadOnly");
    let metadata = json!({"deployment": "cf", "instance_id": "i-1", "agent_id": "a", "index": 0});
    let snapshot = env.ok("snapshot_disk", json!([cid, metadata]));
    let snapshot = snapshot.as_str().expect("a snapshot CID");
    let name = snapshot
        .strip_prefix("caching:ReadOnly;disk_name:")
        .and_then(|rest| rest.strip_suffix(&format!(";resource_group_name:{RESOURCE_GROUP}")))
        .unwrap_or_else(|| panic!("Ruby snapshot CID format: {snapshot}"));
    let uuid = name.strip_prefix("bosh-disk-data-").expect("managed name");
    assert!(uuid::Uuid::parse_str(uuid).is_ok(), "{name}");

    let disk_id = disk_id(&env, "bosh-disk-data-s");
    let put = bodies(&env, "PUT", &format!("/snapshots/{name}"));
    assert_eq!(
        put,
        vec![json!({
            "location": LOCATION,
            "tags": {"deployment": "cf", "instance_id": "i-1", "agent_id": "a", "index": "0", "original": "bosh-disk-data-s"},
            "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk_id}}
        })]
    );
    let snapshot_id = format!(
        "{}/providers/Microsoft.Compute/snapshots/{name}",
        env.rg_id()
    );
    assert!(env.resource(&snapshot_id).is_some());

    assert_eq!(env.ok("delete_snapshot", json!([snapshot])), Value::Null);
    assert!(env.resource(&snapshot_id).is_none());
    // Already gone is fine.
    assert_eq!(env.ok("delete_snapshot", json!([snapshot])), Value::Null);

    let run = env.call(
        "snapshot_disk",
        json!([disk_cid("bosh-disk-data-gone", "None"), {}]),
    );
    assert_error(&run, "Bosh::Clouds::DiskNotFound", "bosh-disk-data-gone");
    // Legacy blob disks whose storage account does not exist (the blob flows themselves are in
    // disk_legacy.rs): no disk to snapshot, no snapshot left to delete.
    let run = env.call("snapshot_disk", json!([LEGACY_DISK, {}]));
    assert_error(&run, "Bosh::Clouds::DiskNotFound", LEGACY_DISK);
    let blob_snapshot = "caching:None;disk_name:bosh-data-00000000-0000-0000-0000-000000000001--2024-01-01T00:00:00.0000000Z;storage_account_name:sa1";
    assert_eq!(
        env.ok("delete_snapshot", json!([blob_snapshot])),
        Value::Null
    );
}
