//! Microsoft.Storage/storageAccounts: create (202 + `Location` polling), get, list, update,
//! delete, listKeys and checkNameAvailability. Endpoints and keys come from the configured
//! storage backend (Azurite) when there is one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{
    ActionResult, DeleteMode, Family, Ids, Kind, Prepared, PutCtx, PutMode, STORAGE_VERSIONS,
    expect_enum, get_str, kept_or, props_mut,
};
use crate::arm::Call;
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Reply, Req, now_rfc3339};
use crate::state::Sim;

pub(crate) struct StorageAccounts;

/// The Ruby CPI's api-version, the oldest one served.
const OLDEST_VERSION: &str = "2017-10-01";

const SKUS: &[&str] = &[
    "Standard_LRS",
    "Standard_GRS",
    "Standard_RAGRS",
    "Standard_ZRS",
    "Premium_LRS",
    "Premium_ZRS",
    "Standard_GZRS",
    "Standard_RAGZRS",
];
const KINDS: &[&str] = &[
    "Storage",
    "StorageV2",
    "BlobStorage",
    "FileStorage",
    "BlockBlobStorage",
];

fn name_problem(name: &str) -> Option<String> {
    let ok = (3..=24).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (!ok).then(|| format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."))
}

/// Deterministic fake key for accounts without a backend (never a real secret).
fn fake_key(account: &str, n: u8) -> String {
    let mut h = Sha256::new();
    h.update(account.as_bytes());
    h.update([n]);
    let mut bytes = h.finalize().to_vec();
    bytes.extend_from_slice(&bytes.clone());
    STANDARD.encode(&bytes)
}

fn endpoints(sim: &Sim, name: &str) -> Value {
    match crate::storage_backend::backend_account(sim, name) {
        Some(account) => {
            let blob = format!("{}/", account.endpoint);
            json!({"blob": blob, "queue": format!("https://{name}.queue.core.windows.net/"), "table": format!("https://{name}.table.core.windows.net/"), "file": format!("https://{name}.file.core.windows.net/"), "dfs": format!("https://{name}.dfs.core.windows.net/"), "web": format!("https://{name}.z13.web.core.windows.net/")})
        }
        None => json!({
            "blob": format!("https://{name}.blob.core.windows.net/"),
            "queue": format!("https://{name}.queue.core.windows.net/"),
            "table": format!("https://{name}.table.core.windows.net/"),
            "file": format!("https://{name}.file.core.windows.net/"),
            "dfs": format!("https://{name}.dfs.core.windows.net/"),
            "web": format!("https://{name}.z13.web.core.windows.net/"),
        }),
    }
}

impl Kind for StorageAccounts {
    fn type_name(&self) -> &'static str {
        "Microsoft.Storage/storageAccounts"
    }
    fn family(&self) -> Family {
        Family::Storage
    }
    fn put_mode(&self) -> PutMode {
        PutMode::Location202
    }
    fn delete_mode(&self) -> DeleteMode {
        DeleteMode::Sync
    }
    fn in_progress_state(&self, _creating: bool) -> &'static str {
        "ResolvingDNS"
    }

    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        _ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let name = ctx.id.name().to_string();
        if let Some(msg) = name_problem(&name) {
            return Err(ArmError::bad_request("AccountNameInvalid", msg));
        }
        if ctx.existing.is_none()
            && ctx
                .store
                .of_type(self.type_name())
                .into_iter()
                .any(|s| s.body["name"].as_str() == Some(name.as_str()))
        {
            return Err(ArmError::conflict(
                "StorageAccountAlreadyTaken",
                format!("The storage account named {name} is already taken."),
            ));
        }
        let sku = expect_enum(out, "sku.name", SKUS)?.ok_or_else(|| {
            ArmError::bad_request("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'sku' not found in JSON.'.")
        })?;
        let kind = expect_enum(out, "kind", KINDS)?.ok_or_else(|| {
            ArmError::bad_request("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'kind' not found in JSON.'.")
        })?;
        out["sku"] = json!({"name": sku, "tier": if sku.starts_with("Premium") { "Premium" } else { "Standard" }});
        out["kind"] = json!(kind);
        let location = get_str(out, "location").unwrap_or_default().to_string();
        let created = kept_or(ctx.existing, "properties.creationTime", now_rfc3339);
        let p = props_mut(out);
        p.insert("primaryEndpoints".into(), endpoints(ctx.sim, &name));
        p.insert("primaryLocation".into(), json!(location));
        p.insert("statusOfPrimary".into(), json!("available"));
        p.insert("creationTime".into(), json!(created));
        p.entry("supportsHttpsTrafficOnly").or_insert(json!(true));
        p.entry("encryption").or_insert(json!({
            "services": {"blob": {"enabled": true, "keyType": "Account", "lastEnabledTime": created},
                         "file": {"enabled": true, "keyType": "Account", "lastEnabledTime": created}},
            "keySource": "Microsoft.Storage"
        }));
        p.entry("keyCreationTime")
            .or_insert(json!({"key1": created, "key2": created}));
        if kind != "Storage" {
            p.entry("accessTier").or_insert(json!("Hot"));
        }
        Ok(Prepared::default())
    }

    /// An account read with the Ruby CPI's 2017-10-01 has that version's shape: properties
    /// added since (dfs/web endpoints, key creation times, encryption key types) are left out.
    fn render(&self, _store: &Store, item: &Stored, req: &Req) -> Value {
        let mut body = item.body.clone();
        if req
            .q("api-version")
            .is_some_and(|v| v.eq_ignore_ascii_case(OLDEST_VERSION))
            && let Some(p) = body.get_mut("properties").and_then(Value::as_object_mut)
        {
            p.remove("keyCreationTime");
            // Added in 2019-04-01 (Microsoft.Storage storage.json).
            p.remove("allowSharedKeyAccess");
            if let Some(endpoints) = p.get_mut("primaryEndpoints").and_then(Value::as_object_mut) {
                endpoints.remove("dfs");
                endpoints.remove("web");
            }
            if let Some(services) = p
                .get_mut("encryption")
                .and_then(|e| e.get_mut("services"))
                .and_then(Value::as_object_mut)
            {
                for service in services.values_mut().filter_map(Value::as_object_mut) {
                    service.remove("keyType");
                }
            }
        }
        body
    }

    fn action(
        &self,
        sim: &Sim,
        _store: &mut Store,
        item: &Stored,
        name: &str,
        req: &Req,
    ) -> Option<Result<ActionResult, ArmError>> {
        if !name.eq_ignore_ascii_case("listKeys") || req.method != Method::POST {
            return None;
        }
        let account = item.body["name"].as_str().unwrap_or_default();
        let created = get_str(&item.body, "properties.creationTime").unwrap_or_default();
        let (k1, k2) = match crate::storage_backend::backend_account(sim, account) {
            Some(backend) => (backend.key.clone(), backend.key),
            None => (fake_key(account, 1), fake_key(account, 2)),
        };
        // `permissions` spelled as the spec's KeyPermission enum and its examples spell it.
        Some(Ok(ActionResult::Sync(json!({"keys": [
            {"creationTime": created, "keyName": "key1", "value": k1, "permissions": "Full"},
            {"creationTime": created, "keyName": "key2", "value": k2, "permissions": "Full"},
        ]}))))
    }
}

/// `POST /subscriptions/{s}/providers/Microsoft.Storage/checkNameAvailability`.
pub(crate) fn check_name(call: &mut Call<'_>) -> Reply {
    match crate::arm::check_version(call.req, STORAGE_VERSIONS, "checkNameAvailability", false) {
        Ok(v) => call.api_version = v,
        Err(e) => return e.reply(),
    }
    if call.req.method != Method::POST {
        return ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Use POST.",
        )
        .reply();
    }
    let body: Value = serde_json::from_slice(&call.req.body).unwrap_or(Value::Null);
    let Some(name) = body.get("name").and_then(Value::as_str) else {
        return ArmError::bad_request("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'Required property 'name' not found in JSON.'.").reply();
    };
    if !body
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Storage/storageAccounts"))
    {
        return ArmError::bad_request("InvalidRequestContent", "The request content was invalid and could not be deserialized: 'type' must be 'Microsoft.Storage/storageAccounts'.").reply();
    }
    if let Some(msg) = name_problem(name) {
        return Reply::json(
            StatusCode::OK,
            json!({"nameAvailable": false, "reason": "AccountNameInvalid", "message": msg}),
        );
    }
    let st = call.sim.lock();
    let taken = st
        .store
        .of_type("Microsoft.Storage/storageAccounts")
        .iter()
        .any(|s| s.body["name"].as_str() == Some(name));
    drop(st);
    if taken {
        Reply::json(
            StatusCode::OK,
            json!({"nameAvailable": false, "reason": "AlreadyExists", "message": format!("The storage account named {name} is already taken.")}),
        )
    } else {
        Reply::json(StatusCode::OK, json!({"nameAvailable": true}))
    }
}
