//! No secret from cpi.json, the certificate file or the `env` argument ever reaches stdout or
//! stderr, at any log level.

mod support;

use serde_json::{Value, json};
use support::{fixture, run};

const CLIENT_SECRET: &str = "fixture-client-secret-value-7f3a";
const CERT_MARKER: &str = "MIIfixtureCertificateBodyMarker0b9e";
const ENV_SECRET: &str = "env-password-marker-5d21";
const NATS_PASSWORD: &str = "fixture-nats-password-9c1d";

fn calls() -> Vec<(&'static str, Value)> {
    let env = json!({"bosh": {"password": ENV_SECRET, "group": "g", "mbus": {"cert": {"private_key": ENV_SECRET}}}});
    vec![
        ("info", json!([])),
        (
            "create_stemcell",
            json!(["/nonexistent/image", {"name": "s", "version": "1"}]),
        ),
        ("delete_stemcell", json!(["bosh-stemcell-x"])),
        (
            "create_vm",
            json!(["agent", "bosh-stemcell-x", {"instance_type": "Standard_F2"}, {"n": {"type": "dynamic", "cloud_properties": {"virtual_network_name": "v", "subnet_name": "s"}}}, [], env]),
        ),
        ("delete_vm", json!(["agent_id:a;resource_group_name:rg"])),
        ("has_vm", json!(["agent_id:a;resource_group_name:rg"])),
        (
            "set_vm_metadata",
            json!(["agent_id:a;resource_group_name:rg", {"k": "v"}]),
        ),
        ("create_disk", json!([10240, {}, null])),
        (
            "attach_disk",
            json!([
                "agent_id:a;resource_group_name:rg",
                "caching:None;disk_name:bosh-disk-data-x;resource_group_name:rg"
            ]),
        ),
        (
            "calculate_vm_cloud_properties",
            json!([{"cpu": 1, "ram": 1024, "ephemeral_disk_size": 1024}]),
        ),
        ("frobnicate", json!([ENV_SECRET])),
    ]
}

#[test]
fn secrets_never_reach_stdout_or_stderr() {
    let jobs = tempfile::tempdir().unwrap();
    let config_dir = jobs.path().join("azure_cpi/config");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("service_principal_certificate.pem"),
        format!("-----BEGIN CERTIFICATE-----\n{CERT_MARKER}\n-----END CERTIFICATE-----\n"),
    )
    .unwrap();

    let mut config: Value =
        serde_json::from_slice(&std::fs::read(fixture("config/static-secret.json")).unwrap())
            .unwrap();
    config["cloud"]["properties"]["azure"]["debug_mode"] = json!(true);
    let debug_config = jobs.path().join("cpi-debug.json");
    std::fs::write(&debug_config, config.to_string()).unwrap();
    // The certificate variant: no client_secret, so the certificate file is the credential.
    config["cloud"]["properties"]["azure"]
        .as_object_mut()
        .unwrap()
        .remove("client_secret");
    let cert_config = jobs.path().join("cpi-cert.json");
    std::fs::write(&cert_config, config.to_string()).unwrap();

    let jobs_dir = jobs.path().to_str().unwrap();
    for config_path in [
        fixture("config/static-secret.json"),
        debug_config,
        cert_config,
    ] {
        for level in ["info", "debug", "trace"] {
            for (method, arguments) in calls() {
                let request = json!({"method": method, "arguments": arguments,
                    "context": {"director_uuid": "d", "request_id": "cpi-000001"}, "api_version": 2});
                let run = run(
                    &config_path,
                    request.to_string().as_bytes(),
                    &[
                        ("BOSH_AZURE_CPI_LOG_LEVEL", level),
                        ("BOSH_JOBS_DIR", jobs_dir),
                    ],
                );
                for secret in [CLIENT_SECRET, CERT_MARKER, ENV_SECRET, NATS_PASSWORD] {
                    assert!(
                        !run.stdout.contains(secret),
                        "{method} at {level}: stdout leaks {secret}: {}",
                        run.stdout
                    );
                    assert!(
                        !run.stderr.contains(secret),
                        "{method} at {level}: stderr leaks {secret}: {}",
                        run.stderr
                    );
                }
            }
        }
    }
}
