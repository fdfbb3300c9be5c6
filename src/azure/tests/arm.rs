//! Retries, throttling, terminal errors, LROs, paging and deadlines through the public API.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::support::*;
use crate::azure::{ApiKind, ArmClient, Deadline, Deleted, Error, PostSafety, ResourcePath};

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn vm_path() -> ResourcePath {
    ResourcePath::resource_group(SUBSCRIPTION, "rg")
        .provider("Microsoft.Compute")
        .child("virtualMachines", "vm-1")
}

const VM_PATH: &str = "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1";

/// A server whose ARM side is `arm` and whose IMDS always issues "tok".
async fn arm_server(arm: impl Fn(&Ctx<'_>) -> Reply + Send + Sync + 'static) -> TestServer {
    TestServer::http(move |ctx| {
        if is_token_request(ctx) {
            imds_token("tok", 3600)
        } else {
            arm(ctx)
        }
    })
    .await
}

fn client(server: &TestServer) -> ArmClient {
    ArmClient::new(&imds_settings(&server.base, &server.base)).unwrap()
}

fn vm(state: &str) -> Reply {
    Reply::json(
        200,
        json!({"name": "vm-1", "properties": {"provisioningState": state}}),
    )
}

/// GETs the test VM.
async fn get_vm(arm: &ArmClient) -> Result<Option<Value>, Error> {
    arm.get(&vm_path(), ApiKind::Compute, deadline()).await
}

/// DELETEs the test VM.
async fn delete_vm(arm: &ArmClient) -> Result<Deleted, Error> {
    arm.delete(&vm_path(), ApiKind::Compute, deadline()).await
}

/// POSTs the test VM's `performMaintenance` action.
async fn post_maintenance(arm: &ArmClient, safety: PostSafety) -> Result<Option<Value>, Error> {
    let action = vm_path().segment("performMaintenance");
    arm.post(&action, ApiKind::Compute, None, safety, deadline())
        .await
}

fn arm_requests(server: &TestServer) -> Vec<Recorded> {
    server
        .requests()
        .into_iter()
        .filter(|r| !r.path.contains("/oauth2/"))
        .collect()
}

#[tokio::test]
async fn every_request_carries_the_headers_and_the_api_version_of_its_kind() {
    let server = arm_server(|_| vm("Succeeded")).await;
    let arm = client(&server);
    let _: Option<Value> = arm
        .get(&vm_path(), ApiKind::Compute, deadline())
        .await
        .unwrap();
    let disk = ResourcePath::resource_group(SUBSCRIPTION, "rg-with-disks-in-name")
        .provider("Microsoft.Compute")
        .child("disks", "d 1#x");
    let _: Option<Value> = arm.get(&disk, ApiKind::Disks, deadline()).await.unwrap();
    let requests = arm_requests(&server);
    let get_vm = &requests[0];
    assert_eq!(get_vm.path, VM_PATH);
    assert_eq!(get_vm.query, "api-version=2024-07-01");
    assert_eq!(get_vm.header("authorization"), "Bearer tok");
    assert_eq!(
        get_vm.header("user-agent"),
        format!(
            "BOSH-AZURE-CPI/{} pid-563bbbca-7944-4791-b9c6-8af0928114ac",
            env!("CARGO_PKG_VERSION")
        )
    );
    assert!(uuid::Uuid::parse_str(get_vm.header("x-ms-client-request-id")).is_ok());
    assert_eq!(get_vm.header("x-ms-return-client-request-id"), "true");
    // A name with reserved characters stays one segment; the kind, not the URL, picks the version.
    assert!(
        requests[1].path.ends_with("/disks/d%201%23x"),
        "{}",
        requests[1].path
    );
    assert_eq!(requests[1].query, "api-version=2024-03-02");
}

#[tokio::test]
async fn get_of_a_missing_resource_is_none() {
    let server = arm_server(|_| {
        arm_error(
            404,
            "ResourceNotFound",
            "The Resource 'vm-1' was not found.",
        )
    })
    .await;
    let found: Option<Value> = get_vm(&client(&server)).await.unwrap();
    assert!(found.is_none());
    assert_eq!(arm_requests(&server).len(), 1);
}

/// 429 once with `header: value`, then 200; returns the gap between the two attempts.
async fn gap_after_429(header: &'static str, value: String) -> Duration {
    let server = arm_server(move |ctx| {
        if ctx.n == 0 {
            arm_error(429, "TooManyRequests", "throttled").header(header, value.clone())
        } else {
            vm("Succeeded")
        }
    })
    .await;
    let found: Option<Value> = get_vm(&client(&server)).await.unwrap();
    assert!(found.is_some());
    let requests = arm_requests(&server);
    assert_eq!(requests.len(), 2);
    requests[1].at - requests[0].at
}

#[tokio::test]
async fn throttling_honours_every_retry_after_form() {
    // Without the hint the backoff would be ~5 ms (fast_timings).
    let gap = gap_after_429("x-ms-retry-after-ms", "400".into()).await;
    assert!(
        gap >= Duration::from_millis(400) && gap < Duration::from_secs(3),
        "{gap:?}"
    );
    let gap = gap_after_429("retry-after-ms", "300".into()).await;
    assert!(
        gap >= Duration::from_millis(300) && gap < Duration::from_secs(3),
        "{gap:?}"
    );
    let gap = gap_after_429("retry-after", "1".into()).await;
    assert!(
        gap >= Duration::from_secs(1) && gap < Duration::from_secs(3),
        "{gap:?}"
    );
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let gap = gap_after_429("retry-after", date).await;
    // An HTTP date has whole-second precision, and the setup took some of the time.
    assert!(
        gap >= Duration::from_secs(1) && gap <= Duration::from_millis(3500),
        "{gap:?}"
    );
}

#[tokio::test]
async fn a_burst_of_503_recovers() {
    let server = arm_server(|ctx| {
        if ctx.n < 4 {
            arm_error(503, "ServiceUnavailable", "busy")
        } else {
            vm("Succeeded")
        }
    })
    .await;
    let found: Option<Value> = get_vm(&client(&server)).await.unwrap();
    assert!(found.is_some());
    assert_eq!(arm_requests(&server).len(), 5);
}

#[tokio::test]
async fn retries_are_bounded() {
    let server = arm_server(|_| arm_error(503, "ServiceUnavailable", "busy")).await;
    let err = get_vm(&client(&server)).await.unwrap_err();
    assert!(
        matches!(err, Error::Transient { attempts: 6, .. }),
        "{err:?}"
    );
    assert_eq!(arm_requests(&server).len(), 6);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_fails_at_once() {
    let server =
        arm_server(|_| arm_error(429, "TooManyRequests", "throttled").header("retry-after", "480"))
            .await;
    let started = Instant::now();
    let err = client(&server)
        .get::<Value>(
            &vm_path(),
            ApiKind::Compute,
            Deadline::after(Duration::from_secs(2)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Deadline { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("virtualMachines/vm-1") && text.contains("HTTP 429 TooManyRequests"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test]
async fn connection_resets_recover_for_get_put_and_delete() {
    let backend = arm_server(|ctx| match ctx.req.method.as_str() {
        "DELETE" => Reply::empty(200),
        _ => vm("Succeeded"),
    })
    .await;
    for method in ["GET", "PUT", "DELETE"] {
        let proxy = ResettingProxy::start(backend.addr, 2).await;
        // The token comes straight from the backend; ARM goes through the resetting proxy.
        let arm = ArmClient::new(&imds_settings(&proxy.base, &backend.base)).unwrap();
        match method {
            "GET" => assert!(
                arm.get::<Value>(&vm_path(), ApiKind::Compute, deadline())
                    .await
                    .unwrap()
                    .is_some()
            ),
            "PUT" => {
                let _: Value = arm
                    .put(
                        &vm_path(),
                        ApiKind::Compute,
                        &json!({"location": "x"}),
                        deadline(),
                    )
                    .await
                    .unwrap();
            }
            _ => assert_eq!(delete_vm(&arm).await.unwrap(), Deleted::Deleted),
        }
    }
}

#[tokio::test]
async fn a_non_idempotent_post_is_not_resent_after_an_unknown_outcome() {
    let backend = arm_server(|_| Reply::json(200, json!({"ok": true}))).await;
    let proxy = ResettingProxy::start(backend.addr, 1).await;
    let arm = ArmClient::new(&imds_settings(&proxy.base, &backend.base)).unwrap();
    let err = post_maintenance(&arm, PostSafety::NotIdempotent)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transient { attempts: 1, .. }),
        "{err:?}"
    );
    // The same call marked idempotent is retried and succeeds.
    let proxy = ResettingProxy::start(backend.addr, 1).await;
    let arm = ArmClient::new(&imds_settings(&proxy.base, &backend.base)).unwrap();
    let result: Option<Value> = post_maintenance(&arm, PostSafety::Idempotent)
        .await
        .unwrap();
    assert_eq!(result.unwrap()["ok"], true);
}

#[tokio::test]
async fn a_terminal_error_fails_on_the_first_answer_with_azures_code() {
    let server = arm_server(|_| {
        arm_error(
            409,
            "OperationNotAllowed",
            "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.",
        )
    })
    .await;
    let err = client(&server)
        .put::<_, Value>(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Conflict { .. }), "{err:?}");
    let cpi: crate::CpiError = err.into();
    assert!(
        cpi.message().contains("OperationNotAllowed"),
        "{}",
        cpi.message()
    );
    assert!(
        cpi.message().contains("Total Regional Cores quota"),
        "{}",
        cpi.message()
    );
    assert_eq!(arm_requests(&server).len(), 1);

    let server = arm_server(|_| {
        arm_error(
            400,
            "InvalidParameter",
            "The value of parameter vmSize is invalid.",
        )
    })
    .await;
    let err = client(&server)
        .put::<_, Value>(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Terminal { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), Some("InvalidParameter"));
    assert_eq!(arm_requests(&server).len(), 1);
}

#[tokio::test]
async fn patch_if_match_sends_the_etag_and_surfaces_412_without_retrying() {
    let server = arm_server(|ctx| {
        if ctx.req.header("if-match") == "\"7\"" {
            vm("Succeeded")
        } else {
            arm_error(
                412,
                "PreconditionFailed",
                "The specified precondition 'If-Match = \"6\"' failed.",
            )
        }
    })
    .await;
    let arm = client(&server);
    let body = json!({"tags": {"a": "b"}});
    let _: Value = arm
        .patch_if_match(&vm_path(), ApiKind::Compute, &body, "\"7\"", deadline())
        .await
        .unwrap();
    let err = arm
        .patch_if_match::<_, Value>(&vm_path(), ApiKind::Compute, &body, "\"6\"", deadline())
        .await
        .unwrap_err();
    assert!(err.is_precondition_failed(), "{err:?}");
    assert_eq!(err.code(), Some("PreconditionFailed"));
    let requests = arm_requests(&server);
    // One request each: a lost race is the caller's to recompute, never blindly resent.
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.method == "PATCH"));
    assert_eq!(requests[1].header("if-match"), "\"6\"");
    // A plain PATCH carries no precondition.
    let _: Result<Value, _> = arm
        .patch(&vm_path(), ApiKind::Compute, &body, deadline())
        .await;
    assert_eq!(arm_requests(&server)[2].header("if-match"), "");
}

#[tokio::test]
async fn retryable_conflicts_are_retried() {
    let server = arm_server(|ctx| match ctx.n {
        0 => arm_error(
            409,
            "AnotherOperationInProgress",
            "Operation 'x' is in progress.",
        ),
        1 => arm_error(
            429,
            "RetryableErrorDueToAnotherOperation",
            "Another operation is in progress.",
        ),
        _ => vm("Succeeded"),
    })
    .await;
    let done: Value = client(&server)
        .put(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap();
    assert_eq!(done["name"], "vm-1");
    assert_eq!(arm_requests(&server).len(), 3);
}

#[tokio::test]
async fn forbidden_says_which_role_is_missing() {
    let server = arm_server(|_| {
        arm_error(
            403,
            "AuthorizationFailed",
            "The client 'x' does not have authorization to perform action 'Microsoft.Compute/virtualMachines/write'.",
        )
    })
    .await;
    let err = client(&server)
        .put::<_, Value>(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("Microsoft.Compute/virtualMachines/write") && text.contains("Contributor"),
        "{text}"
    );
}

#[tokio::test]
async fn lro_through_azure_async_operation_reads_the_resource_once() {
    let server = arm_server(|ctx| {
        let op_path =
            "/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/operations/op-1";
        match (ctx.req.method.as_str(), ctx.req.path.as_str()) {
            ("PUT", _) => Reply::json(
                201,
                json!({"name": "vm-1", "properties": {"provisioningState": "Creating"}}),
            )
            .header(
                "azure-asyncoperation",
                format!("{}{op_path}?api-version=2024-07-01", ctx.base),
            )
            .header("retry-after", "0"),
            ("GET", p) if p == op_path => match ctx.n {
                0 | 1 => Reply::json(200, json!({"status": "InProgress"})),
                _ => Reply::json(200, json!({"status": "Succeeded"})),
            },
            ("GET", _) => vm("Succeeded"),
            _ => Reply::empty(500),
        }
    })
    .await;
    let done: Value = client(&server)
        .put(
            &vm_path(),
            ApiKind::Compute,
            &json!({"location": "westeurope"}),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(done["properties"]["provisioningState"], "Succeeded");
    let requests = arm_requests(&server);
    let polls = requests
        .iter()
        .filter(|r| r.path.contains("/operations/"))
        .count();
    let reads = requests
        .iter()
        .filter(|r| r.method == "GET" && r.path == VM_PATH)
        .count();
    assert_eq!((polls, reads), (3, 1));
    // The poll URL is used exactly as Azure gave it.
    assert!(
        requests
            .iter()
            .filter(|r| r.path.contains("/operations/"))
            .all(|r| r.query == "api-version=2024-07-01")
    );
}

#[tokio::test]
async fn lro_through_location_for_delete_and_put() {
    let server = arm_server(|ctx| {
        let monitor =
            "/subscriptions/s/providers/Microsoft.Compute/locations/westeurope/DiskOperations/op-2";
        match (ctx.req.method.as_str(), ctx.req.path.as_str()) {
            ("DELETE", _) | ("PUT", _) => {
                Reply::empty(202).header("location", format!("{}{monitor}?monitor=true", ctx.base))
            }
            ("GET", p) if p == monitor => {
                if ctx.n % 3 == 2 {
                    Reply::empty(200)
                } else {
                    Reply::empty(202).header("retry-after", "0")
                }
            }
            ("GET", _) => vm("Succeeded"),
            _ => Reply::empty(500),
        }
    })
    .await;
    let arm = client(&server);
    assert_eq!(delete_vm(&arm).await.unwrap(), Deleted::Deleted);
    let done: Value = arm
        .put(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap();
    assert_eq!(done["name"], "vm-1");
    let polls = arm_requests(&server)
        .iter()
        .filter(|r| r.path.contains("/DiskOperations/"))
        .count();
    assert_eq!(polls, 6);
}

#[tokio::test]
async fn provisioning_state_in_a_201_body_is_polled() {
    let server = arm_server(|ctx| match (ctx.req.method.as_str(), ctx.n) {
        ("PUT", _) => Reply::json(
            201,
            json!({"name": "vm-1", "properties": {"provisioningState": "Creating"}}),
        ),
        ("GET", 0) => vm("Updating"),
        _ => vm("Succeeded"),
    })
    .await;
    let done: Value = client(&server)
        .put(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap();
    assert_eq!(done["properties"]["provisioningState"], "Succeeded");
    assert_eq!(arm_requests(&server).len(), 3);
}

#[tokio::test]
async fn a_failed_lro_surfaces_arms_code_message_and_details() {
    let server = arm_server(|ctx| match ctx.req.method.as_str() {
        "PUT" => Reply::json(201, json!({})).header("azure-asyncoperation", format!("{}/operations/op-3", ctx.base)),
        _ => Reply::json(
            200,
            json!({
                "status": "Failed",
                "error": {
                    "code": "ZonalAllocationFailed",
                    "message": "Allocation failed. We do not have sufficient capacity for the requested VM size in this zone.",
                    "details": [{"code": "SkuNotAvailable", "message": "Standard_D2s_v5 in zone 2"}]
                }
            }),
        ),
    })
    .await;
    let err = client(&server)
        .put::<_, Value>(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap_err();
    let Error::Terminal { code, details, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(code, "ZonalAllocationFailed");
    assert_eq!(details[0].code, "SkuNotAvailable");
    let text = err.to_string();
    assert!(
        text.contains("sufficient capacity") && text.contains("Standard_D2s_v5 in zone 2"),
        "{text}"
    );
}

#[tokio::test]
async fn the_deadline_stops_an_endless_in_progress_lro() {
    let server = arm_server(|ctx| match ctx.req.method.as_str() {
        "PUT" => Reply::json(201, json!({})).header(
            "azure-asyncoperation",
            format!("{}/operations/forever", ctx.base),
        ),
        _ => Reply::json(200, json!({"status": "InProgress"})).header("retry-after", "0"),
    })
    .await;
    let started = Instant::now();
    let err = client(&server)
        .put::<_, Value>(
            &vm_path(),
            ApiKind::Compute,
            &json!({}),
            Deadline::after(Duration::from_millis(1500)),
        )
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(matches!(err, Error::Deadline { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("PUT")
            && text.contains("virtualMachines/vm-1")
            && text.contains("InProgress"),
        "{text}"
    );
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
    assert!(
        arm_requests(&server).len() > 3,
        "it kept polling until the deadline"
    );
}

#[tokio::test]
async fn a_poll_url_off_the_arm_endpoint_is_refused() {
    let server = arm_server(|_| {
        Reply::json(201, json!({})).header("azure-asyncoperation", "https://evil.example.com/op")
    })
    .await;
    let err = client(&server)
        .put::<_, Value>(&vm_path(), ApiKind::Compute, &json!({}), deadline())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("evil.example.com"), "{err}");
    assert_eq!(arm_requests(&server).len(), 1);
}

#[tokio::test]
async fn a_list_spanning_five_pages_returns_every_item() {
    let server = arm_server(|ctx| {
        let page: usize = ctx
            .req
            .query_value("$skiptoken")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        let items: Vec<Value> = (0..3)
            .map(|i| json!({"name": format!("nic-{page}-{i}")}))
            .collect();
        let mut body = json!({"value": items});
        if page < 4 {
            body["nextLink"] = json!(format!(
                "{}{}?api-version=2024-05-01&$skiptoken={}",
                ctx.base,
                ctx.req.path,
                page + 1
            ));
        }
        Reply::json(200, body)
    })
    .await;
    let path = ResourcePath::resource_group(SUBSCRIPTION, "rg")
        .provider("Microsoft.Network")
        .segment("networkInterfaces");
    let nics: Vec<Value> = client(&server)
        .list(&path, ApiKind::Network, deadline())
        .await
        .unwrap();
    assert_eq!(nics.len(), 15);
    assert_eq!(nics[14]["name"], "nic-4-2");
    assert_eq!(arm_requests(&server).len(), 5);
}

#[tokio::test]
async fn delete_of_a_missing_resource_is_not_an_error() {
    let server = arm_server(|ctx| {
        if ctx.n == 0 {
            Reply::empty(204)
        } else {
            arm_error(404, "NotFound", "gone")
        }
    })
    .await;
    let arm = client(&server);
    assert_eq!(delete_vm(&arm).await.unwrap(), Deleted::NotFound);
    assert_eq!(delete_vm(&arm).await.unwrap(), Deleted::NotFound);
}

#[tokio::test]
async fn a_kind_missing_from_the_stack_column_sends_nothing() {
    let server = arm_server(|_| vm("Succeeded")).await;
    let mut settings = imds_settings(&server.base, &server.base);
    settings.cloud = crate::azure::CloudKind::Stack;
    let stack = ArmClient::new(&settings).unwrap();
    let err = stack
        .get::<Value>(&vm_path(), ApiKind::Galleries, deadline())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Azure Stack"), "{err}");
    assert!(server.requests().is_empty(), "no token, no request");
}

#[tokio::test]
async fn a_non_idempotent_post_is_resent_only_when_azure_refused_it() {
    // 503: the outcome is unknown, so no second attempt; still classified as transient.
    let server = arm_server(|_| arm_error(503, "ServiceUnavailable", "busy")).await;
    let err = post_maintenance(&client(&server), PostSafety::NotIdempotent)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Transient { attempts: 1, .. }),
        "{err:?}"
    );
    assert_eq!(arm_requests(&server).len(), 1);
    // 429: ARM did not act on it, so it is sent again.
    let server = arm_server(|ctx| {
        if ctx.n == 0 {
            arm_error(429, "TooManyRequests", "throttled").header("retry-after-ms", "10")
        } else {
            Reply::empty(200)
        }
    })
    .await;
    let done: Option<Value> = post_maintenance(&client(&server), PostSafety::NotIdempotent)
        .await
        .unwrap();
    assert!(done.is_none());
    assert_eq!(arm_requests(&server).len(), 2);
}

/// A URL Azure would refuse for its length (or that the HTTP stack cannot even build) fails at
/// once, without a request and without a retry, and the message does not carry the name.
#[tokio::test]
async fn an_oversized_url_fails_at_once_and_is_never_sent() {
    let server = arm_server(|_| vm("Succeeded")).await;
    let arm = client(&server);
    for size in [20_000, 100_000, 5 << 20] {
        let path = ResourcePath::resource_group(SUBSCRIPTION, "rg")
            .provider("Microsoft.Compute")
            .child("virtualMachines", &"v".repeat(size));
        let started = Instant::now();
        let err = arm
            .get::<Value>(&path, ApiKind::Compute, deadline())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(
            err.to_string().len() < 1024,
            "{} bytes",
            err.to_string().len()
        );
    }
    assert!(arm_requests(&server).is_empty());
}
