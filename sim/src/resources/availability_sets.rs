//! Microsoft.Compute/availabilitySets (+ `vmSizes`). `virtualMachines` is derived from the VMs
//! that name the set.

use hyper::Method;
use serde_json::{Value, json};

use super::{
    ActionResult, DeleteMode, Family, Ids, Kind, Prepared, PutCtx, PutMode, expect_enum,
    expect_int, props_mut, skus, virtual_machines,
};
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req};
use crate::state::Sim;

pub(crate) struct AvailabilitySets;

impl Kind for AvailabilitySets {
    fn type_name(&self) -> &'static str {
        "Microsoft.Compute/availabilitySets"
    }
    fn family(&self) -> Family {
        Family::Compute
    }
    fn put_mode(&self) -> PutMode {
        PutMode::Sync200
    }
    fn delete_mode(&self) -> DeleteMode {
        DeleteMode::Sync
    }
    fn top_level_keys(&self) -> &'static [&'static str] {
        &["sku"]
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        _ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let sku = expect_enum(out, "sku.name", &["Aligned", "Classic"])?.unwrap_or("Classic");
        let fd = expect_int(out, "properties.platformFaultDomainCount")?.unwrap_or(2);
        let ud = expect_int(out, "properties.platformUpdateDomainCount")?.unwrap_or(5);
        let max_fd = 3;
        if !(1..=max_fd).contains(&fd) {
            return Err(ArmError::invalid_parameter(
                "properties.platformFaultDomainCount",
                format!(
                    "The specified fault domain count {fd} must fall in the range 1 to {max_fd}."
                ),
            ));
        }
        if !(1..=20).contains(&ud) {
            return Err(ArmError::invalid_parameter(
                "properties.platformUpdateDomainCount",
                format!("The specified update domain count {ud} must fall in the range 1 to 20."),
            ));
        }
        if let Some(old) = ctx.existing {
            let before = old.body["properties"]["platformFaultDomainCount"].as_i64();
            if before.is_some_and(|b| b != fd)
                && !virtual_machines::vms_in_set(ctx.store, &old.id).is_empty()
            {
                return Err(ArmError::conflict(
                    "OperationNotAllowed",
                    "The fault domain count of an availability set with VMs cannot be changed.",
                ));
            }
        }
        super::vm_options::check_proximity_placement_group(ctx.store, out)?;
        out["sku"] = json!({"name": sku});
        let p = props_mut(out);
        p.insert("platformFaultDomainCount".into(), json!(fd));
        p.insert("platformUpdateDomainCount".into(), json!(ud));
        // The availability set API has no provisioningState; the engine adds one, removed in render.
        Ok(Prepared::default())
    }
    fn render(&self, store: &Store, item: &Stored, _req: &Req) -> Value {
        let mut body = item.body.clone();
        let vms: Vec<Value> = virtual_machines::vms_in_set(store, &item.id)
            .into_iter()
            .map(|id| json!({"id": id}))
            .collect();
        if let Some(p) = body["properties"].as_object_mut() {
            p.remove("provisioningState");
            p.insert("virtualMachines".into(), json!(vms));
            p.entry("statuses").or_insert(json!([]));
        }
        body
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        if virtual_machines::vms_in_set(store, &item.id).is_empty() {
            Ok(())
        } else {
            Err(ArmError::conflict(
                "AvailabilitySetInUse",
                format!(
                    "Availability set {} is in use by virtual machines.",
                    item.id
                ),
            ))
        }
    }
    fn action(
        &self,
        _sim: &Sim,
        _store: &mut Store,
        _item: &Stored,
        name: &str,
        req: &Req,
    ) -> Option<Result<ActionResult, ArmError>> {
        if !name.eq_ignore_ascii_case("vmSizes") || req.method != Method::GET {
            return None;
        }
        Some(Ok(ActionResult::Sync(json!({"value": skus::vm_sizes()}))))
    }
}
