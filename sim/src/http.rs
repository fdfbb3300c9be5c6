//! Request/response plumbing shared by every endpoint.

use axum::body::Body;
use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Response, StatusCode};
use serde_json::{Value, json};

/// One buffered request, with the path percent-decoded per segment.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    /// Raw path as sent (still percent-encoded).
    pub raw_path: String,
    /// Decoded, non-empty path segments.
    pub segments: Vec<String>,
    pub query: Vec<(String, String)>,
    pub raw_query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    pub fn new(
        method: Method,
        raw_path: &str,
        raw_query: Option<&str>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        let segments = raw_path
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| {
                percent_encoding::percent_decode_str(s)
                    .decode_utf8_lossy()
                    .into_owned()
            })
            .collect();
        let query = raw_query
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            method,
            raw_path: raw_path.to_string(),
            segments,
            query,
            raw_query: raw_query.map(str::to_string),
            headers,
            body,
        }
    }

    /// Query parameter by name; ARM treats names case-insensitively.
    pub fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// What a handler answers; turned into a hyper response at the edge.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    /// Drop the connection instead of answering (fault injection).
    pub reset: bool,
}

impl Reply {
    pub fn json(status: StatusCode, body: Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Some(body),
            reset: false,
        }
    }

    pub fn empty(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: None,
            reset: false,
        }
    }

    pub fn reset() -> Self {
        Self {
            reset: true,
            ..Self::empty(StatusCode::INTERNAL_SERVER_ERROR)
        }
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.set_header(name, value);
        self
    }

    pub fn set_header(&mut self, name: &str, value: impl Into<String>) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_string(), value.into()));
    }

    pub fn into_response(self) -> Response<Body> {
        let mut builder = Response::builder().status(self.status);
        let has_body = self.body.is_some();
        let bytes = self
            .body
            .map(|b| serde_json::to_vec(&b).unwrap_or_default())
            .unwrap_or_default();
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(n, v);
            }
        }
        if has_body {
            headers.insert(
                hyper::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
        }
        if let Some(h) = builder.headers_mut() {
            h.extend(headers);
        }
        builder
            .body(Body::from(bytes))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// An ARM error: `{"error":{"code","message","target"?,"details"?}}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub target: Option<String>,
}

impl ArmError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
            target: None,
        }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn invalid_parameter(target: &str, message: impl Into<String>) -> Self {
        Self {
            target: Some(target.to_string()),
            ..Self::bad_request("InvalidParameter", message)
        }
    }

    pub fn conflict(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }

    pub fn body(&self) -> Value {
        let mut err = json!({"code": self.code, "message": self.message});
        if let Some(t) = &self.target {
            err["target"] = json!(t);
        }
        json!({ "error": err })
    }

    pub(crate) fn reply(&self) -> Reply {
        Reply::json(self.status, self.body())
    }
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The time `elapsed` ago, as [`now_rfc3339`] writes it.
pub(crate) fn rfc3339_before(elapsed: std::time::Duration) -> String {
    (time::OffsetDateTime::now_utc() - elapsed)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
