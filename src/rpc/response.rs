//! The one JSON object written to stdout.

use serde::Serialize;
use serde_json::Value;

use crate::error::CpiError;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WireError {
    #[serde(rename = "type")]
    pub error_type: &'static str,
    pub message: String,
    pub ok_to_retry: bool,
}

/// Always carries all three keys: the Director's schema rejects a response missing any of them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Response {
    pub result: Value,
    pub error: Option<WireError>,
    pub log: String,
}

impl Response {
    pub(crate) fn success(result: Value) -> Self {
        Self {
            result,
            error: None,
            log: String::new(),
        }
    }

    pub fn failure(error: &CpiError) -> Self {
        Self {
            result: Value::Null,
            error: Some(WireError {
                error_type: error.wire_type(),
                message: error.message().to_owned(),
                ok_to_retry: error.ok_to_retry(),
            }),
            log: format!("Rescued {}: {}", error.wire_type(), error.message()),
        }
    }

    pub fn to_json(&self) -> String {
        // Serializing plain JSON values into a String cannot fail; fall back to a fixed valid
        // answer rather than panic if it ever did.
        serde_json::to_string(self).unwrap_or_else(|_| {
            r#"{"result":null,"error":{"type":"Bosh::Clouds::CloudError","message":"failed to serialize the response","ok_to_retry":false},"log":""}"#.to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_has_all_keys() {
        let json: Value = serde_json::from_str(
            &Response::failure(&CpiError::VmNotFound("VM 'x' cannot be found".into())).to_json(),
        )
        .unwrap();
        assert_eq!(json["result"], Value::Null);
        assert_eq!(json["error"]["type"], "Bosh::Clouds::VMNotFound");
        assert_eq!(json["error"]["message"], "VM 'x' cannot be found");
        assert_eq!(json["error"]["ok_to_retry"], false);
        assert!(json["log"].is_string());
    }

    #[test]
    fn success_has_null_error() {
        let json = Response::success(Value::Bool(true)).to_json();
        assert_eq!(json, r#"{"result":true,"error":null,"log":""}"#);
    }
}
