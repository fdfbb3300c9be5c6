//! create_vm's VM size: `instance_type`, or with `vm_resources` the first of `instance_types`
//! (calculate_vm_cloud_properties' list, best first) that can run the VM.
//!
//! The filters, in order: the stemcell's CPU architecture (that list holds x64 and Arm64 sizes
//! alike); premium storage when a persistent disk of the VM is a premium disk; and the sizes
//! the availability set offers when the set exists (a set is pinned to one hardware cluster).
//! The Ruby CPI skips the premium filter for zonal VMs, which then fail to attach their disks;
//! here it applies everywhere.

use futures::future::try_join_all;
use serde::Deserialize;

use super::skus::vm_skus;
use super::{Azure, disks};
use crate::azure::compute::sku::{
    Architecture, ResourceSku, filter_by_architecture, find_vm_size, supports_premium_io,
};
use crate::azure::{ApiKind, ResourcePath};
use crate::cid::DiskCid;
use crate::error::{CpiError, CpiResult};
use crate::props::VmCloudProps;

/// What a VM size must offer for the VM's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SizeNeed {
    TrustedLaunch,
    EncryptionAtHost,
    /// Ultra disks in this zone (`None`: a regional VM).
    UltraSsd(Option<String>),
}

impl SizeNeed {
    pub(crate) fn of(props: &VmCloudProps) -> Vec<SizeNeed> {
        let mut needs = Vec::new();
        if props
            .security_profile
            .is_some_and(|profile| profile.is_trusted_launch())
        {
            needs.push(SizeNeed::TrustedLaunch);
        }
        if props.encryption_at_host {
            needs.push(SizeNeed::EncryptionAtHost);
        }
        if props.ultra_ssd_enabled {
            needs.push(SizeNeed::UltraSsd(props.availability_zone.clone()));
        }
        needs
    }

    /// Unknown sizes offer nothing.
    pub(crate) fn allows(&self, sku: Option<&ResourceSku>) -> bool {
        let Some(sku) = sku else { return false };
        match self {
            Self::TrustedLaunch => sku.supports_trusted_launch(),
            Self::EncryptionAtHost => sku.supports_encryption_at_host(),
            Self::UltraSsd(zone) => sku.supports_ultra_ssd(zone.as_deref()),
        }
    }

    /// What is missing, worded with the resource SKU capability that says so.
    pub(crate) fn describe(&self, location: &str) -> String {
        match self {
            Self::TrustedLaunch => {
                "Trusted Launch (resource SKU capability TrustedLaunchDisabled, or Gen1 only)"
                    .into()
            }
            Self::EncryptionAtHost => {
                "encryption at host (resource SKU capability EncryptionAtHostSupported)".into()
            }
            Self::UltraSsd(Some(zone)) => format!(
                "Ultra disks in zone '{zone}' of '{location}' (resource SKU capability UltraSSDAvailable)"
            ),
            Self::UltraSsd(None) => format!(
                "Ultra disks in '{location}' without an availability zone (resource SKU capability UltraSSDAvailable)"
            ),
        }
    }
}

/// An entry of an availability set's `vmSizes`.
#[derive(Debug, Deserialize)]
struct VirtualMachineSize {
    name: String,
}

/// What the choice depends on besides the cloud properties.
pub(crate) struct VmSizeInputs<'a> {
    pub location: &'a str,
    /// `architecture` from the stemcell's metadata; none means x64.
    pub(crate) stemcell_architecture: Option<&'a str>,
    /// The persistent disks the Director will attach (create_vm's `disk_cids`).
    pub(crate) disk_cids: &'a [DiskCid],
    /// The availability set the VM joins, when it has one.
    pub availability_set: Option<&'a ResourcePath>,
    /// What the VM's options need of a size (Trusted Launch, encryption at host, Ultra).
    pub needs: &'a [SizeNeed],
}

pub(crate) async fn select_vm_size(
    azure: &Azure<'_>,
    props: &VmCloudProps,
    inputs: &VmSizeInputs<'_>,
) -> CpiResult<String> {
    if let Some(instance_type) = &props.instance_type {
        return Ok(instance_type.clone());
    }
    if props.instance_types.is_empty() {
        return Err(CpiError::cloud(
            "You need to specify one of 'vm_type/instance_type' or 'vm_resources'.",
        ));
    }
    let (skus, needs_premium, set_sizes) = futures::try_join!(
        vm_skus(azure, inputs.location),
        has_premium_disk(azure, inputs.disk_cids),
        availability_set_sizes(azure, inputs.availability_set),
    )?;
    let capable: Vec<String> = props
        .instance_types
        .iter()
        .filter(|size| {
            let sku = find_vm_size(&skus, size);
            inputs.needs.iter().all(|need| need.allows(sku))
        })
        .cloned()
        .collect();
    if capable.is_empty() {
        return Err(CpiError::cloud(format!(
            "None of the instance_types [{}] supports {}",
            props.instance_types.join(", "),
            inputs
                .needs
                .iter()
                .map(|need| need.describe(inputs.location))
                .collect::<Vec<_>>()
                .join(" and ")
        )));
    }
    choose_vm_size(
        &capable,
        &skus,
        inputs.stemcell_architecture,
        needs_premium,
        set_sizes.as_deref(),
        inputs.availability_set.map(ResourcePath::name),
    )
}

/// The first of `instance_types` left by the filters, or an error naming the filter that left
/// none.
fn choose_vm_size(
    instance_types: &[String],
    skus: &[ResourceSku],
    stemcell_architecture: Option<&str>,
    needs_premium: bool,
    set_sizes: Option<&[String]>,
    set_name: Option<&str>,
) -> CpiResult<String> {
    let listed = || instance_types.join(", ");
    let architecture = Architecture::of_stemcell(stemcell_architecture);
    let mut candidates = filter_by_architecture(instance_types, &architecture, skus);
    if candidates.is_empty() {
        return Err(CpiError::cloud(format!(
            "None of the instance_types [{}] can run the stemcell's architecture '{}'",
            listed(),
            stemcell_architecture.unwrap_or("x86_64")
        )));
    }
    if needs_premium {
        candidates.retain(|size| supports_premium_io(skus, size));
        if candidates.is_empty() {
            return Err(CpiError::cloud(format!(
                "None of the instance_types [{}] supports premium storage, which the VM's persistent disk needs",
                listed()
            )));
        }
    }
    if let Some(offered) = set_sizes {
        candidates.retain(|size| offered.iter().any(|o| o.eq_ignore_ascii_case(size)));
        if candidates.is_empty() {
            return Err(CpiError::cloud(format!(
                "None of the instance_types [{}] is offered by the availability set '{}'",
                listed(),
                set_name.unwrap_or_default()
            )));
        }
    }
    Ok(candidates.swap_remove(0))
}

/// Whether any persistent disk is a managed premium disk (Premium_LRS, Premium_ZRS,
/// PremiumV2_LRS). Disks that do not exist (yet) do not count.
async fn has_premium_disk(azure: &Azure<'_>, disk_cids: &[DiskCid]) -> CpiResult<bool> {
    let disks = try_join_all(
        disk_cids
            .iter()
            .map(|cid| disks::get(azure, cid.resource_group_name(), cid.disk_name())),
    )
    .await?;
    Ok(disks.iter().flatten().any(|disk| {
        disk.sku
            .as_ref()
            .is_some_and(|sku| sku.name.starts_with("Premium"))
    }))
}

/// The sizes an existing availability set offers; `None` when there is no set (yet).
async fn availability_set_sizes(
    azure: &Azure<'_>,
    set: Option<&ResourcePath>,
) -> CpiResult<Option<Vec<String>>> {
    let Some(set) = set else {
        return Ok(None);
    };
    let path = set.clone().segment("vmSizes");
    match azure
        .arm
        .list::<VirtualMachineSize>(&path, ApiKind::Compute, azure.deadline)
        .await
    {
        Ok(sizes) => Ok(Some(sizes.into_iter().map(|size| size.name).collect())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sku(name: &str, premium: bool, architecture: &str) -> ResourceSku {
        serde_json::from_value(json!({
            "resourceType": "virtualMachines", "name": name,
            "capabilities": [
                {"name": "PremiumIO", "value": if premium { "True" } else { "False" }},
                {"name": "CpuArchitectureType", "value": architecture}
            ]
        }))
        .unwrap()
    }

    fn skus() -> Vec<ResourceSku> {
        vec![
            sku("Standard_D2_v3", false, "x64"),
            sku("Standard_D2ps_v5", true, "Arm64"),
            sku("Standard_D2s_v3", true, "x64"),
            sku("Standard_F2s_v2", true, "x64"),
        ]
    }

    fn types(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| (*n).to_owned()).collect()
    }

    #[test]
    fn the_first_size_wins_without_constraints() {
        let chosen = choose_vm_size(
            &types(&["Standard_D2_v3", "Standard_D2s_v3"]),
            &skus(),
            None,
            false,
            None,
            None,
        );
        assert_eq!(chosen.unwrap(), "Standard_D2_v3");
    }

    #[test]
    fn sizes_of_another_architecture_are_skipped() {
        let all = types(&["Standard_D2ps_v5", "Standard_D2_v3"]);
        assert_eq!(
            choose_vm_size(&all, &skus(), None, false, None, None).unwrap(),
            "Standard_D2_v3",
            "no architecture metadata means x64"
        );
        assert_eq!(
            choose_vm_size(&all, &skus(), Some("arm64"), false, None, None).unwrap(),
            "Standard_D2ps_v5"
        );
        let error = choose_vm_size(
            &types(&["Standard_D2_v3"]),
            &skus(),
            Some("arm64"),
            false,
            None,
            None,
        )
        .unwrap_err();
        assert!(
            error.message().contains("architecture 'arm64'"),
            "{error:?}"
        );
    }

    #[test]
    fn a_premium_disk_needs_a_premium_size() {
        let all = types(&["Standard_D2_v3", "Standard_D2s_v3"]);
        assert_eq!(
            choose_vm_size(&all, &skus(), None, true, None, None).unwrap(),
            "Standard_D2s_v3"
        );
        let error = choose_vm_size(&types(&["Standard_D2_v3"]), &skus(), None, true, None, None)
            .unwrap_err();
        assert!(error.message().contains("premium storage"), "{error:?}");
    }

    #[test]
    fn an_existing_availability_set_limits_the_sizes() {
        let all = types(&["Standard_D2s_v3", "Standard_F2s_v2"]);
        let offered = types(&["standard_f2s_v2", "Standard_D2_v3"]);
        assert_eq!(
            choose_vm_size(&all, &skus(), None, true, Some(&offered), Some("set")).unwrap(),
            "Standard_F2s_v2"
        );
        let error = choose_vm_size(
            &types(&["Standard_D2s_v3"]),
            &skus(),
            None,
            false,
            Some(&offered),
            Some("web-set"),
        )
        .unwrap_err();
        assert!(error.message().contains("'web-set'"), "{error:?}");
    }
}
