//! An unreachable Azure and a missing trust store, through the binary: a CPI call fails fast
//! with a CloudError naming the endpoint, the CPI method and the network problem, and building
//! the HTTP stack never panics.

use crate::support;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use bosh_azure_sim::SimConfig;
use bosh_azure_sim::StorageBackend;
use bosh_azure_sim::azurite::Azurite;
use serde_json::{Value, json};
use support::sim::SimEnv;
use support::{error_message, error_type};

const VM_CID: &str = "agent_id:agent-1;resource_group_name:rg";

/// A loopback port nothing listens on: connections are refused.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A loopback listener whose accept queue is full and never drained: the kernel drops further
/// SYNs, so a connect times out as towards a blackholed address.
struct Blackhole {
    addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: Vec<TcpStream>,
    _runtime: tokio::runtime::Runtime,
}

fn blackhole() -> Blackhole {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        socket.listen(0).unwrap()
    });
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..16 {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => queued.push(stream),
            Err(_) => break,
        }
    }
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_err(),
        "the accept queue must be full"
    );
    Blackhole {
        addr,
        _listener: listener,
        _queued: queued,
        _runtime: runtime,
    }
}

fn set_endpoint(sim: &SimEnv, name: &str, url: String) {
    let mut endpoints = json!({
        "resource_manager": sim.sim.base_url(),
        "active_directory": sim.sim.base_url(),
        "ca_cert": sim.sim.ca_pem(),
    });
    endpoints[name] = json!(url);
    sim.write_config(|azure| drop(azure.insert("endpoints".into(), endpoints)));
}

fn timed_has_vm(sim: &SimEnv) -> (Value, Duration) {
    let started = Instant::now();
    let run = sim.call("has_vm", json!([VM_CID]));
    (run.response, started.elapsed())
}

fn assert_network_error(response: &Value, service: &str, host: &str, problem: &str) {
    assert_eq!(
        error_type(response),
        Some("Bosh::Clouds::CloudError"),
        "{response}"
    );
    let message = error_message(response);
    eprintln!("{message}");
    for part in [
        service,
        host,
        problem,
        "CPI method has_vm",
        "network problem",
    ] {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
    assert!(!message.contains("retry policy expired"), "{message}");
}

#[test]
fn a_refused_token_endpoint_fails_fast_and_is_named() {
    let sim = SimEnv::start();
    let port = closed_port();
    set_endpoint(
        &sim,
        "active_directory",
        format!("https://127.0.0.1:{port}"),
    );
    let (response, took) = timed_has_vm(&sim);
    assert_network_error(
        &response,
        "the token endpoint",
        &format!("127.0.0.1:{port}"),
        "connection refused",
    );
    eprintln!("answered in {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_refused_managed_identity_endpoint_fails_fast_and_is_named() {
    let sim = SimEnv::start();
    let port = closed_port();
    sim.write_config(|azure| {
        azure.remove("client_id");
        azure.remove("client_secret");
        azure.insert("credentials_source".into(), json!("managed_identity"));
        azure.insert(
            "endpoints".into(),
            json!({
                "resource_manager": sim.sim.base_url(),
                "managed_identity": format!("http://127.0.0.1:{port}/metadata/identity/oauth2/token"),
                "ca_cert": sim.sim.ca_pem(),
            }),
        );
    });
    let (response, took) = timed_has_vm(&sim);
    assert_network_error(
        &response,
        "the token endpoint",
        &format!("127.0.0.1:{port}"),
        "connection refused",
    );
    assert!(error_message(&response).contains("IMDS token request"));
    eprintln!("answered in {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_refused_resource_manager_fails_fast_and_is_named() {
    let sim = SimEnv::start();
    let port = closed_port();
    set_endpoint(
        &sim,
        "resource_manager",
        format!("https://127.0.0.1:{port}/"),
    );
    let (response, took) = timed_has_vm(&sim);
    assert_network_error(
        &response,
        "Azure Resource Manager",
        &format!("127.0.0.1:{port}"),
        "connection refused",
    );
    eprintln!("answered in {took:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn a_blackholed_resource_manager_times_out_in_seconds() {
    let sim = SimEnv::start();
    let hole = blackhole();
    set_endpoint(&sim, "resource_manager", format!("https://{}/", hole.addr));
    let (response, took) = timed_has_vm(&sim);
    assert_network_error(
        &response,
        "Azure Resource Manager",
        &hole.addr.to_string(),
        "timed out",
    );
    eprintln!("answered in {took:?}");
    // Three connect attempts of 4 s and their pauses; 30 s or more before.
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// The sim with `storage` as the default storage account's blob service.
fn sim_with_storage(storage: StorageBackend) -> SimEnv {
    let account = storage.account_name.clone();
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(storage),
        ..SimConfig::default()
    });
    sim.seed(json!({
        "id": format!("{}/providers/Microsoft.Storage/storageAccounts/{account}", sim.rg_id()),
        "location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"
    }));
    sim.write_config(|azure| drop(azure.insert("storage_account_name".into(), json!(account))));
    sim
}

const LIGHT_STEMCELL: &str = "bosh-light-stemcell-0b6d9a3e-6c1c-4b8e-9d3f-2a1f7c5e8b40";

#[test]
fn a_refused_blob_endpoint_fails_fast_and_is_named() {
    let port = closed_port();
    let sim = sim_with_storage(StorageBackend {
        blob_endpoint: format!("http://127.0.0.1:{port}/devstoreaccount1")
            .parse()
            .unwrap(),
        account_name: "devstoreaccount1".into(),
        account_key: "c2VjcmV0LWFjY291bnQta2V5LXZhbHVl".into(),
    });
    let started = Instant::now();
    let run = sim.call("delete_stemcell", json!([LIGHT_STEMCELL]));
    let took = started.elapsed();
    let response = run.response;
    assert_eq!(
        error_type(&response),
        Some("Bosh::Clouds::CloudError"),
        "{response}"
    );
    let message = error_message(&response);
    eprintln!("{message}\nanswered in {took:?}");
    for part in [
        "CPI method delete_stemcell",
        &format!("blob storage at 127.0.0.1:{port}"),
        "connection refused",
        "network problem",
    ] {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// The sim's certificate without its CA in the config: no retries, and a message that says
/// how to trust it rather than calling it a network problem.
#[test]
fn an_untrusted_certificate_is_named_at_once() {
    let sim = SimEnv::start();
    sim.write_config(|azure| {
        azure.insert(
            "endpoints".into(),
            json!({"resource_manager": sim.sim.base_url(), "active_directory": sim.sim.base_url()}),
        );
    });
    let (response, took) = timed_has_vm(&sim);
    assert_eq!(error_type(&response), Some("Bosh::Clouds::CloudError"));
    let message = error_message(&response);
    eprintln!("{message}\nanswered in {took:?}");
    for part in [
        "CPI method has_vm",
        "the token endpoint",
        "not trusted",
        "azure.endpoints.ca_cert",
    ] {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
    assert!(!message.contains("network problem"), "{message}");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

/// A listener that accepts and never writes: the TLS handshake hangs, and the connect timeout
/// (which covers the handshake) bounds it like a dropped SYN.
#[test]
fn a_silent_resource_manager_times_out_in_seconds() {
    let sim = SimEnv::start();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    set_endpoint(&sim, "resource_manager", format!("https://{addr}/"));
    let (response, took) = timed_has_vm(&sim);
    assert_network_error(
        &response,
        "Azure Resource Manager",
        &addr.to_string(),
        "timed out",
    );
    eprintln!("answered in {took:?}");
    assert!(took < Duration::from_secs(20), "took {took:?}");
}

/// An empty file and an empty directory as the whole trust store, and no extra CA: a CloudError that names the store
/// and the two ways to give one, never a panic.
#[test]
fn an_empty_trust_store_is_a_cloud_error_naming_it() {
    let sim = SimEnv::start();
    sim.write_config(|azure| {
        azure.insert(
            "endpoints".into(),
            json!({"resource_manager": sim.sim.base_url(), "active_directory": sim.sim.base_url()}),
        );
    });
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let empty = empty.to_str().unwrap();
    let no_dir = dir.path().to_str().unwrap();
    let request = json!({"method": "has_vm", "arguments": [VM_CID], "context": {"director_uuid": "d"}, "api_version": 2});
    let run = support::run(
        &sim.config_path,
        request.to_string().as_bytes(),
        &[("SSL_CERT_FILE", empty), ("SSL_CERT_DIR", no_dir)],
    );
    assert_eq!(error_type(&run.response), Some("Bosh::Clouds::CloudError"));
    let message = error_message(&run.response);
    eprintln!("{message}");
    assert!(!message.contains("Internal error"), "{message}");
    for part in [
        &format!("SSL_CERT_FILE={empty}"),
        "azure.endpoints.ca_cert",
        "system CA bundle",
    ] {
        assert!(message.contains(part), "no '{part}' in: {message}");
    }
}

/// With the endpoints' CA in `azure.endpoints.ca_cert`, an empty system store does not matter:
/// ARM (TLS, signed by that CA) and blob storage both work.
#[test]
fn the_configured_ca_is_enough_without_a_system_store() {
    let Some(azurite) = Azurite::start_for_test() else {
        return;
    };
    let sim = sim_with_storage(StorageBackend {
        blob_endpoint: azurite.blob_endpoint(),
        account_name: azurite.account_name().into(),
        account_key: azurite.account_key().into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let env = [
        ("SSL_CERT_FILE", empty.to_str().unwrap()),
        ("SSL_CERT_DIR", dir.path().to_str().unwrap()),
    ];
    for (method, arguments) in [
        ("has_vm", json!([VM_CID])),
        ("delete_stemcell", json!([LIGHT_STEMCELL])),
    ] {
        let request = json!({"method": method, "arguments": arguments, "context": {"director_uuid": "d"}, "api_version": 2});
        let run = support::run(&sim.config_path, request.to_string().as_bytes(), &env);
        assert_eq!(
            run.response["error"],
            Value::Null,
            "{method}: {}\n{}",
            run.stdout,
            run.stderr
        );
    }
}
