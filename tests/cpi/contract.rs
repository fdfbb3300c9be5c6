//! The BOSH wire contract, through the real binary (docs/protocol.md: Invocation, Request,
//! Response, Error types, Methods).

use crate::support;

use serde_json::{Value, json};
use support::{error_message, error_type, fixture, run, run_raw};

/// A configuration whose Azure endpoints are a closed loopback port with 1 s method timeouts:
/// these tests check the wire contract, never reach a network, and fail fast if they try.
fn config() -> std::path::PathBuf {
    fixture("config/offline.json")
}

fn request(method: &str, arguments: Value, api_version: Option<u64>) -> Vec<u8> {
    let mut request = json!({
        "method": method,
        "arguments": arguments,
        "context": {"director_uuid": "11111111-1111-1111-1111-111111111111", "request_id": "cpi-424242"},
    });
    if let Some(v) = api_version {
        request["api_version"] = json!(v);
    }
    request.to_string().into_bytes()
}

#[test]
fn info_answers_exactly() {
    for version in [None, Some(1), Some(2), Some(3), Some(99)] {
        let run = run(&config(), &request("info", json!([]), version), &[]);
        assert_eq!(
            run.response,
            json!({"result": {"api_version": 2, "stemcell_formats": ["azure-vhd", "azure-light"]}, "error": null, "log": ""}),
            "api_version {version:?}"
        );
    }
}

#[test]
fn malformed_requests_get_cpi_errors() {
    let cases: [(&[u8], &str); 11] = [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b"\"a string\"", "must be a JSON object"),
        (b"[]", "must be a JSON object"),
        (b"\xff\xfe", "not valid JSON"),
        (br#"{"arguments":[],"context":{"director_uuid":"d"}}"#, "no 'method'"),
        (br#"{"method":"info","context":{"director_uuid":"d"}}"#, "no 'arguments'"),
        (br#"{"method":"info","arguments":[]}"#, "no 'context'"),
        (br#"{"method":"info","arguments":[],"context":{"director_uuid":7}}"#, "director_uuid' must be a string"),
        (br#"{"method":"info","arguments":[],"context":{"director_uuid":"d"},"api_version":"2"}"#, "api_version"),
        (br#"{"method":"info","arguments":[],"context":{"director_uuid":"d"},"api_version":0}"#, "api_version"),
    ];
    for (input, expected) in cases {
        let run = run(&config(), input, &[]);
        assert_eq!(
            error_type(&run.response),
            Some("Bosh::Clouds::CpiError"),
            "{input:?}"
        );
        assert!(
            error_message(&run.response).contains(expected),
            "{input:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn unknown_and_unsupported_methods() {
    let run_method = |m: &str| run(&config(), &request(m, json!([]), Some(2)), &[]).response;
    let unknown = run_method("frobnicate");
    assert_eq!(error_type(&unknown), Some("Bosh::Clouds::NotImplemented"));
    assert_eq!(
        error_message(&unknown),
        "Method is not known, got: 'frobnicate'"
    );
    for method in ["ping", "create_network", "delete_network"] {
        assert_eq!(
            error_type(&run_method(method)),
            Some("Bosh::Clouds::NotImplemented"),
            "{method}"
        );
    }
    for method in ["configure_networks", "current_vm_id"] {
        assert_eq!(
            error_type(&run_method(method)),
            Some("Bosh::Clouds::NotSupported"),
            "{method}"
        );
    }
}

/// A valid argument list for every method, used to derive wrong-type variants.
fn valid_arguments() -> Vec<(&'static str, Value)> {
    vec![
        (
            "create_stemcell",
            json!(["/tmp/image", {"name": "bosh-azure-hyperv-ubuntu-jammy-go_agent"}]),
        ),
        (
            "delete_stemcell",
            json!(["bosh-stemcell-00000000-0000-0000-0000-000000000001"]),
        ),
        (
            "create_vm",
            json!(["agent-1", "bosh-stemcell-1", {"instance_type": "Standard_F2s_v2"}, {"default": {"type": "dynamic"}}, [], {}]),
        ),
        ("delete_vm", json!(["agent_id:a;resource_group_name:rg"])),
        ("has_vm", json!(["agent_id:a;resource_group_name:rg"])),
        ("reboot_vm", json!(["agent_id:a;resource_group_name:rg"])),
        (
            "set_vm_metadata",
            json!(["agent_id:a;resource_group_name:rg", {"job": "x"}]),
        ),
        (
            "set_disk_metadata",
            json!(["caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg", {"a": "b"}]),
        ),
        ("create_disk", json!([10240, {}, null])),
        (
            "delete_disk",
            json!(["caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg"]),
        ),
        (
            "has_disk",
            json!(["caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg"]),
        ),
        (
            "attach_disk",
            json!([
                "agent_id:a;resource_group_name:rg",
                "caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg"
            ]),
        ),
        (
            "detach_disk",
            json!([
                "agent_id:a;resource_group_name:rg",
                "caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg"
            ]),
        ),
        ("get_disks", json!(["agent_id:a;resource_group_name:rg"])),
        (
            "resize_disk",
            json!([
                "caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg",
                20480
            ]),
        ),
        (
            "update_disk",
            json!([
                "caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg",
                20480,
                {}
            ]),
        ),
        (
            "snapshot_disk",
            json!([
                "caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg",
                {}
            ]),
        ),
        (
            "delete_snapshot",
            json!(["caching:None;disk_name:bosh-disk-data-y;resource_group_name:rg"]),
        ),
        (
            "calculate_vm_cloud_properties",
            json!([{"cpu": 2, "ram": 4096, "ephemeral_disk_size": 10240}]),
        ),
    ]
}

/// A JSON value of a type the argument at that position never accepts.
fn wrong_value(valid: &Value) -> Value {
    match valid {
        Value::String(_) => json!(12),
        Value::Number(_) => json!("ten"),
        Value::Object(_) => json!(["not", "an", "object"]),
        Value::Array(_) => json!({"not": "an array"}),
        Value::Null => json!(true),
        Value::Bool(_) => json!("x"),
    }
}

#[test]
fn wrong_argument_types_name_method_and_position() {
    for (method, valid) in valid_arguments() {
        let valid = valid.as_array().unwrap();
        for position in 0..valid.len() {
            let mut args = valid.clone();
            args[position] = wrong_value(&valid[position]);
            let run = run(
                &config(),
                &request(method, Value::Array(args), Some(2)),
                &[],
            );
            assert_eq!(
                error_type(&run.response),
                Some("Bosh::Clouds::CpiError"),
                "{method}[{position}]: {}",
                run.stdout
            );
            let message = error_message(&run.response);
            assert!(
                message.contains(&format!("'{method}'")),
                "{method}: {message}"
            );
            assert!(
                message.contains(&format!("argument {}", position + 1)),
                "{method}: {message}"
            );
            assert!(message.contains("expected"), "{method}: {message}");
        }
        // Too few arguments (a trailing null is optional, as create_disk's vm_cid is).
        let mut short = valid.clone();
        while short.last().is_some_and(Value::is_null) {
            short.pop();
        }
        short.pop();
        let run = run(
            &config(),
            &request(method, Value::Array(short), Some(2)),
            &[],
        );
        assert_eq!(
            error_type(&run.response),
            Some("Bosh::Clouds::CpiError"),
            "{method}: {}",
            run.stdout
        );
        assert!(error_message(&run.response).contains(&format!("'{method}'")));
    }
}

#[test]
fn well_formed_calls_of_every_method_answer_validly_at_every_api_version() {
    for (method, args) in valid_arguments() {
        for version in [None, Some(1), Some(2), Some(3)] {
            // The contract holds whatever the action answers; `run` asserts it.
            let run = run(&config(), &request(method, args.clone(), version), &[]);
            assert_ne!(
                error_type(&run.response),
                Some("Bosh::Clouds::CpiError"),
                "{method}: {}",
                run.stdout
            );
        }
    }
}

#[test]
fn configuration_problems_are_cloud_errors() {
    let missing = std::path::Path::new("/nonexistent/cpi.json");
    let run_missing = run(missing, &request("info", json!([]), None), &[]);
    assert_eq!(
        error_type(&run_missing.response),
        Some("Bosh::Clouds::CloudError")
    );
    assert!(error_message(&run_missing.response).contains("/nonexistent/cpi.json"));

    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("not json", "not valid JSON"),
        ("{}", "Could not find cloud properties"),
        (
            r#"{"cloud":{"properties":{"azure":{"environment":"AzureCloud"}}}}"#,
            "'azure.tenant_id'",
        ),
    ];
    for (content, expected) in cases {
        let path = dir.path().join("cpi.json");
        std::fs::write(&path, content).unwrap();
        let run = run(&path, &request("has_vm", json!(["x"]), Some(2)), &[]);
        assert_eq!(
            error_type(&run.response),
            Some("Bosh::Clouds::CloudError"),
            "{content}"
        );
        assert!(
            error_message(&run.response).contains(expected),
            "{content}: {}",
            run.stdout
        );
    }
}

#[test]
fn bad_argument_lists_still_answer() {
    let input = request("info", json!([]), None);
    let no_config = support::check(run_raw(&[], &input, &[]));
    assert_eq!(
        error_type(&no_config.response),
        Some("Bosh::Clouds::CloudError")
    );
    assert!(error_message(&no_config.response).contains("Usage"));
    let path = config();
    let two = support::check(run_raw(&[&path, &path], &input, &[]));
    assert_eq!(error_type(&two.response), Some("Bosh::Clouds::CloudError"));
}

#[test]
fn log_lines_go_to_stderr_tagged_with_the_request_id() {
    let run = run(&config(), &request("info", json!([]), Some(2)), &[]);
    assert!(run.stderr.contains("[req_id cpi-424242]"), "{}", run.stderr);
    assert!(
        run.stderr.lines().all(|l| !l.contains('\u{1b}')),
        "no ANSI colours in logs"
    );
}

/// Runs the binary with `args` and no standard input: `--help` and `--version` must not wait
/// for a request.
fn run_without_stdin(args: &[&str]) -> std::process::Output {
    std::process::Command::new(support::binary())
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run azure_cpi")
}

#[test]
fn help_prints_usage_to_stdout() {
    for flag in ["--help", "-h"] {
        let output = run_without_stdin(&[flag]);
        assert!(output.status.success(), "{flag}: {:?}", output.status);
        let stdout = String::from_utf8_lossy(&output.stdout);
        for expected in [
            "Usage: azure_cpi [CONFIG]",
            "cpi.json",
            "stdin:",
            "stdout:",
            "stderr:",
            "BOSH_AZURE_CPI_LOG_LEVEL",
            "BOSH_AZURE_CPI_DATA_DIR",
        ] {
            assert!(
                stdout.contains(expected),
                "{flag}: no {expected:?} in {stdout}"
            );
        }
        assert!(!stdout.contains("send-telemetry"), "{stdout}");
    }
}

#[test]
fn version_prints_the_version_and_revision() {
    for flag in ["--version", "-V"] {
        let output = run_without_stdin(&[flag]);
        assert!(output.status.success(), "{flag}: {:?}", output.status);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let expected = format!("azure_cpi {} (revision ", env!("CARGO_PKG_VERSION"));
        assert!(stdout.starts_with(&expected), "{flag}: {stdout}");
        assert!(stdout.trim_end().ends_with(')'), "{flag}: {stdout}");
    }
}

#[test]
fn other_argument_lists_keep_the_cpi_contract() {
    let info = request("info", json!([]), None);
    for args in [vec!["--bogus"], vec!["a", "b"], vec!["-x", "cpi.json"]] {
        let paths: Vec<&std::path::Path> = args.iter().map(std::path::Path::new).collect();
        let run = support::check(run_raw(&paths, &info, &[]));
        assert_eq!(
            error_type(&run.response),
            Some("Bosh::Clouds::CloudError"),
            "{args:?}"
        );
        assert!(
            error_message(&run.response).starts_with("Usage: azure_cpi <path to cpi.json>"),
            "{args:?}: {}",
            run.stdout
        );
    }
}
