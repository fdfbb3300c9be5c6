//! create_stemcell through the binary against azure-sim's blob front (Azure's per-blob targets
//! and storage error answers) in front of Azurite.

use crate::support;

use std::io::Read;
use std::time::Duration;

use bosh_azure_cpi::azure::storage::StorageAccess;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions};
use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::blob_front::{
    BlobFront, BlobLimits, BusyOnce, FrontOptions, PutPageAttempt, RetryAfter,
};
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, profile_page_runs, stemcell_cloud_properties,
    write_stemcell_image,
};
use bosh_azure_sim::{SimConfig, StorageBackend};
use serde_json::json;
use support::sim::SimEnv;

const MIB: u64 = 1024 * 1024;

/// The CPI reaches Azurite's account only through the front.
struct Env {
    sim: SimEnv,
    front: BlobFront,
    azurite: Azurite,
}

fn start(options: FrontOptions) -> Option<Env> {
    let azurite = Azurite::start_for_test()?;
    let front = BlobFront::start(&azurite.blob_endpoint(), options).expect("blob front");
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: front.account_endpoint(azurite.account_name()),
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
    Some(Env {
        sim,
        front,
        azurite,
    })
}

/// Uploads a generated stemcell of `size` through the binary; returns the blob's bytes (read
/// from Azurite directly) and root.vhd.
fn upload(env: &Env, size: u64) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let spec = StemcellImageSpec::new(size, 0.25);
    write_stemcell_image(&image, &spec).unwrap();
    let cid = env.sim.ok(
        "create_stemcell",
        json!([
            image.to_str().unwrap(),
            stemcell_cloud_properties(Generation::Gen1)
        ]),
    );
    let blob = format!("{}.vhd", cid.as_str().unwrap());
    let access = StorageAccess {
        account_name: env.azurite.account_name().into(),
        blob_endpoint: env.azurite.blob_endpoint(),
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(
            env.azurite.account_key().to_string().into(),
        ),
    };
    let service = BlobService::new(&access, BlobServiceOptions::default()).unwrap();
    let downloaded = env
        .sim
        .runtime
        .block_on(service.download("stemcell", &blob))
        .unwrap();
    let mut expected = Vec::new();
    spec.root_vhd().read_to_end(&mut expected).unwrap();
    (downloaded, expected)
}

/// How long after the 503 the same range was tried again.
fn retried_after(attempts: &[PutPageAttempt]) -> Duration {
    let busy = attempts.iter().find(|a| a.busy).expect("a 503 was sent");
    let retry = attempts
        .iter()
        .find(|a| a.at > busy.at && a.blob == busy.blob && a.offset == busy.offset)
        .expect("the throttled range was tried again");
    retry.at - busy.at
}

/// `retry-after-ms` is the finer hint and wins over `Retry-After` seconds.
#[test]
fn put_page_retry_waits_for_retry_after_ms() {
    let Some(env) = start(FrontOptions {
        busy_first_put_page: Some(BusyOnce {
            retry_after: Some(RetryAfter::Seconds(20)),
            retry_after_ms: Some(300),
        }),
        ..FrontOptions::default()
    }) else {
        return;
    };
    let (downloaded, expected) = upload(&env, 4 * MIB);
    assert!(downloaded == expected, "the blob's bytes equal root.vhd");
    let waited = retried_after(&env.front.stats().attempts());
    assert!(
        waited >= Duration::from_millis(280) && waited < Duration::from_secs(3),
        "retried after {waited:?}, asked for 300 ms"
    );
}

/// `Retry-After` as an HTTP date: the wait lasts until then.
#[test]
fn put_page_retry_waits_until_a_retry_after_date() {
    let Some(env) = start(FrontOptions {
        busy_first_put_page: Some(BusyOnce {
            retry_after: Some(RetryAfter::DateIn(Duration::from_secs(3))),
            retry_after_ms: None,
        }),
        ..FrontOptions::default()
    }) else {
        return;
    };
    let (downloaded, expected) = upload(&env, 4 * MIB);
    assert!(downloaded == expected, "the blob's bytes equal root.vhd");
    let waited = retried_after(&env.front.stats().attempts());
    // The date has whole seconds: 3 s ahead is 2 to 3 s away.
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(6),
        "retried after {waited:?}, asked for a date 3 s ahead"
    );
}

/// Against a blob held to (scaled-down) Azure targets the default upload completes: the blob
/// equals root.vhd, the plan bridges zero gaps (far fewer calls than runs of non-zero pages)
/// but no call is all zeros, and throttled calls were retried after the shared pause, with no
/// try of any call inside it.
#[test]
fn default_upload_completes_against_a_throttling_blob() {
    let Some(env) = start(FrontOptions {
        limits: Some(BlobLimits {
            blob_requests_per_second: 5.0,
            page_blob_bytes_per_second: (8 * MIB) as f64,
            backlog: Duration::from_millis(100),
            ..BlobLimits::azure()
        }),
        ..FrontOptions::default()
    }) else {
        return;
    };
    let (downloaded, expected) = upload(&env, 8 * MIB);
    assert!(downloaded == expected, "the blob's bytes equal root.vhd");
    let attempts = env.front.stats().attempts();
    assert!(
        attempts.iter().all(|a| !a.all_zero),
        "an all-zero Put Page was sent"
    );
    let runs = profile_page_runs(StemcellImageSpec::new(8 * MIB, 0.25).root_vhd())
        .unwrap()
        .run_sectors
        .len();
    let calls = attempts.iter().filter(|a| !a.busy).count();
    assert!(
        calls * 4 < runs,
        "{calls} Put Page calls for {runs} runs of non-zero pages"
    );
    let busy: Vec<&PutPageAttempt> = attempts.iter().filter(|a| a.busy).collect();
    assert!(!busy.is_empty(), "the front never answered 503");
    for answered in &busy {
        assert!(
            attempts.iter().any(|a| !a.busy
                && a.at > answered.at
                && a.blob == answered.blob
                && a.offset == answered.offset),
            "a throttled range was never written"
        );
        // The pause lasts at least 250 ms (half the first backoff); tries sent before the
        // 503 was seen and a loaded machine's scheduling get 120 ms.
        let inside = attempts
            .iter()
            .filter(|a| {
                a.at > answered.at + Duration::from_millis(120)
                    && a.at < answered.at + Duration::from_millis(230)
            })
            .count();
        assert_eq!(inside, 0, "tries sent while the blob was busy");
    }
}
