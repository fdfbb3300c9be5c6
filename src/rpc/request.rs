//! The request the Director (or bosh-cli) writes on stdin, parsed once at the edge.

use serde_json::{Map, Value};

use crate::call::ApiVersion;
use crate::error::{CpiError, CpiResult};
use crate::fields::json_type as json_kind;

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub method: String,
    pub arguments: Vec<Value>,
    pub context: Map<String, Value>,
    pub api_version: ApiVersion,
}

impl Request {
    /// The Director's `request_id` (e.g. `cpi-123456`), used to tag log lines.
    pub(crate) fn request_id(&self) -> Option<&str> {
        self.context.get("request_id").and_then(Value::as_str)
    }

    pub(crate) fn parse(input: &[u8]) -> CpiResult<Self> {
        if input.iter().all(u8::is_ascii_whitespace) {
            return Err(CpiError::invalid_request(
                "Request is empty: expected one JSON object on stdin",
            ));
        }
        let value: Value = serde_json::from_slice(input)
            .map_err(|e| CpiError::invalid_request(format!("Request is not valid JSON: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(CpiError::invalid_request(format!(
                "Request must be a JSON object, got {}",
                json_kind(&value)
            )));
        };

        let method = match object.remove("method") {
            Some(Value::String(m)) if !m.is_empty() => m,
            Some(Value::String(_)) => {
                return Err(CpiError::invalid_request(
                    "Request 'method' must not be empty",
                ));
            }
            Some(other) => {
                return Err(CpiError::invalid_request(format!(
                    "Request 'method' must be a string, got {}",
                    json_kind(&other)
                )));
            }
            None => return Err(CpiError::invalid_request("Request has no 'method'")),
        };
        let arguments = match object.remove("arguments") {
            Some(Value::Array(a)) => a,
            Some(other) => {
                return Err(CpiError::invalid_request(format!(
                    "Request 'arguments' must be an array, got {}",
                    json_kind(&other)
                )));
            }
            None => return Err(CpiError::invalid_request("Request has no 'arguments'")),
        };
        let context = match object.remove("context") {
            Some(Value::Object(c)) => c,
            Some(other) => {
                return Err(CpiError::invalid_request(format!(
                    "Request 'context' must be an object, got {}",
                    json_kind(&other)
                )));
            }
            None => return Err(CpiError::invalid_request("Request has no 'context'")),
        };
        match context.get("director_uuid") {
            Some(Value::String(_)) => {}
            Some(other) => {
                return Err(CpiError::invalid_request(format!(
                    "Request 'context.director_uuid' must be a string, got {}",
                    json_kind(other)
                )));
            }
            None => {
                return Err(CpiError::invalid_request(
                    "Request has no 'context.director_uuid'",
                ));
            }
        }
        let api_version = parse_api_version(object.get("api_version"))?;

        Ok(Self {
            method,
            arguments,
            context,
            api_version,
        })
    }
}

fn parse_api_version(value: Option<&Value>) -> CpiResult<ApiVersion> {
    match value {
        None | Some(Value::Null) => Ok(ApiVersion::V1),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(1) => Ok(ApiVersion::V1),
            Some(2) => Ok(ApiVersion::V2),
            Some(v) if v >= 3 => Ok(ApiVersion::V3),
            _ => Err(CpiError::invalid_request(format!(
                "Request 'api_version' must be a positive integer, got {n}"
            ))),
        },
        Some(other) => Err(CpiError::invalid_request(format!(
            "Request 'api_version' must be an integer, got {}",
            json_kind(other)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> CpiResult<Request> {
        Request::parse(s.as_bytes())
    }

    #[test]
    fn parses_a_director_request() {
        let r = parse(
            r#"{"method":"has_vm","arguments":["x"],"context":{"director_uuid":"d","request_id":"cpi-1"},"api_version":2}"#,
        )
        .unwrap();
        assert_eq!(r.method, "has_vm");
        assert_eq!(r.arguments.len(), 1);
        assert_eq!(r.api_version, ApiVersion::V2);
        assert_eq!(r.request_id(), Some("cpi-1"));
    }

    #[test]
    fn api_version_absent_is_v1_and_high_is_v3() {
        let base = r#"{"method":"info","arguments":[],"context":{"director_uuid":"d"}"#;
        assert_eq!(
            parse(&format!("{base}}}")).unwrap().api_version,
            ApiVersion::V1
        );
        assert_eq!(
            parse(&format!("{base},\"api_version\":1}}"))
                .unwrap()
                .api_version,
            ApiVersion::V1
        );
        assert_eq!(
            parse(&format!("{base},\"api_version\":3}}"))
                .unwrap()
                .api_version,
            ApiVersion::V3
        );
        assert_eq!(
            parse(&format!("{base},\"api_version\":99}}"))
                .unwrap()
                .api_version,
            ApiVersion::V3
        );
        for bad in ["0", "-1", "1.5", "\"2\"", "true"] {
            let err = parse(&format!("{base},\"api_version\":{bad}}}")).unwrap_err();
            assert_eq!(err.wire_type(), "Bosh::Clouds::CpiError", "{bad}");
            assert!(err.message().contains("api_version"), "{bad}");
        }
    }

    #[test]
    fn malformed_requests_name_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("  \n", "empty"),
            ("{", "not valid JSON"),
            ("[1]", "must be a JSON object, got an array"),
            (
                r#"{"arguments":[],"context":{"director_uuid":"d"}}"#,
                "no 'method'",
            ),
            (
                r#"{"method":1,"arguments":[],"context":{"director_uuid":"d"}}"#,
                "'method' must be a string",
            ),
            (
                r#"{"method":"info","context":{"director_uuid":"d"}}"#,
                "no 'arguments'",
            ),
            (
                r#"{"method":"info","arguments":{},"context":{"director_uuid":"d"}}"#,
                "'arguments' must be an array",
            ),
            (r#"{"method":"info","arguments":[]}"#, "no 'context'"),
            (
                r#"{"method":"info","arguments":[],"context":[]}"#,
                "'context' must be an object",
            ),
            (
                r#"{"method":"info","arguments":[],"context":{}}"#,
                "no 'context.director_uuid'",
            ),
            (
                r#"{"method":"info","arguments":[],"context":{"director_uuid":5}}"#,
                "director_uuid' must be a string",
            ),
        ];
        for (input, expected) in cases {
            let err = parse(input).unwrap_err();
            assert_eq!(err.wire_type(), "Bosh::Clouds::CpiError", "{input}");
            assert!(
                err.message().contains(expected),
                "{input}: {}",
                err.message()
            );
        }
    }
}
