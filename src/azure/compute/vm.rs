//! Virtual machines (`Microsoft.Compute/virtualMachines`, ComputeRP 2024-07-01): the GET model,
//! the create PUT body, and the PATCH bodies of attach_disk, detach_disk and set_vm_metadata.
//!
//! Differences from the Ruby CPI, wire formats (names, tags, hints) unchanged:
//! - `disablePasswordAuthentication` is the boolean `true`, not the string `"true"`; the PUT
//!   carries no read-only `name`/`type`.
//! - attach/detach/tags are `PATCH` bodies (`VirtualMachineUpdate`) holding only writable
//!   fields, computed from the GET model, instead of a read-modify-write PUT echoing read-only
//!   fields. The GET's `etag` ([`VirtualMachine::etag`]) lets the caller send `If-Match`, so two
//!   concurrent attaches to one VM cannot both pick the same LUN.
//! - Light stemcells carry `plan` only when the platform image has one
//!   ([`super::image::VirtualMachineImage`]); Ruby always sent it.
//! - Security: at 2024-07-01 a VM without `securityProfile` is a Standard VM, and the spec's
//!   `securityType` enum has no `Standard` (sending it needs a subscription feature flag), so
//!   [`VmSecurity::Standard`] sends no profile and [`VmSecurity::TrustedLaunch`] sends
//!   `securityType` with explicit UEFI settings. An api-version ≥ 2025-11-01 defaults Gen2 VMs
//!   to Trusted Launch: moving there requires sending `Standard` explicitly.
//! - Only managed disks: Azure retired unmanaged (VHD-in-storage-account) VM disks in
//!   September 2025, so no unmanaged VM body is built here.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::image::{PlatformImageReference, PurchasePlan, StemcellInfo};
use super::sku::DiskInfo;
use super::{Caching, Tags, bosh_tags, null_as_default, stringify_metadata};
use crate::error::{CpiError, CpiResult};

/// Prefix of the VM tag recording a data disk's CID: `disk-id-<disk name>`.
pub(crate) const DISK_ID_TAG_PREFIX: &str = "disk-id";
/// Suffix of the ephemeral data disk's name.
pub(crate) const EPHEMERAL_DISK_SUFFIX: &str = "ephemeral-disk";
/// The SCSI host the agent finds data disks on (the v2 disk hint).
pub(crate) const HOST_DEVICE_ID: &str = "{f8b3781b-1e82-4818-a1c3-63d806ec15bb}";
/// Minimum OS disk size when the OS disk also holds the ephemeral data.
const MIN_OS_DISK_GIB_LINUX: u32 = 30;
const MIN_OS_DISK_GIB_WINDOWS: u32 = 128;
/// Windows computer names are at most 15 characters.
const WINDOWS_COMPUTER_NAME_LENGTH: usize = 15;

/// `disk-id-<disk name>`.
pub(crate) fn disk_id_tag(disk_name: &str) -> String {
    format!("{DISK_ID_TAG_PREFIX}-{disk_name}")
}

/// ARM id of a user-assigned identity; Ruby requires it in the VM's resource group.
pub(crate) fn user_assigned_identity_id(
    subscription_id: &str,
    vm_resource_group: &str,
    name: &str,
) -> String {
    super::resource_id(
        subscription_id,
        vm_resource_group,
        "Microsoft.ManagedIdentity",
        "userAssignedIdentities",
        name,
    )
}

/// ARM id of a capacity reservation group named in `capacity_reservation_group` (in the VM's
/// resource group); `capacity_reservation_group_id` is used as given instead.
pub(crate) fn capacity_reservation_group_id(
    subscription_id: &str,
    vm_resource_group: &str,
    name: &str,
) -> String {
    super::compute_id(
        subscription_id,
        vm_resource_group,
        "capacityReservationGroups",
        name,
    )
}

/// `vm`'s tags at creation: `{"user-agent":"bosh"}` ∪ `env.bosh.tags` ∪ the vm_type's `tags`,
/// later ones winning.
pub(crate) fn vm_tags(env_bosh_tags: &Tags, vm_type_tags: &Tags) -> Tags {
    let mut tags = bosh_tags();
    tags.extend(env_bosh_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags.extend(vm_type_tags.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags
}

// ---------------------------------------------------------------------------------------------
// GET model
// ---------------------------------------------------------------------------------------------

/// A virtual machine as returned by GET (the fields the CPI uses).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct VirtualMachine {
    pub id: String,
    pub name: String,
    pub location: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Tags,
    #[serde(default, deserialize_with = "null_as_default")]
    pub zones: Vec<String>,
    #[serde(default)]
    pub identity: Option<VmIdentityModel>,
    /// Send as `If-Match` with a PATCH computed from this model.
    #[serde(default)]
    pub(crate) etag: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: VmProperties,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VmIdentityModel {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub(crate) principal_id: Option<String>,
    /// Keys are the identities' ARM ids.
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) user_assigned_identities: Map<String, Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VmProperties {
    #[serde(default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) hardware_profile: HardwareProfile,
    #[serde(default)]
    pub availability_set: Option<IdRef>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) storage_profile: StorageProfileModel,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) network_profile: NetworkProfileModel,
    #[serde(default)]
    pub(crate) diagnostics_profile: Option<Value>,
    #[serde(default)]
    pub(crate) additional_capabilities: Option<AdditionalCapabilitiesModel>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AdditionalCapabilitiesModel {
    #[serde(rename = "ultraSSDEnabled", default)]
    pub ultra_ssd_enabled: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HardwareProfile {
    #[serde(default)]
    pub vm_size: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct IdRef {
    pub id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct StorageProfileModel {
    #[serde(default)]
    pub(crate) os_disk: Option<OsDiskModel>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub data_disks: Vec<DataDiskModel>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OsDiskModel {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub caching: Option<String>,
    #[serde(rename = "diskSizeGB", default)]
    pub(crate) disk_size_gb: Option<u32>,
    #[serde(default)]
    pub(crate) managed_disk: Option<ManagedDiskRef>,
    #[serde(default)]
    pub(crate) diff_disk_settings: Option<Value>,
}

/// A data disk entry, with the writable fields a PATCH must echo back.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DataDiskModel {
    pub lun: u32,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub caching: Option<String>,
    #[serde(default)]
    pub(crate) create_option: Option<String>,
    #[serde(rename = "diskSizeGB", default)]
    pub(crate) disk_size_gb: Option<u32>,
    #[serde(default)]
    pub(crate) managed_disk: Option<ManagedDiskRef>,
    #[serde(default)]
    pub vhd: Option<VhdRef>,
    #[serde(default)]
    pub(crate) write_accelerator_enabled: Option<bool>,
    #[serde(default)]
    pub(crate) delete_option: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManagedDiskRef {
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub storage_account_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct VhdRef {
    pub uri: String,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NetworkProfileModel {
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) network_interfaces: Vec<IdRef>,
}

impl crate::azure::arm::Etagged for VirtualMachine {
    fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }
}

impl VirtualMachine {
    pub(crate) fn vm_size(&self) -> Option<&str> {
        self.properties.hardware_profile.vm_size.as_deref()
    }

    pub(crate) fn zone(&self) -> Option<&str> {
        self.zones.first().map(String::as_str)
    }

    pub(crate) fn provisioning_state(&self) -> Option<&str> {
        self.properties.provisioning_state.as_deref()
    }

    /// has_vm answers false for a VM being deleted.
    pub(crate) fn is_deleting(&self) -> bool {
        self.provisioning_state() == Some("Deleting")
    }

    /// `additionalCapabilities.ultraSSDEnabled`: only then can Ultra disks be attached.
    pub(crate) fn ultra_ssd_enabled(&self) -> bool {
        self.properties
            .additional_capabilities
            .as_ref()
            .and_then(|c| c.ultra_ssd_enabled)
            .unwrap_or(false)
    }

    pub(crate) fn availability_set_id(&self) -> Option<&str> {
        self.properties
            .availability_set
            .as_ref()
            .map(|a| a.id.as_str())
    }

    /// The availability set's name: the last segment of its id.
    pub(crate) fn availability_set_name(&self) -> Option<&str> {
        self.availability_set_id()?.rsplit('/').next()
    }

    pub(crate) fn network_interface_ids(&self) -> impl Iterator<Item = &str> {
        self.properties
            .network_profile
            .network_interfaces
            .iter()
            .map(|n| n.id.as_str())
    }

    pub(crate) fn data_disks(&self) -> &[DataDiskModel] {
        &self.properties.storage_profile.data_disks
    }

    pub(crate) fn data_disk(&self, disk_name: &str) -> Option<&DataDiskModel> {
        self.data_disks()
            .iter()
            .find(|d| d.name.as_deref() == Some(disk_name))
    }

    /// get_disks: the CIDs of the attached persistent disks, from the `disk-id-<name>` tags,
    /// falling back to the disk name; the ephemeral disk is left out.
    pub(crate) fn bosh_disk_ids(&self) -> Vec<String> {
        self.data_disks()
            .iter()
            .filter(|d| !d.is_ephemeral())
            .filter_map(|d| d.name.as_deref())
            .map(|name| {
                self.tags
                    .get(&disk_id_tag(name))
                    .cloned()
                    .unwrap_or_else(|| name.to_string())
            })
            .collect()
    }
}

impl DataDiskModel {
    pub(crate) fn is_ephemeral(&self) -> bool {
        self.name
            .as_deref()
            .is_some_and(|n| n.ends_with(EPHEMERAL_DISK_SUFFIX))
    }

    /// The entry as a PATCH must resend it: writable fields only.
    fn to_update(&self) -> Value {
        let mut disk = Map::new();
        disk.insert("lun".into(), json!(self.lun));
        if let Some(name) = &self.name {
            disk.insert("name".into(), json!(name));
        }
        disk.insert(
            "createOption".into(),
            json!(self.create_option.as_deref().unwrap_or("Attach")),
        );
        if let Some(caching) = &self.caching {
            disk.insert("caching".into(), json!(caching));
        }
        if let Some(size) = self.disk_size_gb {
            disk.insert("diskSizeGB".into(), json!(size));
        }
        if let Some(managed) = &self.managed_disk {
            let mut reference = Map::new();
            if let Some(id) = &managed.id {
                reference.insert("id".into(), json!(id));
            }
            if let Some(sku) = &managed.storage_account_type {
                reference.insert("storageAccountType".into(), json!(sku));
            }
            disk.insert("managedDisk".into(), Value::Object(reference));
        }
        if let Some(vhd) = &self.vhd {
            disk.insert("vhd".into(), json!({ "uri": vhd.uri }));
        }
        if let Some(enabled) = self.write_accelerator_enabled {
            disk.insert("writeAcceleratorEnabled".into(), json!(enabled));
        }
        if let Some(option) = &self.delete_option {
            disk.insert("deleteOption".into(), json!(option));
        }
        Value::Object(disk)
    }
}

// ---------------------------------------------------------------------------------------------
// Disk PATCHes: attach, detach; tag PATCH: set_vm_metadata
// ---------------------------------------------------------------------------------------------

/// The v2 attach_disk answer: `{"lun":"<n>","host_device_id":"{f8b3781b-…}"}` (`lun` a string).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub(crate) struct DiskHints {
    pub lun: String,
    pub host_device_id: String,
}

impl DiskHints {
    pub(crate) fn new(lun: u32) -> Self {
        Self {
            lun: lun.to_string(),
            host_device_id: HOST_DEVICE_ID.to_string(),
        }
    }
}

/// The disk attach_disk adds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttachDisk {
    pub name: String,
    pub caching: Caching,
    /// The BOSH disk CID, recorded in the VM tag `disk-id-<name>` for get_disks.
    pub disk_cid: String,
    /// ARM id of the managed disk.
    pub(crate) managed_disk_id: String,
}

/// An attach PATCH and the LUN it uses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct AttachPlan {
    pub lun: u32,
    /// The disk was already attached (a Director retry): the PATCH only re-asserts the tag.
    pub(crate) already_attached: bool,
    pub body: Value,
}

/// attach_disk: the lowest free LUN below the size's max data disks (the ephemeral disk holds
/// LUN 0 whenever the VM has one), the full `dataDisks` list plus the new disk, and the tags
/// with `disk-id-<name>: <cid>`. `max_data_disks` comes from [`super::sku::max_data_disks`].
pub(crate) fn attach_disk_patch(
    vm: &VirtualMachine,
    disk: &AttachDisk,
    max_data_disks: u32,
) -> CpiResult<AttachPlan> {
    let mut tags = vm.tags.clone();
    tags.insert(disk_id_tag(&disk.name), disk.disk_cid.clone());
    let mut data_disks: Vec<Value> = vm
        .data_disks()
        .iter()
        .map(DataDiskModel::to_update)
        .collect();

    if let Some(existing) = vm.data_disk(&disk.name) {
        return Ok(AttachPlan {
            lun: existing.lun,
            already_attached: true,
            body: data_disks_patch(tags, data_disks),
        });
    }
    let lun = (0..max_data_disks)
        .find(|lun| vm.data_disks().iter().all(|d| d.lun != *lun))
        .ok_or_else(|| {
            CpiError::cloud(format!(
                "attach_disk_to_virtual_machine - cannot find an available lun in the virtual machine '{}' for the new disk '{}'",
                vm.name, disk.name
            ))
        })?;
    data_disks.push(json!({
        "name": disk.name,
        "lun": lun,
        "createOption": "Attach",
        "caching": disk.caching.as_str(),
        "managedDisk": {"id": disk.managed_disk_id},
    }));
    Ok(AttachPlan {
        lun,
        already_attached: false,
        body: data_disks_patch(tags, data_disks),
    })
}

/// detach_disk: the `dataDisks` list without the disk and the tags without its `disk-id-*`.
/// A disk that is not attached is `DiskNotAttached` (ok_to_retry), as in Ruby.
pub(crate) fn detach_disk_patch(vm: &VirtualMachine, disk_name: &str) -> CpiResult<Value> {
    if vm.data_disk(disk_name).is_none() {
        return Err(CpiError::DiskNotAttached {
            message: format!(
                "The disk {disk_name} is not attached to the virtual machine {}",
                vm.name
            ),
            ok_to_retry: true,
        });
    }
    let mut tags = vm.tags.clone();
    tags.remove(&disk_id_tag(disk_name));
    let data_disks = vm
        .data_disks()
        .iter()
        .filter(|d| d.name.as_deref() != Some(disk_name))
        .map(DataDiskModel::to_update)
        .collect();
    Ok(data_disks_patch(tags, data_disks))
}

fn data_disks_patch(tags: Tags, data_disks: Vec<Value>) -> Value {
    json!({
        "tags": tags,
        "properties": {"storageProfile": {"dataDisks": data_disks}}
    })
}

/// set_vm_metadata: the VM's tags merged with the metadata (values stringified as Ruby's
/// `to_s`), then `user-agent: bosh`. `disk-id-*` tags survive. A PATCH replaces all tags, so
/// the body carries the full merged set.
pub(crate) fn metadata_patch(vm: &VirtualMachine, metadata: &Map<String, Value>) -> Value {
    let mut tags = vm.tags.clone();
    tags.extend(stringify_metadata(metadata));
    tags.extend(bosh_tags());
    json!({ "tags": tags })
}

// ---------------------------------------------------------------------------------------------
// Sizes
// ---------------------------------------------------------------------------------------------

/// Ruby's `get_os_disk_size`: with `root_disk.size`, ceil(max(size, image size) / 1024) GiB;
/// else, when the OS disk holds the ephemeral data, max(ceil(image / 1024), 30 Linux | 128
/// Windows); else none (the image's size).
pub(crate) fn os_disk_size_gib(
    root_disk_size_mib: Option<u64>,
    stemcell: &StemcellInfo,
    use_root_disk: bool,
) -> CpiResult<Option<u32>> {
    if let Some(root) = root_disk_size_mib {
        let gib = root.max(stemcell.image_size_mib).div_ceil(1024);
        if gib == 0 {
            return Err(CpiError::cloud("Azure CPI minimum disk size is 1 GiB"));
        }
        return gib_u32(gib).map(Some);
    }
    if use_root_disk {
        let minimum = if stemcell.is_windows() {
            MIN_OS_DISK_GIB_WINDOWS
        } else {
            MIN_OS_DISK_GIB_LINUX
        };
        let image_gib = gib_u32(stemcell.image_size_mib.div_ceil(1024))?;
        return Ok(Some(image_gib.max(minimum)));
    }
    Ok(None)
}

/// Size of an ephemeral (diff-disk) OS disk, Ruby's rule: when the OS disk holds the ephemeral
/// data and an ephemeral size is given without a root size, start from floor(image / 1024),
/// else from [`os_disk_size_gib`]; then add floor(ephemeral / 1024) in the first case.
pub(crate) fn ephemeral_os_disk_size_gib(
    root_disk_size_mib: Option<u64>,
    ephemeral_disk_size_mib: Option<u64>,
    stemcell: &StemcellInfo,
    use_root_disk: bool,
) -> CpiResult<Option<u32>> {
    let base = if use_root_disk && ephemeral_disk_size_mib.is_some() && root_disk_size_mib.is_none()
    {
        Some(gib_u32(stemcell.image_size_mib / 1024)?)
    } else {
        os_disk_size_gib(root_disk_size_mib, stemcell, use_root_disk)?
    };
    match (use_root_disk, ephemeral_disk_size_mib, base) {
        (true, Some(ephemeral), Some(base)) => {
            let total = u64::from(base) + ephemeral / 1024;
            gib_u32(total).map(Some)
        }
        _ => Ok(base),
    }
}

/// Size of the ephemeral data disk: floor(`ephemeral_disk.size` / 1024) (at least 1 GiB), or
/// the VM size's default from the DiskInfo table.
pub(crate) fn ephemeral_data_disk_size_gib(size_mib: Option<u64>, vm_size: &str) -> CpiResult<u32> {
    match size_mib {
        None => Ok(DiskInfo::for_instance_type(vm_size).ephemeral_size_gib),
        Some(size) if size < 1024 => Err(CpiError::cloud("Azure CPI minimum disk size is 1 GiB")),
        Some(size) => gib_u32(size / 1024),
    }
}

fn gib_u32(gib: u64) -> CpiResult<u32> {
    u32::try_from(gib)
        .ok()
        .filter(|g| *g <= i32::MAX as u32)
        .ok_or_else(|| CpiError::cloud(format!("Disk size {gib} GiB is larger than Azure allows")))
}

// ---------------------------------------------------------------------------------------------
// Windows names
// ---------------------------------------------------------------------------------------------

/// Ruby's 15-character Windows computer name: base32(`unique`) + `0` padding + base32(`pid`),
/// keeping the last 15 characters when longer. Ruby's `unique` is the digits of the current
/// time as a float; any per-process unique number works.
pub(crate) fn windows_computer_name(unique: u128, pid: u32) -> String {
    let prefix = to_base32(unique);
    let suffix = to_base32(u128::from(pid));
    let length = prefix.len() + suffix.len();
    if length <= WINDOWS_COMPUTER_NAME_LENGTH {
        format!(
            "{prefix}{}{suffix}",
            "0".repeat(WINDOWS_COMPUTER_NAME_LENGTH - length)
        )
    } else {
        format!("{prefix}{suffix}")[length - WINDOWS_COMPUTER_NAME_LENGTH..].to_string()
    }
}

/// Ruby's `Integer#to_s(32)`: digits 0-9 then a-v.
fn to_base32(mut value: u128) -> String {
    const DIGITS: &[u8; 32] = b"0123456789abcdefghijklmnopqrstuv";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(value % 32) as usize]);
        value /= 32;
        if value == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// Windows admin password as Ruby builds it: the characters of a lower-case and an upper-case
/// random uuid, shuffled (72 characters with lower, upper, digits and `-`, which meets Azure's
/// complexity rule). A secret: it goes into the VM body only, never into a log.
pub(crate) fn windows_admin_password<R: rand::Rng + ?Sized>(rng: &mut R) -> String {
    use rand::RngExt;
    use rand::seq::SliceRandom;
    let lower = uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .hyphenated()
        .to_string();
    let upper = uuid::Builder::from_random_bytes(rng.random())
        .into_uuid()
        .hyphenated()
        .to_string()
        .to_ascii_uppercase();
    let mut chars: Vec<char> = format!("{lower}{upper}").chars().collect();
    chars.shuffle(rng);
    chars.into_iter().collect()
}

/// Windows admin user name: the first 20 characters of a uuid without dashes.
pub(crate) fn windows_admin_username(uuid: &uuid::Uuid) -> String {
    uuid.simple().to_string()[..20].to_string()
}

// ---------------------------------------------------------------------------------------------
// Create PUT
// ---------------------------------------------------------------------------------------------

/// Operating-system profile of a new VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OsProfileSpec {
    /// computerName = the VM name; key-only ssh login for `admin_username`.
    Linux {
        admin_username: String,
        ssh_public_key: String,
    },
    Windows {
        computer_name: String,
        admin_username: String,
        admin_password: String,
    },
}

/// The image a VM boots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VmImage {
    /// A gallery image version or a managed user image: `imageReference.id`.
    Id(String),
    /// A light stemcell's platform image; `plan` only when the image has one.
    Marketplace {
        reference: PlatformImageReference,
        plan: Option<PurchasePlan>,
    },
}

/// Where an ephemeral OS disk lives (`root_disk.placement`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EphemeralPlacement {
    /// `resource-disk`.
    ResourceDisk,
    /// `cache-disk`.
    CacheDisk,
}

impl EphemeralPlacement {
    fn as_str(self) -> &'static str {
        match self {
            Self::ResourceDisk => "ResourceDisk",
            Self::CacheDisk => "CacheDisk",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OsDiskSpec {
    /// [`os_disk_name`].
    pub name: String,
    /// The vm_type's `caching`; an ephemeral OS disk is always ReadOnly.
    pub caching: Caching,
    /// [`os_disk_size_gib`] or [`ephemeral_os_disk_size_gib`].
    pub(crate) size_gib: Option<u32>,
    pub(crate) disk_encryption_set_id: Option<String>,
    /// Set for an ephemeral (diff-disk) OS disk.
    pub(crate) ephemeral_placement: Option<EphemeralPlacement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EphemeralDataDiskSpec {
    /// [`ephemeral_disk_name`].
    pub name: String,
    /// [`ephemeral_data_disk_size_gib`].
    pub(crate) size_gib: u32,
    /// Default ReadWrite.
    pub caching: Caching,
    pub storage_account_type: Option<String>,
    pub(crate) disk_encryption_set_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VmIdentity {
    SystemAssigned,
    /// The identity's full ARM id (Ruby: in the VM's resource group).
    UserAssigned(String),
}

/// Security type of a new VM (see the module notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VmSecurity {
    Standard,
    TrustedLaunch { secure_boot: bool, vtpm: bool },
}

/// Everything create_vm puts in the VM PUT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VmSpec {
    pub name: String,
    pub location: String,
    pub vm_size: String,
    /// [`vm_tags`].
    pub tags: Tags,
    pub os_profile: OsProfileSpec,
    /// Base64 agent settings.
    pub custom_data: String,
    /// The first one is the primary NIC.
    pub(crate) network_interface_ids: Vec<String>,
    pub image: VmImage,
    pub(crate) os_disk: OsDiskSpec,
    /// None when the OS disk holds the ephemeral data (`use_root_disk`).
    pub ephemeral_disk: Option<EphemeralDataDiskSpec>,
    pub identity: Option<VmIdentity>,
    pub zone: Option<String>,
    pub availability_set_id: Option<String>,
    pub capacity_reservation_group_id: Option<String>,
    /// Where boot diagnostics go; `None` leaves them off.
    pub boot_diagnostics: Option<BootDiagnostics>,
    pub security: VmSecurity,
    /// `securityProfile.encryptionAtHost: true`; false sends nothing (Azure's default).
    pub encryption_at_host: bool,
    /// An Azure Spot VM; `None` is a regular VM (no `priority` sent, Azure's default).
    pub spot: Option<SpotSpec>,
    pub(crate) proximity_placement_group_id: Option<String>,
    /// `additionalCapabilities.ultraSSDEnabled: true`; false sends nothing.
    pub ultra_ssd_enabled: bool,
}

/// What makes a VM an Azure Spot VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpotSpec {
    /// US dollars per hour, or -1: up to the on-demand price.
    pub max_price: serde_json::Number,
    /// `Delete` or `Deallocate`.
    pub eviction_policy: &'static str,
}

/// ARM id of a proximity placement group.
pub(crate) fn proximity_placement_group_id(
    subscription_id: &str,
    resource_group: &str,
    name: &str,
) -> String {
    super::compute_id(
        subscription_id,
        resource_group,
        "proximityPlacementGroups",
        name,
    )
}

/// Where a VM's serial log and screenshot go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BootDiagnostics {
    /// The blob endpoint of a storage account of ours.
    StorageAccount(String),
    /// Managed boot diagnostics: a storage account Azure owns, reached without account keys.
    Managed,
}

/// The VM PUT body.
pub(crate) fn vm_body(spec: &VmSpec) -> Value {
    let mut properties = Map::new();
    properties.insert("hardwareProfile".into(), json!({"vmSize": spec.vm_size}));
    properties.insert("osProfile".into(), os_profile(spec));
    let nics: Vec<Value> = spec
        .network_interface_ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"id": id, "properties": {"primary": i == 0}}))
        .collect();
    properties.insert(
        "networkProfile".into(),
        json!({ "networkInterfaces": nics }),
    );
    properties.insert("storageProfile".into(), storage_profile(spec));
    if let Some(id) = &spec.availability_set_id {
        properties.insert("availabilitySet".into(), json!({ "id": id }));
    }
    if let Some(id) = &spec.capacity_reservation_group_id {
        properties.insert(
            "capacityReservation".into(),
            json!({"capacityReservationGroup": {"id": id}}),
        );
    }
    match &spec.boot_diagnostics {
        Some(BootDiagnostics::StorageAccount(uri)) => {
            properties.insert(
                "diagnosticsProfile".into(),
                json!({"bootDiagnostics": {"enabled": true, "storageUri": uri}}),
            );
        }
        // No storageUri: Azure keeps them in a storage account of its own.
        Some(BootDiagnostics::Managed) => {
            properties.insert(
                "diagnosticsProfile".into(),
                json!({"bootDiagnostics": {"enabled": true}}),
            );
        }
        None => {}
    }
    let mut security = Map::new();
    if let VmSecurity::TrustedLaunch { secure_boot, vtpm } = spec.security {
        security.insert("securityType".into(), json!("TrustedLaunch"));
        security.insert(
            "uefiSettings".into(),
            json!({"secureBootEnabled": secure_boot, "vTpmEnabled": vtpm}),
        );
    }
    if spec.encryption_at_host {
        security.insert("encryptionAtHost".into(), json!(true));
    }
    if !security.is_empty() {
        properties.insert("securityProfile".into(), Value::Object(security));
    }
    if let Some(spot) = &spec.spot {
        properties.insert("priority".into(), json!("Spot"));
        properties.insert("evictionPolicy".into(), json!(spot.eviction_policy));
        properties.insert(
            "billingProfile".into(),
            json!({ "maxPrice": spot.max_price }),
        );
    }
    if let Some(id) = &spec.proximity_placement_group_id {
        properties.insert("proximityPlacementGroup".into(), json!({ "id": id }));
    }
    if spec.ultra_ssd_enabled {
        properties.insert(
            "additionalCapabilities".into(),
            json!({ "ultraSSDEnabled": true }),
        );
    }

    let mut body = Map::new();
    body.insert("location".into(), json!(spec.location));
    body.insert("tags".into(), json!(spec.tags));
    match &spec.identity {
        Some(VmIdentity::SystemAssigned) => {
            body.insert("identity".into(), json!({"type": "SystemAssigned"}));
        }
        Some(VmIdentity::UserAssigned(id)) => {
            let mut identities = Map::new();
            identities.insert(id.clone(), json!({}));
            body.insert(
                "identity".into(),
                json!({"type": "UserAssigned", "userAssignedIdentities": identities}),
            );
        }
        None => {}
    }
    if let Some(zone) = &spec.zone {
        body.insert("zones".into(), json!([zone]));
    }
    if let VmImage::Marketplace {
        plan: Some(plan), ..
    } = &spec.image
    {
        body.insert(
            "plan".into(),
            json!({"name": plan.name, "publisher": plan.publisher, "product": plan.product}),
        );
    }
    body.insert("properties".into(), Value::Object(properties));
    Value::Object(body)
}

fn os_profile(spec: &VmSpec) -> Value {
    match &spec.os_profile {
        OsProfileSpec::Linux {
            admin_username,
            ssh_public_key,
        } => json!({
            "customData": spec.custom_data,
            "computerName": spec.name,
            "adminUsername": admin_username,
            "linuxConfiguration": {
                "disablePasswordAuthentication": true,
                "ssh": {"publicKeys": [{
                    "path": format!("/home/{admin_username}/.ssh/authorized_keys"),
                    "keyData": ssh_public_key,
                }]}
            }
        }),
        OsProfileSpec::Windows {
            computer_name,
            admin_username,
            admin_password,
        } => json!({
            "customData": spec.custom_data,
            "computerName": computer_name,
            "adminUsername": admin_username,
            "adminPassword": admin_password,
            "windowsConfiguration": {"enableAutomaticUpdates": false}
        }),
    }
}

fn storage_profile(spec: &VmSpec) -> Value {
    let image_reference = match &spec.image {
        VmImage::Id(id) => json!({ "id": id }),
        VmImage::Marketplace { reference, .. } => json!({
            "publisher": reference.publisher,
            "offer": reference.offer,
            "sku": reference.sku,
            "version": reference.version,
        }),
    };
    let os = &spec.os_disk;
    let mut os_disk = Map::new();
    os_disk.insert("name".into(), json!(os.name));
    os_disk.insert("createOption".into(), json!("FromImage"));
    match os.ephemeral_placement {
        Some(placement) => {
            os_disk.insert("caching".into(), json!(Caching::ReadOnly.as_str()));
            os_disk.insert(
                "diffDiskSettings".into(),
                json!({"option": "Local", "placement": placement.as_str()}),
            );
        }
        None => {
            os_disk.insert("caching".into(), json!(os.caching.as_str()));
        }
    }
    if let Some(size) = os.size_gib {
        os_disk.insert("diskSizeGB".into(), json!(size));
    }
    if let Some(des) = &os.disk_encryption_set_id {
        os_disk.insert(
            "managedDisk".into(),
            json!({"diskEncryptionSet": {"id": des}}),
        );
    }

    let mut profile = Map::new();
    profile.insert("imageReference".into(), image_reference);
    profile.insert("osDisk".into(), Value::Object(os_disk));
    if let Some(ephemeral) = &spec.ephemeral_disk {
        let mut disk = Map::new();
        disk.insert("name".into(), json!(ephemeral.name));
        disk.insert("lun".into(), json!(0));
        disk.insert("createOption".into(), json!("Empty"));
        disk.insert("diskSizeGB".into(), json!(ephemeral.size_gib));
        disk.insert("caching".into(), json!(ephemeral.caching.as_str()));
        let mut managed = Map::new();
        if let Some(sku) = &ephemeral.storage_account_type {
            managed.insert("storageAccountType".into(), json!(sku));
        }
        if let Some(des) = &ephemeral.disk_encryption_set_id {
            managed.insert("diskEncryptionSet".into(), json!({ "id": des }));
        }
        if !managed.is_empty() {
            disk.insert("managedDisk".into(), Value::Object(managed));
        }
        profile.insert("dataDisks".into(), json!([disk]));
    }
    Value::Object(profile)
}

#[cfg(test)]
mod tests;
