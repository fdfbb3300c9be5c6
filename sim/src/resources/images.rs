//! Microsoft.Compute/images: managed images, e.g. from a VHD blob (`osDisk.blobUri`).

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, compute_not_found, expect_enum, expect_int, get_str,
    props_mut, require_enum,
};
use crate::http::ArmError;

pub(crate) struct Images;

impl Kind for Images {
    fn type_name(&self) -> &'static str {
        "Microsoft.Compute/images"
    }
    fn family(&self) -> Family {
        Family::Compute
    }
    fn top_level_keys(&self) -> &'static [&'static str] {
        &["extendedLocation"]
    }
    fn blob_sources(&self, body: &Value) -> Vec<String> {
        get_str(body, "properties.storageProfile.osDisk.blobUri")
            .map(|u| vec![u.to_string()])
            .unwrap_or_default()
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        _ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let os = "properties.storageProfile.osDisk";
        let source_vm = get_str(out, "properties.sourceVirtualMachine.id");
        if let Some(vm) = source_vm
            && !ctx.store.contains(vm)
        {
            return Err(compute_not_found(vm));
        }
        if source_vm.is_none() {
            require_enum(out, &format!("{os}.osType"), &["Linux", "Windows"])?;
            require_enum(
                out,
                &format!("{os}.osState"),
                &["Generalized", "Specialized"],
            )?;
            let blob = get_str(out, &format!("{os}.blobUri"));
            let snapshot = get_str(out, &format!("{os}.snapshot.id"));
            let disk = get_str(out, &format!("{os}.managedDisk.id"));
            if let Some(uri) = blob
                && let Some(None) = ctx.blobs.get(&uri.to_ascii_lowercase())
            {
                return Err(ArmError::invalid_parameter(
                    &format!("{os}.blobUri"),
                    format!("The blob '{uri}' does not exist or cannot be accessed."),
                ));
            }
            for id in [snapshot, disk].into_iter().flatten() {
                if !ctx.store.contains(id) {
                    return Err(compute_not_found(id));
                }
            }
            if blob.is_none() && snapshot.is_none() && disk.is_none() {
                return Err(ArmError::invalid_parameter(
                    os,
                    "One of blobUri, snapshot or managedDisk is required for the OS disk.",
                ));
            }
        }
        expect_int(out, &format!("{os}.diskSizeGB"))?;
        let generation =
            expect_enum(out, "properties.hyperVGeneration", &["V1", "V2"])?.unwrap_or("V1");
        let p = props_mut(out);
        p.insert("hyperVGeneration".into(), json!(generation));
        if let Some(sp) = p.get_mut("storageProfile").and_then(Value::as_object_mut) {
            sp.entry("dataDisks").or_insert(json!([]));
            if let Some(osd) = sp.get_mut("osDisk").and_then(Value::as_object_mut) {
                osd.entry("caching").or_insert(json!("ReadWrite"));
                osd.entry("storageAccountType")
                    .or_insert(json!("Standard_LRS"));
            }
        }
        Ok(Prepared::default())
    }
}
