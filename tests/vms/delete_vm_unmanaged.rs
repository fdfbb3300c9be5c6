//! delete_vm for legacy VMs with unmanaged disks, through the binary against azure-sim (ARM)
//! and Azurite (the VM's storage account): the VM, its NICs, dynamic public IP and emptied
//! availability set go, and so do its OS and ephemeral disk blobs and its status blobs; every
//! other blob (persistent disks, other VMs' blobs) stays. V1 (`<sa>-<agent id>`) and V2
//! (`...;storage_account_name:<sa>`) CIDs.
//!
//! Azurite's account doubles as the ARM storage account (`devstoreaccount1`), so Shared Key
//! names match.

use crate::support;

use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions};
use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::{SimConfig, StorageBackend};
use serde_json::{Value, json};
use support::sim::{LOCATION, RESOURCE_GROUP, SimEnv};

const AGENT_ID: &str = "5b7e3c1a-2d4f-4e6a-8b9c-0d1e2f3a4b5c";
const OTHER_AGENT_ID: &str = "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";

struct Env {
    sim: SimEnv,
    azurite: Azurite,
    blobs: BlobService,
}

fn start() -> Option<Env> {
    let azurite = Azurite::start_for_test()?;
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: azurite.blob_endpoint(),
            account_name: azurite.account_name().into(),
            account_key: azurite.account_key().into(),
        }),
        ..SimConfig::default()
    });
    let rg = sim.rg_id();
    sim.seed(json!([
        {
            "id": format!("{rg}/providers/Microsoft.Storage/storageAccounts/{}", azurite.account_name()),
            "location": LOCATION, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet"),
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "s", "properties": {"addressPrefix": "10.0.0.0/24"}}]
            }
        }
    ]));
    let access = StorageAccess {
        account_name: azurite.account_name().into(),
        blob_endpoint: azurite.blob_endpoint(),
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(
            azurite.account_key().to_string().into(),
        ),
    };
    let blobs = BlobService::new(&access, BlobServiceOptions::default()).unwrap();
    sim.runtime
        .block_on(blobs.ensure_container("bosh"))
        .unwrap();
    Some(Env {
        sim,
        azurite,
        blobs,
    })
}

impl Env {
    fn account(&self) -> &str {
        self.azurite.account_name()
    }

    fn arm_id(&self, kind: &str, name: &str) -> String {
        format!("{}/providers/{kind}/{name}", self.sim.rg_id())
    }

    fn vhd_uri(&self, blob: &str) -> String {
        self.blobs.blob_url("bosh", blob).to_string()
    }

    /// An unmanaged VM as the Ruby CPI left it: OS and ephemeral disks as VHD blobs, a
    /// persistent blob disk attached, its NIC `<vm>-0` (tagged with the set), its dynamic
    /// public IP `<vm>`, in availability set `set`; plus the blobs Azure wrote next to them.
    fn seed_unmanaged_vm(&self, vm: &str, set: &str, persistent_disk: &str) {
        let nic = self.arm_id("Microsoft.Network/networkInterfaces", &format!("{vm}-0"));
        let pip = self.arm_id("Microsoft.Network/publicIPAddresses", vm);
        let set_id = self.arm_id("Microsoft.Compute/availabilitySets", set);
        let subnet = format!(
            "{}/subnets/s",
            self.arm_id("Microsoft.Network/virtualNetworks", "vnet")
        );
        self.sim.seed(json!([
            {"id": set_id, "location": LOCATION, "sku": {"name": "Classic"},
             "tags": {"user-agent": "bosh"},
             "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 5}},
            {"id": pip, "location": LOCATION,
             "properties": {"publicIPAllocationMethod": "Dynamic"}},
            {"id": nic, "location": LOCATION, "tags": {"availability_set": set},
             "properties": {"ipConfigurations": [{"name": "ipconfig0", "properties": {
                 "subnet": {"id": subnet}, "publicIPAddress": {"id": pip}}}]}}
        ]));
        // Raw: the sim takes no new unmanaged (VHD) disks, as Azure has retired them.
        let body = json!({"id": self.arm_id("Microsoft.Compute/virtualMachines", vm), "location": LOCATION,
             "tags": {"user-agent": "bosh"},
             "properties": {
                "hardwareProfile": {"vmSize": "Standard_D2_v3"},
                "availabilitySet": {"id": set_id},
                "storageProfile": {
                    "osDisk": {"name": format!("bosh-os-{vm}"), "osType": "Linux",
                               "createOption": "FromImage", "caching": "ReadWrite",
                               "image": {"uri": self.blobs.blob_url("stemcell", "bosh-stemcell-1.vhd").to_string()},
                               "vhd": {"uri": self.vhd_uri(&format!("bosh-os-{vm}.vhd"))}},
                    "dataDisks": [
                        {"name": "ephemeral-disk", "lun": 0, "createOption": "Empty",
                         "caching": "ReadWrite", "diskSizeGB": 30,
                         "vhd": {"uri": self.vhd_uri(&format!("bosh-os-{vm}-ephemeral-disk.vhd"))}},
                        {"name": persistent_disk, "lun": 1, "createOption": "Attach",
                         "caching": "None", "diskSizeGB": 1,
                         "vhd": {"uri": self.vhd_uri(&format!("{persistent_disk}.vhd"))}}
                    ]
                },
                "osProfile": {"computerName": vm, "adminUsername": "vcap",
                              "linuxConfiguration": {"disablePasswordAuthentication": true}},
                "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": true}}]}
             }
        });
        self.sim.sim.seed_raw(body).unwrap();
        for blob in vm_blobs(vm) {
            self.put_blob(&blob);
        }
        self.put_blob(&format!("{persistent_disk}.vhd"));
    }

    fn put_blob(&self, name: &str) {
        self.sim
            .runtime
            .block_on(
                self.blobs
                    .create_page_blob("bosh", name, 512, &Default::default()),
            )
            .unwrap();
    }

    fn blob_names(&self) -> Vec<String> {
        let mut names = self
            .sim
            .runtime
            .block_on(self.blobs.list_blob_names("bosh", ""))
            .unwrap();
        names.sort();
        names
    }

    fn inventory_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.sim.sim.inventory()["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_ascii_lowercase())
            .collect();
        ids.sort();
        ids
    }
}

/// The blobs an unmanaged VM leaves in `bosh`: its OS and ephemeral disks and the status blob
/// Azure writes (`<vm>.<guid>.status`).
fn vm_blobs(vm: &str) -> Vec<String> {
    vec![
        format!("bosh-os-{vm}.vhd"),
        format!("bosh-os-{vm}-ephemeral-disk.vhd"),
        format!("{vm}.7f3d2c1b-0a9e-4d8c-b7a6-5f4e3d2c1b0a.status"),
    ]
}

fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// Deletes one unmanaged VM (`cid`) next to another one in the same set and account, then the
/// other; each time exactly the deleted VM's resources and blobs go.
fn deletes_only_the_vms_resources_and_blobs(env: &Env, vm: &str, cid: &str) {
    let before_seed = env.inventory_ids();
    let other = format!("{}-{OTHER_AGENT_ID}", env.account());
    env.seed_unmanaged_vm(
        vm,
        "legacy-set",
        "bosh-data-11111111-2222-4333-8444-555555555555",
    );
    env.seed_unmanaged_vm(
        &other,
        "legacy-set",
        "bosh-data-66666666-7777-4888-9999-000000000000",
    );
    // Not a status blob of the VM though it starts with its name; and a blob of nobody's.
    env.put_blob(&format!("{vm}.screenshot.bmp"));
    env.put_blob("unrelated.vhd");
    let with_both = env.inventory_ids();

    assert_eq!(env.sim.ok("delete_vm", json!([cid])), Value::Null);

    let set = env.arm_id("Microsoft.Compute/availabilitySets", "legacy-set");
    let gone: Vec<String> = [
        env.arm_id("Microsoft.Compute/virtualMachines", vm),
        env.arm_id("Microsoft.Network/networkInterfaces", &format!("{vm}-0")),
        env.arm_id("Microsoft.Network/publicIPAddresses", vm),
    ]
    .iter()
    .map(|id| id.to_ascii_lowercase())
    .collect();
    let expected: Vec<String> = with_both
        .iter()
        .filter(|id| !gone.contains(id))
        .cloned()
        .collect();
    assert_eq!(
        env.inventory_ids(),
        expected,
        "the set still holds the other VM"
    );
    let mut expected_blobs = vm_blobs(&other);
    expected_blobs.extend([
        "bosh-data-11111111-2222-4333-8444-555555555555.vhd".to_owned(),
        "bosh-data-66666666-7777-4888-9999-000000000000.vhd".to_owned(),
        format!("{vm}.screenshot.bmp"),
        "unrelated.vhd".to_owned(),
    ]);
    assert_eq!(env.blob_names(), sorted(expected_blobs.clone()));

    // Again, with the VM gone: nothing else changes.
    assert_eq!(env.sim.ok("delete_vm", json!([cid])), Value::Null);
    assert_eq!(env.inventory_ids(), expected);
    assert_eq!(env.blob_names(), sorted(expected_blobs));

    // The other VM (V1 form) empties the set, which goes with it.
    assert_eq!(env.sim.ok("delete_vm", json!([other])), Value::Null);
    let mut after: Vec<String> = before_seed
        .iter()
        .filter(|id| **id != set.to_ascii_lowercase())
        .cloned()
        .collect();
    after.sort();
    assert_eq!(env.inventory_ids(), after);
    assert_eq!(
        env.blob_names(),
        sorted(vec![
            "bosh-data-11111111-2222-4333-8444-555555555555.vhd".to_owned(),
            "bosh-data-66666666-7777-4888-9999-000000000000.vhd".to_owned(),
            format!("{vm}.screenshot.bmp"),
            "unrelated.vhd".to_owned(),
        ]),
        "persistent disks and other blobs stay"
    );
}

#[test]
fn v2_unmanaged_vm_goes_with_its_disk_and_status_blobs() {
    let Some(env) = start() else { return };
    let cid = format!(
        "agent_id:{AGENT_ID};resource_group_name:{RESOURCE_GROUP};storage_account_name:{}",
        env.account()
    );
    deletes_only_the_vms_resources_and_blobs(&env, AGENT_ID, &cid);
}

#[test]
fn v1_unmanaged_vm_goes_with_its_disk_and_status_blobs() {
    let Some(env) = start() else { return };
    let vm = format!("{}-{AGENT_ID}", env.account());
    deletes_only_the_vms_resources_and_blobs(&env, &vm, &vm.clone());
}

#[test]
fn leftover_blobs_of_a_vm_already_gone_are_deleted_and_a_missing_account_is_fine() {
    let Some(env) = start() else { return };
    let before = env.inventory_ids();
    // A delete_vm that failed after the VM went: only blobs are left.
    for blob in vm_blobs(AGENT_ID) {
        env.put_blob(&blob);
    }
    let cid = format!(
        "agent_id:{AGENT_ID};resource_group_name:{RESOURCE_GROUP};storage_account_name:{}",
        env.account()
    );
    assert_eq!(env.sim.ok("delete_vm", json!([cid])), Value::Null);
    assert_eq!(env.blob_names(), Vec::<String>::new());
    assert_eq!(env.inventory_ids(), before);

    // An account that does not exist holds no blobs: nothing to delete, no error.
    let elsewhere = format!(
        "agent_id:{AGENT_ID};resource_group_name:{RESOURCE_GROUP};storage_account_name:nosuchaccount"
    );
    assert_eq!(env.sim.ok("delete_vm", json!([elsewhere])), Value::Null);
    assert_eq!(env.inventory_ids(), before);
}

#[test]
fn many_status_blobs_across_listing_pages_all_go() {
    let Some(env) = start() else { return };
    let names: Vec<String> = (0..40)
        .map(|i| format!("{AGENT_ID}.{i:04}.status"))
        .collect();
    for name in &names {
        env.put_blob(name);
    }
    env.put_blob("unrelated.vhd");
    // The listing follows continuation markers: 7 blobs a page takes 6 pages here.
    let access = StorageAccess {
        account_name: env.account().into(),
        blob_endpoint: env.azurite.blob_endpoint(),
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(
            env.azurite.account_key().to_string().into(),
        ),
    };
    let paged = BlobService::new(&access, BlobServiceOptions::default())
        .unwrap()
        .with_list_page_size(7);
    let listed = env
        .sim
        .runtime
        .block_on(paged.list_blob_names("bosh", AGENT_ID))
        .unwrap();
    assert_eq!(listed, names, "every page, in name order, only the prefix");
    let cid = format!(
        "agent_id:{AGENT_ID};resource_group_name:{RESOURCE_GROUP};storage_account_name:{}",
        env.account()
    );
    assert_eq!(env.sim.ok("delete_vm", json!([cid])), Value::Null);
    assert_eq!(env.blob_names(), vec!["unrelated.vhd".to_owned()]);
}
