//! What the CPI's disk migrations rely on: a disk never changes zones in place, it is recreated
//! from a snapshot (of the same region) into the zone; importing a blob names its account.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn url(sim: &TestSim, rest: &str) -> String {
    format!(
        "{}/providers/Microsoft.Compute/{rest}?api-version={DISK}",
        sim.rg("rg")
    )
}

/// PUT and wait; answers the final GET body.
async fn create(sim: &TestSim, rest: &str, body: Value) -> Value {
    let r = sim.put(&url(sim, rest), &body).await;
    assert!(r.status.is_success(), "PUT {rest}: {} {}", r.status, r.body);
    if r.header("azure-asyncoperation").is_some() {
        let status = sim.wait_async(&r).await;
        assert_eq!(status["status"], "Succeeded", "{status}");
    }
    let g = sim.get(&url(sim, rest)).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.body);
    g.body
}

async fn delete(sim: &TestSim, rest: &str) {
    let r = sim.delete(&url(sim, rest)).await;
    assert!(r.status.is_success(), "DELETE {rest}: {}", r.body);
    if r.header("azure-asyncoperation").is_some() {
        sim.wait_async(&r).await;
    }
    assert_eq!(sim.get(&url(sim, rest)).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_regional_disk_moves_into_a_zone_only_by_recreation_from_a_snapshot() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let tags = json!({"user-agent": "bosh", "caching": "None"});
    let disk = create(
        &sim,
        "disks/d",
        json!({"location": "eastus", "sku": {"name": "Premium_LRS"}, "tags": tags,
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 7}}),
    )
    .await;
    assert!(disk.get("zones").is_none());

    // In place: refused, and the disk stays as it was.
    let mut zonal = json!({"location": "eastus", "sku": {"name": "Premium_LRS"}, "tags": tags, "zones": ["2"],
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 7}});
    let r = sim.put(&url(&sim, "disks/d"), &zonal).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert_eq!(r.code(), "PropertyChangeNotAllowed");
    assert_eq!(r.body["error"]["target"], "zones");
    assert_eq!(sim.get(&url(&sim, "disks/d")).await.body, disk);

    // A snapshot in another region cannot be the source.
    let snapshot = create(
        &sim,
        "snapshots/s",
        json!({"location": "eastus", "tags": {"original": "d"},
        "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk["id"]}}}),
    )
    .await;
    assert_eq!(snapshot["properties"]["diskSizeGB"], 7);
    let r = sim
        .put(
            &url(&sim, "disks/elsewhere"),
            &json!({"location": "westus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": snapshot["id"]}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.body["error"]["target"],
        "properties.creationData.sourceResourceId"
    );

    // Delete, then copy the snapshot into the zone under the same name.
    delete(&sim, "disks/d").await;
    zonal["properties"] =
        json!({"creationData": {"createOption": "Copy", "sourceResourceId": snapshot["id"]}});
    let moved = create(&sim, "disks/d", zonal).await;
    assert_eq!(moved["zones"], json!(["2"]));
    assert_eq!(moved["properties"]["diskSizeGB"], 7);
    assert_eq!(moved["tags"], tags);
    assert_eq!(moved["sku"]["name"], "Premium_LRS");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn copies_need_a_succeeded_source_and_imports_need_an_existing_account() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let disk = create(
        &sim,
        "disks/d",
        json!({"location": "eastus",
        "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 1}}),
    )
    .await;
    // A snapshot whose operation failed is no source.
    sim.handle
        .add_fault(bosh_azure_sim::Fault {
            method: Some("PUT".into()),
            path: "/snapshots/broken$".into(),
            nth: None,
            times: Some(1),
            probability: None,
            action: bosh_azure_sim::FaultAction::LroFailed {
                code: "InternalDiskManagementError".into(),
                message: "An internal error occurred.".into(),
                canceled: false,
                retry_after_secs: None,
            },
        })
        .unwrap();
    let r = sim
        .put(
            &url(&sim, "snapshots/broken"),
            &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": disk["id"]}}}),
        )
        .await;
    assert_eq!(sim.wait_async(&r).await["status"], "Failed");
    let broken = sim.get(&url(&sim, "snapshots/broken")).await.body;
    assert_eq!(broken["properties"]["provisioningState"], "Failed");
    let r = sim
        .put(
            &url(&sim, "disks/from-broken"),
            &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": broken["id"]}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // An import naming a storage account that does not exist is refused (Azure's examples of
    // same-subscription imports leave the account out, so it is not required).
    let r = sim
        .put(
            &url(&sim, "disks/imported"),
            &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Import",
                "sourceUri": "https://sa.blob.core.windows.net/bosh/bosh-data-1.vhd",
                "storageAccountId": format!("/subscriptions/{}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/missing", sim.handle.config().subscription_id)}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.body["error"]["target"],
        "properties.creationData.storageAccountId"
    );
    sim.handle.shutdown().await;
}
