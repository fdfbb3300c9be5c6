//! What ARM checks of a VM's Trusted Launch, encryption at host, Ultra disk, Spot and proximity
//! placement group settings, and the `proximityPlacementGroups` resource. Sources are named at
//! each check; where only the rule is documented and not Azure's wording, the message says
//! what is wrong in the sim's words, with Azure's error code.

use serde_json::{Value, json};

use super::{
    DeleteMode, Family, Ids, Kind, Prepared, PutCtx, PutMode, compute_not_found, expect_enum, get,
    get_str, platform_images, props_mut, skus,
};
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req};

const TRUSTED_LAUNCH_FAQ: &str = "For more information, see https://aka.ms/TrustedLaunch-FAQ";
const PPG_TYPE: &str = "Microsoft.Compute/proximityPlacementGroups";

/// Gallery `SecurityType` features a Trusted Launch VM may boot (Azure Compute Gallery docs).
const TRUSTED_LAUNCH_FEATURES: &[&str] = &[
    "TrustedLaunchSupported",
    "TrustedLaunch",
    "TrustedLaunchAndConfidentialVmSupported",
];

pub(crate) struct ProximityPlacementGroups;

impl Kind for ProximityPlacementGroups {
    fn type_name(&self) -> &'static str {
        PPG_TYPE
    }
    fn family(&self) -> Family {
        Family::Compute
    }
    // ComputeRP 2021-11-01 proximityPlacementGroup.json: CreateOrUpdate answers 200/201 and
    // Delete 200, both synchronous, and the resource has no provisioningState.
    fn put_mode(&self) -> PutMode {
        PutMode::Sync200
    }
    fn delete_mode(&self) -> DeleteMode {
        DeleteMode::Sync
    }
    fn render(&self, _store: &Store, item: &Stored, _req: &Req) -> Value {
        let mut body = item.body.clone();
        if let Some(p) = body["properties"].as_object_mut() {
            p.remove("provisioningState");
        }
        body
    }
    fn prepare(
        &self,
        _ctx: &PutCtx<'_>,
        _ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        // ComputeRP 2021-11-01 proximityPlacementGroup.json: Standard (default) or Ultra.
        let kind = expect_enum(
            out,
            "properties.proximityPlacementGroupType",
            &["Standard", "Ultra"],
        )?
        .unwrap_or("Standard");
        props_mut(out).insert("proximityPlacementGroupType".into(), json!(kind));
        Ok(Prepared::default())
    }
}

/// A referenced proximity placement group must exist.
pub(crate) fn check_proximity_placement_group(store: &Store, body: &Value) -> Result<(), ArmError> {
    match get_str(body, "properties.proximityPlacementGroup.id") {
        Some(id) if !store.contains(id) => Err(compute_not_found(id)),
        _ => Ok(()),
    }
}

/// The generation and gallery `SecurityType` of the image a new VM boots, when known.
fn image_traits(store: &Store, image: &Value) -> (Option<String>, Option<String>) {
    if let Some(id) = get_str(image, "id") {
        let lower = id.to_ascii_lowercase();
        let definition_id = match lower.find("/versions/") {
            Some(at) => &id[..at],
            None => id,
        };
        let Some(found) = store.get(definition_id) else {
            return (None, None);
        };
        if found
            .type_name
            .eq_ignore_ascii_case("Microsoft.Compute/galleries/images")
        {
            let security = get(&found.body, "properties.features")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .find(|f| get_str(f, "name") == Some("SecurityType"))
                .and_then(|f| get_str(f, "value"))
                .map(str::to_owned);
            let generation = get_str(&found.body, "properties.hyperVGeneration").unwrap_or("V1");
            return (Some(generation.to_owned()), security);
        }
        // Managed (user) images: `hyperVGeneration` defaults to V1 (image.json).
        let generation = get_str(&found.body, "properties.hyperVGeneration").unwrap_or("V1");
        return (Some(generation.to_owned()), None);
    }
    let generation = match (
        get_str(image, "publisher"),
        get_str(image, "offer"),
        get_str(image, "sku"),
    ) {
        (Some(p), Some(o), Some(s)) => platform_images::generation(p, o, s).map(str::to_owned),
        _ => None,
    };
    (generation, None)
}

/// Trusted Launch against the size and the image, as ARM answers it.
pub(crate) fn check_security(store: &Store, out: &Value, creating: bool) -> Result<(), ArmError> {
    let size = get_str(out, "properties.hardwareProfile.vmSize").unwrap_or_default();
    let trusted_launch = get_str(out, "properties.securityProfile.securityType")
        .is_some_and(|t| t.eq_ignore_ascii_case("TrustedLaunch"));
    if trusted_launch && !skus::supports_trusted_launch(size) {
        // Azure/azure-cli#28005 (the API's message table, November 2023).
        return Err(ArmError::bad_request(
            "BadRequest",
            format!(
                "The VM size '{size}' is not supported for creation of VMs and Virtual Machine Scale Set with 'TrustedLaunch' security type. {TRUSTED_LAUNCH_FAQ}"
            ),
        ));
    }
    if creating && let Some(image) = get(out, "properties.storageProfile.imageReference") {
        let (generation, security) = image_traits(store, image);
        let gen1 = generation
            .as_deref()
            .is_some_and(|g| g.eq_ignore_ascii_case("V1"));
        let gallery_refuses = get_str(image, "id").is_some_and(|id| id.contains("/galleries/"))
            && !security
                .as_deref()
                .is_some_and(|s| TRUSTED_LAUNCH_FEATURES.contains(&s));
        if trusted_launch && (gen1 || gallery_refuses) {
            // Azure/azure-cli#27975: ARM's answer for an image without Trusted Launch support.
            return Err(ArmError::bad_request(
                "BadRequest",
                format!(
                    "Use of TrustedLaunch setting is not supported for the provided image. Please select Trusted Launch Supported Gen2 OS Image. {TRUSTED_LAUNCH_FAQ}."
                ),
            ));
        }
        if !trusted_launch && security.as_deref() == Some("TrustedLaunch") {
            // kubermatic/machine-controller#2013: a TrustedLaunch-only definition.
            return Err(ArmError::bad_request(
                "BadRequest",
                "The provided gallery image only supports creation of VMs and VM Scale Sets with 'TrustedLaunch' security type.",
            ));
        }
    }
    let encryption_at_host = get(out, "properties.securityProfile.encryptionAtHost")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if encryption_at_host && !skus::supports_encryption_at_host(size) {
        // Microsoft's encryption-at-host docs: only sizes whose resource SKU says
        // EncryptionAtHostSupported True take it.
        return Err(ArmError::invalid_parameter(
            "securityProfile.encryptionAtHost",
            format!("The VM size '{size}' does not support encryption at host."),
        ));
    }
    Ok(())
}

/// Ultra disks need `additionalCapabilities.ultraSSDEnabled`, which needs a size and zone
/// that offer them (Microsoft's Ultra disk docs).
pub(crate) fn check_ultra(store: &Store, out: &Value) -> Result<(), ArmError> {
    let enabled = get(out, "properties.additionalCapabilities.ultraSSDEnabled")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let size = get_str(out, "properties.hardwareProfile.vmSize").unwrap_or_default();
    let zone = get(out, "zones")
        .and_then(Value::as_array)
        .and_then(|zones| zones.first())
        .and_then(Value::as_str);
    if enabled && !skus::supports_ultra_ssd(size, zone) {
        return Err(ArmError::invalid_parameter(
            "additionalCapabilities.ultraSSDEnabled",
            format!(
                "UltraSSD is not supported for VM size '{size}' in {}.",
                zone.map_or(
                    "this region without an availability zone".to_owned(),
                    |z| format!("zone '{z}'")
                )
            ),
        ));
    }
    let data = get(out, "properties.storageProfile.dataDisks")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ultra_disks: Vec<&Value> = data
        .iter()
        .filter(|disk| {
            get_str(disk, "managedDisk.storageAccountType")
                .or_else(|| {
                    get_str(disk, "managedDisk.id")
                        .and_then(|id| store.get(id))
                        .and_then(|found| get_str(&found.body, "sku.name"))
                })
                .is_some_and(|sku| sku.eq_ignore_ascii_case("UltraSSD_LRS"))
        })
        .collect();
    if let Some(cached) = ultra_disks
        .iter()
        .find(|disk| get_str(disk, "caching").is_some_and(|c| !c.eq_ignore_ascii_case("None")))
    {
        // Microsoft's Ultra disk docs: Ultra disks support no disk caching.
        return Err(ArmError::invalid_parameter(
            "properties.storageProfile.dataDisks.caching",
            format!(
                "Caching '{}' is not supported for disks with storage account type UltraSSD_LRS.",
                get_str(cached, "caching").unwrap_or_default()
            ),
        ));
    }
    if !ultra_disks.is_empty() && !enabled {
        // The message ARM gives (seen in Terraform's and the az CLI's issue trackers).
        return Err(ArmError::invalid_parameter(
            "properties.storageProfile.dataDisks",
            "StorageAccountType UltraSSD_LRS can be used only when additionalCapabilities.ultraSSDEnabled is set.",
        ));
    }
    Ok(())
}

/// `evictionPolicy` and `billingProfile` belong to Spot VMs only, and `maxPrice` is -1 or
/// above 0 (ComputeRP 2024-07-01 BillingProfile; Microsoft's Spot VM docs).
pub(crate) fn check_spot(out: &Value) -> Result<(), ArmError> {
    let priority = expect_enum(out, "properties.priority", &["Regular", "Low", "Spot"])?;
    let spot = matches!(priority, Some("Spot" | "Low"));
    expect_enum(out, "properties.evictionPolicy", &["Deallocate", "Delete"])?;
    // Codes and texts from Microsoft's "Error messages for Azure Spot Virtual Machines".
    if !spot && get(out, "properties.evictionPolicy").is_some() {
        return Err(ArmError::bad_request(
            "EvictionPolicyCanBeSetOnlyOnAzureSpotVirtualMachines",
            "Eviction policy can be set only on Azure Spot Virtual Machines.",
        ));
    }
    if spot && get(out, "properties.availabilitySet.id").is_some() {
        return Err(ArmError::bad_request(
            "AzureSpotVMNotSupportedInAvailabilitySet",
            "Azure Spot Virtual Machine is not supported in Availability Set.",
        ));
    }
    if let Some(price) = get(out, "properties.billingProfile.maxPrice") {
        if !spot {
            // The rule is the spec's (BillingProfile: "for a Azure Spot VM/VMSS"); the wording
            // is the sim's.
            return Err(ArmError::invalid_parameter(
                "properties.billingProfile.maxPrice",
                "Max price is supported only for Azure Spot Virtual Machines.",
            ));
        }
        let valid = price.as_f64().is_some_and(|p| p > 0.0 || p == -1.0);
        if !valid {
            return Err(ArmError::bad_request(
                "MaxPriceValueInvalid",
                "Invalid max price value. The only supported values for max price are -1 or a decimal greater than zero. Max price value of -1 indicates the Azure Spot virtual machine will not be evicted for price reasons.",
            ));
        }
    }
    Ok(())
}

/// A VM in an availability set is in the set's proximity placement group.
pub(crate) fn check_set_placement(store: &Store, out: &Value) -> Result<(), ArmError> {
    let (Some(set_id), Some(vm_group)) = (
        get_str(out, "properties.availabilitySet.id"),
        get_str(out, "properties.proximityPlacementGroup.id"),
    ) else {
        return Ok(());
    };
    let set_group = store.get(set_id).and_then(|set| {
        get_str(&set.body, "properties.proximityPlacementGroup.id").map(str::to_owned)
    });
    if !set_group.is_some_and(|g| g.eq_ignore_ascii_case(vm_group)) {
        return Err(ArmError::invalid_parameter(
            "properties.proximityPlacementGroup",
            format!(
                "The virtual machine's proximity placement group {vm_group} differs from the one of its availability set {set_id}."
            ),
        ));
    }
    Ok(())
}
