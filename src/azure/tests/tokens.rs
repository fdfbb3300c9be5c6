//! Tokens for every credential kind, lazy fetch, refresh ahead of expiry, 401 → refresh.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use azure_core::credentials::Secret;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha1::{Digest, Sha1};
use url::Url;

use super::support::*;
use crate::azure::settings::{Authority, AzureSettings, CredentialSettings};
use crate::azure::{ApiKind, ArmClient, Deadline, Error, ResourcePath};

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(20))
}

fn rg_path() -> ResourcePath {
    ResourcePath::resource_group(SUBSCRIPTION, "rg")
}

/// GETs the test resource group.
async fn get_rg(arm: &ArmClient) -> Result<Option<serde_json::Value>, Error> {
    arm.get(&rg_path(), ApiKind::Resources, deadline()).await
}

/// Settings that authenticate against the test server as an Entra ID authority.
fn entra_settings(server: &TestServer, credential: CredentialSettings) -> AzureSettings {
    let mut settings = imds_settings(&server.base, &server.base);
    settings.authority = Authority::EntraId {
        host: Url::parse(&server.base).unwrap(),
    };
    settings.credential = credential;
    settings
}

/// A server whose IMDS issues `token-1`, `token-2`, … valid for `lifetime` seconds and whose
/// ARM side is `arm`; also returns the count of tokens issued.
async fn counting_token_server(
    lifetime: u64,
    arm: impl Fn(&Ctx<'_>) -> Reply + Send + Sync + 'static,
) -> (TestServer, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let server = TestServer::http(move |ctx| {
        if is_token_request(ctx) {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            imds_token(&format!("token-{n}"), lifetime)
        } else {
            arm(ctx)
        }
    })
    .await;
    (server, issued)
}

fn rg_reply(ctx: &Ctx<'_>, token: &str) -> Reply {
    if ctx.req.header("authorization") == format!("Bearer {token}") {
        Reply::json(
            200,
            serde_json::json!({"name": "rg", "location": "westeurope"}),
        )
    } else {
        arm_error(
            401,
            "InvalidAuthenticationToken",
            "The access token is invalid.",
        )
    }
}

#[tokio::test]
async fn client_secret_against_a_custom_https_authority() {
    let server = TestServer::https(|ctx| {
        if ctx.req.path == format!("/{TENANT}/oauth2/v2.0/token") {
            let ok = ctx.req.form_value("client_secret").as_deref() == Some("s3cret-value")
                && ctx.req.form_value("client_id").as_deref() == Some("app-id")
                && ctx.req.form_value("grant_type").as_deref() == Some("client_credentials")
                && ctx.req.form_value("scope").as_deref() == Some("https://management.azure.com/.default");
            if ok {
                Reply::json(200, serde_json::json!({"access_token": "entra-token", "expires_in": 3600, "token_type": "Bearer"}))
            } else {
                Reply::json(401, serde_json::json!({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided."}))
            }
        } else {
            rg_reply(ctx, "entra-token")
        }
    })
    .await;
    let mut settings = entra_settings(
        &server,
        CredentialSettings::ClientSecret {
            client_id: "app-id".into(),
            secret: Secret::new("s3cret-value"),
        },
    );
    settings.extra_ca_pem = server.ca_pem.clone();
    let arm = ArmClient::new(&settings).unwrap();
    assert!(
        server.requests().is_empty(),
        "building the client must not fetch a token"
    );
    let rg: Option<serde_json::Value> = get_rg(&arm).await.unwrap();
    assert_eq!(rg.unwrap()["location"], "westeurope");
    let _: Option<serde_json::Value> = get_rg(&arm).await.unwrap();
    assert_eq!(
        server.requests_to("/oauth2/").len(),
        1,
        "one token per process"
    );

    // A wrong secret is an Auth error that names the setting to fix.
    settings.credential = CredentialSettings::ClientSecret {
        client_id: "app-id".into(),
        secret: Secret::new("wrong"),
    };
    let arm = ArmClient::new(&settings).unwrap();
    let err = get_rg(&arm).await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("azure.client_secret"), "{err}");
}

#[tokio::test]
async fn https_authority_without_the_extra_ca_is_refused() {
    let server = TestServer::https(|_| Reply::empty(500)).await;
    let settings = entra_settings(
        &server,
        CredentialSettings::ClientSecret {
            client_id: "app-id".into(),
            secret: Secret::new("s"),
        },
    );
    let arm = ArmClient::new(&settings).unwrap();
    let err = get_rg(&arm).await.unwrap_err();
    assert!(
        matches!(&err, Error::Connection { cause, .. }
            if matches!(cause.problem, crate::azure::http::Problem::Untrusted(_))),
        "{err:?}"
    );
    assert!(server.requests().is_empty());
}

struct TestCertificate {
    pem_file: tempfile::NamedTempFile,
    public_key_pem: String,
    x5t: String,
}

fn rsa_certificate() -> TestCertificate {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec!["bosh-cpi".to_string()]).unwrap();
    let cert = params.self_signed(&key).unwrap();
    let mut pem_file = tempfile::NamedTempFile::new().unwrap();
    // The job writes the key and the certificate into one file.
    std::io::Write::write_all(
        &mut pem_file,
        format!("{}{}", key.serialize_pem(), cert.pem()).as_bytes(),
    )
    .unwrap();
    TestCertificate {
        x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(cert.der())),
        public_key_pem: key.public_key_pem(),
        pem_file,
    }
}

/// Checks a client assertion as Entra ID / ADFS would: signature, x5t, aud, iss, sub.
fn assertion_is_valid(assertion: &str, public_key_pem: &str, x5t: &str, audience: &str) -> bool {
    let Ok(header) = jsonwebtoken::decode_header(assertion) else {
        return false;
    };
    if header.alg != jsonwebtoken::Algorithm::RS256 || header.x5t.as_deref() != Some(x5t) {
        return false;
    }
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public_key_pem.as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_audience(&[audience]);
    validation.set_issuer(&["app-id"]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    match jsonwebtoken::decode::<serde_json::Value>(assertion, &key, &validation) {
        Ok(data) => data.claims["sub"] == "app-id" && data.claims["jti"].is_string(),
        Err(_) => false,
    }
}

#[tokio::test]
async fn certificate_assertion_for_entra_id() {
    let cert = rsa_certificate();
    let (public_key, x5t) = (cert.public_key_pem.clone(), cert.x5t.clone());
    let server = TestServer::https(move |ctx| {
        if ctx.req.path.ends_with("/oauth2/v2.0/token") {
            let audience = format!("{}/{TENANT}/oauth2/v2.0/token", ctx.base);
            let assertion = ctx.req.form_value("client_assertion").unwrap_or_default();
            let ok = ctx.req.form_value("client_assertion_type").as_deref()
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                && assertion_is_valid(&assertion, &public_key, &x5t, &audience);
            if ok {
                Reply::json(200, serde_json::json!({"access_token": "cert-token", "expires_in": 3600, "token_type": "Bearer"}))
            } else {
                Reply::json(401, serde_json::json!({"error": "invalid_client", "error_description": "AADSTS700027: Client assertion contains an invalid signature."}))
            }
        } else {
            rg_reply(ctx, "cert-token")
        }
    })
    .await;
    let mut settings = entra_settings(
        &server,
        CredentialSettings::Certificate {
            client_id: "app-id".into(),
            pem_path: cert.pem_file.path().to_owned(),
        },
    );
    settings.extra_ca_pem = server.ca_pem.clone();
    let arm = ArmClient::new(&settings).unwrap();
    let rg: Option<serde_json::Value> = get_rg(&arm).await.unwrap();
    assert!(rg.is_some());

    // A missing PEM file is a local error naming the file, and nothing is sent.
    settings.credential = CredentialSettings::Certificate {
        client_id: "app-id".into(),
        pem_path: "/nonexistent/service_principal_certificate.pem".into(),
    };
    let before = server.requests().len();
    let err = get_rg(&ArmClient::new(&settings).unwrap())
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("service_principal_certificate.pem"),
        "{err}"
    );
    assert_eq!(server.requests().len(), before);
}

#[tokio::test]
async fn adfs_v1_with_secret_and_with_certificate() {
    let cert = rsa_certificate();
    let (public_key, x5t) = (cert.public_key_pem.clone(), cert.x5t.clone());
    let server = TestServer::https(move |ctx| {
        if ctx.req.path == "/adfs/oauth2/token" {
            let resource_ok = ctx.req.form_value("resource").as_deref() == Some("https://management.local.azurestack.external/abc");
            let secret_ok = ctx.req.form_value("client_secret").as_deref() == Some("adfs-secret");
            let assertion_ok = ctx
                .req
                .form_value("client_assertion")
                .is_some_and(|a| assertion_is_valid(&a, &public_key, &x5t, &format!("{}/adfs/oauth2/token", ctx.base)));
            if resource_ok && (secret_ok || assertion_ok) {
                // ADFS (v1) sends expires_in as a string.
                Reply::json(200, serde_json::json!({"access_token": "adfs-token", "expires_in": "3600", "token_type": "Bearer"}))
            } else {
                Reply::json(401, serde_json::json!({"error": "invalid_client", "error_description": "MSIS9622: Client authentication failed."}))
            }
        } else {
            rg_reply(ctx, "adfs-token")
        }
    })
    .await;
    let mut settings = imds_settings(&server.base, &server.base);
    settings.cloud = crate::azure::CloudKind::Stack;
    settings.token_audience = "https://management.local.azurestack.external/abc".into();
    settings.authority = Authority::Adfs {
        token_endpoint: server.url("/adfs/oauth2/token"),
    };
    settings.extra_ca_pem = server.ca_pem.clone();
    for credential in [
        CredentialSettings::ClientSecret {
            client_id: "app-id".into(),
            secret: Secret::new("adfs-secret"),
        },
        CredentialSettings::Certificate {
            client_id: "app-id".into(),
            pem_path: cert.pem_file.path().to_owned(),
        },
    ] {
        settings.credential = credential;
        let arm = ArmClient::new(&settings).unwrap();
        let rg: Option<serde_json::Value> = get_rg(&arm).await.unwrap();
        assert!(rg.is_some());
    }
    // The Stack column of the api-version table was used.
    let arm_calls = server.requests_to("/resourceGroups/");
    assert!(
        arm_calls
            .iter()
            .all(|r| r.query == "api-version=2019-10-01"),
        "{:?}",
        arm_calls[0].query
    );
}

#[tokio::test]
async fn managed_identity_system_and_by_resource_id() {
    let server = TestServer::http(|ctx| {
        if is_token_request(ctx) {
            let ok = ctx.req.header("metadata") == "true"
                && ctx.req.query_value("api-version").as_deref() == Some("2018-02-01")
                && ctx.req.query_value("resource").as_deref() == Some(AUDIENCE);
            if ok {
                imds_token("mi-token", 3600)
            } else {
                Reply::empty(400)
            }
        } else {
            rg_reply(ctx, "mi-token")
        }
    })
    .await;
    let mut settings = imds_settings(&server.base, &server.base);
    let arm = ArmClient::new(&settings).unwrap();
    assert!(get_rg(&arm).await.unwrap().is_some());
    assert_eq!(
        server.requests_to("/oauth2/")[0].query_value("msi_res_id"),
        None
    );

    let identity = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/cpi";
    settings.credential = CredentialSettings::ManagedIdentity {
        resource_id: Some(identity.into()),
        endpoint: Some(server.url("/metadata/identity/oauth2/token")),
    };
    let arm = ArmClient::new(&settings).unwrap();
    assert!(get_rg(&arm).await.unwrap().is_some());
    assert_eq!(
        server.requests_to("/oauth2/")[1]
            .query_value("msi_res_id")
            .as_deref(),
        Some(identity)
    );
}

#[tokio::test]
async fn token_is_refreshed_ahead_of_expiry() {
    // A 2 s token is refreshed at half its life.
    let (server, issued) = counting_token_server(2, |ctx| {
        Reply::json(
            200,
            serde_json::json!({"auth": ctx.req.header("authorization")}),
        )
    })
    .await;
    let arm = ArmClient::new(&imds_settings(&server.base, &server.base)).unwrap();
    let first: serde_json::Value = get_rg(&arm).await.unwrap().unwrap();
    let again: serde_json::Value = get_rg(&arm).await.unwrap().unwrap();
    assert_eq!(first["auth"], "Bearer token-1");
    assert_eq!(again["auth"], "Bearer token-1");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let later: serde_json::Value = get_rg(&arm).await.unwrap().unwrap();
    assert_eq!(later["auth"], "Bearer token-2");
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn arm_401_forces_one_refresh_then_succeeds() {
    // token-1 was revoked: only token-2 is accepted.
    let (server, issued) = counting_token_server(3600, |ctx| rg_reply(ctx, "token-2")).await;
    let arm = ArmClient::new(&imds_settings(&server.base, &server.base)).unwrap();
    let rg: Option<serde_json::Value> = get_rg(&arm).await.unwrap();
    assert!(rg.is_some());
    assert_eq!(issued.load(Ordering::SeqCst), 2);
    assert_eq!(server.requests_to("/resourceGroups/").len(), 2);
}

#[tokio::test]
async fn arm_401_twice_is_an_auth_error_not_a_loop() {
    let server = TestServer::http(|ctx| {
        if is_token_request(ctx) {
            imds_token("never-accepted", 3600)
        } else {
            arm_error(
                401,
                "InvalidAuthenticationTokenTenant",
                "The access token is from the wrong issuer.",
            )
        }
    })
    .await;
    let arm = ArmClient::new(&imds_settings(&server.base, &server.base)).unwrap();
    let err = get_rg(&arm).await.unwrap_err();
    assert!(matches!(err, Error::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("azure.tenant_id"), "{err}");
    assert_eq!(server.requests_to("/resourceGroups/").len(), 2);
    assert_eq!(server.requests_to("/oauth2/").len(), 2);
}

#[tokio::test]
async fn concurrent_calls_share_one_token_and_one_refresh() {
    let (server, issued) = counting_token_server(3600, |ctx| rg_reply(ctx, "token-2")).await;
    let arm = ArmClient::new(&imds_settings(&server.base, &server.base)).unwrap();
    let path = rg_path();
    let calls = (0..8).map(|_| arm.get::<serde_json::Value>(&path, ApiKind::Resources, deadline()));
    for result in futures::future::join_all(calls).await {
        assert!(result.unwrap().is_some());
    }
    // Eight callers, one first token, one refresh after the 401s.
    assert_eq!(issued.load(Ordering::SeqCst), 2);
}

/// A Put Page whose storage token is refused with 401 (revoked, or expired before its `exp`)
/// is sent once more with a fresh token; a second 401 fails the call instead of looping.
#[tokio::test]
async fn a_put_page_refused_with_401_is_sent_once_more_with_a_fresh_token() {
    use crate::azure::auth::AudienceCredential;
    use crate::azure::storage::blob::{BlobService, BlobServiceOptions};
    use crate::azure::storage::{StorageAccess, StorageAuth};

    for always_refused in [false, true] {
        let issued = Arc::new(AtomicUsize::new(0));
        let counter = issued.clone();
        let server = TestServer::https(move |ctx| {
            if is_token_request(ctx) {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                return imds_token(&format!("token-{n}"), 3600);
            }
            if always_refused || ctx.req.header("authorization") == "Bearer token-1" {
                Reply::empty(401).header("x-ms-error-code", "InvalidAuthenticationInfo")
            } else {
                Reply::empty(201)
            }
        })
        .await;
        let mut settings = imds_settings(&server.base, &server.base);
        settings.extra_ca_pem = server.ca_pem.clone();
        let http = crate::azure::http::build_client(&settings).unwrap();
        let credential =
            AudienceCredential::new(&settings, http.clone(), "https://storage.azure.com/").unwrap();
        let blobs = BlobService::new(
            &StorageAccess {
                account_name: "acct".into(),
                blob_endpoint: server.url("/acct"),
                auth: StorageAuth::EntraId(credential),
            },
            BlobServiceOptions {
                http: Some(http),
                ..Default::default()
            },
        )
        .unwrap();
        let writer = blobs.page_writer("stemcell", "b.vhd").unwrap();
        let result = writer
            .put_pages(0, bytes::Bytes::from(vec![1u8; 512]))
            .await;
        let puts = server.requests_to("/acct/stemcell/b.vhd");
        let tokens: Vec<&str> = puts.iter().map(|r| r.header("authorization")).collect();
        assert_eq!(tokens, ["Bearer token-1", "Bearer token-2"]);
        if always_refused {
            let err = result.unwrap_err().to_string();
            assert!(err.contains("HTTP 401 InvalidAuthenticationInfo"), "{err}");
        } else {
            result.unwrap();
        }
    }
}
