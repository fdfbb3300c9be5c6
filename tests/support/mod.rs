//! Drives the real `azure_cpi` binary and enforces the Director's response contract.
#![allow(dead_code)]

pub mod disk;
pub mod golden;
pub mod sim;
pub mod vm_env;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const KNOWN_WIRE_TYPES: [&str; 10] = [
    "Bosh::Clouds::CloudError",
    "Bosh::Clouds::CpiError",
    "Bosh::Clouds::NotImplemented",
    "Bosh::Clouds::NotSupported",
    "Bosh::Clouds::VMNotFound",
    "Bosh::Clouds::NetworkNotFound",
    "Bosh::Clouds::NoDiskSpace",
    "Bosh::Clouds::DiskNotAttached",
    "Bosh::Clouds::DiskNotFound",
    "Bosh::Clouds::VMCreationFailed",
];

pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(relative)
}

pub struct CpiRun {
    pub response: Value,
    pub stdout: String,
    pub stderr: String,
}

/// The binary under test: this build's, or `AZURE_CPI_BIN` (to measure another build).
pub fn binary() -> PathBuf {
    std::env::var_os("AZURE_CPI_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_azure_cpi")))
}

/// Runs the binary with `args`, `input` on stdin and extra environment variables.
pub fn run_raw(args: &[&Path], input: &[u8], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(binary());
    command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env_remove("BOSH_AZURE_CPI_LOG_LEVEL");
    for (key, value) in env {
        command.env(key, value);
    }
    let mut child = command.spawn().expect("spawn azure_cpi");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(input).expect("write stdin");
    drop(stdin);
    child.wait_with_output().expect("wait for azure_cpi")
}

/// Runs one request and asserts the whole wire contract on the answer.
pub fn run(config: &Path, input: &[u8], env: &[(&str, &str)]) -> CpiRun {
    let output = run_raw(&[config], input, env);
    check(output)
}

pub fn check(output: Output) -> CpiRun {
    let stdout = String::from_utf8(output.stdout).expect("stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(0),
        "exit status; stderr: {stderr}"
    );
    let response = assert_single_response(&stdout);
    CpiRun {
        response,
        stdout,
        stderr,
    }
}

/// stdout holds exactly one JSON object with the Director's schema (docs/protocol.md, Response).
pub fn assert_single_response(stdout: &str) -> Value {
    let mut values = serde_json::Deserializer::from_str(stdout).into_iter::<Value>();
    let response = values
        .next()
        .unwrap_or_else(|| panic!("no JSON on stdout: {stdout:?}"))
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout:?}"));
    assert!(
        values.next().is_none(),
        "more than one JSON value on stdout: {stdout:?}"
    );
    let object = response.as_object().expect("response is an object");
    assert!(object.contains_key("result"), "no 'result': {stdout}");
    assert!(
        object["log"].is_string(),
        "'log' must be a string: {stdout}"
    );
    match &object["error"] {
        Value::Null => {}
        Value::Object(error) => {
            let error_type = error["type"].as_str().expect("error.type is a string");
            assert!(
                KNOWN_WIRE_TYPES.contains(&error_type),
                "unknown error type {error_type}"
            );
            assert!(
                error["message"].is_string(),
                "error.message must be a string"
            );
            assert!(
                error["ok_to_retry"].is_boolean(),
                "error.ok_to_retry must be a boolean"
            );
            assert_eq!(
                object["result"],
                Value::Null,
                "result must be null on error"
            );
        }
        other => panic!("'error' must be null or an object, got {other}"),
    }
    response
}

pub fn error_type(response: &Value) -> Option<&str> {
    response["error"]["type"].as_str()
}

pub fn error_message(response: &Value) -> &str {
    response["error"]["message"].as_str().unwrap_or_default()
}
