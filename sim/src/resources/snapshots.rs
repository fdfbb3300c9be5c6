//! Microsoft.Compute/snapshots: copies of disks (or imported blobs).

use serde_json::{Value, json};

use super::{
    DISK_VERSIONS, Family, Ids, Kind, Prepared, PutCtx, PutMode, disks, expect_bool, expect_enum,
    get_str, props_mut,
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
    fn versions(&self) -> &'static [&'static str] {
        DISK_VERSIONS
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
        match get_str(body, "properties.creationData.createOption") {
            Some(o) if o.eq_ignore_ascii_case("Import") => {
                get_str(body, "properties.creationData.sourceUri")
                    .map(|u| vec![u.to_string()])
                    .unwrap_or_default()
            }
            _ => Vec::new(),
        }
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
        let unique = ctx
            .existing
            .and_then(|o| get_str(&o.body, "properties.uniqueId"))
            .map(str::to_string)
            .unwrap_or_else(|| ids.uuid());
        let p = props_mut(out);
        p.insert("diskSizeGB".into(), json!(size));
        p.insert("diskSizeBytes".into(), json!(size << 30));
        p.insert("uniqueId".into(), json!(unique));
        p.insert("timeCreated".into(), json!(now_rfc3339()));
        p.entry("incremental").or_insert(json!(false));
        p.entry("diskState").or_insert(json!("Unattached"));
        p.entry("encryption")
            .or_insert(json!({"type": "EncryptionAtRestWithPlatformKey"}));
        p.entry("networkAccessPolicy").or_insert(json!("AllowAll"));
        p.entry("publicNetworkAccess").or_insert(json!("Enabled"));
        Ok(Prepared::default())
    }
}
