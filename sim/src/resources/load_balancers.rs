//! Microsoft.Network/loadBalancers: frontend IPs, backend pools, inbound NAT rules, rules and
//! probes inline; backend pools list the NIC IP configurations that joined them.

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, expect_enum, get_str, invalid_reference, name_sub_objects,
    network_common, network_interfaces::ip_configurations, refuse_delete_while_referenced,
};
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req};

pub(crate) struct LoadBalancers;

const TYPE: &str = "Microsoft.Network/loadBalancers";
const COLLECTIONS: &[&str] = &[
    "frontendIPConfigurations",
    "backendAddressPools",
    "loadBalancingRules",
    "probes",
    "inboundNatRules",
    "inboundNatPools",
    "outboundRules",
];

impl Kind for LoadBalancers {
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
        let sku =
            expect_enum(out, "sku.name", &["Basic", "Standard", "Gateway"])?.unwrap_or("Basic");
        out["sku"] = json!({"name": sku, "tier": get_str(out, "sku.tier").unwrap_or("Regional")});
        if let Some(fes) = out["properties"]
            .get("frontendIPConfigurations")
            .and_then(Value::as_array)
        {
            for fe in fes {
                for path in ["properties.publicIPAddress.id", "properties.subnet.id"] {
                    if let Some(id) = get_str(fe, path)
                        && !ctx.store.contains(id)
                    {
                        return Err(invalid_reference(id, ctx.canonical_id));
                    }
                }
            }
        }
        let etag = super::weak_etag(ids);
        for c in COLLECTIONS {
            name_sub_objects(out, ctx.canonical_id, c, TYPE, &etag)?;
            if out["properties"].get(*c).is_none() {
                out["properties"][*c] = json!([]);
            }
        }
        network_common(ctx, ids, out);
        out["etag"] = json!(etag);
        Ok(Prepared::default())
    }
    fn render(&self, store: &Store, item: &Stored, _req: &Req) -> Value {
        let mut body = item.body.clone();
        let nics = store.of_type("Microsoft.Network/networkInterfaces");
        if let Some(pools) = body["properties"]["backendAddressPools"].as_array_mut() {
            for pool in pools {
                let pool_id = pool["id"].as_str().unwrap_or_default().to_string();
                let members: Vec<Value> = nics
                    .iter()
                    .flat_map(|n| ip_configurations(n))
                    .filter(|c| {
                        c["properties"]["loadBalancerBackendAddressPools"]
                            .as_array()
                            .is_some_and(|a| {
                                a.iter().any(|p| {
                                    p["id"]
                                        .as_str()
                                        .is_some_and(|i| i.eq_ignore_ascii_case(&pool_id))
                                })
                            })
                    })
                    .map(|c| json!({"id": c["id"]}))
                    .collect();
                if !members.is_empty() {
                    pool["properties"]["backendIPConfigurations"] = json!(members);
                }
            }
        }
        body
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        refuse_delete_while_referenced(
            store,
            item,
            &["Microsoft.Network/networkInterfaces"],
            "InUseLoadBalancerCannotBeDeleted",
            |user| {
                format!(
                    "Load balancer {} cannot be deleted because it is referenced by {user}.",
                    item.id
                )
            },
        )
    }
}
