//! Long-running operations: the status records behind `Azure-AsyncOperation` and `Location`.

use std::collections::HashMap;

use crate::http::ArmError;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum OpKind {
    Put,
    Delete,
    Post,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OpOutcome {
    Succeeded,
    Failed(ArmError),
    Canceled(ArmError),
}

#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub id: String,
    /// Lower-case key of the resource the operation works on.
    pub resource_key: String,
    pub kind: OpKind,
    /// `InProgress` answers left before the operation ends.
    pub remaining: u32,
    pub start: String,
    pub end: Option<String>,
    pub outcome: OpOutcome,
    pub done: bool,
    /// Compute disk operations put the final resource in `properties.output`.
    pub output_in_status: bool,
    /// `Retry-After` sent with a terminal failure (fault injection).
    pub failure_retry_after: Option<u64>,
    /// The result of an action (POST) that has one.
    pub output: Option<serde_json::Value>,
}

#[derive(Debug, Default)]
pub(crate) struct Operations {
    map: HashMap<String, Operation>,
}

impl Operations {
    pub fn insert(&mut self, op: Operation) {
        self.map.insert(op.id.to_ascii_lowercase(), op);
    }

    pub fn get(&self, id: &str) -> Option<&Operation> {
        self.map.get(&id.to_ascii_lowercase())
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Operation> {
        self.map.get_mut(&id.to_ascii_lowercase())
    }

    /// The unfinished operation on a resource, if any.
    pub fn running_for(&self, resource_key: &str) -> Option<String> {
        self.map
            .values()
            .find(|o| !o.done && o.resource_key == resource_key)
            .map(|o| o.id.clone())
    }
}
