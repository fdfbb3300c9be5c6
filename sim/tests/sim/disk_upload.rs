//! Direct upload to a managed disk: the `ReadyToUpload` → `ActiveUpload` → `Unattached` states,
//! the upload URL's demands (live SAS, disk-audience token, pages inside `uploadSizeBytes`),
//! what Azure refuses meanwhile, and the gallery sources: a finished upload disk, never a VHD
//! in an account that forbids Shared Key.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// 20 MiB plus the VHD footer: the smallest `uploadSizeBytes` the spec allows.
const MIN_UPLOAD: u64 = 20 * 1024 * 1024 + 512;

fn path(sim: &TestSim, rest: &str, v: &str) -> String {
    format!("{}/providers/{rest}?api-version={v}", sim.rg("rg"))
}

/// A token of the sim's identity for `scope`.
async fn token(sim: &TestSim, scope: &str) -> String {
    let c = sim.handle.config().clone();
    let url = format!(
        "{}/{}/oauth2/v2.0/token",
        sim.handle.base_url(),
        c.tenant_id
    );
    let answer: Value = sim
        .client
        .post(url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", c.client_id.as_str()),
            ("client_secret", c.client_secret.as_str()),
            ("scope", scope),
        ])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token JSON");
    answer["access_token"].as_str().expect("token").to_owned()
}

/// Put Page of `len` bytes at `offset` to an upload URL; returns the status and error code.
async fn put_page(
    sim: &TestSim,
    url: &str,
    bearer: Option<&str>,
    offset: u64,
    data: Vec<u8>,
) -> (StatusCode, Option<String>) {
    let end = offset + data.len() as u64 - 1;
    let mut request = sim
        .client
        .put(format!("{url}&comp=page"))
        .header("x-ms-version", "2021-08-06")
        .header("x-ms-page-write", "update")
        .header("x-ms-range", format!("bytes={offset}-{end}"))
        .body(data);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let answer = request.send().await.expect("Put Page sent");
    let code = answer
        .headers()
        .get("x-ms-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (answer.status(), code)
}

async fn finish(sim: &TestSim, accepted: &Resp) -> Resp {
    assert_eq!(accepted.status, StatusCode::ACCEPTED, "{}", accepted.body);
    sim.wait_location(accepted).await
}

async fn disk_state(sim: &TestSim, disk: &str) -> Value {
    sim.get(disk).await.body["properties"]["diskState"].clone()
}

async fn gallery_definition(sim: &TestSim) -> String {
    let g = path(sim, "Microsoft.Compute/galleries/gal", GALLERY);
    assert!(
        sim.put(&g, &json!({"location": "eastus"}))
            .await
            .status
            .is_success()
    );
    let d = path(
        sim,
        "Microsoft.Compute/galleries/gal/images/ubuntu",
        GALLERY,
    );
    let r = sim.put(&d, &json!({"location": "eastus", "properties": {"identifier": {"publisher": "bosh", "offer": "ubuntu", "sku": "gen1"}, "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V1"}})).await;
    assert!(r.status.is_success(), "{}", r.body);
    sim.wait_async(&r).await;
    "Microsoft.Compute/galleries/gal/images/ubuntu/versions".to_owned()
}

fn version_body(source: Value) -> Value {
    json!({"location": "eastus", "properties": {
        "storageProfile": {"osDiskImage": {"source": source}},
        "publishingProfile": {"replicaCount": 1, "targetRegions": [{"name": "eastus"}]}
    }})
}

#[tokio::test]
async fn an_upload_disk_goes_through_azures_upload_states() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let versions = gallery_definition(&sim).await;
    let disk = path(&sim, "Microsoft.Compute/disks/staging", DISK);
    let body = |size: u64| {
        json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "properties": {
            "osType": "Linux", "hyperVGeneration": "V1",
            "creationData": {"createOption": "Upload", "uploadSizeBytes": size},
            "dataAccessAuthMode": "AzureActiveDirectory"}})
    };
    // Out of the spec's bounds, or not whole MiB before the footer.
    for bad in [MIN_UPLOAD - 512, 35_183_298_347_520 + 512, MIN_UPLOAD + 512] {
        let r = sim.put(&disk, &body(bad)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.body);
        assert_eq!(r.code(), "InvalidParameter");
    }
    let r = sim.put(&disk, &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Upload"}}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    let created = sim.put(&disk, &body(MIN_UPLOAD)).await;
    finish(&sim, &created).await;
    let read = sim.get(&disk).await.body;
    assert_eq!(read["properties"]["diskState"], "ReadyToUpload");
    assert_eq!(read["properties"]["diskSizeGB"], 1);
    let disk_id = read["id"].as_str().expect("id").to_owned();

    // Not a source until the upload is over.
    let v1 = path(&sim, &format!("{versions}/1.0.0"), GALLERY);
    let r = sim.put(&v1, &version_body(json!({"id": disk_id}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.code(), "OperationNotAllowed");

    let grant = format!(
        "{}/providers/Microsoft.Compute/disks/staging/beginGetAccess?api-version={DISK}",
        sim.rg("rg")
    );
    let r = sim.post(&grant, Some(&json!({"access": "Write"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let accepted = sim
        .post(
            &grant,
            Some(&json!({"access": "Write", "durationInSeconds": 3600})),
        )
        .await;
    let status = sim.wait_async(&accepted).await;
    let in_status = status["properties"]["output"]["accessSAS"]
        .as_str()
        .expect("accessSAS in the operation status")
        .to_owned();
    let done = finish(&sim, &accepted).await;
    assert_eq!(done.status, StatusCode::OK);
    let url = done.body["accessSAS"]
        .as_str()
        .expect("accessSAS")
        .to_owned();
    assert_eq!(url, in_status);
    assert!(url.contains("&sig="), "{url}");
    assert_eq!(disk_state(&sim, &disk).await, "ActiveUpload");
    // A second grant while the first is live is refused.
    let r = sim
        .post(
            &grant,
            Some(&json!({"access": "Write", "durationInSeconds": 3600})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    let r = sim.delete(&disk).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let r = sim.put(&v1, &version_body(json!({"id": disk_id}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // The URL wants a token for exactly https://disk.azure.com/ besides its SAS.
    let disk_token = token(&sim, "https://disk.azure.com//.default").await;
    let page = vec![7u8; 512];
    for bearer in [
        None,
        Some(token(&sim, "https://storage.azure.com/.default").await),
        Some(token(&sim, "https://disk.azure.com/.default").await),
        Some("not-a-token".to_owned()),
    ] {
        let (status, code) = put_page(&sim, &url, bearer.as_deref(), 0, page.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{bearer:?}");
        assert_eq!(code.as_deref(), Some("InvalidAuthenticationInfo"));
    }
    let forged = url.replace("&sig=", "&sig=0");
    let (status, _) = put_page(&sim, &forged, Some(&disk_token), 0, page.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = put_page(&sim, &url, Some(&disk_token), 0, page.clone()).await;
    assert_eq!(status, StatusCode::CREATED);
    let mut footer = b"conectix".to_vec();
    footer.resize(512, 0);
    let (status, _) = put_page(&sim, &url, Some(&disk_token), MIN_UPLOAD - 512, footer).await;
    assert_eq!(status, StatusCode::CREATED);
    for (offset, len) in [(MIN_UPLOAD, 512), (256, 512), (0, 300)] {
        let (status, _) = put_page(&sim, &url, Some(&disk_token), offset, vec![1; len]).await;
        assert_ne!(status, StatusCode::CREATED, "{offset}+{len}");
    }
    let (status, code) = put_page(&sim, &url, Some(&disk_token), MIN_UPLOAD, page.clone()).await;
    assert_eq!(
        (status, code.as_deref()),
        (StatusCode::RANGE_NOT_SATISFIABLE, Some("InvalidPageRange"))
    );
    let inventory = sim.handle.inventory();
    let stored = inventory["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .find(|r| r["id"] == disk_id)
        .expect("the disk");
    assert_eq!(stored["hidden"]["upload"]["writtenBytes"], 1024);
    assert_eq!(stored["hidden"]["upload"]["footerWritten"], true);

    let revoke = grant.replace("beginGetAccess", "endGetAccess");
    let r = sim.post(&revoke, None).await;
    finish(&sim, &r).await;
    assert_eq!(disk_state(&sim, &disk).await, "Unattached");
    let (status, _) = put_page(&sim, &url, Some(&disk_token), 0, page).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "a revoked URL still writes");

    let r = sim.put(&v1, &version_body(json!({"id": disk_id}))).await;
    assert!(r.status.is_success(), "{}", r.body);
    sim.wait_async(&r).await;
    let r = sim.delete(&disk).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.body);
}

#[tokio::test]
async fn write_access_is_only_for_a_disk_created_for_upload() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let disk = path(&sim, "Microsoft.Compute/disks/data", DISK);
    let r = sim
        .put(
            &disk,
            &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 4}}),
        )
        .await;
    finish(&sim, &r).await;
    let grant = format!(
        "{}/providers/Microsoft.Compute/disks/data/beginGetAccess?api-version={DISK}",
        sim.rg("rg")
    );
    let r = sim
        .post(
            &grant,
            Some(&json!({"access": "Write", "durationInSeconds": 60})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.code(), "OperationNotAllowed");
}

/// Azure documents a VHD source only with listKeys permission on its account: the sim refuses
/// one in an account that forbids Shared Key.
#[tokio::test]
async fn a_gallery_version_from_a_vhd_in_a_keyless_account_is_refused() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let versions = gallery_definition(&sim).await;
    let sa = path(&sim, "Microsoft.Storage/storageAccounts/keyless", STORAGE);
    let r = sim
        .put(
            &sa,
            &json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
                    "properties": {"allowSharedKeyAccess": false}}),
        )
        .await;
    let account = sim.wait_location(&r).await.body;
    let v = path(&sim, &format!("{versions}/1.0.0"), GALLERY);
    let r = sim
        .put(
            &v,
            &version_body(json!({"storageAccountId": account["id"],
                "uri": "https://keyless.blob.core.windows.net/stemcell/root.vhd"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.code(), "InvalidParameter");
    let message = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("does not allow Shared Key access"),
        "{message}"
    );
}
