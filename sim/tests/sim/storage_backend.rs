//! With a storage backend configured, storage accounts point at it, listKeys returns its key,
//! and source blobs are checked with a Shared Key HEAD. The backend here is a small loopback
//! stand-in that knows one blob (the signature itself was checked by hand against Azurite 3.37).

use crate::common::*;
use axum::http::{HeaderMap, StatusCode as AxStatus};
use bosh_azure_sim::{SimConfig, StorageBackend};
use reqwest::StatusCode;
use serde_json::json;

async fn fake_blob_service() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new().fallback(|uri: axum::http::Uri, headers: HeaderMap| async move {
        let signed = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("SharedKey devstoreaccount1:"))
            && headers.contains_key("x-ms-date")
            && headers.contains_key("x-ms-version");
        if !signed {
            return (AxStatus::FORBIDDEN, [("content-length", "0")]);
        }
        if uri.path() == "/devstoreaccount1/stemcell/root.vhd" {
            (AxStatus::OK, [("content-length", "3221225984")])
        } else {
            (AxStatus::NOT_FOUND, [("content-length", "0")])
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}/devstoreaccount1")
}

#[tokio::test]
async fn storage_backend_endpoints_keys_and_blob_checks() {
    let endpoint = fake_blob_service().await;
    let key =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    let sim = TestSim::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: endpoint.parse().unwrap(),
            account_name: "devstoreaccount1".into(),
            account_key: key.into(),
        }),
        ..SimConfig::default()
    })
    .await;
    sim.group("rg").await;
    let sa = format!(
        "{}/providers/Microsoft.Storage/storageAccounts/stemcells?api-version={STORAGE}",
        sim.rg("rg")
    );
    let r = sim
        .put(
            &sa,
            &json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
        )
        .await;
    let account = sim.wait_location(&r).await.body;
    let blob = account["properties"]["primaryEndpoints"]["blob"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(blob, format!("{endpoint}/"));
    let keys = sim.post(&format!("{}/providers/Microsoft.Storage/storageAccounts/stemcells/listKeys?api-version={STORAGE}", sim.rg("rg")), None).await;
    assert_eq!(keys.body["keys"][0]["value"], key);
    // The key never reaches the request log.
    assert!(
        !serde_json::to_string(&sim.handle.request_log())
            .unwrap()
            .contains(key)
    );
    let g = format!("{}/providers/Microsoft.Compute/galleries/gal", sim.rg("rg"));
    assert!(
        sim.put(
            &format!("{g}?api-version={GALLERY}"),
            &json!({"location": "eastus"})
        )
        .await
        .status
        .is_success()
    );
    let def = json!({"location": "eastus", "properties": {"identifier": {"publisher": "p", "offer": "o", "sku": "s"}, "osType": "Linux", "osState": "Generalized"}});
    assert!(
        sim.put(&format!("{g}/images/u?api-version={GALLERY}"), &def)
            .await
            .status
            .is_success()
    );
    let version = |uri: String| json!({"location": "eastus", "properties": {"storageProfile": {"osDiskImage": {"source": {"storageAccountId": account["id"], "uri": uri}}}}});
    let r = sim
        .put(
            &format!("{g}/images/u/versions/1.0.0?api-version={GALLERY}"),
            &version(format!("{blob}stemcell/root.vhd")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(
        r.body["properties"]["storageProfile"]["osDiskImage"]["sizeInGB"],
        4
    );
    let r = sim
        .put(
            &format!("{g}/images/u/versions/1.0.1?api-version={GALLERY}"),
            &version(format!("{blob}stemcell/missing.vhd")),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body["error"]["target"],
        "properties.storageProfile.osDiskImage.source.uri"
    );
    // A blob outside the backend cannot exist.
    let r = sim
        .put(
            &format!("{g}/images/u/versions/1.0.2?api-version={GALLERY}"),
            &version("https://elsewhere.blob.core.windows.net/c/root.vhd".into()),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Disk import checks the blob too.
    let r = sim.put(&format!("{}/providers/Microsoft.Compute/disks/d?api-version={DISK}", sim.rg("rg")), &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Import", "sourceUri": format!("{blob}stemcell/missing.vhd"), "storageAccountId": account["id"]}}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    sim.handle.shutdown().await;
}
