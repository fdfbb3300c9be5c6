//! Microsoft.Compute/disks: managed disks (Empty, Import from a blob, Copy from a snapshot or
//! disk, FromImage, Upload). `diskState` and `managedBy` are derived from the VMs that use the
//! disk, except while an `Upload` disk waits for or receives its data.
//!
//! Direct upload, as Azure documents it ("Upload a VHD to Azure or copy a managed disk to
//! another region - Azure CLI"; DiskRP 2024-03-02 `CreationData.uploadSizeBytes`,
//! `GrantAccessData`, `AccessUri`, `DiskState`): a disk created with `createOption: Upload` and
//! `uploadSizeBytes` (the VHD including its 512-byte footer, 20972032 to 35183298347520, whole
//! MiB before the footer) is
//! `ReadyToUpload`; `beginGetAccess` with `access: Write` answers an `accessSAS` and makes it
//! `ActiveUpload`; Put Page to that URL writes the data ([`crate::disk_upload`]); `endGetAccess`
//! revokes the URL and makes the disk `Unattached`, usable like any other. Until then the docs
//! say the disk cannot be attached or used, so the sim refuses attaching it, deleting it while
//! the write URL is live, and using it as a source.

use serde_json::{Map, Value, json};

use hyper::Method;

use super::{
    ActionResult, Family, Ids, Kind, Prepared, PutCtx, PutMode, compute_not_found, expect_enum,
    expect_int, get, get_str, kept_or, props_mut, require_enum, virtual_machines,
};
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req, now_rfc3339};
use crate::state::Sim;

/// `uploadSizeBytes` bounds as the spec states them: 20972032 ("20 MiB + 512 bytes for the VHD
/// footer") and 35183298347520 (which it calls 32 TiB + 512; it is 32767 GiB + 512).
const MIN_UPLOAD_BYTES: i64 = 20_972_032;
const MAX_UPLOAD_BYTES: i64 = 35_183_298_347_520;
pub(crate) const READY_TO_UPLOAD: &str = "ReadyToUpload";
pub(crate) const ACTIVE_UPLOAD: &str = "ActiveUpload";

/// `ReadyToUpload` or `ActiveUpload` when the disk waits for or receives uploaded data.
pub(crate) fn upload_state(body: &Value) -> Option<&'static str> {
    match get_str(body, "properties.diskState") {
        Some(s) if s.eq_ignore_ascii_case(READY_TO_UPLOAD) => Some(READY_TO_UPLOAD),
        Some(s) if s.eq_ignore_ascii_case(ACTIVE_UPLOAD) => Some(ACTIVE_UPLOAD),
        _ => None,
    }
}

/// Azure's refusal to use a disk that has not finished its upload (the docs: revoke access
/// after the upload, which "will change the state of the disk and allow you to attach" it).
pub(crate) fn not_ready(id: &str, state: &str) -> ArmError {
    ArmError::conflict(
        "OperationNotAllowed",
        format!(
            "Disk {id} is in the '{state}' state: it can be used only after its upload access is revoked (endGetAccess)."
        ),
    )
}

pub(crate) struct Disks;

pub(crate) const DISK_SKUS: &[&str] = &[
    "Standard_LRS",
    "Premium_LRS",
    "StandardSSD_LRS",
    "UltraSSD_LRS",
    "Premium_ZRS",
    "StandardSSD_ZRS",
    "PremiumV2_LRS",
];

const CREATE_OPTIONS: &[&str] = &[
    "Empty",
    "Attach",
    "FromImage",
    "Import",
    "Copy",
    "Restore",
    "Upload",
    "CopyStart",
    "ImportSecure",
    "UploadPreparedSecure",
    "CopyFromSanSnapshot",
];

/// The blob an `Import` `creationData` (of a disk or snapshot) reads.
pub(crate) fn imported_blob(body: &Value) -> Vec<String> {
    match get_str(body, "properties.creationData.createOption") {
        Some(o) if o.eq_ignore_ascii_case("Import") => {
            get_str(body, "properties.creationData.sourceUri")
                .map(|u| vec![u.to_string()])
                .unwrap_or_default()
        }
        _ => Vec::new(),
    }
}

/// Read-only and defaulted properties disks and snapshots share.
pub(crate) fn fill_common_properties(
    p: &mut Map<String, Value>,
    size_gib: i64,
    unique_id: String,
    created: String,
) {
    p.insert("diskSizeGB".into(), json!(size_gib));
    p.insert("diskSizeBytes".into(), json!(size_gib << 30));
    p.insert("uniqueId".into(), json!(unique_id));
    p.insert("timeCreated".into(), json!(created));
    p.entry("encryption")
        .or_insert(json!({"type": "EncryptionAtRestWithPlatformKey"}));
    p.entry("networkAccessPolicy").or_insert(json!("AllowAll"));
    p.entry("publicNetworkAccess").or_insert(json!("Enabled"));
}

/// Validates `creationData` shared by disks and snapshots; returns the size it implies.
pub(crate) fn check_creation_data(
    ctx: &PutCtx<'_>,
    out: &Value,
    options: &[&'static str],
) -> Result<Option<i64>, ArmError> {
    let option = require_enum(out, "properties.creationData.createOption", options)?;
    let mut implied = None;
    match option {
        "Import" => {
            let uri = get_str(out, "properties.creationData.sourceUri").ok_or_else(|| {
                ArmError::invalid_parameter(
                    "properties.creationData.sourceUri",
                    "Required parameter 'sourceUri' is missing (null).",
                )
            })?;
            // The spec calls it required for Import, but its own same-subscription import
            // examples leave it out and ARM accepts them: check it only when it is given.
            if let Some(account) = get_str(out, "properties.creationData.storageAccountId")
                && !ctx.store.contains(account)
            {
                return Err(ArmError::invalid_parameter(
                    "properties.creationData.storageAccountId",
                    format!("Storage account '{account}' was not found."),
                ));
            }
            if let Some(found) = ctx.blobs.get(&uri.to_ascii_lowercase()) {
                match found {
                    None => {
                        return Err(ArmError::invalid_parameter(
                            "properties.creationData.sourceUri",
                            format!("The blob '{uri}' does not exist or cannot be accessed."),
                        ));
                    }
                    Some(bytes) => implied = Some(bytes.div_ceil(1 << 30).max(1) as i64),
                }
            }
        }
        "Copy" => {
            // The Ruby CPI sends a disk id in `sourceUri` for snapshots; ARM accepts either field.
            let source = get_str(out, "properties.creationData.sourceResourceId")
                .or_else(|| get_str(out, "properties.creationData.sourceUri"))
                .ok_or_else(|| {
                    ArmError::invalid_parameter(
                        "properties.creationData.sourceResourceId",
                        "Required parameter 'sourceResourceId' is missing (null).",
                    )
                })?;
            if source.starts_with('/') {
                let Some(src) = ctx.store.get(source) else {
                    return Err(compute_not_found(source));
                };
                // A copy stays in its source's region (zones may differ: that is how a
                // regional disk moves into a zone).
                let region = |body: &Value| {
                    get_str(body, "location")
                        .unwrap_or_default()
                        .replace(' ', "")
                        .to_ascii_lowercase()
                };
                if out.get("location").is_some() && region(out) != region(&src.body) {
                    return Err(ArmError::invalid_parameter(
                        "properties.creationData.sourceResourceId",
                        format!(
                            "The source '{source}' is in region '{}', not in '{}'.",
                            get_str(&src.body, "location").unwrap_or_default(),
                            get_str(out, "location").unwrap_or_default()
                        ),
                    ));
                }
                if get_str(&src.body, "properties.provisioningState")
                    .is_some_and(|state| !state.eq_ignore_ascii_case("Succeeded"))
                {
                    return Err(ArmError::conflict(
                        "OperationNotAllowed",
                        format!("The source '{source}' is not in a succeeded state."),
                    ));
                }
                implied = get(&src.body, "properties.diskSizeGB").and_then(Value::as_i64);
            }
        }
        "FromImage" => {
            let image = get_str(out, "properties.creationData.imageReference.id")
                .or_else(|| get_str(out, "properties.creationData.galleryImageReference.id"))
                .ok_or_else(|| {
                    ArmError::invalid_parameter(
                        "properties.creationData.imageReference",
                        "Required parameter 'imageReference' is missing (null).",
                    )
                })?;
            if image.to_ascii_lowercase().starts_with("/subscriptions/")
                && !ctx.store.contains(image)
            {
                return Err(compute_not_found(image));
            }
        }
        _ => {}
    }
    Ok(implied)
}

/// (osType, hyperVGeneration) of the image a disk is created from.
fn image_traits(store: &Store, out: &Value) -> (String, String) {
    let id = get_str(out, "properties.creationData.galleryImageReference.id")
        .or_else(|| get_str(out, "properties.creationData.imageReference.id"))
        .unwrap_or_default();
    // A gallery version inherits from its definition (the parent).
    let definition = id
        .to_ascii_lowercase()
        .contains("/versions/")
        .then(|| id.rsplitn(3, '/').nth(2))
        .flatten()
        .and_then(|d| store.get(d));
    let source = definition.or_else(|| store.get(id));
    let pick = |paths: &[&str], default: &str| {
        source
            .and_then(|s| paths.iter().find_map(|p| get_str(&s.body, p)))
            .unwrap_or(default)
            .to_string()
    };
    (
        pick(
            &[
                "properties.osType",
                "properties.storageProfile.osDisk.osType",
            ],
            "Linux",
        ),
        pick(&["properties.hyperVGeneration"], "V1"),
    )
}

impl Kind for Disks {
    fn type_name(&self) -> &'static str {
        "Microsoft.Compute/disks"
    }
    fn family(&self) -> Family {
        Family::Disk
    }
    fn put_mode(&self) -> PutMode {
        PutMode::Accepted202
    }
    fn top_level_keys(&self) -> &'static [&'static str] {
        &["sku", "zones", "extendedLocation", "managedBy"]
    }
    fn blob_sources(&self, body: &Value) -> Vec<String> {
        imported_blob(body)
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let sku = expect_enum(out, "sku.name", DISK_SKUS)?.unwrap_or("Standard_LRS");
        let implied = check_creation_data(ctx, out, CREATE_OPTIONS)?;
        let size = expect_int(out, "properties.diskSizeGB")?;
        let option = get_str(out, "properties.creationData.createOption")
            .unwrap_or_default()
            .to_string();
        if option.eq_ignore_ascii_case("Empty") && size.is_none() {
            return Err(ArmError::invalid_parameter(
                "properties.diskSizeGB",
                "Disk creation with createOption 'Empty' requires diskSizeGB.",
            ));
        }
        if let Some(s) = size
            && !(1..=65536).contains(&s)
        {
            return Err(ArmError::invalid_parameter(
                "properties.diskSizeGB",
                format!("The disk size {s} GB is not valid: it must be between 1 and 65536."),
            ));
        }
        expect_int(out, "properties.diskIOPSReadWrite")?;
        expect_int(out, "properties.diskMBpsReadWrite")?;
        let old = ctx.existing;
        // Azure never moves a disk between zones in place: it must be recreated (from a
        // snapshot), which is what the CPI's regional → zonal migration does.
        if let Some(old) = old {
            let zones = |body: &Value| body.get("zones").cloned().unwrap_or(json!([]));
            if zones(&old.body) != zones(out) {
                return Err(ArmError {
                    target: Some("zones".into()),
                    ..ArmError::conflict(
                        "PropertyChangeNotAllowed",
                        "Changing property 'zones' is not allowed.",
                    )
                });
            }
        }
        if let (Some(old), Some(new)) = (old, size) {
            let before = get(&old.body, "properties.diskSizeGB")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if new < before {
                return Err(ArmError::bad_request(
                    "BadRequest",
                    format!(
                        "Disk size reduction is not supported. Current size is {before} GB, requested size is {new} GB."
                    ),
                ));
            }
        }
        let upload_bytes = expect_int(out, "properties.creationData.uploadSizeBytes")?;
        let uploading = option.eq_ignore_ascii_case("Upload");
        if uploading {
            let Some(bytes) = upload_bytes else {
                return Err(ArmError::invalid_parameter(
                    "properties.creationData.uploadSizeBytes",
                    "Required parameter 'uploadSizeBytes' is missing (null).",
                ));
            };
            // Whole MiB of data before the footer: "N * MiB + 512 bytes" (Add-AzVhd's
            // documentation of direct upload to a managed disk).
            if !(MIN_UPLOAD_BYTES..=MAX_UPLOAD_BYTES).contains(&bytes)
                || (bytes - 512) % (1024 * 1024) != 0
            {
                return Err(ArmError::invalid_parameter(
                    "properties.creationData.uploadSizeBytes",
                    format!(
                        "The upload size {bytes} is not valid: it must be between {MIN_UPLOAD_BYTES} and {MAX_UPLOAD_BYTES} bytes, a whole number of MiB plus the VHD's 512-byte footer."
                    ),
                ));
            }
        }
        expect_enum(
            out,
            "properties.dataAccessAuthMode",
            &["AzureActiveDirectory", "None"],
        )?;
        let implied = match (uploading, upload_bytes) {
            // The disk holds the VHD's data, without the footer.
            (true, Some(bytes)) => Some(((bytes - 512 + (1 << 30) - 1) >> 30).max(1)),
            _ => implied,
        };
        let size = size.or(implied).unwrap_or(30);
        let from_image = option
            .eq_ignore_ascii_case("FromImage")
            .then(|| image_traits(ctx.store, out));
        let tier = if sku.starts_with("Premium") {
            "Premium"
        } else {
            "Standard"
        };
        out["sku"] = json!({"name": sku, "tier": tier});
        let unique = kept_or(old, "properties.uniqueId", || ids.uuid());
        let created = kept_or(old, "properties.timeCreated", now_rfc3339);
        let p = props_mut(out);
        if let Some((os_type, generation)) = from_image {
            p.entry("osType").or_insert(json!(os_type));
            p.entry("hyperVGeneration").or_insert(json!(generation));
            p.entry("supportedCapabilities")
                .or_insert(json!({"acceleratedNetwork": true, "architecture": "x64"}));
        }
        fill_common_properties(p, size, unique, created);
        // A read-only state in a request is ignored; an upload disk starts ReadyToUpload and
        // an update keeps the state the disk is in.
        p.remove("diskState");
        let kept = old.and_then(|o| upload_state(&o.body));
        match (old, kept) {
            (Some(_), Some(state)) => {
                p.insert("diskState".into(), json!(state));
            }
            (None, _) if uploading => {
                p.insert("diskState".into(), json!(READY_TO_UPLOAD));
            }
            _ => {}
        }
        if sku == "PremiumV2_LRS" || sku == "UltraSSD_LRS" {
            p.entry("diskIOPSReadWrite").or_insert(json!(3000));
            p.entry("diskMBpsReadWrite").or_insert(json!(125));
        }
        Ok(Prepared::default())
    }
    fn render(&self, store: &Store, item: &Stored, _req: &Req) -> Value {
        let mut body = item.body.clone();
        let user = virtual_machines::vm_using_disk(store, &item.id);
        body["properties"]["diskState"] = json!(match (&user, upload_state(&item.body)) {
            (Some(_), _) => "Attached",
            (None, Some(state)) => state,
            (None, None) => "Unattached",
        });
        match user {
            Some(vm) => body["managedBy"] = json!(vm),
            None => {
                if let Some(m) = body.as_object_mut() {
                    m.remove("managedBy");
                }
            }
        }
        body
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        if upload_state(&item.body) == Some(ACTIVE_UPLOAD) {
            return Err(not_ready(&item.id, ACTIVE_UPLOAD));
        }
        match virtual_machines::vm_using_disk(store, &item.id) {
            Some(vm) => Err(ArmError::conflict(
                "OperationNotAllowed",
                format!(
                    "Disk {} is attached to VM {vm}.",
                    item.body["name"].as_str().unwrap_or_default()
                ),
            )),
            None => Ok(()),
        }
    }
    fn action(
        &self,
        sim: &Sim,
        store: &mut Store,
        item: &Stored,
        name: &str,
        req: &Req,
    ) -> Option<Result<ActionResult, ArmError>> {
        if req.method != Method::POST {
            return None;
        }
        if name.eq_ignore_ascii_case("beginGetAccess") {
            Some(crate::disk_upload::grant_access(sim, store, item, req))
        } else if name.eq_ignore_ascii_case("endGetAccess") {
            Some(Ok(crate::disk_upload::revoke_access(store, item)))
        } else {
            None
        }
    }
}
