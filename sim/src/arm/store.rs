//! The in-memory resource store, keyed by lower-case resource id (ARM ids are case-insensitive;
//! responses keep the casing given at creation).

use std::collections::BTreeMap;

use serde_json::Value;

#[derive(Debug, Clone)]
pub(crate) struct Stored {
    /// Resource id with the casing given at creation.
    pub id: String,
    /// Canonical type, e.g. `Microsoft.Compute/virtualMachines`.
    pub type_name: String,
    /// The representation ARM returns (before computed fields are added).
    pub body: Value,
    /// Values ARM accepts but never returns (e.g. a VM's customData).
    pub hidden: Value,
    /// Creation order, for stable listing.
    pub seq: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    map: BTreeMap<String, Stored>,
    next_seq: u64,
}

pub(crate) fn key(id: &str) -> String {
    id.trim_end_matches('/').to_ascii_lowercase()
}

impl Store {
    pub fn get(&self, id: &str) -> Option<&Stored> {
        self.map.get(&key(id))
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Stored> {
        self.map.get_mut(&key(id))
    }

    pub fn contains(&self, id: &str) -> bool {
        self.map.contains_key(&key(id))
    }

    /// Inserts or replaces; a replacement keeps the original id casing and creation order.
    pub fn put(&mut self, mut item: Stored) {
        let k = key(&item.id);
        if let Some(old) = self.map.get(&k) {
            item.id = old.id.clone();
            item.seq = old.seq;
        } else {
            self.next_seq += 1;
            item.seq = self.next_seq;
        }
        self.map.insert(k, item);
    }

    /// Removes a resource and everything nested under it.
    pub fn remove_tree(&mut self, id: &str) -> Vec<Stored> {
        let k = key(id);
        let prefix = format!("{k}/");
        let doomed: Vec<String> = self
            .map
            .keys()
            .filter(|key| **key == k || key.starts_with(&prefix))
            .cloned()
            .collect();
        doomed
            .into_iter()
            .filter_map(|k| self.map.remove(&k))
            .collect()
    }

    pub fn all(&self) -> impl Iterator<Item = &Stored> {
        self.map.values()
    }

    /// Every stored resource of a type (case-insensitive), in creation order.
    pub fn of_type(&self, type_name: &str) -> Vec<&Stored> {
        let mut v: Vec<&Stored> = self
            .map
            .values()
            .filter(|s| s.type_name.eq_ignore_ascii_case(type_name))
            .collect();
        v.sort_by_key(|s| s.seq);
        v
    }

    /// Direct children of `parent_id` with the given type, in creation order.
    pub fn children(&self, parent_id: &str, type_name: &str) -> Vec<&Stored> {
        let prefix = format!("{}/", key(parent_id));
        let mut v: Vec<&Stored> = self
            .map
            .iter()
            .filter(|(k, s)| {
                k.starts_with(&prefix)
                    && k[prefix.len()..].matches('/').count() == 1
                    && s.type_name.eq_ignore_ascii_case(type_name)
            })
            .map(|(_, s)| s)
            .collect();
        v.sort_by_key(|s| s.seq);
        v
    }

    /// Everything (including nested resources) under a resource group.
    pub fn in_group(&self, group_id: &str) -> Vec<&Stored> {
        let prefix = format!("{}/providers/", key(group_id));
        let mut v: Vec<&Stored> = self
            .map
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, s)| s)
            .collect();
        v.sort_by_key(|s| s.seq);
        v
    }
}

/// Every string value in `v` that is an ARM resource id (starts with `/subscriptions/`).
pub(crate) fn referenced_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.to_ascii_lowercase().starts_with("/subscriptions/") => {
            out.push(s.clone())
        }
        Value::Array(a) => a.iter().for_each(|x| referenced_ids(x, out)),
        Value::Object(m) => m.values().for_each(|x| referenced_ids(x, out)),
        _ => {}
    }
}
