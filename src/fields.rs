//! Typed reads from a JSON object with errors that name the field (`root_disk.size`) and the
//! JSON type found, never the value: cloud_properties may hold things operators keep private.
//!
//! `null` reads as absent everywhere, like a missing key: the Ruby CPI's `hash['key']` makes no
//! difference between the two either.

use serde_json::{Map, Value};

use crate::error::{CpiError, CpiResult};

#[derive(Clone)]
pub(crate) struct Fields<'a> {
    map: Option<&'a Map<String, Value>>,
    /// What the object is, for messages: "vm cloud_properties", "network 'default'".
    owner: &'a str,
    /// Dotted path of this object inside the owner, with a trailing dot, or "".
    prefix: String,
}

impl<'a> Fields<'a> {
    /// An object, or `null` read as an empty object.
    pub(crate) fn new(value: &'a Value, owner: &'a str) -> CpiResult<Self> {
        Self::at(value, owner, "")
    }

    /// Like `new`, for an object found at the dotted `path` inside the owner.
    pub(crate) fn at(value: &'a Value, owner: &'a str, path: &str) -> CpiResult<Self> {
        let map = match value {
            Value::Object(map) => Some(map),
            Value::Null => None,
            other => return Err(type_error(owner, path, "an object", other)),
        };
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}.")
        };
        Ok(Self { map, owner, prefix })
    }

    pub(crate) fn owner(&self) -> &'a str {
        self.owner
    }

    pub(crate) fn get(&self, key: &str) -> Option<&'a Value> {
        self.map?.get(key).filter(|value| !value.is_null())
    }

    pub(crate) fn path(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub(crate) fn type_error(&self, key: &str, expected: &str, found: &Value) -> CpiError {
        type_error(self.owner, &self.path(key), expected, found)
    }

    pub(crate) fn str(&self, key: &str) -> CpiResult<Option<&'a str>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(self.type_error(key, "a string", other)),
        }
    }

    pub(crate) fn string(&self, key: &str) -> CpiResult<Option<String>> {
        Ok(self.str(key)?.map(str::to_string))
    }

    pub(crate) fn bool(&self, key: &str) -> CpiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(self.type_error(key, "a boolean", other)),
        }
    }

    /// A non-negative integer (sizes, counts, iops): floats and strings are refused, as the
    /// Ruby CPI refuses non-Integer sizes.
    pub(crate) fn u64(&self, key: &str) -> CpiResult<Option<u64>> {
        match self.get(key) {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.type_error(key, "a non-negative integer", value)),
        }
    }

    pub(crate) fn string_list(&self, key: &str) -> CpiResult<Option<Vec<String>>> {
        let Some(value) = self.get(key) else {
            return Ok(None);
        };
        let expected = "an array of strings";
        let items = value
            .as_array()
            .ok_or_else(|| self.type_error(key, expected, value))?;
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| self.type_error(key, expected, item))
            })
            .collect::<CpiResult<Vec<_>>>()
            .map(Some)
    }

    /// A nested object, whose messages carry the dotted path.
    pub(crate) fn object(&self, key: &str) -> CpiResult<Option<Fields<'a>>> {
        self.get(key)
            .map(|value| Fields::at(value, self.owner, &self.path(key)))
            .transpose()
    }

    /// A nested object, or an empty one when the key is absent.
    pub(crate) fn object_or_empty(&self, key: &str) -> CpiResult<Fields<'a>> {
        static NULL: Value = Value::Null;
        Fields::at(self.get(key).unwrap_or(&NULL), self.owner, &self.path(key))
    }
}

/// "Invalid <owner>: '<path>' must be <expected>, got <JSON type>".
pub(crate) fn type_error(owner: &str, path: &str, expected: &str, found: &Value) -> CpiError {
    let found = json_type(found);
    if path.is_empty() {
        CpiError::cloud(format!("Invalid {owner}: must be {expected}, got {found}"))
    } else {
        CpiError::cloud(format!(
            "Invalid {owner}: '{path}' must be {expected}, got {found}"
        ))
    }
}

pub(crate) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn null_and_missing_read_as_absent() {
        let value = json!({"a": null});
        let fields = Fields::new(&value, "thing").unwrap();
        assert_eq!(fields.str("a"), Ok(None));
        assert_eq!(fields.u64("b"), Ok(None));
        let null = Value::Null;
        assert_eq!(Fields::new(&null, "thing").unwrap().bool("x"), Ok(None));
    }

    #[test]
    fn type_errors_name_the_dotted_path_and_hide_the_value() {
        let value = json!({"root_disk": {"size": "secret-ish"}});
        let fields = Fields::new(&value, "vm cloud_properties").unwrap();
        let root_disk = fields.object("root_disk").unwrap().unwrap();
        let err = root_disk.u64("size").unwrap_err();
        assert_eq!(
            err,
            CpiError::cloud(
                "Invalid vm cloud_properties: 'root_disk.size' must be a non-negative integer, got a string"
            )
        );
        assert!(!err.message().contains("secret-ish"));
    }

    #[test]
    fn typed_reads() {
        let value = json!({"s": "x", "b": true, "n": 3, "f": 1.5, "neg": -1, "l": ["a", "b"], "bad": ["a", 1]});
        let fields = Fields::new(&value, "o").unwrap();
        assert_eq!(fields.str("s"), Ok(Some("x")));
        assert_eq!(fields.bool("b"), Ok(Some(true)));
        assert_eq!(fields.u64("n"), Ok(Some(3)));
        assert!(fields.u64("f").is_err());
        assert!(fields.u64("neg").is_err());
        assert!(fields.bool("s").is_err());
        assert_eq!(
            fields.string_list("l"),
            Ok(Some(vec!["a".to_string(), "b".to_string()]))
        );
        assert_eq!(
            fields.string_list("bad").unwrap_err().message(),
            "Invalid o: 'bad' must be an array of strings, got an integer"
        );
        assert!(Fields::new(&json!([1]), "o").is_err());
    }
}
