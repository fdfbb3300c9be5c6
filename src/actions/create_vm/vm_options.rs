//! create_vm's checks and body pieces for the VM options beyond the Ruby CPI 53.1.8:
//! Trusted Launch, encryption at host, Ultra disks (what the VM size, the stemcell and the
//! gallery definition must allow, checked before any write), and Spot capacity refusals.

use serde_json::Value;

use crate::azure::Error as AzureError;
use crate::azure::compute::gallery::version_location_from_blob_metadata;
use crate::azure::compute::sku::{ResourceSku, find_vm_size};
use crate::azure::compute::vm::{SpotSpec, VmSecurity};
use crate::cid::StemcellCid;
use crate::error::{CpiError, CpiResult};
use crate::names::quote_up_to;
use crate::props::{SecurityProfile, VmCloudProps};
use crate::services::stemcell_blobs::StemcellBlob;
use crate::services::vm_sizes::SizeNeed;
use crate::services::{Azure, galleries};

/// Gallery `SecurityType` features a Trusted Launch VM can boot from (Azure Compute Gallery
/// docs: a definition without the feature is a Standard image).
const TRUSTED_LAUNCH_DEFINITIONS: &[&str] = &[
    "TrustedLaunchSupported",
    "TrustedLaunch",
    "TrustedLaunchAndConfidentialVmSupported",
];

/// Fails when the chosen size, the stemcell or its gallery definition cannot run the VM's
/// options; reads only.
pub(super) async fn check_before_writes(
    azure: &Azure<'_>,
    props: &VmCloudProps,
    stemcell_cid: &StemcellCid,
    stemcell: &StemcellBlob,
    location: &str,
    vm_size: &str,
    skus: Option<&[ResourceSku]>,
) -> CpiResult<()> {
    let trusted_launch = props
        .security_profile
        .is_some_and(|profile| profile.is_trusted_launch());
    if trusted_launch && stemcell.info.hyper_v_generation()? == "V1" {
        return Err(CpiError::cloud(format!(
            "security_profile: Trusted Launch needs a Gen2 stemcell, but stemcell '{stemcell_cid}' is Gen1. Use a Gen2 stemcell, or security_type 'Standard'"
        )));
    }
    if let Some(skus) = skus {
        let sku = find_vm_size(skus, vm_size);
        if let Some(missing) = SizeNeed::of(props).iter().find(|need| !need.allows(sku)) {
            return Err(CpiError::cloud(format!(
                "The VM size '{vm_size}' does not support {} in '{location}'. Choose another instance_type, or leave the option out",
                missing.describe(location)
            )));
        }
    }
    if trusted_launch {
        check_gallery_definition(azure, stemcell).await?;
    }
    Ok(())
}

/// A gallery stemcell's image definition must allow Trusted Launch.
async fn check_gallery_definition(azure: &Azure<'_>, stemcell: &StemcellBlob) -> CpiResult<()> {
    let Some(gallery) = azure
        .config
        .compute_gallery_name
        .as_deref()
        .filter(|g| !g.is_empty())
    else {
        return Ok(());
    };
    let Some((definition, _)) =
        version_location_from_blob_metadata(&stemcell.info.metadata, gallery)
    else {
        return Ok(());
    };
    // A missing definition is recreated later from the stemcell with today's settings.
    let Some(found) = galleries::get_definition(azure, gallery, &definition).await? else {
        return Ok(());
    };
    let security_type = found
        .pointer("/properties/features")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|feature| feature.get("name").and_then(Value::as_str) == Some("SecurityType"))
        .and_then(|feature| feature.get("value").and_then(Value::as_str));
    if security_type.is_some_and(|t| TRUSTED_LAUNCH_DEFINITIONS.contains(&t)) {
        return Ok(());
    }
    Err(CpiError::cloud(format!(
        "security_profile: Trusted Launch needs a gallery image definition whose SecurityType is one of {}, but '{gallery}/{definition}' has {}. Definitions cannot change: set azure.compute_gallery_security_type for a new stemcell series, or use security_type 'Standard'",
        TRUSTED_LAUNCH_DEFINITIONS.join(", "),
        match security_type {
            Some(t) => format!("SecurityType '{}'", quote_up_to(t, 64)),
            None => "no SecurityType (a Standard image)".to_owned(),
        }
    )))
}

/// The VM body's security type: only `security_profile` makes one explicit. At the Compute
/// api-version in use (2024-07-01) no `securityProfile` means Standard.
pub(super) fn vm_security(profile: Option<SecurityProfile>) -> VmSecurity {
    match profile {
        Some(profile) if profile.is_trusted_launch() => VmSecurity::TrustedLaunch {
            secure_boot: profile.secure_boot_enabled,
            vtpm: true,
        },
        _ => VmSecurity::Standard,
    }
}

pub(super) fn spot_spec(props: &VmCloudProps) -> Option<SpotSpec> {
    props.spot.as_ref().map(|spot| SpotSpec {
        max_price: spot.max_price.clone(),
        eviction_policy: spot.eviction_policy.as_str(),
    })
}

/// Azure's answers that mean "no Spot capacity or quota now" (Azure's Spot VM and allocation
/// failure docs): the code when `error` is one.
pub(super) fn spot_refusal(error: &AzureError) -> Option<&str> {
    const CAPACITY: &[&str] = &[
        "SkuNotAvailable",
        "AllocationFailed",
        "ZonalAllocationFailed",
        "OverconstrainedAllocationRequest",
        "OverconstrainedZonalAllocationRequest",
    ];
    let code = error.code()?;
    // Spot VMs draw on the LowPriorityCores quota; other quota errors hit on-demand too.
    let spot_quota =
        code == "OperationNotAllowed" && error.to_string().contains("LowPriorityCores");
    (CAPACITY.contains(&code) || spot_quota).then_some(code)
}
