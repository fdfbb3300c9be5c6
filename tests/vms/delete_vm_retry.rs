//! delete_vm retried after a delete that stopped half way, through the binary against
//! azure-sim: what the first try left is found by name and goes, and nothing of another VM
//! whose name shares a prefix is touched.

use crate::support;

use serde_json::json;
use support::disk::{seed_vm, vm_cid};
use support::sim::{LOCATION, SimEnv};

fn network_id(env: &SimEnv, kind: &str, name: &str) -> String {
    format!("{}/providers/Microsoft.Network/{kind}/{name}", env.rg_id())
}

fn disk_id(env: &SimEnv, name: &str) -> String {
    format!("{}/providers/Microsoft.Compute/disks/{name}", env.rg_id())
}

/// A free NIC in the VNet `seed_vm` made for `vnet_of`.
fn seed_nic(env: &SimEnv, name: &str, vnet_of: &str) {
    let subnet = format!(
        "{}/subnets/s",
        network_id(env, "virtualNetworks", &format!("vnet-{vnet_of}"))
    );
    env.seed(json!({
        "id": network_id(env, "networkInterfaces", name),
        "location": LOCATION,
        "tags": {"user-agent": "bosh"},
        "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": subnet}}}]}
    }));
}

#[test]
fn a_retried_delete_vm_removes_what_the_first_try_left_and_nothing_of_another_vm() {
    let env = SimEnv::start();
    // Another VM whose name starts with this one's: its NIC is `agent-10-0`.
    seed_vm(&env, "agent-10", "Standard_D2s_v3", None, json!([]));
    seed_nic(&env, "agent-10-1", "agent-10");
    // What a delete_vm of `agent-1` that failed half way leaves: the VM and its primary NIC
    // are gone; its second NIC, its public IP and its disks are still there.
    seed_nic(&env, "agent-1-1", "agent-10");
    env.seed(json!([
        {"id": network_id(&env, "publicIPAddresses", "agent-1"), "location": LOCATION,
         "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static"}},
        {"id": disk_id(&env, "bosh-disk-os-agent-1"), "location": LOCATION,
         "sku": {"name": "Premium_LRS"}, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 30}},
        {"id": disk_id(&env, "bosh-disk-os-agent-1-ephemeral-disk"), "location": LOCATION,
         "sku": {"name": "Premium_LRS"}, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 30}}
    ]));

    let requests_before = env.sim.request_log().len();
    env.ok("delete_vm", json!([vm_cid("agent-1")]));

    for gone in [
        network_id(&env, "networkInterfaces", "agent-1-1"),
        network_id(&env, "publicIPAddresses", "agent-1"),
        disk_id(&env, "bosh-disk-os-agent-1"),
        disk_id(&env, "bosh-disk-os-agent-1-ephemeral-disk"),
    ] {
        assert!(env.resource(&gone).is_none(), "{gone} was left behind");
    }
    for kept in [
        network_id(&env, "networkInterfaces", "agent-10-0"),
        network_id(&env, "networkInterfaces", "agent-10-1"),
        format!(
            "{}/providers/Microsoft.Compute/virtualMachines/agent-10",
            env.rg_id()
        ),
    ] {
        assert!(env.resource(&kept).is_some(), "{kept} of another VM went");
    }
    let nic_listings = env.sim.request_log()[requests_before..]
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/networkInterfaces"))
        // Later pages of the same listing follow its nextLink.
        .filter(|r| !r.query.iter().any(|(key, _)| key.contains("skiptoken")))
        .count();
    assert_eq!(nic_listings, 1, "one listing of the resource group's NICs");

    // Once more: nothing left, still not an error.
    env.ok("delete_vm", json!([vm_cid("agent-1")]));
    assert!(
        env.resource(&network_id(&env, "networkInterfaces", "agent-10-0"))
            .is_some()
    );
}
