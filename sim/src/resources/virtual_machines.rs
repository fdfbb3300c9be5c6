//! Microsoft.Compute/virtualMachines: create/update (data disks attach and detach through PUT),
//! get (`$expand=instanceView`), delete (honouring `deleteOption`), restart.

use hyper::Method;
use serde_json::{Value, json};

use super::{
    ActionResult, Family, Ids, Kind, Prepared, PutCtx, compute_not_found, disks::DISK_SKUS,
    expect_array, expect_enum, expect_int, get, get_str, next_etag, props_mut, require_string,
    vm_options,
};
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req, now_rfc3339};
use crate::state::Sim;

pub(crate) struct VirtualMachines;

const TYPE: &str = "Microsoft.Compute/virtualMachines";

/// Disk ids a VM body references (OS disk first).
fn disk_ids(vm: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    if let Some(id) = get_str(vm, "properties.storageProfile.osDisk.managedDisk.id") {
        ids.push(id.to_string());
    }
    if let Some(data) = get(vm, "properties.storageProfile.dataDisks").and_then(Value::as_array) {
        ids.extend(
            data.iter()
                .filter_map(|d| get_str(d, "managedDisk.id"))
                .map(str::to_string),
        );
    }
    ids
}

fn nic_ids(vm: &Value) -> Vec<String> {
    get(vm, "properties.networkProfile.networkInterfaces")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|n| get_str(n, "id"))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The VM that has the disk attached, if any.
pub(crate) fn vm_using_disk(store: &Store, disk_id: &str) -> Option<String> {
    store
        .of_type(TYPE)
        .into_iter()
        .find(|vm| {
            disk_ids(&vm.body)
                .iter()
                .any(|d| d.eq_ignore_ascii_case(disk_id))
        })
        .map(|vm| vm.id.clone())
}

/// The VM that uses the NIC, if any.
pub(crate) fn vm_using_nic(store: &Store, nic_id: &str) -> Option<String> {
    store
        .of_type(TYPE)
        .into_iter()
        .find(|vm| {
            nic_ids(&vm.body)
                .iter()
                .any(|n| n.eq_ignore_ascii_case(nic_id))
        })
        .map(|vm| vm.id.clone())
}

pub(crate) fn vms_in_set(store: &Store, set_id: &str) -> Vec<String> {
    store
        .of_type(TYPE)
        .into_iter()
        .filter(|vm| {
            get_str(&vm.body, "properties.availabilitySet.id")
                .is_some_and(|a| a.eq_ignore_ascii_case(set_id))
        })
        .map(|vm| vm.id.clone())
        .collect()
}

/// A gallery image version serves only the regions it is replicated to, as Azure enforces.
fn version_in_region(found: &Stored, vm_location: &str) -> Result<(), ArmError> {
    if !found
        .type_name
        .eq_ignore_ascii_case("Microsoft.Compute/galleries/images/versions")
    {
        return Ok(());
    }
    let normalize = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    let replicated = found
        .body
        .pointer("/properties/publishingProfile/targetRegions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|region| region.get("name").and_then(Value::as_str))
        .any(|region| normalize(region) == normalize(vm_location));
    if replicated {
        return Ok(());
    }
    Err(ArmError::not_found(
        "GalleryImageNotFound",
        format!(
            "The gallery image {} is not available in {vm_location} region. Please contact image owner to replicate to this region, or change your requested region.",
            found.id
        ),
    ))
}

fn image_exists(store: &Store, image: &Value, vm_location: &str) -> Result<(), ArmError> {
    if let Some(id) = get_str(image, "id").or_else(|| get_str(image, "sharedGalleryImageId")) {
        // `.../images/{def}` without a version means "latest version".
        if let Some(def) = store.get(id)
            && def
                .type_name
                .eq_ignore_ascii_case("Microsoft.Compute/galleries/images")
        {
            if store
                .children(&def.id, "Microsoft.Compute/galleries/images/versions")
                .is_empty()
            {
                return Err(ArmError::not_found(
                    "GalleryImageNotFound",
                    format!("The gallery image {id} has no versions to create a VM from."),
                ));
            }
            return Ok(());
        }
        if let Some(found) = store.get(id) {
            return version_in_region(found, vm_location);
        }
        return Err(ArmError::not_found(
            "NotFound",
            format!("The Image '{id}' cannot be found in the region."),
        ));
    }
    let publisher = get_str(image, "publisher");
    let offer = get_str(image, "offer");
    let sku = get_str(image, "sku");
    match (publisher, offer, sku) {
        (Some(p), Some(o), Some(s)) => {
            if super::platform_images::exists(
                p,
                o,
                s,
                get_str(image, "version").unwrap_or("latest"),
            ) {
                Ok(())
            } else {
                Err(ArmError::not_found(
                    "PlatformImageNotFound",
                    format!(
                        "The platform image '{p}:{o}:{s}:{}' is not available.",
                        get_str(image, "version").unwrap_or("latest")
                    ),
                ))
            }
        }
        _ => Err(ArmError::invalid_parameter(
            "properties.storageProfile.imageReference",
            "The imageReference needs an id, or publisher, offer and sku.",
        )),
    }
}

fn new_disk(
    ctx: &PutCtx<'_>,
    ids: &mut Ids<'_>,
    name: &str,
    location: &str,
    size_gb: i64,
    sku: &str,
    zones: Option<&Value>,
) -> Stored {
    let id = format!(
        "{}/providers/Microsoft.Compute/disks/{name}",
        ctx.id.group_id()
    );
    let mut body = json!({
        "id": id, "name": name, "type": "Microsoft.Compute/disks", "location": location,
        "sku": {"name": sku, "tier": if sku.starts_with("Premium") { "Premium" } else { "Standard" }},
        "properties": {
            "creationData": {"createOption": "Empty"},
            "diskSizeGB": size_gb, "diskSizeBytes": size_gb << 30,
            "uniqueId": ids.uuid(), "timeCreated": now_rfc3339(),
            "encryption": {"type": "EncryptionAtRestWithPlatformKey"},
            "networkAccessPolicy": "AllowAll", "publicNetworkAccess": "Enabled",
            "provisioningState": "Succeeded",
        }
    });
    if let Some(z) = zones {
        body["zones"] = z.clone();
    }
    Stored {
        id,
        type_name: "Microsoft.Compute/disks".into(),
        body,
        hidden: Value::Null,
        seq: 0,
    }
}

impl Kind for VirtualMachines {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn family(&self) -> Family {
        Family::Compute
    }
    fn top_level_keys(&self) -> &'static [&'static str] {
        &["zones", "identity", "plan", "extendedLocation"]
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let vm_id = ctx.canonical_id.to_string();
        let vm_name = ctx.id.name().to_string();
        let location = get_str(out, "location").unwrap_or_default().to_string();
        require_string(out, "properties.hardwareProfile.vmSize")?;
        let size = get_str(out, "properties.hardwareProfile.vmSize").unwrap_or_default();
        if !super::skus::vm_size_exists(size) {
            return Err(ArmError::invalid_parameter(
                "vmSize",
                format!(
                    "The value {size} provided for the VM size is not valid. The valid sizes in the current region are: {}.",
                    super::skus::vm_size_names().join(",")
                ),
            ));
        }
        // Network interfaces: present, existing, not used by another VM.
        let nics = expect_array(out, "properties.networkProfile.networkInterfaces")?.to_vec();
        if nics.is_empty() {
            return Err(ArmError::invalid_parameter(
                "properties.networkProfile",
                "Virtual machine must have at least one network interface.",
            ));
        }
        for nic in &nics {
            let id = require_string(nic, "id")?;
            if !ctx.store.contains(&id) {
                return Err(ArmError::not_found(
                    "NotFound",
                    format!("Resource {id} not found."),
                ));
            }
            if let Some(user) = vm_using_nic(ctx.store, &id)
                && !user.eq_ignore_ascii_case(&vm_id)
            {
                return Err(ArmError::bad_request(
                    "NicInUse",
                    format!("Network Interface {id} is used by existing VM {user}."),
                ));
            }
        }
        if let Some(set) = get_str(out, "properties.availabilitySet.id") {
            if !ctx.store.contains(set) {
                return Err(compute_not_found(set));
            }
            if out.get("zones").is_some() {
                return Err(ArmError::bad_request(
                    "InvalidParameter",
                    "Availability set and availability zone cannot both be specified.",
                ));
            }
        }
        let creating = ctx.existing.is_none();
        vm_options::check_spot(out)?;
        vm_options::check_proximity_placement_group(ctx.store, out)?;
        vm_options::check_set_placement(ctx.store, out)?;
        vm_options::check_security(ctx.store, out, creating)?;
        vm_options::check_ultra(ctx.store, out)?;
        let mut extra = Vec::new();
        let zones = out.get("zones").cloned();
        // OS disk.
        if creating {
            let image = get(out, "properties.storageProfile.imageReference").cloned();
            let os_option = get_str(out, "properties.storageProfile.osDisk.createOption")
                .unwrap_or("FromImage")
                .to_string();
            // Unmanaged (VHD blob) OS disks name their source image by blob URI.
            let unmanaged = get(out, "properties.storageProfile.osDisk.vhd.uri").is_some();
            if os_option.eq_ignore_ascii_case("FromImage") && unmanaged {
                if get(out, "properties.storageProfile.osDisk.image.uri").is_none()
                    && image.is_none()
                {
                    return Err(ArmError::invalid_parameter(
                        "properties.storageProfile.osDisk.image",
                        "Required parameter 'image' is missing (null).",
                    ));
                }
            } else if os_option.eq_ignore_ascii_case("FromImage") {
                let Some(image) = image else {
                    return Err(ArmError::invalid_parameter(
                        "properties.storageProfile.imageReference",
                        "Required parameter 'imageReference' is missing (null).",
                    ));
                };
                image_exists(
                    ctx.store,
                    &image,
                    get_str(out, "location").unwrap_or_default(),
                )?;
            } else if os_option.eq_ignore_ascii_case("Attach") {
                let id = require_string(out, "properties.storageProfile.osDisk.managedDisk.id")?;
                let Some(disk) = ctx.store.get(&id) else {
                    return Err(compute_not_found(&id));
                };
                if let Some(state) = super::disks::upload_state(&disk.body) {
                    return Err(super::disks::not_ready(&disk.id, state));
                }
            }
            let os_sku = expect_enum(
                out,
                "properties.storageProfile.osDisk.managedDisk.storageAccountType",
                DISK_SKUS,
            )?
            .unwrap_or("Premium_LRS");
            let os_size =
                expect_int(out, "properties.storageProfile.osDisk.diskSizeGB")?.unwrap_or(30);
            let os_name = get_str(out, "properties.storageProfile.osDisk.name")
                .map(str::to_string)
                .unwrap_or_else(|| format!("{vm_name}_OsDisk_1_{}", ids.uuid().replace('-', "")));
            if os_option.eq_ignore_ascii_case("FromImage") && !unmanaged {
                let default_os =
                    if get_str(out, "properties.storageProfile.imageReference.publisher")
                        .is_some_and(|p| p.to_ascii_lowercase().contains("windows"))
                    {
                        "Windows"
                    } else {
                        "Linux"
                    };
                let disk = new_disk(
                    ctx,
                    ids,
                    &os_name,
                    &location,
                    os_size,
                    os_sku,
                    zones.as_ref(),
                );
                let disk_id = disk.id.clone();
                extra.push(disk);
                let osd = &mut out["properties"]["storageProfile"]["osDisk"];
                osd["name"] = json!(os_name);
                osd["managedDisk"] = json!({"id": disk_id, "storageAccountType": os_sku});
                osd["diskSizeGB"] = json!(os_size);
                if osd.get("caching").is_none() {
                    osd["caching"] = json!("ReadWrite");
                }
                if osd.get("deleteOption").is_none() {
                    osd["deleteOption"] = json!("Detach");
                }
                osd["osType"] = json!(get_str(osd, "osType").unwrap_or(default_os));
            }
        } else if let Some(old) = ctx.existing {
            // The OS disk cannot change on update; keep what was created.
            let old_os = old.body["properties"]["storageProfile"]["osDisk"].clone();
            if let Some(new_id) = get_str(out, "properties.storageProfile.osDisk.managedDisk.id")
                && let Some(old_id) = get_str(&old_os, "managedDisk.id")
                && !new_id.eq_ignore_ascii_case(old_id)
            {
                return Err(ArmError::conflict(
                    "PropertyChangeNotAllowed",
                    "Changing property 'osDisk.managedDisk.id' is not allowed.",
                ));
            }
            out["properties"]["storageProfile"]["osDisk"] = old_os;
            if let Some(img) = get(&old.body, "properties.storageProfile.imageReference") {
                out["properties"]["storageProfile"]["imageReference"] = img.clone();
            }
        }
        // Data disks: attach existing ones, create empty ones; LUNs unique.
        let data = expect_array(out, "properties.storageProfile.dataDisks")?.to_vec();
        let mut luns = std::collections::HashSet::new();
        let mut new_data = Vec::new();
        for (i, mut d) in data.into_iter().enumerate() {
            let lun = expect_int(&d, "lun")?.ok_or_else(|| {
                ArmError::invalid_parameter(
                    &format!("properties.storageProfile.dataDisks[{i}].lun"),
                    "Required parameter 'lun' is missing (null).",
                )
            })?;
            if !luns.insert(lun) {
                return Err(ArmError::invalid_parameter(
                    "properties.storageProfile.dataDisks",
                    format!("Data disks with duplicate LUN {lun} are not allowed."),
                ));
            }
            let option = expect_enum(
                &d,
                "createOption",
                &["Attach", "Empty", "FromImage", "Copy", "Restore"],
            )?
            .ok_or_else(|| {
                ArmError::invalid_parameter(
                    &format!("properties.storageProfile.dataDisks[{i}].createOption"),
                    "Required parameter 'createOption' is missing (null).",
                )
            })?;
            match option {
                "Attach" => {
                    let id = require_string(&d, "managedDisk.id")?;
                    let Some(disk) = ctx.store.get(&id) else {
                        return Err(compute_not_found(&id));
                    };
                    if let Some(state) = super::disks::upload_state(&disk.body) {
                        return Err(super::disks::not_ready(&disk.id, state));
                    }
                    if let Some(user) = vm_using_disk(ctx.store, &id)
                        && !user.eq_ignore_ascii_case(&vm_id)
                    {
                        return Err(ArmError::conflict(
                            "OperationNotAllowed",
                            format!(
                                "Disk {} is already attached to VM {user}.",
                                disk.body["name"].as_str().unwrap_or_default()
                            ),
                        ));
                    }
                    d["managedDisk"]["id"] = json!(disk.id);
                    d["name"] = disk.body["name"].clone();
                    d["diskSizeGB"] = disk.body["properties"]["diskSizeGB"].clone();
                    if d["managedDisk"].get("storageAccountType").is_none() {
                        d["managedDisk"]["storageAccountType"] = disk.body["sku"]["name"].clone();
                    }
                }
                "Empty" if get_str(&d, "managedDisk.id").is_none() => {
                    let size = expect_int(&d, "diskSizeGB")?.ok_or_else(|| {
                        ArmError::invalid_parameter(
                            &format!("properties.storageProfile.dataDisks[{i}].diskSizeGB"),
                            "An empty data disk needs diskSizeGB.",
                        )
                    })?;
                    let sku = expect_enum(&d, "managedDisk.storageAccountType", DISK_SKUS)?
                        .unwrap_or("Standard_LRS");
                    let name = get_str(&d, "name").map(str::to_string).unwrap_or_else(|| {
                        format!("{vm_name}_disk{lun}_{}", ids.uuid().replace('-', ""))
                    });
                    let disk = new_disk(ctx, ids, &name, &location, size, sku, zones.as_ref());
                    d["name"] = json!(name);
                    d["managedDisk"] = json!({"id": disk.id, "storageAccountType": sku});
                    extra.push(disk);
                }
                _ => {}
            }
            if d.get("caching").is_none() {
                d["caching"] = json!("None");
            }
            if d.get("deleteOption").is_none() {
                d["deleteOption"] = json!("Detach");
            }
            if d.get("toBeDetached").is_none() {
                d["toBeDetached"] = json!(false);
            }
            new_data.push(d);
        }
        let windows = get_str(out, "properties.storageProfile.osDisk.osType")
            .map(|t| t.eq_ignore_ascii_case("Windows"))
            .unwrap_or_else(|| {
                get_str(out, "properties.storageProfile.imageReference.publisher")
                    .is_some_and(|p| p.to_ascii_lowercase().contains("windows"))
            });
        if let Some(os) = out["properties"]
            .get_mut("osProfile")
            .and_then(Value::as_object_mut)
        {
            os.entry("secrets").or_insert(json!([]));
            os.entry("allowExtensionOperations").or_insert(json!(true));
            if windows {
                let w = os.entry("windowsConfiguration").or_insert(json!({}));
                w["provisionVMAgent"] = w.get("provisionVMAgent").cloned().unwrap_or(json!(true));
                w["enableAutomaticUpdates"] = w
                    .get("enableAutomaticUpdates")
                    .cloned()
                    .unwrap_or(json!(true));
            } else {
                let l = os.entry("linuxConfiguration").or_insert(json!({}));
                l["disablePasswordAuthentication"] = l
                    .get("disablePasswordAuthentication")
                    .cloned()
                    .unwrap_or(json!(false));
                l["provisionVMAgent"] = l.get("provisionVMAgent").cloned().unwrap_or(json!(true));
            }
        }
        // Keep customData and adminPassword out of every response, as ARM does.
        let mut hidden = json!({});
        if let Some(os) = out["properties"]
            .get_mut("osProfile")
            .and_then(Value::as_object_mut)
        {
            for secret in ["customData", "adminPassword"] {
                if let Some(v) = os.remove(secret) {
                    hidden[secret] = v;
                }
            }
        }
        if !creating
            && let Some(old) = ctx.existing
            && hidden.as_object().is_some_and(|h| h.is_empty())
        {
            hidden = old.hidden.clone();
        }
        let vm_uuid = ctx
            .existing
            .and_then(|o| get_str(&o.body, "properties.vmId"))
            .map(str::to_string)
            .unwrap_or_else(|| ids.uuid());
        let created = ctx
            .existing
            .and_then(|o| get_str(&o.body, "properties.timeCreated"))
            .map(str::to_string)
            .unwrap_or_else(now_rfc3339);
        let p = props_mut(out);
        if let Some(sp) = p.get_mut("storageProfile").and_then(Value::as_object_mut) {
            sp.insert("dataDisks".into(), json!(new_data));
            if let Some(img) = sp.get_mut("imageReference").and_then(Value::as_object_mut)
                && img.contains_key("publisher")
            {
                let v = img
                    .get("version")
                    .and_then(Value::as_str)
                    .unwrap_or("latest")
                    .to_string();
                img.insert(
                    "exactVersion".into(),
                    json!(if v == "latest" {
                        "1.0.0".to_string()
                    } else {
                        v
                    }),
                );
            }
        }
        out["etag"] = next_etag(ctx.existing);
        let p = props_mut(out);
        p.insert("vmId".into(), json!(vm_uuid));
        p.insert("timeCreated".into(), json!(created));
        Ok(Prepared { hidden, extra })
    }
    fn render(&self, _store: &Store, item: &Stored, req: &Req) -> Value {
        let mut body = item.body.clone();
        if req
            .q("$expand")
            .is_some_and(|e| e.eq_ignore_ascii_case("instanceView"))
        {
            let state = get_str(&body, "properties.provisioningState")
                .unwrap_or("Succeeded")
                .to_string();
            body["properties"]["instanceView"] = json!({
                "computerName": get_str(&body, "properties.osProfile.computerName").unwrap_or_default(),
                "statuses": [
                    {"code": format!("ProvisioningState/{}", state.to_ascii_lowercase()), "level": "Info", "displayStatus": format!("Provisioning {}", state.to_ascii_lowercase())},
                    {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}
                ]
            });
        }
        body
    }
    fn on_deleted(&self, store: &mut Store, item: &Stored) {
        // Resources the VM was told to delete with it go too; the rest are released.
        let mut doomed = Vec::new();
        if let Some(osd) = get(&item.body, "properties.storageProfile.osDisk")
            && get_str(osd, "deleteOption").is_some_and(|o| o.eq_ignore_ascii_case("Delete"))
            && let Some(id) = get_str(osd, "managedDisk.id")
        {
            doomed.push(id.to_string());
        }
        if let Some(data) =
            get(&item.body, "properties.storageProfile.dataDisks").and_then(Value::as_array)
        {
            for d in data {
                if get_str(d, "deleteOption").is_some_and(|o| o.eq_ignore_ascii_case("Delete"))
                    && let Some(id) = get_str(d, "managedDisk.id")
                {
                    doomed.push(id.to_string());
                }
            }
        }
        if let Some(nics) =
            get(&item.body, "properties.networkProfile.networkInterfaces").and_then(Value::as_array)
        {
            for n in nics {
                if get_str(n, "properties.deleteOption")
                    .is_some_and(|o| o.eq_ignore_ascii_case("Delete"))
                    && let Some(id) = get_str(n, "id")
                {
                    doomed.push(id.to_string());
                }
            }
        }
        for id in doomed {
            store.remove_tree(&id);
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
        let known = ["restart", "start", "powerOff", "deallocate", "redeploy"];
        if req.method != Method::POST || !known.iter().any(|k| k.eq_ignore_ascii_case(name)) {
            return None;
        }
        Some(Ok(ActionResult::Lro))
    }
}
