//! Microsoft.Compute/snapshots: copies of disks (or imported blobs).

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, PutMode, disks, expect_bool, expect_enum, kept_or,
    props_mut,
};
use crate::http::{ArmError, now_rfc3339};

pub(crate) struct Snapshots;

const CREATE_OPTIONS: &[&str] = &[
    "Copy",
    "Import",
    "CopyStart",
    "CopyFromSanSnapshot",
    "ImportSecure",
];
const SKUS: &[&str] = &["Standard_LRS", "Premium_LRS", "Standard_ZRS"];

impl Kind for Snapshots {
    fn type_name(&self) -> &'static str {
        "Microsoft.Compute/snapshots"
    }
    fn family(&self) -> Family {
        Family::Disk
    }
    fn put_mode(&self) -> PutMode {
        PutMode::Accepted202
    }
    fn top_level_keys(&self) -> &'static [&'static str] {
        &["sku", "extendedLocation", "managedBy"]
    }
    fn blob_sources(&self, body: &Value) -> Vec<String> {
        disks::imported_blob(body)
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let sku = expect_enum(out, "sku.name", SKUS)?.unwrap_or("Standard_LRS");
        let implied = disks::check_creation_data(ctx, out, CREATE_OPTIONS)?;
        expect_bool(out, "properties.incremental")?;
        let size = super::expect_int(out, "properties.diskSizeGB")?
            .or(implied)
            .unwrap_or(30);
        out["sku"] = json!({"name": sku, "tier": "Standard"});
        let unique = kept_or(ctx.existing, "properties.uniqueId", || ids.uuid());
        let p = props_mut(out);
        disks::fill_common_properties(p, size, unique, now_rfc3339());
        p.entry("incremental").or_insert(json!(false));
        p.entry("diskState").or_insert(json!("Unattached"));
        Ok(Prepared::default())
    }
}
