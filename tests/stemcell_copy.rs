//! Copying a stemcell blob between storage accounts against Azurite with two accounts: the
//! read-only SAS the source URL carries (Azurite checks it with a HEAD on the source, as Azure
//! does across accounts), the server-side copy and the wait for it.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use bosh_azure_cpi::azure::deadline::Deadline;
use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions, CopyPolling};
use bosh_azure_sim::azurite::Azurite;

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
                account_key: key.to_owned().into(),
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
            .upload_pages(
                "stemcell",
                STEMCELL,
                512,
                bytes::Bytes::from(vec![9u8; 1024]),
            )
            .await
            .unwrap();
    });
    Some(env)
}

fn fast() -> CopyPolling {
    CopyPolling {
        first: Duration::from_millis(20),
        max: Duration::from_millis(200),
    }
}

#[test]
fn a_sas_url_copies_the_stemcell_into_another_account_with_its_metadata() {
    let Some(env) = start() else { return };
    let source = env
        .source
        .read_sas_url("stemcell", STEMCELL, Duration::from_secs(3600))
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
        .source
        .read_sas_url("stemcell", STEMCELL, Duration::from_secs(3600))
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
