//! Blob traffic and its edges, through the binary: an HTTPS blob endpoint whose certificate a
//! private CA signed (trusted through `azure.endpoints.ca_cert`, refused at once without it),
//! and a blob endpoint that accepts connections and never answers (the call ends at the CPI
//! method's deadline, named with the method and the endpoint).

use crate::support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use bosh_azure_sim::azurite::{Azurite, AzuriteOptions};
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::tls::LoopbackTls;
use bosh_azure_sim::{SimConfig, StorageBackend};
use serde_json::json;
use support::sim::{LOCATION, SimEnv};
use support::{error_message, error_type};

/// The sim with `storage` as the default storage account (Shared Key allowed) and a small
/// stemcell image; `storage_ca` is `azure.endpoints.ca_cert`.
fn env_with(storage: StorageBackend, storage_ca: Option<String>) -> (SimEnv, tempfile::TempDir) {
    let account = storage.account_name.clone();
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(storage),
        storage_ca_pem: storage_ca,
        ..SimConfig::default()
    });
    sim.seed(json!({
        "id": format!("{}/providers/Microsoft.Storage/storageAccounts/{account}", sim.rg_id()),
        "location": LOCATION, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"
    }));
    let images = tempfile::tempdir().expect("tempdir");
    write_stemcell_image(
        &images.path().join("image"),
        &StemcellImageSpec::new(4 * 1024 * 1024, 0.25),
    )
    .expect("stemcell image");
    (sim, images)
}

fn stemcell_arguments(images: &tempfile::TempDir) -> serde_json::Value {
    json!([
        images.path().join("image"),
        stemcell_cloud_properties(Generation::Gen1)
    ])
}

/// Azurite over HTTPS with a certificate of a private CA: with that CA in
/// `azure.endpoints.ca_cert` the stemcell uploads; without it the call fails at once with a TLS
/// error that names the endpoint and says how to trust the CA, with no retries.
#[test]
fn an_https_blob_endpoint_of_a_private_ca_is_trusted_through_ca_cert_only() {
    if std::env::var("SKIP_AZURITE").is_ok_and(|v| v == "1") {
        return;
    }
    let tls = LoopbackTls::generate().expect("certificates");
    let azurite = Azurite::start_with(&AzuriteOptions {
        oauth: Some(tls.clone()),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let endpoint = azurite.blob_endpoint();
    assert_eq!(endpoint.scheme(), "https");
    let (sim, images) = env_with(
        StorageBackend {
            blob_endpoint: endpoint.clone(),
            account_name: azurite.account_name().into(),
            account_key: azurite.account_key().into(),
        },
        Some(tls.ca_pem.clone()),
    );
    let account = azurite.account_name().to_owned();
    let sim_ca = sim.sim.ca_pem().to_owned();

    // Without the blob endpoint's CA (only the sim's, for ARM and tokens).
    sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(account));
    });
    let started = Instant::now();
    let run = sim.call("create_stemcell", stemcell_arguments(&images));
    let took = started.elapsed();
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    let message = error_message(&run.response);
    eprintln!("{message}\nanswered in {took:?}");
    let host = format!("127.0.0.1:{}", azurite.port());
    for part in [
        "CPI method create_stemcell",
        &format!("blob storage at {host}"),
        "TLS certificate that is not trusted",
        "azure.endpoints.ca_cert",
    ] {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
    assert!(!message.contains("network problem"), "{message}");
    assert!(took < Duration::from_secs(5), "took {took:?}");

    // With it.
    sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(account));
        azure["endpoints"]["ca_cert"] = json!(format!("{sim_ca}\n{}", tls.ca_pem));
    });
    let stemcell = sim.ok("create_stemcell", stemcell_arguments(&images));
    assert!(
        stemcell
            .as_str()
            .is_some_and(|cid| cid.starts_with("bosh-stemcell-")),
        "{stemcell}"
    );
}

/// A blob endpoint that accepts connections and never answers: create_stemcell ends at its
/// deadline (`azure.method_timeouts.create_stemcell`), not after minutes of request timeouts
/// and retries, with a message naming the deadline, the method and the endpoint.
#[test]
fn a_blob_endpoint_that_never_answers_ends_at_the_method_deadline() {
    const TIMEOUT_SECS: u64 = 8;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let (sim, images) = env_with(
        StorageBackend {
            blob_endpoint: format!("http://{addr}/devstoreaccount1").parse().unwrap(),
            account_name: "devstoreaccount1".into(),
            account_key: "c2VjcmV0LWFjY291bnQta2V5LXZhbHVl".into(),
        },
        None,
    );
    sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!("devstoreaccount1"));
        azure.insert(
            "method_timeouts".into(),
            json!({"create_stemcell": TIMEOUT_SECS}),
        );
    });
    let started = Instant::now();
    let run = sim.call("create_stemcell", stemcell_arguments(&images));
    let took = started.elapsed();
    assert_eq!(
        error_type(&run.response),
        Some("Bosh::Clouds::CloudError"),
        "{}",
        run.stdout
    );
    let message = error_message(&run.response);
    eprintln!("{message}\nanswered in {took:?} (deadline {TIMEOUT_SECS} s)");
    for part in [
        "CPI method create_stemcell",
        &format!("blob storage at {addr}"),
        &format!("deadline of CPI method create_stemcell ({TIMEOUT_SECS} s"),
        "azure.method_timeouts.create_stemcell",
    ] {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
    let deadline = Duration::from_secs(TIMEOUT_SECS);
    assert!(
        took >= deadline - Duration::from_millis(500) && took < deadline + Duration::from_secs(4),
        "took {took:?} for a deadline of {deadline:?}"
    );
}
