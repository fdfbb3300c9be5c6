//! The `azure-sim` binary: starts quickly, prints one JSON line (also to --info-file), serves,
//! and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Kills the child if the test fails before stopping it.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
async fn binary_prints_info_serves_and_stops_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("azure-sim-bin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let info_file = dir.join("info.json");
    let scenario = dir.join("scenario.json");
    std::fs::write(&scenario, r#"{"faults": [{"method": "GET", "path": "/resourcegroups$", "nth": 1, "action": {"kind": "status", "status": 503}}]}"#).unwrap();
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_azure-sim"))
        .args(["--port", "0", "--imds-port", "0", "--state-dir"])
        .arg(&dir)
        .arg("--info-file")
        .arg(&info_file)
        .arg("--scenario")
        .arg(&scenario)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn azure-sim");
    let stdout = child.stdout.take().unwrap();
    let mut child = Running(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let elapsed = started.elapsed();
    println!("azure-sim printed its address after {elapsed:?}");
    let info: Value = serde_json::from_str(&line).expect("one JSON line");
    assert_eq!(
        std::fs::read_to_string(&info_file).unwrap().trim(),
        line.trim()
    );
    let ca = std::fs::read(info["ca_pem_path"].as_str().unwrap()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca).unwrap()])
        .build()
        .unwrap();
    let base = info["base_url"].as_str().unwrap();
    let token: Value = client
        .post(info["token_endpoint_v2"].as_str().unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", info["client_id"].as_str().unwrap()),
            ("client_secret", info["client_secret"].as_str().unwrap()),
            ("scope", "https://management.azure.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = format!(
        "{base}/subscriptions/{}/resourcegroups?api-version=2021-04-01",
        info["subscription_id"].as_str().unwrap()
    );
    let bearer = token["access_token"].as_str().unwrap();
    let first = client.get(&url).bearer_auth(bearer).send().await.unwrap();
    assert_eq!(first.status(), 503, "scenario fault applies");
    let second = client.get(&url).bearer_auth(bearer).send().await.unwrap();
    assert_eq!(second.status(), 200);
    let status = Command::new("kill")
        .args(["-TERM", &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(code) = child.0.try_wait().unwrap() {
            assert!(code.success(), "exit status {code:?}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "azure-sim did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn binary_rejects_a_bad_scenario_with_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("azure-sim-badscen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let scenario = dir.join("bad.json");
    std::fs::write(
        &scenario,
        r#"{"faults": [{"path": "x", "action": {"kind": "explode"}}]}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_azure-sim"))
        .arg("--scenario")
        .arg(&scenario)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("scenario") && err.contains("explode"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
