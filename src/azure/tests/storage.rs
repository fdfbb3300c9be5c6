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
