//! Shared helpers of the `release_*` tests: they render the BOSH job templates
//! with Ruby's ERB through `scripts/render-template`, as a Director would.

#![allow(dead_code)] // each test crate uses a different subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn job_spec() -> PathBuf {
    repo_root().join("jobs/azure_cpi/spec")
}

pub fn template(name: &str) -> PathBuf {
    repo_root().join("jobs/azure_cpi/templates").join(name)
}

/// True when `ruby` can run. Without it the tests fail, since CI must run them,
/// unless `SKIP_RUBY=1` says the caller knowingly skips them.
pub fn ruby_available() -> bool {
    let works = Command::new("ruby")
        .args(["-e", "require 'erb'; require 'json'; require 'yaml'"])
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    if works {
        return true;
    }
    if std::env::var("SKIP_RUBY").as_deref() == Ok("1") {
        eprintln!("SKIP_RUBY=1: skipping a BOSH release test that needs ruby");
        return false;
    }
    panic!(
        "the BOSH release tests render job templates with Ruby's ERB, but `ruby` \
         (with erb, json and yaml) is not runnable. Install it (Debian/Ubuntu: \
         `apt-get install -y ruby`) or set SKIP_RUBY=1 to skip these tests."
    );
}

/// Outcome of rendering one template: the text, or the template's error message.
pub type Rendered = Result<String, String>;

/// Renders `template_path` of the azure_cpi job for the given job properties,
/// in strict mode (reading an undeclared property is an error).
pub fn render(template_path: &Path, properties: &Value) -> Rendered {
    let dir = tempfile::tempdir().expect("temp dir");
    let props_path = dir.path().join("properties.json");
    std::fs::write(&props_path, serde_json::to_vec(properties).expect("json")).expect("write");
    let out = Command::new("ruby")
        .arg(repo_root().join("scripts/render-template"))
        .arg(job_spec())
        .arg(template_path)
        .arg(&props_path)
        .env("RENDER_TEMPLATE_STRICT", "1")
        .output()
        .expect("run ruby scripts/render-template");
    match out.status.code() {
        Some(0) => Ok(String::from_utf8(out.stdout).expect("utf-8 template output")),
        Some(1) => Err(String::from_utf8_lossy(&out.stderr).trim_end().to_owned()),
        _ => panic!("render-template failed to run: {}", describe(&out)),
    }
}

/// Reads a YAML file into JSON with Ruby's YAML (the parser BOSH's tooling
/// family uses), so no YAML crate is needed for a handful of small files.
pub fn yaml_file(path: &Path) -> Value {
    let out = Command::new("ruby")
        .args([
            "-ryaml",
            "-rjson",
            "-e",
            "puts JSON.dump(YAML.safe_load(File.read(ARGV[0])))",
        ])
        .arg(path)
        .output()
        .expect("run ruby");
    assert!(
        out.status.success(),
        "{} is not valid YAML: {}",
        path.display(),
        describe(&out)
    );
    serde_json::from_slice(&out.stdout).expect("ruby printed JSON")
}

/// Expands BOSH `files:` globs relative to `base` with Go's rules as bosh-cli
/// applies them (`**` crosses directories, `*` matches dot files), using Ruby's
/// Dir.glob with FNM_DOTMATCH. Returns the regular files matched by each glob.
pub fn expand_globs(base: &Path, globs: &[String]) -> Vec<Vec<String>> {
    let out = Command::new("ruby")
        .args([
            "-rjson",
            "-e",
            "Dir.chdir(ARGV.shift); puts JSON.dump(ARGV.map { |g| \
             Dir.glob(g, File::FNM_DOTMATCH).select { |f| File.file?(f) }.sort })",
        ])
        .arg(base)
        .args(globs)
        .output()
        .expect("run ruby");
    assert!(out.status.success(), "glob expansion: {}", describe(&out));
    serde_json::from_slice(&out.stdout).expect("ruby printed JSON")
}

pub fn describe(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One case of `fixtures/release/cpi_json/`: job properties and what the
/// cpi.json template must give for them (a document or an error message).
pub struct Case {
    pub name: String,
    pub properties: Value,
    pub expected: Result<Value, String>,
}

pub fn cpi_json_cases() -> Vec<Case> {
    let dir = repo_root().join("fixtures/release/cpi_json");
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("dir entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let doc: Value = serde_json::from_slice(&std::fs::read(&path).expect("read fixture"))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let expected = match (doc.get("cpi_json"), doc.get("error")) {
                (Some(json), None) => Ok(json.clone()),
                (None, Some(Value::String(message))) => Err(message.clone()),
                _ => panic!("{}: needs exactly one of cpi_json or error", path.display()),
            };
            Case {
                name,
                properties: doc["properties"].clone(),
                expected,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// The property at a dotted path, if set and not null.
pub fn property<'a>(properties: &'a Value, dotted: &str) -> Option<&'a Value> {
    dotted
        .split('.')
        .try_fold(properties, |node, key| node.get(key))
        .filter(|value| !value.is_null())
}
