//! With debug_mode on, every kind of call is logged, and no secret value reaches the log.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use azure_core::credentials::Secret;
use serde_json::json;
use url::Url;

use super::support::*;
use crate::azure::settings::{Authority, CredentialSettings};
use crate::azure::storage::StorageAccounts;
use crate::azure::{ApiKind, ArmClient, Deadline, PostSafety, ResourcePath};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

/// A process-wide subscriber: a thread-scoped one can miss events when another test thread
/// caches a callsite's interest first. The secrets below are unique to this test, so other
/// tests' lines in the buffer cannot mask a leak.
fn global_capture() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .finish();
            // Another test binary module may have installed one first; then nothing is captured
            // and the assertions on the log's content fail loudly.
            let _ = tracing::subscriber::set_global_default(subscriber);
            captured
        })
        .clone()
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const CLIENT_SECRET: &str = "client-secret-Zq8~vT3";
const ACCESS_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.access-token-body.sig";
const ACCOUNT_KEY: &str = "YWNjb3VudC1rZXktdmFsdWUtMTIzNDU2Nzg5MA==";
const CUSTOM_DATA: &str = "eyJhZ2VudF9pZCI6ImFnZW50LXNlY3JldCJ9";
const ADMIN_PASSWORD: &str = "Adm1n-P@ssw0rd!";
const ENV_SECRET: &str = "blobstore-password-77";
const SAS_SIG: &str = "sasSignatureAbc123";

#[tokio::test]
async fn debug_mode_logs_every_call_and_no_secret() {
    let server = TestServer::https(|ctx| {
        let req = ctx.req;
        if req.path.ends_with("/oauth2/v2.0/token") {
            return Reply::json(200, json!({"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}));
        }
        if req.path.ends_with("/listKeys") {
            return Reply::json(200, json!({"keys": [{"keyName": "key1", "value": ACCOUNT_KEY, "permissions": "FULL"}]}));
        }
        if req.path.contains("/storageAccounts/") {
            return Reply::json(200, json!({
                "name": "stemcells", "location": "westeurope",
                "properties": {"provisioningState": "Succeeded",
                    "primaryEndpoints": {"blob": format!("https://stemcells.blob.core.windows.net/?sv=1&sig={SAS_SIG}")}}
            }));
        }
        if req.method == "PUT" {
            // Echo the body back, as ARM does (minus secrets it never returns, but be harsh).
            return Reply {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into()), ("x-ms-request-id".into(), "req-123".into())],
                body: String::from_utf8_lossy(&req.body).into_owned(),
            };
        }
        Reply::json(200, json!({"name": "vm-1", "properties": {"storageProfile": {"osDisk": {"vhd": {"uri": format!("https://a.blob/c/d.vhd?sig={SAS_SIG}")}}}}}))
    })
    .await;

    let captured = global_capture();

    let mut settings = imds_settings(&server.base, &server.base);
    settings.debug_mode = true;
    settings.authority = Authority::EntraId {
        host: Url::parse(&server.base).unwrap(),
    };
    settings.credential = CredentialSettings::ClientSecret {
        client_id: "app-id".into(),
        secret: Secret::new(CLIENT_SECRET),
    };
    settings.extra_ca_pem = server.ca_pem.clone();
    let arm = ArmClient::new(&settings).unwrap();
    let deadline = Deadline::after(Duration::from_secs(20));
    let vm = ResourcePath::resource_group(SUBSCRIPTION, "rg")
        .provider("Microsoft.Compute")
        .child("virtualMachines", "vm-1");
    let body = json!({
        "location": "westeurope",
        "properties": {"osProfile": {"computerName": "vm-1", "adminUsername": "vcap",
            "adminPassword": ADMIN_PASSWORD, "customData": CUSTOM_DATA},
            "env": {"bosh": {"blobstore": {"password": ENV_SECRET}}}}
    });
    let _: serde_json::Value = arm
        .put(&vm, ApiKind::Compute, &body, deadline)
        .await
        .unwrap();
    let _: Option<serde_json::Value> = arm
        .get(
            &vm.clone().query("sig", SAS_SIG),
            ApiKind::Compute,
            deadline,
        )
        .await
        .unwrap();
    let _: Option<serde_json::Value> = arm
        .post(
            &vm.clone().segment("restart"),
            ApiKind::Compute,
            Some(&json!({"customData": CUSTOM_DATA})),
            PostSafety::Idempotent,
            deadline,
        )
        .await
        .unwrap();
    let storage = StorageAccounts::new(arm.clone(), "rg".into(), Some("stemcells".into()));
    let access = storage.default_access(deadline).await.unwrap();
    assert_eq!(
        access.auth.account_key().map_or("", |k| k.secret()),
        ACCOUNT_KEY
    );
    assert!(!format!("{access:?}").contains(ACCOUNT_KEY));

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for secret in [
        CLIENT_SECRET,
        ACCESS_TOKEN,
        "access-token-body",
        ACCOUNT_KEY,
        CUSTOM_DATA,
        ADMIN_PASSWORD,
        ENV_SECRET,
        SAS_SIG,
    ] {
        assert!(
            !log.contains(secret),
            "{secret} leaked into the log:\n{log}"
        );
    }
    // The log is not empty: each call is there with its status and request id, bodies too.
    let ours = log
        .lines()
        .filter(|l| l.contains("ARM request") && l.contains(&server.addr.to_string()))
        .count();
    assert!(ours >= 5, "{log}");
    assert!(log.contains("req-123"), "{log}");
    assert!(log.contains("listKeys"), "{log}");
    assert!(
        log.contains("request body") && log.contains("vcap"),
        "{log}"
    );
}
