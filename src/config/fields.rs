//! Typed reads from a JSON object with errors that name the full key path.

use serde_json::{Map, Value};

use crate::error::{CpiError, CpiResult};
use crate::rpc::json_kind;

#[derive(Clone)]
pub(super) struct Fields<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    pub fn new(path: &str, map: &'a Map<String, Value>) -> Self {
        Self {
            path: path.to_owned(),
            map,
        }
    }

    fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    fn invalid(&self, key: &str, expected: &str, got: &Value) -> CpiError {
        CpiError::cloud(format!(
            "Invalid value for '{}': expected {expected}, got {}",
            self.key(key),
            json_kind(got)
        ))
    }

    pub fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub fn optional_string(&self, key: &str) -> CpiResult<Option<String>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.invalid(key, "a string", other)),
        }
    }

    pub fn required_string(&self, key: &str) -> CpiResult<String> {
        self.optional_string(key)?.ok_or_else(|| {
            CpiError::cloud(format!(
                "Missing required property '{}' in the CPI configuration",
                self.key(key)
            ))
        })
    }

    pub fn bool(&self, key: &str) -> CpiResult<Option<bool>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(other) => Err(self.invalid(key, "a boolean", other)),
        }
    }

    /// A non-negative integer; a numeric string is accepted as the Ruby CPI's `to_i` does.
    pub fn integer(&self, key: &str) -> CpiResult<Option<u64>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) if n.as_u64().is_some() => Ok(n.as_u64()),
            Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => Ok(s.trim().parse().ok()),
            Some(other) => Err(self.invalid(key, "a non-negative integer", other)),
        }
    }

    pub fn object(&self, key: &str) -> CpiResult<Option<Fields<'a>>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(Fields {
                path: self.key(key),
                map,
            })),
            Some(other) => Err(self.invalid(key, "an object", other)),
        }
    }
}
