//! Microsoft.Network/publicIPAddresses.

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, expect_enum, expect_int, get_str, kept_or, network_common,
    props_mut, refuse_delete_while_referenced,
};
use crate::arm::store::{Store, Stored};
use crate::http::ArmError;

pub(crate) struct PublicIpAddresses;

impl Kind for PublicIpAddresses {
    fn type_name(&self) -> &'static str {
        "Microsoft.Network/publicIPAddresses"
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
        let sku = expect_enum(out, "sku.name", &["Basic", "Standard"])?.unwrap_or("Basic");
        let method = expect_enum(
            out,
            "properties.publicIPAllocationMethod",
            &["Static", "Dynamic"],
        )?
        .unwrap_or(if sku == "Standard" {
            "Static"
        } else {
            "Dynamic"
        });
        if sku == "Standard" && method == "Dynamic" {
            return Err(ArmError::bad_request(
                "StandardSkuPublicIPAddressesMustBeStatic",
                "Standard sku publicIp /subscriptions/... must have AllocationMethod set to Static.",
            ));
        }
        let idle = expect_int(out, "properties.idleTimeoutInMinutes")?.unwrap_or(4);
        if !(4..=30).contains(&idle) {
            return Err(ArmError::bad_request(
                "PublicIPIdleTimeoutIsOutOfRange",
                format!("IdleTimeoutInMinutes {idle} is out of range 4 to 30."),
            ));
        }
        let version = expect_enum(out, "properties.publicIPAddressVersion", &["IPv4", "IPv6"])?
            .unwrap_or("IPv4");
        let ip = kept_or(ctx.existing, "properties.ipAddress", || {
            format!(
                "20.{}.{}.{}",
                1 + ids.below(200),
                ids.below(255),
                1 + ids.below(250)
            )
        });
        out["sku"] = json!({"name": sku, "tier": get_str(out, "sku.tier").unwrap_or("Regional")});
        network_common(ctx, ids, out);
        let p = props_mut(out);
        p.insert("publicIPAllocationMethod".into(), json!(method));
        p.insert("idleTimeoutInMinutes".into(), json!(idle));
        p.insert("publicIPAddressVersion".into(), json!(version));
        p.entry("ipTags").or_insert(json!([]));
        if method == "Static" {
            p.insert("ipAddress".into(), json!(ip));
        }
        Ok(Prepared::default())
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        refuse_delete_while_referenced(
            store,
            item,
            &[
                "Microsoft.Network/networkInterfaces",
                "Microsoft.Network/loadBalancers",
                "Microsoft.Network/applicationGateways",
            ],
            "PublicIPAddressCannotBeDeleted",
            |user| {
                format!(
                    "Public IP address {} can not be deleted since it is still allocated to resource {user}.",
                    item.id
                )
            },
        )
    }
}
