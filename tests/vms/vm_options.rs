//! VM cloud_properties beyond the Ruby CPI 53.1.8 through the binary against azure-sim:
//! `security_profile` (Trusted Launch), `encryption_at_host`, `proximity_placement_group`,
//! `spot` (with and without the fallback to on-demand) and Ultra disks. Golden request bodies
//! live in `fixtures/golden/create_vm/<scenario>/` (`UPDATE_GOLDEN=1` rewrites them); every
//! refusal is checked for its exact message and for making no ARM write.

use crate::support;

use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::{Fault, FaultAction};
use serde_json::{Value, json};
use support::golden::{ArmCalls, Normalizer, assert_golden_dir, golden_dir};
use support::sim::LOCATION;
use support::vm_env::{AGENT_ID, VmEnv, manual_network};

/// A light gen2 stemcell (Ubuntu Jammy gen2 from the sim's platform image catalogue).
fn gen2_light_stemcell(env: &VmEnv) -> String {
    env.light_stemcell_of(json!({
        "name": "bosh-azure-hyperv-ubuntu-jammy-go_agent", "version": "1.5", "os_type": "linux",
        "generation": "gen2",
        "image": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                  "sku": "22_04-lts-gen2", "version": "22.04.202403010"}
    }))
}

fn create_vm_args(stemcell: &str, props: Value, env: Value) -> Value {
    json!([AGENT_ID, stemcell, props, manual_network(), [], env])
}

fn normalizer(env: &VmEnv, stemcell: &str) -> Normalizer {
    let uuid = stemcell
        .trim_start_matches("bosh-light-stemcell-")
        .trim_start_matches("bosh-stemcell-");
    Normalizer::default()
        .replace(env.sim.subscription_id(), "<subscription-id>")
        .replace(uuid, "<stemcell-uuid>")
        .replace(env.storage_account_name(), "<storage-account>")
}

/// Writes to ARM (PUT, PATCH, DELETE, and POSTs other than reading storage keys).
fn writes(calls: &ArmCalls) -> Vec<String> {
    calls
        .requests
        .iter()
        .filter(|r| match r.method.as_str() {
            "PUT" | "PATCH" | "DELETE" => true,
            "POST" => !r.path.ends_with("/listKeys"),
            _ => false,
        })
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Runs `method`, expects a CloudError with exactly `message` and no ARM write.
fn assert_refused(env: &VmEnv, method: &str, arguments: Value, message: &str) {
    let offset = env.sim.sim.request_log().len();
    let run = env.sim.call(method, arguments);
    assert_eq!(
        run.response["error"]["type"],
        json!("Bosh::Clouds::CloudError"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.response["error"]["message"], json!(message));
    assert_eq!(run.response["error"]["ok_to_retry"], json!(false));
    let calls = ArmCalls::since(&env.sim.sim, offset);
    assert_eq!(writes(&calls), Vec::<String>::new(), "{message}");
}

fn ppg_id(env: &VmEnv, name: &str) -> String {
    env.arm_id("Microsoft.Compute/proximityPlacementGroups", name)
}

#[test]
fn trusted_launch_with_encryption_at_host_in_a_proximity_placement_group_and_set() {
    let Some(env) = VmEnv::start() else { return };
    env.sim
        .seed(json!({"id": ppg_id(&env, "ppg-db"), "location": LOCATION, "properties": {}}));
    let stemcell = gen2_light_stemcell(&env);
    let offset = env.sim.sim.request_log().len();
    env.sim.ok(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "security_profile": {},
                   "encryption_at_host": true,
                   "proximity_placement_group": {"name": "ppg-db"}}),
            json!({"bosh": {"group": "db-group"}}),
        ),
    );
    let calls = ArmCalls::since(&env.sim.sim, offset);
    let normalizer = normalizer(&env, &stemcell);
    let vm = calls.puts("virtualMachines");
    let set = calls.puts("availabilitySets");
    assert_eq!((vm.len(), set.len()), (1, 1), "{:#?}", calls.lines());
    assert_golden_dir(
        &golden_dir("create_vm/trusted_launch_eah_ppg_set"),
        &[
            ("vm".to_owned(), normalizer.apply(&vm[0].1)),
            ("availability_set".to_owned(), normalizer.apply(&set[0].1)),
        ],
    );
}

#[test]
fn standard_security_type_sends_what_no_security_profile_sends() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    let offset = env.sim.sim.request_log().len();
    env.sim.ok(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3",
                   "security_profile": {"security_type": "Standard", "secure_boot_enabled": false}}),
            json!({}),
        ),
    );
    let calls = ArmCalls::since(&env.sim.sim, offset);
    let vm = normalizer(&env, &stemcell).apply(&calls.puts("virtualMachines")[0].1);
    // At Compute 2024-07-01 a VM without securityProfile is a Standard VM: the body is the
    // one of the plain manual-network scenario (read, never rewritten, here).
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(golden_dir("create_vm/manual_network").join("vm.json"))
            .expect("golden vm.json"),
    )
    .expect("JSON");
    assert_eq!(vm, golden);
}

fn spot_capacity_fault(action: FaultAction) -> Fault {
    Fault {
        method: Some("PUT".into()),
        path: "/virtualMachines/".into(),
        nth: None,
        times: Some(1),
        probability: None,
        action,
    }
}

#[test]
fn spot_falls_back_to_on_demand_after_a_capacity_refusal() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    // Azure accepts the PUT and the allocation fails (the operation ends Failed): the VM
    // and its OS disk exist until the CPI deletes them.
    env.sim
        .sim
        .add_fault(spot_capacity_fault(FaultAction::LroFailed {
            code: "OverconstrainedAllocationRequest".into(),
            message: "Allocation failed. VM(s) with the following constraints cannot be allocated, because the condition is too restrictive. Please remove some constraints and try again. Constraints applied are: Priority (Spot)".into(),
            canceled: false,
            retry_after_secs: None,
        }))
        .unwrap();
    let offset = env.sim.sim.request_log().len();
    let run = env.sim.call(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3",
                   "spot": {"max_price": 0.05, "eviction_policy": "Deallocate",
                            "fallback_to_on_demand": true}}),
            // A Spot VM joins no availability set (Azure refuses one), group or not.
            json!({"bosh": {"group": "workers"}}),
        ),
    );
    assert_eq!(run.response["error"], Value::Null, "{}", run.stdout);
    assert!(
        run.stderr.contains("OverconstrainedAllocationRequest") && run.stderr.contains("WARN"),
        "a warning names the Azure error: {}",
        run.stderr
    );
    let calls = ArmCalls::since(&env.sim.sim, offset);
    let puts = calls.puts("virtualMachines");
    assert_eq!(puts.len(), 2, "{:#?}", calls.lines());
    assert!(
        calls.puts("availabilitySets").is_empty(),
        "{:#?}",
        calls.lines()
    );
    let vm_deletes = calls
        .requests
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.contains("/virtualMachines/"))
        .count();
    assert_eq!(
        vm_deletes,
        1,
        "the failed Spot VM was deleted: {:#?}",
        calls.lines()
    );
    let normalizer = normalizer(&env, &stemcell);
    assert_golden_dir(
        &golden_dir("create_vm/spot_fallback"),
        &[
            ("vm-spot-attempt".to_owned(), normalizer.apply(&puts[0].1)),
            ("vm".to_owned(), normalizer.apply(&puts[1].1)),
        ],
    );
    let vm = env
        .sim
        .resource(&env.arm_id("Microsoft.Compute/virtualMachines", AGENT_ID))
        .expect("the on-demand VM exists");
    assert_eq!(vm["properties"]["provisioningState"], json!("Succeeded"));
    assert_eq!(vm["properties"].get("priority"), None);
}

#[test]
fn spot_quota_refusal_also_falls_back() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    env.sim
        .sim
        .add_fault(spot_capacity_fault(FaultAction::Status {
            status: 409,
            code: Some("OperationNotAllowed".into()),
            message: Some("Operation could not be completed as it results in exceeding approved LowPriorityCores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 0, Current Usage: 0, Additional Required: 2, (Minimum) New Limit Required: 2.".into()),
            retry_after_secs: None,
        }))
        .unwrap();
    env.sim.ok(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "spot": {"fallback_to_on_demand": true}}),
            json!({}),
        ),
    );
}

#[test]
fn spot_without_fallback_is_a_retriable_vm_creation_failure() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    let before = env.inventory_ids();
    env.sim
        .sim
        .add_fault(spot_capacity_fault(FaultAction::Status {
            status: 409,
            code: Some("SkuNotAvailable".into()),
            // Microsoft's "Error messages for Azure Spot Virtual Machines and scale sets".
            message: Some("The requested tier for resource '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/6a2f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b01' is currently not available in location 'eastus' for subscription '00000000-0000-0000-0000-000000000001'. Try another tier or deploy to a different location.".into()),
            retry_after_secs: None,
        }))
        .unwrap();
    let run = env.sim.call(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "spot": {}}),
            json!({}),
        ),
    );
    assert_eq!(
        run.response["error"]["type"],
        json!("Bosh::Clouds::VMCreationFailed"),
        "{}",
        run.stdout
    );
    assert_eq!(run.response["error"]["ok_to_retry"], json!(true));
    let message = run.response["error"]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        message
            .starts_with("Azure has no Spot capacity or quota for this VM now (SkuNotAvailable)"),
        "{message}"
    );
    assert_eq!(
        env.inventory_ids(),
        before,
        "everything created was deleted"
    );
}

#[test]
fn ultra_disk_create_and_attach() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    let offset = env.sim.sim.request_log().len();
    let vm_cid = env.sim.ok(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "availability_zone": "1",
                   "ultra_ssd_enabled": true}),
            json!({}),
        ),
    )[0]
    .clone();
    let disk_cid = env.sim.ok(
        "create_disk",
        json!([10240, {"storage_account_type": "UltraSSD_LRS", "iops": 4000, "mbps": 200}, vm_cid]),
    );
    env.sim.ok("attach_disk", json!([vm_cid, disk_cid]));
    let calls = ArmCalls::since(&env.sim.sim, offset);
    let disk_name = disk_cid
        .as_str()
        .and_then(|cid| cid.split(';').find_map(|p| p.strip_prefix("disk_name:")))
        .expect("disk name in the CID")
        .to_owned();
    let attach = calls
        .requests
        .iter()
        .find(|r| r.method == "PATCH" && r.path.contains("/virtualMachines/"))
        .and_then(|r| r.body.clone())
        .expect("the attach PATCH");
    let normalizer = normalizer(&env, &stemcell).replace(&disk_name, "<disk-name>");
    assert_golden_dir(
        &golden_dir("create_vm/ultra_disk"),
        &[
            (
                "vm".to_owned(),
                normalizer.apply(&calls.puts("virtualMachines")[0].1),
            ),
            (
                "disk".to_owned(),
                normalizer.apply(&calls.puts("disks")[0].1),
            ),
            ("attach_patch".to_owned(), normalizer.apply(&attach)),
        ],
    );
}

#[test]
fn security_profile_refusals_use_the_ruby_messages_and_write_nothing() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = gen2_light_stemcell(&env);
    let props =
        |profile: Value| json!({"instance_type": "Standard_D2s_v3", "security_profile": profile});
    for (profile, message) in [
        (
            json!("TrustedLaunch"),
            "'security_profile' must be a Hash, but is a String.",
        ),
        (
            json!({"security_type": "ConfidentialVM"}),
            "'security_type' 'ConfidentialVM' is not supported by this CPI, yet.",
        ),
        (
            json!({"security_type": "Trusted"}),
            "Invalid 'security_type' 'Trusted'. Supported values: TrustedLaunch, Standard.",
        ),
        (
            json!({"secure_boot_enabled": "true"}),
            "'secure_boot_enabled' must be a boolean, but is '\"true\"'.",
        ),
        (
            json!({"secure_boot_enabled": null}),
            "'secure_boot_enabled' must be a boolean, but is 'nil'.",
        ),
        (
            json!({"security_type": "Standard", "secure_boot_enabled": true}),
            "'secure_boot_enabled' must be false when 'security_type' is 'Standard'.",
        ),
    ] {
        assert_refused(
            &env,
            "create_vm",
            create_vm_args(&stemcell, props(profile), json!({})),
            message,
        );
    }
}

#[test]
fn trusted_launch_needs_a_gen2_stemcell_and_a_capable_size() {
    let Some(env) = VmEnv::start() else { return };
    let gen1 = env.light_stemcell();
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &gen1,
            json!({"instance_type": "Standard_D2s_v3", "security_profile": {}}),
            json!({}),
        ),
        &format!(
            "security_profile: Trusted Launch needs a Gen2 stemcell, but stemcell '{gen1}' is Gen1. Use a Gen2 stemcell, or security_type 'Standard'"
        ),
    );
    let gen2 = gen2_light_stemcell(&env);
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &gen2,
            json!({"instance_type": "Standard_A1_v2", "security_profile": {}}),
            json!({}),
        ),
        &format!(
            "The VM size 'Standard_A1_v2' does not support Trusted Launch (resource SKU capability TrustedLaunchDisabled, or Gen1 only) in '{LOCATION}'. Choose another instance_type, or leave the option out"
        ),
    );
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &gen2,
            json!({"instance_type": "Standard_A1_v2", "encryption_at_host": true}),
            json!({}),
        ),
        &format!(
            "The VM size 'Standard_A1_v2' does not support encryption at host (resource SKU capability EncryptionAtHostSupported) in '{LOCATION}'. Choose another instance_type, or leave the option out"
        ),
    );
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &gen2,
            json!({"instance_types": ["Standard_A1_v2"], "security_profile": {}}),
            json!({}),
        ),
        "None of the instance_types [Standard_A1_v2] supports Trusted Launch (resource SKU capability TrustedLaunchDisabled, or Gen1 only)",
    );
    // vm_resources: the capable size is chosen.
    let offset = env.sim.sim.request_log().len();
    env.sim.ok(
        "create_vm",
        create_vm_args(
            &gen2,
            json!({"instance_types": ["Standard_A1_v2", "Standard_D2s_v3"],
                   "security_profile": {"secure_boot_enabled": false}}),
            json!({}),
        ),
    );
    let calls = ArmCalls::since(&env.sim.sim, offset);
    let vm = &calls.puts("virtualMachines")[0].1;
    assert_eq!(
        vm["properties"]["hardwareProfile"]["vmSize"],
        json!("Standard_D2s_v3")
    );
    assert_eq!(
        vm["properties"]["securityProfile"],
        json!({"securityType": "TrustedLaunch",
               "uefiSettings": {"secureBootEnabled": false, "vTpmEnabled": true}})
    );
}

/// A gen2 heavy stemcell in the gallery `gallery`, its definition's `SecurityType` from
/// `compute_gallery_security_type` when given.
fn gen2_gallery_stemcell(env: &VmEnv, security_type: Option<&str>) -> String {
    env.sim.seed(json!({
        "id": format!("{}/providers/Microsoft.Compute/galleries/gallery", env.sim.rg_id()),
        "location": LOCATION, "properties": {}
    }));
    env.write_config(|azure| {
        azure.insert("compute_gallery_name".into(), json!("gallery"));
        azure.insert("location".into(), json!(LOCATION));
        if let Some(security_type) = security_type {
            azure.insert("compute_gallery_security_type".into(), json!(security_type));
        }
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(4 * 1024 * 1024, 0.25))
        .expect("stemcell image");
    let stemcell = env.sim.ok(
        "create_stemcell",
        json!([
            image.to_str().expect("utf-8 path"),
            stemcell_cloud_properties(Generation::Gen2)
        ]),
    );
    stemcell.as_str().expect("cid").to_owned()
}

#[test]
fn trusted_launch_from_a_trusted_launch_supported_gallery_definition() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = gen2_gallery_stemcell(&env, Some("TrustedLaunchSupported"));
    let offset = env.sim.sim.request_log().len();
    env.sim.ok(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "security_profile": {}}),
            json!({}),
        ),
    );
    let calls = ArmCalls::since(&env.sim.sim, offset);
    assert_eq!(
        calls.puts("virtualMachines")[0].1["properties"]["securityProfile"]["securityType"],
        json!("TrustedLaunch")
    );
}

#[test]
fn trusted_launch_needs_a_gallery_definition_that_allows_it() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = gen2_gallery_stemcell(&env, None);
    let stemcell = stemcell.as_str();
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            stemcell,
            json!({"instance_type": "Standard_D2s_v3", "security_profile": {}}),
            json!({}),
        ),
        "security_profile: Trusted Launch needs a gallery image definition whose SecurityType is one of TrustedLaunchSupported, TrustedLaunch, TrustedLaunchAndConfidentialVmSupported, but 'gallery/bosh-azure-hyperv-ubuntu-jammy-go_agent-gen2' has no SecurityType (a Standard image). Definitions cannot change: set azure.compute_gallery_security_type for a new stemcell series, or use security_type 'Standard'",
    );
}

#[test]
fn proximity_placement_group_and_ultra_refusals() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    env.sim.seed(json!([
        {"id": ppg_id(&env, "ppg-db"), "location": LOCATION, "properties": {}},
        {"id": env.arm_id("Microsoft.Compute/availabilitySets", "web-group"), "location": LOCATION,
         "sku": {"name": "Aligned"},
         "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 5}}
    ]));
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3",
                   "proximity_placement_group": {"name": "ppg-db"}}),
            json!({"bosh": {"group": "web-group"}}),
        ),
        "availability set 'web-group' already exists in no proximity placement group, but the VM's proximity_placement_group is 'ppg-db'. Use another availability set, or the set's group.",
    );
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "ultra_ssd_enabled": true}),
            json!({}),
        ),
        &format!(
            "The VM size 'Standard_D2s_v3' does not support Ultra disks in '{LOCATION}' without an availability zone (resource SKU capability UltraSSDAvailable) in '{LOCATION}'. Choose another instance_type, or leave the option out"
        ),
    );
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "spot": {"max_price": 0}}),
            json!({}),
        ),
        "Invalid vm cloud_properties: 'spot.max_price' must be -1 or a price in US dollars greater than 0, got 0",
    );
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "spot": {"eviction_policy": "Stop"}}),
            json!({}),
        ),
        "Invalid vm cloud_properties: 'spot.eviction_policy' must be 'Delete' or 'Deallocate', got 'Stop'",
    );
    assert_refused(
        &env,
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "spot": {}, "availability_set": "web-group"}),
            json!({}),
        ),
        "Only one of 'spot' and 'availability_set' is allowed to be configured for the VM: Azure does not put Spot VMs in availability sets (AzureSpotVMNotSupportedInAvailabilitySet).",
    );
    assert_refused(
        &env,
        "create_disk",
        json!([10240, {"storage_account_type": "UltraSSD_LRS", "caching": "ReadOnly"}, null]),
        "UltraSSD_LRS disks support no host caching, but caching is 'ReadOnly'. Set caching 'None' or leave it out",
    );
    // An Ultra disk and a VM made without the capability: the attach is refused up front.
    let vm_cid = env.sim.ok(
        "create_vm",
        create_vm_args(
            &stemcell,
            json!({"instance_type": "Standard_D2s_v3", "availability_zone": "1"}),
            json!({}),
        ),
    )[0]
    .clone();
    let disk_cid = env.sim.ok(
        "create_disk",
        json!([10240, {"storage_account_type": "UltraSSD_LRS"}, vm_cid]),
    );
    let disk_name = disk_cid
        .as_str()
        .and_then(|cid| cid.split(';').find_map(|p| p.strip_prefix("disk_name:")))
        .expect("disk name")
        .to_owned();
    assert_refused(
        &env,
        "attach_disk",
        json!([vm_cid, disk_cid]),
        &format!(
            "Disk '{disk_name}' is an UltraSSD_LRS disk, but VM '{AGENT_ID}' was created without Ultra disk support: give its vm_type 'ultra_ssd_enabled: true' (the VM is recreated), or use another disk type. Nothing was changed."
        ),
    );
}
