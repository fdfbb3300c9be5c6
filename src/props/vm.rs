//! vm_types / vm_extensions cloud_properties.

use crate::names::quote;
use std::collections::BTreeMap;

use serde_json::Value;

use super::PropsContext;
use super::managed_identity::ManagedIdentity;
use super::security_group::SecurityGroup;
use super::vm_options::{
    ProximityPlacementGroup, SecurityProfile, Spot, parse_proximity_placement_group,
    parse_security_profile, parse_spot,
};
use crate::cid::Caching;
use crate::error::{CpiError, CpiResult};
use crate::fields::{Fields, type_error};

const OWNER: &str = "vm cloud_properties";
const AVAILABILITY_ZONES: [&str; 3] = ["1", "2", "3"];
const MINIMUM_DISK_SIZE_MIB: u64 = 1024;
const DEFAULT_STORAGE_ACCOUNT_KIND: &str = "Storage";
const DEFAULT_STORAGE_ACCOUNT_MAX_DISK_NUMBER: u64 = 30;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VmCloudProps {
    /// `hardwareProfile.vmSize`. When absent, one of `instance_types` is picked (from
    /// `vm_resources` through calculate_vm_cloud_properties); at least one of them is set.
    pub instance_type: Option<String>,
    pub instance_types: Vec<String>,
    pub root_disk: RootDisk,
    pub ephemeral_disk: EphemeralDisk,
    /// OS disk caching, default `ReadWrite`.
    pub caching: Caching,
    /// "1", "2" or "3" (an integer in the manifest is accepted).
    pub availability_zone: Option<String>,
    pub availability_set: AvailabilitySet,
    /// `None` when `load_balancer` is not set; each entry is one backend pool of the primary NIC.
    pub(crate) load_balancers: Option<Vec<BackendPoolRef>>,
    pub(crate) application_gateways: Option<Vec<BackendPoolRef>>,
    /// The VM's `managed_identity`, else the global `default_managed_identity`.
    pub managed_identity: Option<ManagedIdentity>,
    pub security_group: Option<SecurityGroup>,
    /// Overrides the network's list when set.
    pub application_security_groups: Option<Vec<String>>,
    pub assign_dynamic_public_ip: bool,
    /// Override the network's values when set.
    pub ip_forwarding: Option<bool>,
    pub accelerated_networking: Option<bool>,
    /// Unmanaged disks only: an account name, or `*keyword*` to pick an existing account.
    pub storage_account_name: Option<String>,
    pub storage_account_type: Option<String>,
    pub(crate) storage_account_kind: String,
    pub(crate) storage_account_max_disk_number: u64,
    /// The VM's resource group (also NICs, dynamic public IP, availability set, OS disks).
    pub resource_group_name: String,
    /// Merged over `env.bosh.tags` into the VM's tags; numbers and booleans become strings.
    pub tags: BTreeMap<String, String>,
    pub(crate) capacity_reservation_group: Option<String>,
    /// A full ARM id; wins over `capacity_reservation_group`.
    pub(crate) capacity_reservation_group_id: Option<String>,
    /// Trusted Launch or an explicit Standard VM; `None` sends no security type.
    pub security_profile: Option<SecurityProfile>,
    pub spot: Option<Spot>,
    pub proximity_placement_group: Option<ProximityPlacementGroup>,
    /// `securityProfile.encryptionAtHost` (sent only when true).
    pub encryption_at_host: bool,
    /// `additionalCapabilities.ultraSSDEnabled` (sent only when true).
    pub ultra_ssd_enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RootDisk {
    pub(crate) size_mib: Option<u64>,
    /// Only chooses the user-image variant; never sent as the OS disk's SKU.
    pub(crate) disk_type: Option<String>,
    pub placement: RootDiskPlacement,
    pub disk_encryption_set_name: Option<String>,
}

/// Where the OS disk lives: a remote managed disk, or an ephemeral OS disk on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RootDiskPlacement {
    Remote,
    ResourceDisk,
    CacheDisk,
}

impl RootDiskPlacement {
    fn parse(value: &str) -> CpiResult<Self> {
        match value {
            "remote" => Ok(Self::Remote),
            "resource-disk" => Ok(Self::ResourceDisk),
            "cache-disk" => Ok(Self::CacheDisk),
            _ => Err(CpiError::cloud(
                "root_disk 'placement' must be one of 'resource-disk','cache-disk','remote'",
            )),
        }
    }

    /// `storageProfile.osDisk.diffDiskSettings.placement`, for ephemeral OS disks only.
    pub(crate) fn diff_disk_placement(self) -> Option<&'static str> {
        match self {
            Self::Remote => None,
            Self::ResourceDisk => Some("ResourceDisk"),
            Self::CacheDisk => Some("CacheDisk"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EphemeralDisk {
    /// No ephemeral data disk: the OS disk is enlarged instead.
    pub use_root_disk: bool,
    /// At least 1024 when an ephemeral data disk is used; the default comes from the VM size.
    pub(crate) size_mib: Option<u64>,
    pub(crate) disk_type: Option<String>,
    /// Default `ReadWrite`.
    pub caching: Caching,
    pub iops: Option<u64>,
    pub mbps: Option<u64>,
    pub disk_encryption_set_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AvailabilitySet {
    /// Explicit name; when `None` the name comes from `env.bosh.group`.
    pub name: Option<String>,
    pub platform_update_domain_count: u64,
    pub platform_fault_domain_count: u64,
}

/// One backend pool of a load balancer or an application gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BackendPoolRef {
    pub name: String,
    /// The entry's `resource_group_name`, else the default resource group.
    pub resource_group_name: String,
    /// `None` means the first pool.
    pub backend_pool_name: Option<String>,
}

impl VmCloudProps {
    /// Decodes and validates in the Ruby CPI's order, so the first error reported matches.
    pub(crate) fn from_value(value: &Value, ctx: &PropsContext) -> CpiResult<Self> {
        let fields = Fields::new(value, OWNER)?;

        let instance_type = fields.string("instance_type")?;
        let instance_types = fields.string_list("instance_types")?.unwrap_or_default();
        if instance_type.is_none() && instance_types.is_empty() {
            return Err(CpiError::cloud(
                "You need to specify one of 'vm_type/instance_type' or 'vm_resources'.",
            ));
        }

        let root_disk = parse_root_disk(&fields, ctx)?;
        let ephemeral_disk = parse_ephemeral_disk(&fields)?;
        let caching = match fields.str("caching")? {
            Some(caching) => caching.parse()?,
            None => Caching::ReadWrite,
        };

        let availability_zone = parse_availability_zone(&fields, ctx)?;
        let availability_set = parse_availability_set(&fields, ctx)?;
        if availability_zone.is_some() && availability_set.name.is_some() {
            return Err(CpiError::cloud(
                "Only one of 'availability_zone' and 'availability_set' is allowed to be configured for the VM but you have configured both.",
            ));
        }

        let load_balancers =
            parse_backend_pools(&fields, "load_balancer", &ctx.default_resource_group_name)?;
        let application_gateways = parse_backend_pools(
            &fields,
            "application_gateway",
            &ctx.default_resource_group_name,
        )?;

        let managed_identity = match fields.get("managed_identity") {
            Some(value) => Some(ManagedIdentity::from_value(
                value,
                OWNER,
                "managed_identity",
            )?),
            None => ctx.default_managed_identity.clone(),
        };

        let resource_group_name = fields
            .string("resource_group_name")?
            .unwrap_or_else(|| ctx.default_resource_group_name.clone());
        let security_profile = parse_security_profile(&fields)?;
        let spot = parse_spot(&fields)?;
        if spot.is_some() && availability_set.name.is_some() {
            return Err(CpiError::cloud(
                "Only one of 'spot' and 'availability_set' is allowed to be configured for the VM: Azure does not put Spot VMs in availability sets (AzureSpotVMNotSupportedInAvailabilitySet).",
            ));
        }
        let proximity_placement_group =
            parse_proximity_placement_group(&fields, &resource_group_name)?;

        Ok(Self {
            instance_type,
            instance_types,
            root_disk,
            ephemeral_disk,
            caching,
            availability_zone,
            availability_set,
            load_balancers,
            application_gateways,
            managed_identity,
            security_group: SecurityGroup::from_field(&fields, "security_group")?,
            application_security_groups: fields.string_list("application_security_groups")?,
            assign_dynamic_public_ip: fields.bool("assign_dynamic_public_ip")?.unwrap_or(false),
            ip_forwarding: fields.bool("ip_forwarding")?,
            accelerated_networking: fields.bool("accelerated_networking")?,
            storage_account_name: fields.string("storage_account_name")?,
            storage_account_type: fields.string("storage_account_type")?,
            storage_account_kind: fields
                .string("storage_account_kind")?
                .unwrap_or_else(|| DEFAULT_STORAGE_ACCOUNT_KIND.to_string()),
            storage_account_max_disk_number: fields
                .u64("storage_account_max_disk_number")?
                .unwrap_or(DEFAULT_STORAGE_ACCOUNT_MAX_DISK_NUMBER),
            resource_group_name,
            tags: parse_tags(&fields)?,
            capacity_reservation_group: fields.string("capacity_reservation_group")?,
            capacity_reservation_group_id: fields.string("capacity_reservation_group_id")?,
            security_profile,
            spot,
            proximity_placement_group,
            encryption_at_host: fields.bool("encryption_at_host")?.unwrap_or(false),
            ultra_ssd_enabled: fields.bool("ultra_ssd_enabled")?.unwrap_or(false),
        })
    }
}

fn parse_root_disk(fields: &Fields, ctx: &PropsContext) -> CpiResult<RootDisk> {
    let root_disk = fields.object_or_empty("root_disk")?;
    let disk_type = root_disk.string("type")?;
    let placement = match root_disk.str("placement")? {
        Some(placement) => RootDiskPlacement::parse(placement)?,
        None => RootDiskPlacement::Remote,
    };
    if placement != RootDiskPlacement::Remote && disk_type.is_some() && !ctx.use_managed_disks {
        return Err(CpiError::cloud(
            "Only one of 'type' and 'placement' is allowed to be configured for the root_disk when 'placement' is not set to persistent",
        ));
    }
    Ok(RootDisk {
        size_mib: root_disk.u64("size")?,
        disk_type,
        placement,
        disk_encryption_set_name: root_disk.string("disk_encryption_set_name")?,
    })
}

fn parse_ephemeral_disk(fields: &Fields) -> CpiResult<EphemeralDisk> {
    let disk = fields.object_or_empty("ephemeral_disk")?;
    let use_root_disk = disk.bool("use_root_disk")?.unwrap_or(false);
    let size_mib = disk.u64("size")?;
    // Checked only when a data disk is made of it, as in the Ruby CPI.
    if !use_root_disk && size_mib.is_some_and(|size| size < MINIMUM_DISK_SIZE_MIB) {
        return Err(CpiError::cloud("Azure CPI minimum disk size is 1 GiB"));
    }
    let caching = match disk.str("caching")? {
        Some(caching) => caching.parse()?,
        None => Caching::ReadWrite,
    };
    Ok(EphemeralDisk {
        use_root_disk,
        size_mib,
        disk_type: disk.string("type")?,
        caching,
        iops: disk.u64("iops")?,
        mbps: disk.u64("mbps")?,
        disk_encryption_set_name: disk.string("disk_encryption_set_name")?,
    })
}

fn parse_availability_zone(fields: &Fields, ctx: &PropsContext) -> CpiResult<Option<String>> {
    let zone = match fields.get("availability_zone") {
        None => return Ok(None),
        Some(Value::String(zone)) => zone.clone(),
        Some(Value::Number(zone)) if zone.is_u64() || zone.is_i64() => zone.to_string(),
        Some(other) => {
            return Err(fields.type_error("availability_zone", "a string or an integer", other));
        }
    };
    if !ctx.use_managed_disks {
        return Err(CpiError::cloud(
            "Virtual Machines deployed to an Availability Zone must use managed disks",
        ));
    }
    if !AVAILABILITY_ZONES.contains(&zone.as_str()) {
        // Ruby prints the list with Array#inspect.
        return Err(CpiError::cloud(format!(
            "'{}' is not a valid zone. Available zones are: [\"1\", \"2\", \"3\"]",
            quote(&zone)
        )));
    }
    Ok(Some(zone))
}

fn parse_availability_set(fields: &Fields, ctx: &PropsContext) -> CpiResult<AvailabilitySet> {
    // In AzureStack an availability set has exactly one update and one fault domain; in Azure
    // the managed maximum is 2 fault domains in some regions, 3 for unmanaged.
    let default_update_domains = if ctx.is_azure_stack { 1 } else { 5 };
    let default_fault_domains = match (ctx.is_azure_stack, ctx.use_managed_disks) {
        (true, _) => 1,
        (false, true) => 2,
        (false, false) => 3,
    };
    // A hash carries its own counts; otherwise the top-level keys apply.
    let (name, counts) = match fields.get("availability_set") {
        Some(value @ Value::Object(_)) => {
            let set = Fields::at(value, OWNER, "availability_set")?;
            (set.string("name")?, set)
        }
        Some(Value::String(name)) => (Some(name.clone()), fields.clone()),
        None => (None, fields.clone()),
        Some(other) => {
            return Err(fields.type_error(
                "availability_set",
                "a string or an object {name, platform_update_domain_count, platform_fault_domain_count}",
                other,
            ));
        }
    };
    Ok(AvailabilitySet {
        name,
        platform_update_domain_count: counts
            .u64("platform_update_domain_count")?
            .unwrap_or(default_update_domains),
        platform_fault_domain_count: counts
            .u64("platform_fault_domain_count")?
            .unwrap_or(default_fault_domains),
    })
}

/// `load_balancer` / `application_gateway`: a name, comma-separated names, a hash
/// `{name, resource_group_name, backend_pool_name}` (whose name may also be comma-separated),
/// or an array of those.
fn parse_backend_pools(
    fields: &Fields,
    key: &str,
    default_resource_group_name: &str,
) -> CpiResult<Option<Vec<BackendPoolRef>>> {
    let shape_error = || {
        CpiError::cloud(format!(
            "Property '{key}' must be a String, Hash, or Array."
        ))
    };
    let entries: Vec<(String, &Value)> = match fields.get(key) {
        // Ruby's `return nil unless config` also skips `false`.
        None | Some(Value::Bool(false)) => return Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(index, item)| (format!("{key}[{index}]"), item))
            .collect(),
        Some(value @ (Value::String(_) | Value::Object(_))) => vec![(key.to_string(), value)],
        Some(_) => return Err(shape_error()),
    };
    let mut pools = Vec::new();
    for (path, entry) in entries {
        let (names, resource_group_name, backend_pool_name) = match entry {
            Value::String(names) => (names.clone(), None, None),
            Value::Object(_) => {
                let entry = Fields::at(entry, OWNER, &path)?;
                (
                    entry.string("name")?.unwrap_or_default(),
                    entry.string("resource_group_name")?,
                    entry.string("backend_pool_name")?,
                )
            }
            _ => return Err(shape_error()),
        };
        for name in split_names(&names) {
            if name.is_empty() {
                return Err(CpiError::cloud(format!(
                    "Invalid {OWNER}: '{path}' has an empty name in its comma-separated list"
                )));
            }
            pools.push(BackendPoolRef {
                name: name.to_string(),
                resource_group_name: resource_group_name
                    .clone()
                    .unwrap_or_else(|| default_resource_group_name.to_string()),
                backend_pool_name: backend_pool_name.clone(),
            });
        }
    }
    Ok(Some(pools))
}

/// Comma-separated names, trimmed. Trailing empty names are dropped like Ruby's String#split
/// does ("a,b," is two names, "" is none); an empty name inside the list is kept for the caller
/// to reject.
fn split_names(names: &str) -> Vec<&str> {
    let mut split: Vec<&str> = names.split(',').map(str::trim).collect();
    while split.last() == Some(&"") {
        split.pop();
    }
    split
}

fn parse_tags(fields: &Fields) -> CpiResult<BTreeMap<String, String>> {
    let Some(value) = fields.get("tags") else {
        return Ok(BTreeMap::new());
    };
    let expected = "an object of strings";
    let Value::Object(map) = value else {
        return Err(fields.type_error("tags", expected, value));
    };
    map.iter()
        .map(|(key, value)| {
            let value = match value {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(type_error(
                        OWNER,
                        &format!("tags.{}", quote(key)),
                        "a string",
                        other,
                    ));
                }
            };
            Ok((key.clone(), value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx() -> PropsContext {
        PropsContext::for_tests()
    }

    fn unmanaged() -> PropsContext {
        PropsContext {
            use_managed_disks: false,
            ..ctx()
        }
    }

    fn parse(value: Value) -> CpiResult<VmCloudProps> {
        VmCloudProps::from_value(&value, &ctx())
    }

    fn error(value: Value, ctx: &PropsContext) -> String {
        VmCloudProps::from_value(&value, ctx)
            .unwrap_err()
            .message()
            .to_string()
    }

    fn pool(name: &str, rg: &str, backend_pool_name: Option<&str>) -> BackendPoolRef {
        BackendPoolRef {
            name: name.into(),
            resource_group_name: rg.into(),
            backend_pool_name: backend_pool_name.map(Into::into),
        }
    }

    #[test]
    fn minimal_props_get_the_ruby_defaults() {
        let props = parse(json!({"instance_type": "Standard_D1", "unknown_key": [1, 2]})).unwrap();
        assert_eq!(
            props,
            VmCloudProps {
                instance_type: Some("Standard_D1".into()),
                instance_types: vec![],
                root_disk: RootDisk {
                    size_mib: None,
                    disk_type: None,
                    placement: RootDiskPlacement::Remote,
                    disk_encryption_set_name: None,
                },
                ephemeral_disk: EphemeralDisk {
                    use_root_disk: false,
                    size_mib: None,
                    disk_type: None,
                    caching: Caching::ReadWrite,
                    iops: None,
                    mbps: None,
                    disk_encryption_set_name: None,
                },
                caching: Caching::ReadWrite,
                availability_zone: None,
                availability_set: AvailabilitySet {
                    name: None,
                    platform_update_domain_count: 5,
                    platform_fault_domain_count: 2,
                },
                load_balancers: None,
                application_gateways: None,
                managed_identity: None,
                security_group: None,
                application_security_groups: None,
                assign_dynamic_public_ip: false,
                ip_forwarding: None,
                accelerated_networking: None,
                storage_account_name: None,
                storage_account_type: None,
                storage_account_kind: "Storage".into(),
                storage_account_max_disk_number: 30,
                resource_group_name: "default-rg".into(),
                tags: BTreeMap::new(),
                capacity_reservation_group: None,
                capacity_reservation_group_id: None,
                security_profile: None,
                spot: None,
                proximity_placement_group: None,
                encryption_at_host: false,
                ultra_ssd_enabled: false,
            }
        );
        assert_eq!(props.instance_type.as_deref(), Some("Standard_D1"));
    }

    #[test]
    fn every_key_is_read() {
        let props = parse(json!({
            "instance_types": ["Standard_D2_v3", "Standard_F2s_v2"],
            "root_disk": {"size": 51200, "type": "Premium_LRS", "placement": "resource-disk", "disk_encryption_set_name": "des-root"},
            "ephemeral_disk": {"use_root_disk": false, "size": 30720, "type": "PremiumV2_LRS", "caching": "None", "iops": 3000, "mbps": 125, "disk_encryption_set_name": "des-eph"},
            "caching": "ReadOnly",
            "availability_zone": 2,
            "load_balancer": "lb",
            "application_gateway": {"name": "agw", "backend_pool_name": "pool"},
            "managed_identity": {"type": "UserAssigned", "user_assigned_identity_name": "uai"},
            "security_group": {"name": "nsg", "resource_group_name": "nsg-rg"},
            "application_security_groups": ["asg1", "asg2"],
            "assign_dynamic_public_ip": true,
            "ip_forwarding": true,
            "accelerated_networking": false,
            "storage_account_name": "*keyword*",
            "storage_account_type": "Standard_LRS",
            "storage_account_kind": "StorageV2",
            "storage_account_max_disk_number": 10,
            "resource_group_name": "vm-rg",
            "tags": {"team": "cf", "cost": 12, "prod": false},
            "capacity_reservation_group": "crg",
            "capacity_reservation_group_id": "/subscriptions/969EC6E3-7F6B-4CC6-99D1-4F3913CBB6E8/resourceGroups/fake-rg-name/providers/Microsoft.Compute/capacityReservationGroups/fake-crg-name"
        }))
        .unwrap();
        assert_eq!(props.instance_type, None);
        assert_eq!(
            props.instance_types,
            vec!["Standard_D2_v3", "Standard_F2s_v2"]
        );
        assert_eq!(
            props.root_disk,
            RootDisk {
                size_mib: Some(51200),
                disk_type: Some("Premium_LRS".into()),
                placement: RootDiskPlacement::ResourceDisk,
                disk_encryption_set_name: Some("des-root".into()),
            }
        );
        assert_eq!(
            props.root_disk.placement.diff_disk_placement(),
            Some("ResourceDisk")
        );
        assert_eq!(
            props.ephemeral_disk,
            EphemeralDisk {
                use_root_disk: false,
                size_mib: Some(30720),
                disk_type: Some("PremiumV2_LRS".into()),
                caching: Caching::None,
                iops: Some(3000),
                mbps: Some(125),
                disk_encryption_set_name: Some("des-eph".into()),
            }
        );
        assert_eq!(props.caching, Caching::ReadOnly);
        assert_eq!(props.availability_zone.as_deref(), Some("2"));
        assert_eq!(
            props.load_balancers,
            Some(vec![pool("lb", "default-rg", None)])
        );
        assert_eq!(
            props.application_gateways,
            Some(vec![pool("agw", "default-rg", Some("pool"))])
        );
        assert_eq!(
            props.managed_identity,
            Some(ManagedIdentity::UserAssigned { name: "uai".into() })
        );
        assert_eq!(
            props.security_group,
            Some(SecurityGroup {
                name: "nsg".into(),
                resource_group_name: Some("nsg-rg".into())
            })
        );
        assert_eq!(
            props.application_security_groups,
            Some(vec!["asg1".to_string(), "asg2".to_string()])
        );
        assert!(props.assign_dynamic_public_ip);
        assert_eq!(props.ip_forwarding, Some(true));
        assert_eq!(props.accelerated_networking, Some(false));
        assert_eq!(props.storage_account_name.as_deref(), Some("*keyword*"));
        assert_eq!(props.storage_account_type.as_deref(), Some("Standard_LRS"));
        assert_eq!(props.storage_account_kind, "StorageV2");
        assert_eq!(props.storage_account_max_disk_number, 10);
        assert_eq!(props.resource_group_name, "vm-rg");
        assert_eq!(
            props.tags,
            BTreeMap::from([
                ("cost".to_string(), "12".to_string()),
                ("prod".to_string(), "false".to_string()),
                ("team".to_string(), "cf".to_string()),
            ])
        );
        assert_eq!(props.capacity_reservation_group.as_deref(), Some("crg"));
        assert!(
            props
                .capacity_reservation_group_id
                .unwrap()
                .ends_with("/capacityReservationGroups/fake-crg-name")
        );
    }

    #[test]
    fn an_instance_type_or_instance_types_is_required() {
        let message = "You need to specify one of 'vm_type/instance_type' or 'vm_resources'.";
        assert_eq!(error(json!({}), &ctx()), message);
        assert_eq!(error(json!({"instance_types": []}), &ctx()), message);
        assert_eq!(error(Value::Null, &ctx()), message);
        assert_eq!(
            error(json!("Standard_D1"), &ctx()),
            "Invalid vm cloud_properties: must be an object, got a string"
        );
        assert_eq!(
            error(json!({"instance_type": 1}), &ctx()),
            "Invalid vm cloud_properties: 'instance_type' must be a string, got an integer"
        );
    }

    #[test]
    fn availability_set_hash_carries_its_own_counts() {
        let props = parse(json!({
            "instance_type": "Standard_D1",
            "availability_set": {"name": "fake_av_set_name", "platform_update_domain_count": 5, "platform_fault_domain_count": 1},
            "platform_update_domain_count": 4,
            "platform_fault_domain_count": 1
        }))
        .unwrap();
        assert_eq!(
            props.availability_set,
            AvailabilitySet {
                name: Some("fake_av_set_name".into()),
                platform_update_domain_count: 5,
                platform_fault_domain_count: 1,
            }
        );
        // A hash without counts takes the defaults, not the top-level keys.
        let props = parse(json!({
            "instance_type": "t",
            "availability_set": {"name": "as"},
            "platform_update_domain_count": 4
        }))
        .unwrap();
        assert_eq!(props.availability_set.platform_update_domain_count, 5);
    }

    #[test]
    fn availability_set_string_uses_the_top_level_counts_and_context_defaults() {
        let props = parse(json!({
            "instance_type": "t",
            "availability_set": "as",
            "platform_update_domain_count": 4,
        }))
        .unwrap();
        assert_eq!(
            props.availability_set,
            AvailabilitySet {
                name: Some("as".into()),
                platform_update_domain_count: 4,
                platform_fault_domain_count: 2,
            }
        );
        let unmanaged =
            VmCloudProps::from_value(&json!({"instance_type": "t"}), &unmanaged()).unwrap();
        assert_eq!(unmanaged.availability_set.platform_update_domain_count, 5);
        assert_eq!(unmanaged.availability_set.platform_fault_domain_count, 3);
        let stack = PropsContext {
            is_azure_stack: true,
            ..ctx()
        };
        let stack = VmCloudProps::from_value(&json!({"instance_type": "t"}), &stack).unwrap();
        assert_eq!(stack.availability_set.platform_update_domain_count, 1);
        assert_eq!(stack.availability_set.platform_fault_domain_count, 1);
        assert_eq!(
            error(json!({"instance_type": "t", "availability_set": 3}), &ctx()),
            "Invalid vm cloud_properties: 'availability_set' must be a string or an object {name, platform_update_domain_count, platform_fault_domain_count}, got an integer"
        );
    }

    #[test]
    fn availability_zone_rules() {
        for zone in [json!("1"), json!(3)] {
            let props = parse(json!({"instance_type": "t", "availability_zone": zone})).unwrap();
            assert!(props.availability_zone.is_some());
        }
        assert_eq!(
            error(
                json!({"availability_zone": "fake-az", "instance_type": "fake-vm-size"}),
                &unmanaged()
            ),
            "Virtual Machines deployed to an Availability Zone must use managed disks"
        );
        assert_eq!(
            error(
                json!({"availability_zone": "invalid-zone", "instance_type": "c"}),
                &ctx()
            ),
            "'invalid-zone' is not a valid zone. Available zones are: [\"1\", \"2\", \"3\"]"
        );
        assert_eq!(
            error(
                json!({"availability_zone": 4, "instance_type": "c"}),
                &ctx()
            ),
            "'4' is not a valid zone. Available zones are: [\"1\", \"2\", \"3\"]"
        );
        assert_eq!(
            error(
                json!({"availability_zone": "1", "availability_set": "b", "instance_type": "c"}),
                &ctx()
            ),
            "Only one of 'availability_zone' and 'availability_set' is allowed to be configured for the VM but you have configured both."
        );
        assert_eq!(
            error(
                json!({"availability_zone": true, "instance_type": "c"}),
                &ctx()
            ),
            "Invalid vm cloud_properties: 'availability_zone' must be a string or an integer, got a boolean"
        );
    }

    #[test]
    fn load_balancer_shapes() {
        let lbs = |value: Value| {
            parse(json!({"instance_type": "Standard_D1", "load_balancer": value}))
                .unwrap()
                .load_balancers
        };
        assert_eq!(
            lbs(json!("fake_lb_name")),
            Some(vec![pool("fake_lb_name", "default-rg", None)])
        );
        assert_eq!(
            lbs(json!("fake_lb_name,b,c")),
            Some(vec![
                pool("fake_lb_name", "default-rg", None),
                pool("b", "default-rg", None),
                pool("c", "default-rg", None),
            ])
        );
        assert_eq!(
            lbs(json!({"name": "fake_lb_name", "resource_group_name": "fake_resource_group"})),
            Some(vec![pool("fake_lb_name", "fake_resource_group", None)])
        );
        assert_eq!(
            lbs(json!({"name": "fake_lb_name"})),
            Some(vec![pool("fake_lb_name", "default-rg", None)])
        );
        assert_eq!(
            lbs(json!({"name": "fake_lb_name,b,c", "resource_group_name": "fake_resource_group"})),
            Some(vec![
                pool("fake_lb_name", "fake_resource_group", None),
                pool("b", "fake_resource_group", None),
                pool("c", "fake_resource_group", None),
            ])
        );
        assert_eq!(
            lbs(json!([
                "fake_lb1_name",
                {"name": "fake_lb2_name"},
                "fake_lb3_name,fake_lb4_name",
                {"name": "fake_lb5_name,fake_lb6_name", "resource_group_name": "fake_resource_group", "backend_pool_name": "pool"}
            ])),
            Some(vec![
                pool("fake_lb1_name", "default-rg", None),
                pool("fake_lb2_name", "default-rg", None),
                pool("fake_lb3_name", "default-rg", None),
                pool("fake_lb4_name", "default-rg", None),
                pool("fake_lb5_name", "fake_resource_group", Some("pool")),
                pool("fake_lb6_name", "fake_resource_group", Some("pool")),
            ])
        );
        // Ruby's split: trailing commas and an empty string give no extra names.
        assert_eq!(
            lbs(json!("a, b,")),
            Some(vec![
                pool("a", "default-rg", None),
                pool("b", "default-rg", None)
            ])
        );
        assert_eq!(lbs(json!("")), Some(vec![]));
        assert_eq!(lbs(json!([])), Some(vec![]));
        assert_eq!(lbs(json!(false)), None);
    }

    #[test]
    fn load_balancer_and_application_gateway_errors() {
        for key in ["load_balancer", "application_gateway"] {
            for bad in [json!(123), json!(true), json!([1])] {
                assert_eq!(
                    error(json!({"instance_type": "t", key: bad}), &ctx()),
                    format!("Property '{key}' must be a String, Hash, or Array.")
                );
            }
            assert_eq!(
                error(json!({"instance_type": "t", key: "a,,b"}), &ctx()),
                format!(
                    "Invalid vm cloud_properties: '{key}' has an empty name in its comma-separated list"
                )
            );
            assert_eq!(
                error(
                    json!({"instance_type": "t", key: [{"name": "a", "resource_group_name": 1}]}),
                    &ctx()
                ),
                format!(
                    "Invalid vm cloud_properties: '{key}[0].resource_group_name' must be a string, got an integer"
                )
            );
        }
    }

    #[test]
    fn application_gateway_shapes() {
        let agws = |value: Value| {
            parse(json!({"instance_type": "Standard_D1", "application_gateway": value}))
                .unwrap()
                .application_gateways
        };
        assert_eq!(
            parse(json!({"instance_type": "t"}))
                .unwrap()
                .application_gateways,
            None
        );
        assert_eq!(
            agws(json!("fake_agw_name")),
            Some(vec![pool("fake_agw_name", "default-rg", None)])
        );
        assert_eq!(
            agws(json!({"name": "fake_agw_name", "resource_group_name": "fake_resource_group"})),
            Some(vec![pool("fake_agw_name", "fake_resource_group", None)])
        );
        assert_eq!(
            agws(json!([
                "fake_agw1_name",
                {"name": "fake_agw2_name"},
                "fake_agw3_name,fake_agw4_name",
                {"name": "fake_agw5_name,fake_agw6_name", "resource_group_name": "fake_resource_group"}
            ]))
            .unwrap()
            .iter()
            .map(|p| (p.name.as_str(), p.resource_group_name.as_str()))
            .collect::<Vec<_>>(),
            vec![
                ("fake_agw1_name", "default-rg"),
                ("fake_agw2_name", "default-rg"),
                ("fake_agw3_name", "default-rg"),
                ("fake_agw4_name", "default-rg"),
                ("fake_agw5_name", "fake_resource_group"),
                ("fake_agw6_name", "fake_resource_group"),
            ]
        );
    }

    #[test]
    fn root_disk_rules() {
        assert_eq!(
            error(
                json!({"instance_type": "Standard_D1", "root_disk": {"type": "Premium_ZRS", "placement": "resource-disk"}}),
                &unmanaged()
            ),
            "Only one of 'type' and 'placement' is allowed to be configured for the root_disk when 'placement' is not set to persistent"
        );
        // Managed disks allow both.
        assert!(
            parse(json!({"instance_type": "t", "root_disk": {"type": "Premium_ZRS", "placement": "cache-disk"}}))
                .is_ok()
        );
        assert_eq!(
            error(
                json!({"instance_type": "Standard_D1", "root_disk": {"placement": "local-persistent"}}),
                &unmanaged()
            ),
            "root_disk 'placement' must be one of 'resource-disk','cache-disk','remote'"
        );
        let props =
            parse(json!({"instance_type": "t", "root_disk": {"placement": "cache-disk"}})).unwrap();
        assert_eq!(props.root_disk.size_mib, None);
        assert_eq!(props.root_disk.disk_type, None);
        assert_eq!(props.root_disk.placement, RootDiskPlacement::CacheDisk);
        assert_eq!(
            props.root_disk.placement.diff_disk_placement(),
            Some("CacheDisk")
        );
        assert_eq!(RootDiskPlacement::Remote.diff_disk_placement(), None);
        let props = parse(
            json!({"instance_type": "t", "root_disk": {"disk_encryption_set_name": "set_name"}}),
        )
        .unwrap();
        assert_eq!(
            props.root_disk.disk_encryption_set_name.as_deref(),
            Some("set_name")
        );
        assert_eq!(
            error(
                json!({"instance_type": "t", "root_disk": {"size": "30GB"}}),
                &ctx()
            ),
            "Invalid vm cloud_properties: 'root_disk.size' must be a non-negative integer, got a string"
        );
        assert_eq!(
            error(json!({"instance_type": "t", "root_disk": "big"}), &ctx()),
            "Invalid vm cloud_properties: 'root_disk' must be an object, got a string"
        );
    }

    #[test]
    fn ephemeral_disk_rules() {
        let props = parse(json!({"instance_type": "t", "ephemeral_disk": {"disk_encryption_set_name": "set_name"}}))
            .unwrap();
        assert_eq!(
            props.ephemeral_disk.disk_encryption_set_name.as_deref(),
            Some("set_name")
        );
        assert_eq!(
            error(
                json!({"instance_type": "t", "ephemeral_disk": {"size": 1023}}),
                &ctx()
            ),
            "Azure CPI minimum disk size is 1 GiB"
        );
        // With use_root_disk the size only enlarges the OS disk, so small sizes are fine.
        let props = parse(
            json!({"instance_type": "t", "ephemeral_disk": {"use_root_disk": true, "size": 512}}),
        )
        .unwrap();
        assert!(props.ephemeral_disk.use_root_disk);
        assert_eq!(props.ephemeral_disk.size_mib, Some(512));
        assert_eq!(
            error(
                json!({"instance_type": "t", "ephemeral_disk": {"caching": "Write"}}),
                &ctx()
            ),
            "Unknown disk caching Write"
        );
        assert_eq!(
            error(
                json!({"instance_type": "t", "ephemeral_disk": {"use_root_disk": "yes"}}),
                &ctx()
            ),
            "Invalid vm cloud_properties: 'ephemeral_disk.use_root_disk' must be a boolean, got a string"
        );
    }

    #[test]
    fn os_disk_caching_is_validated() {
        assert_eq!(
            error(
                json!({"instance_type": "t", "caching": "readwrite"}),
                &ctx()
            ),
            "Unknown disk caching readwrite"
        );
    }

    #[test]
    fn managed_identity_falls_back_to_the_global_default() {
        assert_eq!(
            parse(json!({"instance_type": "t"}))
                .unwrap()
                .managed_identity,
            None
        );
        assert_eq!(
            parse(json!({"instance_type": "t", "managed_identity": {"type": "SystemAssigned"}}))
                .unwrap()
                .managed_identity,
            Some(ManagedIdentity::SystemAssigned)
        );
        let with_default = PropsContext {
            default_managed_identity: Some(ManagedIdentity::SystemAssigned),
            ..ctx()
        };
        let props =
            VmCloudProps::from_value(&json!({"instance_type": "t"}), &with_default).unwrap();
        assert_eq!(
            props.managed_identity,
            Some(ManagedIdentity::SystemAssigned)
        );
        let props = VmCloudProps::from_value(
            &json!({"instance_type": "t", "managed_identity": {"type": "UserAssigned", "user_assigned_identity_name": "fake-identity-name"}}),
            &with_default,
        )
        .unwrap();
        assert_eq!(
            props.managed_identity,
            Some(ManagedIdentity::UserAssigned {
                name: "fake-identity-name".into()
            })
        );
    }

    #[test]
    fn security_group_shapes_and_type_errors() {
        let props = parse(json!({"instance_type": "t", "security_group": "nsg"})).unwrap();
        assert_eq!(
            props.security_group,
            Some(SecurityGroup {
                name: "nsg".into(),
                resource_group_name: None
            })
        );
        assert_eq!(
            error(
                json!({"instance_type": "t", "application_security_groups": "asg"}),
                &ctx()
            ),
            "Invalid vm cloud_properties: 'application_security_groups' must be an array of strings, got a string"
        );
        assert_eq!(
            error(
                json!({"instance_type": "t", "tags": {"a": {"b": 1}}}),
                &ctx()
            ),
            "Invalid vm cloud_properties: 'tags.a' must be a string, got an object"
        );
        assert_eq!(
            error(
                json!({"instance_type": "t", "ip_forwarding": "true"}),
                &ctx()
            ),
            "Invalid vm cloud_properties: 'ip_forwarding' must be a boolean, got a string"
        );
    }

    #[test]
    fn errors_come_in_the_ruby_order() {
        // Both the placement and the zone are wrong: Ruby reports the root disk first.
        assert_eq!(
            error(
                json!({"instance_type": "t", "root_disk": {"placement": "x"}, "availability_zone": "9"}),
                &ctx()
            ),
            "root_disk 'placement' must be one of 'resource-disk','cache-disk','remote'"
        );
        assert_eq!(
            error(
                json!({"availability_zone": "9", "load_balancer": 1, "instance_type": "t"}),
                &ctx()
            ),
            "'9' is not a valid zone. Available zones are: [\"1\", \"2\", \"3\"]"
        );
    }

    #[test]
    fn any_json_is_decoded_or_refused_without_panicking() {
        let samples = [
            json!(null),
            json!([]),
            json!({"instance_type": "t", "load_balancer": [null, {}]}),
            json!({"instance_type": "t", "availability_set": {}}),
            json!({"instance_type": "t", "root_disk": null, "ephemeral_disk": null}),
            json!({"instance_type": "t", "availability_zone": -1}),
            json!({"instance_type": "t", "availability_zone": 1.5}),
            json!({"instance_type": "t", "storage_account_max_disk_number": -3}),
        ];
        for sample in samples {
            if let Err(err) = VmCloudProps::from_value(&sample, &ctx()) {
                assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
                assert!(!err.message().is_empty());
            }
        }
        // `{}` in an array has no name: no pool, like Ruby's String(nil).split(',').
        let props = parse(json!({"instance_type": "t", "load_balancer": [{}]})).unwrap();
        assert_eq!(props.load_balancers, Some(vec![]));
    }
}
