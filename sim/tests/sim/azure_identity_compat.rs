//! The official `azure_identity` crate gets tokens from the sim, and ARM accepts them.

use std::sync::Arc;

use crate::common::*;
use azure_core::cloud::{Audiences, CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, Transport};
use azure_identity::{ClientSecretCredential, ClientSecretCredentialOptions};
use reqwest::StatusCode;

fn options(sim: &TestSim) -> ClientSecretCredentialOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = sim.handle.base_url().to_string();
    cloud.audiences = Audiences::new();
    ClientSecretCredentialOptions {
        client_options: ClientOptions {
            transport: Some(Transport::new(Arc::new(client_for(&sim.handle)))),
            cloud: Some(Arc::new(CloudConfiguration::Custom(cloud))),
            ..ClientOptions::default()
        },
    }
}

#[tokio::test]
async fn client_secret_credential_works_against_the_sim() {
    let sim = TestSim::start().await;
    let c = sim.handle.config().clone();
    let cred = ClientSecretCredential::new(
        &c.tenant_id,
        c.client_id.clone(),
        Secret::new(c.client_secret.clone()),
        Some(options(&sim)),
    )
    .expect("credential");
    let token = cred
        .get_token(&["https://management.azure.com/.default"], None)
        .await
        .expect("token");
    assert!(token.expires_on > time::OffsetDateTime::now_utc());
    let r = sim
        .client
        .get(format!(
            "{}{}/resourcegroups?api-version={RES}",
            sim.handle.base_url(),
            sim.sub()
        ))
        .bearer_auth(token.token.secret())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let wrong = ClientSecretCredential::new(
        &c.tenant_id,
        c.client_id.clone(),
        Secret::new("nope"),
        Some(options(&sim)),
    )
    .expect("credential");
    let err = wrong
        .get_token(&["https://management.azure.com/.default"], None)
        .await
        .expect_err("wrong secret fails");
    assert!(
        err.to_string().contains("7000215") || format!("{err:?}").contains("7000215"),
        "{err:?}"
    );
    sim.handle.shutdown().await;
}
