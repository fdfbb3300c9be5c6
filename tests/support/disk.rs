//! Seeding VMs and disks straight into azure-sim (faster than create_vm, and independent of
//! it), and the CIDs that name them, for the disk method tests.

use serde_json::{Value, json};

use super::sim::{LOCATION, RESOURCE_GROUP, SimEnv};

pub fn vm_cid(name: &str) -> String {
    format!("agent_id:{name};resource_group_name:{RESOURCE_GROUP}")
}

pub fn disk_cid(name: &str, caching: &str) -> String {
    format!("caching:{caching};disk_name:{name};resource_group_name:{RESOURCE_GROUP}")
}

pub fn vm_id(env: &SimEnv, name: &str) -> String {
    format!(
        "{}/providers/Microsoft.Compute/virtualMachines/{name}",
        env.rg_id()
    )
}

pub fn disk_id(env: &SimEnv, name: &str) -> String {
    format!("{}/providers/Microsoft.Compute/disks/{name}", env.rg_id())
}

/// A VM (with its NIC and network) seeded straight into the sim, as create_vm would leave it.
pub fn seed_vm(env: &SimEnv, name: &str, size: &str, zone: Option<&str>, data_disks: Value) {
    let rg = env.rg_id();
    let vnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet-{name}");
    let nic = format!("{rg}/providers/Microsoft.Network/networkInterfaces/{name}-0");
    let mut vm = json!({
        "id": vm_id(env, name),
        "location": LOCATION,
        "tags": {"user-agent": "bosh", "deployment": "cf"},
        "properties": {
            "hardwareProfile": {"vmSize": size},
            "storageProfile": {
                "imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts", "version": "latest"},
                "osDisk": {"name": format!("bosh-disk-os-{name}"), "createOption": "FromImage", "caching": "ReadWrite", "managedDisk": {"storageAccountType": "Premium_LRS"}},
                "dataDisks": data_disks
            },
            "osProfile": {"computerName": name, "adminUsername": "vcap", "linuxConfiguration": {"disablePasswordAuthentication": true}},
            "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": true}}]}
        }
    });
    if let Some(zone) = zone {
        vm["zones"] = json!([zone]);
    }
    env.seed(json!([
        {"id": vnet, "location": LOCATION, "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]}},
        {"id": nic, "location": LOCATION, "properties": {"ipConfigurations": [{"name": "ipconfig0", "properties": {"subnet": {"id": format!("{vnet}/subnets/s")}}}]}},
        vm
    ]));
}

/// An empty managed disk seeded straight into the sim, as create_disk would leave it.
pub fn seed_disk(env: &SimEnv, name: &str, caching: &str, zone: Option<&str>) {
    let mut disk = json!({
        "id": disk_id(env, name),
        "location": LOCATION,
        "sku": {"name": "Premium_LRS"},
        "tags": {"user-agent": "bosh", "caching": caching},
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 10}
    });
    if let Some(zone) = zone {
        disk["zones"] = json!([zone]);
    }
    env.seed(disk);
}
