//! Microsoft.Network resources (api-version 2024-05-01): pure models, ids and request bodies.
//! No HTTP here; the create_vm/delete_vm actions drive the ARM client with these values.

pub mod application_gateway;
pub mod backend_pool;
pub mod ids;
pub mod interface;
pub mod load_balancer;
pub mod plan;
pub mod public_ip;
pub mod security_group;
pub mod virtual_network;

use serde::{Deserialize, Serialize};

/// `{"id": ...}`: how ARM bodies reference another resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubResource {
    #[serde(default)]
    pub id: String,
}

impl SubResource {
    pub fn new(id: &str) -> Self {
        Self { id: id.to_owned() }
    }
}
