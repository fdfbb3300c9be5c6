//! The request log: in memory for tests, optionally appended to a JSONL file.
//!
//! Secrets never reach it: the Authorization header is not recorded at all, and bodies pass
//! through a redactor that blanks secret fields wherever they occur.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{Reply, Req, now_rfc3339, rfc3339_before};

/// Fields whose values are replaced by `<redacted>` in logged bodies and queries.
const SECRET_KEYS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "access_token",
    "customData",
    "adminPassword",
    "password",
    "keys",
    "sig",
    "refresh_token",
    // A disk's upload URL (beginGetAccess): it carries a SAS.
    "accessSAS",
];

/// One logged request.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoggedRequest {
    pub seq: u64,
    /// When the answer was sent (RFC 3339, nanoseconds).
    pub time: String,
    /// When the request arrived (RFC 3339, nanoseconds): with `time`, which requests overlapped.
    #[serde(default)]
    pub started: String,
    pub method: String,
    pub path: String,
    /// Query parameters (secret ones redacted).
    pub query: Vec<(String, String)>,
    pub status: u16,
    pub duration_ms: u64,
    /// Request body (JSON or form), redacted.
    pub body: Option<Value>,
    /// Response body, redacted.
    pub response: Option<Value>,
    /// True when a fault was injected into this request.
    pub fault: bool,
}

pub(crate) struct RequestLog {
    entries: Mutex<Vec<LoggedRequest>>,
    file: Option<PathBuf>,
}

fn is_secret(key: &str) -> bool {
    SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(key))
}

pub(crate) fn redact(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                if is_secret(k) {
                    *v = Value::String("<redacted>".into());
                } else {
                    redact(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

fn body_value(req: &Req) -> Option<Value> {
    if req.body.is_empty() {
        return None;
    }
    let mut value = serde_json::from_slice::<Value>(&req.body).unwrap_or_else(|_| {
        let form = req.form();
        if form.is_empty() {
            Value::String(format!("<{} bytes, not JSON>", req.body.len()))
        } else {
            Value::Object(
                form.into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            )
        }
    });
    redact(&mut value);
    Some(value)
}

impl RequestLog {
    pub fn new(file: Option<PathBuf>) -> Self {
        Self {
            entries: Mutex::new(Vec::new()),
            file,
        }
    }

    pub fn record(&self, req: &Req, reply: &Reply, elapsed: Duration, fault: bool) {
        let mut response = reply.body.clone();
        if let Some(r) = response.as_mut() {
            redact(r);
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = LoggedRequest {
            seq: entries.len() as u64 + 1,
            time: now_rfc3339(),
            started: rfc3339_before(elapsed),
            method: req.method.to_string(),
            path: req.raw_path.clone(),
            query: req
                .query
                .iter()
                .map(|(k, v)| {
                    let v = if is_secret(k) {
                        "<redacted>".into()
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect(),
            status: if reply.reset {
                0
            } else {
                reply.status.as_u16()
            },
            duration_ms: elapsed.as_millis() as u64,
            body: body_value(req),
            response,
            fault,
        };
        if let Some(path) = &self.file
            && let Ok(line) = serde_json::to_string(&entry)
            && let Ok(mut f) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        {
            // A failing log file must not fail the request it describes.
            let _ = writeln!(f, "{line}");
        }
        entries.push(entry);
    }

    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
