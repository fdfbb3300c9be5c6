//! Copying a stemcell blob between storage accounts against Azurite with two accounts: the
//! read-only SAS the source URL carries (Azurite checks it with a HEAD on the source, as Azure
//! does across accounts), the server-side copy and the wait for it; and create_vm in a region
//! other than the default storage account's, through the binary against azure-sim.

use crate::support;

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use bosh_azure_cpi::azure::deadline::Deadline;
use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions, CopyPolling};
use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::{SimConfig, StorageBackend};
use serde_json::json;
use support::sim::SimEnv;

const OTHER_ACCOUNT: &str = "stemcelleastus2";
const STEMCELL: &str = "bosh-stemcell-0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6.vhd";

struct Env {
    runtime: tokio::runtime::Runtime,
    source: BlobService,
    destination: BlobService,
    _azurite: Azurite,
}

fn other_key() -> String {
    base64::engine::general_purpose::STANDARD.encode([42u8; 64])
}

fn start() -> Option<Env> {
    if std::env::var("SKIP_AZURITE").is_ok_and(|v| v == "1") {
        eprintln!("SKIP_AZURITE=1: skipping a test that needs Azurite");
        return None;
    }
    let key = other_key();
    let azurite =
        Azurite::start_with_accounts(&[(OTHER_ACCOUNT, &key)]).unwrap_or_else(|e| panic!("{e}"));
    let service = |name: &str, key: &str| {
        BlobService::new(
            &StorageAccess {
                account_name: name.into(),
                blob_endpoint: azurite.account_endpoint(name),
                auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(key.to_owned().into()),
            },
            BlobServiceOptions::default(),
        )
        .unwrap()
    };
    let env = Env {
        runtime: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        source: service(azurite.account_name(), azurite.account_key()),
        destination: service(OTHER_ACCOUNT, &key),
        _azurite: azurite,
    };
    env.runtime.block_on(async {
        env.source.ensure_container("stemcell").await.unwrap();
        env.destination.ensure_container("stemcell").await.unwrap();
        let metadata = HashMap::from([
            (
                "name".to_owned(),
                "bosh-azure-hyperv-ubuntu-jammy-go_agent".to_owned(),
            ),
            ("version".to_owned(), "1.0".to_owned()),
        ]);
        env.source
            .create_page_blob("stemcell", STEMCELL, 4 * 512, &metadata)
            .await
            .unwrap();
        env.source
            .page_writer("stemcell", STEMCELL)
            .unwrap()
            .put_pages(512, bytes::Bytes::from(vec![9u8; 1024]))
            .await
            .unwrap();
    });
    Some(env)
}

fn fast() -> CopyPolling {
    CopyPolling {
        without_progress: Duration::from_millis(50),
        min: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

#[test]
fn a_sas_url_copies_the_stemcell_into_another_account_with_its_metadata() {
    let Some(env) = start() else { return };
    let source = env
        .runtime
        .block_on(
            env.source
                .read_sas_url("stemcell", STEMCELL, Duration::from_secs(3600)),
        )
        .unwrap();
    assert!(source.query().unwrap().contains("sp=r"), "{source}");
    env.runtime
        .block_on(env.destination.copy_and_wait(
            "stemcell",
            STEMCELL,
            &source,
            fast(),
            Deadline::after(Duration::from_secs(60)),
        ))
        .unwrap();
    let (copied, original) = env.runtime.block_on(async {
        (
            env.destination
                .download("stemcell", STEMCELL)
                .await
                .unwrap(),
            env.source.download("stemcell", STEMCELL).await.unwrap(),
        )
    });
    assert_eq!(copied, original);
    assert_eq!(&copied[512..1536], &[9u8; 1024][..]);
    let metadata = env
        .runtime
        .block_on(env.destination.get_metadata("stemcell", STEMCELL))
        .unwrap()
        .unwrap();
    assert_eq!(metadata["version"], "1.0");
}

#[test]
fn a_source_without_a_valid_sas_is_refused_and_leaves_no_destination_blob() {
    let Some(env) = start() else { return };
    let signed = env
        .runtime
        .block_on(
            env.source
                .read_sas_url("stemcell", STEMCELL, Duration::from_secs(3600)),
        )
        .unwrap();
    // A signature made with another key, and no signature at all.
    let mut forged = signed.clone();
    let pairs: Vec<(String, String)> = signed
        .query_pairs()
        .map(|(k, v)| {
            let v = if k == "sig" {
                base64::engine::general_purpose::STANDARD.encode([1u8; 32])
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    forged.query_pairs_mut().clear().extend_pairs(pairs);
    let mut unsigned = signed.clone();
    unsigned.set_query(None);
    for source in [forged, unsigned] {
        let result = env.runtime.block_on(env.destination.copy_and_wait(
            "stemcell",
            STEMCELL,
            &source,
            fast(),
            Deadline::after(Duration::from_secs(60)),
        ));
        let error = result.expect_err("refused").to_string();
        assert!(error.contains("CannotVerifyCopySource"), "{error}");
        let left = env
            .runtime
            .block_on(env.destination.exists("stemcell", STEMCELL))
            .unwrap();
        assert!(!left, "no destination blob");
    }
}

/// create_vm in `westus2` with a heavy stemcell in the default account (`eastus`) and no
/// gallery: the stemcell goes into the `type: stemcell` account of `westus2` and the user
/// image is made from that copy, once for both VMs.
#[test]
fn create_vm_in_another_region_copies_the_stemcell_once_and_images_the_copy() {
    if std::env::var("SKIP_AZURITE").is_ok_and(|v| v == "1") {
        eprintln!("SKIP_AZURITE=1: skipping a test that needs Azurite");
        return;
    }
    const REGIONAL: &str = "stemcellwestus2";
    let key = other_key();
    let azurite =
        Azurite::start_with_accounts(&[(REGIONAL, &key)]).unwrap_or_else(|e| panic!("{e}"));
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: azurite.blob_endpoint(),
            account_name: azurite.account_name().into(),
            account_key: azurite.account_key().into(),
        }),
        extra_storage_accounts: vec![(REGIONAL.into(), key.clone())],
        ..SimConfig::default()
    });
    let rg = sim.rg_id();
    sim.seed(json!([
        {
            "id": format!("{rg}/providers/Microsoft.Storage/storageAccounts/{}", azurite.account_name()),
            "location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"
        },
        {
            "id": format!("{rg}/providers/Microsoft.Storage/storageAccounts/{REGIONAL}"),
            "location": "westus2", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
            "tags": {"user-agent": "bosh", "type": "stemcell"}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet"),
            "location": "westus2",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "subnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]
            }
        }
    ]));
    let account = azurite.account_name().to_owned();
    sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(account));
        azure.insert("location".into(), json!("westus2"));
    });

    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(4 * 1024 * 1024, 0.25)).unwrap();
    let stemcell = sim.ok(
        "create_stemcell",
        json!([
            image.to_str().unwrap(),
            stemcell_cloud_properties(Generation::Gen1)
        ]),
    );
    let stemcell = stemcell.as_str().unwrap().to_owned();
    let blob = format!("{stemcell}.vhd");
    let network = json!({"default": {"type": "dynamic", "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": "subnet"}}});
    let props = json!({"instance_type": "Standard_D2s_v3", "root_disk": {"type": "Standard_LRS"}});
    for agent in [
        "6a2f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b01",
        "7b3f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b02",
    ] {
        let run = sim.call(
            "create_vm",
            json!([agent, stemcell, props, network, [], {}]),
        );
        assert!(run.response["result"][0].is_string(), "{}", run.stdout);
    }

    let uuid = stemcell.trim_start_matches("bosh-stemcell-");
    let image_id = format!("{rg}/providers/Microsoft.Compute/images/{uuid}-S-westus2");
    let image = sim.resource(&image_id).expect("the user image in westus2");
    let copied_url = format!("{}/stemcell/{blob}", azurite.account_endpoint(REGIONAL));
    assert_eq!(
        image["properties"]["storageProfile"]["osDisk"]["blobUri"],
        json!(copied_url),
        "made from the copy, no SAS"
    );
    let images = sim.sim.inventory()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == json!("Microsoft.Compute/images"))
        .count();
    assert_eq!(images, 1, "the second VM reuses the image");

    let service = |name: &str, key: &str| {
        BlobService::new(
            &StorageAccess {
                account_name: name.into(),
                blob_endpoint: azurite.account_endpoint(name),
                auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(key.to_owned().into()),
            },
            BlobServiceOptions::default(),
        )
        .unwrap()
    };
    let source = service(azurite.account_name(), azurite.account_key());
    let regional = service(REGIONAL, &key);
    let (original, copy) = sim.runtime.block_on(async {
        (
            source.download("stemcell", &blob).await.unwrap(),
            regional.download("stemcell", &blob).await.unwrap(),
        )
    });
    assert_eq!(copy, original, "the copy is the stemcell");
    let copies = sim
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.path.contains("/images/") && r.method == "PUT" && !r.fault)
        .count();
    assert_eq!(copies, 1, "one image PUT");
}
