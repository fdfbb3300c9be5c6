//! The azure_cpi job templates, rendered with Ruby's ERB as BOSH renders them.
//!
//! `fixtures/release/cpi_json/` holds, for each property set, the cpi.json (or
//! the template error) of the Ruby bosh-azure-cpi release for the same
//! properties; our template must give the same document, key order included,
//! and the same error message. The rendered documents are then fed to the CPI
//! binary, so template and binary cannot drift apart.

use crate::release_support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use release_support::{Case, cpi_json_cases, describe, property, render, ruby_available, template};
use serde_json::{Value, json};

/// Every branch of the template has a case; the fixture directory must hold
/// exactly these, so a lost or stray fixture is noticed.
const CASES: &[&str] = &[
    "agent_mbus",
    "agent_mbus_without_nats",
    "agent_nats_address",
    "azure_stack_empty_resource",
    "azure_stack_keys_ignored_elsewhere",
    "azure_stack_maximal",
    "azure_stack_minimal",
    "azure_stack_without_resource",
    "compute_gallery_default_replicas",
    "compute_gallery_extensions",
    "compute_gallery_extensions_without_name",
    "compute_gallery_replicas",
    "compute_gallery_replicas_without_name",
    "credentials_source_invalid",
    "default_identity_invalid_type",
    "default_identity_not_a_hash",
    "default_identity_system_assigned",
    "default_identity_system_assigned_ignores_name",
    "default_identity_user_assigned",
    "default_identity_user_assigned_without_name",
    "default_identity_with_static_credentials",
    "endpoints_all",
    "endpoints_partial",
    "environment_china",
    "flags_and_tunables",
    "isv_tracking_guid_invalid",
    "isv_tracking_guid_valid",
    "location",
    "managed_disks_without_storage_account",
    "managed_identity",
    "managed_identity_ignores_static_keys",
    "managed_identity_resource_id",
    "nats_without_address",
    "nats_without_password",
    "proxies",
    "security_group_absent",
    "security_group_hash",
    "ssh_public_key_missing",
    "ssh_public_key_null",
    "static_certificate",
    "static_client_secret",
    "static_empty_certificate",
    "static_without_client_id",
    "static_without_secret_or_certificate",
    "static_without_tenant_id",
    "stemcell_upload_zero_gap",
    "storage_authentication",
    "unmanaged_disks_without_storage_account",
];

fn cases() -> Vec<Case> {
    let cases = cpi_json_cases();
    let found: BTreeSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    let listed: BTreeSet<&str> = CASES.iter().copied().collect();
    assert_eq!(found, listed, "fixtures/release/cpi_json/ and CASES differ");
    cases
}

fn render_cpi_json(properties: &Value) -> Result<Value, String> {
    render(&template("cpi.json.erb"), properties).map(|text| {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("cpi.json.erb rendered invalid JSON ({e}): {text}"))
    })
}

#[test]
fn cpi_json_matches_the_ruby_release_for_every_case() {
    if !ruby_available() {
        return;
    }
    let mut failures = Vec::new();
    for case in cases() {
        let rendered = render_cpi_json(&case.properties);
        // Serialising both sides compares key order too (serde_json keeps it).
        let as_text = |r: &Result<Value, String>| match r {
            Ok(doc) => format!("cpi.json {}", serde_json::to_string_pretty(doc).unwrap()),
            Err(message) => format!("error {message:?}"),
        };
        if as_text(&rendered) != as_text(&case.expected) {
            failures.push(format!(
                "case {}:\n  expected {}\n  rendered {}",
                case.name,
                as_text(&case.expected),
                as_text(&rendered)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn error_cases_cover_every_template_validation() {
    let messages: BTreeSet<String> = cases()
        .into_iter()
        .filter_map(|c| c.expected.err())
        .collect();
    for needed in [
        "The value of \"credentials_source\" is invalid. Possible values: \"static\" and \"managed_identity\".",
        "both \"client_secret\" and \"certificate\" are not provided. Please specify at least one of them.",
        "The value of \"azure.default_managed_identity.type\" is invalid. Possible values: \"SystemAssigned\" and \"UserAssigned\".",
        "storage_account_name cannot be nil if use_managed_disks is false. Please read https://bosh.io/docs/azure-cpi.html.",
        "\"ssh_public_key\" is not set. Please read https://bosh.io/docs/azure-cpi.html.",
        "\"resource\" must be set for AzureStack",
        "Invalid \"isv_tracking_guid\", length of guid must be 36.",
        // Raised by the Director's renderer for a p() without value or default.
        r#"Can't find property '["azure.tenant_id"]'"#,
        r#"Can't find property '["azure.client_id"]'"#,
        r#"Can't find property '["azure.default_managed_identity.user_assigned_identity_name"]'"#,
        r#"Can't find property '["nats.password"]'"#,
        r#"Can't find property '["agent.nats.address", "nats.address"]'"#,
        "Property 'azure.default_managed_identity.type' expects a hash, but received 'String'",
    ] {
        assert!(
            messages.contains(needed),
            "no case expects the error {needed:?}"
        );
    }
}

#[test]
fn certificate_files_hold_the_pem_properties() {
    if !ruby_available() {
        return;
    }
    let files = [
        ("service_principal_certificate.pem.erb", "azure.certificate"),
        ("azure_stack_ca_cert.pem.erb", "azure.azure_stack.ca_cert"),
    ];
    for (file, key) in files {
        let mut with_value = 0;
        for case in cases() {
            let rendered = render(&template(file), &case.properties);
            // A malformed property fails every template of the job alike.
            if let Err(message) = &case.expected
                && message.starts_with("Property '")
            {
                assert_eq!(
                    rendered.as_ref(),
                    Err(message),
                    "{file} for case {}",
                    case.name
                );
                continue;
            }
            let value = property(&case.properties, key).and_then(Value::as_str);
            with_value += usize::from(value.is_some_and(|v| !v.is_empty()));
            let expected = format!("{}\n", value.unwrap_or(""));
            assert_eq!(rendered, Ok(expected), "{file} for case {}", case.name);
        }
        assert!(with_value > 0, "no case sets {key}");
    }
}

/// A stand-in CPI binary that reports how bin/cpi called it.
const FAKE_CPI: &str = r#"#!/bin/sh
echo "argv: $*"
echo "args: $#"
for name in http_proxy HTTP_PROXY https_proxy HTTPS_PROXY no_proxy NO_PROXY; do
  eval "value=\${$name-<unset>}"
  echo "$name: $value"
done
echo "stdin: $(cat)"
"#;

struct Installed {
    dir: tempfile::TempDir,
}

impl Installed {
    fn packages(&self) -> std::path::PathBuf {
        self.dir.path().join("packages")
    }
    fn jobs(&self) -> std::path::PathBuf {
        self.dir.path().join("jobs")
    }
}

/// Lays out the job and package the way BOSH installs them: rendered templates
/// under jobs/azure_cpi, `binary` as packages/bosh_azure_cpi/bin/azure_cpi.
fn install(properties: &Value, binary: impl FnOnce(&Path)) -> Installed {
    let installed = Installed {
        dir: tempfile::tempdir().expect("temp dir"),
    };
    let job = installed.jobs().join("azure_cpi");
    for (source, destination) in [
        ("cpi.erb", "bin/cpi"),
        ("cpi.json.erb", "config/cpi.json"),
        (
            "service_principal_certificate.pem.erb",
            "config/service_principal_certificate.pem",
        ),
        (
            "azure_stack_ca_cert.pem.erb",
            "config/azure_stack_ca_cert.pem",
        ),
    ] {
        let text = render(&template(source), properties)
            .unwrap_or_else(|e| panic!("rendering {source}: {e}"));
        let path = job.join(destination);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
    }
    std::fs::set_permissions(job.join("bin/cpi"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin_dir = installed.packages().join("bosh_azure_cpi/bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    binary(&bin_dir.join("azure_cpi"));
    installed
}

fn install_fake(properties: &Value) -> Installed {
    install(properties, |path| {
        std::fs::write(path, FAKE_CPI).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    })
}

/// Runs bin/cpi as the Director does: scrubbed environment, request on stdin.
fn run_bin_cpi(bin_cpi: &Path, extra_env: &[(&str, &Path)], stdin: &str) -> std::process::Output {
    let mut command = Command::new(bin_cpi);
    command
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in extra_env {
        command.env(name, value);
    }
    let mut child = command.spawn().expect("run bin/cpi");
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        // A bin/cpi that fails at once (no binary) closes stdin first: that is its answer.
        let _ = input.write_all(stdin.as_bytes());
    }
    child.wait_with_output().unwrap()
}

fn case_properties(name: &str) -> Value {
    cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
        .properties
}

#[test]
fn bin_cpi_execs_the_binary_with_the_config_and_the_proxies() {
    if !ruby_available() {
        return;
    }
    let installed = install_fake(&case_properties("proxies"));
    let out = run_bin_cpi(
        &installed.jobs().join("azure_cpi/bin/cpi"),
        &[
            ("BOSH_PACKAGES_DIR", &installed.packages()),
            ("BOSH_JOBS_DIR", &installed.jobs()),
        ],
        "{\"method\":\"info\"}",
    );
    assert!(out.status.success(), "{}", describe(&out));
    let config = installed.jobs().join("azure_cpi/config/cpi.json");
    let expected = format!(
        "argv: {}\nargs: 1\n\
         http_proxy: http://proxy.example.com:3128\nHTTP_PROXY: http://proxy.example.com:3128\n\
         https_proxy: http://user:pa$$\"word@proxy.example.com:3128\n\
         HTTPS_PROXY: http://user:pa$$\"word@proxy.example.com:3128\n\
         no_proxy: localhost,127.0.0.1,169.254.169.254\n\
         NO_PROXY: localhost,127.0.0.1,169.254.169.254\n\
         stdin: {{\"method\":\"info\"}}\n",
        config.display()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    assert!(
        installed.jobs().join("../data/azure_cpi").is_dir(),
        "bin/cpi makes the CPI's data directory beside the jobs directory"
    );
}

#[test]
fn bin_cpi_sets_no_proxy_variables_when_none_are_configured() {
    if !ruby_available() {
        return;
    }
    let installed = install_fake(&case_properties("static_client_secret"));
    let out = run_bin_cpi(
        &installed.jobs().join("azure_cpi/bin/cpi"),
        &[
            ("BOSH_PACKAGES_DIR", &installed.packages()),
            ("BOSH_JOBS_DIR", &installed.jobs()),
        ],
        "{}",
    );
    assert!(out.status.success(), "{}", describe(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for name in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        assert!(
            stdout.contains(&format!("\n{name}: <unset>\n")),
            "{name} set:\n{stdout}"
        );
    }
}

#[test]
fn bin_cpi_defaults_to_the_var_vcap_directories() {
    if !ruby_available() {
        return;
    }
    let default_binary = Path::new("/var/vcap/packages/bosh_azure_cpi/bin/azure_cpi");
    if default_binary.exists() {
        eprintln!(
            "{} exists on this machine: not running it",
            default_binary.display()
        );
        return;
    }
    let installed = install_fake(&case_properties("static_client_secret"));
    let out = run_bin_cpi(&installed.jobs().join("azure_cpi/bin/cpi"), &[], "{}");
    assert!(!out.status.success(), "{}", describe(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("/var/vcap/packages/bosh_azure_cpi/bin/azure_cpi"),
        "{stderr}"
    );
}

fn info_request() -> &'static str {
    r#"{"method":"info","arguments":[],"context":{"director_uuid":"x"}}"#
}

fn assert_info_answer(stdout: &[u8], what: &str) {
    let answer: Value = serde_json::from_slice(stdout).unwrap_or_else(|e| {
        panic!(
            "{what}: stdout is not one JSON object ({e}): {}",
            String::from_utf8_lossy(stdout)
        )
    });
    assert_eq!(
        answer["result"],
        json!({"api_version": 2, "stemcell_formats": ["azure-vhd", "azure-light"]}),
        "{what}: {answer}"
    );
    assert_eq!(answer["error"], Value::Null, "{what}: {answer}");
    assert!(answer["log"].is_string(), "{what}: {answer}");
}

#[test]
fn every_rendered_cpi_json_is_accepted_by_the_binary() {
    if !ruby_available() {
        return;
    }
    let binary = env!("CARGO_BIN_EXE_azure_cpi");
    for case in cases() {
        let Ok(document) = &case.expected else {
            continue;
        };
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("cpi.json");
        std::fs::write(&config, serde_json::to_vec(document).unwrap()).unwrap();
        let mut child = Command::new(binary)
            .arg(&config)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run azure_cpi");
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(info_request().as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "case {}: {}",
            case.name,
            describe(&out)
        );
        assert_info_answer(&out.stdout, &format!("case {}", case.name));
    }
}

#[test]
fn bin_cpi_runs_the_binary_end_to_end() {
    if !ruby_available() {
        return;
    }
    for name in ["static_certificate", "azure_stack_maximal", "endpoints_all"] {
        let installed = install(&case_properties(name), |path| {
            std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_azure_cpi"), path).unwrap();
        });
        let out = run_bin_cpi(
            &installed.jobs().join("azure_cpi/bin/cpi"),
            &[
                ("BOSH_PACKAGES_DIR", &installed.packages()),
                ("BOSH_JOBS_DIR", &installed.jobs()),
            ],
            info_request(),
        );
        assert!(out.status.success(), "case {name}: {}", describe(&out));
        assert_info_answer(&out.stdout, &format!("bin/cpi, case {name}"));
    }
}
