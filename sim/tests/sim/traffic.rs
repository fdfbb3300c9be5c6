//! Conformance mode: one `oav validate-traffic` file per ARM request, nothing else written.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn traffic_files(dir: &std::path::Path) -> Vec<(String, Value)> {
    let mut files: Vec<(String, Value)> = std::fs::read_dir(dir)
        .expect("traffic dir exists")
        .map(|e| {
            let path = e.expect("dir entry").path();
            let text = std::fs::read_to_string(&path).expect("traffic file reads");
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (
                name,
                serde_json::from_str(&text).expect("traffic file is JSON"),
            )
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[tokio::test]
async fn writes_one_file_per_arm_request_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let traffic = dir.path().join("traffic");
    let sim = TestSim::start_with(bosh_azure_sim::SimConfig {
        traffic_dir: Some(traffic.clone()),
        ..Default::default()
    })
    .await;
    // The token request TestSim made is not ARM: nothing written yet.
    assert!(traffic_files(&traffic).is_empty());

    let url = format!("{}?api-version={RES}", sim.rg("tg"));
    let r = sim
        .put(&url, &json!({"location": "eastus", "tags": {"k": "v"}}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let missing = sim
        .get(&format!("{}?api-version={RES}", sim.rg("nope")))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    // A delete answers 202 with a Location the client polls: the poll is not an operation of
    // any spec, so it is not written.
    let r = sim.delete(&url).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let done = sim.wait_location(&r).await;
    assert!(done.status.is_success());
    // Control API and IMDS are not ARM either.
    let r = sim.get("/_sim/inventory").await;
    assert_eq!(r.status, StatusCode::OK);
    let imds = format!(
        "{}/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/",
        sim.handle.imds_url()
    );
    let _ = reqwest::Client::new()
        .get(imds)
        .header("Metadata", "true")
        .send()
        .await
        .expect("IMDS answers");

    let files = traffic_files(&traffic);
    let summary: Vec<(String, String)> = files
        .iter()
        .map(|(_, v)| {
            (
                v["liveRequest"]["method"].as_str().unwrap().to_string(),
                v["liveResponse"]["statusCode"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [("PUT", "201"), ("GET", "404"), ("DELETE", "202")]
        .iter()
        .map(|(m, s)| (m.to_string(), s.to_string()))
        .collect();
    assert_eq!(summary, expected, "files: {files:#?}");

    let (name, put) = &files[0];
    assert!(name.ends_with("-000001-PUT.json"), "{name}");
    let base = sim.handle.base_url();
    assert_eq!(
        put["liveRequest"]["url"],
        format!("{base}{}", url).as_str(),
        "full URL with api-version"
    );
    assert_eq!(put["liveRequest"]["body"]["tags"]["k"], "v");
    assert_eq!(put["liveResponse"]["body"]["name"], "tg");
    assert!(put["liveResponse"]["headers"]["x-ms-request-id"].is_string());
    assert_eq!(
        put["liveResponse"]["headers"]["content-type"],
        "application/json; charset=utf-8"
    );
    let delete = &files[2].1;
    assert!(delete["liveResponse"].get("body").is_none());
    assert!(delete["liveResponse"]["headers"]["location"].is_string());
    for (name, file) in &files {
        assert!(
            file["liveRequest"]["headers"]
                .get("authorization")
                .is_none(),
            "{name}"
        );
        let text = file.to_string();
        assert!(!text.contains(&sim.token), "{name} leaks the token");
        assert!(!text.contains("Bearer"), "{name} leaks the token");
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn unusable_traffic_dir_fails_start_with_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").expect("write");
    let err = bosh_azure_sim::start(bosh_azure_sim::SimConfig {
        traffic_dir: Some(file.join("traffic")),
        ..Default::default()
    })
    .await
    .err()
    .expect("start fails");
    assert!(err.to_string().contains("traffic directory"), "{err}");
}

#[tokio::test]
async fn sims_sharing_a_directory_do_not_overwrite_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = bosh_azure_sim::SimConfig {
        traffic_dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    for _ in 0..2 {
        let sim = TestSim::start_with(config.clone()).await;
        let r = sim.get(&format!("{}?api-version={RES}", sim.rg("g"))).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        sim.handle.shutdown().await;
    }
    assert_eq!(traffic_files(dir.path()).len(), 2);
}
