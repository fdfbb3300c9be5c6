//! Availability sets (`Microsoft.Compute/availabilitySets`, ComputeRP 2024-07-01): the name
//! rule, the PUT body, the GET model and the get-or-create decision of create_vm.
//!
//! Unlike the Ruby body, `name` and `type` are not sent: both are read-only in the spec and
//! the name is already in the URL.

use md5::{Digest, Md5};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tags, bosh_tags, null_as_default};
use crate::error::{CpiError, CpiResult};

/// Azure's limit on availability set names.
const MAX_NAME_LENGTH: usize = 80;
/// How much of an over-long group name survives in the derived name.
const KEPT_GROUP_SUFFIX: usize = 40;
/// The SKU of an availability set for managed disks.
pub(crate) const ALIGNED_SKU: &str = "Aligned";

/// The availability set of a non-zonal VM: `availability_set` from the vm_type, else the
/// Director's `env.bosh.group`. A group longer than 80 characters becomes
/// `az-<md5hex(group)>-<last 40 characters of group>` (an explicit name is used as given).
pub(crate) fn availability_set_name(
    explicit: Option<&str>,
    bosh_group: Option<&str>,
) -> Option<String> {
    if let Some(name) = explicit {
        return Some(name.to_string());
    }
    let group = bosh_group?;
    let length = group.chars().count();
    if length <= MAX_NAME_LENGTH {
        return Some(group.to_string());
    }
    let digest = Md5::digest(group.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let tail: String = group.chars().skip(length - KEPT_GROUP_SUFFIX).collect();
    Some(format!("az-{hex}-{tail}"))
}

/// What create_vm asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AvailabilitySetSpec {
    pub location: String,
    pub(crate) update_domains: u32,
    pub(crate) fault_domains: u32,
    /// Managed disks need the `Aligned` SKU.
    pub managed: bool,
    /// The VM's `proximity_placement_group`: a set holding it must be in the same group.
    pub(crate) proximity_placement_group_id: Option<String>,
}

/// PUT body; tags `{"user-agent":"bosh"}`.
pub(crate) fn availability_set_body(spec: &AvailabilitySetSpec) -> Value {
    let mut body = json!({
        "location": spec.location,
        "tags": bosh_tags(),
        "properties": {
            "platformUpdateDomainCount": spec.update_domains,
            "platformFaultDomainCount": spec.fault_domains,
        }
    });
    if spec.managed {
        body["sku"] = json!({ "name": ALIGNED_SKU });
    }
    if let Some(id) = &spec.proximity_placement_group_id {
        body["properties"]["proximityPlacementGroup"] = json!({ "id": id });
    }
    body
}

/// An availability set as returned by GET.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct AvailabilitySet {
    pub id: String,
    pub name: String,
    pub location: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Tags,
    #[serde(default)]
    pub sku: Option<AvailabilitySetSku>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: AvailabilitySetProperties,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct AvailabilitySetSku {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AvailabilitySetProperties {
    #[serde(default)]
    pub platform_update_domain_count: Option<u32>,
    #[serde(default)]
    pub platform_fault_domain_count: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) virtual_machines: Vec<SubResource>,
    #[serde(default)]
    pub proximity_placement_group: Option<SubResource>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct SubResource {
    pub id: String,
}

impl AvailabilitySet {
    /// Managed iff its SKU is `Aligned`.
    pub(crate) fn is_managed(&self) -> bool {
        self.sku
            .as_ref()
            .and_then(|s| s.name.as_deref())
            .is_some_and(|name| name.eq_ignore_ascii_case(ALIGNED_SKU))
    }

    /// delete_vm and failed creates delete the set only when no VM is left in it.
    pub(crate) fn is_empty(&self) -> bool {
        self.properties.virtual_machines.is_empty()
    }
}

/// What to do with the availability set found (or not) before a VM PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AvailabilitySetAction {
    /// Not there: PUT this, then GET it.
    Create(AvailabilitySetSpec),
    /// Usable as is.
    Use,
    /// An unmanaged set and a managed VM: re-PUT with the `Aligned` SKU, then GET it.
    UpgradeToManaged(AvailabilitySetSpec),
}

/// The get-or-create decision under the availability-set lock. `max_fault_domains` is the
/// location's Aligned `MaximumPlatformFaultDomainCount` SKU capability; only an upgrade needs it.
pub(crate) fn plan_availability_set(
    name: &str,
    existing: Option<&AvailabilitySet>,
    wanted: &AvailabilitySetSpec,
    max_fault_domains: Option<u32>,
) -> CpiResult<AvailabilitySetAction> {
    let Some(existing) = existing else {
        return Ok(AvailabilitySetAction::Create(wanted.clone()));
    };
    // Azure reports some locations in another case (CanadaCentral vs canadacentral).
    if !existing.location.eq_ignore_ascii_case(&wanted.location) {
        return Err(CpiError::cloud(format!(
            "availability set '{name}' already exists, but in a different location '{}' instead of '{}'. Please delete the availability set or choose another location.",
            existing.location.to_lowercase(),
            wanted.location.to_lowercase()
        )));
    }
    check_proximity_placement_group(
        name,
        existing,
        wanted.proximity_placement_group_id.as_deref(),
    )?;
    match (wanted.managed, existing.is_managed()) {
        (false, true) => Err(CpiError::cloud(format!(
            "availability set '{name}' already exists. It's not allowed to update it from managed to unmanaged."
        ))),
        (true, false) => {
            let fault_domains = [
                existing.properties.platform_fault_domain_count,
                max_fault_domains,
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(wanted.fault_domains);
            Ok(AvailabilitySetAction::UpgradeToManaged(
                AvailabilitySetSpec {
                    location: wanted.location.clone(),
                    update_domains: existing
                        .properties
                        .platform_update_domain_count
                        .unwrap_or(wanted.update_domains),
                    fault_domains,
                    managed: true,
                    proximity_placement_group_id: wanted.proximity_placement_group_id.clone(),
                },
            ))
        }
        _ => Ok(AvailabilitySetAction::Use),
    }
}

/// A set's group is fixed while it holds running VMs, and a VM must be in its set's group:
/// an existing set outside the VM's `proximity_placement_group` cannot take it.
pub(crate) fn check_proximity_placement_group(
    name: &str,
    existing: &AvailabilitySet,
    wanted_group: Option<&str>,
) -> CpiResult<()> {
    let Some(wanted_group) = wanted_group else {
        return Ok(());
    };
    let existing_group = existing
        .properties
        .proximity_placement_group
        .as_ref()
        .map(|group| group.id.as_str());
    if existing_group.is_some_and(|id| id.eq_ignore_ascii_case(wanted_group)) {
        return Ok(());
    }
    Err(CpiError::cloud(format!(
        "availability set '{name}' already exists in {}, but the VM's proximity_placement_group is '{}'. Use another availability set, or the set's group.",
        match existing_group {
            Some(id) => format!("the proximity placement group '{}'", last_segment(id)),
            None => "no proximity placement group".to_owned(),
        },
        last_segment(wanted_group)
    )))
}

/// The name at the end of an ARM id (for messages).
fn last_segment(id: &str) -> &str {
    id.rsplit('/').next().unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_from_props_or_group() {
        assert_eq!(
            availability_set_name(Some("as1"), Some("g")).as_deref(),
            Some("as1")
        );
        assert_eq!(
            availability_set_name(None, Some("dep-web")).as_deref(),
            Some("dep-web")
        );
        assert_eq!(availability_set_name(None, None), None);
        let exactly_80 = "g".repeat(80);
        assert_eq!(
            availability_set_name(None, Some(&exactly_80)),
            Some(exactly_80.clone())
        );
    }

    #[test]
    fn long_group_is_hashed() {
        let group = format!("{}{}", "a".repeat(41), "b".repeat(40));
        let name = availability_set_name(None, Some(&group)).unwrap();
        let digest = Md5::digest(group.as_bytes());
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(name, format!("az-{hex}-{}", "b".repeat(40)));
        assert_eq!(name.len(), 3 + 32 + 1 + 40);
        // Known MD5 so the digest itself is checked, not just recomputed.
        let abc = format!("{}abc", "x".repeat(78));
        let name = availability_set_name(None, Some(&abc)).unwrap();
        assert!(name.starts_with("az-"));
        assert!(name.ends_with(&format!("-{}abc", "x".repeat(37))));
        assert_eq!(
            format!("{:x}", Md5::digest(b"abc")),
            "900150983cd24fb0d6963f7d28e17f72"
        );
    }

    #[test]
    fn body_with_and_without_aligned_sku() {
        let mut spec = AvailabilitySetSpec {
            location: "eastus".into(),
            update_domains: 5,
            fault_domains: 2,
            managed: true,
            proximity_placement_group_id: None,
        };
        assert_eq!(
            availability_set_body(&spec),
            json!({
                "location": "eastus",
                "tags": {"user-agent": "bosh"},
                "sku": {"name": "Aligned"},
                "properties": {"platformUpdateDomainCount": 5, "platformFaultDomainCount": 2}
            })
        );
        spec.managed = false;
        spec.fault_domains = 3;
        assert_eq!(
            availability_set_body(&spec),
            json!({
                "location": "eastus",
                "tags": {"user-agent": "bosh"},
                "properties": {"platformUpdateDomainCount": 5, "platformFaultDomainCount": 3}
            })
        );
    }

    fn existing(location: &str, sku: Option<&str>, fd: u32, vms: usize) -> AvailabilitySet {
        let vms: Vec<Value> = (0..vms).map(|i| json!({"id": format!("/vm{i}")})).collect();
        serde_json::from_value(json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/availabilitySets/as1",
            "name": "as1",
            "type": "Microsoft.Compute/availabilitySets",
            "location": location,
            "tags": {"user-agent": "bosh"},
            "sku": sku.map(|name| json!({"name": name})),
            "properties": {
                "platformUpdateDomainCount": 5,
                "platformFaultDomainCount": fd,
                "virtualMachines": vms
            }
        }))
        .unwrap()
    }

    fn wanted(managed: bool) -> AvailabilitySetSpec {
        AvailabilitySetSpec {
            location: "eastus".into(),
            update_domains: 5,
            fault_domains: 2,
            managed,
            proximity_placement_group_id: None,
        }
    }

    #[test]
    fn model() {
        let set = existing("eastus", Some("Aligned"), 2, 2);
        assert!(set.is_managed());
        assert!(!set.is_empty());
        let classic = existing("eastus", Some("Classic"), 3, 0);
        assert!(!classic.is_managed());
        assert!(classic.is_empty());
        assert!(!existing("eastus", None, 3, 0).is_managed());
    }

    #[test]
    fn get_or_create_decisions() {
        assert_eq!(
            plan_availability_set("as1", None, &wanted(true), None).unwrap(),
            AvailabilitySetAction::Create(wanted(true))
        );
        let aligned = existing("EastUS", Some("Aligned"), 2, 1);
        assert_eq!(
            plan_availability_set("as1", Some(&aligned), &wanted(true), None).unwrap(),
            AvailabilitySetAction::Use
        );
        let elsewhere = existing("westus", Some("Aligned"), 2, 1);
        let err = plan_availability_set("as1", Some(&elsewhere), &wanted(true), None).unwrap_err();
        assert!(
            err.message()
                .contains("different location 'westus' instead of 'eastus'")
        );
        let err = plan_availability_set("as1", Some(&aligned), &wanted(false), None).unwrap_err();
        assert!(err.message().contains("from managed to unmanaged"));

        let classic = existing("eastus", Some("Classic"), 3, 1);
        assert_eq!(
            plan_availability_set("as1", Some(&classic), &wanted(true), Some(2)).unwrap(),
            AvailabilitySetAction::UpgradeToManaged(AvailabilitySetSpec {
                location: "eastus".into(),
                update_domains: 5,
                fault_domains: 2,
                managed: true,
                proximity_placement_group_id: None,
            })
        );
        assert_eq!(
            plan_availability_set("as1", Some(&classic), &wanted(false), None).unwrap(),
            AvailabilitySetAction::Use
        );
    }

    #[test]
    fn an_existing_set_must_be_in_the_vms_proximity_placement_group() {
        let ppg = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/proximityPlacementGroups/ppg-a";
        let wanted = AvailabilitySetSpec {
            proximity_placement_group_id: Some(ppg.into()),
            ..wanted(true)
        };
        let mut set = existing("eastus", Some("Aligned"), 2, 1);
        let err = plan_availability_set("as1", Some(&set), &wanted, None).unwrap_err();
        assert_eq!(
            err.message(),
            "availability set 'as1' already exists in no proximity placement group, but the VM's proximity_placement_group is 'ppg-a'. Use another availability set, or the set's group."
        );
        set.properties.proximity_placement_group = Some(SubResource {
            id: ppg.replace("ppg-a", "ppg-b"),
        });
        let err = plan_availability_set("as1", Some(&set), &wanted, None).unwrap_err();
        assert!(
            err.message()
                .contains("already exists in the proximity placement group 'ppg-b'"),
            "{}",
            err.message()
        );
        set.properties.proximity_placement_group = Some(SubResource {
            id: ppg.to_ascii_uppercase(),
        });
        assert_eq!(
            plan_availability_set("as1", Some(&set), &wanted, None).unwrap(),
            AvailabilitySetAction::Use
        );
    }
}
