//! Resource groups and the generic ARM behaviour: api-version checks, create-or-update,
//! errors, deletes through `Location`, headers.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn resource_group_lifecycle() {
    let sim = TestSim::start().await;
    let url = format!("{}?api-version={RES}", sim.rg("MyGroup"));
    let r = sim
        .put(&url, &json!({"location": "East US", "tags": {"a": "b"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["location"], "eastus");
    assert_eq!(r.body["properties"]["provisioningState"], "Succeeded");
    assert!(r.header("x-ms-request-id").is_some());
    assert!(r.header("x-ms-correlation-request-id").is_some());
    assert!(
        r.header("x-ms-ratelimit-remaining-subscription-writes")
            .is_some()
    );
    // Idempotent update, case-insensitive id, original casing kept.
    let r = sim
        .put(
            &format!("{}?api-version={RES}", sim.rg("mygroup")),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body["id"]
            .as_str()
            .unwrap()
            .ends_with("/resourceGroups/MyGroup")
    );
    let r = sim.get(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.header("x-ms-ratelimit-remaining-subscription-reads")
            .is_some()
    );
    // Location cannot change.
    let r = sim.put(&url, &json!({"location": "westus"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "InvalidResourceGroupLocation");
    // Missing location.
    let r = sim
        .put(
            &format!("{}?api-version={RES}", sim.rg("other")),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "LocationRequired");
    // Delete: 202 + Location, polled to 200, then gone.
    let r = sim.delete(&url).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let done = sim.wait_location(&r).await;
    assert_eq!(done.status, StatusCode::OK);
    let r = sim.get(&url).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "ResourceGroupNotFound");
    let r = sim.delete(&url).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn api_version_is_required_and_checked() {
    let sim = TestSim::start().await;
    let r = sim.get(&sim.rg("g")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "MissingApiVersionParameter");
    let r = sim
        .get(&format!("{}?api-version=2099-01-01", sim.rg("g")))
        .await;
    assert_eq!(r.code(), "InvalidApiVersionParameter");
    sim.group("g").await;
    let r = sim
        .get(&format!(
            "{}/providers/Microsoft.Compute/virtualMachines/vm?api-version=2099-01-01",
            sim.rg("g")
        ))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.code(), "NoRegisteredProviderFound");
    // Every version the CPI uses is accepted.
    for (path, v) in [
        ("providers/Microsoft.Compute/virtualMachines/vm", COMPUTE),
        ("providers/Microsoft.Compute/availabilitySets/as", COMPUTE),
        ("providers/Microsoft.Compute/images/i", COMPUTE),
        ("providers/Microsoft.Compute/disks/d", DISK),
        ("providers/Microsoft.Compute/snapshots/s", DISK),
        ("providers/Microsoft.Compute/galleries/g", GALLERY),
        ("providers/Microsoft.Network/networkInterfaces/n", NETWORK),
        ("providers/Microsoft.Storage/storageAccounts/s", STORAGE),
    ] {
        let r = sim
            .get(&format!("{}/{path}?api-version={v}", sim.rg("g")))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.code(), "ResourceNotFound", "{path}");
    }
    let r = sim
        .get(&format!(
            "{}/providers/Microsoft.Compute/disks/d?api-version={DISK}",
            sim.rg("missing")
        ))
        .await;
    assert_eq!(r.code(), "ResourceGroupNotFound");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn resource_group_list_pages_with_next_link() {
    let sim = TestSim::start().await;
    for i in 0..5 {
        sim.group(&format!("g{i}")).await;
    }
    let mut url = format!("{}/resourcegroups?api-version={RES}", sim.sub());
    let mut names = Vec::new();
    let mut pages = 0;
    loop {
        let r = sim.get(&url).await;
        assert_eq!(r.status, StatusCode::OK);
        pages += 1;
        for g in r.body["value"].as_array().unwrap() {
            names.push(g["name"].as_str().unwrap().to_string());
        }
        match r.body["nextLink"].as_str() {
            Some(next) => url = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(names, ["g0", "g1", "g2", "g3", "g4"]);
    sim.handle.shutdown().await;
}

/// Azure's front end (Http.sys) refuses oversized URLs with an answer, not a dropped
/// connection: 414 past 16 KiB, 400 for a path segment past 260 characters.
#[tokio::test]
async fn oversized_urls_are_answered_as_azure_front_end_answers() {
    let sim = TestSim::start().await;
    // (reqwest cannot build a URL past 64 KiB at all.)
    for size in [20_000, 60_000] {
        let url = format!("{}?api-version={RES}", sim.rg(&"g".repeat(size)));
        let r = sim.get(&url).await;
        assert_eq!(r.status, StatusCode::URI_TOO_LONG, "{size}");
    }
    let url = format!("{}?api-version={RES}", sim.rg(&"g".repeat(261)));
    assert_eq!(sim.get(&url).await.status, StatusCode::BAD_REQUEST);
    let url = format!("{}?api-version={RES}", sim.rg(&"g".repeat(90)));
    assert_eq!(sim.get(&url).await.status, StatusCode::NOT_FOUND);
}
