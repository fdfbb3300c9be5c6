//! Microsoft.Network/networkSecurityGroups (rules inline, default rules filled in).

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, expect_enum, expect_int, name_sub_objects, network_common,
    props_mut, refuse_delete_while_referenced,
};
use crate::arm::store::{Store, Stored};
use crate::http::ArmError;

pub(crate) struct NetworkSecurityGroups;

const TYPE: &str = "Microsoft.Network/networkSecurityGroups";

fn default_rules(nsg_id: &str, etag: &str) -> Value {
    let rule = |name: &str,
                desc: &str,
                src: &str,
                dst: &str,
                access: &str,
                prio: u32,
                dir: &str| {
        json!({
            "name": name, "id": format!("{nsg_id}/defaultSecurityRules/{name}"), "etag": etag,
            "type": format!("{TYPE}/defaultSecurityRules"),
            "properties": {"provisioningState": "Succeeded", "description": desc, "protocol": "*",
                "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": src,
                "destinationAddressPrefix": dst, "access": access, "priority": prio, "direction": dir,
                "sourcePortRanges": [], "destinationPortRanges": [], "sourceAddressPrefixes": [], "destinationAddressPrefixes": []}
        })
    };
    json!([
        rule(
            "AllowVnetInBound",
            "Allow inbound traffic from all VMs in VNET",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow",
            65000,
            "Inbound"
        ),
        rule(
            "AllowAzureLoadBalancerInBound",
            "Allow inbound traffic from azure load balancer",
            "AzureLoadBalancer",
            "*",
            "Allow",
            65001,
            "Inbound"
        ),
        rule(
            "DenyAllInBound",
            "Deny all inbound traffic",
            "*",
            "*",
            "Deny",
            65500,
            "Inbound"
        ),
        rule(
            "AllowVnetOutBound",
            "Allow outbound traffic from all VMs to all VMs in VNET",
            "VirtualNetwork",
            "VirtualNetwork",
            "Allow",
            65000,
            "Outbound"
        ),
        rule(
            "AllowInternetOutBound",
            "Allow outbound traffic from all VMs to Internet",
            "*",
            "Internet",
            "Allow",
            65001,
            "Outbound"
        ),
        rule(
            "DenyAllOutBound",
            "Deny all outbound traffic",
            "*",
            "*",
            "Deny",
            65500,
            "Outbound"
        ),
    ])
}

impl Kind for NetworkSecurityGroups {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn family(&self) -> Family {
        Family::Network
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        if let Some(rules) = out["properties"]
            .get("securityRules")
            .and_then(Value::as_array)
        {
            for r in rules {
                let path = |f: &str| format!("properties.{f}");
                expect_enum(r, &path("access"), &["Allow", "Deny"])?;
                expect_enum(r, &path("direction"), &["Inbound", "Outbound"])?;
                expect_enum(
                    r,
                    &path("protocol"),
                    &["Tcp", "Udp", "Icmp", "Esp", "*", "Ah"],
                )?;
                if let Some(p) = expect_int(r, &path("priority"))?
                    && !(100..=4096).contains(&p)
                {
                    return Err(ArmError::bad_request(
                        "SecurityRuleInvalidPriority",
                        format!(
                            "Security rule has invalid Priority {p}. Value provided: {p}. Allowed range 100-4096."
                        ),
                    ));
                }
            }
        }
        let etag = super::weak_etag(ids);
        name_sub_objects(out, ctx.canonical_id, "securityRules", TYPE, &etag)?;
        network_common(ctx, ids, out);
        out["etag"] = json!(etag);
        let defaults = default_rules(ctx.canonical_id, &etag);
        let p = props_mut(out);
        p.entry("securityRules").or_insert(json!([]));
        p.entry("flushConnection").or_insert(json!(false));
        p.insert("defaultSecurityRules".into(), defaults);
        Ok(Prepared::default())
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        refuse_delete_while_referenced(
            store,
            item,
            &[
                "Microsoft.Network/networkInterfaces",
                "Microsoft.Network/virtualNetworks/subnets",
            ],
            "InUseNetworkSecurityGroupCannotBeDeleted",
            |user| {
                format!(
                    "Network security group {} cannot be deleted because it is in use by the following resources: {user}.",
                    item.id
                )
            },
        )
    }
}
