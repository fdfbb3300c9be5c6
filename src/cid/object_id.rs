//! The `key:value;key:value` encoding that VM, disk and snapshot CIDs share with the Ruby CPI.
//!
//! A CID is either a legacy plain (V1) string, returned verbatim, or a V2 map whose entries are
//! written as `key:value`, sorted as whole strings and joined with `;`. Parsing seeds
//! `resource_group_name` with the global default so that ids without that key inherit it.

use std::collections::BTreeMap;

use crate::error::{CpiError, CpiResult};
use crate::names::quote;

pub(crate) const RESOURCE_GROUP_NAME_KEY: &str = "resource_group_name";
pub(crate) const STORAGE_ACCOUNT_NAME_KEY: &str = "storage_account_name";
const ENTRY_SEPARATOR: char = ';';
const KEY_VALUE_FORMAT_ERROR: &str = "key/value format wrong.";

/// A parsed or freshly built id: `plain` is set for V1 ids, `fields` always holds the seeded
/// resource group (and, for V2 ids, every entry, unknown keys included, so they round-trip).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ObjectId {
    plain: Option<String>,
    fields: BTreeMap<String, String>,
}

impl ObjectId {
    pub(crate) fn parse(id: &str, default_resource_group_name: &str) -> CpiResult<Self> {
        let mut fields = BTreeMap::new();
        fields.insert(
            RESOURCE_GROUP_NAME_KEY.to_string(),
            default_resource_group_name.to_string(),
        );
        let mut entries: Vec<&str> = id.split(ENTRY_SEPARATOR).collect();
        // Ruby's String#split drops trailing empty fields, so "x;" is a one-entry (plain) id and
        // "" has no entries at all; both decide how the Ruby CPI reads an id.
        while entries.last() == Some(&"") {
            entries.pop();
        }
        if entries.len() == 1 {
            return Ok(Self {
                plain: Some(id.to_string()),
                fields,
            });
        }
        for entry in entries {
            // The key stops at the first ':'; the value keeps any further ':'.
            let (key, value) = entry
                .split_once(':')
                .ok_or_else(|| CpiError::cloud(KEY_VALUE_FORMAT_ERROR))?;
            fields.insert(key.to_string(), value.to_string());
        }
        Ok(Self {
            plain: None,
            fields,
        })
    }

    /// A V2 id from known-good entries; values are checked so the id can be parsed back.
    pub(crate) fn keyed<'a>(
        kind: &str,
        entries: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> CpiResult<Self> {
        let mut fields = BTreeMap::new();
        for (key, value) in entries {
            if value.contains(ENTRY_SEPARATOR) {
                return Err(CpiError::cloud(format!(
                    "Invalid {key} in {kind}: '{}' must not contain '{ENTRY_SEPARATOR}'",
                    quote(value)
                )));
            }
            fields.insert(key.to_string(), value.to_string());
        }
        Ok(Self {
            plain: None,
            fields,
        })
    }

    pub(crate) fn plain(&self) -> Option<&str> {
        self.plain.as_deref()
    }

    pub(crate) fn field(&self, key: &str) -> Option<&str> {
        self.fields.get(key).map(String::as_str)
    }

    /// The wire form; `omit` names a key left out of V2 output (disk ids drop the resource group
    /// when a storage account is present).
    pub(crate) fn format(&self, omit: Option<&str>) -> String {
        if let Some(plain) = &self.plain {
            return plain.clone();
        }
        let mut entries: Vec<String> = self
            .fields
            .iter()
            .filter(|(key, _)| Some(key.as_str()) != omit)
            .map(|(key, value)| format!("{key}:{value}"))
            .collect();
        // Sorting the joined strings (not the keys) is what the Ruby CPI does; the two differ
        // when one key is a prefix of another, e.g. "a-b:" sorts before "a:".
        entries.sort();
        entries.join(";")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_is_a_plain_id_even_with_trailing_separators() {
        for id in ["plain", "a:b", "a:b;", "a:b;;"] {
            let parsed = ObjectId::parse(id, "rg").unwrap();
            assert_eq!(parsed.plain(), Some(id));
            assert_eq!(parsed.field(RESOURCE_GROUP_NAME_KEY), Some("rg"));
            assert_eq!(parsed.format(None), id);
        }
    }

    #[test]
    fn an_empty_id_has_only_the_seeded_resource_group() {
        for id in ["", ";", ";;"] {
            let parsed = ObjectId::parse(id, "rg").unwrap();
            assert_eq!(parsed.plain(), None);
            assert_eq!(parsed.format(None), "resource_group_name:rg");
        }
    }

    #[test]
    fn entries_without_a_colon_are_rejected() {
        for id in ["mock_plain_id;ak:av", "a:b;;c:d", ";a:b", "a:b;c"] {
            let err = ObjectId::parse(id, "rg").unwrap_err();
            assert_eq!(err, CpiError::cloud("key/value format wrong."), "{id}");
        }
    }

    #[test]
    fn values_keep_colons_and_later_duplicates_win() {
        let parsed = ObjectId::parse("k:v:w;k:x:y;:empty-key", "rg").unwrap();
        assert_eq!(parsed.field("k"), Some("x:y"));
        assert_eq!(parsed.field(""), Some("empty-key"));
        assert_eq!(
            parsed.format(None),
            ":empty-key;k:x:y;resource_group_name:rg"
        );
    }

    #[test]
    fn sorting_is_by_the_joined_string_not_the_key() {
        let parsed = ObjectId::parse("a:1;a-b:2", "rg").unwrap();
        assert_eq!(parsed.format(None), "a-b:2;a:1;resource_group_name:rg");
    }

    #[test]
    fn keyed_rejects_separators_in_values() {
        let err = ObjectId::keyed("instance id", [("agent_id", "a;b")]).unwrap_err();
        assert!(err.message().contains("agent_id"), "{err}");
    }
}
