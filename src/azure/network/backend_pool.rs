//! Backend pools of load balancers and application gateways: where to GET the owner of a
//! configured pool ([`props::BackendPoolRef`], parsed from `load_balancer` /
//! `application_gateway`), and which of the owner's pools the primary NIC joins.

use super::ids::{NetworkKind, ResourceLookup};
use super::{ChildResource, Unread};
use crate::error::{CpiError, CpiResult};
use crate::props;

/// One configured backend pool: GET `owner`, then [`select`](Self::select) among its pools.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackendPoolPlan {
    /// The load balancer or application gateway; `owner.name` is its configured name.
    pub owner: ResourceLookup,
    /// `None` means the first pool.
    pub backend_pool_name: Option<String>,
}

impl BackendPoolPlan {
    pub(crate) fn load_balancer(subscription_id: &str, reference: &props::BackendPoolRef) -> Self {
        Self::new(
            subscription_id,
            reference,
            NetworkKind::LoadBalancer,
            "load balancer",
        )
    }

    pub(crate) fn application_gateway(
        subscription_id: &str,
        reference: &props::BackendPoolRef,
    ) -> Self {
        Self::new(
            subscription_id,
            reference,
            NetworkKind::ApplicationGateway,
            "application gateway",
        )
    }

    fn new(
        subscription_id: &str,
        reference: &props::BackendPoolRef,
        kind: NetworkKind,
        noun: &str,
    ) -> Self {
        let name = &reference.name;
        Self {
            owner: ResourceLookup {
                name: name.clone(),
                candidates: vec![kind.id(subscription_id, &reference.resource_group_name, name)],
                // The Ruby CPI's CloudError.
                not_found: format!("Cannot find the {noun} '{name}'"),
            },
            backend_pool_name: reference.backend_pool_name.clone(),
        }
    }

    /// The pool this reference means among `pools` (as listed by the owner's GET): the named
    /// one, or the first. `Ok(None)` when the owner has no pools and none was named (Ruby then
    /// adds nothing to the NIC).
    pub(crate) fn select<'a>(
        &self,
        pools: &'a [BackendAddressPool],
    ) -> CpiResult<Option<&'a BackendAddressPool>> {
        let Some(wanted) = self.backend_pool_name.as_deref() else {
            return Ok(pools.first());
        };
        // ARM names are case-insensitive; Ruby compared exactly.
        match pools
            .iter()
            .find(|pool| pool.name.eq_ignore_ascii_case(wanted))
        {
            Some(pool) => Ok(Some(pool)),
            None => {
                let available: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
                Err(CpiError::cloud(format!(
                    "'{}' does not have a backend_pool named '{}': available pools: [{}]",
                    self.owner.name,
                    wanted,
                    available.join(", ")
                )))
            }
        }
    }
}

/// A backend address pool as listed in an LB or AGW GET.
pub(crate) type BackendAddressPool = ChildResource<Unread>;

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(name: &str, rg: &str, pool: Option<&str>) -> props::BackendPoolRef {
        props::BackendPoolRef {
            name: name.into(),
            resource_group_name: rg.into(),
            backend_pool_name: pool.map(Into::into),
        }
    }

    fn pools(names: &[&str]) -> Vec<BackendAddressPool> {
        names
            .iter()
            .map(|n| BackendAddressPool {
                id: format!("id-{n}"),
                name: (*n).to_owned(),
                properties: Unread {},
            })
            .collect()
    }

    #[test]
    fn lookups_name_the_resource_and_the_ruby_error() {
        let lb = BackendPoolPlan::load_balancer("sub", &reference("lb-1", "rg-lb", None));
        assert_eq!(
            lb.owner.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/rg-lb/providers/Microsoft.Network/loadBalancers/lb-1"
        );
        assert_eq!(lb.owner.not_found, "Cannot find the load balancer 'lb-1'");
        let agw = BackendPoolPlan::application_gateway("sub", &reference("agw", "rg", Some("p")));
        assert_eq!(
            agw.owner.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Network/applicationGateways/agw"
        );
        assert_eq!(
            agw.owner.not_found,
            "Cannot find the application gateway 'agw'"
        );
        assert_eq!(agw.backend_pool_name.as_deref(), Some("p"));
    }

    #[test]
    fn selects_the_first_or_the_named_pool() {
        let first = BackendPoolPlan::load_balancer("sub", &reference("lb", "rg", None));
        let named = BackendPoolPlan::load_balancer("sub", &reference("lb", "rg", Some("pool2")));
        let list = pools(&["pool1", "pool2"]);
        assert_eq!(first.select(&list).unwrap().unwrap().id, "id-pool1");
        assert_eq!(named.select(&list).unwrap().unwrap().id, "id-pool2");
        // Pool names are matched case-insensitively, as ARM treats names.
        assert_eq!(
            named.select(&pools(&["POOL2"])).unwrap().unwrap().id,
            "id-POOL2"
        );
        assert_eq!(first.select(&[]).unwrap(), None);
        let err = named.select(&pools(&["pool1"])).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
        assert_eq!(
            err.message(),
            "'lb' does not have a backend_pool named 'pool2': available pools: [pool1]"
        );
        assert!(named.select(&[]).is_err());
    }
}
