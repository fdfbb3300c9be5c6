//! Resource SKUs (`Microsoft.Compute/skus`, Skus 2021-07-01) and what the CPI derives from
//! them: PremiumIO support (default disk SKU), max data disks, the availability-set fault
//! domain limit, the `calculate_vm_cloud_properties` ordering (Ruby's InstanceTypeMapper) with
//! CPU-architecture filtering, and Ruby's static DiskInfo table (default ephemeral size and
//! LUN count per VM size).
//!
//! The list is paged (`nextLink`): the ARM client collects every page into one `Vec`.

use std::cmp::Reverse;

use serde::Deserialize;

use super::null_as_default;
use crate::error::{CpiError, CpiResult};

pub(crate) const VIRTUAL_MACHINES: &str = "virtualMachines";

/// One page of `GET /subscriptions/<sub>/providers/Microsoft.Compute/skus`.
#[cfg(test)]
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceSkuPage {
    #[serde(default, deserialize_with = "null_as_default")]
    pub value: Vec<ResourceSku>,
    #[serde(default)]
    pub(crate) next_link: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResourceSku {
    #[serde(default)]
    pub(crate) resource_type: Option<String>,
    pub name: String,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub size: Option<String>,
    #[serde(default)]
    pub family: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) locations: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) capabilities: Vec<SkuCapability>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) restrictions: Vec<SkuRestriction>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) location_info: Vec<SkuLocationInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SkuLocationInfo {
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) zone_details: Vec<SkuZoneDetails>,
}

/// Capabilities a SKU has only in some zones (`UltraSSDAvailable`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct SkuZoneDetails {
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) capabilities: Vec<SkuCapability>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SkuCapability {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SkuRestriction {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub values: Vec<String>,
    #[serde(default)]
    pub(crate) reason_code: Option<String>,
}

impl ResourceSku {
    pub(crate) fn capability(&self, name: &str) -> Option<&str> {
        self.capabilities
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.value.as_str())
    }

    pub(crate) fn is_vm_size(&self) -> bool {
        self.resource_type.as_deref() == Some(VIRTUAL_MACHINES)
    }

    /// Capability `PremiumIO == "True"`.
    pub(crate) fn premium_io(&self) -> bool {
        self.capability("PremiumIO") == Some("True")
    }

    /// Capability `MaxDataDiskCount`.
    pub(crate) fn max_data_disk_count(&self) -> Option<u32> {
        self.capability("MaxDataDiskCount")?.parse().ok()
    }

    /// Trusted Launch is possible unless the SKU says `TrustedLaunchDisabled: True`, or it
    /// runs only Gen1 images (`HyperVGenerations` without V2).
    pub(crate) fn supports_trusted_launch(&self) -> bool {
        let disabled = self
            .capability("TrustedLaunchDisabled")
            .is_some_and(|v| v.eq_ignore_ascii_case("True"));
        let gen2 = self
            .capability("HyperVGenerations")
            .is_none_or(|v| v.split(',').any(|g| g.trim().eq_ignore_ascii_case("V2")));
        !disabled && gen2
    }

    /// Capability `EncryptionAtHostSupported == "True"`.
    pub(crate) fn supports_encryption_at_host(&self) -> bool {
        self.capability("EncryptionAtHostSupported")
            .is_some_and(|v| v.eq_ignore_ascii_case("True"))
    }

    /// `UltraSSDAvailable == "True"`: per zone in `locationInfo[].zoneDetails` for a zonal
    /// VM, among the SKU's own capabilities for a regional one (Azure's Ultra disk docs).
    pub(crate) fn supports_ultra_ssd(&self, zone: Option<&str>) -> bool {
        let ultra = |caps: &[SkuCapability]| {
            caps.iter()
                .any(|c| c.name == "UltraSSDAvailable" && c.value.eq_ignore_ascii_case("True"))
        };
        match zone {
            None => ultra(&self.capabilities),
            Some(zone) => self.location_info.iter().any(|info| {
                info.zone_details.iter().any(|details| {
                    details.name.iter().any(|z| z == zone) && ultra(&details.capabilities)
                })
            }),
        }
    }

    /// Capability `CpuArchitectureType`; sizes without it are x64.
    pub(crate) fn architecture(&self) -> Architecture {
        self.capability("CpuArchitectureType")
            .map(Architecture::from_name)
            .unwrap_or(Architecture::X64)
    }
}

/// The VM size's SKU, matched case-insensitively as Ruby does.
pub(crate) fn find_vm_size<'a>(skus: &'a [ResourceSku], vm_size: &str) -> Option<&'a ResourceSku> {
    skus.iter()
        .filter(|s| s.resource_type.is_none() || s.is_vm_size())
        .find(|s| s.name.eq_ignore_ascii_case(vm_size))
}

/// Whether `vm_size` can use Premium storage; unknown sizes cannot.
pub(crate) fn supports_premium_io(skus: &[ResourceSku], vm_size: &str) -> bool {
    find_vm_size(skus, vm_size).is_some_and(ResourceSku::premium_io)
}

/// The default SKU of a data disk created next to a VM: `Premium_LRS` when the size supports
/// PremiumIO, else `Standard_LRS`.
pub(crate) fn default_disk_sku(skus: &[ResourceSku], vm_size: &str) -> &'static str {
    if supports_premium_io(skus, vm_size) {
        "Premium_LRS"
    } else {
        "Standard_LRS"
    }
}

/// Max data disks of a size: the SKU's `MaxDataDiskCount` when Azure reports it, else the
/// DiskInfo table (whose default of 64 covers sizes it does not know).
pub(crate) fn max_data_disks(skus: &[ResourceSku], vm_size: &str) -> u32 {
    find_vm_size(skus, vm_size)
        .and_then(ResourceSku::max_data_disk_count)
        .unwrap_or_else(|| DiskInfo::for_instance_type(vm_size).max_data_disks)
}

/// CPU architecture of a VM size or a stemcell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Architecture {
    X64,
    Arm64,
    Other(String),
}

impl Architecture {
    /// Azure's `x64`/`Arm64` and the stemcell spellings `x86_64`/`amd64`/`aarch64`/`arm64`.
    pub(crate) fn from_name(name: &str) -> Self {
        match name.to_ascii_lowercase().as_str() {
            "x64" | "x86_64" | "amd64" => Self::X64,
            "arm64" | "aarch64" => Self::Arm64,
            _ => Self::Other(name.to_string()),
        }
    }

    /// A stemcell without `architecture` metadata is x64.
    pub(crate) fn of_stemcell(architecture: Option<&str>) -> Self {
        match architecture {
            None | Some("") => Self::X64,
            Some(name) => Self::from_name(name),
        }
    }
}

/// What `calculate_vm_cloud_properties` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DesiredInstanceSize {
    pub cpu: u64,
    pub(crate) ram_mib: u64,
}

/// Ruby's series preference: D > F = E > B = L > A > H; other series are not offered.
const SERIES_SCORES: [(char, u8); 7] = [
    ('d', 5),
    ('f', 4),
    ('e', 4),
    ('b', 3),
    ('l', 3),
    ('a', 2),
    ('h', 1),
];

/// Series score of a size name: the first series letter found as `standard_<letter><digit>`
/// (so `Standard_DS2` and `Standard_NC6` score 0, as in Ruby).
fn series_score(name: &str) -> u8 {
    let lower = name.to_ascii_lowercase();
    SERIES_SCORES
        .iter()
        .find(|(letter, _)| {
            let prefix = format!("standard_{letter}");
            lower.match_indices(&prefix).any(|(at, _)| {
                lower[at + prefix.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_digit())
            })
        })
        .map_or(0, |(_, score)| *score)
}

/// Generation from the first `_v<digits>` in the name, 1 without one.
fn generation(name: &str) -> u32 {
    let lower = name.to_ascii_lowercase();
    lower
        .match_indices("_v")
        .find_map(|(at, _)| {
            let digits: String = lower[at + 2..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(1)
}

/// Ruby's InstanceTypeMapper: every VM size with at least the desired CPUs and RAM, best
/// first: PremiumIO first, then fewer cores, less memory, preferred series, newer generation.
/// Sizes with any restriction, without vCPUs/MemoryGB, or outside the preferred series are
/// left out. With `architecture` (the stemcell's), sizes of another CPU architecture are left
/// out too; without it every size is considered, as in Ruby.
pub(crate) fn map_instance_types(
    skus: &[ResourceSku],
    desired: DesiredInstanceSize,
    architecture: Option<&Architecture>,
) -> CpiResult<Vec<String>> {
    struct Candidate<'a> {
        name: &'a str,
        cores: u64,
        memory_mib: u64,
        premium_io: bool,
        score: u8,
        generation: u32,
    }
    let mut candidates: Vec<Candidate<'_>> = skus
        .iter()
        .filter(|s| s.resource_type.is_none() || s.is_vm_size())
        .filter(|s| s.restrictions.is_empty())
        .filter(|s| architecture.is_none_or(|a| s.architecture() == *a))
        .filter_map(|s| {
            let cores = s.capability("vCPUs")?.trim().parse::<u64>().ok()?;
            let memory_gb = s.capability("MemoryGB")?.trim().parse::<f64>().ok()?;
            let score = series_score(&s.name);
            if score == 0 || !memory_gb.is_finite() || memory_gb < 0.0 {
                return None;
            }
            Some(Candidate {
                name: &s.name,
                cores,
                // Truncation as Ruby's `(gb * 1024).to_i`.
                memory_mib: (memory_gb * 1024.0) as u64,
                premium_io: s.premium_io(),
                score,
                generation: generation(&s.name),
            })
        })
        .filter(|c| c.cores >= desired.cpu && c.memory_mib >= desired.ram_mib)
        .collect();
    if candidates.is_empty() {
        return Err(CpiError::cloud(format!(
            "Unable to meet desired instance size: {} CPU, {} MB RAM",
            desired.cpu, desired.ram_mib
        )));
    }
    // Stable sort: ties keep Azure's order, so the answer is deterministic for one SKU list.
    candidates.sort_by_key(|c| {
        (
            Reverse(c.premium_io),
            c.cores,
            c.memory_mib,
            Reverse(c.score),
            Reverse(c.generation),
        )
    });
    Ok(candidates.into_iter().map(|c| c.name.to_string()).collect())
}

/// Keeps the instance types whose CPU architecture matches the stemcell's, in their order.
/// Sizes missing from the SKU list or without the capability count as x64.
pub(crate) fn filter_by_architecture(
    instance_types: &[String],
    stemcell_architecture: &Architecture,
    skus: &[ResourceSku],
) -> Vec<String> {
    instance_types
        .iter()
        .filter(|name| {
            let arch = find_vm_size(skus, name)
                .map(ResourceSku::architecture)
                .unwrap_or(Architecture::X64);
            arch == *stemcell_architecture
        })
        .cloned()
        .collect()
}

/// Ruby's DiskInfo: default ephemeral disk size (GiB) and max data disks of a VM size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DiskInfo {
    pub(crate) ephemeral_size_gib: u32,
    pub(crate) max_data_disks: u32,
}

/// Sizes the table does not list (every newer series) get 30 GiB and 64 disks.
const DEFAULT_DISK_INFO: DiskInfo = DiskInfo {
    ephemeral_size_gib: 30,
    max_data_disks: 64,
};

impl DiskInfo {
    /// Looked up by the upper-cased size name.
    pub(crate) fn for_instance_type(instance_type: &str) -> Self {
        let upper = instance_type.to_ascii_uppercase();
        DISK_INFO_TABLE
            .iter()
            .find(|(name, _, _)| *name == upper)
            .map_or(DEFAULT_DISK_INFO, |&(_, size, count)| DiskInfo {
                ephemeral_size_gib: size,
                max_data_disks: count,
            })
    }
}

/// (size, default ephemeral GiB, max data disks), the values of Ruby's
/// `INSTANCE_TYPE_DISK_MAPPING`: the temporary disk size clamped to 30..=1000 GiB.
const DISK_INFO_TABLE: [(&str, u32, u32); 94] = [
    ("STANDARD_A0", 30, 1),
    ("STANDARD_A1", 70, 2),
    ("STANDARD_A2", 135, 4),
    ("STANDARD_A3", 285, 8),
    ("STANDARD_A4", 605, 16),
    ("STANDARD_A5", 135, 4),
    ("STANDARD_A6", 285, 8),
    ("STANDARD_A7", 605, 16),
    ("STANDARD_A8", 382, 32),
    ("STANDARD_A9", 382, 64),
    ("STANDARD_A10", 382, 32),
    ("STANDARD_A11", 382, 64),
    ("STANDARD_A1_V2", 30, 2),
    ("STANDARD_A2_V2", 30, 4),
    ("STANDARD_A4_V2", 40, 8),
    ("STANDARD_A8_V2", 80, 16),
    ("STANDARD_A2M_V2", 30, 4),
    ("STANDARD_A4M_V2", 40, 8),
    ("STANDARD_A8M_V2", 80, 16),
    ("STANDARD_D1", 50, 4),
    ("STANDARD_D2", 100, 8),
    ("STANDARD_D3", 200, 16),
    ("STANDARD_D4", 400, 32),
    ("STANDARD_D11", 100, 8),
    ("STANDARD_D12", 200, 16),
    ("STANDARD_D13", 400, 32),
    ("STANDARD_D14", 800, 64),
    ("STANDARD_D1_V2", 50, 4),
    ("STANDARD_D2_V2", 100, 8),
    ("STANDARD_D3_V2", 200, 16),
    ("STANDARD_D4_V2", 400, 32),
    ("STANDARD_D5_V2", 800, 64),
    ("STANDARD_D11_V2", 100, 8),
    ("STANDARD_D12_V2", 200, 16),
    ("STANDARD_D13_V2", 400, 32),
    ("STANDARD_D14_V2", 800, 64),
    ("STANDARD_D15_V2", 1000, 64),
    ("STANDARD_DS1", 30, 4),
    ("STANDARD_DS2", 30, 8),
    ("STANDARD_DS3", 30, 16),
    ("STANDARD_DS4", 56, 32),
    ("STANDARD_DS11", 28, 8),
    ("STANDARD_DS12", 56, 16),
    ("STANDARD_DS13", 112, 32),
    ("STANDARD_DS14", 224, 64),
    ("STANDARD_DS1_V2", 30, 4),
    ("STANDARD_DS2_V2", 30, 8),
    ("STANDARD_DS3_V2", 30, 16),
    ("STANDARD_DS4_V2", 56, 32),
    ("STANDARD_DS5_V2", 112, 64),
    ("STANDARD_DS11_V2", 28, 8),
    ("STANDARD_DS12_V2", 56, 16),
    ("STANDARD_DS13_V2", 112, 32),
    ("STANDARD_DS14_V2", 224, 64),
    ("STANDARD_DS15_V2", 280, 64),
    ("STANDARD_F1", 30, 4),
    ("STANDARD_F2", 32, 8),
    ("STANDARD_F4", 64, 16),
    ("STANDARD_F8", 128, 32),
    ("STANDARD_F16", 256, 64),
    ("STANDARD_F1S", 30, 4),
    ("STANDARD_F2S", 30, 8),
    ("STANDARD_F4S", 30, 16),
    ("STANDARD_F8S", 32, 32),
    ("STANDARD_F16S", 64, 64),
    ("STANDARD_G1", 384, 8),
    ("STANDARD_G2", 768, 16),
    ("STANDARD_G3", 1000, 32),
    ("STANDARD_G4", 1000, 64),
    ("STANDARD_G5", 1000, 64),
    ("STANDARD_GS1", 56, 8),
    ("STANDARD_GS2", 112, 16),
    ("STANDARD_GS3", 224, 32),
    ("STANDARD_GS4", 448, 64),
    ("STANDARD_GS5", 896, 64),
    ("STANDARD_L4S", 678, 16),
    ("STANDARD_L8S", 1000, 32),
    ("STANDARD_L16S", 1000, 64),
    ("STANDARD_L32S", 1000, 64),
    ("STANDARD_M64MS", 1000, 64),
    ("STANDARD_M128S", 1000, 64),
    ("STANDARD_NV6", 380, 8),
    ("STANDARD_NV12", 680, 16),
    ("STANDARD_NV24", 1000, 32),
    ("STANDARD_NC6", 380, 24),
    ("STANDARD_NC12", 680, 48),
    ("STANDARD_NC24", 1000, 64),
    ("STANDARD_NC24R", 1000, 64),
    ("STANDARD_H8", 1000, 32),
    ("STANDARD_H16", 1000, 64),
    ("STANDARD_H8M", 1000, 32),
    ("STANDARD_H16M", 1000, 64),
    ("STANDARD_H16R", 1000, 64),
    ("STANDARD_H16MR", 1000, 64),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vm_sku(name: &str, cpus: &str, memory_gb: &str, premium: &str) -> ResourceSku {
        serde_json::from_value(json!({
            "resourceType": "virtualMachines",
            "name": name,
            "locations": ["eastus"],
            "capabilities": [
                {"name": "vCPUs", "value": cpus},
                {"name": "MemoryGB", "value": memory_gb},
                {"name": "PremiumIO", "value": premium}
            ],
            "restrictions": []
        }))
        .unwrap()
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn size(cpu: u64, ram_mib: u64) -> DesiredInstanceSize {
        DesiredInstanceSize { cpu, ram_mib }
    }

    #[test]
    fn parses_sku_page() {
        let page: ResourceSkuPage = serde_json::from_value(json!({
            "value": [{
                "resourceType": "virtualMachines",
                "name": "Standard_D2s_v5",
                "tier": "Standard",
                "size": "D2s_v5",
                "family": "standardDSv5Family",
                "locations": ["eastus"],
                "locationInfo": [{"location": "eastus", "zones": ["1", "2", "3"]}],
                "capabilities": [
                    {"name": "MaxDataDiskCount", "value": "4"},
                    {"name": "PremiumIO", "value": "True"},
                    {"name": "CpuArchitectureType", "value": "x64"}
                ],
                "restrictions": [{"type": "Location", "values": ["eastus"], "reasonCode": "NotAvailableForSubscription"}]
            }],
            "nextLink": "https://management.azure.com/next"
        }))
        .unwrap();
        let sku = &page.value[0];
        assert!(sku.premium_io());
        assert_eq!(sku.max_data_disk_count(), Some(4));
        assert_eq!(sku.architecture(), Architecture::X64);
        assert_eq!(
            sku.restrictions[0].reason_code.as_deref(),
            Some("NotAvailableForSubscription")
        );
        assert_eq!(
            page.next_link.as_deref(),
            Some("https://management.azure.com/next")
        );
    }

    #[test]
    fn premium_lookup_and_default_disk_sku() {
        let skus = vec![
            vm_sku("Standard_D2s_v5", "2", "8", "True"),
            vm_sku("Standard_A2", "2", "3.5", "False"),
        ];
        assert!(supports_premium_io(&skus, "standard_d2s_v5"));
        assert!(!supports_premium_io(&skus, "Standard_A2"));
        assert!(!supports_premium_io(&skus, "Standard_Unknown"));
        assert_eq!(default_disk_sku(&skus, "Standard_D2s_v5"), "Premium_LRS");
        assert_eq!(default_disk_sku(&skus, "Standard_A2"), "Standard_LRS");
    }

    #[test]
    fn max_data_disks_prefers_the_sku_capability() {
        let mut sku = vm_sku("Standard_D2_v2", "2", "7", "False");
        sku.capabilities.push(SkuCapability {
            name: "MaxDataDiskCount".into(),
            value: "6".into(),
        });
        assert_eq!(max_data_disks(&[sku], "Standard_D2_v2"), 6);
        assert_eq!(max_data_disks(&[], "Standard_D2_v2"), 8);
        assert_eq!(max_data_disks(&[], "Standard_D2s_v5"), 64);
    }

    // Vectors from the Ruby InstanceTypeMapper spec.
    #[test]
    fn mapper_orders_by_premium_cores_memory() {
        let skus = vec![
            vm_sku("Standard_D2_v3", "2", "8", "True"),
            vm_sku("Standard_F2", "2", "4", "True"),
            vm_sku("Standard_A2", "2", "3.5", "False"),
            vm_sku("Standard_D4_v3", "4", "16", "True"),
        ];
        assert_eq!(
            map_instance_types(&skus, size(2, 2048), None).unwrap(),
            names(&[
                "Standard_F2",
                "Standard_D2_v3",
                "Standard_D4_v3",
                "Standard_A2"
            ])
        );
        assert_eq!(
            map_instance_types(&skus, size(3, 4096), None).unwrap(),
            names(&["Standard_D4_v3"])
        );
        assert_eq!(
            map_instance_types(&skus, size(2, 10240), None).unwrap(),
            names(&["Standard_D4_v3"])
        );
    }

    #[test]
    fn mapper_prefers_newer_generations_and_series() {
        let skus = vec![
            vm_sku("Standard_D2_v2", "2", "8", "True"),
            vm_sku("Standard_D2_v5", "2", "8", "True"),
            vm_sku("Standard_D2_v4", "2", "8", "True"),
            vm_sku("Standard_D2_v3", "2", "8", "True"),
        ];
        assert_eq!(
            map_instance_types(&skus, size(2, 7168), None).unwrap(),
            names(&[
                "Standard_D2_v5",
                "Standard_D2_v4",
                "Standard_D2_v3",
                "Standard_D2_v2"
            ])
        );
        let skus = vec![
            vm_sku("Standard_E2s_v5", "2", "4", "True"),
            vm_sku("Standard_F2s_v2", "2", "4", "True"),
            vm_sku("Standard_D2s_v5", "2", "4", "True"),
            vm_sku("Standard_F2als_v6", "2", "4", "True"),
        ];
        assert_eq!(
            map_instance_types(&skus, size(2, 4000), None).unwrap(),
            names(&[
                "Standard_D2s_v5",
                "Standard_F2als_v6",
                "Standard_E2s_v5",
                "Standard_F2s_v2"
            ])
        );
    }

    #[test]
    fn mapper_drops_unknown_series_restricted_and_incomplete_skus() {
        let mut restricted = vm_sku("Standard_F2", "2", "4", "True");
        restricted.restrictions.push(SkuRestriction {
            kind: Some("Location".into()),
            values: vec!["westus".into()],
            reason_code: Some("NotAvailableForSubscription".into()),
        });
        let incomplete: ResourceSku = serde_json::from_value(json!({
            "resourceType": "virtualMachines", "name": "Standard_A2",
            "capabilities": [{"name": "PremiumIO", "value": "True"}]
        }))
        .unwrap();
        let skus = vec![
            vm_sku("Standard_D2_v3", "2", "8", "True"),
            vm_sku("Standard_NC6", "6", "56", "True"),
            vm_sku("Standard_DS2", "2", "7", "True"),
            vm_sku("unknown_series", "1", "1", "True"),
            restricted,
            incomplete,
        ];
        assert_eq!(
            map_instance_types(&skus, size(1, 1024), None).unwrap(),
            names(&["Standard_D2_v3"])
        );
    }

    #[test]
    fn mapper_error_names_the_request() {
        let skus = vec![vm_sku("Standard_A0", "1", "0.75", "False")];
        let err = map_instance_types(&skus, size(3200, 102_400), None).unwrap_err();
        assert_eq!(
            err.message(),
            "Unable to meet desired instance size: 3200 CPU, 102400 MB RAM"
        );
        assert!(map_instance_types(&[], size(1, 512), None).is_err());
    }

    fn arch_sku(name: &str, arch: Option<&str>) -> ResourceSku {
        let mut sku = vm_sku(name, "2", "8", "True");
        if let Some(arch) = arch {
            sku.capabilities.push(SkuCapability {
                name: "CpuArchitectureType".into(),
                value: arch.into(),
            });
        }
        sku
    }

    #[test]
    fn architecture_filtering() {
        let skus = vec![
            arch_sku("Standard_D2s_v5", Some("x64")),
            arch_sku("Standard_D2ps_v5", Some("Arm64")),
            arch_sku("Standard_D2_v3", None),
        ];
        let types = names(&["Standard_D2ps_v5", "Standard_D2_v3", "Standard_D2s_v5"]);
        assert_eq!(
            filter_by_architecture(&types, &Architecture::of_stemcell(Some("aarch64")), &skus),
            names(&["Standard_D2ps_v5"])
        );
        assert_eq!(
            filter_by_architecture(&types, &Architecture::of_stemcell(Some("x86_64")), &skus),
            names(&["Standard_D2_v3", "Standard_D2s_v5"])
        );
        assert_eq!(
            filter_by_architecture(&types, &Architecture::of_stemcell(None), &skus),
            names(&["Standard_D2_v3", "Standard_D2s_v5"])
        );
        assert_eq!(
            map_instance_types(&skus, size(2, 1024), Some(&Architecture::Arm64)).unwrap(),
            names(&["Standard_D2ps_v5"])
        );
    }

    #[test]
    fn series_and_generation_parsing() {
        assert_eq!(series_score("Standard_D2s_v5"), 5);
        assert_eq!(series_score("Standard_DS2_v2"), 0);
        assert_eq!(series_score("Standard_E2s_v5"), 4);
        assert_eq!(series_score("Standard_B1ms"), 3);
        assert_eq!(series_score("Standard_H8"), 1);
        assert_eq!(generation("Standard_F2als_v6"), 6);
        assert_eq!(generation("Standard_F2"), 1);
        assert_eq!(generation("Standard_D2_v10"), 10);
    }

    #[test]
    fn disk_info_table() {
        let d2v2 = DiskInfo::for_instance_type("Standard_D2_v2");
        assert_eq!((d2v2.ephemeral_size_gib, d2v2.max_data_disks), (100, 8));
        let ds1 = DiskInfo::for_instance_type("standard_ds1_v2");
        assert_eq!((ds1.ephemeral_size_gib, ds1.max_data_disks), (30, 4));
        let f2s = DiskInfo::for_instance_type("Standard_F2s");
        assert_eq!((f2s.ephemeral_size_gib, f2s.max_data_disks), (30, 8));
        let a0 = DiskInfo::for_instance_type("Standard_A0");
        assert_eq!((a0.ephemeral_size_gib, a0.max_data_disks), (30, 1));
        let h16mr = DiskInfo::for_instance_type("Standard_H16mr");
        assert_eq!((h16mr.ephemeral_size_gib, h16mr.max_data_disks), (1000, 64));
        assert_eq!(
            DiskInfo::for_instance_type("Standard_D2s_v5"),
            DEFAULT_DISK_INFO
        );
        // Every entry is unique and upper case, so lookups cannot shadow each other.
        let mut seen = std::collections::HashSet::new();
        for (name, size, count) in DISK_INFO_TABLE {
            assert_eq!(name, name.to_ascii_uppercase());
            assert!(seen.insert(name), "duplicate {name}");
            assert!((28..=1000).contains(&size) && (1..=64).contains(&count));
        }
    }
}
