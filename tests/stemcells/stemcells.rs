//! create_stemcell / delete_stemcell through the binary against azure-sim and Azurite.

use crate::support;

use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions};
use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::{Fault, FaultAction, SimConfig, StorageBackend};
use serde_json::{Value, json};
use std::io::Read;
use support::sim::SimEnv;
use support::{error_message, error_type};

/// Azurite's account doubles as the ARM storage account, so Shared Key names match.
struct Env {
    sim: SimEnv,
    azurite: Azurite,
}

fn start() -> Option<Env> {
    start_with(SimConfig::default())
}

fn start_with(config: SimConfig) -> Option<Env> {
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
        "id": format!("{}/providers/Microsoft.Storage/storageAccounts/{}", sim.rg_id(), azurite.account_name()),
        "location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"
    }));
    let account = azurite.account_name().to_owned();
    sim.write_config(|azure| drop(azure.insert("storage_account_name".into(), json!(account))));
    Some(Env { sim, azurite })
}

fn blobs(env: &Env) -> BlobService {
    let access = StorageAccess {
        account_name: env.azurite.account_name().into(),
        blob_endpoint: env.azurite.blob_endpoint(),
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(
            env.azurite.account_key().to_string().into(),
        ),
    };
    BlobService::new(&access, BlobServiceOptions::default()).unwrap()
}

#[test]
fn heavy_stemcell_streams_root_vhd_into_a_page_blob_and_delete_removes_it() {
    let Some(env) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let spec = StemcellImageSpec::new(8 * 1024 * 1024, 0.25);
    write_stemcell_image(&image, &spec).unwrap();
    let properties = stemcell_cloud_properties(Generation::Gen1);

    let cid = env.sim.ok(
        "create_stemcell",
        json!([image.to_str().unwrap(), properties]),
    );
    let cid = cid.as_str().expect("a CID");
    assert!(cid.starts_with("bosh-stemcell-"), "{cid}");

    let blob = format!("{cid}.vhd");
    let service = blobs(&env);
    let (downloaded, metadata) = env.sim.runtime.block_on(async {
        let bytes = service.download("stemcell", &blob).await.unwrap();
        let metadata = service
            .get_metadata("stemcell", &blob)
            .await
            .unwrap()
            .unwrap();
        (bytes, metadata)
    });
    let mut expected = Vec::new();
    spec.root_vhd().read_to_end(&mut expected).unwrap();
    assert_eq!(downloaded.len(), expected.len());
    assert!(downloaded == expected, "the blob's bytes equal root.vhd");
    assert_eq!(
        metadata.get("name").map(String::as_str),
        Some("bosh-azure-hyperv-ubuntu-jammy-go_agent")
    );
    assert_eq!(metadata.get("version").map(String::as_str), Some("1.123"));
    assert_eq!(
        metadata.get("disk").map(String::as_str),
        Some(&*properties["disk"].to_string())
    );

    assert_eq!(env.sim.ok("delete_stemcell", json!([cid])), Value::Null);
    let exists = env
        .sim
        .runtime
        .block_on(service.exists("stemcell", &blob))
        .unwrap();
    assert!(!exists, "the stemcell blob is gone");
    // Deleting it again is not an error.
    assert_eq!(env.sim.ok("delete_stemcell", json!([cid])), Value::Null);
}

#[test]
fn zero_gap_setting_reaches_the_upload() {
    let Some(env) = start() else { return };
    let account = env.azurite.account_name().to_owned();
    env.sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(account));
        azure.insert("stemcell_upload_max_zero_gap_bytes".into(), json!(4096));
    });
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let spec = StemcellImageSpec::new(8 * 1024 * 1024, 0.25);
    write_stemcell_image(&image, &spec).unwrap();
    let cid = env.sim.ok(
        "create_stemcell",
        json!([
            image.to_str().unwrap(),
            stemcell_cloud_properties(Generation::Gen1)
        ]),
    );
    let blob = format!("{}.vhd", cid.as_str().unwrap());
    let service = blobs(&env);
    let (downloaded, ranges) = env.sim.runtime.block_on(async {
        let bytes = service.download("stemcell", &blob).await.unwrap();
        (bytes, service.page_ranges("stemcell", &blob).await.unwrap())
    });
    let mut expected = Vec::new();
    spec.root_vhd().read_to_end(&mut expected).unwrap();
    assert!(downloaded == expected, "the blob's bytes equal root.vhd");
    // Bridged: some written page is all zeros, and no two ranges are a block or less apart.
    let zero_pages_written = ranges
        .iter()
        .flat_map(|r| expected[r.start as usize..r.end as usize].chunks(512))
        .filter(|page| page.iter().all(|b| *b == 0))
        .count();
    assert!(zero_pages_written > 0, "no zero gap was bridged");
    for pair in ranges.windows(2) {
        assert!(
            pair[1].start - pair[0].end > 4096,
            "{pair:?} were not joined"
        );
    }
}

#[test]
fn light_stemcell_is_checked_and_recorded() {
    let Some(env) = start() else { return };
    let image = json!({"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts", "version": "22.04.202401010"});
    let properties = json!({"name": "bosh-azure-hyperv-ubuntu-jammy-go_agent", "version": "1.500", "infrastructure": "azure",
        "os_type": "linux", "image": image});
    let cid = env
        .sim
        .ok("create_stemcell", json!(["/unused/image", properties]));
    let cid = cid.as_str().expect("a CID");
    assert!(cid.starts_with("bosh-light-stemcell-"), "{cid}");
    let service = blobs(&env);
    let metadata = env
        .sim
        .runtime
        .block_on(service.get_metadata("stemcell", &format!("{cid}.vhd")))
        .unwrap()
        .expect("the record blob");
    let recorded: Value = serde_json::from_str(&metadata["image"]).expect("image is JSON");
    assert_eq!(recorded, image);
    assert_eq!(metadata["version"], "1.500");

    let missing = json!({"name": "x", "version": "1", "image": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts", "version": "0.0.1"}});
    let run = env
        .sim
        .call("create_stemcell", json!(["/unused/image", missing]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("Cannot find the light stemcell"),
        "{}",
        run.stdout
    );

    assert_eq!(env.sim.ok("delete_stemcell", json!([cid])), Value::Null);
}

#[test]
fn refuses_what_it_does_not_build() {
    let Some(env) = start() else { return };
    let props = stemcell_cloud_properties(Generation::Gen2);
    env.sim
        .write_config(|azure| drop(azure.insert("use_managed_disks".into(), json!(false))));
    let run = env
        .sim
        .call("create_stemcell", json!(["/unused/image", props]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("use_managed_disks"),
        "{}",
        run.stdout
    );

    env.sim.write_config(|azure| {
        azure.insert(
            "storage_account_name".into(),
            json!(env.azurite.account_name()),
        );
        azure.insert("compute_gallery_name".into(), json!(GALLERY));
        azure.remove("location");
    });
    let run = env
        .sim
        .call("create_stemcell", json!(["/unused/image", props]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("azure.location"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_missing_image_file_is_a_clear_error() {
    let Some(env) = start() else { return };
    let props = stemcell_cloud_properties(Generation::Gen1);
    let run = env
        .sim
        .call("create_stemcell", json!(["/nonexistent/image", props]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("/nonexistent/image"),
        "{}",
        run.stdout
    );
}

const GALLERY: &str = "boshgallery";

/// [`start`] plus the gallery (the CPI never creates one) and `compute_gallery_name`.
fn start_gallery() -> Option<Env> {
    start_gallery_with(SimConfig::default())
}

fn start_gallery_with(config: SimConfig) -> Option<Env> {
    let env = start_with(config)?;
    env.sim.seed(json!({
        "id": format!("{}/providers/Microsoft.Compute/galleries/{GALLERY}", env.sim.rg_id()),
        "location": "eastus", "properties": {}
    }));
    let account = env.azurite.account_name().to_owned();
    env.sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(account));
        azure.insert("compute_gallery_name".into(), json!(GALLERY));
    });
    Some(env)
}

fn gallery_id(env: &Env) -> String {
    format!(
        "{}/providers/Microsoft.Compute/galleries/{GALLERY}",
        env.sim.rg_id()
    )
}

fn write_image(dir: &std::path::Path, name: &str, seed: u64) -> std::path::PathBuf {
    let path = dir.join(name);
    let mut spec = StemcellImageSpec::new(4 * 1024 * 1024, 0.25);
    spec.seed = seed;
    write_stemcell_image(&path, &spec).unwrap();
    path
}

fn sha256_hex(path: &std::path::Path) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(std::fs::read(path).unwrap()))
}

fn blob_size_and_metadata(
    env: &Env,
    cid: &str,
) -> Option<(u64, std::collections::HashMap<String, String>)> {
    let service = blobs(env);
    env.sim
        .runtime
        .block_on(service.get_properties("stemcell", &format!("{cid}.vhd")))
        .unwrap()
        .map(|p| (p.content_length, p.metadata))
}

fn version_puts(env: &Env) -> usize {
    env.sim
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.to_ascii_lowercase().contains("/versions/"))
        .count()
}

#[test]
fn gallery_stemcell_gen1_creates_definition_and_version_from_the_blob() {
    let Some(env) = start_gallery() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 1);
    let mut props = stemcell_cloud_properties(Generation::Gen1);
    props["version"] = json!("1.201");
    let cid = env.sim.ok("create_stemcell", json!([image, props]));
    let cid = cid.as_str().expect("a CID").to_string();
    assert!(cid.starts_with("bosh-stemcell-"), "{cid}");

    let definition_id = format!(
        "{}/images/bosh-azure-hyperv-ubuntu-jammy-go_agent",
        gallery_id(&env)
    );
    let definition = env.sim.resource(&definition_id).expect("the definition");
    let p = &definition["properties"];
    assert_eq!(
        p["identifier"],
        json!({"publisher": "bosh", "offer": "bosh-azure-hyperv-ubuntu-jammy-go_agent", "sku": "gen1"})
    );
    assert_eq!(p["osType"], "Linux");
    assert_eq!(p["osState"], "Generalized");
    assert_eq!(p["hyperVGeneration"], "V1");
    assert_eq!(p["architecture"], "x64");
    assert_eq!(p["description"], "Generated by BOSH");
    assert!(p.get("features").is_none(), "gen1 has no features: {p}");
    assert_eq!(definition["location"], "eastus");

    let version = env
        .sim
        .resource(&format!("{definition_id}/versions/1.201.0"))
        .expect("the version");
    let sha = sha256_hex(&image);
    assert_eq!(version["tags"]["stemcell_references"], json!(cid));
    assert_eq!(version["tags"]["image_sha256"], json!(sha));
    assert_eq!(version["tags"]["compute_gallery_name"], json!(GALLERY));
    assert_eq!(version["tags"]["version"], "1.201");
    let source = &version["properties"]["storageProfile"]["osDiskImage"]["source"];
    assert!(
        source["uri"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/stemcell/{cid}.vhd")),
        "{source}"
    );
    assert!(
        source["storageAccountId"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/storageAccounts/{}", env.azurite.account_name())),
        "{source}"
    );
    let publishing = &version["properties"]["publishingProfile"];
    assert_eq!(publishing["replicaCount"], 3);
    assert_eq!(publishing["targetRegions"][0]["name"], "eastus");

    let (size, metadata) = blob_size_and_metadata(&env, &cid).expect("the VHD blob");
    assert_eq!(
        size,
        StemcellImageSpec::new(4 * 1024 * 1024, 0.25).vhd_size()
    );
    assert_eq!(metadata["compute_gallery_name"], GALLERY);
    assert_eq!(
        metadata["compute_gallery_image_definition"],
        "bosh-azure-hyperv-ubuntu-jammy-go_agent"
    );
    assert_eq!(metadata["image_sha256"], sha);
    let recorded: Value = serde_json::from_str(&metadata["image"]).unwrap();
    assert_eq!(
        recorded,
        json!({"publisher": "bosh", "offer": "bosh-azure-hyperv-ubuntu-jammy-go_agent", "sku": "gen1", "version": "1.201.0"})
    );
}

#[test]
fn gallery_stemcell_gen2_definition_carries_generation_and_features() {
    let Some(env) = start_gallery() else { return };
    env.sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!("devstoreaccount1"));
        azure.insert("compute_gallery_name".into(), json!(GALLERY));
        azure.insert("compute_gallery_replicas".into(), json!(2));
    });
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 2);
    let mut props = stemcell_cloud_properties(Generation::Gen2);
    props["version"] = json!("1.202");
    props["disk_controller_types"] = json!(["scsi", "nvme"]);
    props["accelerated_networking"] = json!(true);
    env.sim.ok("create_stemcell", json!([image, props]));

    let definition_id = format!(
        "{}/images/bosh-azure-hyperv-ubuntu-jammy-go_agent-gen2",
        gallery_id(&env)
    );
    let definition = env
        .sim
        .resource(&definition_id)
        .expect("the gen2 definition");
    let p = &definition["properties"];
    assert_eq!(p["identifier"]["sku"], "gen2");
    assert_eq!(
        p["identifier"]["offer"],
        "bosh-azure-hyperv-ubuntu-jammy-go_agent-gen2"
    );
    assert_eq!(p["hyperVGeneration"], "V2");
    assert_eq!(
        p["features"],
        json!([
            {"name": "DiskControllerTypes", "value": "SCSI,NVMe"},
            {"name": "IsAcceleratedNetworkSupported", "value": "True"}
        ])
    );
    let version = env
        .sim
        .resource(&format!("{definition_id}/versions/1.202.0"))
        .expect("the version");
    assert_eq!(
        version["properties"]["publishingProfile"]["replicaCount"],
        2
    );
}

#[test]
fn gallery_reupload_adds_a_reference_without_a_second_vhd_and_delete_counts_references() {
    let Some(env) = start_gallery() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 3);
    let mut props = stemcell_cloud_properties(Generation::Gen1);
    props["version"] = json!("1.203");
    let first = env.sim.ok("create_stemcell", json!([image, props]));
    let first = first.as_str().unwrap().to_string();
    assert_eq!(version_puts(&env), 1);
    let second = env.sim.ok("create_stemcell", json!([image, props]));
    let second = second.as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(version_puts(&env), 1, "the version is written once");

    let version_id = format!(
        "{}/images/bosh-azure-hyperv-ubuntu-jammy-go_agent/versions/1.203.0",
        gallery_id(&env)
    );
    let version = env.sim.resource(&version_id).unwrap();
    assert_eq!(
        version["tags"]["stemcell_references"],
        json!(format!("{first},{second}"))
    );
    let (size, metadata) = blob_size_and_metadata(&env, &second).expect("the record blob");
    assert_eq!(size, 1024, "no second VHD: only a metadata record");
    assert_eq!(
        metadata["bosh_azure_cpi_rs_source_blob"],
        format!("{first}.vhd"),
        "the record names the version's source VHD"
    );
    assert_eq!(metadata["compute_gallery_name"], GALLERY);
    assert_eq!(metadata["image_sha256"], sha256_hex(&image));

    // The same version with other content is refused, and leaves nothing behind.
    let other = write_image(dir.path(), "other", 4);
    let run = env.sim.call("create_stemcell", json!([other, props]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("SHA256 mismatch"),
        "{}",
        run.stdout
    );
    let version = env.sim.resource(&version_id).unwrap();
    assert_eq!(
        version["tags"]["stemcell_references"],
        json!(format!("{first},{second}"))
    );

    // 2 references, then 1, then 0: the version goes with the last, the definition stays.
    assert_eq!(env.sim.ok("delete_stemcell", json!([first])), Value::Null);
    let version = env.sim.resource(&version_id).expect("still referenced");
    assert_eq!(version["tags"]["stemcell_references"], json!(second));
    // The first CID's VHD is the version's source: it stays, marked, as long as the version.
    let (size, metadata) = blob_size_and_metadata(&env, &first).expect("the source VHD");
    assert!(size > 1024);
    assert!(
        metadata.contains_key("bosh_azure_cpi_rs_deleted"),
        "{metadata:?}"
    );
    assert_eq!(env.sim.ok("delete_stemcell", json!([second])), Value::Null);
    assert!(
        env.sim.resource(&version_id).is_none(),
        "the version is deleted"
    );
    assert!(blob_size_and_metadata(&env, &second).is_none());
    assert!(
        blob_size_and_metadata(&env, &first).is_none(),
        "the source VHD goes with the version"
    );
    assert!(
        env.sim
            .resource(&format!(
                "{}/images/bosh-azure-hyperv-ubuntu-jammy-go_agent",
                gallery_id(&env)
            ))
            .is_some(),
        "definitions are never deleted"
    );
    // Again: not an error.
    assert_eq!(env.sim.ok("delete_stemcell", json!([second])), Value::Null);
}

#[test]
fn gallery_version_not_made_by_bosh_is_refused() {
    let Some(env) = start_gallery() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 5);
    let mut props = stemcell_cloud_properties(Generation::Gen1);
    props["version"] = json!("1.204");
    let cid = env.sim.ok("create_stemcell", json!([image, props]));
    let version_id = format!(
        "{}/images/bosh-azure-hyperv-ubuntu-jammy-go_agent/versions/1.204.0",
        gallery_id(&env)
    );
    let mut version = env.sim.resource(&version_id).unwrap();
    version["id"] = json!(version_id);
    version["tags"] = json!({"owner": "someone"});
    env.sim.seed(version);
    let run = env.sim.call("create_stemcell", json!([image, props]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("not created by BOSH"),
        "{}",
        run.stdout
    );
    assert!(cid.is_string());
}

/// The stemcell references of a version, sorted.
fn references(env: &Env, version_id: &str) -> Vec<String> {
    let version = env.sim.resource(version_id).expect("the version");
    let mut references: Vec<String> = version["tags"]["stemcell_references"]
        .as_str()
        .expect("stemcell_references")
        .split(',')
        .map(str::to_string)
        .collect();
    references.sort();
    references
}

fn version_puts_of(env: &Env, version: &str) -> usize {
    env.sim
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.ends_with(&format!("/versions/{version}")))
        .count()
}

#[test]
fn parallel_gallery_uploads_of_one_series_make_one_definition_and_one_version_each() {
    let Some(env) = start_gallery() else { return };
    let dir = tempfile::tempdir().unwrap();
    // 8 processes upload 1.205; at the same time 2 processes each upload 1.206, 1.207, 1.208
    // of the same series (one definition).
    let mut uploads: Vec<(String, std::path::PathBuf)> = Vec::new();
    let image = write_image(dir.path(), "image-1.205", 6);
    uploads.extend((0..8).map(|_| ("1.205".to_string(), image.clone())));
    for (i, version) in ["1.206", "1.207", "1.208"].into_iter().enumerate() {
        let image = write_image(dir.path(), &format!("image-{version}"), 60 + i as u64);
        uploads.extend((0..2).map(|_| (version.to_string(), image.clone())));
    }
    let results: Vec<(String, String)> = std::thread::scope(|scope| {
        let workers: Vec<_> = uploads
            .iter()
            .map(|(version, image)| {
                let env = &env;
                scope.spawn(move || {
                    let mut props = stemcell_cloud_properties(Generation::Gen1);
                    props["version"] = json!(version);
                    // `ok` fails the test on any error answer: no failed call.
                    let cid = env.sim.ok("create_stemcell", json!([image, props]));
                    (version.clone(), cid.as_str().expect("a CID").to_string())
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });

    let inventory = env.sim.sim.inventory();
    let ids_of = |type_name: &str| -> Vec<String> {
        inventory["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["type"] == type_name)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let definitions = ids_of("Microsoft.Compute/galleries/images");
    assert_eq!(
        definitions.len(),
        1,
        "exactly one definition: {definitions:?}"
    );
    let definition_puts = env
        .sim
        .sim
        .request_log()
        .iter()
        .filter(|r| {
            r.method == "PUT"
                && r.path
                    .ends_with("/images/bosh-azure-hyperv-ubuntu-jammy-go_agent")
        })
        .count();
    assert_eq!(definition_puts, 1, "one process created the definition");
    let versions = ids_of("Microsoft.Compute/galleries/images/versions");
    assert_eq!(
        versions.len(),
        4,
        "one version per stemcell version: {versions:?}"
    );

    for version in ["1.205", "1.206", "1.207", "1.208"] {
        let semver = format!("{version}.0");
        let version_id = format!("{}/versions/{semver}", definitions[0]);
        let mut expected: Vec<String> = results
            .iter()
            .filter(|(v, _)| v == version)
            .map(|(_, cid)| cid.clone())
            .collect();
        expected.sort();
        assert_eq!(
            references(&env, &version_id),
            expected,
            "every CID of {version} is referenced"
        );
        assert_eq!(
            version_puts_of(&env, &semver),
            1,
            "{version} was created once"
        );
        let full_vhds = expected
            .iter()
            .filter(|cid| blob_size_and_metadata(&env, cid).unwrap().0 > 1024)
            .count();
        assert_eq!(full_vhds, 1, "the VHD of {version} is uploaded once");
    }
    assert_eq!(results.iter().filter(|(v, _)| v == "1.205").count(), 8);
}

/// Waits until the sim has answered `count` GETs of `path_suffix`.
fn wait_for_gets(env: &Env, path_suffix: &str, count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let gets = env
            .sim
            .sim
            .request_log()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(path_suffix))
            .count();
        if gets >= count {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no GET of {path_suffix}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Another host (whose lock files this host cannot see) changes the version's tags.
fn other_host_adds_reference(env: &Env, version_id: &str, cid: &str) {
    let mut version = env.sim.resource(version_id).expect("the version");
    let references = version["tags"]["stemcell_references"]
        .as_str()
        .unwrap()
        .to_string();
    version["tags"]["stemcell_references"] = json!(format!("{references},{cid}"));
    env.sim.seed(version);
}

#[test]
fn tag_updates_do_not_lose_a_concurrent_change_from_another_host() {
    // A gallery that sends ETags (Azure's specs declare none; the CPI uses one when sent).
    let Some(env) = start_gallery_with(SimConfig {
        gallery_version_etags: true,
        ..SimConfig::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 7);
    let mut props = stemcell_cloud_properties(Generation::Gen1);
    props["version"] = json!("1.210");
    let first = env.sim.ok("create_stemcell", json!([image, props]));
    let first = first.as_str().unwrap().to_string();
    let suffix = "/images/bosh-azure-hyperv-ubuntu-jammy-go_agent/versions/1.210.0";
    let version_id = format!("{}{suffix}", gallery_id(&env));
    let version_gets = |env: &Env| {
        env.sim
            .sim
            .request_log()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with(suffix))
            .count()
    };
    // The next tag PATCH reaches the sim 1.5 s late: long after the other host's write.
    let delay_next_patch = || Fault {
        method: Some("PATCH".into()),
        // The dots of the version match themselves too.
        path: format!("{suffix}$"),
        nth: None,
        times: Some(1),
        probability: None,
        action: FaultAction::Delay { ms: 1500 },
    };

    // create_stemcell adds its reference while another host adds one.
    env.sim.sim.add_fault(delay_next_patch()).unwrap();
    let gets_before = version_gets(&env);
    let second = std::thread::scope(|scope| {
        let upload = scope.spawn(|| env.sim.ok("create_stemcell", json!([image, props])));
        wait_for_gets(&env, suffix, gets_before + 1);
        other_host_adds_reference(&env, &version_id, "bosh-stemcell-other-host-1");
        upload.join().unwrap()
    });
    let second = second.as_str().unwrap().to_string();
    let mut expected = vec![
        first.clone(),
        second.clone(),
        "bosh-stemcell-other-host-1".to_string(),
    ];
    expected.sort();
    assert_eq!(references(&env, &version_id), expected, "nothing lost");
    let refused = |env: &Env| {
        env.sim
            .sim
            .request_log()
            .iter()
            .filter(|r| r.method == "PATCH" && r.status == 412)
            .count()
    };
    assert_eq!(
        refused(&env),
        1,
        "the stale write was refused, then recomputed"
    );

    // delete_stemcell removes its reference while another host adds one.
    env.sim.sim.add_fault(delay_next_patch()).unwrap();
    let gets_before = version_gets(&env);
    std::thread::scope(|scope| {
        let delete = scope.spawn(|| env.sim.ok("delete_stemcell", json!([first])));
        wait_for_gets(&env, suffix, gets_before + 1);
        other_host_adds_reference(&env, &version_id, "bosh-stemcell-other-host-2");
        assert_eq!(delete.join().unwrap(), Value::Null);
    });
    let mut expected = vec![
        second,
        "bosh-stemcell-other-host-1".to_string(),
        "bosh-stemcell-other-host-2".to_string(),
    ];
    expected.sort();
    assert_eq!(references(&env, &version_id), expected, "nothing lost");
    assert_eq!(refused(&env), 2);
}

#[test]
fn deleting_the_last_reference_keeps_a_version_another_host_just_registered_on() {
    let Some(env) = start_gallery_with(SimConfig {
        gallery_version_etags: true,
        ..SimConfig::default()
    }) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 9);
    let mut props = stemcell_cloud_properties(Generation::Gen1);
    props["version"] = json!("1.220");
    let only = env.sim.ok("create_stemcell", json!([image, props]));
    let suffix = "/images/bosh-azure-hyperv-ubuntu-jammy-go_agent/versions/1.220.0";
    let version_id = format!("{}{suffix}", gallery_id(&env));
    // The DELETE reaches the sim 1.5 s late, after another host registered a stemcell.
    env.sim
        .sim
        .add_fault(Fault {
            method: Some("DELETE".into()),
            path: format!("{suffix}$"),
            nth: None,
            times: Some(1),
            probability: None,
            action: FaultAction::Delay { ms: 1500 },
        })
        .unwrap();
    let gets_before = env
        .sim
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with(suffix))
        .count();
    std::thread::scope(|scope| {
        let delete = scope.spawn(|| env.sim.ok("delete_stemcell", json!([only])));
        wait_for_gets(&env, suffix, gets_before + 1);
        other_host_adds_reference(&env, &version_id, "bosh-stemcell-other-host-3");
        assert_eq!(delete.join().unwrap(), Value::Null);
    });
    assert_eq!(
        references(&env, &version_id),
        ["bosh-stemcell-other-host-3"],
        "the version stays for the other host's stemcell, without ours"
    );
    let refused_deletes = env
        .sim
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "DELETE" && r.status == 412)
        .count();
    assert_eq!(refused_deletes, 1, "the stale DELETE was refused");
}

/// The body create_stemcell sent with the PUT of `version`.
fn version_put_body(env: &Env, version: &str) -> Value {
    env.sim
        .sim
        .request_log()
        .into_iter()
        .find(|r| r.method == "PUT" && r.path.ends_with(&format!("/versions/{version}")))
        .and_then(|r| r.body)
        .expect("the version PUT")
}

#[test]
fn gallery_publishing_extensions_reach_the_definition_and_the_version() {
    let Some(env) = start_gallery() else { return };
    // Each config is the gallery's plus `settings`.
    let configure = |settings: Value| {
        let account = env.azurite.account_name().to_owned();
        env.sim.write_config(|azure| {
            azure.insert("storage_account_name".into(), json!(account));
            azure.insert("compute_gallery_name".into(), json!(GALLERY));
            azure.extend(settings.as_object().unwrap().clone());
        })
    };
    configure(json!({
        "compute_gallery_replication_mode": "Shallow",
        "compute_gallery_storage_account_type": "Standard_ZRS",
        "compute_gallery_security_type": "TrustedLaunch"
    }));
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 8);
    let mut props = stemcell_cloud_properties(Generation::Gen2);
    props["version"] = json!("1.220");
    props["security_type"] = json!("TrustedLaunchSupported");
    env.sim.ok("create_stemcell", json!([image, props]));
    let definition_id = format!(
        "{}/images/bosh-azure-hyperv-ubuntu-jammy-go_agent-gen2",
        gallery_id(&env)
    );
    let definition = env.sim.resource(&definition_id).expect("the definition");
    let security: Vec<&Value> = definition["properties"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["name"] == "SecurityType")
        .collect();
    assert_eq!(
        security,
        [&json!({"name": "SecurityType", "value": "TrustedLaunch"})],
        "the configured security type wins over the stemcell's"
    );
    assert_eq!(
        version_put_body(&env, "1.220.0")["properties"]["publishingProfile"],
        json!({"replicaCount": 1, "targetRegions": [{"name": "eastus"}], "replicationMode": "Shallow", "storageAccountType": "Standard_ZRS"})
    );
    let version = env
        .sim
        .resource(&format!("{definition_id}/versions/1.220.0"))
        .expect("the version");
    assert_eq!(
        version["properties"]["publishingProfile"]["replicationMode"],
        "Shallow"
    );

    // Full replication (unset) to an extra region at upload time.
    configure(json!({
        "compute_gallery_storage_account_type": "Standard_ZRS",
        "compute_gallery_target_regions": ["westeurope", "East US"]
    }));
    let image = write_image(dir.path(), "image-1.221", 9);
    props["version"] = json!("1.221");
    env.sim.ok("create_stemcell", json!([image, props]));
    assert_eq!(
        version_put_body(&env, "1.221.0")["properties"]["publishingProfile"],
        json!({"replicaCount": 3, "targetRegions": [{"name": "eastus"}, {"name": "westeurope"}], "storageAccountType": "Standard_ZRS"})
    );

    // A bad value is refused before anything is done, naming the key.
    configure(json!({"compute_gallery_storage_account_type": "Standard_GRS"}));
    props["version"] = json!("1.222");
    let run = env.sim.call("create_stemcell", json!([image, props]));
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("azure.compute_gallery_storage_account_type"),
        "{}",
        run.stdout
    );
    assert!(
        env.sim
            .resource(&format!("{definition_id}/versions/1.222.0"))
            .is_none()
    );
}

const UPLOAD_MARK: &str = "bosh_azure_cpi_rs_upload_started";

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn stemcell_blobs_with_metadata(
    env: &Env,
) -> std::collections::BTreeMap<String, std::collections::HashMap<String, String>> {
    let service = blobs(env);
    env.sim
        .runtime
        .block_on(service.list_blobs_with_metadata("stemcell", "bosh-stemcell-"))
        .unwrap()
        .into_iter()
        .collect()
}

/// A 1 MiB page blob `stemcell/<name>` with `metadata`, as a killed upload or the Ruby CPI left it.
fn plant_blob(env: &Env, name: &str, mark: Option<u64>) {
    let mut metadata: std::collections::HashMap<String, String> = [(
        "name".to_owned(),
        "bosh-azure-hyperv-ubuntu-jammy-go_agent".to_owned(),
    )]
    .into();
    if let Some(started) = mark {
        metadata.insert(UPLOAD_MARK.to_owned(), started.to_string());
    }
    let service = blobs(env);
    env.sim.runtime.block_on(async {
        service.ensure_container("stemcell").await.unwrap();
        service
            .create_page_blob("stemcell", name, 1024 * 1024, &metadata)
            .await
            .unwrap();
    });
}

fn set_create_stemcell_timeout(env: &Env, seconds: Option<u64>) {
    let account = env.azurite.account_name().to_owned();
    env.sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(account));
        azure.insert("parallel_upload_thread_num".into(), json!(1));
        if let Some(seconds) = seconds {
            azure.insert(
                "method_timeouts".into(),
                json!({"create_stemcell": seconds}),
            );
        }
    });
}

/// Kills (and reaps) the process when dropped, also when the test fails first.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_killed_upload_leaves_a_marked_blob_that_delete_stemcell_removes_once_it_cannot_be_running() {
    let Some(env) = start() else { return };
    set_create_stemcell_timeout(&env, Some(3600));
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    // Thousands of Put Page calls one at a time: the upload runs long enough to be killed.
    write_stemcell_image(&image, &StemcellImageSpec::new(128 * 1024 * 1024, 0.25)).unwrap();
    let request = json!({
        "method": "create_stemcell",
        "arguments": [image, stemcell_cloud_properties(Generation::Gen1)],
        "context": {"director_uuid": "11111111-1111-1111-1111-111111111111"},
        "api_version": 2,
    });
    let mut child = KillOnDrop(
        std::process::Command::new(support::binary())
            .arg(&env.sim.config_path)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    {
        use std::io::Write;
        let mut stdin = child.0.stdin.take().unwrap();
        stdin.write_all(request.to_string().as_bytes()).unwrap();
    }
    let waiting = std::time::Instant::now();
    let killed = loop {
        let found = stemcell_blobs_with_metadata(&env).into_iter().next();
        let waited_too_long = waiting.elapsed() > std::time::Duration::from_secs(60);
        if found.is_some() || waited_too_long {
            drop(child);
            break found.expect("the upload created its blob").0;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let left = stemcell_blobs_with_metadata(&env);
    let started: u64 = left[&killed][UPLOAD_MARK].parse().expect("a start time");
    assert!(started.abs_diff(unix_now()) < 120, "{started}");

    // The mark is recent: the upload might still be running, so the blob stays.
    let ruby = "bosh-stemcell-00000000-0000-4000-8000-000000000001.vhd";
    plant_blob(&env, ruby, None);
    let unknown = "bosh-stemcell-00000000-0000-4000-8000-0000000000ff";
    env.sim.ok("delete_stemcell", json!([unknown]));
    assert!(stemcell_blobs_with_metadata(&env).contains_key(&killed));

    // Two hours later (timeout 1 h, plus slack for clocks): it cannot be running any more.
    let service = blobs(&env);
    let mut aged = left[&killed].clone();
    aged.insert(UPLOAD_MARK.to_owned(), (unix_now() - 7200).to_string());
    env.sim
        .runtime
        .block_on(service.set_metadata("stemcell", &killed, &aged))
        .unwrap();
    let run = env.sim.call("delete_stemcell", json!([unknown]));
    assert_eq!(run.response["error"], Value::Null, "{}", run.stdout);
    let left = stemcell_blobs_with_metadata(&env);
    assert!(!left.contains_key(&killed), "the partial blob is deleted");
    assert!(
        left.contains_key(ruby),
        "a blob without a mark is never touched"
    );
    assert!(
        run.stderr.contains(&killed) && run.stderr.contains("killed"),
        "the deletion is logged: {}",
        run.stderr
    );
}

#[test]
fn create_stemcell_removes_only_marks_older_than_its_timeout_and_leaves_no_mark_itself() {
    let Some(env) = start() else { return };
    set_create_stemcell_timeout(&env, None);
    let dir = tempfile::tempdir().unwrap();
    let image = write_image(dir.path(), "image", 5);
    let old = "bosh-stemcell-00000000-0000-4000-8000-000000000002.vhd";
    let fresh = "bosh-stemcell-00000000-0000-4000-8000-000000000003.vhd";
    let ruby = "bosh-stemcell-00000000-0000-4000-8000-000000000004.vhd";
    plant_blob(&env, old, Some(unix_now() - 2 * 3600));
    plant_blob(&env, fresh, Some(unix_now() - 60));
    plant_blob(&env, ruby, None);

    // The default create_stemcell timeout is 3 h: a 2 h old upload may still be running.
    let first = env.sim.ok(
        "create_stemcell",
        json!([image, stemcell_cloud_properties(Generation::Gen1)]),
    );
    let left = stemcell_blobs_with_metadata(&env);
    assert!(left.contains_key(old) && left.contains_key(fresh) && left.contains_key(ruby));
    let uploaded = &left[&format!("{}.vhd", first.as_str().unwrap())];
    assert!(!uploaded.contains_key(UPLOAD_MARK), "{uploaded:?}");
    assert_eq!(uploaded["version"], "1.123");

    // With a 1 h timeout it cannot be.
    set_create_stemcell_timeout(&env, Some(3600));
    let run = env.sim.call(
        "create_stemcell",
        json!([image, stemcell_cloud_properties(Generation::Gen1)]),
    );
    assert_eq!(run.response["error"], Value::Null, "{}", run.stdout);
    let left = stemcell_blobs_with_metadata(&env);
    assert!(
        !left.contains_key(old),
        "the killed upload's blob is deleted"
    );
    assert!(left.contains_key(fresh) && left.contains_key(ruby));
    assert!(run.stderr.contains(old), "{}", run.stderr);
    let second = &left[&format!("{}.vhd", run.response["result"].as_str().unwrap())];
    assert!(!second.contains_key(UPLOAD_MARK));
}
