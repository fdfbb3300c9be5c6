//! Microsoft.Network/applicationGateways (sub-objects inline, backend pools referenced by NICs).

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, expect_enum, name_sub_objects, network_common, props_mut,
    refuse_delete_while_referenced,
};
use crate::arm::store::{Store, Stored};
use crate::http::ArmError;

pub(crate) struct ApplicationGateways;

const TYPE: &str = "Microsoft.Network/applicationGateways";
const COLLECTIONS: &[&str] = &[
    "gatewayIPConfigurations",
    "frontendIPConfigurations",
    "frontendPorts",
    "backendAddressPools",
    "backendHttpSettingsCollection",
    "httpListeners",
    "requestRoutingRules",
    "probes",
    "sslCertificates",
];

impl Kind for ApplicationGateways {
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
        let sku = "properties.sku";
        expect_enum(
            out,
            &format!("{sku}.name"),
            &[
                "Standard_Small",
                "Standard_Medium",
                "Standard_Large",
                "WAF_Medium",
                "WAF_Large",
                "Standard_v2",
                "WAF_v2",
                "Basic",
            ],
        )?;
        expect_enum(
            out,
            &format!("{sku}.tier"),
            &["Standard", "WAF", "Standard_v2", "WAF_v2", "Basic"],
        )?;
        let etag = super::weak_etag(ids);
        for c in COLLECTIONS {
            name_sub_objects(out, ctx.canonical_id, c, TYPE, &etag)?;
        }
        network_common(ctx, ids, out);
        out["etag"] = json!(etag);
        let p = props_mut(out);
        p.insert("operationalState".into(), json!("Running"));
        Ok(Prepared::default())
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        refuse_delete_while_referenced(
            store,
            item,
            &["Microsoft.Network/networkInterfaces"],
            "InUseApplicationGatewayCannotBeDeleted",
            |user| {
                format!(
                    "Application gateway {} cannot be deleted because it is referenced by {user}.",
                    item.id
                )
            },
        )
    }
}
