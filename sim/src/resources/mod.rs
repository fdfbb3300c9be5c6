//! One module per Azure resource type. Each implements [`Kind`]: validation of a PUT body the
//! way the resource provider validates it, the read-only fields the provider fills in, fields
//! computed from other resources on read, referential-integrity checks, and actions.

use std::collections::HashMap;

use hyper::StatusCode;
use rand::RngCore;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use crate::arm::id::ResourceId;
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req};
use crate::state::Sim;

pub(crate) mod application_gateways;
pub(crate) mod application_security_groups;
pub(crate) mod availability_sets;
pub(crate) mod disks;
pub(crate) mod galleries;
pub(crate) mod images;
pub(crate) mod load_balancers;
pub(crate) mod network_interfaces;
pub(crate) mod network_security_groups;
pub(crate) mod platform_images;
pub(crate) mod public_ip_addresses;
pub(crate) mod resource_groups;
pub(crate) mod skus;
pub(crate) mod snapshots;
pub(crate) mod storage_accounts;
pub(crate) mod virtual_machines;
pub(crate) mod virtual_networks;
pub(crate) mod vm_options;

/// Which operation-status URLs a provider hands out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Family {
    /// `/providers/Microsoft.Compute/locations/{l}/operations/{id}`
    Compute,
    /// `/providers/Microsoft.Compute/locations/{l}/DiskOperations/{id}`
    Disk,
    /// `/providers/Microsoft.Compute/locations/{l}/capsOperations/{id}`
    Gallery,
    /// `/providers/Microsoft.Network/locations/{l}/operations/{id}` (+ `operationResults`)
    Network,
    /// `/providers/Microsoft.Storage/locations/{l}/asyncoperations/{id}?monitor=true`
    Storage,
}

impl Family {
    /// api-versions the provider's specs define (one resource provider, one list).
    pub(crate) fn versions(self) -> &'static [&'static str] {
        match self {
            Family::Compute => COMPUTE_VERSIONS,
            Family::Disk => DISK_VERSIONS,
            Family::Gallery => GALLERY_VERSIONS,
            Family::Network => NETWORK_VERSIONS,
            Family::Storage => STORAGE_VERSIONS,
        }
    }
}

/// How a PUT answers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum PutMode {
    /// 200 on create and update, no operation (availability sets).
    Sync200,
    /// 201 create / 200 update with `Azure-AsyncOperation`.
    Async201,
    /// 202 with both `Azure-AsyncOperation` and `Location` (disks, snapshots).
    Accepted202,
    /// 202 with `Location` only and no body on create; 200 on update (storage accounts).
    Location202,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DeleteMode {
    /// 200 when deleted, 204 when absent.
    Sync,
    /// 202 with `Azure-AsyncOperation` and `Location`.
    Accepted202,
}

/// Seeded id generator handed to kinds.
pub(crate) struct Ids<'a>(pub &'a mut ChaCha8Rng);

impl Ids<'_> {
    pub fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.0.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    pub fn below(&mut self, n: u32) -> u32 {
        self.0.next_u32() % n.max(1)
    }
}

/// What a PUT handler sees.
pub(crate) struct PutCtx<'a> {
    pub sim: &'a Sim,
    pub store: &'a Store,
    pub id: &'a ResourceId,
    /// The id as it will be stored and returned.
    pub canonical_id: &'a str,
    pub existing: Option<&'a Stored>,
    /// Results of HEAD requests on source blobs: uri → size in bytes (`None` = missing).
    pub blobs: &'a HashMap<String, Option<u64>>,
}

/// What a kind's `prepare` returns besides the body it edits in place.
#[derive(Default)]
pub(crate) struct Prepared {
    /// Values ARM accepts but never returns.
    pub hidden: Value,
    /// Resources created along with this one (e.g. a VM's OS disk).
    pub extra: Vec<Stored>,
}

pub(crate) enum ActionResult {
    /// Answer 200 with this body.
    Sync(Value),
    /// Start an operation (202 with status headers).
    Lro,
    /// Start an operation whose result is this body: the final `Location` poll answers it,
    /// and Compute's disk operation status carries it as `properties.output` (beginGetAccess's
    /// `AccessUri`).
    LroOutput(Value),
}

pub(crate) trait Kind: Send + Sync {
    /// Canonical `Namespace/type[/childType]` as ARM returns it in `type`.
    fn type_name(&self) -> &'static str;
    fn family(&self) -> Family;
    /// api-versions the specs define for this type.
    fn versions(&self) -> &'static [&'static str] {
        self.family().versions()
    }
    fn put_mode(&self) -> PutMode {
        PutMode::Async201
    }
    fn delete_mode(&self) -> DeleteMode {
        DeleteMode::Accepted202
    }
    /// Top-level resources need a `location`; nested ones (subnets) do not.
    fn tracked(&self) -> bool {
        true
    }
    /// provisioningState while a PUT is in flight (Network says `Updating` even on create).
    fn in_progress_state(&self, creating: bool) -> &'static str {
        if creating && self.family() != Family::Network {
            "Creating"
        } else {
            "Updating"
        }
    }
    /// Top-level keys (besides id/name/type/location/tags/properties) the resource keeps.
    fn top_level_keys(&self) -> &'static [&'static str] {
        &[
            "sku",
            "zones",
            "identity",
            "kind",
            "plan",
            "extendedLocation",
        ]
    }
    /// Validates the body (already in `out`, envelope filled) and adds read-only fields.
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError>;
    /// Blob URLs the body references, checked against the storage backend before `prepare`.
    fn blob_sources(&self, _body: &Value) -> Vec<String> {
        Vec::new()
    }
    /// The representation returned by GET (fields computed from other resources added here).
    fn render(&self, _store: &Store, item: &Stored, _req: &Req) -> Value {
        item.body.clone()
    }
    fn check_delete(&self, _store: &Store, _item: &Stored) -> Result<(), ArmError> {
        Ok(())
    }
    /// Side effects once the delete has completed.
    fn on_deleted(&self, _store: &mut Store, _item: &Stored) {}
    /// Side effects once the PUT is stored (e.g. inline subnets become child resources).
    fn after_put(&self, _store: &mut Store, _item: &Stored) {}
    /// `POST {id}/{name}` or `GET {id}/{name}`; it may change the stored resource.
    fn action(
        &self,
        _sim: &Sim,
        _store: &mut Store,
        _item: &Stored,
        _name: &str,
        _req: &Req,
    ) -> Option<Result<ActionResult, ArmError>> {
        None
    }
}

pub(crate) fn registry() -> Vec<&'static dyn Kind> {
    vec![
        &storage_accounts::StorageAccounts,
        &galleries::Galleries,
        &galleries::GalleryImages,
        &galleries::GalleryImageVersions,
        &disks::Disks,
        &snapshots::Snapshots,
        &images::Images,
        &availability_sets::AvailabilitySets,
        &virtual_machines::VirtualMachines,
        &virtual_networks::VirtualNetworks,
        &virtual_networks::Subnets,
        &network_interfaces::NetworkInterfaces,
        &public_ip_addresses::PublicIpAddresses,
        &network_security_groups::NetworkSecurityGroups,
        &application_security_groups::ApplicationSecurityGroups,
        &load_balancers::LoadBalancers,
        &application_gateways::ApplicationGateways,
        &vm_options::ProximityPlacementGroups,
    ]
}

pub(crate) fn kind_for(type_name: &str) -> Option<&'static dyn Kind> {
    registry()
        .into_iter()
        .find(|k| k.type_name().eq_ignore_ascii_case(type_name))
}

// ---- api-versions (those with a spec in azure-rest-api-specs that the sim was built from) ----

pub(crate) const COMPUTE_VERSIONS: &[&str] = &["2024-07-01", "2025-04-01", "2021-11-01"];
pub(crate) const DISK_VERSIONS: &[&str] = &["2024-03-02", "2023-04-02", "2021-04-01"];
pub(crate) const GALLERY_VERSIONS: &[&str] = &["2024-03-03", "2023-07-03", "2025-03-03"];
pub(crate) const SKU_VERSIONS: &[&str] = &["2021-07-01"];
pub(crate) const NETWORK_VERSIONS: &[&str] = &["2024-05-01", "2024-01-01"];
pub(crate) const STORAGE_VERSIONS: &[&str] = &["2023-05-01", "2017-10-01"];
pub(crate) const RESOURCES_VERSIONS: &[&str] = &["2021-04-01"];

// ---- validation helpers shared by the kinds ----

/// JSON pointer-ish lookup: `get(v, "properties.hardwareProfile.vmSize")`.
pub(crate) fn get<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(v, |cur, key| cur.get(key))
        .filter(|v| !v.is_null())
}

pub(crate) fn get_str<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// Compute's strong ETag for a write: a quoted generation number, one past the stored one.
pub(crate) fn next_etag(existing: Option<&Stored>) -> Value {
    let generation = existing
        .and_then(|o| get_str(&o.body, "etag"))
        .and_then(|e| e.trim_matches('"').parse::<u64>().ok())
        .unwrap_or(0);
    json!(format!("\"{}\"", generation + 1))
}

pub(crate) fn props_mut(out: &mut Value) -> &mut Map<String, Value> {
    if !out.get("properties").is_some_and(Value::is_object) {
        out["properties"] = json!({});
    }
    match out.get_mut("properties") {
        Some(Value::Object(m)) => m,
        _ => unreachable!("properties was just made an object"),
    }
}

/// The deserialization error ARM gives when a value has the wrong JSON type.
pub(crate) fn type_error(path: &str, expected: &str, got: &Value) -> ArmError {
    ArmError {
        target: Some(path.to_string()),
        ..ArmError::bad_request(
            "InvalidRequestContent",
            format!(
                "The request content was invalid and could not be deserialized: 'Error converting value {} to type '{expected}'. Path '{path}'.'.",
                got
            ),
        )
    }
}

pub(crate) fn expect_string(v: &Value, path: &str) -> Result<Option<String>, ArmError> {
    match get(v, path) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(type_error(path, "System.String", other)),
    }
}

pub(crate) fn expect_int(v: &Value, path: &str) -> Result<Option<i64>, ArmError> {
    match get(v, path) {
        None => Ok(None),
        Some(Value::Number(n)) if n.is_i64() => Ok(n.as_i64()),
        Some(other) => Err(type_error(path, "System.Int32", other)),
    }
}

pub(crate) fn expect_bool(v: &Value, path: &str) -> Result<Option<bool>, ArmError> {
    match get(v, path) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(other) => Err(type_error(path, "System.Boolean", other)),
    }
}

pub(crate) fn expect_array<'a>(v: &'a Value, path: &str) -> Result<&'a [Value], ArmError> {
    match get(v, path) {
        None => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(type_error(path, "System.Collections.Generic.List", other)),
    }
}

pub(crate) fn require_string(v: &Value, path: &str) -> Result<String, ArmError> {
    expect_string(v, path)?.ok_or_else(|| {
        ArmError::invalid_parameter(
            path,
            format!("Required parameter '{path}' is missing (null)."),
        )
    })
}

/// Enum check, case-insensitive like the RPs; returns the canonical casing.
pub(crate) fn expect_enum(
    v: &Value,
    path: &str,
    allowed: &[&'static str],
) -> Result<Option<&'static str>, ArmError> {
    let Some(s) = expect_string(v, path)? else {
        return Ok(None);
    };
    allowed
        .iter()
        .find(|a| a.eq_ignore_ascii_case(&s))
        .copied()
        .map(Some)
        .ok_or_else(|| {
            ArmError::invalid_parameter(
                path,
                format!(
                    "The value '{s}' of parameter '{path}' is not valid. Allowed values are '{}'.",
                    allowed.join("', '")
                ),
            )
        })
}

/// [`expect_enum`] for a property the RP requires.
pub(crate) fn require_enum(
    v: &Value,
    path: &str,
    allowed: &[&'static str],
) -> Result<&'static str, ArmError> {
    expect_enum(v, path, allowed)?.ok_or_else(|| {
        let name = path.rsplit('.').next().unwrap_or(path);
        ArmError::invalid_parameter(
            path,
            format!("Required parameter '{name}' is missing (null)."),
        )
    })
}

/// A value the RP assigns once: kept from the resource a PUT replaces, else `fresh()`.
pub(crate) fn kept_or(
    existing: Option<&Stored>,
    path: &str,
    fresh: impl FnOnce() -> String,
) -> String {
    existing
        .and_then(|e| get_str(&e.body, path))
        .map(str::to_string)
        .unwrap_or_else(fresh)
}

/// Network's refusal to delete `item` while a resource of one of `referrer_types` uses it.
pub(crate) fn refuse_delete_while_referenced(
    store: &Store,
    item: &Stored,
    referrer_types: &[&str],
    code: &str,
    message: impl FnOnce(&str) -> String,
) -> Result<(), ArmError> {
    match referrer_types
        .iter()
        .flat_map(|t| referrers(store, t, &item.id))
        .next()
    {
        Some(user) => Err(ArmError::bad_request(code, message(&user))),
        None => Ok(()),
    }
}

/// Network's error for a reference to a resource that does not exist.
pub(crate) fn invalid_reference(referenced: &str, by: &str) -> ArmError {
    ArmError::bad_request(
        "InvalidResourceReference",
        format!(
            "Resource {referenced} referenced by resource {by} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region."
        ),
    )
}

/// Compute's error for a reference to a resource that does not exist.
pub(crate) fn compute_not_found(referenced: &str) -> ArmError {
    ArmError::new(
        StatusCode::NOT_FOUND,
        "NotFound",
        format!("Resource {referenced} not found."),
    )
}

/// True when `id` names a stored resource, or a sub-object (e.g. a load balancer's backend
/// pool) inside one.
pub(crate) fn reference_exists(store: &Store, id: &str) -> bool {
    if store.contains(id) {
        return true;
    }
    let segs: Vec<&str> = id.trim_end_matches('/').split('/').collect();
    // With the leading empty segment, resource ids have an odd number of segments.
    for cut in (9..segs.len()).rev().filter(|c| c % 2 == 1) {
        let owner = segs[..cut].join("/");
        if let Some(item) = store.get(&owner) {
            return contains_id(&item.body, id);
        }
    }
    false
}

fn contains_id(v: &Value, id: &str) -> bool {
    match v {
        Value::Object(m) => {
            m.get("id")
                .and_then(Value::as_str)
                .is_some_and(|s| s.eq_ignore_ascii_case(id))
                || m.values().any(|x| contains_id(x, id))
        }
        Value::Array(a) => a.iter().any(|x| contains_id(x, id)),
        _ => false,
    }
}

/// Gives every element of `properties.{collection}` an `id` under `parent_id` (and `type`/`etag`
/// as Network does), validating that each has a `name`.
pub(crate) fn name_sub_objects(
    out: &mut Value,
    parent_id: &str,
    collection: &str,
    type_name: &str,
    etag: &str,
) -> Result<(), ArmError> {
    let Some(items) = out
        .get_mut("properties")
        .and_then(|p| p.get_mut(collection))
    else {
        return Ok(());
    };
    let Some(items) = items.as_array_mut() else {
        return Err(type_error(
            &format!("properties.{collection}"),
            "System.Collections.Generic.List",
            items,
        ));
    };
    for (i, item) in items.iter_mut().enumerate() {
        let Some(name) = item.get("name").and_then(Value::as_str).map(str::to_string) else {
            return Err(ArmError::invalid_parameter(
                &format!("properties.{collection}[{i}].name"),
                format!("Resource name is missing for an element of '{collection}'."),
            ));
        };
        if !item.is_object() {
            continue;
        }
        item["id"] = json!(format!("{parent_id}/{collection}/{name}"));
        item["etag"] = json!(etag);
        item["type"] = json!(format!("{type_name}/{collection}"));
        if !item.get("properties").is_some_and(Value::is_object) {
            item["properties"] = json!({});
        }
        item["properties"]["provisioningState"] = json!("Succeeded");
    }
    Ok(())
}

/// `W/"uuid"`, the etag Network puts on everything.
pub(crate) fn weak_etag(ids: &mut Ids<'_>) -> String {
    format!("W/\"{}\"", ids.uuid())
}

/// Ids of every stored resource of `type_name` whose body references `id`.
pub(crate) fn referrers(store: &Store, type_name: &str, id: &str) -> Vec<String> {
    store
        .of_type(type_name)
        .into_iter()
        .filter(|s| {
            let mut refs = Vec::new();
            crate::arm::store::referenced_ids(&s.body, &mut refs);
            refs.iter().any(|r| {
                r.eq_ignore_ascii_case(id)
                    || r.to_ascii_lowercase()
                        .starts_with(&format!("{}/", id.to_ascii_lowercase()))
            })
        })
        .map(|s| s.id.clone())
        .collect()
}

/// Fields every Network resource carries: a weak `etag` and a stable `resourceGuid`.
pub(crate) fn network_common(ctx: &PutCtx<'_>, ids: &mut Ids<'_>, out: &mut Value) {
    out["etag"] = json!(weak_etag(ids));
    let guid = kept_or(ctx.existing, "properties.resourceGuid", || ids.uuid());
    props_mut(out).insert("resourceGuid".into(), json!(guid));
}
