//! A sim backed by Azurite (stemcell blobs live in its storage) with the default storage
//! account and a VNet seeded: what create_vm needs, for the VM tests, the golden scenarios
//! and the create_vm benchmark.

use base64::Engine;
use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions};
use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::{SimConfig, StorageBackend};
use serde_json::{Value, json};

use super::sim::{LOCATION, SimEnv};

pub const AGENT_ID: &str = "6a2f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b01";
pub const VNET: &str = "vnet";
pub const SUBNET: &str = "subnet";

pub struct VmEnv {
    pub sim: SimEnv,
    azurite: Azurite,
}

impl VmEnv {
    /// None when Azurite is skipped (`SKIP_AZURITE=1`).
    pub fn start() -> Option<Self> {
        Self::start_with(SimConfig::default())
    }

    pub fn start_with(config: SimConfig) -> Option<Self> {
        let azurite = Azurite::start_for_test()?;
        let sim = SimEnv::start_with(SimConfig {
            storage: Some(StorageBackend {
                blob_endpoint: azurite.blob_endpoint(),
                account_name: azurite.account_name().into(),
                account_key: azurite.account_key().into(),
            }),
            ..config
        });
        let rg = sim.rg_id();
        sim.seed(json!([
            {
                "id": format!("{rg}/providers/Microsoft.Storage/storageAccounts/{}", azurite.account_name()),
                "location": LOCATION, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"
            },
            {
                "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/{VNET}"),
                "location": LOCATION,
                "properties": {
                    "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                    "subnets": [
                        {"name": SUBNET, "properties": {"addressPrefix": "10.0.0.0/24"}},
                        {"name": "subnet-2", "properties": {"addressPrefix": "10.0.1.0/24"}}
                    ]
                }
            },
            {
                "id": format!("{rg}/providers/Microsoft.Network/networkSecurityGroups/nsg"),
                "location": LOCATION, "properties": {}
            }
        ]));
        let env = Self { sim, azurite };
        env.write_config(|_| {});
        Some(env)
    }

    pub fn storage_account_name(&self) -> &str {
        self.azurite.account_name()
    }

    /// The default storage account's blobs (Azurite), read and written directly.
    pub fn blobs(&self) -> BlobService {
        let access = StorageAccess {
            account_name: self.azurite.account_name().into(),
            blob_endpoint: self.azurite.blob_endpoint(),
            auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(
                self.azurite.account_key().to_string().into(),
            ),
        };
        BlobService::new(&access, BlobServiceOptions::default()).expect("blob service")
    }

    /// Rewrites cpi.json with the default storage account set; `edit` may change the rest.
    pub fn write_config(&self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
        let account = self.storage_account_name().to_owned();
        self.sim.write_config(|azure| {
            azure.insert("storage_account_name".into(), json!(account));
            edit(azure);
        });
    }

    /// A light stemcell of Ubuntu Jammy (gen1) from the sim's platform image catalogue.
    pub fn light_stemcell(&self) -> String {
        self.light_stemcell_of(json!({
            "name": "bosh-azure-hyperv-ubuntu-jammy-go_agent", "version": "1.0", "os_type": "linux",
            "image": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                      "sku": "22_04-lts", "version": "22.04.202401010"}
        }))
    }

    /// A light stemcell with these stemcell cloud_properties.
    pub fn light_stemcell_of(&self, cloud_properties: Value) -> String {
        let cid = self
            .sim
            .ok("create_stemcell", json!(["/unused", cloud_properties]));
        cid.as_str().expect("stemcell cid").to_owned()
    }

    /// A heavy (VHD) gen1 stemcell uploaded to Azurite.
    pub fn heavy_stemcell(&self) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let image = dir.path().join("image");
        write_stemcell_image(&image, &StemcellImageSpec::new(4 * 1024 * 1024, 0.25))
            .expect("stemcell image");
        let cid = self.sim.ok(
            "create_stemcell",
            json!([
                image.to_str().expect("utf-8 path"),
                stemcell_cloud_properties(Generation::Gen1)
            ]),
        );
        cid.as_str().expect("stemcell cid").to_owned()
    }

    /// `<rg id>/providers/<kind>/<name>`, e.g. `arm_id("Microsoft.Compute/virtualMachines", vm)`.
    pub fn arm_id(&self, kind: &str, name: &str) -> String {
        format!("{}/providers/{kind}/{name}", self.sim.rg_id())
    }

    /// Lower-cased ids of everything in the sim, sorted.
    pub fn inventory_ids(&self) -> Vec<String> {
        let inventory = self.sim.sim.inventory();
        let mut ids: Vec<String> = inventory["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_ascii_lowercase())
            .collect();
        ids.sort();
        ids
    }

    /// The agent settings the VM's PUT carried: the sim keeps customData out of responses, as
    /// ARM does, but records it.
    pub fn agent_settings(&self, vm_name: &str) -> Value {
        let vm_id = self.arm_id("Microsoft.Compute/virtualMachines", vm_name);
        let inventory = self.sim.sim.inventory();
        let stored = inventory["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .find(|r| {
                r["id"]
                    .as_str()
                    .is_some_and(|id| id.eq_ignore_ascii_case(&vm_id))
            })
            .unwrap_or_else(|| panic!("no VM {vm_id}"));
        let custom_data = stored["hidden"]["customData"]
            .as_str()
            .expect("the VM PUT carried customData");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(custom_data)
            .expect("customData is base64");
        serde_json::from_slice(&decoded).expect("customData is JSON")
    }
}

/// One manual network on `vnet/subnet`, default for DNS and gateway.
pub fn manual_network() -> Value {
    json!({"private": {
        "type": "manual", "ip": "10.0.0.10", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
        "dns": ["168.63.129.16"], "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": VNET, "subnet_name": SUBNET}
    }})
}
