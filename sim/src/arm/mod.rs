//! The generic ARM engine: routing, api-version checks, create-or-update, reads, deletes,
//! long-running operations, paging and the headers ARM puts on every answer.

pub(crate) mod id;
pub(crate) mod lro;
pub(crate) mod ratelimit;
pub(crate) mod store;

use std::collections::HashMap;
use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::{Map, Value, json};

use crate::faults::LroFailure;
use crate::http::{ArmError, Reply, Req, now_rfc3339};
use crate::resources::{
    self, ActionResult, DeleteMode, Family, Ids, Kind, PutCtx, PutMode, RESOURCES_VERSIONS,
    resource_groups,
};
use crate::state::{Sim, State};
use id::ResourceId;
use lro::{OpKind, OpOutcome, Operation};
use ratelimit::Charge;
use store::{Stored, key};

/// Per-request facts the engine threads through.
pub(crate) struct Call<'a> {
    pub sim: &'a Arc<Sim>,
    pub req: &'a Req,
    pub api_version: String,
    pub lro_fault: Option<LroFailure>,
}

pub(crate) async fn handle(sim: &Arc<Sim>, req: &Req, lro_fault: Option<LroFailure>) -> Reply {
    let mut reply = match crate::auth::check_arm_token(sim, req) {
        Err(reply) => reply,
        Ok(()) => {
            let charge = sim
                .lock()
                .limits
                .charge(&req.method, sim.config.arm_rate_limits);
            match charge {
                Charge::Throttled { retry_after } => ArmError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "TooManyRequests",
                    "The request is being throttled as the limit has been reached for operation type. For more information, see - https://aka.ms/armthrottling",
                )
                .reply()
                .header("Retry-After", retry_after.to_string()),
                Charge::Ok { header, remaining } => {
                    let mut r = route(sim, req, lro_fault).await;
                    r.set_header(header, remaining.to_string());
                    let global = header.replace("subscription-", "subscription-global-");
                    r.set_header(&global, (remaining * 15).to_string());
                    let compute = sim.lock().compute_limits.charge(&req.method, &req.raw_path);
                    if let Some(value) = compute {
                        r.set_header("x-ms-ratelimit-remaining-resource", value);
                    }
                    r
                }
            }
        }
    };
    let (request_id, correlation) = {
        let mut st = sim.lock();
        (st.uuid(), st.uuid())
    };
    let stamp = time::OffsetDateTime::now_utc();
    reply.set_header("x-ms-request-id", request_id);
    reply.set_header("x-ms-correlation-request-id", correlation.clone());
    reply.set_header(
        "x-ms-routing-request-id",
        format!(
            "{}:{:04}{:02}{:02}T{:02}{:02}{:02}Z:{correlation}",
            sim.config.location.to_ascii_uppercase(),
            stamp.year(),
            u8::from(stamp.month()),
            stamp.day(),
            stamp.hour(),
            stamp.minute(),
            stamp.second()
        ),
    );
    if let Some(client_id) = req.header("x-ms-client-request-id")
        && req
            .header("x-ms-return-client-request-id")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        reply.set_header("x-ms-client-request-id", client_id.to_string());
    }
    reply.set_header("Cache-Control", "no-cache");
    reply.set_header("Pragma", "no-cache");
    reply.set_header("Expires", "-1");
    reply.set_header(
        "Strict-Transport-Security",
        "max-age=31536000; includeSubDomains",
    );
    reply
}

fn not_found_route(req: &Req) -> Reply {
    ArmError::not_found(
        "InvalidResourceType",
        format!(
            "No HTTP resource was found that matches the request URI '{}'.",
            req.raw_path
        ),
    )
    .reply()
}

/// Checks `api-version` against the versions a spec defines for the target.
pub(crate) fn check_version(
    req: &Req,
    allowed: &[&str],
    type_label: &str,
    resources_provider: bool,
) -> Result<String, ArmError> {
    let Some(v) = req.q("api-version") else {
        return Err(ArmError::bad_request(
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    };
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) {
        return Ok(v.to_string());
    }
    if resources_provider {
        Err(ArmError::bad_request(
            "InvalidApiVersionParameter",
            format!(
                "The api-version '{v}' is invalid. The supported versions are '{}'.",
                allowed.join(",")
            ),
        ))
    } else {
        Err(ArmError::bad_request(
            "NoRegisteredProviderFound",
            format!(
                "No registered resource provider found for location 'eastus' and API version '{v}' for type '{type_label}'. The supported api-versions are '{}'. The supported locations are 'eastus, eastus2, westus, westus2, westeurope, northeurope'.",
                allowed.join(", ")
            ),
        ))
    }
}

async fn route(sim: &Arc<Sim>, req: &Req, lro_fault: Option<LroFailure>) -> Reply {
    let segs: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    if segs.len() < 2 || !segs[0].eq_ignore_ascii_case("subscriptions") {
        return not_found_route(req);
    }
    if !segs[1].eq_ignore_ascii_case(&sim.config.subscription_id) {
        return ArmError::not_found(
            "SubscriptionNotFound",
            format!("The subscription '{}' could not be found.", segs[1]),
        )
        .reply();
    }
    let rest = &segs[2..];
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let mut call = Call {
        sim,
        req,
        api_version: String::new(),
        lro_fault,
    };
    let resources_version = |call: &mut Call<'_>| -> Result<(), Reply> {
        call.api_version = check_version(req, RESOURCES_VERSIONS, "resourceGroups", true)
            .map_err(|e| e.reply())?;
        Ok(())
    };
    match lower.as_slice() {
        ["resourcegroups"]
        | ["resourcegroups", _]
        | ["resources"]
        | ["resourcegroups", _, "resources"] => {
            if let Err(r) = resources_version(&mut call) {
                return r;
            }
            match lower.as_slice() {
                ["resourcegroups"] => resource_groups::list(&call),
                ["resourcegroups", _] => resource_groups::handle(&call, rest[1]),
                ["resources"] => list_resources(&call, None),
                _ => list_resources(&call, Some(rest[1])),
            }
        }
        ["operationresults", _] => {
            if let Err(r) = resources_version(&mut call) {
                return r;
            }
            poll(&call, rest[1], true, Family::Compute)
        }
        ["resourcegroups", _, "providers", _, ..] if rest.len() >= 5 => {
            provider_in_group(&mut call, rest[1], rest[3], &rest[4..]).await
        }
        ["providers", _, ..] if rest.len() >= 3 => {
            provider_in_subscription(&mut call, rest[1], &rest[2..])
        }
        _ => not_found_route(req),
    }
}

const OP_SEGMENTS: &[&str] = &[
    "operations",
    "diskoperations",
    "capsoperations",
    "asyncoperations",
    "operationresults",
];

/// True for the operation-status URLs the sim hands out in `Azure-AsyncOperation` and
/// `Location` headers (the paths [`route`] sends to `poll`).
pub(crate) fn is_operation_status(req: &Req) -> bool {
    let lower: Vec<String> = req
        .segments
        .iter()
        .map(|s| s.to_ascii_lowercase())
        .collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    match lower.as_slice() {
        ["subscriptions", _, "operationresults", _] => true,
        ["subscriptions", _, "providers", _, "locations", _, seg, _] => OP_SEGMENTS.contains(seg),
        _ => false,
    }
}

fn provider_in_subscription(call: &mut Call<'_>, ns: &str, rest: &[&str]) -> Reply {
    let req = call.req;
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let lower: Vec<&str> = lower.iter().map(String::as_str).collect();
    let ns_lower = ns.to_ascii_lowercase();
    match lower.as_slice() {
        ["locations", _, seg, _] if OP_SEGMENTS.contains(seg) => {
            let versions: Vec<&str> = resources::registry()
                .iter()
                .filter(|k| k.type_name().to_ascii_lowercase().starts_with(&ns_lower))
                .flat_map(|k| k.versions().iter().copied())
                .collect();
            match check_version(req, &versions, "locations/operations", false) {
                Ok(v) => call.api_version = v,
                Err(e) => return e.reply(),
            }
            let location_style = req.q("monitor").is_some_and(|m| m == "true")
                || *seg == "operationresults"
                || *seg == "asyncoperations";
            let family = if ns_lower == "microsoft.network" {
                Family::Network
            } else {
                Family::Compute
            };
            poll(call, rest[3], location_style, family)
        }
        ["locations", _, "publishers", ..] if ns_lower == "microsoft.compute" => {
            resources::platform_images::handle(call, rest)
        }
        ["skus"] if ns_lower == "microsoft.compute" => resources::skus::list(call),
        ["checknameavailability"] if ns_lower == "microsoft.storage" => {
            resources::storage_accounts::check_name(call)
        }
        [ty] => {
            let full = format!("{ns}/{ty}");
            let Some(kind) = resources::kind_for(&full) else {
                return not_found_route(req);
            };
            match check_version(req, kind.versions(), ty, false) {
                Ok(v) => call.api_version = v,
                Err(e) => return e.reply(),
            }
            if req.method != Method::GET {
                return method_not_allowed(req);
            }
            let st = call.sim.lock();
            let items: Vec<Value> = st
                .store
                .of_type(kind.type_name())
                .into_iter()
                .map(|s| kind.render(&st.store, s, req))
                .collect();
            drop(st);
            page(call, items)
        }
        _ => not_found_route(req),
    }
}

fn method_not_allowed(req: &Req) -> Reply {
    ArmError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "MethodNotAllowed",
        format!(
            "The requested resource does not support http method '{}'.",
            req.method
        ),
    )
    .reply()
}

async fn provider_in_group(call: &mut Call<'_>, rg: &str, ns: &str, rest: &[&str]) -> Reply {
    let req = call.req;
    let sub = &call.sim.config.subscription_id;
    let group_id = format!("/subscriptions/{sub}/resourceGroups/{rg}");
    // The kind is named by the type segments (every other segment).
    let type_segments: Vec<&str> = rest.iter().step_by(2).copied().collect();
    let is_collection = !rest.len().is_multiple_of(2);
    let full = format!("{ns}/{}", type_segments.join("/"));
    let (kind, action): (&'static dyn Kind, Option<&str>) = match resources::kind_for(&full) {
        Some(k) => (k, None),
        None if is_collection && rest.len() >= 3 => {
            // `{resource}/{action}`: the kind is the parent's.
            let parent = format!(
                "{ns}/{}",
                type_segments[..type_segments.len() - 1].join("/")
            );
            match resources::kind_for(&parent) {
                Some(k) => (k, Some(rest[rest.len() - 1])),
                None => return not_found_route(req),
            }
        }
        None => return not_found_route(req),
    };
    let last_type = kind.type_name().rsplit('/').next().unwrap_or_default();
    match check_version(req, kind.versions(), last_type, false) {
        Ok(v) => call.api_version = v,
        Err(e) => return e.reply(),
    }
    if !call.sim.lock().store.contains(&group_id) {
        return ArmError::not_found(
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
        .reply();
    }
    let id_path = if action.is_some() || is_collection {
        &rest[..rest.len() - 1]
    } else {
        rest
    };
    if id_path.is_empty() {
        // `GET {rg}/providers/{ns}/{type}`: list in the group.
        if req.method != Method::GET {
            return method_not_allowed(req);
        }
        let st = call.sim.lock();
        let items: Vec<Value> = st
            .store
            .in_group(&group_id)
            .into_iter()
            .filter(|s| s.type_name.eq_ignore_ascii_case(kind.type_name()))
            .map(|s| kind.render(&st.store, s, req))
            .collect();
        drop(st);
        return page(call, items);
    }
    let raw_id = format!("{group_id}/providers/{ns}/{}", id_path.join("/"));
    let Some(rid) = ResourceId::parse(&raw_id) else {
        return not_found_route(req);
    };
    if is_collection && action.is_none() {
        // `GET {parent}/{childType}`: list children.
        if req.method != Method::GET {
            return method_not_allowed(req);
        }
        let st = call.sim.lock();
        if !st.store.contains(&raw_id) {
            return resource_not_found(&rid, kind).reply();
        }
        let items: Vec<Value> = st
            .store
            .children(&raw_id, kind.type_name())
            .into_iter()
            .map(|s| kind.render(&st.store, s, req))
            .collect();
        drop(st);
        return page(call, items);
    }
    if let Some(action) = action {
        return run_action(call, kind, &rid, action);
    }
    match req.method {
        Method::GET => get_resource(call, kind, &rid),
        Method::PUT | Method::PATCH => put_resource(call, kind, &rid).await,
        Method::DELETE => delete_resource(call, kind, &rid),
        _ => method_not_allowed(req),
    }
}

fn resource_not_found(rid: &ResourceId, kind: &dyn Kind) -> ArmError {
    let mut path = kind
        .type_name()
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let canon: Vec<&str> = kind.type_name().split('/').skip(1).collect();
    for (i, (_, name)) in rid.types.iter().enumerate() {
        path.push('/');
        path.push_str(canon.get(i).copied().unwrap_or_default());
        path.push('/');
        path.push_str(name);
    }
    ArmError::not_found(
        "ResourceNotFound",
        format!(
            "The Resource '{path}' under resource group '{}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix",
            rid.resource_group
        ),
    )
}

/// Counts a read of a resource against its running operation, so clients that poll the
/// resource itself also see the operation finish.
fn advance_resource_op(st: &mut State, resource_key: &str) {
    if let Some(op_id) = st.ops.running_for(resource_key) {
        advance(st, &op_id);
    }
}

fn get_resource(call: &Call<'_>, kind: &dyn Kind, rid: &ResourceId) -> Reply {
    let mut st = call.sim.lock();
    let raw = rid.render(kind.type_name());
    advance_resource_op(&mut st, &key(&raw));
    match st.store.get(&raw) {
        Some(item) => Reply::json(StatusCode::OK, kind.render(&st.store, item, call.req)),
        None => resource_not_found(rid, kind).reply(),
    }
}

fn parse_body(req: &Req) -> Result<Value, ArmError> {
    if req.body.is_empty() {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'The request body is empty.'.",
        ));
    }
    let v: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ArmError::bad_request(
            "InvalidRequestContent",
            format!("The request content was invalid and could not be deserialized: '{e}'."),
        )
    })?;
    if !v.is_object() {
        return Err(ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'the body must be a JSON object'.",
        ));
    }
    Ok(v)
}

/// RFC 7396 merge of `patch` into `target`.
pub(crate) fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

pub(crate) fn normalize_location(loc: &str) -> String {
    loc.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_lowercase()
}

pub(crate) fn validate_tags(body: &Value) -> Result<(), ArmError> {
    match body.get("tags") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) => {
            for (k, v) in m {
                if !v.is_string() {
                    return Err(resources::type_error(
                        &format!("tags.{k}"),
                        "System.String",
                        v,
                    ));
                }
                if k.len() > 512 || k.contains(['<', '>', '%', '&', '\\', '?', '/']) {
                    return Err(ArmError::bad_request(
                        "InvalidTagNameCharacters",
                        format!(
                            "The tag names '{k}' have reserved characters '<,>,%,&,\\,?,/' or control characters."
                        ),
                    ));
                }
            }
            if m.len() > 50 {
                return Err(ArmError::bad_request(
                    "InvalidTagCount",
                    "The number of tags exceeds the limit of 50.",
                ));
            }
            Ok(())
        }
        Some(other) => Err(resources::type_error(
            "tags",
            "System.Collections.Generic.Dictionary",
            other,
        )),
    }
}

async fn put_resource(call: &mut Call<'_>, kind: &'static dyn Kind, rid: &ResourceId) -> Reply {
    let req = call.req;
    let sim = call.sim;
    let raw = rid.render(kind.type_name());
    let patch = req.method == Method::PATCH;
    let request_body = match parse_body(req) {
        Ok(b) => b,
        Err(e) => return e.reply(),
    };
    let patched = |existing: &Stored| {
        let mut merged = existing.body.clone();
        merge(&mut merged, &request_body);
        // ARM replaces tags as a whole on PATCH.
        if let Some(tags) = request_body.get("tags") {
            merged["tags"] = tags.clone();
        }
        merged
    };
    let preview = if patch {
        let st = sim.lock();
        let Some(existing) = st.store.get(&raw) else {
            return resource_not_found(rid, kind).reply();
        };
        patched(existing)
    } else {
        request_body.clone()
    };
    // Source blobs are checked before taking the lock (it is a network call). A PATCH is
    // checked as the merged resource, so a tags-only PATCH of a gallery image version whose
    // source VHD is gone fails as its PUT would: the 2024-03-03 spec (GalleryRP gallery.json,
    // `GalleryImageVersionUpdate`) sends the same `GalleryImageVersionProperties`, source
    // included, and neither it nor the gallery docs say Azure skips the source on update, so
    // the sim takes the stricter reading rather than a kinder one.
    let mut blobs = HashMap::new();
    for uri in kind.blob_sources(&preview) {
        if let Some(size) = crate::storage_backend::blob_size(sim, &uri).await {
            blobs.insert(uri.to_ascii_lowercase(), size);
        }
    }
    let mut guard = sim.lock();
    let st: &mut State = &mut guard;
    if let Some(op) = st.ops.running_for(&key(&raw)) {
        // A new write supersedes whatever was in flight on the resource.
        finish(st, &op);
    }
    if let Some(parent) = rid.parent()
        && !st.store.contains(&parent.render(kind.type_name()))
    {
        let parent_kind_type = kind
            .type_name()
            .rsplit_once('/')
            .map(|(p, _)| p)
            .unwrap_or_default();
        return ArmError::not_found(
            "ParentResourceNotFound",
            format!(
                "Can not perform requested operation on nested resource. Parent resource '{}' not found.",
                parent.render(parent_kind_type).rsplit('/').next().unwrap_or_default()
            ),
        )
        .reply();
    }
    let existing = st.store.get(&raw).cloned();
    if let Some(condition) = req.header("if-match")
        && !etag_matches(condition, existing.as_ref())
    {
        return ArmError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            format!("The specified precondition 'If-Match = {condition}' failed."),
        )
        .reply();
    }
    // A PATCH applies to the resource as it is now, not as it was before the lock was released.
    let body = match (&existing, patch) {
        (Some(current), true) => patched(current),
        (None, true) => return resource_not_found(rid, kind).reply(),
        (_, false) => preview,
    };
    let canonical_id = existing
        .as_ref()
        .map(|e| e.id.clone())
        .unwrap_or_else(|| raw.clone());
    let out = match build_envelope(kind, &body, &canonical_id, existing.as_ref()) {
        Ok(o) => o,
        Err(e) => return e.reply(),
    };
    let mut out = out;
    let prepared = {
        let ctx = PutCtx {
            sim,
            store: &st.store,
            id: rid,
            canonical_id: &canonical_id,
            existing: existing.as_ref(),
            blobs: &blobs,
        };
        let mut ids = Ids(&mut st.rng);
        kind.prepare(&ctx, &mut ids, &mut out)
    };
    let prepared = match prepared {
        Ok(p) => p,
        Err(e) => return e.reply(),
    };
    let creating = existing.is_none();
    let mode = kind.put_mode();
    let async_op = mode != PutMode::Sync200;
    let state = if async_op {
        kind.in_progress_state(creating)
    } else {
        "Succeeded"
    };
    resources::props_mut(&mut out).insert("provisioningState".into(), json!(state));
    let item = Stored {
        id: canonical_id.clone(),
        type_name: kind.type_name().to_string(),
        body: out,
        hidden: prepared.hidden,
        seq: 0,
    };
    st.store.put(item.clone());
    for extra in prepared.extra {
        st.store.put(extra);
    }
    kind.after_put(&mut st.store, &item);
    let stored = st.store.get(&canonical_id).cloned().unwrap_or(item);
    let rendered = kind.render(&st.store, &stored, req);
    let location = rendered
        .get("location")
        .and_then(Value::as_str)
        .unwrap_or(&sim.config.location)
        .to_string();
    if !async_op {
        return Reply::json(StatusCode::OK, rendered);
    }
    let op_id = start_op(
        st,
        call,
        &canonical_id,
        OpKind::Put,
        kind.family() == Family::Disk,
    );
    let headers = op_headers(call, kind.family(), &location, &op_id);
    let mut reply = match mode {
        PutMode::Async201 => Reply::json(
            if creating {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            rendered,
        )
        .header("Azure-AsyncOperation", headers.async_url),
        PutMode::Accepted202 => Reply::json(StatusCode::ACCEPTED, rendered)
            .header("Azure-AsyncOperation", headers.async_url)
            .header("Location", headers.location_url),
        PutMode::Location202 if creating => {
            Reply::empty(StatusCode::ACCEPTED).header("Location", headers.location_url)
        }
        PutMode::Location202 => {
            // Storage updates answer synchronously.
            finish(st, &op_id);
            let stored = st.store.get(&canonical_id).cloned();
            return match stored {
                Some(s) => Reply::json(StatusCode::OK, kind.render(&st.store, &s, req)),
                None => resource_not_found(rid, kind).reply(),
            };
        }
        PutMode::Sync200 => unreachable!("handled above"),
    };
    if kind.family() != Family::Gallery {
        reply.set_header("Retry-After", sim.config.retry_after_secs.to_string());
    }
    reply
}

/// `If-Match`: `*` matches any existing resource, else one of the listed ETags must be the
/// resource's current `etag`.
fn etag_matches(condition: &str, existing: Option<&Stored>) -> bool {
    let Some(existing) = existing else {
        return false;
    };
    if condition.trim() == "*" {
        return true;
    }
    let Some(current) = existing.body.get("etag").and_then(Value::as_str) else {
        return false;
    };
    condition.split(',').any(|tag| tag.trim() == current)
}

fn build_envelope(
    kind: &dyn Kind,
    body: &Value,
    canonical_id: &str,
    existing: Option<&Stored>,
) -> Result<Value, ArmError> {
    validate_tags(body)?;
    let mut out = Map::new();
    out.insert(
        "name".into(),
        json!(canonical_id.rsplit('/').next().unwrap_or_default()),
    );
    out.insert("id".into(), json!(canonical_id));
    out.insert("type".into(), json!(kind.type_name()));
    if kind.tracked() {
        let loc = match body.get("location") {
            Some(Value::String(l)) if !l.trim().is_empty() => normalize_location(l),
            Some(Value::String(_)) | None | Some(Value::Null) => {
                return Err(ArmError::bad_request(
                    "LocationRequired",
                    "The location property is required for this definition.",
                ));
            }
            Some(other) => return Err(resources::type_error("location", "System.String", other)),
        };
        if let Some(old) = existing
            .and_then(|e| e.body.get("location"))
            .and_then(Value::as_str)
            && old != loc
        {
            return Err(ArmError::conflict(
                "InvalidResourceLocation",
                format!(
                    "The resource '{}' already exists in location '{old}' in resource group. A resource with the same name cannot be created in location '{loc}'. Please select a new resource name.",
                    canonical_id.rsplit('/').next().unwrap_or_default()
                ),
            ));
        }
        out.insert("location".into(), json!(loc));
    }
    if let Some(tags) = body.get("tags").filter(|t| !t.is_null()) {
        out.insert("tags".into(), tags.clone());
    }
    for k in kind.top_level_keys() {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            out.insert((*k).to_string(), v.clone());
        }
    }
    let mut props = match body.get("properties") {
        None | Some(Value::Null) => json!({}),
        Some(p @ Value::Object(_)) => p.clone(),
        Some(other) => {
            return Err(resources::type_error("properties", "Properties", other));
        }
    };
    // Read-only: ARM ignores what the client sends.
    if let Some(m) = props.as_object_mut() {
        m.remove("provisioningState");
    }
    out.insert("properties".into(), props);
    Ok(Value::Object(out))
}

fn delete_resource(call: &mut Call<'_>, kind: &'static dyn Kind, rid: &ResourceId) -> Reply {
    let sim = call.sim;
    let raw = rid.render(kind.type_name());
    let mut guard = sim.lock();
    let st: &mut State = &mut guard;
    if let Some(op) = st.ops.running_for(&key(&raw)) {
        finish(st, &op);
    }
    let Some(item) = st.store.get(&raw).cloned() else {
        return Reply::empty(StatusCode::NO_CONTENT);
    };
    if let Some(condition) = call.req.header("if-match")
        && !etag_matches(condition, Some(&item))
    {
        return ArmError::new(
            StatusCode::PRECONDITION_FAILED,
            "PreconditionFailed",
            format!("The specified precondition 'If-Match = {condition}' failed."),
        )
        .reply();
    }
    if let Err(e) = kind.check_delete(&st.store, &item) {
        return e.reply();
    }
    match kind.delete_mode() {
        DeleteMode::Sync => {
            remove_resource(st, &item.id);
            Reply::empty(StatusCode::OK)
        }
        DeleteMode::Accepted202 => {
            if let Some(s) = st.store.get_mut(&item.id) {
                resources::props_mut(&mut s.body)
                    .insert("provisioningState".into(), json!("Deleting"));
            }
            let location = item
                .body
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or(&sim.config.location)
                .to_string();
            let op_id = start_op(st, call, &item.id, OpKind::Delete, false);
            let h = op_headers(call, kind.family(), &location, &op_id);
            let mut reply = Reply::empty(StatusCode::ACCEPTED)
                .header("Azure-AsyncOperation", h.async_url)
                .header("Location", h.location_url);
            if kind.family() != Family::Gallery {
                reply.set_header("Retry-After", sim.config.retry_after_secs.to_string());
            }
            reply
        }
    }
}

fn run_action(
    call: &mut Call<'_>,
    kind: &'static dyn Kind,
    rid: &ResourceId,
    action: &str,
) -> Reply {
    let sim = call.sim;
    let raw = rid.render(kind.type_name());
    let mut guard = sim.lock();
    let st: &mut State = &mut guard;
    let Some(item) = st.store.get(&raw).cloned() else {
        return resource_not_found(rid, kind).reply();
    };
    match kind.action(sim, &mut st.store, &item, action, call.req) {
        None => not_found_route(call.req),
        Some(Err(e)) => e.reply(),
        Some(Ok(ActionResult::Sync(body))) => Reply::json(StatusCode::OK, body),
        Some(Ok(result @ (ActionResult::Lro | ActionResult::LroOutput(_)))) => {
            let location = item
                .body
                .get("location")
                .and_then(Value::as_str)
                .unwrap_or(&sim.config.location)
                .to_string();
            let op_id = start_op(st, call, &item.id, OpKind::Post, false);
            if let (ActionResult::LroOutput(output), Some(op)) = (result, st.ops.get_mut(&op_id)) {
                op.output = Some(output);
                op.output_in_status = kind.family() == Family::Disk;
            }
            let h = op_headers(call, kind.family(), &location, &op_id);
            Reply::empty(StatusCode::ACCEPTED)
                .header("Azure-AsyncOperation", h.async_url)
                .header("Location", h.location_url)
                .header("Retry-After", sim.config.retry_after_secs.to_string())
        }
    }
}

/// Removes a resource (and nested ones) and runs each removed kind's delete side effects.
pub(crate) fn remove_resource(st: &mut State, id: &str) {
    let removed = st.store.remove_tree(id);
    for item in &removed {
        if let Some(k) = resources::kind_for(&item.type_name) {
            k.on_deleted(&mut st.store, item);
        }
    }
}

pub(crate) fn start_op(
    st: &mut State,
    call: &mut Call<'_>,
    resource_id: &str,
    kind: OpKind,
    output_in_status: bool,
) -> String {
    let id = st.uuid();
    let failure_retry_after = call.lro_fault.as_ref().and_then(|f| f.retry_after_secs);
    let outcome = match call.lro_fault.take() {
        Some(f) if f.canceled => OpOutcome::Canceled(f.error),
        Some(f) => OpOutcome::Failed(f.error),
        None => OpOutcome::Succeeded,
    };
    st.ops.insert(Operation {
        id: id.clone(),
        resource_key: key(resource_id),
        kind,
        remaining: call.sim.config.lro_in_progress_polls,
        start: now_rfc3339(),
        end: None,
        outcome,
        done: false,
        output_in_status,
        failure_retry_after,
        output: None,
    });
    id
}

pub(crate) struct OpUrls {
    pub async_url: String,
    pub location_url: String,
}

pub(crate) fn op_headers(call: &Call<'_>, family: Family, location: &str, op_id: &str) -> OpUrls {
    let base = &call.sim.base_url;
    let sub = &call.sim.config.subscription_id;
    let v = &call.api_version;
    let prefix = format!("{base}/subscriptions/{sub}/providers");
    match family {
        Family::Compute | Family::Disk | Family::Gallery => {
            let seg = match family {
                Family::Disk => "DiskOperations",
                Family::Gallery => "capsOperations",
                _ => "operations",
            };
            let url = format!("{prefix}/Microsoft.Compute/locations/{location}/{seg}/{op_id}");
            OpUrls {
                async_url: format!("{url}?api-version={v}"),
                location_url: format!("{url}?monitor=true&api-version={v}"),
            }
        }
        Family::Network => OpUrls {
            async_url: format!(
                "{prefix}/Microsoft.Network/locations/{location}/operations/{op_id}?api-version={v}"
            ),
            location_url: format!(
                "{prefix}/Microsoft.Network/locations/{location}/operationResults/{op_id}?api-version={v}"
            ),
        },
        Family::Storage => {
            let url = format!(
                "{prefix}/Microsoft.Storage/locations/{location}/asyncoperations/{op_id}?monitor=true&api-version={v}"
            );
            OpUrls {
                async_url: url.clone(),
                location_url: url,
            }
        }
    }
}

/// One poll: `true` when the operation has ended.
pub(crate) fn advance(st: &mut State, op_id: &str) -> bool {
    let Some(op) = st.ops.get_mut(op_id) else {
        return true;
    };
    if op.done {
        return true;
    }
    if op.remaining > 0 {
        op.remaining -= 1;
        return false;
    }
    finish(st, op_id);
    true
}

/// Ends an operation and applies its effect to the store.
pub(crate) fn finish(st: &mut State, op_id: &str) {
    let Some(op) = st.ops.get_mut(op_id) else {
        return;
    };
    if op.done {
        return;
    }
    op.done = true;
    op.end = Some(now_rfc3339());
    let op = op.clone();
    let terminal = match &op.outcome {
        OpOutcome::Succeeded => "Succeeded",
        OpOutcome::Failed(_) => "Failed",
        OpOutcome::Canceled(_) => "Canceled",
    };
    match (op.kind, &op.outcome) {
        (OpKind::Delete, OpOutcome::Succeeded) => {
            let id = st.store.get(&op.resource_key).map(|s| s.id.clone());
            if let Some(id) = id {
                remove_resource(st, &id);
            }
        }
        (OpKind::Post, _) => {}
        _ => {
            if let Some(item) = st.store.get_mut(&op.resource_key) {
                resources::props_mut(&mut item.body)
                    .insert("provisioningState".into(), json!(terminal));
            }
        }
    }
}

fn poll(call: &Call<'_>, op_id: &str, location_style: bool, family: Family) -> Reply {
    let sim = call.sim;
    let mut guard = sim.lock();
    let st: &mut State = &mut guard;
    if st.ops.get(op_id).is_none() {
        return ArmError::not_found(
            "OperationNotFound",
            format!("The operation '{op_id}' could not be found."),
        )
        .reply();
    }
    let done = advance(st, op_id);
    let Some(op) = st.ops.get(op_id).cloned() else {
        return not_found_route(call.req);
    };
    let retry_after = sim.config.retry_after_secs.to_string();
    if location_style {
        if !done {
            let url = format!(
                "{}{}{}",
                sim.base_url,
                call.req.raw_path,
                call.req
                    .raw_query
                    .as_deref()
                    .map(|q| format!("?{q}"))
                    .unwrap_or_default()
            );
            return Reply::empty(StatusCode::ACCEPTED)
                .header("Location", url)
                .header("Retry-After", retry_after);
        }
        return match (&op.outcome, op.kind) {
            (OpOutcome::Succeeded, OpKind::Put) => match st.store.get(&op.resource_key) {
                Some(item) => {
                    let rendered = resources::kind_for(&item.type_name)
                        .map(|k| k.render(&st.store, item, call.req))
                        .unwrap_or_else(|| item.body.clone());
                    Reply::json(StatusCode::OK, rendered)
                }
                None => Reply::empty(StatusCode::NO_CONTENT),
            },
            (OpOutcome::Succeeded, OpKind::Post) if op.output.is_some() => {
                Reply::json(StatusCode::OK, op.output.clone().unwrap_or_default())
            }
            (OpOutcome::Succeeded, _) if family == Family::Network => {
                Reply::empty(StatusCode::NO_CONTENT)
            }
            (OpOutcome::Succeeded, _) => Reply::empty(StatusCode::OK),
            (OpOutcome::Failed(e) | OpOutcome::Canceled(e), _) => {
                let status = if e.status.is_success() {
                    StatusCode::BAD_REQUEST
                } else {
                    e.status
                };
                ArmError {
                    status,
                    ..e.clone()
                }
                .reply()
            }
        };
    }
    let mut body = json!({
        "name": op.id,
        "startTime": op.start,
        "status": if done {
            match &op.outcome {
                OpOutcome::Succeeded => "Succeeded",
                OpOutcome::Failed(_) => "Failed",
                OpOutcome::Canceled(_) => "Canceled",
            }
        } else {
            "InProgress"
        },
    });
    if let Some(end) = &op.end {
        body["endTime"] = json!(end);
    }
    if done {
        if let OpOutcome::Failed(e) | OpOutcome::Canceled(e) = &op.outcome {
            body["error"] = json!({"code": e.code, "message": e.message});
        } else if op.output_in_status
            && op.kind == OpKind::Post
            && let Some(output) = &op.output
        {
            body["properties"] = json!({ "output": output });
        } else if op.output_in_status
            && op.kind == OpKind::Put
            && let Some(item) = st.store.get(&op.resource_key)
        {
            let rendered = resources::kind_for(&item.type_name)
                .map(|k| k.render(&st.store, item, call.req))
                .unwrap_or_else(|| item.body.clone());
            body["properties"] = json!({ "output": rendered });
        }
    }
    let mut reply = Reply::json(StatusCode::OK, body);
    if !done {
        reply.set_header("Retry-After", retry_after);
    } else if let Some(secs) = op.failure_retry_after
        && op.outcome != OpOutcome::Succeeded
    {
        reply.set_header("Retry-After", secs.to_string());
    }
    reply
}

/// Answers a list with ARM paging: `{"value": [...], "nextLink": "...&$skiptoken=N"}`.
pub(crate) fn page(call: &Call<'_>, items: Vec<Value>) -> Reply {
    let req = call.req;
    let size = call.sim.config.page_size.max(1);
    let start = match req.q("$skiptoken") {
        None => 0,
        Some(t) => match t.parse::<usize>() {
            Ok(n) => n,
            Err(_) => {
                return ArmError::bad_request(
                    "InvalidSkipToken",
                    format!("The provided skip token '{t}' is not valid."),
                )
                .reply();
            }
        },
    };
    let end = (start + size).min(items.len());
    let slice: Vec<Value> = items
        .get(start.min(items.len())..end)
        .map(<[Value]>::to_vec)
        .unwrap_or_default();
    let mut body = json!({ "value": slice });
    if end < items.len() {
        let mut query: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("$skiptoken"))
            .cloned()
            .collect();
        query.push(("$skiptoken".into(), end.to_string()));
        let qs = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        body["nextLink"] = json!(format!("{}{}?{qs}", call.sim.base_url, req.raw_path));
    }
    Reply::json(StatusCode::OK, body)
}

/// `GET /subscriptions/{s}[/resourceGroups/{rg}]/resources[?$filter=...]`.
fn list_resources(call: &Call<'_>, group: Option<&str>) -> Reply {
    let st = call.sim.lock();
    let sub = &call.sim.config.subscription_id;
    let items: Vec<&Stored> = match group {
        Some(rg) => {
            let gid = format!("/subscriptions/{sub}/resourceGroups/{rg}");
            if !st.store.contains(&gid) {
                return ArmError::not_found(
                    "ResourceGroupNotFound",
                    format!("Resource group '{rg}' could not be found."),
                )
                .reply();
            }
            st.store.in_group(&gid)
        }
        None => {
            let mut v: Vec<&Stored> = st
                .store
                .all()
                .filter(|s| ResourceId::parse(&s.id).is_some())
                .collect();
            v.sort_by_key(|s| s.seq);
            v
        }
    };
    let filter = match call.req.q("$filter").map(ResourceFilter::parse) {
        None => None,
        Some(Ok(f)) => Some(f),
        Some(Err(e)) => return e.reply(),
    };
    let by_tag = filter.as_ref().is_some_and(|f| f.tag_name.is_some());
    let values: Vec<Value> = items
        .into_iter()
        // Tracked resources only (they have a location): nested ones such as gallery image
        // versions are listed too, proxy children such as subnets are not.
        .filter(|s| {
            ResourceId::parse(&s.id)
                .is_some_and(|r| r.types.len() == 1 || s.body.get("location").is_some())
        })
        .filter(|s| filter.as_ref().is_none_or(|f| f.matches(s)))
        .map(|s| {
            let mut v = json!({"id": s.id, "name": s.body["name"], "type": s.type_name});
            for k in ["kind", "location", "managedBy", "sku", "zones", "identity"] {
                if let Some(x) = s.body.get(k) {
                    v[k] = x.clone();
                }
            }
            // ARM leaves tags out when the list is filtered by tag.
            if !by_tag && let Some(t) = s.body.get("tags") {
                v["tags"] = t.clone();
            }
            v
        })
        .collect();
    drop(st);
    page(call, values)
}

/// The `$filter` forms `/resources` supports.
struct ResourceFilter {
    tag_name: Option<String>,
    tag_value: Option<String>,
    resource_type: Option<String>,
    name: Option<String>,
}

impl ResourceFilter {
    fn parse(text: &str) -> Result<Self, ArmError> {
        let bad = || {
            ArmError::bad_request(
                "InvalidFilterInQueryString",
                format!("Invalid $filter '{text}' specified in the query string."),
            )
        };
        let clause =
            regex::Regex::new(r"(?i)^\s*(tagname|tagvalue|resourcetype|name)\s+eq\s+'([^']*)'\s*$")
                .map_err(|_| bad())?;
        let mut f = Self {
            tag_name: None,
            tag_value: None,
            resource_type: None,
            name: None,
        };
        let splitter = regex::Regex::new(r"(?i)\s+and\s+").map_err(|_| bad())?;
        for part in splitter.split(text) {
            let caps = clause.captures(part).ok_or_else(bad)?;
            let value = caps[2].to_string();
            match caps[1].to_ascii_lowercase().as_str() {
                "tagname" => f.tag_name = Some(value),
                "tagvalue" => f.tag_value = Some(value),
                "resourcetype" => f.resource_type = Some(value),
                _ => f.name = Some(value),
            }
        }
        if f.tag_value.is_some() && f.tag_name.is_none() {
            return Err(bad());
        }
        Ok(f)
    }

    fn matches(&self, s: &Stored) -> bool {
        if let Some(t) = &self.resource_type
            && !s.type_name.eq_ignore_ascii_case(t)
        {
            return false;
        }
        if let Some(n) = &self.name
            && !s.body["name"]
                .as_str()
                .is_some_and(|x| x.eq_ignore_ascii_case(n))
        {
            return false;
        }
        if let Some(tn) = &self.tag_name {
            let Some(tags) = s.body.get("tags").and_then(Value::as_object) else {
                return false;
            };
            let Some((_, v)) = tags.iter().find(|(k, _)| k.eq_ignore_ascii_case(tn)) else {
                return false;
            };
            if let Some(tv) = &self.tag_value
                && v.as_str() != Some(tv.as_str())
            {
                return false;
            }
        }
        true
    }
}
