//! Fault and latency injection, and the request log.

use std::time::{Duration, Instant};

use crate::common::*;
use bosh_azure_sim::{Fault, FaultAction, Scenario, SimConfig};
use reqwest::StatusCode;
use serde_json::json;

fn fault(method: Option<&str>, path: &str, nth: Option<u32>, action: FaultAction) -> Fault {
    Fault {
        method: method.map(str::to_string),
        path: path.to_string(),
        nth,
        times: None,
        probability: None,
        action,
    }
}

#[tokio::test]
async fn throttle_status_and_conflict_on_nth_request() {
    let sim = TestSim::start().await;
    let url = format!("{}?api-version={RES}", sim.rg("g"));
    sim.handle
        .add_fault(fault(
            Some("PUT"),
            "/resourceGroups/g$",
            Some(2),
            FaultAction::Throttle {
                retry_after_secs: 7,
                retry_after_ms: Some(7000),
            },
        ))
        .unwrap();
    sim.handle
        .add_fault(fault(
            Some("GET"),
            "/resourceGroups/g$",
            Some(1),
            FaultAction::Status {
                status: 503,
                code: None,
                message: None,
                retry_after_secs: Some(2),
            },
        ))
        .unwrap();
    sim.handle
        .add_fault(fault(
            Some("GET"),
            "/resourceGroups/g$",
            Some(2),
            FaultAction::Status {
                status: 500,
                code: None,
                message: None,
                retry_after_secs: None,
            },
        ))
        .unwrap();
    sim.handle
        .add_fault(fault(
            Some("DELETE"),
            "/resourceGroups/g$",
            Some(1),
            FaultAction::Status {
                status: 409,
                code: Some("AnotherOperationInProgress".into()),
                message: None,
                retry_after_secs: None,
            },
        ))
        .unwrap();
    let body = json!({"location": "eastus"});
    assert_eq!(sim.put(&url, &body).await.status, StatusCode::CREATED);
    let r = sim.put(&url, &body).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after").as_deref(), Some("7"));
    assert_eq!(r.header("retry-after-ms").as_deref(), Some("7000"));
    assert_eq!(r.header("x-ms-retry-after-ms").as_deref(), Some("7000"));
    assert_eq!(sim.put(&url, &body).await.status, StatusCode::OK);
    let r = sim.get(&url).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.code(), "ServiceUnavailable");
    assert_eq!(r.header("retry-after").as_deref(), Some("2"));
    assert_eq!(
        sim.get(&url).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(sim.get(&url).await.status, StatusCode::OK);
    let r = sim.delete(&url).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "AnotherOperationInProgress");
    assert_eq!(sim.delete(&url).await.status, StatusCode::ACCEPTED);
    let status = sim.handle.faults();
    assert_eq!(status[0].fired, 1);
    assert_eq!(status[0].matched, 3);
    assert!(sim.handle.request_log().iter().filter(|e| e.fault).count() == 4);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn connection_reset_and_slow_answer() {
    let sim = TestSim::start().await;
    let url = format!("{}?api-version={RES}", sim.rg("g"));
    sim.handle
        .add_fault(fault(
            None,
            "/resourceGroups/g$",
            Some(1),
            FaultAction::Reset,
        ))
        .unwrap();
    sim.handle
        .add_fault(fault(
            None,
            "/resourceGroups/g$",
            Some(2),
            FaultAction::Delay { ms: 400 },
        ))
        .unwrap();
    let err = sim
        .client
        .get(format!("{}{url}", sim.handle.base_url()))
        .bearer_auth(&sim.token)
        .send()
        .await;
    assert!(err.is_err(), "a reset connection is an error");
    let t = Instant::now();
    let r = sim.get(&url).await;
    assert!(t.elapsed() >= Duration::from_millis(400));
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn lro_ends_failed_or_canceled() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    sim.handle
        .add_fault(fault(
            Some("PUT"),
            "/disks/d1$",
            None,
            FaultAction::LroFailed {
                code: "ZonalAllocationFailed".into(),
                message: "Allocation failed.".into(),
                canceled: false,
                retry_after_secs: Some(480),
            },
        ))
        .unwrap();
    sim.handle
        .add_fault(fault(Some("PUT"), "/disks/d2$", None, FaultAction::LroFailed { code: "OperationNotAllowed".into(), message: "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.".into(), canceled: true, retry_after_secs: None }))
        .unwrap();
    let body = json!({"location": "eastus", "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 1}});
    let url = format!(
        "{}/providers/Microsoft.Compute/disks/d1?api-version={DISK}",
        sim.rg("rg")
    );
    let r = sim.put(&url, &body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let st = sim.wait_async(&r).await;
    assert_eq!(st["status"], "Failed");
    let again = sim.get(&r.header("azure-asyncoperation").unwrap()).await;
    assert_eq!(again.header("retry-after").as_deref(), Some("480"));
    let again = sim.get(&r.header("azure-asyncoperation").unwrap()).await;
    assert_eq!(again.header("retry-after").as_deref(), Some("480"));
    assert_eq!(st["error"]["code"], "ZonalAllocationFailed");
    assert_eq!(
        sim.get(&url).await.body["properties"]["provisioningState"],
        "Failed"
    );
    let url2 = format!(
        "{}/providers/Microsoft.Compute/disks/d2?api-version={DISK}",
        sim.rg("rg")
    );
    let r = sim.put(&url2, &body).await;
    let done = sim.wait_location(&r).await;
    assert_eq!(done.code(), "OperationNotAllowed");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn seeded_probability_is_deterministic() {
    async fn run() -> Vec<u16> {
        let sim = TestSim::start_with(SimConfig {
            seed: 42,
            ..SimConfig::default()
        })
        .await;
        sim.handle
            .add_fault(Fault {
                probability: Some(0.5),
                ..fault(
                    Some("GET"),
                    "resourceGroups",
                    None,
                    FaultAction::Status {
                        status: 500,
                        code: None,
                        message: None,
                        retry_after_secs: None,
                    },
                )
            })
            .unwrap();
        let mut out = Vec::new();
        for _ in 0..20 {
            out.push(
                sim.get(&format!("{}?api-version={RES}", sim.rg("g")))
                    .await
                    .status
                    .as_u16(),
            );
        }
        sim.handle.shutdown().await;
        out
    }
    let a = run().await;
    assert_eq!(a, run().await);
    assert!(a.contains(&500) && a.contains(&404));
}

#[tokio::test]
async fn scenario_file_latency_control_endpoint_and_jsonl_log() {
    let dir = std::env::temp_dir().join(format!("azure-sim-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("requests.jsonl");
    let scenario = Scenario::from_json(r#"{"latency_ms": 150, "faults": [{"method": "GET", "path": "/resourceGroups/x$", "nth": 1, "action": {"kind": "status", "status": 503}}]}"#).unwrap();
    assert!(
        Scenario::from_json(r#"{"faults": [{"path": "(", "action": {"kind": "reset"}}]}"#).is_err()
    );
    let sim = TestSim::start_with(SimConfig {
        scenario: Some(scenario),
        request_log: Some(log.clone()),
        ..SimConfig::default()
    })
    .await;
    let url = format!("{}?api-version={RES}", sim.rg("x"));
    let t = Instant::now();
    assert_eq!(sim.get(&url).await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(t.elapsed() >= Duration::from_millis(150));
    sim.handle.set_latency(None);
    // Faults through the control endpoint.
    let r = sim.client.post(format!("{}/_sim/faults", sim.handle.base_url())).json(&json!({"path": "/resourceGroups/x$", "action": {"kind": "throttle", "retry_after_secs": 1}})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.get(&url).await.status, StatusCode::TOO_MANY_REQUESTS);
    let r = sim
        .client
        .post(format!("{}/_sim/faults", sim.handle.base_url()))
        .json(&json!({"path": "(", "action": {"kind": "reset"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = sim
        .client
        .delete(format!("{}/_sim/faults", sim.handle.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.get(&url).await.status, StatusCode::NOT_FOUND);
    // The JSONL log has one line per request and no secrets or tokens.
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), sim.handle.request_log().len());
    assert!(!text.contains(&sim.token));
    assert!(!text.contains(&sim.handle.config().client_secret));
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["method"], "POST");
    sim.handle.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn write_bucket_runs_out_and_answers_429() {
    let sim = TestSim::start().await;
    let url = format!("{}?api-version={RES}", sim.rg("g"));
    let body = json!({"location": "eastus"});
    let first = sim.put(&url, &body).await;
    let remaining: u64 = first
        .header("x-ms-ratelimit-remaining-subscription-writes")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(remaining, 199);
    let mut throttled = None;
    for _ in 0..400 {
        let r = sim.put(&url, &body).await;
        if r.status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(r);
            break;
        }
    }
    let r = throttled.expect("the 200-token write bucket ran out");
    assert_eq!(r.code(), "TooManyRequests");
    assert!(r.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Reads have their own bucket.
    assert_eq!(sim.get(&url).await.status, StatusCode::OK);
    sim.handle.shutdown().await;
}
