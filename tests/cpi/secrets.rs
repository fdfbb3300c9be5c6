//! No secret from cpi.json, the certificate file or the `env` argument ever reaches stdout or
//! stderr, at any log level.

use crate::support;

use bosh_azure_sim::SimConfig;
use serde_json::{Value, json};
use support::run;
use support::sim::SimEnv;

const CLIENT_SECRET: &str = "fixture-client-secret-value-7f3a";
const CERT_MARKER: &str = "MIIfixtureCertificateBodyMarker0b9e";
const ENV_SECRET: &str = "env-password-marker-5d21";
const NATS_PASSWORD: &str = "nats-password";

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
    let env = SimEnv::start_with(SimConfig {
        client_secret: CLIENT_SECRET.into(),
        ..SimConfig::default()
    });
    let jobs = tempfile::tempdir().unwrap();
    let config_dir = jobs.path().join("azure_cpi/config");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("service_principal_certificate.pem"),
        format!("-----BEGIN CERTIFICATE-----\n{CERT_MARKER}\n-----END CERTIFICATE-----\n"),
    )
    .unwrap();
    let jobs_dir = jobs.path().to_str().unwrap();

    // The secret credential, then the same in debug mode, then the certificate credential.
    let variants: [fn(&mut serde_json::Map<String, Value>); 3] = [
        |_| {},
        |azure| drop(azure.insert("debug_mode".into(), json!(true))),
        |azure| {
            azure.remove("client_secret");
            azure.insert("debug_mode".into(), json!(true));
        },
    ];
    for variant in variants {
        env.write_config(variant);
        for level in ["info", "debug", "trace"] {
            for (method, arguments) in calls() {
                let request = json!({"method": method, "arguments": arguments,
                    "context": {"director_uuid": "d", "request_id": "cpi-000001"}, "api_version": 2});
                let run = run(
                    &env.config_path,
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
