//! Application gateways: the GET model and the backend pool a configured reference means.
//! Only IPv4 ipconfigs get AGW pools (AGW has no IPv6 backends); create_vm only builds IPv4.

use serde::Deserialize;

use super::Resource;
use super::backend_pool::{BackendAddressPool, BackendPoolPlan};
use crate::error::CpiResult;

/// The fields the CPI reads from `GET .../applicationGateways/{name}`.
pub(crate) type ApplicationGateway = Resource<ApplicationGatewayProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct ApplicationGatewayProperties {
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(
        rename = "backendAddressPools",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) backend_address_pools: Vec<BackendAddressPool>,
}

impl ApplicationGateway {
    /// The pool id a configured pool puts on the primary NIC (named, or the first); `None` when
    /// the gateway has no pool and none was named.
    pub(crate) fn backend_pool_id(&self, pool: &BackendPoolPlan) -> CpiResult<Option<String>> {
        Ok(pool
            .select(&self.properties.backend_address_pools)?
            .map(|pool| pool.id.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AGW: &str = "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/applicationGateways/appgw";

    /// Shaped like Azure's ApplicationGatewayGet example (2024-05-01), trimmed.
    fn fixture() -> serde_json::Value {
        json!({
            "name": "appgw",
            "id": AGW,
            "type": "Microsoft.Network/applicationGateways",
            "location": "southcentralus",
            "properties": {
                "provisioningState": "Succeeded",
                "sku": {"name": "Standard_Medium", "tier": "Standard", "capacity": 3},
                "operationalState": "Running",
                "frontendIPConfigurations": [{"name": "appgwfip", "id": format!("{AGW}/frontendIPConfigurations/appgwfip")}],
                "backendAddressPools": [
                    {"name": "appgwpool", "id": format!("{AGW}/backendAddressPools/appgwpool"),
                     "properties": {"provisioningState": "Succeeded", "backendAddresses": []}},
                    {"name": "appgwpool1", "id": format!("{AGW}/backendAddressPools/appgwpool1"),
                     "properties": {"backendAddresses": ["10.0.0.1", "10.0.0.2"]}}
                ]
            }
        })
    }

    fn reference(backend_pool_name: Option<&str>) -> BackendPoolPlan {
        let reference = crate::props::BackendPoolRef {
            name: "appgw".into(),
            resource_group_name: "rg1".into(),
            backend_pool_name: backend_pool_name.map(Into::into),
        };
        BackendPoolPlan::application_gateway("subid", &reference)
    }

    #[test]
    fn parses_and_picks_first_or_named_pool() {
        let agw: ApplicationGateway = serde_json::from_value(fixture()).unwrap();
        assert_eq!(agw.location.as_deref(), Some("southcentralus"));
        assert_eq!(
            agw.backend_pool_id(&reference(None)).unwrap(),
            Some(format!("{AGW}/backendAddressPools/appgwpool"))
        );
        assert_eq!(
            agw.backend_pool_id(&reference(Some("appgwpool1"))).unwrap(),
            Some(format!("{AGW}/backendAddressPools/appgwpool1"))
        );
        let err = agw.backend_pool_id(&reference(Some("x"))).unwrap_err();
        assert!(
            err.message()
                .starts_with("'appgw' does not have a backend_pool named 'x'")
        );
    }

    #[test]
    fn gateway_without_pools_adds_nothing() {
        let agw: ApplicationGateway =
            serde_json::from_value(json!({"id": AGW, "name": "appgw", "properties": {}})).unwrap();
        assert_eq!(agw.backend_pool_id(&reference(None)).unwrap(), None);
    }
}
