//! The existing network resources a VM attaches to (VNet, subnets, security groups, load
//! balancers, application gateways), found by the candidate ids the network plan lists.

use futures::future::try_join_all;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Azure;
use crate::azure::ApiKind;
use crate::azure::network::ids::ResourceLookup;
use crate::azure::network::interface::ResolvedNicIds;
use crate::azure::network::plan::PlannedNic;
use crate::error::{CpiError, CpiResult};

/// GETs the lookup's candidates in order; the first found wins.
async fn find_value(azure: &Azure<'_>, lookup: &ResourceLookup) -> CpiResult<(String, Value)> {
    for candidate in &lookup.candidates {
        if let Some(found) = azure.get::<Value>(candidate, ApiKind::Network).await? {
            return Ok((candidate.id(), found));
        }
    }
    Err(lookup.not_found_error())
}

/// The first of the lookup's candidates that exists, or the lookup's not-found error.
pub(crate) async fn find<T: DeserializeOwned>(
    azure: &Azure<'_>,
    lookup: &ResourceLookup,
) -> CpiResult<T> {
    let (id, found) = find_value(azure, lookup).await?;
    serde_json::from_value(found)
        .map_err(|e| CpiError::cloud(format!("Azure sent an unreadable resource '{id}': {e}")))
}

/// The ids a planned NIC refers to: its subnet, security group and application security groups.
pub(crate) async fn nic_ids(azure: &Azure<'_>, nic: &PlannedNic) -> CpiResult<ResolvedNicIds> {
    let subnet = find_value(azure, &nic.subnet);
    let security_group = async {
        match &nic.network_security_group {
            Some(lookup) => find_value(azure, lookup).await.map(|(id, _)| Some(id)),
            None => Ok(None),
        }
    };
    let application_security_groups = try_join_all(
        nic.application_security_groups
            .iter()
            .map(|lookup| async move { find_value(azure, lookup).await.map(|(id, _)| id) }),
    );
    let ((subnet_id, _), network_security_group_id, application_security_group_ids) =
        futures::try_join!(subnet, security_group, application_security_groups)?;
    Ok(ResolvedNicIds {
        subnet_id,
        network_security_group_id,
        application_security_group_ids,
    })
}
