//! create_vm from Azure Compute Gallery stemcells, through the binary against azure-sim (ARM)
//! and Azurite (stemcell blobs): the version is found from the blob metadata with one ARM GET,
//! replicated to the VM's region when it is not a target region yet, recreated from the VHD
//! when it is gone, and found by the tag-filtered list only for blobs without gallery metadata.

use crate::support;

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
fn a_deleted_version_of_a_record_only_stemcell_without_its_source_is_a_clear_error() {
    let Some(env) = start() else { return };
    let first = create_stemcell(&env);
    // Same content again: registered on the version with a record blob, no second VHD.
    let second = create_stemcell(&env);
    assert_ne!(first, second);
    delete_version(&env);
    // The source VHD the record names is gone too (deleted by hand).
    let blobs = env.blobs();
    assert!(
        env.sim
            .runtime
            .block_on(blobs.delete_blob("stemcell", &format!("{first}.vhd")))
            .unwrap()
    );
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

#[test]
fn a_deleted_version_is_recreated_from_the_source_vhd_after_the_uploading_stemcell_was_deleted() {
    let Some(env) = start() else { return };
    let first = create_stemcell(&env);
    let second = create_stemcell(&env);
    // The first CID's blob is the version's source VHD: it stays while the version is used.
    env.sim.ok("delete_stemcell", json!([first]));
    assert!(stemcell_blob_exists(&env, &first), "the source VHD stays");
    delete_version(&env);

    create_vm(&env, AGENT_ID, &second, VNET);
    let version = env.sim.resource(&version_id(&env)).expect("recreated");
    assert_eq!(version["tags"]["stemcell_references"], json!(second));
    let source = version["properties"]["storageProfile"]["osDiskImage"]["source"]["uri"]
        .as_str()
        .unwrap();
    assert!(
        source.ends_with(&format!("/stemcell/{first}.vhd")),
        "{source}"
    );
    let tags = version["tags"].as_object().unwrap();
    assert!(
        tags.keys()
            .all(|key| !key.starts_with("bosh_azure_cpi_rs_")),
        "the CPI's own blob keys are not tags: {tags:?}"
    );
    assert!(same_id(&image_of_vm(&env, AGENT_ID), &version_id(&env)));

    // The last reference takes the version and the kept source with it.
    env.sim.ok("delete_vm", json!([AGENT_ID]));
    env.sim.ok("delete_stemcell", json!([second]));
    assert!(env.sim.resource(&version_id(&env)).is_none());
    assert_eq!(stemcell_blobs(&env), Vec::<String>::new());
}

const REFERENCES: usize = 16;

/// `count` CIDs of one stemcell: the first uploads the VHD, the others get record blobs.
fn create_stemcells(env: &Env, count: usize) -> Vec<String> {
    let cids: Vec<String> = (0..count).map(|_| create_stemcell(env)).collect();
    let version = env.sim.resource(&version_id(env)).expect("the version");
    assert_eq!(
        version["tags"]["stemcell_references"],
        json!(cids.join(","))
    );
    cids
}

fn stemcell_blob_exists(env: &Env, cid: &str) -> bool {
    let blobs = env.blobs();
    env.sim
        .runtime
        .block_on(blobs.exists("stemcell", &format!("{cid}.vhd")))
        .unwrap()
}

fn stemcell_blobs(env: &Env) -> Vec<String> {
    let blobs = env.blobs();
    env.sim
        .runtime
        .block_on(blobs.list_blob_names("stemcell", "bosh-stemcell-"))
        .unwrap()
}

fn references_of_version(env: &Env) -> Vec<String> {
    let version = env.sim.resource(&version_id(env)).expect("the version");
    let mut references: Vec<String> = version["tags"]["stemcell_references"]
        .as_str()
        .unwrap()
        .split(',')
        .map(str::to_owned)
        .collect();
    references.sort();
    references
}

/// Deletes the CIDs one by one in `order`: each succeeds, the version keeps exactly the CIDs not
/// yet deleted and its source VHD, and with `vms` a VM boots from a remaining CID between two
/// deletes. After the last: no version, no stemcell blob.
fn delete_in_order(env: &Env, cids: &[String], order: &[usize], vms: bool) {
    let source = &cids[0];
    let mut remaining: Vec<String> = cids.to_vec();
    for (step, &index) in order.iter().enumerate() {
        let cid = &cids[index];
        env.sim.ok("delete_stemcell", json!([cid]));
        remaining.retain(|r| r != cid);
        if remaining.is_empty() {
            break;
        }
        let mut expected = remaining.clone();
        expected.sort();
        assert_eq!(references_of_version(env), expected, "after step {step}");
        assert!(
            stemcell_blob_exists(env, source),
            "the source VHD is kept while the version is used (step {step})"
        );
        if vms {
            let agent = format!("5a0c0000-0000-4000-8000-{step:012}");
            create_vm(env, &agent, &remaining[0], VNET);
            assert!(same_id(&image_of_vm(env, &agent), &version_id(env)));
            env.sim.ok("delete_vm", json!([agent]));
        }
    }
    assert!(
        env.sim.resource(&version_id(env)).is_none(),
        "the version goes with its last reference"
    );
    assert_eq!(
        stemcell_blobs(env),
        Vec::<String>::new(),
        "no VHD or record left"
    );
}

#[test]
fn sixteen_references_deleted_in_creation_order_with_a_vm_between_deletes() {
    let Some(env) = start() else { return };
    let cids = create_stemcells(&env, REFERENCES);
    let order: Vec<usize> = (0..REFERENCES).collect();
    delete_in_order(&env, &cids, &order, true);
}

#[test]
fn sixteen_references_deleted_in_reverse_and_in_a_random_order() {
    use rand::SeedableRng;
    use rand::seq::SliceRandom;
    let Some(env) = start() else { return };
    let cids = create_stemcells(&env, REFERENCES);
    let reverse: Vec<usize> = (0..REFERENCES).rev().collect();
    delete_in_order(&env, &cids, &reverse, false);

    let cids = create_stemcells(&env, REFERENCES);
    let mut shuffled: Vec<usize> = (0..REFERENCES).collect();
    shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(13));
    assert_ne!(
        shuffled[0], 0,
        "the seed deletes the source's CID in between"
    );
    delete_in_order(&env, &cids, &shuffled, false);
}

#[test]
fn sixteen_references_deleted_eight_at_a_time() {
    let Some(env) = start() else { return };
    let cids = create_stemcells(&env, REFERENCES);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|worker| {
                let env = &env;
                let cids = &cids;
                scope.spawn(move || {
                    for cid in cids.iter().skip(worker).step_by(8) {
                        // `ok` fails the test on any error answer.
                        env.sim.ok("delete_stemcell", json!([cid]));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
    });
    assert!(env.sim.resource(&version_id(&env)).is_none());
    assert_eq!(stemcell_blobs(&env), Vec::<String>::new());
}
