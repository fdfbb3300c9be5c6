//! Shape of the BOSH release: the job and package specs name files that exist,
//! the package globs match the workspace, the job keeps every property of the
//! Ruby release, and the ops file swaps nothing but the release.

use crate::release_support;

use std::collections::BTreeMap;
use std::path::Path;

use release_support::{expand_globs, repo_root, ruby_available, yaml_file};
use serde_json::{Value, json};

#[test]
fn job_spec_keeps_the_ruby_job_identity() {
    if !ruby_available() {
        return;
    }
    let job_dir = repo_root().join("jobs/azure_cpi");
    let spec = yaml_file(&job_dir.join("spec"));
    assert_eq!(spec["name"], "azure_cpi");
    // The Director execs bin/cpi and the CPI reads these config paths.
    assert_eq!(
        spec["templates"],
        json!({
            "cpi.erb": "bin/cpi",
            "cpi.json.erb": "config/cpi.json",
            "azure_stack_ca_cert.pem.erb": "config/azure_stack_ca_cert.pem",
            "service_principal_certificate.pem.erb": "config/service_principal_certificate.pem",
        })
    );
    for source in spec["templates"].as_object().unwrap().keys() {
        assert!(
            job_dir.join("templates").join(source).is_file(),
            "template {source} is missing"
        );
    }
    let packages = spec["packages"].as_array().expect("packages list");
    assert_eq!(packages, &vec![json!("bosh_azure_cpi")]);
    for package in packages {
        assert_package_exists(package.as_str().unwrap());
    }
    let monit = std::fs::read_to_string(job_dir.join("monit")).expect("jobs/azure_cpi/monit");
    assert!(
        monit.trim().is_empty(),
        "a CPI job runs no process: monit must be empty"
    );
}

fn assert_package_exists(name: &str) {
    let dir = repo_root().join("packages").join(name);
    assert!(
        dir.join("spec").is_file() || dir.join("spec.lock").is_file(),
        "package {name} has neither spec nor spec.lock"
    );
}

#[test]
fn job_spec_declares_every_ruby_property_with_its_default() {
    if !ruby_available() {
        return;
    }
    let ours = yaml_file(&repo_root().join("jobs/azure_cpi/spec"))["properties"].clone();
    let ruby: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("fixtures/release/ruby_job_properties.json")).unwrap(),
    )
    .unwrap();
    let ruby = ruby["properties"].as_object().unwrap();
    assert!(ruby.len() > 40, "the Ruby property list looks truncated");
    for (name, declaration) in ruby {
        let Some(our_declaration) = ours.get(name) else {
            panic!("property {name} of the Ruby release is not declared");
        };
        // `default: null` and no default mean the same to BOSH.
        let default_of = |d: &Value| d.get("default").cloned().unwrap_or(Value::Null);
        assert_eq!(
            default_of(our_declaration),
            default_of(declaration),
            "default of {name}"
        );
        assert!(
            our_declaration["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "property {name} has no description"
        );
    }
}

/// Properties of ours that the Ruby job does not have. A property renamed by mistake shows up
/// here as one unknown name and one missing Ruby name.
const EXTENSION_PROPERTIES: [&str; 12] = [
    "azure.compute_gallery_replication_mode",
    "azure.compute_gallery_storage_account_type",
    "azure.compute_gallery_target_regions",
    "azure.compute_gallery_security_type",
    "azure.stemcell_upload_max_zero_gap_bytes",
    "azure.storage_authentication",
    "azure.endpoints.resource_manager",
    "azure.endpoints.active_directory",
    "azure.endpoints.token_audience",
    "azure.endpoints.managed_identity",
    "azure.endpoints.wire_server",
    "azure.endpoints.ca_cert",
];

#[test]
fn job_spec_adds_only_known_extension_properties() {
    if !ruby_available() {
        return;
    }
    let ours = yaml_file(&repo_root().join("jobs/azure_cpi/spec"))["properties"].clone();
    let ruby: Value = serde_json::from_slice(
        &std::fs::read(repo_root().join("fixtures/release/ruby_job_properties.json")).unwrap(),
    )
    .unwrap();
    for name in ours.as_object().expect("properties").keys() {
        assert!(
            ruby["properties"].get(name).is_some() || EXTENSION_PROPERTIES.contains(&name.as_str()),
            "property {name} is neither the Ruby job's nor a known extension"
        );
    }
}

#[test]
fn bosh_azure_cpi_compiles_with_the_rust_toolchain_package() {
    if !ruby_available() {
        return;
    }
    let spec = yaml_file(&repo_root().join("packages/bosh_azure_cpi/spec"));
    assert_eq!(spec["dependencies"], json!(["rust-1-linux"]));
    let packaging =
        std::fs::read_to_string(repo_root().join("packages/bosh_azure_cpi/packaging")).unwrap();
    assert!(
        packaging.contains("/rust-1-linux/bosh/compile.env"),
        "packaging does not load the toolchain of its dependency"
    );
}

#[test]
fn package_specs_name_existing_packages_and_files() {
    if !ruby_available() {
        return;
    }
    let packages_dir = repo_root().join("packages");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&packages_dir).unwrap() {
        let dir = entry.unwrap().path();
        assert!(dir.is_dir(), "{} is not a package directory", dir.display());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        names.push(name.clone());
        if dir.join("spec.lock").is_file() {
            // Vendored with `bosh vendor-package`: only the lock is kept in git.
            let lock = yaml_file(&dir.join("spec.lock"));
            assert_eq!(lock["name"], name.as_str());
            let fingerprint = lock["fingerprint"].as_str().unwrap_or_default();
            assert!(
                fingerprint.len() == 64 && fingerprint.bytes().all(|b| b.is_ascii_hexdigit()),
                "{name}: fingerprint {fingerprint:?}"
            );
            continue;
        }
        let spec = yaml_file(&dir.join("spec"));
        assert_eq!(spec["name"], name.as_str());
        for dependency in spec["dependencies"].as_array().into_iter().flatten() {
            assert_package_exists(dependency.as_str().unwrap());
        }
        let packaging = std::fs::read_to_string(dir.join("packaging")).expect("packaging script");
        assert!(
            packaging.starts_with("#!"),
            "{name}/packaging has no shebang"
        );
    }
    names.sort();
    assert_eq!(names, ["bosh_azure_cpi", "rust-1-linux"]);
}

/// The package globs are relative to the release's src/, where
/// scripts/vendor-release stages the workspace as src/bosh_azure_cpi/. Apart
/// from what that script generates, each glob must match workspace files.
#[test]
fn bosh_azure_cpi_globs_match_the_workspace() {
    if !ruby_available() {
        return;
    }
    let spec = yaml_file(&repo_root().join("packages/bosh_azure_cpi/spec"));
    assert_eq!(spec["dependencies"], json!(["rust-1-linux"]));
    let globs: Vec<String> = spec["files"]
        .as_array()
        .expect("files list")
        .iter()
        .map(|g| g.as_str().unwrap().to_owned())
        .collect();
    let generated = [".cargo/config.toml", "vendor/**/*"];
    let mut workspace_globs = Vec::new();
    for glob in &globs {
        let relative = glob
            .strip_prefix("bosh_azure_cpi/")
            .unwrap_or_else(|| panic!("glob {glob} is outside bosh_azure_cpi/"));
        if !generated.contains(&relative) {
            workspace_globs.push(relative.to_owned());
        }
    }
    for needed in generated {
        assert!(
            globs
                .iter()
                .any(|g| g == &format!("bosh_azure_cpi/{needed}")),
            "no glob packs the generated {needed}"
        );
    }
    let matches = expand_globs(repo_root(), &workspace_globs);
    for (glob, files) in workspace_globs.iter().zip(&matches) {
        assert!(
            !files.is_empty(),
            "glob bosh_azure_cpi/{glob} matches no file"
        );
    }
    // The binary's sources and the workspace manifests must all be packed.
    let packed: Vec<&String> = matches.iter().flatten().collect();
    for needed in [
        "Cargo.toml",
        "Cargo.lock",
        "build.rs",
        "src/main.rs",
        "sim/Cargo.toml",
    ] {
        assert!(
            packed.iter().any(|f| *f == needed),
            "{needed} is not packed"
        );
    }
}

#[test]
fn packaging_builds_offline_with_the_vendored_toolchain() {
    let packaging =
        std::fs::read_to_string(repo_root().join("packages/bosh_azure_cpi/packaging")).unwrap();
    for needed in [
        "${BOSH_PACKAGES_DIR:-/var/vcap/packages}/rust-1-linux/bosh/compile.env",
        "--offline --locked",
        "CARGO_HOME=\"$(mktemp -d /tmp/",
        "${BOSH_INSTALL_TARGET}/bin/azure_cpi",
    ] {
        assert!(packaging.contains(needed), "packaging lacks {needed:?}");
    }
}

#[test]
fn release_config_names_the_release_bosh_azure_cpi() {
    if !ruby_available() {
        return;
    }
    let final_yml = yaml_file(&repo_root().join("config/final.yml"));
    assert_eq!(final_yml["name"], "bosh-azure-cpi");
    assert!(final_yml["blobstore"]["provider"].is_string());
    assert_eq!(
        yaml_file(&repo_root().join("config/blobs.yml")),
        json!({}),
        "the release has no blobs: everything is compiled from src/"
    );
}

#[test]
fn ops_file_only_replaces_the_release() {
    if !ruby_available() {
        return;
    }
    let dir = repo_root().join("manifests");
    let mut ops_files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        ops_files += 1;
        check_ops_file(&path);
    }
    assert!(ops_files > 0, "no ops file under manifests/");
}

fn check_ops_file(path: &Path) {
    let ops = yaml_file(path);
    let ops = ops
        .as_array()
        .unwrap_or_else(|| panic!("{}: not a list of operations", path.display()));
    assert!(!ops.is_empty(), "{}: no operation", path.display());
    for op in ops {
        let keys: BTreeMap<&str, &Value> = op
            .as_object()
            .unwrap_or_else(|| panic!("{}: operation {op} is not a hash", path.display()))
            .iter()
            .map(|(k, v)| (k.as_str(), v))
            .collect();
        assert_eq!(op["type"], "replace", "{}: {op}", path.display());
        assert_eq!(
            op["path"],
            "/releases/name=bosh-azure-cpi",
            "{}: {op}",
            path.display()
        );
        assert!(
            keys.keys().all(|k| ["type", "path", "value"].contains(k)),
            "{}: {op}",
            path.display()
        );
        let value = op["value"].as_object().expect("release entry");
        assert_eq!(op["value"]["name"], "bosh-azure-cpi");
        let mut fields: Vec<&str> = value.keys().map(String::as_str).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            ["name", "sha1", "url", "version"],
            "{}",
            path.display()
        );
    }
}
