//! calculate_vm_cloud_properties through the binary against azure-sim's resource SKUs.

mod support;

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
