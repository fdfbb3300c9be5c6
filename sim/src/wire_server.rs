//! The wire server's telemetry endpoint (`POST /machine?comp=telemetrydata`), served with
//! IMDS on the plain-HTTP listener as Azure serves both from host addresses. Accepted bodies
//! are kept for tests ([`crate::SimHandle::telemetry_posts`], `GET /_sim/telemetry`).

use hyper::{Method, StatusCode};
use serde_json::json;

use crate::http::{Reply, Req};
use crate::state::Sim;

pub(crate) fn is_telemetry_path(req: &Req) -> bool {
    req.segments.len() == 1 && req.segments[0] == "machine"
}

pub(crate) fn telemetry(sim: &Sim, req: &Req) -> Reply {
    let refuse = |status: StatusCode, message: &str| Reply::json(status, json!({"error": message}));
    if req.method != Method::POST {
        return refuse(StatusCode::METHOD_NOT_ALLOWED, "only POST is supported");
    }
    if req.q("comp") != Some("telemetrydata") {
        return refuse(StatusCode::BAD_REQUEST, "comp=telemetrydata is required");
    }
    if req.header("x-ms-version").is_none() {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the x-ms-version header is required",
        );
    }
    if !req
        .header("content-type")
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("text/xml"))
    {
        return refuse(StatusCode::BAD_REQUEST, "the body must be text/xml");
    }
    let Ok(body) = String::from_utf8(req.body.to_vec()) else {
        return refuse(StatusCode::BAD_REQUEST, "the body is not UTF-8");
    };
    if !body.starts_with("<?xml") || !body.contains("<TelemetryData version=\"1.0\">") {
        return refuse(
            StatusCode::BAD_REQUEST,
            "the body is not a TelemetryData document",
        );
    }
    sim.telemetry
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(body);
    Reply::empty(StatusCode::OK)
}
