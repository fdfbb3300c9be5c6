//! Storage accounts: the default account is resolved lazily, once, with its blob endpoint and key.

use std::time::Duration;

use serde_json::json;

use super::support::*;
use crate::azure::storage::StorageAccounts;
use crate::azure::{ArmClient, Deadline, Error};

#[tokio::test]
async fn default_account_is_resolved_once_with_endpoint_and_key() {
    let server = TestServer::http(|ctx| {
        if is_token_request(ctx) {
            return imds_token("tok", 3600);
        }
        match (ctx.req.method.as_str(), ctx.req.path.rsplit('/').next().unwrap_or("")) {
            ("POST", "listKeys") => Reply::json(200, json!({"keys": [{"keyName": "key1", "value": "a2V5MQ==", "permissions": "FULL"}, {"keyName": "key2", "value": "a2V5Mg==", "permissions": "FULL"}]})),
            ("GET", "stemcells") => Reply::json(200, json!({
                "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/stemcells",
                "name": "stemcells", "location": "westeurope", "sku": {"name": "Standard_LRS", "tier": "Standard"},
                "tags": {"user-agent": "bosh"},
                "properties": {"provisioningState": "Succeeded", "primaryEndpoints": {"blob": "https://stemcells.blob.core.windows.net/", "table": "https://stemcells.table.core.windows.net/"}}
            })),
            ("GET", "storageAccounts") => Reply::json(200, json!({"value": [{"name": "stemcells"}, {"name": "other"}]})),
            _ => arm_error(404, "ResourceNotFound", "not found"),
        }
    })
    .await;
    let arm = ArmClient::new(&imds_settings(&server.base, &server.base)).unwrap();
    let deadline = Deadline::after(Duration::from_secs(20));
    let storage = StorageAccounts::new(arm, "rg".into(), Some("stemcells".into()));
    assert!(
        server.requests().is_empty(),
        "nothing is resolved before it is needed"
    );
    let access = storage.default_access(deadline).await.unwrap();
    assert_eq!(access.account_name, "stemcells");
    assert_eq!(
        access.blob_endpoint.as_str(),
        "https://stemcells.blob.core.windows.net/"
    );
    assert_eq!(
        access.auth.account_key().map_or("", |k| k.secret()),
        "a2V5MQ=="
    );
    let _ = storage.default_access(deadline).await.unwrap();
    assert_eq!(
        server.requests_to("/storageAccounts/").len(),
        2,
        "one GET and one listKeys, once"
    );
    let list_keys = &server.requests_to("/listKeys")[0];
    assert_eq!(list_keys.query, "api-version=2023-05-01");

    assert_eq!(storage.list(deadline).await.unwrap().len(), 2);
    let err = storage.access("missing", deadline).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("missing"));
}

/// Blob calls through the SDK follow the one retry rule: Azure's `Retry-After` is honoured up
/// to the retry settings' `max_delay` (the SDK's own policy waited whatever it asked), and a
/// refused connection ends after the connection budget with a message naming the endpoint.
#[tokio::test]
async fn blob_calls_cap_retry_after_and_bound_refused_connections() {
    use crate::azure::storage::blob::{BlobService, BlobServiceOptions, RetrySettings};
    use crate::azure::storage::{StorageAccess, StorageAuth};

    let server = TestServer::http(|ctx| {
        if ctx.n == 0 {
            Reply::empty(503)
                .header("x-ms-error-code", "ServerBusy")
                .header("retry-after", "3600")
        } else {
            Reply::empty(202)
        }
    })
    .await;
    let retry = RetrySettings {
        max_retries: 3,
        initial_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        max_total: Duration::from_secs(30),
    };
    let service = |endpoint: url::Url| {
        BlobService::new(
            &StorageAccess {
                account_name: "devstoreaccount1".into(),
                blob_endpoint: endpoint,
                auth: StorageAuth::SharedKey("c2VjcmV0LWFjY291bnQta2V5LXZhbHVl".into()),
            },
            BlobServiceOptions {
                retry: retry.clone(),
                ..Default::default()
            },
        )
        .unwrap()
    };
    let blobs = service(server.url("/devstoreaccount1"));
    let started = std::time::Instant::now();
    let deleted = tokio::time::timeout(
        Duration::from_secs(20),
        blobs.delete_blob("stemcell", "b.vhd"),
    )
    .await
    .expect("the Retry-After of an hour was capped")
    .unwrap();
    assert!(deleted);
    assert_eq!(server.requests_to("/stemcell/b.vhd").len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let blobs =
        service(url::Url::parse(&format!("http://127.0.0.1:{port}/devstoreaccount1")).unwrap());
    let err = blobs
        .delete_blob("stemcell", "b.vhd")
        .await
        .unwrap_err()
        .to_string();
    for part in [
        &format!("blob storage at 127.0.0.1:{port}"),
        "connection refused",
        "3 attempts",
    ] {
        assert!(err.contains(part), "no '{part}' in: {err}");
    }
}
