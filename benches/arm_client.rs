//! Per-call overhead of the ARM client against a loopback server, next to a raw reqwest
//! baseline doing the same GET + JSON decode in the same run.
//!
//! `cargo bench --bench arm_client` (add `--profile dev` for a quick unoptimised run).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bosh_azure_cpi::azure::settings::{DEFAULT_ISV_TRACKING_GUID, Timings};
use bosh_azure_cpi::azure::{
    ApiKind, ArmClient, Authority, AzureSettings, CloudKind, CredentialSettings, Deadline,
    ResourcePath,
};
use url::Url;

/// Counts allocations so the report can show what the client allocates per call.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const VM_JSON: &str = r#"{"id":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1","name":"vm-1","location":"westeurope","properties":{"vmId":"4b2b6a8e","provisioningState":"Succeeded","hardwareProfile":{"vmSize":"Standard_D2s_v5"}}}"#;
const CALLS: u32 = 2000;
/// The sim enforces ARM's read bucket (250, refilled 25/s): stay inside it, unthrottled.
const SIM_CALLS: u32 = 20;
const ROUNDS: usize = 5;

struct Sample {
    per_call: Duration,
    allocations: f64,
}

async fn measure<F, Fut>(calls: u32, mut call: F) -> Sample
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let allocations_before = ALLOCATIONS.load(Ordering::Relaxed);
    let started = Instant::now();
    for _ in 0..calls {
        call().await;
    }
    Sample {
        per_call: started.elapsed() / calls,
        // The server runs in this process too: both sides count its allocations alike.
        allocations: (ALLOCATIONS.load(Ordering::Relaxed) - allocations_before) as f64
            / f64::from(calls),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Times `ArmClient::get` against `raw` (the same GET with a plain reqwest client) and prints
/// both, interleaved round by round so machine noise hits both alike.
async fn compare(
    title: &str,
    calls: u32,
    arm: ArmClient,
    path: ResourcePath,
    kind: ApiKind,
    raw: reqwest::Client,
    token: String,
) {
    let raw_url = arm.url(&path, kind).unwrap();
    let deadline = || Deadline::after(Duration::from_secs(60));
    let arm_call = || {
        let arm = arm.clone();
        let path = path.clone();
        async move {
            let found: Option<serde_json::Value> = arm.get(&path, kind, deadline()).await.unwrap();
            assert!(found.is_some());
        }
    };
    let raw_call = || {
        let raw = raw.clone();
        let url = raw_url.clone();
        let token = token.clone();
        async move {
            let response = raw.get(url).bearer_auth(token).send().await.unwrap();
            assert!(response.status().is_success());
            let found: serde_json::Value = response.json().await.unwrap();
            assert!(found.is_object());
        }
    };
    // Warm up both connection pools and the token.
    measure(1, arm_call).await;
    measure(1, raw_call).await;
    let (mut arm_us, mut raw_us, mut arm_alloc, mut raw_alloc) = (vec![], vec![], vec![], vec![]);
    for _ in 0..ROUNDS {
        let a = measure(calls, arm_call).await;
        let r = measure(calls, raw_call).await;
        arm_us.push(a.per_call.as_secs_f64() * 1e6);
        raw_us.push(r.per_call.as_secs_f64() * 1e6);
        arm_alloc.push(a.allocations);
        raw_alloc.push(r.allocations);
    }
    let (a, r) = (median(arm_us), median(raw_us));
    let (aa, ra) = (median(arm_alloc), median(raw_alloc));
    println!("{title}: GET + JSON decode, {calls} calls x {ROUNDS} rounds (median round)");
    println!("  raw reqwest baseline : {r:8.1} us/call  {ra:7.1} allocations/call");
    println!("  ArmClient::get       : {a:8.1} us/call  {aa:7.1} allocations/call");
    println!(
        "  overhead             : {:8.1} us/call  {:7.1} allocations/call  (ratio {:.2}x)",
        a - r,
        aa - ra,
        a / r
    );
}

fn base_settings(arm_base: &str, imds_token_url: &str) -> AzureSettings {
    AzureSettings {
        cloud: CloudKind::Public,
        resource_manager_url: Url::parse(arm_base).unwrap(),
        authority: Authority::EntraId {
            host: Url::parse("https://login.microsoftonline.com").unwrap(),
        },
        token_audience: "https://management.azure.com/".into(),
        tenant_id: "t".into(),
        subscription_id: "00000000-0000-0000-0000-000000000000".into(),
        credential: CredentialSettings::ManagedIdentity {
            resource_id: None,
            endpoint: Some(Url::parse(imds_token_url).unwrap()),
        },
        extra_ca_pem: None,
        isv_tracking_guid: DEFAULT_ISV_TRACKING_GUID.into(),
        debug_mode: false,
        timings: Timings::default(),
        cpi_method: None,
        method_deadline: None,
        storage_authentication: Default::default(),
        storage_audience: None,
        disk_audience: None,
    }
}

/// A minimal loopback server: the client's own cost stands out.
async fn against_plain_server() {
    let app = Router::new()
        .route(
            "/metadata/identity/oauth2/token",
            get(|| async {
                axum::Json(serde_json::json!({"access_token": "bench-token", "expires_in": "3600"}))
            }),
        )
        .fallback(get(|| async {
            ([("content-type", "application/json")], VM_JSON)
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let base = format!("http://{addr}");
    let settings = base_settings(&base, &format!("{base}/metadata/identity/oauth2/token"));
    let arm = ArmClient::new(&settings).unwrap();
    let path = arm
        .resource_group_path("rg")
        .provider("Microsoft.Compute")
        .child("virtualMachines", "vm-1");
    let raw = reqwest::Client::new();
    compare(
        "loopback http server",
        CALLS,
        arm,
        path,
        ApiKind::Compute,
        raw,
        "bench-token".into(),
    )
    .await;
}

/// azure-sim over https: token checks, JSON store, the whole ARM path.
async fn against_the_sim() {
    let sim = bosh_azure_sim::start(bosh_azure_sim::SimConfig::default())
        .await
        .unwrap();
    let c = sim.config().clone();
    let nsg = format!(
        "/subscriptions/{}/resourceGroups/bench/providers/Microsoft.Network/networkSecurityGroups/nsg-1",
        c.subscription_id
    );
    sim.seed(serde_json::json!({"id": nsg, "location": c.location}))
        .unwrap();
    let imds = format!("{}/metadata/identity/oauth2/token", sim.imds_url());
    let mut settings = base_settings(&format!("{}/", sim.base_url()), &imds);
    settings.subscription_id = c.subscription_id.clone();
    settings.token_audience = format!("{}/", sim.base_url());
    settings.extra_ca_pem = Some(sim.ca_pem().to_owned());
    let arm = ArmClient::new(&settings).unwrap();
    let ca = reqwest::Certificate::from_pem(sim.ca_pem().as_bytes()).unwrap();
    let raw = reqwest::Client::builder()
        .tls_certs_merge([ca])
        .build()
        .unwrap();
    let token: serde_json::Value = raw
        .get(format!(
            "{imds}?api-version=2018-02-01&resource={}/",
            sim.base_url()
        ))
        .header("Metadata", "true")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let path = ResourcePath::parse_id(&nsg).unwrap();
    compare(
        "azure-sim (https)",
        SIM_CALLS,
        arm,
        path,
        ApiKind::Network,
        raw,
        token,
    )
    .await;
    sim.shutdown().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    against_plain_server().await;
    against_the_sim().await;
}
