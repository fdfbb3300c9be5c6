//! HTTPS with the generated CA, token endpoints (v2 secret and assertion, v1, ADFS, IMDS), and
//! ARM's bearer-token checks.

use std::time::Duration;

use crate::common::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bosh_azure_sim::SimConfig;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

struct Cert {
    cert_pem: String,
    key_pem: String,
    der: Vec<u8>,
}

fn rsa_cert(cn: &str) -> Cert {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("RSA key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let cert = params.self_signed(&key).expect("cert");
    Cert {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        der: cert.der().to_vec(),
    }
}

fn assertion(cert: &Cert, aud: &str, iss: &str, exp_offset: i64) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.x5t = Some(URL_SAFE_NO_PAD.encode(Sha1::digest(&cert.der)));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({"aud": aud, "iss": iss, "sub": iss, "jti": "1", "nbf": now - 90, "exp": now + exp_offset});
    let key = EncodingKey::from_rsa_pem(cert.key_pem.as_bytes()).expect("RSA PEM");
    jsonwebtoken::encode(&header, &claims, &key).expect("sign")
}

async fn token_form(sim: &TestSim, path: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let r = sim
        .client
        .post(format!("{}{path}", sim.handle.base_url()))
        .form(form)
        .send()
        .await
        .expect("sent");
    (r.status(), r.json().await.expect("json"))
}

/// A `client_credentials` grant with a client secret and, if given, a `scope` (v2) or
/// `resource` (v1, ADFS) field.
async fn secret_grant(
    sim: &TestSim,
    path: &str,
    client_id: &str,
    secret: &str,
    audience: Option<(&str, &str)>,
) -> (StatusCode, Value) {
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ];
    form.extend(audience);
    token_form(sim, path, &form).await
}

#[tokio::test]
async fn https_with_generated_ca_and_ca_file() {
    let sim = TestSim::start().await;
    assert!(sim.handle.base_url().starts_with("https://127.0.0.1:"));
    let on_disk = std::fs::read_to_string(sim.handle.ca_pem_path()).expect("CA file");
    assert_eq!(on_disk, sim.handle.ca_pem());
    // A client that does not trust the CA is refused.
    let untrusting = reqwest::Client::builder()
        .tls_certs_only([])
        .build()
        .expect("client");
    assert!(untrusting.get(sim.handle.base_url()).send().await.is_err());
    let r = sim
        .get(&format!("{}?api-version={RES}", sim.rg("nope")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn v2_client_secret_good_and_bad() {
    let sim = TestSim::start().await;
    let c = sim.handle.config().clone();
    let path = format!("/{}/oauth2/v2.0/token", c.tenant_id);
    let (status, body) = secret_grant(
        &sim,
        &path,
        &c.client_id,
        &c.client_secret,
        Some(("scope", "https://management.azure.com/.default")),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert!(body["expires_in"].as_i64().unwrap() > 3000);
    assert!(body["ext_expires_in"].is_i64());
    let (status, body) = secret_grant(
        &sim,
        &path,
        &c.client_id,
        "wrong",
        Some(("scope", "https://management.azure.com/.default")),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_client");
    assert_eq!(body["error_codes"][0], 7000215);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215")
    );
    // The secret never reaches the request log.
    let log = serde_json::to_string(&sim.handle.request_log()).unwrap();
    assert!(!log.contains(&c.client_secret));
    assert!(!log.contains("\"wrong\""));
    // Unknown client and tenant.
    let (status, body) = secret_grant(
        &sim,
        &path,
        "someone-else",
        &c.client_secret,
        Some(("scope", "x/.default")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 700016);
    let (status, body) = secret_grant(
        &sim,
        "/other-tenant/oauth2/v2.0/token",
        &c.client_id,
        &c.client_secret,
        Some(("scope", "x/.default")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 90002);
    // Scope without /.default.
    let (status, body) = secret_grant(
        &sim,
        &path,
        &c.client_id,
        &c.client_secret,
        Some(("scope", "https://management.azure.com/")),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_scope");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn v2_client_assertion_checks_signature_audience_issuer_expiry() {
    let cert = rsa_cert("bosh");
    let other = rsa_cert("intruder");
    let config = SimConfig {
        client_certificate_pem: Some(cert.cert_pem.clone()),
        ..SimConfig::default()
    };
    let sim = TestSim::start_with(config).await;
    let c = sim.handle.config().clone();
    let path = format!("/{}/oauth2/v2.0/token", c.tenant_id);
    let aud = format!("{}{path}", sim.handle.base_url());
    let try_assertion = |a: String| {
        let sim = &sim;
        let path = path.clone();
        let client_id = c.client_id.clone();
        async move {
            token_form(
                sim,
                &path,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &client_id),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &a),
                    ("scope", "https://management.azure.com/.default"),
                ],
            )
            .await
        }
    };
    let (status, body) = try_assertion(assertion(&cert, &aud, &c.client_id, 600)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["access_token"].is_string());
    // Signed by another key but claiming the registered thumbprint: bad signature.
    let mut forged_header = Header::new(Algorithm::RS256);
    forged_header.x5t = Some(URL_SAFE_NO_PAD.encode(Sha1::digest(&cert.der)));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let forged = jsonwebtoken::encode(
        &forged_header,
        &json!({"aud": aud, "iss": c.client_id, "sub": c.client_id, "exp": now + 600, "nbf": now}),
        &EncodingKey::from_rsa_pem(other.key_pem.as_bytes()).unwrap(),
    )
    .unwrap();
    let (status, body) = try_assertion(forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error_codes"][0], 700027);
    // Unregistered certificate (thumbprint unknown).
    let (status, body) = try_assertion(assertion(&other, &aud, &c.client_id, 600)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not registered")
    );
    // Wrong audience.
    let (status, body) = try_assertion(assertion(
        &cert,
        "https://login.microsoftonline.com/x/oauth2/v2.0/token",
        &c.client_id,
        600,
    ))
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 700212);
    // Wrong issuer.
    let (status, body) = try_assertion(assertion(&cert, &aud, "someone-else", 600)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 700021);
    // Expired.
    let (status, body) = try_assertion(assertion(&cert, &aud, &c.client_id, -10)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error_codes"][0], 700024);
    // The assertion is redacted in the log.
    assert!(sim.handle.request_log().iter().all(|e| {
        e.body
            .as_ref()
            .is_none_or(|b| b.get("client_assertion").is_none_or(|a| a == "<redacted>"))
    }));
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn v1_and_adfs_use_resource() {
    let sim = TestSim::start().await;
    let c = sim.handle.config().clone();
    for path in [
        format!("/{}/oauth2/token", c.tenant_id),
        "/adfs/oauth2/token".to_string(),
    ] {
        let (status, body) = secret_grant(
            &sim,
            &path,
            &c.client_id,
            &c.client_secret,
            Some(("resource", "https://management.azure.com/")),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
        assert_eq!(body["resource"], "https://management.azure.com/");
        let (status, body) = secret_grant(&sim, &path, &c.client_id, &c.client_secret, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error_codes"][0], 900144);
    }
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn imds_managed_identity() {
    let sim = TestSim::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/metadata/identity/oauth2/token", sim.handle.imds_url());
    let q = [
        ("api-version", "2018-02-01"),
        ("resource", "https://management.azure.com/"),
    ];
    let r = http
        .get(&url)
        .query(&q)
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert!(body["expires_on"].as_str().unwrap().parse::<i64>().is_ok());
    let token = body["access_token"].as_str().unwrap().to_string();
    // The token works on ARM.
    let r = sim
        .client
        .get(format!(
            "{}{}/resourcegroups?api-version={RES}",
            sim.handle.base_url(),
            sim.sub()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // No Metadata header.
    let r = http.get(&url).query(&q).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    // User-assigned identity: known and unknown.
    let known = sim.handle.config().managed_identity_resource_ids[0].clone();
    let r = http
        .get(&url)
        .query(&q)
        .query(&[("msi_res_id", known.as_str())])
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = http
        .get(&url)
        .query(&q)
        .query(&[("msi_res_id", "/subscriptions/x/unknown")])
        .header("Metadata", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn arm_rejects_missing_forged_expired_and_wrong_audience_tokens() {
    let config = SimConfig {
        token_lifetime: Duration::from_secs(1),
        ..SimConfig::default()
    };
    let sim = TestSim::start_with(config).await;
    let url = format!(
        "{}{}/resourcegroups?api-version={RES}",
        sim.handle.base_url(),
        sim.sub()
    );
    let r = sim.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        r.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer authorization_uri=")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "AuthenticationFailed");
    // Forged: change one character of the signature.
    let mut forged = sim.token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let r = sim
        .client
        .get(&url)
        .bearer_auth(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");
    // Wrong audience.
    let c = sim.handle.config().clone();
    let (_, tok) = secret_grant(
        &sim,
        &format!("/{}/oauth2/v2.0/token", c.tenant_id),
        &c.client_id,
        &c.client_secret,
        Some(("scope", "https://vault.azure.net/.default")),
    )
    .await;
    let r = sim
        .client
        .get(&url)
        .bearer_auth(tok["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationTokenAudience");
    // Expired.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let r = sim
        .client
        .get(&url)
        .bearer_auth(&sim.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "ExpiredAuthenticationToken");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn wire_server_keeps_telemetry_posts_and_refuses_other_requests() {
    let sim = TestSim::start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/machine?comp=telemetrydata", sim.handle.imds_url());
    let document = "<?xml version=\"1.0\"?><TelemetryData version=\"1.0\"></TelemetryData>";
    let post = |content_type: &'static str, version: Option<&'static str>, body: &'static str| {
        let mut request = http
            .post(&url)
            .header("Content-Type", content_type)
            .body(body);
        if let Some(version) = version {
            request = request.header("x-ms-version", version);
        }
        request.send()
    };
    let ok = post("text/xml;charset=utf-8", Some("2012-11-30"), document)
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let no_version = post("text/xml", None, document).await.unwrap();
    assert_eq!(no_version.status(), StatusCode::BAD_REQUEST);
    let json_body = post("application/json", Some("2012-11-30"), "{}")
        .await
        .unwrap();
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);
    let get = http.get(&url).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(sim.handle.telemetry_posts(), vec![document.to_owned()]);
    let listed: Value = sim
        .client
        .get(format!("{}/_sim/telemetry", sim.handle.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([document]));
}
