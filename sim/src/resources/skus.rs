//! Resource SKUs (`/providers/Microsoft.Compute/skus`) and the VM size table behind
//! `availabilitySets/{as}/vmSizes`: a small, realistic, fixed catalogue.

use serde_json::{Value, json};

use super::SKU_VERSIONS;
use crate::arm::{Call, check_version, page};
use crate::http::{ArmError, Reply};

/// (name, family, vCPUs, memory GB, max data disks, premium IO, resource disk MB)
const VM_SIZES: &[(&str, &str, u32, f64, u32, bool, u32)] = &[
    ("Standard_B2s", "standardBSFamily", 2, 4.0, 4, true, 8192),
    (
        "Standard_D1_v2",
        "standardDv2Family",
        1,
        3.5,
        4,
        false,
        51200,
    ),
    (
        "Standard_DS3_v2",
        "standardDSv2Family",
        4,
        14.0,
        16,
        true,
        28672,
    ),
    (
        "Standard_DS1_v2",
        "standardDSv2Family",
        1,
        3.5,
        4,
        true,
        7168,
    ),
    (
        "Standard_D2s_v3",
        "standardDSv3Family",
        2,
        8.0,
        4,
        true,
        16384,
    ),
    (
        "Standard_D4s_v3",
        "standardDSv3Family",
        4,
        16.0,
        8,
        true,
        32768,
    ),
    (
        "Standard_D2_v3",
        "standardDv3Family",
        2,
        8.0,
        4,
        false,
        51200,
    ),
    (
        "Standard_D2as_v5",
        "standardDASv5Family",
        2,
        8.0,
        4,
        true,
        0,
    ),
    ("Standard_E2s_v5", "standardESv5Family", 2, 16.0, 4, true, 0),
    (
        "Standard_D2ps_v5",
        "standardDPSv5Family",
        2,
        8.0,
        4,
        true,
        0,
    ),
    (
        "Standard_F2s_v2",
        "standardFSv2Family",
        2,
        4.0,
        4,
        true,
        16384,
    ),
    (
        "Standard_F4s_v2",
        "standardFSv2Family",
        4,
        8.0,
        8,
        true,
        32768,
    ),
    (
        "Standard_A1_v2",
        "standardAv2Family",
        1,
        2.0,
        2,
        false,
        10240,
    ),
];

const LOCATIONS: &[&str] = &["eastus", "westus2", "westeurope"];

/// Sizes with Ampere Altra (Arm64) CPUs; every other size is x64.
const ARM64_SIZES: &[&str] = &["Standard_D2ps_v5"];

/// Gen1-only sizes: Av2 runs no Gen2 image, so Azure lists it with `HyperVGenerations: V1`
/// and `TrustedLaunchDisabled: True` (Microsoft's Trusted Launch docs list Av2 among the
/// unsupported sizes), and without encryption at host (EncryptionAtHostSupported False).
const GEN1_ONLY_SIZES: &[&str] = &["Standard_A1_v2"];

/// Sizes that take Ultra disks, in every zone of the location (Microsoft's Ultra disk docs:
/// DSv3, ESv5 and FSv2 are among the supported series; the B-series, Dv2 and Av2 are not).
/// Azure reports this per zone, in `locationInfo[].zoneDetails[].capabilities`
/// (`UltraSSDAvailable`), and for regional VMs among the SKU's own capabilities only in
/// regions that offer Ultra without zones, which the sim's locations do not.
const ULTRA_SIZES: &[&str] = &[
    "Standard_D2s_v3",
    "Standard_D4s_v3",
    "Standard_E2s_v5",
    "Standard_F2s_v2",
    "Standard_F4s_v2",
];

/// Whether a VM size can boot Trusted Launch VMs (see [`GEN1_ONLY_SIZES`]).
pub(crate) fn supports_trusted_launch(name: &str) -> bool {
    !GEN1_ONLY_SIZES.iter().any(|s| s.eq_ignore_ascii_case(name))
}

pub(crate) fn supports_encryption_at_host(name: &str) -> bool {
    vm_size_exists(name) && supports_trusted_launch(name)
}

/// Whether the size takes Ultra disks in `zone` (`None`: a regional VM, never in the sim).
pub(crate) fn supports_ultra_ssd(name: &str, zone: Option<&str>) -> bool {
    zone.is_some_and(|zone| ["1", "2", "3"].contains(&zone))
        && ULTRA_SIZES.iter().any(|s| s.eq_ignore_ascii_case(name))
}

pub(crate) fn vm_size_exists(name: &str) -> bool {
    VM_SIZES.iter().any(|s| s.0.eq_ignore_ascii_case(name))
}

pub(crate) fn vm_size_names() -> Vec<&'static str> {
    VM_SIZES.iter().map(|s| s.0).collect()
}

/// `VirtualMachineSize` objects, as `vmSizes` returns them.
pub(crate) fn vm_sizes() -> Vec<Value> {
    VM_SIZES
        .iter()
        .map(|(name, _, cpus, mem, disks, _, res)| {
            json!({
                "name": name,
                "numberOfCores": cpus,
                "osDiskSizeInMB": 1047552,
                "resourceDiskSizeInMB": res,
                "memoryInMB": (*mem * 1024.0) as u64,
                "maxDataDiskCount": disks,
            })
        })
        .collect()
}

fn catalogue() -> Vec<Value> {
    let mut out = Vec::new();
    for loc in LOCATIONS {
        for (name, family, cpus, mem, disks, premium, _) in VM_SIZES {
            let size = name.trim_start_matches("Standard_");
            let gen1_only = GEN1_ONLY_SIZES.contains(name);
            let mut capabilities = vec![
                json!({"name": "vCPUs", "value": cpus.to_string()}),
                json!({"name": "MemoryGB", "value": mem.to_string()}),
                json!({"name": "MaxDataDiskCount", "value": disks.to_string()}),
                json!({"name": "PremiumIO", "value": if *premium { "True" } else { "False" }}),
                json!({"name": "HyperVGenerations", "value": if gen1_only { "V1" } else { "V1,V2" }}),
                json!({"name": "AcceleratedNetworkingEnabled", "value": if *cpus >= 2 { "True" } else { "False" }}),
                json!({"name": "CpuArchitectureType", "value": if ARM64_SIZES.contains(name) { "Arm64" } else { "x64" }}),
                json!({"name": "EncryptionAtHostSupported", "value": if gen1_only { "False" } else { "True" }}),
            ];
            if gen1_only {
                capabilities.push(json!({"name": "TrustedLaunchDisabled", "value": "True"}));
            }
            let zone_details = if ULTRA_SIZES.contains(name) {
                json!([{"name": ["1", "2", "3"],
                        "capabilities": [{"name": "UltraSSDAvailable", "value": "True"}]}])
            } else {
                json!([])
            };
            out.push(json!({
                "resourceType": "virtualMachines",
                "name": name,
                "tier": "Standard",
                "size": size,
                "family": family,
                "locations": [loc],
                "locationInfo": [{"location": loc, "zones": ["1", "2", "3"], "zoneDetails": zone_details}],
                "capabilities": capabilities,
                "restrictions": [],
            }));
        }
        out.push(json!({
            "resourceType": "availabilitySets", "name": "Aligned", "locations": [loc],
            "locationInfo": [{"location": loc, "zones": [], "zoneDetails": []}],
            "capabilities": [{"name": "MaximumPlatformFaultDomainCount", "value": "3"}],
            "restrictions": [],
        }));
        out.push(json!({
            "resourceType": "availabilitySets", "name": "Classic", "locations": [loc],
            "locationInfo": [{"location": loc, "zones": [], "zoneDetails": []}],
            "capabilities": [{"name": "MaximumPlatformFaultDomainCount", "value": "3"}],
            "restrictions": [],
        }));
        for (disk, tier) in [
            ("Standard_LRS", "Standard"),
            ("Premium_LRS", "Premium"),
            ("StandardSSD_LRS", "Standard"),
            ("PremiumV2_LRS", "Premium"),
            ("UltraSSD_LRS", "Ultra"),
        ] {
            out.push(json!({
                "resourceType": "disks", "name": disk, "tier": tier, "size": "P4", "locations": [loc],
                "locationInfo": [{"location": loc, "zones": ["1", "2", "3"], "zoneDetails": []}],
                "capabilities": [{"name": "MaxSizeGiB", "value": "32767"}, {"name": "MinSizeGiB", "value": "0"}],
                "restrictions": [],
            }));
        }
    }
    out
}

/// `GET /subscriptions/{s}/providers/Microsoft.Compute/skus[?$filter=location eq 'x']`.
pub(crate) fn list(call: &mut Call<'_>) -> Reply {
    match check_version(call.req, SKU_VERSIONS, "skus", false) {
        Ok(v) => call.api_version = v,
        Err(e) => return e.reply(),
    }
    let location = match call.req.q("$filter") {
        None => None,
        Some(f) => {
            let re = regex::Regex::new(r"(?i)^\s*location\s+eq\s+'([^']+)'\s*$").ok();
            match re.and_then(|re| re.captures(f).map(|c| c[1].to_ascii_lowercase())) {
                Some(l) => Some(l),
                None => {
                    return ArmError::bad_request(
                        "InvalidFilterInQueryString",
                        format!("The $filter '{f}' is not supported. Only \"location eq '<location>'\" is."),
                    )
                    .reply();
                }
            }
        }
    };
    let items: Vec<Value> = catalogue()
        .into_iter()
        .filter(|s| location.as_deref().is_none_or(|l| s["locations"][0] == l))
        .collect();
    page(call, items)
}
