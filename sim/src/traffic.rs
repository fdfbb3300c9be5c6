//! Conformance mode: every ARM request/response pair the sim serves becomes one traffic file in
//! the shape `oav validate-traffic` reads (`{"liveRequest": {url, method, headers, body},
//! "liveResponse": {statusCode, headers, body}}`), so Azure's own specs can judge the sim's
//! answers and the requests its clients send.
//!
//! Only ARM is written: token endpoints, IMDS and the `/_sim/` control API are not ARM and
//! have no spec there; operation-status polls are not written either, because Azure's specs
//! describe long-running operations on the operation itself and define no status path to
//! match them against. The Authorization header is never written, and secret fields keep
//! their type but lose their value, so a redacted file validates like the real one.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Map, Value, json};

use crate::http::{Reply, Req};

/// Environment variable naming the traffic directory when the configuration names none, so
/// a test suite that starts sims through the library can be run in conformance mode.
pub const TRAFFIC_DIR_ENV: &str = "AZURE_SIM_TRAFFIC_DIR";

/// Fields whose string values are replaced, wherever they occur.
const SECRET_FIELDS: &[&str] = &[
    "customData",
    "adminPassword",
    "password",
    "client_secret",
    "access_token",
    "refresh_token",
    // A disk's upload URL (beginGetAccess): it carries a SAS.
    "accessSAS",
];

/// Request headers never written.
const DROPPED_HEADERS: &[&str] = &["authorization", "cookie"];

/// Numbers the writers of this process: a later sim may get an earlier one's port.
static WRITERS: AtomicU64 = AtomicU64::new(0);

pub(crate) struct TrafficWriter {
    dir: PathBuf,
    /// Distinguishes the files of every sim of every process writing into one directory.
    prefix: String,
    seq: AtomicU64,
}

impl TrafficWriter {
    /// Creates the directory.
    pub fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let writer = WRITERS.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(Self {
            dir: dir.to_path_buf(),
            prefix: format!("{}-{writer:03}", std::process::id()),
            seq: AtomicU64::new(0),
        })
    }

    /// Writes the pair as `{pid}-{writer}-{seq}-{method}.json`. A failed write is reported on
    /// stderr and does not fail the request it describes.
    pub fn record(&self, base_url: &str, req: &Req, reply: &Reply) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("{}-{seq:06}-{}.json", self.prefix, req.method);
        let path = self.dir.join(name);
        let pair = traffic_pair(base_url, req, reply);
        let text = serde_json::to_vec_pretty(&pair).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("azure-sim: traffic file {}: {e}", path.display());
        }
    }
}

/// The oav request/response pair for one served request.
pub(crate) fn traffic_pair(base_url: &str, req: &Req, reply: &Reply) -> Value {
    let mut url = format!("{base_url}{}", req.raw_path);
    if let Some(q) = &req.raw_query {
        url.push('?');
        url.push_str(q);
    }
    let mut request_headers = Map::new();
    for name in req.headers.keys() {
        let lower = name.as_str().to_ascii_lowercase();
        if DROPPED_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let values: Vec<&str> = req
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        request_headers.insert(lower, Value::String(values.join(", ")));
    }
    let mut live_request = json!({
        "url": url,
        "method": req.method.as_str(),
        "headers": request_headers,
    });
    if !req.body.is_empty() {
        let mut body = serde_json::from_slice::<Value>(&req.body)
            .unwrap_or_else(|_| Value::String(format!("<{} bytes, not JSON>", req.body.len())));
        redact_keeping_types(&mut body);
        live_request["body"] = body;
    }
    let mut response_headers: Map<String, Value> = reply
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), Value::String(v.clone())))
        .collect();
    let mut live_response = json!({"statusCode": reply.status.as_u16().to_string()});
    if let Some(body) = &reply.body {
        // The same header the wire answer carries (added when the reply is sent).
        response_headers.insert(
            "content-type".into(),
            Value::String("application/json; charset=utf-8".into()),
        );
        let mut body = body.clone();
        redact_keeping_types(&mut body);
        live_response["body"] = body;
    }
    live_response["headers"] = Value::Object(response_headers);
    json!({"liveRequest": live_request, "liveResponse": live_response})
}

/// Blanks secret strings but keeps every key and type, so the file still validates.
/// Storage account keys (`keys[].value`) are secret too.
fn redact_keeping_types(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                let secret = SECRET_FIELDS.iter().any(|s| s.eq_ignore_ascii_case(k));
                if secret && v.is_string() {
                    *v = Value::String("<redacted>".into());
                } else if k == "keys"
                    && let Value::Array(items) = v
                {
                    for item in items.iter_mut() {
                        if let Some(secret) = item.get_mut("value").filter(|s| s.is_string()) {
                            *secret = Value::String("<redacted>".into());
                        }
                    }
                } else {
                    redact_keeping_types(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact_keeping_types),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use hyper::header::{HeaderMap, HeaderValue};
    use hyper::{Method, StatusCode};

    #[test]
    fn pair_has_oav_shape_without_secrets() {
        let mut headers = HeaderMap::new();
        headers.insert("Authorization", HeaderValue::from_static("Bearer secret"));
        headers.insert("Content-Type", HeaderValue::from_static("application/json"));
        let body =
            json!({"properties": {"osProfile": {"customData": "c2VjcmV0", "adminPassword": "p"}}});
        let req = Req::new(
            Method::PUT,
            "/subscriptions/s/resourceGroups/rg",
            Some("api-version=2021-04-01"),
            headers,
            Bytes::from(body.to_string()),
        );
        let reply = Reply::json(
            StatusCode::OK,
            json!({"keys": [{"keyName": "key1", "value": "k", "permissions": "FULL"}]}),
        )
        .header("x-ms-request-id", "r1");
        let pair = traffic_pair("https://127.0.0.1:1", &req, &reply);
        let lr = &pair["liveRequest"];
        assert_eq!(
            lr["url"],
            "https://127.0.0.1:1/subscriptions/s/resourceGroups/rg?api-version=2021-04-01"
        );
        assert_eq!(lr["method"], "PUT");
        assert!(lr["headers"].get("authorization").is_none());
        assert_eq!(lr["headers"]["content-type"], "application/json");
        let os = &lr["body"]["properties"]["osProfile"];
        assert_eq!(os["customData"], "<redacted>");
        assert_eq!(os["adminPassword"], "<redacted>");
        let resp = &pair["liveResponse"];
        assert_eq!(resp["statusCode"], "200");
        assert_eq!(resp["headers"]["x-ms-request-id"], "r1");
        assert_eq!(resp["body"]["keys"][0]["value"], "<redacted>");
        assert_eq!(resp["body"]["keys"][0]["permissions"], "FULL");
        assert!(!pair.to_string().contains("Bearer"));
    }

    #[test]
    fn empty_bodies_are_left_out() {
        let req = Req::new(
            Method::DELETE,
            "/subscriptions/s/resourceGroups/rg",
            None,
            HeaderMap::new(),
            Bytes::new(),
        );
        let pair = traffic_pair("https://h", &req, &Reply::empty(StatusCode::ACCEPTED));
        assert!(pair["liveRequest"].get("body").is_none());
        assert!(pair["liveResponse"].get("body").is_none());
        assert_eq!(pair["liveResponse"]["statusCode"], "202");
        assert_eq!(
            pair["liveRequest"]["url"],
            "https://h/subscriptions/s/resourceGroups/rg"
        );
    }
}
