//! The control API under `/_sim/`: seed fixtures, dump the inventory, reset, faults, request log.
//! It needs no token and is never subject to faults or latency.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::arm::id::ResourceId;
use crate::arm::normalize_location;
use crate::arm::store::Stored;
use crate::faults::{Fault, Scenario};
use crate::http::{ArmError, Reply, Req};
use crate::resources::{self, Ids, Prepared, PutCtx, props_mut, resource_groups};
use crate::state::{Sim, State};

pub(crate) fn handle(sim: &Sim, req: &Req) -> Reply {
    let path: Vec<&str> = req.segments.iter().skip(1).map(String::as_str).collect();
    let bad = |m: String| {
        Reply::json(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "InvalidControlRequest", "message": m}}),
        )
    };
    match (&req.method, path.as_slice()) {
        (&Method::GET, ["info"]) => Reply::json(StatusCode::OK, sim.info()),
        (&Method::GET, ["inventory"]) => Reply::json(StatusCode::OK, inventory(sim)),
        (&Method::POST, ["seed"]) => {
            let body: Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return bad(format!("seed body is not JSON: {e}")),
            };
            let raw = req.q("raw").is_some_and(|v| v == "true");
            match seed(sim, body, raw) {
                Ok(ids) => Reply::json(StatusCode::OK, json!({"seeded": ids})),
                Err(e) => e.reply(),
            }
        }
        (&Method::POST, ["reset"]) => {
            sim.reset();
            Reply::empty(StatusCode::NO_CONTENT)
        }
        (&Method::GET, ["requests"]) => Reply::json(StatusCode::OK, json!(sim.log.entries())),
        (&Method::GET, ["telemetry"]) => {
            let posts = sim.telemetry.lock().unwrap_or_else(|e| e.into_inner());
            Reply::json(StatusCode::OK, json!(*posts))
        }
        (&Method::DELETE, ["requests"]) => {
            sim.log.clear();
            Reply::empty(StatusCode::NO_CONTENT)
        }
        (&Method::GET, ["faults"]) => {
            let status = sim
                .faults
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .status();
            Reply::json(StatusCode::OK, json!(status))
        }
        (&Method::POST, ["faults"]) => {
            let body: Value = match serde_json::from_slice(&req.body) {
                Ok(v) => v,
                Err(e) => return bad(format!("fault body is not JSON: {e}")),
            };
            // One fault, a list of faults, or a whole scenario.
            let faults: Result<Vec<Fault>, String> =
                if body.get("faults").is_some() || body.get("latency_ms").is_some() {
                    serde_json::from_value::<Scenario>(body)
                        .map(|s| s.faults)
                        .map_err(|e| e.to_string())
                } else if body.is_array() {
                    serde_json::from_value(body).map_err(|e| e.to_string())
                } else {
                    serde_json::from_value::<Fault>(body)
                        .map(|f| vec![f])
                        .map_err(|e| e.to_string())
                };
            let faults = match faults {
                Ok(f) => f,
                Err(e) => return bad(format!("invalid fault: {e}")),
            };
            let mut engine = sim.faults.lock().unwrap_or_else(|e| e.into_inner());
            for f in faults {
                if let Err(e) = engine.add(f) {
                    return bad(e.to_string());
                }
            }
            Reply::empty(StatusCode::NO_CONTENT)
        }
        (&Method::DELETE, ["faults"]) => {
            sim.faults.lock().unwrap_or_else(|e| e.into_inner()).clear();
            Reply::empty(StatusCode::NO_CONTENT)
        }
        _ => Reply::json(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "NotFound", "message": format!("no control endpoint {} {}", req.method, req.raw_path)}}),
        ),
    }
}

/// Every stored resource, sorted by id: `{"count": n, "resources": [{"id","type","body"}]}`.
pub(crate) fn inventory(sim: &Sim) -> Value {
    let st = sim.lock();
    let mut items: Vec<&Stored> = st.store.all().collect();
    items.sort_by_key(|s| s.id.to_ascii_lowercase());
    let resources: Vec<Value> = items
        .into_iter()
        .map(|s| {
            let mut v = json!({"id": s.id, "type": s.type_name, "body": s.body});
            if s.hidden.as_object().is_some_and(|h| !h.is_empty()) {
                v["hidden"] = s.hidden.clone();
            }
            v
        })
        .collect();
    json!({"count": resources.len(), "resources": resources})
}

/// Seeds one resource body or an array of them. Each needs an `id`. Unless `raw`, bodies go
/// through the same validation and defaulting as a PUT (but finish at once, with no operation);
/// missing resource groups are created.
pub(crate) fn seed(sim: &Sim, body: Value, raw: bool) -> Result<Vec<String>, ArmError> {
    let items = match body {
        Value::Array(a) => a,
        v @ Value::Object(_) => vec![v],
        _ => {
            return Err(ArmError::bad_request(
                "InvalidSeed",
                "seed expects a resource object or an array of them",
            ));
        }
    };
    let mut guard = sim.lock();
    let st: &mut State = &mut guard;
    let mut ids = Vec::new();
    for item in items {
        ids.push(seed_one(sim, st, item, raw)?);
    }
    Ok(ids)
}

fn ensure_group(st: &mut State, group_id: &str, location: &str) {
    if st.store.contains(group_id) {
        return;
    }
    let name = group_id.rsplit('/').next().unwrap_or_default();
    st.store.put(Stored {
        id: group_id.to_string(),
        type_name: resource_groups::TYPE.into(),
        body: json!({"id": group_id, "name": name, "type": resource_groups::TYPE, "location": location, "properties": {"provisioningState": "Succeeded"}}),
        hidden: Value::Null,
        seq: 0,
    });
}

fn seed_one(sim: &Sim, st: &mut State, body: Value, raw: bool) -> Result<String, ArmError> {
    let id = body
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| ArmError::bad_request("InvalidSeed", "every seeded resource needs an 'id'"))?
        .to_string();
    let location = body
        .get("location")
        .and_then(Value::as_str)
        .map(normalize_location)
        .unwrap_or_else(|| sim.config.location.clone());
    let segs: Vec<&str> = id.split('/').filter(|s| !s.is_empty()).collect();
    if segs.len() == 4 && segs[2].eq_ignore_ascii_case("resourceGroups") {
        st.store.remove_tree(&id);
        ensure_group(st, &id, &location);
        if let (Some(g), Some(tags)) = (st.store.get_mut(&id), body.get("tags")) {
            g.body["tags"] = tags.clone();
        }
        return Ok(id);
    }
    let rid = ResourceId::parse(&id).ok_or_else(|| {
        ArmError::bad_request("InvalidSeed", format!("'{id}' is not a resource id"))
    })?;
    ensure_group(st, &rid.group_id(), &location);
    let kind = resources::kind_for(&rid.full_type());
    let type_name = kind
        .map(|k| k.type_name().to_string())
        .or_else(|| body.get("type").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| rid.full_type());
    let canonical = rid.render(&type_name);
    let mut out = body.clone();
    out["id"] = json!(canonical);
    out["name"] = json!(rid.name());
    out["type"] = json!(type_name);
    if kind.is_none_or(|k| k.tracked()) {
        out["location"] = json!(location);
    }
    let mut prepared = Prepared::default();
    if !raw && let Some(kind) = kind {
        let existing = st.store.get(&canonical).cloned();
        let blobs = Default::default();
        let ctx = PutCtx {
            sim,
            store: &st.store,
            id: &rid,
            canonical_id: &canonical,
            existing: existing.as_ref(),
            blobs: &blobs,
        };
        let mut ids = Ids(&mut st.rng);
        prepared = kind.prepare(&ctx, &mut ids, &mut out)?;
    }
    props_mut(&mut out)
        .entry("provisioningState")
        .or_insert(json!("Succeeded"));
    let item = Stored {
        id: canonical.clone(),
        type_name,
        body: out,
        hidden: prepared.hidden,
        seq: 0,
    };
    st.store.put(item.clone());
    for extra in prepared.extra {
        st.store.put(extra);
    }
    if let Some(kind) = kind {
        kind.after_put(&mut st.store, &item);
    }
    Ok(canonical)
}
