//! Microsoft.Resources/resourceGroups: create-or-update, get, check, patch, delete (202 +
//! `Location`, removing everything inside), list.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::arm::lro::OpKind;
use crate::arm::store::Stored;
use crate::arm::{Call, merge, normalize_location, page, start_op, validate_tags};
use crate::http::{ArmError, Reply};
use crate::state::State;

pub(crate) const TYPE: &str = "Microsoft.Resources/resourceGroups";

fn not_found(name: &str) -> Reply {
    ArmError::not_found(
        "ResourceGroupNotFound",
        format!("Resource group '{name}' could not be found."),
    )
    .reply()
}

fn group_id(call: &Call<'_>, name: &str) -> String {
    format!(
        "/subscriptions/{}/resourceGroups/{name}",
        call.sim.config.subscription_id
    )
}

fn validate_name(name: &str) -> Result<(), ArmError> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && !name.ends_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'));
    if ok {
        Ok(())
    } else {
        Err(ArmError::bad_request(
            "InvalidResourceGroup",
            format!(
                "The provided resource group name '{name}' has these invalid characters or length. The name can only be a letter, digit, '-', '.', '(', ')' or '_', up to 90 characters, and cannot end with '.'."
            ),
        ))
    }
}

pub(crate) fn handle(call: &Call<'_>, name: &str) -> Reply {
    let id = group_id(call, name);
    let req = call.req;
    let mut guard = call.sim.lock();
    let st: &mut State = &mut guard;
    match req.method {
        Method::GET => match st.store.get(&id) {
            Some(g) => Reply::json(StatusCode::OK, g.body.clone()),
            None => not_found(name),
        },
        Method::HEAD => {
            if st.store.contains(&id) {
                Reply::empty(StatusCode::NO_CONTENT)
            } else {
                Reply::empty(StatusCode::NOT_FOUND)
            }
        }
        Method::PUT | Method::PATCH => {
            if let Err(e) = validate_name(name) {
                return e.reply();
            }
            let mut body: Value = match serde_json::from_slice(&req.body) {
                Ok(v @ Value::Object(_)) => v,
                _ => {
                    return ArmError::bad_request(
                        "InvalidRequestContent",
                        "The request content was invalid and could not be deserialized.",
                    )
                    .reply();
                }
            };
            let existing = st.store.get(&id).cloned();
            if req.method == Method::PATCH {
                let Some(old) = &existing else {
                    return not_found(name);
                };
                let mut merged = old.body.clone();
                merge(&mut merged, &body);
                body = merged;
            }
            if let Err(e) = validate_tags(&body) {
                return e.reply();
            }
            let Some(location) = body
                .get("location")
                .and_then(Value::as_str)
                .map(normalize_location)
            else {
                return ArmError::bad_request(
                    "LocationRequired",
                    "The location property is required for this definition.",
                )
                .reply();
            };
            if let Some(old) = existing
                .as_ref()
                .and_then(|e| e.body.get("location"))
                .and_then(Value::as_str)
                && old != location
            {
                return ArmError::conflict(
                    "InvalidResourceGroupLocation",
                    format!("Invalid resource group location '{location}'. The Resource group already exists in location '{old}'."),
                )
                .reply();
            }
            let stored_id = existing.as_ref().map(|e| e.id.clone()).unwrap_or(id);
            let mut out = json!({
                "id": stored_id,
                "name": stored_id.rsplit('/').next().unwrap_or(name),
                "type": TYPE,
                "location": location,
                "properties": {"provisioningState": "Succeeded"},
            });
            if let Some(tags) = body.get("tags").filter(|t| !t.is_null()) {
                out["tags"] = tags.clone();
            }
            if let Some(m) = body.get("managedBy").filter(|t| !t.is_null()) {
                out["managedBy"] = m.clone();
            }
            st.store.put(Stored {
                id: stored_id,
                type_name: TYPE.into(),
                body: out.clone(),
                hidden: Value::Null,
                seq: 0,
            });
            let status = if existing.is_some() {
                StatusCode::OK
            } else {
                StatusCode::CREATED
            };
            Reply::json(status, out)
        }
        Method::DELETE => {
            let Some(group) = st.store.get_mut(&id) else {
                return not_found(name);
            };
            group.body["properties"]["provisioningState"] = json!("Deleting");
            let group_id = group.id.clone();
            let mut call = Call {
                sim: call.sim,
                req: call.req,
                api_version: call.api_version.clone(),
                lro_fault: call.lro_fault.clone(),
            };
            let op = start_op(st, &mut call, &group_id, OpKind::Delete, false);
            Reply::empty(StatusCode::ACCEPTED)
                .header(
                    "Location",
                    format!(
                        "{}/subscriptions/{}/operationresults/{op}?api-version={}",
                        call.sim.base_url, call.sim.config.subscription_id, call.api_version
                    ),
                )
                .header("Retry-After", call.sim.config.retry_after_secs.to_string())
        }
        _ => ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The requested resource does not support this http method.",
        )
        .reply(),
    }
}

pub(crate) fn list(call: &Call<'_>) -> Reply {
    if call.req.method != Method::GET {
        return ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "The requested resource does not support this http method.",
        )
        .reply();
    }
    let st = call.sim.lock();
    let groups: Vec<Value> = st
        .store
        .of_type(TYPE)
        .into_iter()
        .map(|g| g.body.clone())
        .collect();
    drop(st);
    page(call, groups)
}
