//! create_stemcell / delete_stemcell through the binary against azure-sim and Azurite.

mod support;

use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions};
use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::{SimConfig, StorageBackend};
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
    let azurite = Azurite::start_for_test()?;
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: azurite.blob_endpoint(),
            account_name: azurite.account_name().into(),
            account_key: azurite.account_key().into(),
        }),
        ..SimConfig::default()
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
        account_key: env.azurite.account_key().to_string().into(),
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
        azure.insert("compute_gallery_name".into(), json!("boshgallery"));
    });
    let run = env
        .sim
        .call("create_stemcell", json!(["/unused/image", props]));
    assert_eq!(
        error_type(&run.response),
        Some("Bosh::Clouds::NotImplemented"),
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
