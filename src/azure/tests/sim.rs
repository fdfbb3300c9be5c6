//! The ARM client against azure-sim (built from Azure's specs, sharing no types with this
//! layer), through the client's API only.

use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use bosh_azure_sim::{Fault, FaultAction, LoggedRequest, SimConfig, SimHandle};
use serde_json::{Value, json};
use url::Url;

use super::support::fast_timings;
use crate::azure::settings::{Authority, CredentialSettings, DEFAULT_ISV_TRACKING_GUID};
use crate::azure::storage::StorageAccounts;
use crate::azure::{
    ApiKind, ArmClient, AzureSettings, CloudKind, Deadline, Deleted, Error, ResourcePath,
};

async fn start(config: SimConfig) -> SimHandle {
    bosh_azure_sim::start(config).await.expect("sim starts")
}

fn settings(sim: &SimHandle, credential: CredentialSettings) -> AzureSettings {
    let c = sim.config();
    AzureSettings {
        cloud: CloudKind::Public,
        resource_manager_url: Url::parse(&format!("{}/", sim.base_url())).unwrap(),
        authority: Authority::EntraId {
            host: Url::parse(sim.base_url()).unwrap(),
        },
        token_audience: format!("{}/", sim.base_url()),
        tenant_id: c.tenant_id.clone(),
        subscription_id: c.subscription_id.clone(),
        credential,
        extra_ca_pem: Some(sim.ca_pem().to_owned()),
        isv_tracking_guid: DEFAULT_ISV_TRACKING_GUID.into(),
        debug_mode: false,
        timings: fast_timings(),
        cpi_method: None,
        method_deadline: None,
        storage_authentication: Default::default(),
        storage_audience: None,
        disk_audience: None,
    }
}

fn secret_credential(sim: &SimHandle) -> CredentialSettings {
    CredentialSettings::ClientSecret {
        client_id: sim.config().client_id.clone(),
        secret: Secret::new(sim.config().client_secret.clone()),
    }
}

fn client(sim: &SimHandle) -> ArmClient {
    ArmClient::new(&settings(sim, secret_credential(sim))).unwrap()
}

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(30))
}

fn rg(sim: &SimHandle, name: &str) -> ResourcePath {
    ResourcePath::resource_group(&sim.config().subscription_id, name)
}

fn nsg(sim: &SimHandle, name: &str) -> ResourcePath {
    rg(sim, "bosh")
        .provider("Microsoft.Network")
        .child("networkSecurityGroups", name)
}

async fn create_rg(arm: &ArmClient, sim: &SimHandle) {
    let _: Value = arm
        .put(
            &rg(sim, "bosh"),
            ApiKind::Resources,
            &json!({"location": sim.config().location}),
            deadline(),
        )
        .await
        .unwrap();
}

fn token_requests(sim: &SimHandle) -> Vec<LoggedRequest> {
    sim.request_log()
        .into_iter()
        .filter(|r| r.path.contains("/oauth2/"))
        .collect()
}

fn requests_to(sim: &SimHandle, fragment: &str) -> Vec<LoggedRequest> {
    sim.request_log()
        .into_iter()
        .filter(|r| r.path.contains(fragment))
        .collect()
}

fn at(r: &LoggedRequest) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(&r.time, &time::format_description::well_known::Rfc3339).unwrap()
}

fn fault(method: &str, path: &str, times: u32, action: FaultAction) -> Fault {
    Fault {
        method: Some(method.into()),
        path: path.into(),
        nth: None,
        times: Some(times),
        probability: None,
        action,
    }
}

/// A self-signed client certificate: its PEM, and a file holding its key and certificate as
/// `azure.certificate` would.
fn client_certificate() -> (String, tempfile::NamedTempFile) {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["bosh".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let mut pem_file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(
        &mut pem_file,
        format!("{}{}", key.serialize_pem(), cert.pem()).as_bytes(),
    )
    .unwrap();
    (cert.pem(), pem_file)
}

#[tokio::test]
async fn tokens_for_every_credential_kind_the_sim_supports() {
    let (cert_pem, pem_file) = client_certificate();
    let sim = start(SimConfig {
        client_certificate_pem: Some(cert_pem),
        ..SimConfig::default()
    })
    .await;
    let client_id = sim.config().client_id.clone();
    let identity = sim.config().managed_identity_resource_ids[0].clone();
    let imds = Url::parse(&format!(
        "{}/metadata/identity/oauth2/token",
        sim.imds_url()
    ))
    .unwrap();
    let adfs = Url::parse(&format!("{}/adfs/oauth2/token", sim.base_url())).unwrap();
    let cases: Vec<(&str, Authority, CredentialSettings)> = vec![
        (
            "client secret (Entra v2)",
            Authority::EntraId {
                host: Url::parse(sim.base_url()).unwrap(),
            },
            secret_credential(&sim),
        ),
        (
            "certificate (Entra v2)",
            Authority::EntraId {
                host: Url::parse(sim.base_url()).unwrap(),
            },
            CredentialSettings::Certificate {
                client_id: client_id.clone(),
                pem_path: pem_file.path().to_owned(),
            },
        ),
        (
            "client secret (ADFS v1)",
            Authority::Adfs {
                token_endpoint: adfs.clone(),
            },
            secret_credential(&sim),
        ),
        (
            "certificate (ADFS v1)",
            Authority::Adfs {
                token_endpoint: adfs,
            },
            CredentialSettings::Certificate {
                client_id,
                pem_path: pem_file.path().to_owned(),
            },
        ),
        (
            "system-assigned managed identity",
            Authority::EntraId {
                host: Url::parse(sim.base_url()).unwrap(),
            },
            CredentialSettings::ManagedIdentity {
                resource_id: None,
                endpoint: Some(imds.clone()),
            },
        ),
        (
            "user-assigned managed identity",
            Authority::EntraId {
                host: Url::parse(sim.base_url()).unwrap(),
            },
            CredentialSettings::ManagedIdentity {
                resource_id: Some(identity),
                endpoint: Some(imds),
            },
        ),
    ];
    for (what, authority, credential) in cases {
        let mut s = settings(&sim, credential);
        s.authority = authority;
        let arm = ArmClient::new(&s).unwrap();
        let before = token_requests(&sim).len();
        let found: Option<Value> = arm
            .get(&rg(&sim, "absent"), ApiKind::Resources, deadline())
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(found.is_none(), "{what}");
        assert_eq!(token_requests(&sim).len(), before + 1, "{what}");
    }
    // A wrong secret: the sim's AADSTS answer becomes a hint naming the setting.
    let arm = ArmClient::new(&settings(
        &sim,
        CredentialSettings::ClientSecret {
            client_id: sim.config().client_id.clone(),
            secret: Secret::new("not-the-secret"),
        },
    ))
    .unwrap();
    let err = arm
        .get::<Value>(&rg(&sim, "absent"), ApiKind::Resources, deadline())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("azure.client_secret"), "{err}");
    sim.shutdown().await;
}

/// The `aud` claim of a JWT the sim issued.
fn audience_of(token: &Secret) -> String {
    use base64::Engine;
    let payload = token.secret().split('.').nth(1).unwrap_or_default();
    let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default();
    claims["aud"].as_str().unwrap_or_default().to_owned()
}

/// Blob storage tokens come from the same credential as ARM's, for the storage audience: a
/// certificate through Entra ID (v2, `scope`) and through ADFS (v1, `resource`), and a client
/// secret through ADFS.
#[tokio::test]
async fn certificate_and_adfs_credentials_get_storage_tokens() {
    const STORAGE: &str = "https://storage.azure.com/";
    let (cert_pem, pem_file) = client_certificate();
    let sim = start(SimConfig {
        client_certificate_pem: Some(cert_pem),
        ..SimConfig::default()
    })
    .await;
    let certificate = CredentialSettings::Certificate {
        client_id: sim.config().client_id.clone(),
        pem_path: pem_file.path().to_owned(),
    };
    let entra = Authority::EntraId {
        host: Url::parse(sim.base_url()).unwrap(),
    };
    let adfs = Authority::Adfs {
        token_endpoint: Url::parse(&format!("{}/adfs/oauth2/token", sim.base_url())).unwrap(),
    };
    let cases = [
        (
            "certificate (Entra v2)",
            entra,
            certificate.clone(),
            "/oauth2/v2.0/token",
        ),
        (
            "certificate (ADFS v1)",
            adfs.clone(),
            certificate,
            "/adfs/oauth2/token",
        ),
        (
            "client secret (ADFS v1)",
            adfs,
            secret_credential(&sim),
            "/adfs/oauth2/token",
        ),
    ];
    for (what, authority, credential, endpoint) in cases {
        let mut s = settings(&sim, credential);
        s.authority = authority;
        s.storage_audience = Some(STORAGE.into());
        let arm = ArmClient::new(&s).unwrap();
        let storage = arm.storage_credential().expect("a storage credential");
        let before = requests_to(&sim, endpoint).len();
        let token = storage
            .bearer()
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        // Entra v2 drops the trailing slash of the scope's resource; ADFS keeps `resource`.
        assert_eq!(
            audience_of(&token).trim_end_matches('/'),
            STORAGE.trim_end_matches('/'),
            "{what}"
        );
        assert_eq!(requests_to(&sim, endpoint).len(), before + 1, "{what}");
        // Cached: a second request sends nothing.
        storage.bearer().await.unwrap();
        assert_eq!(requests_to(&sim, endpoint).len(), before + 1, "{what}");
    }
    sim.shutdown().await;
}

#[tokio::test]
async fn token_refresh_ahead_of_expiry_and_after_a_401() {
    let sim = start(SimConfig {
        token_lifetime: Duration::from_secs(2),
        ..SimConfig::default()
    })
    .await;
    let arm = client(&sim);
    let probe = rg(&sim, "absent");
    let _: Option<Value> = arm
        .get(&probe, ApiKind::Resources, deadline())
        .await
        .unwrap();
    let _: Option<Value> = arm
        .get(&probe, ApiKind::Resources, deadline())
        .await
        .unwrap();
    assert_eq!(token_requests(&sim).len(), 1);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let _: Option<Value> = arm
        .get(&probe, ApiKind::Resources, deadline())
        .await
        .unwrap();
    assert_eq!(token_requests(&sim).len(), 2, "refreshed at half-life");
    // The sim has never answered 401 so far: refresh happened before expiry.
    assert!(sim.request_log().iter().all(|r| r.status != 401));

    sim.add_fault(fault(
        "GET",
        "/resourceGroups/absent$",
        1,
        FaultAction::Status {
            status: 401,
            code: Some("InvalidAuthenticationToken".into()),
            message: Some("The access token is invalid.".into()),
            retry_after_secs: None,
        },
    ))
    .unwrap();
    let found: Option<Value> = arm
        .get(&probe, ApiKind::Resources, deadline())
        .await
        .unwrap();
    assert!(found.is_none());
    assert_eq!(token_requests(&sim).len(), 3, "one forced refresh");
    let gets = requests_to(&sim, "/resourceGroups/absent");
    assert_eq!(
        gets.iter()
            .rev()
            .take(2)
            .map(|r| r.status)
            .collect::<Vec<_>>(),
        [404, 401]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_retry_after_forms_show_in_the_sims_log() {
    let sim = start(SimConfig::default()).await;
    let arm = client(&sim);
    let probe = rg(&sim, "absent");
    // Retry-After in seconds only.
    sim.add_fault(fault(
        "GET",
        "/resourceGroups/absent$",
        1,
        FaultAction::Throttle {
            retry_after_secs: 1,
            retry_after_ms: None,
        },
    ))
    .unwrap();
    let _: Option<Value> = arm
        .get(&probe, ApiKind::Resources, deadline())
        .await
        .unwrap();
    let log = requests_to(&sim, "/resourceGroups/absent");
    assert_eq!(log.iter().map(|r| r.status).collect::<Vec<_>>(), [429, 404]);
    let gap = at(&log[1]) - at(&log[0]);
    assert!(gap >= time::Duration::milliseconds(950), "{gap}");
    // The millisecond headers win over a long Retry-After.
    sim.reset();
    sim.add_fault(fault(
        "GET",
        "/resourceGroups/absent$",
        1,
        FaultAction::Throttle {
            retry_after_secs: 20,
            retry_after_ms: Some(300),
        },
    ))
    .unwrap();
    let started = Instant::now();
    let _: Option<Value> = arm
        .get(&probe, ApiKind::Resources, deadline())
        .await
        .unwrap();
    let log = requests_to(&sim, "/resourceGroups/absent");
    let gap = at(&log[1]) - at(&log[0]);
    assert!(gap >= time::Duration::milliseconds(280), "{gap}");
    assert!(started.elapsed() < Duration::from_secs(5));
    sim.shutdown().await;
}

#[tokio::test]
async fn bursts_resets_and_terminal_errors() {
    let sim = start(SimConfig::default()).await;
    let arm = client(&sim);
    create_rg(&arm, &sim).await;
    let status = |status: u16, code: &str| FaultAction::Status {
        status,
        code: Some(code.into()),
        message: Some(format!("injected {code}")),
        retry_after_secs: None,
    };

    // A burst of 503s recovers.
    sim.add_fault(fault(
        "GET",
        "/resourceGroups/bosh$",
        4,
        status(503, "ServiceUnavailable"),
    ))
    .unwrap();
    let found: Option<Value> = arm
        .get(&rg(&sim, "bosh"), ApiKind::Resources, deadline())
        .await
        .unwrap();
    assert!(found.is_some());

    // Connection resets recover for GET, PUT and DELETE.
    for method in ["GET", "PUT", "DELETE"] {
        sim.add_fault(fault(
            method,
            "/networkSecurityGroups/reset$",
            2,
            FaultAction::Reset,
        ))
        .unwrap();
    }
    let path = nsg(&sim, "reset");
    let _: Value = arm
        .put(
            &path,
            ApiKind::Network,
            &json!({"location": sim.config().location}),
            deadline(),
        )
        .await
        .unwrap();
    assert!(
        arm.get::<Value>(&path, ApiKind::Network, deadline())
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        arm.delete(&path, ApiKind::Network, deadline())
            .await
            .unwrap(),
        Deleted::Deleted
    );
    assert!(
        sim.faults()
            .iter()
            .all(|f| f.fired == f.fault.times.unwrap_or(0)),
        "{:?}",
        sim.faults()
    );

    // A terminal error fails on the first answer with Azure's code.
    sim.add_fault(fault(
        "PUT",
        "/networkSecurityGroups/bad$",
        100,
        status(400, "InvalidParameter"),
    ))
    .unwrap();
    let err = arm
        .put::<_, Value>(
            &nsg(&sim, "bad"),
            ApiKind::Network,
            &json!({"location": "eastus"}),
            deadline(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("InvalidParameter"), "{err:?}");
    assert!(
        crate::CpiError::from(err)
            .message()
            .contains("InvalidParameter")
    );
    assert_eq!(requests_to(&sim, "/networkSecurityGroups/bad").len(), 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn lros_through_async_operation_and_location_and_failures() {
    let sim = start(SimConfig {
        lro_in_progress_polls: 2,
        ..SimConfig::default()
    })
    .await;
    let arm = client(&sim);
    create_rg(&arm, &sim).await;
    let location = sim.config().location.clone();

    // NSG PUT: 201 + Azure-AsyncOperation, polled, then the resource read once.
    let created: Value = arm
        .put(
            &nsg(&sim, "nsg-1"),
            ApiKind::Network,
            &json!({"location": location}),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(created["properties"]["provisioningState"], "Succeeded");
    let reads = requests_to(&sim, "/networkSecurityGroups/nsg-1")
        .into_iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(reads, 1);

    // Disk PUT: 202 with both Azure-AsyncOperation and Location (the recorded import shape);
    // PATCH resizes through the same path.
    let disk = rg(&sim, "bosh")
        .provider("Microsoft.Compute")
        .child("disks", "bosh-disk-1");
    let created: Value = arm
        .put(
            &disk,
            ApiKind::Disks,
            &json!({"location": location, "sku": {"name": "Standard_LRS"},
                    "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 1}}),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(created["properties"]["diskSizeGB"], 1);
    assert_eq!(requests_to(&sim, "/disks/bosh-disk-1")[0].status, 202);
    let resized: Value = arm
        .patch(
            &disk,
            ApiKind::Disks,
            &json!({"properties": {"diskSizeGB": 2}}),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(resized["properties"]["diskSizeGB"], 2);
    assert_eq!(
        arm.delete(&disk, ApiKind::Disks, deadline()).await.unwrap(),
        Deleted::Deleted
    );
    assert!(
        arm.get::<Value>(&disk, ApiKind::Disks, deadline())
            .await
            .unwrap()
            .is_none()
    );

    // Storage account PUT: 202 + Location only.
    let account = rg(&sim, "bosh")
        .provider("Microsoft.Storage")
        .child("storageAccounts", "boshstemcells");
    let created: Value = arm
        .put(
            &account,
            ApiKind::Storage,
            &json!({"location": location, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(created["name"], "boshstemcells");
    let initial = &requests_to(&sim, "/storageAccounts/boshstemcells")[0];
    assert_eq!(initial.status, 202);

    // Resource group DELETE: 202 + Location.
    let extra = rg(&sim, "extra");
    let _: Value = arm
        .put(
            &extra,
            ApiKind::Resources,
            &json!({"location": location}),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(
        arm.delete(&extra, ApiKind::Resources, deadline())
            .await
            .unwrap(),
        Deleted::Deleted
    );
    assert!(
        arm.get::<Value>(&extra, ApiKind::Resources, deadline())
            .await
            .unwrap()
            .is_none()
    );

    // A Failed operation surfaces ARM's code and message.
    sim.add_fault(fault(
        "PUT",
        "/networkSecurityGroups/doomed$",
        1,
        FaultAction::LroFailed {
            code: "ZonalAllocationFailed".into(),
            message: "Allocation failed. We do not have sufficient capacity.".into(),
            canceled: false,
            retry_after_secs: None,
        },
    ))
    .unwrap();
    let err = arm
        .put::<_, Value>(
            &nsg(&sim, "doomed"),
            ApiKind::Network,
            &json!({"location": location}),
            deadline(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Terminal { .. }), "{err:?}");
    assert_eq!(err.code(), Some("ZonalAllocationFailed"));
    assert!(err.to_string().contains("sufficient capacity"), "{err}");
    sim.shutdown().await;
}

#[tokio::test]
async fn a_deadline_stops_an_endless_in_progress_lro() {
    let sim = start(SimConfig {
        lro_in_progress_polls: u32::MAX,
        ..SimConfig::default()
    })
    .await;
    let arm = client(&sim);
    create_rg(&arm, &sim).await;
    let started = Instant::now();
    let err = arm
        .put::<_, Value>(
            &nsg(&sim, "forever"),
            ApiKind::Network,
            &json!({"location": sim.config().location}),
            Deadline::after(Duration::from_millis(1500)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Deadline { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("networkSecurityGroups/forever") && text.contains("InProgress"),
        "{text}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
    sim.shutdown().await;
}

#[tokio::test]
async fn a_list_spanning_five_pages_returns_every_item() {
    let sim = start(SimConfig {
        page_size: 2,
        ..SimConfig::default()
    })
    .await;
    let location = sim.config().location.clone();
    let seeds: Vec<Value> = (0..10)
        .map(|i| {
            json!({
                "id": format!("/subscriptions/{}/resourceGroups/bosh/providers/Microsoft.Network/networkSecurityGroups/nsg-{i}", sim.config().subscription_id),
                "location": location,
            })
        })
        .collect();
    sim.seed(Value::Array(seeds)).unwrap();
    let arm = client(&sim);
    let path = rg(&sim, "bosh")
        .provider("Microsoft.Network")
        .segment("networkSecurityGroups");
    let all: Vec<Value> = arm.list(&path, ApiKind::Network, deadline()).await.unwrap();
    let mut names: Vec<String> = all
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        (0..10).map(|i| format!("nsg-{i}")).collect::<Vec<_>>()
    );
    assert_eq!(requests_to(&sim, "/networkSecurityGroups").len(), 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn storage_access_for_the_blob_layer() {
    let sim = start(SimConfig::default()).await;
    let arm = client(&sim);
    create_rg(&arm, &sim).await;
    let account = rg(&sim, "bosh")
        .provider("Microsoft.Storage")
        .child("storageAccounts", "boshdefault");
    let _: Value = arm
        .put(
            &account,
            ApiKind::Storage,
            &json!({"location": sim.config().location, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
            deadline(),
        )
        .await
        .unwrap();
    let storage = StorageAccounts::new(arm, "bosh".into(), Some("boshdefault".into()));
    let access = storage.default_access(deadline()).await.unwrap();
    assert_eq!(access.account_name, "boshdefault");
    assert!(
        access.blob_endpoint.as_str().contains("boshdefault"),
        "{}",
        access.blob_endpoint
    );
    assert!(
        !access
            .auth
            .account_key()
            .map_or("", |k| k.secret())
            .is_empty()
    );
    assert_eq!(storage.list(deadline()).await.unwrap().len(), 1);
    sim.shutdown().await;
}
