//! `enable_telemetry` through the binary: each call's event reaches azure-sim's wire server
//! endpoint (`azure.endpoints.wire_server`) through the detached sender, and nothing is
//! spooled or sent when telemetry is off.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::sim::SimEnv;

const VM_CID: &str = "agent_id:vm-0c5a1a5e;resource_group_name:rg";

fn call(env: &SimEnv, data_dir: &Path, method: &str, arguments: Value) -> Value {
    let request = json!({
        "method": method,
        "arguments": arguments,
        "context": {"director_uuid": "11111111-1111-1111-1111-111111111111", "request_id": "cpi-1"},
        "api_version": 2,
    });
    let data_dir = data_dir.to_str().unwrap();
    support::run(
        &env.config_path,
        request.to_string().as_bytes(),
        &[
            ("BOSH_AZURE_CPI_DATA_DIR", data_dir),
            ("BOSH_AZURE_CPI_TELEMETRY_COOLDOWN_SECS", "1"),
        ],
    )
    .response
}

fn with_telemetry(env: &SimEnv, enabled: bool, wire_server: &str) {
    env.write_config(|azure| {
        azure.insert("enable_telemetry".into(), json!(enabled));
        azure["endpoints"]
            .as_object_mut()
            .unwrap()
            .insert("wire_server".into(), json!(wire_server));
    });
}

/// Waits until the posts hold `events` events in all.
fn wait_for_events(env: &SimEnv, events: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let posts = env.sim.telemetry_posts();
        let seen: usize = posts.iter().map(|p| p.matches("<Event id=").count()).sum();
        if seen >= events || Instant::now() > deadline {
            assert_eq!(seen, events, "events posted: {posts:#?}");
            return posts;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn each_call_reports_an_event_to_the_wire_server() {
    let env = SimEnv::start();
    with_telemetry(&env, true, env.sim.imds_url());
    let data_dir = tempfile::tempdir().unwrap();

    let has_vm = call(&env, data_dir.path(), "has_vm", json!([VM_CID]));
    assert_eq!(has_vm["result"], json!(false));
    let get_disks = call(&env, data_dir.path(), "get_disks", json!([VM_CID]));
    assert_eq!(get_disks["error"]["type"], "Bosh::Clouds::VMNotFound");
    // Not reported, as in the Ruby CPI.
    call(
        &env,
        data_dir.path(),
        "set_disk_metadata",
        json!(["disk", {}]),
    );

    let posts = wait_for_events(&env, 2);
    let all = posts.concat();
    for expected in [
        "<Provider id=\"69B669B9-4AF8-4C50-BDC4-6006FA76E975\"><Event id=\"1\"><![CDATA[",
        "<Param Name=\"Name\" Value=\"BOSH-CPI\" T=\"mt:wstr\" />",
        "<Param Name=\"Operation\" Value=\"has_vm?\" T=\"mt:wstr\" />",
        "<Param Name=\"Operation\" Value=\"get_disks\" T=\"mt:wstr\" />",
        &format!("<Param Name=\"ContainerId\" Value=\"{VM_CID}\" T=\"mt:wstr\" />"),
        "<Param Name=\"OperationSuccess\" Value=\"true\" T=\"mt:bool\" />",
        "<Param Name=\"OperationSuccess\" Value=\"false\" T=\"mt:bool\" />",
        "&quot;msg&quot;:&quot;Successed&quot;",
        "&quot;msg&quot;:&quot;Bosh::Clouds::VMNotFound: ",
        &format!(
            "&quot;subscription_id&quot;:&quot;{}&quot;",
            env.subscription_id()
        ),
        "T=\"mt:float64\" />",
    ] {
        assert!(all.contains(expected), "{expected} missing from {all}");
    }
    assert!(!all.contains("set_disk_metadata"));

    // Sent events leave the spool; the sender logged its posts.
    let spool = data_dir.path().join("telemetry");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&spool)
        .unwrap()
        .filter_map(Result::ok)
        .any(|e| e.file_name().to_string_lossy().ends_with(".tld"))
    {
        assert!(
            Instant::now() < deadline,
            "events left in {}",
            spool.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(spool.join("sender.log")).unwrap();
    // One post, or two when the second event was spooled before the first was read.
    assert!(
        log.contains(" event(s)") && log.contains("posted "),
        "{log}"
    );
}

#[test]
fn nothing_is_spooled_or_sent_when_telemetry_is_off() {
    let env = SimEnv::start();
    with_telemetry(&env, false, env.sim.imds_url());
    let data_dir = tempfile::tempdir().unwrap();
    let has_vm = call(&env, data_dir.path(), "has_vm", json!([VM_CID]));
    assert_eq!(has_vm["result"], json!(false));
    assert!(!data_dir.path().join("telemetry").exists());
    std::thread::sleep(Duration::from_millis(300));
    assert!(env.sim.telemetry_posts().is_empty());
}

#[test]
fn an_unreachable_wire_server_drops_events_without_failing_calls() {
    let env = SimEnv::start();
    // A port nothing listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    with_telemetry(&env, true, &url);
    let data_dir = tempfile::tempdir().unwrap();
    let has_vm = call(&env, data_dir.path(), "has_vm", json!([VM_CID]));
    assert_eq!(has_vm["result"], json!(false));
    // The sender retries once after 5 s, then gives up and says so in its log.
    let log_path = data_dir.path().join("telemetry/sender.log");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.contains("dropped 1 event(s)") {
            break;
        }
        assert!(Instant::now() < deadline, "no drop logged: {log}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
