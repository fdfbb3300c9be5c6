//! Load balancers: the GET model, and what a configured pool puts on the primary NIC.

use serde::Deserialize;

use super::backend_pool::{BackendAddressPool, BackendPoolPlan};
use super::{ChildResource, Resource, SubResource};
use crate::error::CpiResult;

/// The fields the CPI reads from `GET .../loadBalancers/{name}`.
pub(crate) type LoadBalancer = Resource<LoadBalancerProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct LoadBalancerProperties {
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(
        rename = "frontendIPConfigurations",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) frontend_ip_configurations: Vec<FrontendIpConfiguration>,
    #[serde(
        rename = "backendAddressPools",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) backend_address_pools: Vec<BackendAddressPool>,
}

pub(crate) type FrontendIpConfiguration = ChildResource<FrontendIpConfigurationProperties>;

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub(crate) struct FrontendIpConfigurationProperties {
    #[serde(rename = "privateIPAddress", default)]
    pub(crate) private_ip_address: Option<String>,
    #[serde(rename = "privateIPAllocationMethod", default)]
    pub(crate) private_ip_allocation_method: Option<String>,
    #[serde(rename = "publicIPAddress", default)]
    pub(crate) public_ip_address: Option<SubResource>,
    #[serde(
        rename = "inboundNatRules",
        default,
        deserialize_with = "super::null_as_default"
    )]
    pub(crate) inbound_nat_rules: Vec<SubResource>,
}

/// What one configured LB pool adds to the primary NIC's ipconfig.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoadBalancerAttachment {
    /// The named pool, or the LB's first; `None` when the LB has no pool (Ruby adds none).
    pub(crate) backend_pool_id: Option<String>,
    /// The inbound NAT rules of the LB's FIRST frontend IP configuration (Ruby's choice).
    pub(crate) inbound_nat_rules: Vec<SubResource>,
}

impl LoadBalancer {
    /// Applies a configured pool to this LB (its GET result).
    pub(crate) fn attachment(&self, pool: &BackendPoolPlan) -> CpiResult<LoadBalancerAttachment> {
        let pool = pool.select(&self.properties.backend_address_pools)?;
        Ok(LoadBalancerAttachment {
            backend_pool_id: pool.map(|p| p.id.clone()),
            inbound_nat_rules: self
                .properties
                .frontend_ip_configurations
                .first()
                .map(|frontend| frontend.properties.inbound_nat_rules.clone())
                .unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LB: &str =
        "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/loadBalancers/lb";

    /// Shaped like Azure's LoadBalancerGet example (api-version 2024-05-01), trimmed, with a
    /// second frontend and pool added.
    fn fixture() -> serde_json::Value {
        json!({
            "name": "lb",
            "id": LB,
            "etag": "W/\"00000000-0000-0000-0000-00000000\"",
            "type": "Microsoft.Network/loadBalancers",
            "location": "westus",
            "sku": {"name": "Standard"},
            "properties": {
                "provisioningState": "Succeeded",
                "frontendIPConfigurations": [
                    {
                        "name": "fe-lb",
                        "id": format!("{LB}/frontendIPConfigurations/fe-lb"),
                        "properties": {
                            "provisioningState": "Succeeded",
                            "privateIPAddress": "10.0.1.4",
                            "privateIPAllocationMethod": "Dynamic",
                            "subnet": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/virtualNetworks/vnetlb/subnets/subnetlb"},
                            "loadBalancingRules": [{"id": format!("{LB}/loadBalancingRules/rulelb")}],
                            "inboundNatRules": [
                                {"id": format!("{LB}/inboundNatRules/in-nat-rule")},
                                {"id": format!("{LB}/inboundNatRules/in-nat-rule-2")}
                            ]
                        }
                    },
                    {
                        "name": "fe-2",
                        "id": format!("{LB}/frontendIPConfigurations/fe-2"),
                        "properties": {
                            "publicIPAddress": {"id": "/subscriptions/subid/resourceGroups/rg1/providers/Microsoft.Network/publicIPAddresses/pip"},
                            "inboundNatRules": [{"id": format!("{LB}/inboundNatRules/other")}]
                        }
                    }
                ],
                "backendAddressPools": [
                    {"name": "be-lb", "id": format!("{LB}/backendAddressPools/be-lb"),
                     "properties": {"provisioningState": "Succeeded"}},
                    {"name": "be-2", "id": format!("{LB}/backendAddressPools/be-2")}
                ],
                "probes": [],
                "inboundNatRules": [],
                "outboundRules": []
            }
        })
    }

    fn reference(backend_pool_name: Option<&str>) -> BackendPoolPlan {
        let reference = crate::props::BackendPoolRef {
            name: "lb".into(),
            resource_group_name: "rg1".into(),
            backend_pool_name: backend_pool_name.map(Into::into),
        };
        BackendPoolPlan::load_balancer("subid", &reference)
    }

    #[test]
    fn parses_a_load_balancer_get() {
        let lb: LoadBalancer = serde_json::from_value(fixture()).unwrap();
        assert_eq!(lb.name, "lb");
        assert_eq!(lb.location.as_deref(), Some("westus"));
        assert_eq!(lb.properties.backend_address_pools.len(), 2);
        let frontends = &lb.properties.frontend_ip_configurations;
        assert_eq!(
            frontends[0].properties.private_ip_address.as_deref(),
            Some("10.0.1.4")
        );
        assert_eq!(frontends[0].properties.inbound_nat_rules.len(), 2);
        assert!(frontends[1].properties.public_ip_address.is_some());
    }

    #[test]
    fn attachment_uses_first_pool_and_first_frontends_nat_rules() {
        let lb: LoadBalancer = serde_json::from_value(fixture()).unwrap();
        let attachment = lb.attachment(&reference(None)).unwrap();
        assert_eq!(
            attachment.backend_pool_id,
            Some(format!("{LB}/backendAddressPools/be-lb"))
        );
        assert_eq!(
            attachment
                .inbound_nat_rules
                .iter()
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>(),
            [
                format!("{LB}/inboundNatRules/in-nat-rule"),
                format!("{LB}/inboundNatRules/in-nat-rule-2")
            ]
        );
    }

    #[test]
    fn attachment_uses_the_named_pool_or_fails() {
        let lb: LoadBalancer = serde_json::from_value(fixture()).unwrap();
        let named = lb.attachment(&reference(Some("be-2"))).unwrap();
        assert_eq!(
            named.backend_pool_id,
            Some(format!("{LB}/backendAddressPools/be-2"))
        );
        let err = lb.attachment(&reference(Some("nope"))).unwrap_err();
        assert!(
            err.message()
                .starts_with("'lb' does not have a backend_pool named 'nope'")
        );
    }

    #[test]
    fn a_bare_load_balancer_adds_nothing() {
        let lb: LoadBalancer =
            serde_json::from_value(json!({"id": LB, "name": "lb", "properties": {}})).unwrap();
        let attachment = lb.attachment(&reference(None)).unwrap();
        assert_eq!(attachment, LoadBalancerAttachment::default());
    }
}
