//! Microsoft.Network resources (api-version 2024-05-01): ids, GET models, PUT bodies and the
//! pure decisions of create_vm's network phase. No HTTP here: the actions drive the ARM client
//! with these values. Every error is the Ruby CPI's `CloudError` message.
//!
//! Public API, in the order create_vm uses it. The inputs are already parsed by `props`
//! ([`crate::props::Networks`], [`crate::props::VmCloudProps`]): nothing here decodes user input
//! or re-checks the NetworkConfigurator rules.
//!
//! - [`plan::plan_networks`]`(&Networks, &VmCloudProps, &PlanContext) -> CpiResult<NetworkPlan>`
//!   decides everything that needs no Azure answer. [`plan::PlanContext`] is `{subscription_id,
//!   vm: &VmCid, default_resource_group, default_security_group, pip_idle_timeout_in_minutes}`.
//!   [`plan::NetworkPlan`] holds
//!   - `virtual_network`: a [`ids::ResourceLookup`] for the primary VNet (its `location` is the
//!     VM's: [`virtual_network::vm_location`]);
//!   - `public_ip`: [`plan::PublicIpPlan`] `None` | `Vip{address, resource_group}` (list PIPs,
//!     [`public_ip::find_by_address`], else [`public_ip::vip_not_found_error`]) |
//!     `Dynamic(`[`public_ip::DynamicPublicIp`]`)` (PUT `.body(location)` at `.id(sub)`, then GET);
//!   - `load_balancers` / `application_gateways`: [`backend_pool::BackendPoolPlan`]s. GET
//!     `.owner`, then [`load_balancer::LoadBalancer::attachment`] /
//!     [`application_gateway::ApplicationGateway::backend_pool_id`];
//!   - `nics`: [`plan::PlannedNic`]s, primary first, each with `name` (`VmCid::nic_name`), `id`
//!     (for the VM's networkProfile), and lookups for its subnet, NSG and ASGs.
//! - A [`ids::ResourceLookup`] is `{name, candidates, not_found}`: GET the candidate ids in
//!   order, first found wins; none found → `lookup.not_found_error()`.
//! - [`plan::PlannedNic::spec`]`(location, ResolvedNicIds, &PrimaryNicAttachments) -> NicSpec`
//!   (types in [`interface`]), then [`interface::NicSpec::body`] is the NIC PUT body (at
//!   `nic.id`).
//! - GET models (serde, tolerant of missing fields and nulls): [`interface::NetworkInterface`],
//!   [`public_ip::PublicIpAddress`], [`load_balancer::LoadBalancer`],
//!   [`application_gateway::ApplicationGateway`], NSGs and ASGs as [`Resource`],
//!   [`virtual_network::VirtualNetwork`], [`virtual_network::Subnet`].
//! - delete_vm and failure cleanup: the plan's NIC names, [`interface::nics_of_vm`] (filter a
//!   NIC listing of the VM's RG), [`interface::availability_set_from_nics`],
//!   [`public_ip::dynamic_public_ip_name`], and the `NicReservedForAnotherVm` retry constants in
//!   [`interface`].
//! - [`ids::NetworkKind::id`], [`ids::subnet_id`]: the ids of network resources, as
//!   [`crate::azure::ResourcePath`]s (one type for every ARM id).
//!
//! Bodies differ from the Ruby CPI's where the 2024-05-01 spec demands it: no read-only `name`,
//! and no `networkSecurityGroup: null` (omitted instead, same effect on a PUT).

pub(crate) mod application_gateway;
pub(crate) mod backend_pool;
pub(crate) mod ids;
pub(crate) mod interface;
pub(crate) mod load_balancer;
pub(crate) mod plan;
pub(crate) mod public_ip;
pub(crate) mod security_group;
pub(crate) mod virtual_network;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::null_as_default;

/// `{"id": ...}`: how ARM bodies reference another resource.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SubResource {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
}

impl SubResource {
    pub(crate) fn new(id: &str) -> Self {
        Self { id: id.to_owned() }
    }
}

/// What every top-level Microsoft.Network GET shares; `P` holds the `properties` the CPI reads.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(bound(deserialize = "P: Default + Deserialize<'de>"))]
pub(crate) struct Resource<P> {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: P,
}

/// What every child resource in a GET shares (a subnet, an ipconfig, a backend pool).
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(bound(deserialize = "P: Default + Deserialize<'de>"))]
pub(crate) struct ChildResource<P> {
    #[serde(default, deserialize_with = "null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: P,
}

/// The `properties` of a resource the CPI only needs the id and name of.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct Unread {}
