//! create_vm's choices beyond the network and the image, through the binary against azure-sim
//! and Azurite: the size from `instance_types` (stemcell architecture, premium persistent
//! disks) and the boot diagnostics storage account.

use crate::support;

use serde_json::{Value, json};
use support::vm_env::{VmEnv, manual_network};

const AGENT_ID: &str = "7b3e2f10-5c6d-4e7f-8a9b-0c1d2e3f4a5b";
const OTHER_AGENT_ID: &str = "8c4f3a21-6d7e-4f80-9bac-1d2e3f4a5b6c";

fn light_stemcell(env: &VmEnv, architecture: Option<&str>) -> String {
    let mut properties = json!({
        "name": "bosh-azure-hyperv-ubuntu-jammy-go_agent", "version": "1.0", "os_type": "linux",
        "image": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                  "sku": "22_04-lts", "version": "22.04.202401010"}
    });
    if let Some(architecture) = architecture {
        properties["architecture"] = json!(architecture);
    }
    env.light_stemcell_of(properties)
}

fn vm(env: &VmEnv, agent_id: &str) -> Value {
    env.sim
        .resource(&format!(
            "{}/providers/Microsoft.Compute/virtualMachines/{agent_id}",
            env.sim.rg_id()
        ))
        .expect("the VM")
}

fn vm_size(env: &VmEnv, agent_id: &str) -> String {
    vm(env, agent_id)["properties"]["hardwareProfile"]["vmSize"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn instance_types_skip_sizes_that_cannot_run_the_stemcell_or_its_premium_disk() {
    let Some(env) = VmEnv::start() else { return };
    let x64 = light_stemcell(&env, None);
    let arm64 = light_stemcell(&env, Some("arm64"));
    let choices =
        json!({"instance_types": ["Standard_D2ps_v5", "Standard_D2_v3", "Standard_D2s_v3"]});

    env.sim.ok(
        "create_vm",
        json!([AGENT_ID, arm64, choices, manual_network(), [], {}]),
    );
    assert_eq!(vm_size(&env, AGENT_ID), "Standard_D2ps_v5");

    // A premium persistent disk rules out Standard_D2_v3, which has no premium IO.
    let disk = env.sim.ok(
        "create_disk",
        json!([10240, {"storage_account_type": "Premium_LRS"}, null]),
    );
    env.sim.ok(
        "create_vm",
        json!([OTHER_AGENT_ID, x64, choices, manual_network(), [disk], {}]),
    );
    assert_eq!(vm_size(&env, OTHER_AGENT_ID), "Standard_D2s_v3");
}

#[test]
fn no_fitting_instance_type_is_a_clear_error_before_anything_is_created() {
    let Some(env) = VmEnv::start() else { return };
    let arm64 = light_stemcell(&env, Some("arm64"));
    let before = env.sim.sim.inventory()["resources"]
        .as_array()
        .unwrap()
        .len();
    let run = env.sim.call(
        "create_vm",
        json!([AGENT_ID, arm64, {"instance_types": ["Standard_D2_v3"]}, manual_network(), [], {}]),
    );
    let message = support::error_message(&run.response);
    assert!(message.contains("architecture 'arm64'"), "{}", run.stdout);
    assert_eq!(
        env.sim.sim.inventory()["resources"]
            .as_array()
            .unwrap()
            .len(),
        before
    );
}

#[test]
fn boot_diagnostics_go_to_one_tagged_account_per_location() {
    let Some(env) = VmEnv::start() else { return };
    env.write_config(|azure| {
        azure.insert("enable_vm_boot_diagnostics".into(), json!(true));
    });
    let stemcell = light_stemcell(&env, None);
    let vm_type = json!({"instance_type": "Standard_D2s_v3"});
    env.sim.ok(
        "create_vm",
        json!([AGENT_ID, stemcell, vm_type, manual_network(), [], {}]),
    );
    let second = json!({"private": {
        "type": "manual", "ip": "10.0.0.11", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
        "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": "subnet"}
    }});
    env.sim.ok(
        "create_vm",
        json!([OTHER_AGENT_ID, stemcell, vm_type, second, [], {}]),
    );

    let accounts: Vec<Value> = env.sim.sim.inventory()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            r["body"]["type"] == "Microsoft.Storage/storageAccounts"
                && r["body"]["tags"]["type"] == "bootdiagnostics"
        })
        .map(|r| r["body"].clone())
        .collect();
    assert_eq!(accounts.len(), 1, "one account for both VMs: {accounts:#?}");
    let diagnostics = &accounts[0];
    assert_eq!(diagnostics["tags"]["user-agent"], "bosh");
    assert_eq!(diagnostics["location"], "eastus");
    assert_eq!(diagnostics["kind"], "StorageV2");
    let name = diagnostics["name"].as_str().unwrap();
    assert_eq!(name.len(), 24, "{name}");
    let endpoint = diagnostics["properties"]["primaryEndpoints"]["blob"].clone();
    for agent in [AGENT_ID, OTHER_AGENT_ID] {
        assert_eq!(
            vm(&env, agent)["properties"]["diagnosticsProfile"]["bootDiagnostics"],
            json!({"enabled": true, "storageUri": endpoint})
        );
    }
}

#[test]
fn ephemeral_disk_performance_is_set_after_the_vm_is_created() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = light_stemcell(&env, None);
    let vm_type = json!({
        "instance_type": "Standard_D2s_v3",
        "ephemeral_disk": {"size": 20480, "type": "PremiumV2_LRS", "iops": 3000, "mbps": 125}
    });
    let before = env.sim.sim.request_log().len();
    env.sim.ok(
        "create_vm",
        json!([AGENT_ID, stemcell, vm_type, manual_network(), [], {}]),
    );
    let disk_id = format!(
        "{}/providers/Microsoft.Compute/disks/bosh-disk-os-{AGENT_ID}-ephemeral-disk",
        env.sim.rg_id()
    );
    let patches: Vec<_> = env.sim.sim.request_log()[before..]
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.eq_ignore_ascii_case(&disk_id))
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(
        patches,
        [Some(
            json!({"properties": {"diskIOPSReadWrite": 3000, "diskMBpsReadWrite": 125}})
        )]
    );
    let disk = env.sim.resource(&disk_id).expect("the ephemeral disk");
    assert_eq!(disk["properties"]["diskIOPSReadWrite"], 3000);
    assert_eq!(disk["properties"]["diskMBpsReadWrite"], 125);
}

#[test]
fn a_vm_types_own_resource_group_is_created_when_missing() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = light_stemcell(&env, None);
    let vm_type = json!({"instance_type": "Standard_D2s_v3", "resource_group_name": "vms-rg"});
    let result = env.sim.ok(
        "create_vm",
        json!([AGENT_ID, stemcell, vm_type, manual_network(), [], {}]),
    );
    assert_eq!(
        result[0],
        json!(format!("agent_id:{AGENT_ID};resource_group_name:vms-rg"))
    );
    let group_id = format!(
        "/subscriptions/{}/resourceGroups/vms-rg",
        env.sim.subscription_id()
    );
    let group = env.sim.resource(&group_id).expect("the resource group");
    assert_eq!(group["location"], "eastus");
    assert!(
        env.sim
            .resource(&format!(
                "{group_id}/providers/Microsoft.Compute/virtualMachines/{AGENT_ID}"
            ))
            .is_some()
    );
    // The second VM finds the group.
    let before = env.sim.sim.request_log().len();
    let second = json!({"private": {
        "type": "manual", "ip": "10.0.0.11", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
        "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": "subnet"}
    }});
    env.sim.ok(
        "create_vm",
        json!([OTHER_AGENT_ID, stemcell, vm_type, second, [], {}]),
    );
    assert!(
        !env.sim.sim.request_log()[before..]
            .iter()
            .any(|r| r.method == "PUT" && r.path.eq_ignore_ascii_case(&group_id))
    );
}
