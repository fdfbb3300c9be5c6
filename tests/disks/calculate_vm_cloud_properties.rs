//! calculate_vm_cloud_properties through the binary against azure-sim's resource SKUs.

use crate::support;

use serde_json::json;
use support::sim::SimEnv;
use support::{error_message, error_type};

#[test]
fn sizes_meeting_the_request_best_first_and_the_disk_rounded_up() {
    let env = SimEnv::start();
    let result = env.ok(
        "calculate_vm_cloud_properties",
        json!([{"cpu": 2, "ram": 4096, "ephemeral_disk_size": 10000}]),
    );
    let types = result["instance_types"].as_array().expect("instance_types");
    assert!(!types.is_empty(), "{result}");
    assert!(
        types
            .iter()
            .all(|t| t.as_str().is_some_and(|t| t.starts_with("Standard_"))),
        "{result}"
    );
    assert_eq!(result["ephemeral_disk"], json!({"size": 10240}));
}

#[test]
fn impossible_sizes_and_a_missing_location_are_cloud_errors() {
    let env = SimEnv::start();
    let run = env.call(
        "calculate_vm_cloud_properties",
        json!([{"cpu": 3200, "ram": 102400, "ephemeral_disk_size": 1024}]),
    );
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert!(
        error_message(&run.response).contains("Unable to meet desired instance size"),
        "{}",
        run.stdout
    );

    let missing = env.call(
        "calculate_vm_cloud_properties",
        json!([{"cpu": 1, "ram": 1024}]),
    );
    assert_eq!(
        error_type(&missing.response),
        Some("Bosh::Clouds::CloudError")
    );
    assert!(
        error_message(&missing.response).contains("Missing VM cloud properties"),
        "{}",
        missing.stdout
    );

    env.write_config(|azure| drop(azure.remove("location")));
    let run = env.call(
        "calculate_vm_cloud_properties",
        json!([{"cpu": 2, "ram": 4096, "ephemeral_disk_size": 10000}]),
    );
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    assert_eq!(
        error_message(&run.response),
        "Missing the property 'location' in the global configuration"
    );
}

/// The SKU list is read from Azure once a day when the CPI has a data directory.
#[test]
fn resource_skus_are_cached_for_a_day_in_the_data_directory() {
    let env = SimEnv::start();
    let data_dir = tempfile::tempdir().unwrap();
    let dir = data_dir.path().to_str().unwrap().to_owned();
    let request = json!({
        "method": "calculate_vm_cloud_properties",
        "arguments": [{"cpu": 2, "ram": 4096, "ephemeral_disk_size": 10000}],
        "context": {"director_uuid": "11111111-1111-1111-1111-111111111111"},
        "api_version": 2,
    })
    .to_string();
    let sku_requests = || {
        env.sim
            .request_log()
            .iter()
            .filter(|r| r.path.ends_with("/providers/Microsoft.Compute/skus"))
            .count()
    };
    let run = || {
        let run = support::run(
            &env.config_path,
            request.as_bytes(),
            &[("BOSH_AZURE_CPI_DATA_DIR", &dir)],
        );
        assert_eq!(run.response["error"], json!(null), "{}", run.stdout);
        run.response["result"].clone()
    };

    let first = run();
    let fetched = sku_requests();
    assert!(fetched >= 1);
    let cache_files: Vec<_> = std::fs::read_dir(data_dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cache_files.len(), 1, "{cache_files:?}");
    assert_eq!(run(), first, "the cached list gives the same answer");
    assert_eq!(
        sku_requests(),
        fetched,
        "no SKU request while the cache is fresh"
    );

    // A day-old cache is read from Azure again.
    let mut cache: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&cache_files[0]).unwrap()).unwrap();
    cache["fetched_at"] = json!(cache["fetched_at"].as_u64().unwrap() - 24 * 60 * 60);
    std::fs::write(&cache_files[0], cache.to_string()).unwrap();
    assert_eq!(run(), first);
    assert_eq!(sku_requests(), 2 * fetched);

    // A broken cache file is no cache, not an error.
    std::fs::write(&cache_files[0], b"{not json").unwrap();
    assert_eq!(run(), first);
    assert_eq!(sku_requests(), 3 * fetched);
}
