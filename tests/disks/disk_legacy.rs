//! Legacy disks through the binary against azure-sim (+ Azurite for blobs): unmanaged
//! `bosh-data-*` blob disks (has/delete/snapshot/delete_snapshot, import at attach), and the
//! regional → zonal move at attach, with injected failures at every step leaving the disk's data
//! intact and an error that says what is left.
//!
//! Azurite's account doubles as the ARM storage account (`devstoreaccount1`), so Shared Key
//! names match.

use crate::support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions};
use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::{Fault, FaultAction, SimConfig, StorageBackend};
use serde_json::{Value, json};
use support::disk::{disk_cid, disk_id, seed_vm, vm_cid, vm_id};
use support::sim::{LOCATION, RESOURCE_GROUP, SimEnv};
use support::{error_message, error_type};

const VM_SIZE: &str = "Standard_D2s_v3";

struct BlobEnv {
    sim: SimEnv,
    azurite: Azurite,
    blobs: BlobService,
}

fn start_with_azurite() -> Option<BlobEnv> {
    start_blob_env(SimConfig::default())
}

fn start_blob_env(config: SimConfig) -> Option<BlobEnv> {
    let azurite = Azurite::start_for_test()?;
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: azurite.blob_endpoint(),
            account_name: azurite.account_name().into(),
            account_key: azurite.account_key().into(),
        }),
        ..config
    });
    sim.seed(json!({
        "id": storage_account_id(&sim, azurite.account_name()),
        "location": LOCATION, "sku": {"name": "Premium_LRS"}, "kind": "StorageV2"
    }));
    let access = StorageAccess {
        account_name: azurite.account_name().into(),
        blob_endpoint: azurite.blob_endpoint(),
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(
            azurite.account_key().to_string().into(),
        ),
    };
    let blobs = BlobService::new(&access, BlobServiceOptions::default()).unwrap();
    Some(BlobEnv {
        sim,
        azurite,
        blobs,
    })
}

fn storage_account_id(sim: &SimEnv, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Storage/storageAccounts/{name}",
        sim.rg_id()
    )
}

impl BlobEnv {
    fn account(&self) -> &str {
        self.azurite.account_name()
    }

    /// A 1 MiB VHD blob `bosh/<name>.vhd` with a recognisable first page, as the Ruby CPI's
    /// create_disk left it (plus `metadata`).
    fn seed_blob_disk(&self, name: &str, metadata: &[(&str, &str)]) {
        let metadata: HashMap<String, String> = metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let blob = format!("{name}.vhd");
        self.sim.runtime.block_on(async {
            self.blobs.ensure_container("bosh").await.unwrap();
            self.blobs
                .create_page_blob("bosh", &blob, 1024 * 1024 + 512, &metadata)
                .await
                .unwrap();
            self.blobs
                .page_writer("bosh", &blob)
                .unwrap()
                .put_pages(0, bytes::Bytes::from(vec![7u8; 512]))
                .await
                .unwrap();
        });
    }

    fn blob_metadata(&self, name: &str) -> Option<HashMap<String, String>> {
        self.sim
            .runtime
            .block_on(self.blobs.get_metadata("bosh", &format!("{name}.vhd")))
            .unwrap()
    }

    fn blob_cid(&self, name: &str, caching: &str) -> String {
        format!(
            "caching:{caching};disk_name:{name};storage_account_name:{}",
            self.account()
        )
    }
}

fn new_blob_disk_name() -> String {
    format!("bosh-data-{}", uuid::Uuid::new_v4())
}

/// Bodies of the (not faulted) requests with this method whose path matches `suffix`.
fn bodies(env: &SimEnv, method: &str, suffix: &str) -> Vec<Value> {
    env.sim
        .request_log()
        .into_iter()
        .filter(|r| r.method == method && r.path.ends_with(suffix) && !r.fault)
        .map(|r| r.body.unwrap_or(Value::Null))
        .collect()
}

/// `(method, path)` of every ARM write, in order.
fn writes(env: &SimEnv) -> Vec<(String, String)> {
    env.sim
        .request_log()
        .into_iter()
        .filter(|r| r.method != "GET" && r.method != "POST" && r.path.contains("/providers/"))
        .map(|r| (r.method, r.path))
        .collect()
}

fn expected(fixture: &str, values: &[(&str, &str)]) -> Value {
    let mut text = std::fs::read_to_string(support::fixture(&format!("legacy_disks/{fixture}")))
        .expect("fixture");
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    serde_json::from_str(&text).expect("fixture JSON")
}

fn assert_error(run: &support::CpiRun, wire_type: &str, texts: &[&str]) {
    assert_eq!(error_type(&run.response), Some(wire_type), "{}", run.stdout);
    for text in texts {
        assert!(
            error_message(&run.response).contains(text),
            "expected {text:?} in {}",
            run.stdout
        );
    }
}

fn snapshots(env: &SimEnv) -> Vec<Value> {
    env.sim.inventory()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["id"]
                .as_str()
                .is_some_and(|id| id.contains("/Microsoft.Compute/snapshots/"))
        })
        .map(|r| r["body"].clone())
        .collect()
}

fn fault(method: &str, path: &str, times: u32, action: FaultAction) -> Fault {
    Fault {
        method: Some(method.into()),
        path: path.into(),
        nth: None,
        times: Some(times),
        probability: None,
        action,
    }
}

fn lro_failed() -> FaultAction {
    FaultAction::LroFailed {
        code: "InternalDiskManagementError".into(),
        message: "An internal disk management error occurred.".into(),
        canceled: false,
        retry_after_secs: None,
    }
}

fn refused() -> FaultAction {
    FaultAction::Status {
        status: 400,
        code: Some("BadRequest".into()),
        message: Some("Injected refusal.".into()),
        retry_after_secs: None,
    }
}

#[test]
fn blob_disks_answer_has_snapshot_and_delete() {
    let Some(env) = start_with_azurite() else {
        return;
    };
    let name = new_blob_disk_name();
    env.seed_blob_disk(&name, &[]);
    let cid = env.blob_cid(&name, "ReadOnly");
    assert_eq!(env.sim.ok("has_disk", json!([cid])), json!(true));

    let metadata = json!({"deployment": "cf", "index": 0, "custom-tag": "x"});
    let snapshot = env.sim.ok("snapshot_disk", json!([cid, metadata]));
    let snapshot = snapshot.as_str().expect("a snapshot CID");
    // Ruby's format: caching:<c>;disk_name:<disk>--<snapshot time>;storage_account_name:<sa>.
    let time = snapshot
        .strip_prefix(&format!("caching:ReadOnly;disk_name:{name}--"))
        .and_then(|rest| rest.strip_suffix(&format!(";storage_account_name:{}", env.account())))
        .unwrap_or_else(|| panic!("Ruby blob snapshot CID format: {snapshot}"));
    assert!(time.ends_with('Z') && time.contains('T'), "{time}");
    let blob = format!("{name}.vhd");
    let snapshot_metadata = env
        .sim
        .runtime
        .block_on(env.blobs.get_snapshot_properties("bosh", &blob, time))
        .unwrap()
        .expect("the blob snapshot exists")
        .metadata;
    assert_eq!(
        snapshot_metadata,
        HashMap::from([
            ("deployment".to_owned(), "cf".to_owned()),
            ("index".to_owned(), "0".to_owned()),
            ("custom_tag".to_owned(), "x".to_owned()),
        ])
    );
    // Nothing went to ARM disks or snapshots.
    assert!(writes(&env.sim).is_empty(), "{:?}", writes(&env.sim));

    assert_eq!(
        env.sim.ok("delete_snapshot", json!([snapshot])),
        Value::Null
    );
    let gone = env
        .sim
        .runtime
        .block_on(env.blobs.get_snapshot_properties("bosh", &blob, time))
        .unwrap();
    assert!(gone.is_none(), "the blob snapshot is deleted");
    assert!(env.blob_metadata(&name).is_some(), "the disk blob stays");
    assert_eq!(
        env.sim.ok("delete_snapshot", json!([snapshot])),
        Value::Null
    );

    // A second snapshot goes with the disk, as in Ruby.
    let second = env.sim.ok("snapshot_disk", json!([cid, {}]));
    assert!(second.as_str().unwrap().contains("--"));
    assert_eq!(env.sim.ok("delete_disk", json!([cid])), Value::Null);
    assert!(env.blob_metadata(&name).is_none(), "the blob is deleted");
    assert_eq!(env.sim.ok("has_disk", json!([cid])), json!(false));
    assert_eq!(env.sim.ok("delete_disk", json!([cid])), Value::Null);
    assert_eq!(env.sim.ok("delete_snapshot", json!([second])), Value::Null);
    let run = env.sim.call("snapshot_disk", json!([cid, {}]));
    assert_error(&run, "Bosh::Clouds::DiskNotFound", &[&name]);

    // The legacy plain (V1) form names the same kind of blob: bosh-data-<sa>-<uuid>-<caching>.
    let plain = format!("bosh-data-{}-{}-None", env.account(), uuid::Uuid::new_v4());
    env.seed_blob_disk(&plain, &[]);
    assert_eq!(env.sim.ok("has_disk", json!([plain])), json!(true));
    let snapshot = env.sim.ok("snapshot_disk", json!([plain, {}]));
    assert!(
        snapshot
            .as_str()
            .unwrap()
            .starts_with(&format!("caching:None;disk_name:{plain}--")),
        "{snapshot}"
    );
    assert_eq!(env.sim.ok("delete_disk", json!([plain])), Value::Null);
    assert_eq!(env.sim.ok("has_disk", json!([plain])), json!(false));

    // A storage account that does not exist holds no disks.
    let elsewhere = format!(
        "caching:None;disk_name:{};storage_account_name:nosuchaccount",
        new_blob_disk_name()
    );
    assert_eq!(env.sim.ok("has_disk", json!([elsewhere])), json!(false));
    assert_eq!(env.sim.ok("delete_disk", json!([elsewhere])), Value::Null);
    let run = env.sim.call("snapshot_disk", json!([elsewhere, {}]));
    assert_error(&run, "Bosh::Clouds::DiskNotFound", &["nosuchaccount"]);
}

#[test]
fn attach_imports_a_blob_disk_into_the_vm_zone_and_marks_the_blob() {
    let Some(env) = start_with_azurite() else {
        return;
    };
    seed_vm(&env.sim, "vm-i", VM_SIZE, Some("1"), json!([]));
    let name = new_blob_disk_name();
    env.seed_blob_disk(&name, &[("owner", "ops")]);
    let cid = env.blob_cid(&name, "ReadOnly");

    let started = Instant::now();
    let hints = env.sim.ok("attach_disk", json!([vm_cid("vm-i"), cid]));
    let wall = started.elapsed();
    eprintln!("attach_disk with blob import: {wall:?}");
    assert_eq!(
        hints,
        json!({"lun": "0", "host_device_id": "{f8b3781b-1e82-4818-a1c3-63d806ec15bb}"})
    );

    let blob_url = format!("{}/bosh/{name}.vhd", env.azurite.blob_endpoint());
    let account_id = storage_account_id(&env.sim, env.account());
    assert_eq!(
        bodies(&env.sim, "PUT", &format!("/disks/{name}")),
        vec![expected(
            "import_disk_put.json",
            &[("blob_url", &blob_url), ("storage_account_id", &account_id)]
        )]
    );
    let disk = env
        .sim
        .resource(&disk_id(&env.sim, &name))
        .expect("the managed disk");
    assert_eq!(disk["zones"], json!(["1"]));
    assert_eq!(disk["sku"]["name"], "Premium_LRS");
    assert_eq!(disk["properties"]["diskSizeGB"], 1);
    let marker = env.blob_metadata(&name).expect("the blob is kept");
    assert_eq!(
        marker,
        HashMap::from([
            ("owner".to_owned(), "ops".to_owned()),
            ("user_agent".to_owned(), "bosh".to_owned()),
            ("migrated".to_owned(), "true".to_owned()),
        ])
    );
    let vm = env.sim.resource(&vm_id(&env.sim, "vm-i")).unwrap();
    assert_eq!(vm["tags"][format!("disk-id-{name}")], cid);
    assert_eq!(
        vm["properties"]["storageProfile"]["dataDisks"][0]["managedDisk"]["id"]
            .as_str()
            .map(str::to_ascii_lowercase),
        Some(disk_id(&env.sim, &name).to_ascii_lowercase())
    );
    assert_eq!(
        env.sim.ok("get_disks", json!([vm_cid("vm-i")])),
        json!([cid])
    );

    // From now on the managed disk is the disk: has_disk, snapshot_disk (a managed snapshot in
    // Ruby's managed CID format), a second attach (same LUN, no second import).
    assert_eq!(env.sim.ok("has_disk", json!([cid])), json!(true));
    let snapshot = env
        .sim
        .ok("snapshot_disk", json!([cid, {"deployment": "cf"}]));
    let snapshot = snapshot.as_str().unwrap();
    assert!(
        snapshot.starts_with("caching:ReadOnly;disk_name:bosh-disk-data-")
            && snapshot.ends_with(&format!(";resource_group_name:{RESOURCE_GROUP}")),
        "{snapshot}"
    );
    let snapshot_name = snapshot
        .split(';')
        .nth(1)
        .unwrap()
        .trim_start_matches("disk_name:");
    assert_eq!(
        bodies(&env.sim, "PUT", &format!("/snapshots/{snapshot_name}"))[0]["tags"],
        json!({"deployment": "cf", "original": name})
    );
    assert_eq!(
        env.sim.ok("delete_snapshot", json!([snapshot])),
        Value::Null
    );
    assert_eq!(
        env.sim.ok("attach_disk", json!([vm_cid("vm-i"), cid]))["lun"],
        "0"
    );
    assert_eq!(bodies(&env.sim, "PUT", &format!("/disks/{name}")).len(), 1);

    // Deleting it deletes the managed disk; the migrated blob stays for the operator, and the
    // disk no longer exists for BOSH.
    env.sim.ok("detach_disk", json!([vm_cid("vm-i"), cid]));
    assert_eq!(env.sim.ok("delete_disk", json!([cid])), Value::Null);
    assert!(env.sim.resource(&disk_id(&env.sim, &name)).is_none());
    assert!(env.blob_metadata(&name).is_some());
    assert_eq!(env.sim.ok("has_disk", json!([cid])), json!(false));
    let run = env.sim.call("attach_disk", json!([vm_cid("vm-i"), cid]));
    assert_error(&run, "Bosh::Clouds::DiskNotFound", &[&name]);
    assert!(wall < Duration::from_secs(30));
}

#[test]
fn failed_import_leaves_the_blob_as_it_was() {
    let Some(env) = start_with_azurite() else {
        return;
    };
    seed_vm(&env.sim, "vm-f", VM_SIZE, None, json!([]));
    let name = new_blob_disk_name();
    env.seed_blob_disk(&name, &[]);
    let cid = env.blob_cid(&name, "None");
    let vm_before = env.sim.resource(&vm_id(&env.sim, "vm-f"));

    env.sim
        .sim
        .add_fault(fault("PUT", &format!("/disks/{name}$"), 1, lro_failed()))
        .unwrap();
    let run = env.sim.call("attach_disk", json!([vm_cid("vm-f"), cid]));
    assert_error(
        &run,
        "Bosh::Clouds::CloudError",
        &[
            "Failed to create the managed disk",
            &name,
            "InternalDiskManagementError",
            "The blob is unchanged",
        ],
    );
    assert!(
        env.sim.resource(&disk_id(&env.sim, &name)).is_none(),
        "the failed managed disk is removed"
    );
    assert_eq!(env.blob_metadata(&name), Some(HashMap::new()));
    assert_eq!(env.sim.resource(&vm_id(&env.sim, "vm-f")), vm_before);
    assert_eq!(env.sim.ok("has_disk", json!([cid])), json!(true));

    // The account's keys cannot be read: nothing is created or marked.
    env.sim
        .sim
        .add_fault(fault("POST", "/listKeys$", 1, refused()))
        .unwrap();
    let run = env.sim.call("attach_disk", json!([vm_cid("vm-f"), cid]));
    assert_error(&run, "Bosh::Clouds::CloudError", &["Injected refusal"]);
    assert!(env.sim.resource(&disk_id(&env.sim, &name)).is_none());
    assert_eq!(env.blob_metadata(&name), Some(HashMap::new()));
    assert_eq!(env.sim.resource(&vm_id(&env.sim, "vm-f")), vm_before);

    // The Director's retry imports it (regional VM: no zone).
    env.sim.ok("attach_disk", json!([vm_cid("vm-f"), cid]));
    let disk = env.sim.resource(&disk_id(&env.sim, &name)).unwrap();
    assert!(disk.get("zones").is_none());
    assert_eq!(env.blob_metadata(&name).unwrap()["migrated"], "true");

    // No blob, or no storage account: DiskNotFound, nothing created.
    let missing = env.blob_cid(&new_blob_disk_name(), "None");
    let run = env
        .sim
        .call("attach_disk", json!([vm_cid("vm-f"), missing]));
    assert_error(&run, "Bosh::Clouds::DiskNotFound", &["cannot be found"]);
    let no_account = format!(
        "caching:None;disk_name:{};storage_account_name:nosuchaccount",
        new_blob_disk_name()
    );
    let run = env
        .sim
        .call("attach_disk", json!([vm_cid("vm-f"), no_account]));
    assert_error(&run, "Bosh::Clouds::DiskNotFound", &["nosuchaccount"]);
}

/// A zonal VM and a regional disk as the Ruby CPI's create_disk (without vm_cid) left it.
fn zone_env() -> SimEnv {
    let env = SimEnv::start();
    seed_vm(&env, "vm-z", VM_SIZE, Some("1"), json!([]));
    env.seed(json!({
        "id": disk_id(&env, "bosh-disk-data-r"),
        "location": LOCATION,
        "sku": {"name": "Premium_LRS"},
        "tags": {"user-agent": "bosh", "caching": "ReadWrite", "deployment": "cf"},
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 12}
    }));
    env
}

fn regional_cid() -> String {
    disk_cid("bosh-disk-data-r", "ReadWrite")
}

/// The disk as the sim holds it, without what differs between two copies of it.
fn disk_essentials(env: &SimEnv) -> Option<Value> {
    env.resource(&disk_id(env, "bosh-disk-data-r")).map(|d| {
        json!({
            "zones": d.get("zones").cloned().unwrap_or(json!([])),
            "sku": d["sku"]["name"],
            "tags": d["tags"],
            "size": d["properties"]["diskSizeGB"],
            "state": d["properties"]["provisioningState"],
        })
    })
}

fn regional_essentials() -> Value {
    json!({"zones": [], "sku": "Premium_LRS", "size": 12, "state": "Succeeded",
        "tags": {"user-agent": "bosh", "caching": "ReadWrite", "deployment": "cf"}})
}

#[test]
fn attach_moves_a_regional_disk_into_the_vm_zone() {
    let env = zone_env();
    let started = Instant::now();
    let hints = env.ok("attach_disk", json!([vm_cid("vm-z"), regional_cid()]));
    let wall = started.elapsed();
    eprintln!("attach_disk with zone migration: {wall:?}");
    assert_eq!(hints["lun"], "0");

    let disk_path = "/disks/bosh-disk-data-r";
    let snapshot_puts: Vec<_> = env
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/snapshots/"))
        .collect();
    assert_eq!(snapshot_puts.len(), 1);
    let snapshot_name = snapshot_puts[0].path.rsplit('/').next().unwrap().to_owned();
    assert!(snapshot_name.starts_with("bosh-disk-data-"));
    let snapshot_id = format!(
        "{}/providers/Microsoft.Compute/snapshots/{snapshot_name}",
        env.rg_id()
    );
    assert_eq!(
        snapshot_puts[0].body.clone().unwrap(),
        expected(
            "zone_snapshot_put.json",
            &[
                ("disk_name", "bosh-disk-data-r"),
                ("disk_id", &disk_id(&env, "bosh-disk-data-r"))
            ]
        )
    );
    assert_eq!(
        bodies(&env, "PUT", disk_path),
        vec![expected(
            "zone_disk_put.json",
            &[("snapshot_id", &snapshot_id)]
        )]
    );
    // Order: snapshot, delete the disk, recreate it; then, at once, attach and delete the
    // snapshot.
    let order: Vec<String> = writes(&env)
        .into_iter()
        .map(|(method, path)| {
            let kind = if path.contains("/snapshots/") {
                "snapshot"
            } else if path.contains("/disks/") {
                "disk"
            } else {
                "vm"
            };
            format!("{method} {kind}")
        })
        .collect();
    assert_eq!(order[..3], ["PUT snapshot", "DELETE disk", "PUT disk"]);
    let mut last = order[3..].to_vec();
    last.sort();
    assert_eq!(last, ["DELETE snapshot", "PATCH vm"]);
    let mut zonal = regional_essentials();
    zonal["zones"] = json!(["1"]);
    assert_eq!(disk_essentials(&env), Some(zonal));
    assert!(snapshots(&env).is_empty(), "the snapshot is cleaned up");
    let vm = env.resource(&vm_id(&env, "vm-z")).unwrap();
    assert_eq!(vm["tags"]["disk-id-bosh-disk-data-r"], regional_cid());
    assert!(wall < Duration::from_secs(30));
}

#[test]
fn failed_zone_moves_keep_the_disk_and_say_what_is_left() {
    struct Case {
        name: &'static str,
        faults: Vec<Fault>,
        messages: &'static [&'static str],
        /// The disk afterwards: regional as before (`false`) or gone, its data in the kept
        /// snapshot (`true`).
        snapshot_kept: bool,
    }
    let disk = "/disks/bosh-disk-data-r$";
    let cases = [
        Case {
            name: "snapshot refused",
            faults: vec![fault("PUT", "/snapshots/", 1, refused())],
            messages: &[
                "Cannot snapshot disk",
                "The disk is unchanged",
                "no snapshot is left",
            ],
            snapshot_kept: false,
        },
        Case {
            name: "snapshot operation failed",
            faults: vec![fault("PUT", "/snapshots/", 1, lro_failed())],
            messages: &[
                "Cannot snapshot disk",
                "InternalDiskManagementError",
                "no snapshot is left",
            ],
            snapshot_kept: false,
        },
        Case {
            name: "disk delete refused",
            faults: vec![fault(
                "DELETE",
                disk,
                1,
                FaultAction::Status {
                    status: 409,
                    code: Some("OperationNotAllowed".into()),
                    message: Some("Injected: the disk is in use.".into()),
                    retry_after_secs: None,
                },
            )],
            messages: &[
                "Cannot delete regional disk",
                "The disk is unchanged",
                "no snapshot is left",
            ],
            snapshot_kept: false,
        },
        Case {
            name: "zonal create fails three times, restored",
            faults: vec![fault("PUT", disk, 3, lro_failed())],
            messages: &[
                "Failed to create disk 'bosh-disk-data-r' in zone '1'",
                "restored from the snapshot as the regional disk",
                "no snapshot is left",
            ],
            snapshot_kept: false,
        },
        Case {
            name: "zonal create and restore refused",
            faults: vec![fault("PUT", disk, 10, refused())],
            messages: &[
                "You need to recover",
                "az disk create --resource-group rg --location eastus --sku Premium_LRS --zone 1 --name bosh-disk-data-r --source bosh-disk-data-",
                "is kept",
                "putting the disk back as a regional disk failed too",
            ],
            snapshot_kept: true,
        },
    ];
    for case in cases {
        let env = zone_env();
        let vm_before = env.resource(&vm_id(&env, "vm-z"));
        for f in case.faults {
            env.sim.add_fault(f).unwrap();
        }
        let run = env.call("attach_disk", json!([vm_cid("vm-z"), regional_cid()]));
        assert_error(&run, "Bosh::Clouds::CloudError", case.messages);
        assert_eq!(
            env.resource(&vm_id(&env, "vm-z")),
            vm_before,
            "{}: the VM is unchanged",
            case.name
        );
        let left = snapshots(&env);
        if case.snapshot_kept {
            assert_eq!(disk_essentials(&env), None, "{}", case.name);
            assert_eq!(left.len(), 1, "{}", case.name);
            assert_eq!(left[0]["tags"]["original"], "bosh-disk-data-r");
            assert_eq!(left[0]["properties"]["diskSizeGB"], 12);
            assert_eq!(left[0]["properties"]["provisioningState"], "Succeeded");
            let name = left[0]["name"].as_str().unwrap();
            assert!(
                error_message(&run.response).contains(name),
                "{}",
                run.stdout
            );
        } else {
            assert_eq!(
                disk_essentials(&env),
                Some(regional_essentials()),
                "{}: the disk is as it was",
                case.name
            );
            assert!(left.is_empty(), "{}: {left:?}", case.name);
            // And the Director's retry moves it.
            env.sim.clear_faults();
            env.ok("attach_disk", json!([vm_cid("vm-z"), regional_cid()]));
            assert_eq!(
                disk_essentials(&env).unwrap()["zones"],
                json!(["1"]),
                "{}",
                case.name
            );
        }
    }
}

#[test]
fn zone_move_survives_a_snapshot_that_cannot_be_deleted_and_refuses_attached_disks() {
    let env = zone_env();
    env.sim
        .add_fault(fault("DELETE", "/snapshots/", 10, refused()))
        .unwrap();
    let run = env.call("attach_disk", json!([vm_cid("vm-z"), regional_cid()]));
    assert_eq!(run.response["error"], Value::Null, "{}", run.stdout);
    assert_eq!(disk_essentials(&env).unwrap()["zones"], json!(["1"]));
    assert_eq!(snapshots(&env).len(), 1, "the leftover snapshot");
    assert!(run.stderr.contains("delete it by hand"), "{}", run.stderr);

    // A regional disk still attached to another (regional) VM is not touched.
    let env = zone_env();
    let attached = json!([{"name": "bosh-disk-data-r", "lun": 1, "createOption": "Attach", "caching": "ReadWrite",
        "managedDisk": {"id": disk_id(&env, "bosh-disk-data-r")}}]);
    seed_vm(&env, "vm-other", VM_SIZE, None, attached);
    let run = env.call("attach_disk", json!([vm_cid("vm-z"), regional_cid()]));
    assert_error(
        &run,
        "Bosh::Clouds::CloudError",
        &["vm-other", "detach it first", "The disk is unchanged"],
    );
    assert_eq!(disk_essentials(&env), Some(regional_essentials()));
    assert!(snapshots(&env).is_empty());
}

#[test]
fn get_disks_lists_unmanaged_data_disks_of_a_vm() {
    let env = SimEnv::start();
    let name = new_blob_disk_name();
    let cid = format!("caching:None;disk_name:{name};storage_account_name:sa1");
    let rg = env.rg_id();
    let vm = json!({
        "id": vm_id(&env, "vm-u"),
        "location": LOCATION,
        "tags": {"user-agent": "bosh", format!("disk-id-{name}"): cid},
        "properties": {
            "hardwareProfile": {"vmSize": VM_SIZE},
            "storageProfile": {
                "osDisk": {"name": "bosh-os-vm-u", "createOption": "FromImage", "vhd": {"uri": "https://sa1.blob.core.windows.net/bosh/bosh-os-vm-u.vhd"}},
                "dataDisks": [
                    {"name": "ephemeral-disk", "lun": 0, "createOption": "Empty", "diskSizeGB": 30, "vhd": {"uri": "https://sa1.blob.core.windows.net/bosh/bosh-os-vm-u-ephemeral-disk.vhd"}},
                    {"name": name, "lun": 1, "createOption": "Attach", "caching": "None", "vhd": {"uri": format!("https://sa1.blob.core.windows.net/bosh/{name}.vhd")}},
                    {"name": "bosh-data-untagged", "lun": 2, "createOption": "Attach", "vhd": {"uri": "https://sa1.blob.core.windows.net/bosh/bosh-data-untagged.vhd"}}
                ]
            },
            "networkProfile": {"networkInterfaces": [{"id": format!("{rg}/providers/Microsoft.Network/networkInterfaces/vm-u-0")}]}
        }
    });
    env.sim.seed_raw(vm).unwrap();
    let vm_cid =
        format!("agent_id:vm-u;resource_group_name:{RESOURCE_GROUP};storage_account_name:sa1");
    // As in Ruby: the `disk-id-<name>` tag, else the disk name; the ephemeral disk left out.
    assert_eq!(
        env.ok("get_disks", json!([vm_cid])),
        json!([cid, "bosh-data-untagged"])
    );
    // Such a VM gets no disk attached: Azure retired unmanaged VM disks.
    let vm_before = env.resource(&vm_id(&env, "vm-u"));
    let run = env.call("attach_disk", json!([vm_cid, cid]));
    assert_error(
        &run,
        "Bosh::Clouds::CloudError",
        &["uses unmanaged disks", "Nothing was changed"],
    );
    assert_eq!(env.resource(&vm_id(&env, "vm-u")), vm_before);
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1000.0
}

fn timed(env: &SimEnv, method: &str, arguments: Value) -> Duration {
    let started = Instant::now();
    let run = env.call(method, arguments);
    let took = started.elapsed();
    assert_eq!(run.response["error"], Value::Null, "{}", run.stdout);
    took
}

/// `cargo test --test disks disk_legacy::legacy_attach_wall_time -- --ignored --nocapture`
#[test]
#[ignore = "a measurement, not a check"]
fn legacy_attach_wall_time() {
    const RUNS: usize = 5;
    for (label, polls) in [
        ("operations InProgress once (sim default)", 1),
        ("operations done at once", 0),
    ] {
        let Some(env) = start_blob_env(SimConfig {
            lro_in_progress_polls: polls,
            ..SimConfig::default()
        }) else {
            return;
        };
        let (mut import, mut migrate, mut baseline) = (Vec::new(), Vec::new(), Vec::new());
        for run in 0..RUNS {
            let vm = format!("vm-{run}");
            seed_vm(&env.sim, &vm, VM_SIZE, Some("1"), json!([]));
            let name = new_blob_disk_name();
            env.seed_blob_disk(&name, &[]);
            import.push(timed(
                &env.sim,
                "attach_disk",
                json!([vm_cid(&vm), env.blob_cid(&name, "None")]),
            ));
            let regional = format!("bosh-disk-data-r{run}");
            env.sim.seed(json!({
                "id": disk_id(&env.sim, &regional), "location": LOCATION, "sku": {"name": "Premium_LRS"},
                "tags": {"user-agent": "bosh", "caching": "None"},
                "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4}
            }));
            migrate.push(timed(
                &env.sim,
                "attach_disk",
                json!([vm_cid(&vm), disk_cid(&regional, "None")]),
            ));
            baseline.push(timed(&env.sim, "has_vm", json!([vm_cid(&vm)])));
        }
        let (import, migrate, baseline) =
            (median_ms(import), median_ms(migrate), median_ms(baseline));
        println!(
            "{label}: attach_disk with blob import median {import:.0} ms ({:.1}x has_vm), with zone migration median {migrate:.0} ms ({:.1}x has_vm); has_vm median {baseline:.0} ms over {RUNS} runs. The Ruby CPI's fixed sleep alone is 30000 ms",
            import / baseline,
            migrate / baseline
        );
    }
}

#[test]
fn zone_move_keeps_customer_keys_and_leaves_zone_redundant_disks_alone() {
    let env = SimEnv::start();
    seed_vm(&env, "vm-z", VM_SIZE, Some("1"), json!([]));
    let des = format!(
        "{}/providers/Microsoft.Compute/diskEncryptionSets/des",
        env.rg_id()
    );
    let encryption = json!({"diskEncryptionSetId": des, "type": "EncryptionAtRestWithCustomerKey"});
    env.seed(json!([
        {"id": disk_id(&env, "bosh-disk-data-cmk"), "location": LOCATION, "sku": {"name": "Premium_LRS"},
         "tags": {"user-agent": "bosh", "caching": "None"},
         "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 3, "encryption": encryption}},
        {"id": disk_id(&env, "bosh-disk-data-zrs"), "location": LOCATION, "sku": {"name": "Premium_ZRS"},
         "tags": {"user-agent": "bosh", "caching": "None"},
         "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 3}}
    ]));

    env.ok(
        "attach_disk",
        json!([vm_cid("vm-z"), disk_cid("bosh-disk-data-cmk", "None")]),
    );
    let put = bodies(&env, "PUT", "/disks/bosh-disk-data-cmk");
    assert_eq!(put.len(), 1);
    assert_eq!(put[0]["properties"]["encryption"], encryption);
    let moved = env.resource(&disk_id(&env, "bosh-disk-data-cmk")).unwrap();
    assert_eq!(moved["zones"], json!(["1"]));
    assert_eq!(moved["properties"]["encryption"], encryption);

    // Zone-redundant: attached as it is, no snapshot, no copy.
    let zrs_before = env.resource(&disk_id(&env, "bosh-disk-data-zrs")).unwrap();
    let hints = env.ok(
        "attach_disk",
        json!([vm_cid("vm-z"), disk_cid("bosh-disk-data-zrs", "None")]),
    );
    assert_eq!(hints["lun"], "1");
    assert!(bodies(&env, "PUT", "/disks/bosh-disk-data-zrs").is_empty());
    assert_eq!(
        bodies(&env, "PUT", "")
            .iter()
            .filter(|b| b["tags"]["original"] == "bosh-disk-data-zrs")
            .count(),
        0
    );
    let zrs = env.resource(&disk_id(&env, "bosh-disk-data-zrs")).unwrap();
    assert!(zrs.get("zones").is_none());
    assert_eq!(
        zrs["properties"]["uniqueId"],
        zrs_before["properties"]["uniqueId"]
    );
}
