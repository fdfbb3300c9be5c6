//! create_vm from Azure Compute Gallery stemcells, through the binary against azure-sim (ARM)
//! and Azurite (stemcell blobs): the version is found from the blob metadata with one ARM GET,
//! replicated to the VM's region when it is not a target region yet, recreated from the VHD
//! when it is gone, and found by the tag-filtered list only for blobs without gallery metadata.

mod support;

use std::time::Duration;

use bosh_azure_cpi::azure::{ApiKind, ArmClient, Deadline, ResourcePath};
use bosh_azure_cpi::config::Config;
use bosh_azure_sim::LoggedRequest;
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use serde_json::{Map, Value, json};
use support::error_type;
use support::vm_env::{VNET, VmEnv};

const GALLERY: &str = "boshgallery";
const AGENT_ID: &str = "0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
const OTHER_AGENT_ID: &str = "1d2e3f4a-5b6c-4d7e-8f90-1a2b3c4d5e6f";
const DEFINITION: &str = "bosh-azure-hyperv-ubuntu-jammy-go_agent";

/// The shared VM environment (storage account and `vnet` in eastus) plus the gallery, a VNet
/// in westus2, and the stemcell image file.
struct Env {
    base: VmEnv,
    _images: tempfile::TempDir,
    image: std::path::PathBuf,
}

impl std::ops::Deref for Env {
    type Target = VmEnv;
    fn deref(&self) -> &VmEnv {
        &self.base
    }
}

fn start() -> Option<Env> {
    let base = VmEnv::start()?;
    let rg = base.sim.rg_id();
    base.sim.seed(json!([
        {
            "id": format!("{rg}/providers/Microsoft.Compute/galleries/{GALLERY}"),
            "location": "eastus", "properties": {}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet-west"),
            "location": "westus2",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "subnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]
            }
        },
    ]));
    let images = tempfile::tempdir().unwrap();
    let image = images.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(4 * 1024 * 1024, 0.25)).unwrap();
    let env = Env {
        base,
        _images: images,
        image,
    };
    configure(&env, "eastus", true);
    Some(env)
}

fn configure(env: &Env, location: &str, gallery: bool) {
    env.write_config(|azure| {
        azure.insert("location".into(), json!(location));
        if gallery {
            azure.insert("compute_gallery_name".into(), json!(GALLERY));
        }
    });
}

fn version_id(env: &Env) -> String {
    format!(
        "{}/providers/Microsoft.Compute/galleries/{GALLERY}/images/{DEFINITION}/versions/1.201.0",
        env.sim.rg_id()
    )
}

fn create_stemcell(env: &Env) -> String {
    let mut properties = stemcell_cloud_properties(Generation::Gen1);
    properties["version"] = json!("1.201");
    let cid = env
        .sim
        .ok("create_stemcell", json!([env.image, properties]));
    cid.as_str().expect("stemcell cid").to_owned()
}

fn network(vnet: &str) -> Value {
    json!({"private": {
        "type": "manual", "ip": "10.0.0.10", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
        "dns": ["168.63.129.16"], "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": vnet, "subnet_name": "subnet"}
    }})
}

fn create_vm_arguments(agent_id: &str, stemcell: &str, vnet: &str) -> Value {
    json!([
        agent_id,
        stemcell,
        {"instance_type": "Standard_D2s_v3"},
        network(vnet),
        [],
        {}
    ])
}

/// Runs create_vm and returns the ARM requests it sent.
fn create_vm(env: &Env, agent_id: &str, stemcell: &str, vnet: &str) -> Vec<LoggedRequest> {
    let before = env.sim.sim.request_log().len();
    env.sim
        .ok("create_vm", create_vm_arguments(agent_id, stemcell, vnet));
    arm_requests(env, before)
}

fn arm_requests(env: &Env, from: usize) -> Vec<LoggedRequest> {
    env.sim.sim.request_log()[from..]
        .iter()
        .filter(|r| r.path.contains("/subscriptions/"))
        .cloned()
        .collect()
}

fn image_of_vm(env: &Env, agent_id: &str) -> String {
    let vm = env
        .sim
        .resource(&format!(
            "{}/providers/Microsoft.Compute/virtualMachines/{agent_id}",
            env.sim.rg_id()
        ))
        .expect("the VM");
    vm["properties"]["storageProfile"]["imageReference"]["id"]
        .as_str()
        .expect("imageReference.id")
        .to_owned()
}

fn target_regions(env: &Env) -> Vec<String> {
    let version = env.sim.resource(&version_id(env)).expect("the version");
    version["properties"]["publishingProfile"]["targetRegions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

fn version_requests<'a>(requests: &'a [LoggedRequest], method: &str) -> Vec<&'a LoggedRequest> {
    requests
        .iter()
        .filter(|r| r.method == method && r.path.to_ascii_lowercase().contains("/versions/"))
        .collect()
}

fn lists_resources(requests: &[LoggedRequest]) -> bool {
    requests.iter().any(|r| r.path.ends_with("/resources"))
}

fn same_id(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

#[test]
fn warm_path_boots_from_the_version_with_one_version_get_and_no_resource_list() {
    let Some(env) = start() else { return };
    let stemcell = create_stemcell(&env);

    let requests = create_vm(&env, AGENT_ID, &stemcell, VNET);
    assert!(same_id(&image_of_vm(&env, AGENT_ID), &version_id(&env)));
    assert!(
        !lists_resources(&requests),
        "no resource list on the warm path"
    );
    assert_eq!(
        version_requests(&requests, "GET").len(),
        1,
        "one version GET"
    );
    assert!(
        version_requests(&requests, "PATCH").is_empty(),
        "already in eastus"
    );
    assert_eq!(target_regions(&env), ["eastus"]);
    eprintln!(
        "create_vm (gallery stemcell, warm path): {} ARM requests",
        requests.len()
    );
}

#[test]
fn a_vm_in_another_region_replicates_the_version_there_first() {
    let Some(env) = start() else { return };
    let stemcell = create_stemcell(&env);
    // A second CPI (another region) that shares the gallery and the default storage account.
    configure(&env, "westus2", true);

    let requests = create_vm(&env, AGENT_ID, &stemcell, "vnet-west");
    assert!(same_id(&image_of_vm(&env, AGENT_ID), &version_id(&env)));
    assert_eq!(target_regions(&env), ["eastus", "westus2"]);
    let patches = version_requests(&requests, "PATCH");
    assert_eq!(patches.len(), 1, "one replication PATCH");
    let body = patches[0].body.as_ref().expect("PATCH body");
    assert_eq!(
        body["properties"]["publishingProfile"]["targetRegions"],
        json!([
            {"name": "eastus", "regionalReplicaCount": 3, "storageAccountType": "Standard_LRS"},
            {"name": "westus2"}
        ]),
        "the existing region is resent as Azure reported it"
    );
    assert_eq!(body["properties"]["publishingProfile"]["replicaCount"], 3);
    assert!(
        body.get("tags").is_none(),
        "the PATCH leaves the tags alone"
    );
    let version = env.sim.resource(&version_id(&env)).unwrap();
    assert_eq!(version["tags"]["stemcell_references"], json!(stemcell));
    assert!(!lists_resources(&requests));

    // The next VM there needs no replication.
    let requests = create_vm(&env, OTHER_AGENT_ID, &stemcell, "vnet-west");
    assert!(version_requests(&requests, "PATCH").is_empty());
    assert_eq!(version_requests(&requests, "GET").len(), 1);
}

#[test]
fn without_replication_azure_refuses_the_vm_in_another_region() {
    // The sim enforces what makes the replication step necessary.
    let Some(env) = start() else { return };
    create_stemcell(&env);
    let rg = env.sim.rg_id();
    env.sim.seed(json!({
        "id": format!("{rg}/providers/Microsoft.Network/networkInterfaces/probe-nic"),
        "location": "westus2",
        "properties": {"ipConfigurations": [{"name": "ipconfig0", "properties": {
            "subnet": {"id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet-west/subnets/subnet")}
        }}]}
    }));
    let config = Config::load(&env.sim.config_path, &Map::new()).unwrap();
    let arm = ArmClient::new(&config.azure.azure_settings()).unwrap();
    let vm = ResourcePath::parse_id(&format!(
        "{rg}/providers/Microsoft.Compute/virtualMachines/probe"
    ))
    .unwrap();
    let body = json!({
        "location": "westus2",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v3"},
            "storageProfile": {"imageReference": {"id": version_id(&env)},
                               "osDisk": {"name": "probe-os", "createOption": "FromImage"}},
            "osProfile": {"computerName": "probe", "adminUsername": "vcap",
                          "linuxConfiguration": {"disablePasswordAuthentication": true,
                              "ssh": {"publicKeys": [{"path": "/home/vcap/.ssh/authorized_keys", "keyData": "ssh-rsa AAAA"}]}}},
            "networkProfile": {"networkInterfaces": [{"id": format!("{rg}/providers/Microsoft.Network/networkInterfaces/probe-nic")}]}
        }
    });
    let put = env.sim.runtime.block_on(arm.put::<_, Value>(
        &vm,
        ApiKind::Compute,
        &body,
        Deadline::after(Duration::from_secs(30)),
    ));
    let error = put.expect_err("a version not replicated to westus2");
    assert_eq!(error.code(), Some("GalleryImageNotFound"), "{error}");
}

#[test]
fn a_deleted_version_is_recreated_from_the_stemcell_vhd() {
    let Some(env) = start() else { return };
    let stemcell = create_stemcell(&env);
    delete_version(&env);
    assert!(env.sim.resource(&version_id(&env)).is_none());

    create_vm(&env, AGENT_ID, &stemcell, VNET);
    let version = env.sim.resource(&version_id(&env)).expect("recreated");
    assert_eq!(version["tags"]["stemcell_references"], json!(stemcell));
    assert!(
        version["properties"]["storageProfile"]["osDiskImage"]["source"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/stemcell/{stemcell}.vhd"))
    );
    assert!(same_id(&image_of_vm(&env, AGENT_ID), &version_id(&env)));
}

#[test]
fn a_deleted_version_of_a_record_only_stemcell_is_a_clear_error_and_nothing_is_left() {
    let Some(env) = start() else { return };
    let first = create_stemcell(&env);
    // Same content again: registered on the version with a record blob, no second VHD.
    let second = create_stemcell(&env);
    assert_ne!(first, second);
    delete_version(&env);
    let before = env.inventory_ids();

    let run = env
        .sim
        .call("create_vm", create_vm_arguments(AGENT_ID, &second, VNET));
    assert_eq!(
        error_type(&run.response),
        Some("Bosh::Clouds::VMCreationFailed"),
        "{}",
        run.stdout
    );
    let message = run.response["error"]["message"].as_str().unwrap();
    assert!(message.contains("Upload the stemcell again"), "{message}");
    assert_eq!(env.inventory_ids(), before, "nothing created, nothing left");
}

#[test]
fn a_reference_lost_from_the_version_is_added_back() {
    let Some(env) = start() else { return };
    let stemcell = create_stemcell(&env);
    let mut version = env.sim.resource(&version_id(&env)).unwrap();
    version["tags"]["stemcell_references"] = json!("bosh-stemcell-someone-else");
    version["id"] = json!(version_id(&env));
    env.sim.seed(version);

    create_vm(&env, AGENT_ID, &stemcell, VNET);
    let version = env.sim.resource(&version_id(&env)).unwrap();
    assert_eq!(
        version["tags"]["stemcell_references"],
        json!(format!("bosh-stemcell-someone-else,{stemcell}"))
    );
}

#[test]
fn a_stemcell_from_before_the_gallery_falls_back_to_a_user_image_after_the_tag_list() {
    let Some(env) = start() else { return };
    // Uploaded while no gallery was configured: no gallery metadata on the blob.
    configure(&env, "eastus", false);
    let stemcell = create_stemcell(&env);
    configure(&env, "eastus", true);

    let requests = create_vm(&env, AGENT_ID, &stemcell, VNET);
    assert!(
        lists_resources(&requests),
        "the tag-filtered list is the fallback"
    );
    let image = image_of_vm(&env, AGENT_ID);
    assert!(
        image.contains("/providers/Microsoft.Compute/images/"),
        "a user image: {image}"
    );
}

#[test]
fn the_tag_list_fallback_finds_a_version_referencing_the_stemcell() {
    let Some(env) = start() else { return };
    configure(&env, "eastus", false);
    let stemcell = create_stemcell(&env);
    configure(&env, "eastus", true);
    // A version made by an older CPI: it references the CID, the blob does not name it.
    let made_by_gallery = create_stemcell(&env);
    let mut version = env.sim.resource(&version_id(&env)).unwrap();
    version["tags"]["stemcell_references"] = json!(format!("{made_by_gallery},{stemcell}"));
    version["id"] = json!(version_id(&env));
    env.sim.seed(version);

    let requests = create_vm(&env, AGENT_ID, &stemcell, VNET);
    assert!(lists_resources(&requests));
    assert!(same_id(&image_of_vm(&env, AGENT_ID), &version_id(&env)));
}

fn delete_version(env: &Env) {
    let config = Config::load(&env.sim.config_path, &Map::new()).unwrap();
    let arm = ArmClient::new(&config.azure.azure_settings()).unwrap();
    let path = ResourcePath::parse_id(&version_id(env)).unwrap();
    env.sim
        .runtime
        .block_on(arm.delete(
            &path,
            ApiKind::Galleries,
            Deadline::after(Duration::from_secs(30)),
        ))
        .unwrap();
}
