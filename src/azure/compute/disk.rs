//! Managed disks (`Microsoft.Compute/disks`, DiskRP 2024-03-02): the GET model, the PUT bodies
//! for an empty disk, a disk imported from a VHD blob (unmanaged → managed migration) and a
//! disk copied from a snapshot (regional → zonal migration), the PATCH bodies, and the
//! resize/update decisions.
//!
//! Sizes: BOSH speaks MiB, Azure GiB. `create_disk` floors (`create_size_gib`), exactly as the
//! Ruby CPI, so a disk created by either CPI for the same request has the same size.
//! `resize_disk`/`update_disk` ceil (`resize_size_gib`), also as Ruby: the Director compares
//! the requested size with what it asked for, and rounding up never gives less than asked.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Caching, Tags, bosh_tags, null_as_default};
use crate::error::{CpiError, CpiResult};

/// Tag holding the caching a disk was created with (also in its CID).
pub(crate) const CACHING_TAG: &str = "caching";
/// Tag recording the blob a migrated disk was imported from.
pub(crate) const ORIGINAL_BLOB_TAG: &str = "original_blob";
/// Encryption type Azure expects with a customer disk encryption set.
const CUSTOMER_KEY_ENCRYPTION: &str = "EncryptionAtRestWithCustomerKey";
/// Azure's largest `diskSizeGB` (int32 in the spec).
const MAX_DISK_SIZE_GIB: u64 = i32::MAX as u64;

/// ARM id of a disk encryption set; like Ruby, `disk_encryption_set_name` is looked up in the
/// default resource group.
pub(crate) fn disk_encryption_set_id(
    subscription_id: &str,
    default_resource_group: &str,
    name: &str,
) -> String {
    super::compute_id(
        subscription_id,
        default_resource_group,
        "diskEncryptionSets",
        name,
    )
}

/// A managed disk as returned by GET.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ManagedDisk {
    pub id: String,
    pub name: String,
    pub location: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Tags,
    #[serde(default)]
    pub sku: Option<DiskSku>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub zones: Vec<String>,
    /// ARM id of the VM the disk is attached to.
    #[serde(default)]
    pub(crate) managed_by: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: DiskProperties,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct DiskSku {
    pub name: String,
    #[serde(default)]
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct DiskProperties {
    #[serde(rename = "diskSizeGB", default)]
    pub(crate) disk_size_gb: Option<u64>,
    #[serde(rename = "diskIOPSReadWrite", default)]
    pub iops: Option<u64>,
    #[serde(rename = "diskMBpsReadWrite", default)]
    pub mbps: Option<u64>,
    #[serde(rename = "diskState", default)]
    pub(crate) disk_state: Option<String>,
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(default)]
    pub encryption: Option<DiskEncryption>,
}

/// How a disk is encrypted at rest.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct DiskEncryption {
    #[serde(rename = "diskEncryptionSetId", default)]
    pub(crate) disk_encryption_set_id: Option<String>,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

impl ManagedDisk {
    /// The single zone of a zonal disk.
    pub(crate) fn zone(&self) -> Option<&str> {
        self.zones.first().map(String::as_str)
    }

    pub(crate) fn sku_name(&self) -> Option<&str> {
        self.sku.as_ref().map(|s| s.name.as_str())
    }

    /// The caching recorded in the disk's `caching` tag, when present and valid.
    pub(crate) fn caching(&self) -> Option<Caching> {
        self.tags.get(CACHING_TAG).and_then(|c| c.parse().ok())
    }
}

/// The Ultra disk SKU: created in the VM's zone, attached only to VMs with
/// `additionalCapabilities.ultraSSDEnabled`, and without host caching (Azure's Ultra disk docs).
pub(crate) const ULTRA_SSD_SKU: &str = "UltraSSD_LRS";

/// Ultra disks support no host caching: anything but `None` is refused before a write.
pub(crate) fn check_ultra_caching(sku: &str, caching: Caching) -> CpiResult<()> {
    if sku.eq_ignore_ascii_case(ULTRA_SSD_SKU) && caching != Caching::None {
        return Err(CpiError::cloud(format!(
            "UltraSSD_LRS disks support no host caching, but caching is '{}'. Set caching 'None' or leave it out",
            caching.as_str()
        )));
    }
    Ok(())
}

/// What `create_disk` asks for: an empty managed disk.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EmptyDiskSpec {
    pub location: String,
    /// From [`create_size_gib`].
    pub(crate) size_gib: u32,
    /// Disk SKU, e.g. `Standard_LRS`, `Premium_LRS`, `PremiumV2_LRS`.
    pub sku: String,
    pub caching: Caching,
    pub zone: Option<String>,
    pub iops: Option<u64>,
    pub mbps: Option<u64>,
    /// Full ARM id of a disk encryption set (Ruby looks the name up in the default RG).
    pub(crate) disk_encryption_set_id: Option<String>,
}

/// PUT body of an empty managed disk; tags `{"user-agent":"bosh","caching":<c>}`.
pub(crate) fn empty_disk_body(spec: &EmptyDiskSpec) -> Value {
    let mut tags = bosh_tags();
    tags.insert(CACHING_TAG.into(), spec.caching.as_str().into());
    let mut properties = Map::new();
    properties.insert("creationData".into(), json!({"createOption": "Empty"}));
    properties.insert("diskSizeGB".into(), json!(spec.size_gib));
    if let Some(iops) = spec.iops {
        properties.insert("diskIOPSReadWrite".into(), json!(iops));
    }
    if let Some(mbps) = spec.mbps {
        properties.insert("diskMBpsReadWrite".into(), json!(mbps));
    }
    if let Some(des) = &spec.disk_encryption_set_id {
        properties.insert(
            "encryption".into(),
            json!({"diskEncryptionSetId": des, "type": CUSTOMER_KEY_ENCRYPTION}),
        );
    }
    let mut body = json!({
        "location": spec.location,
        "tags": tags,
        "sku": {"name": spec.sku},
        "properties": properties,
    });
    insert_zone(&mut body, spec.zone.as_deref());
    body
}

/// What the blob → managed migration at attach time asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DiskFromBlobSpec {
    pub location: String,
    /// `Premium_LRS` when the source storage account is Premium, else `Standard_LRS`.
    pub sku: String,
    pub caching: Caching,
    pub zone: Option<String>,
    /// The VHD blob URL (no SAS).
    pub(crate) source_uri: String,
    /// ARM id of the storage account holding the blob.
    pub storage_account_id: String,
}

/// SKU of a disk migrated from a blob: `Premium_LRS` when the blob's storage account is
/// Premium, else `Standard_LRS`.
pub(crate) fn migration_disk_sku(storage_account_tier: Option<&str>) -> &'static str {
    if storage_account_tier.is_some_and(|tier| tier.eq_ignore_ascii_case("Premium")) {
        "Premium_LRS"
    } else {
        "Standard_LRS"
    }
}

/// PUT body importing a VHD blob; tags add `original_blob: <uri>`.
pub(crate) fn disk_from_blob_body(spec: &DiskFromBlobSpec) -> Value {
    let mut tags = bosh_tags();
    tags.insert(CACHING_TAG.into(), spec.caching.as_str().into());
    tags.insert(ORIGINAL_BLOB_TAG.into(), spec.source_uri.clone());
    let mut body = json!({
        "location": spec.location,
        "tags": tags,
        "sku": {"name": spec.sku},
        "properties": {
            "creationData": {
                "createOption": "Import",
                "sourceUri": spec.source_uri,
                "storageAccountId": spec.storage_account_id,
            }
        },
    });
    insert_zone(&mut body, spec.zone.as_deref());
    body
}

/// What the regional → zonal migration asks for: the same disk name, SKU, tags and location,
/// copied from a snapshot into a zone.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DiskFromSnapshotSpec {
    pub location: String,
    pub sku: String,
    pub zone: Option<String>,
    /// ARM id of the snapshot.
    pub snapshot_id: String,
    pub tags: Tags,
    /// The source disk's customer-key encryption, kept by the copy (the Ruby CPI dropped it,
    /// so a migrated disk fell back to platform keys).
    pub encryption: Option<DiskEncryption>,
}

/// PUT body copying a snapshot (`createOption: Copy`, `sourceResourceId`).
pub(crate) fn disk_from_snapshot_body(spec: &DiskFromSnapshotSpec) -> Value {
    let mut body = json!({
        "location": spec.location,
        "tags": spec.tags,
        "sku": {"name": spec.sku},
        "properties": {
            "creationData": {"createOption": "Copy", "sourceResourceId": spec.snapshot_id}
        },
    });
    if let Some(DiskEncryption {
        disk_encryption_set_id: Some(set),
        kind,
    }) = &spec.encryption
    {
        body["properties"]["encryption"] = json!({
            "diskEncryptionSetId": set,
            "type": kind.as_deref().unwrap_or(CUSTOMER_KEY_ENCRYPTION),
        });
    }
    insert_zone(&mut body, spec.zone.as_deref());
    body
}

/// attach_disk moves a regional disk into the zone of a zonal VM. Zone-redundant (`*_ZRS`)
/// disks have no zone yet attach in every zone, and cannot be made zonal: they stay as they are.
pub(crate) fn needs_zone_migration(disk: &ManagedDisk, vm_zone: Option<&str>) -> bool {
    let zone_redundant = disk.sku_name().is_some_and(|sku| sku.ends_with("_ZRS"));
    disk.zone().is_none() && vm_zone.is_some() && !zone_redundant
}

/// The disk to recreate from the migration snapshot: same name (the URL), SKU, tags and
/// location, now in `zone`.
pub(crate) fn zone_migration_spec(
    disk: &ManagedDisk,
    snapshot_id: &str,
    zone: &str,
) -> CpiResult<DiskFromSnapshotSpec> {
    let sku = disk
        .sku_name()
        .ok_or_else(|| CpiError::cloud(format!("Disk '{}' reports no SKU", disk.name)))?;
    Ok(DiskFromSnapshotSpec {
        location: disk.location.clone(),
        sku: sku.to_string(),
        zone: Some(zone.to_string()),
        snapshot_id: snapshot_id.to_string(),
        tags: disk.tags.clone(),
        encryption: disk
            .properties
            .encryption
            .clone()
            .filter(|e| e.disk_encryption_set_id.is_some()),
    })
}

/// The CloudError text when a zone migration cannot finish after the disk was deleted: how to
/// recreate it by hand from the snapshot (Ruby's wording; its `--sku` was always empty).
pub(crate) fn zone_migration_recovery_message(
    disk: &ManagedDisk,
    disk_cid: &str,
    resource_group: &str,
    snapshot_name: &str,
    zone: &str,
) -> String {
    format!(
        "migrate_to_zone - Failed to create disk '{name}' from snapshot '{snapshot_name}' in resource group '{resource_group}'.\n\
         You need to recover '{disk_cid}' manually from snapshot '{snapshot_name}' and put it in zone '{zone}'. Try:\n    \
         'az disk create --resource-group {resource_group} --location {location} --sku {sku} --zone {zone} --name {name} --source {snapshot_name}'",
        name = disk.name,
        location = disk.location,
        sku = disk.sku_name().unwrap_or("Standard_LRS"),
    )
}

fn insert_zone(body: &mut Value, zone: Option<&str>) {
    if let (Some(zone), Some(object)) = (zone, body.as_object_mut()) {
        object.insert("zones".into(), json!([zone]));
    }
}

/// PATCH body growing a disk: `{"properties":{"diskSizeGB":N}}`.
pub(crate) fn resize_disk_body(size_gib: u32) -> Value {
    json!({"properties": {"diskSizeGB": size_gib}})
}

/// PATCH body replacing a disk's tags.
pub(crate) fn tags_patch_body(tags: &Tags) -> Value {
    json!({ "tags": tags })
}

/// A disk PATCH (`DiskUpdate`): only the fields that are set are sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DiskPatch {
    pub(crate) size_gib: Option<u32>,
    pub sku: Option<String>,
    pub iops: Option<u64>,
    pub mbps: Option<u64>,
}

impl DiskPatch {
    pub(crate) fn is_empty(&self) -> bool {
        self.size_gib.is_none() && self.sku.is_none() && self.iops.is_none() && self.mbps.is_none()
    }

    /// Also serves the ephemeral disk's iops/mbps PATCH after create_vm.
    pub(crate) fn body(&self) -> Value {
        let mut body = Map::new();
        if let Some(sku) = &self.sku {
            body.insert("sku".into(), json!({ "name": sku }));
        }
        let mut properties = Map::new();
        if let Some(size) = self.size_gib {
            properties.insert("diskSizeGB".into(), json!(size));
        }
        if let Some(iops) = self.iops {
            properties.insert("diskIOPSReadWrite".into(), json!(iops));
        }
        if let Some(mbps) = self.mbps {
            properties.insert("diskMBpsReadWrite".into(), json!(mbps));
        }
        if !properties.is_empty() {
            body.insert("properties".into(), Value::Object(properties));
        }
        Value::Object(body)
    }
}

/// GiB for `create_disk`: floor(MiB / 1024), at least 1 GiB (Ruby's message).
pub(crate) fn create_size_gib(size_mib: u64) -> CpiResult<u32> {
    if size_mib < 1024 {
        return Err(CpiError::cloud("Azure CPI minimum disk size is 1 GiB"));
    }
    checked_gib(size_mib / 1024, size_mib)
}

/// GiB for `resize_disk`/`update_disk`: ceil(MiB / 1024).
pub(crate) fn resize_size_gib(size_mib: u64) -> CpiResult<u32> {
    checked_gib(size_mib.div_ceil(1024), size_mib)
}

fn checked_gib(gib: u64, size_mib: u64) -> CpiResult<u32> {
    if gib > MAX_DISK_SIZE_GIB {
        return Err(CpiError::cloud(format!(
            "Disk size {size_mib} MiB is larger than Azure allows"
        )));
    }
    u32::try_from(gib)
        .map_err(|_| CpiError::cloud(format!("Disk size {size_mib} MiB is too large")))
}

/// The outcome of `resize_disk` on an existing disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResizePlan {
    /// Already that size: nothing to send.
    Unchanged,
    /// PATCH [`resize_disk_body`] with this size.
    Grow(u32),
}

/// `resize_disk`: shrinking is NotSupported (the Director then copies the data to a new
/// disk), equal is a no-op, larger grows.
pub(crate) fn plan_resize(disk: &ManagedDisk, new_size_mib: u64) -> CpiResult<ResizePlan> {
    let new_gib = resize_size_gib(new_size_mib)?;
    let old_gib = current_size_gib(disk)?;
    match u64::from(new_gib).cmp(&old_gib) {
        std::cmp::Ordering::Less => Err(CpiError::not_supported(format!(
            "Disk '{}' cannot shrink from {old_gib} GiB to {new_gib} GiB",
            disk.name
        ))),
        std::cmp::Ordering::Equal => Ok(ResizePlan::Unchanged),
        std::cmp::Ordering::Greater => Ok(ResizePlan::Grow(new_gib)),
    }
}

fn current_size_gib(disk: &ManagedDisk) -> CpiResult<u64> {
    disk.properties
        .disk_size_gb
        .ok_or_else(|| CpiError::cloud(format!("Disk '{}' reports no diskSizeGB", disk.name)))
}

/// What `update_disk` asks for (parsed from its arguments and the disk_type cloud_properties).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiskUpdateRequest {
    pub(crate) new_size_mib: u64,
    pub caching: Option<Caching>,
    pub storage_account_type: Option<String>,
    pub iops: Option<u64>,
    pub mbps: Option<u64>,
}

/// `update_disk` on the disk GET's result: `Ok(None)` when nothing changes, else the PATCH to
/// send. A missing disk is NotSupported, as in Ruby (the Director then recreates it).
///
/// The disk's caching is read from its `caching` tag, falling back to the caching in its CID
/// (`cid_caching`). The Ruby CPI compared against a field it never filled, so any `caching`
/// raised NotSupported; here only a real change does. Values equal to the disk's current ones
/// are left out of the PATCH, so a repeated call is a no-op.
pub(crate) fn plan_update(
    disk: Option<&ManagedDisk>,
    disk_name: &str,
    cid_caching: Caching,
    request: &DiskUpdateRequest,
) -> CpiResult<Option<DiskPatch>> {
    let Some(disk) = disk else {
        return Err(CpiError::not_supported(format!(
            "Disk '{disk_name}' not found"
        )));
    };
    let current_caching = disk.caching().unwrap_or(cid_caching);
    if request.caching.is_some_and(|c| c != current_caching) {
        return Err(CpiError::not_supported("Disk caching cannot be modified"));
    }
    let new_gib = resize_size_gib(request.new_size_mib)?;
    let old_gib = current_size_gib(disk)?;
    if old_gib > u64::from(new_gib) {
        return Err(CpiError::not_supported("Disk size cannot be decreased"));
    }
    let patch = DiskPatch {
        size_gib: (u64::from(new_gib) != old_gib).then_some(new_gib),
        sku: request
            .storage_account_type
            .clone()
            .filter(|sku| Some(sku.as_str()) != disk.sku_name()),
        iops: request.iops.filter(|v| Some(*v) != disk.properties.iops),
        mbps: request.mbps.filter(|v| Some(*v) != disk.properties.mbps),
    };
    Ok((!patch.is_empty()).then_some(patch))
}

/// Maps Azure's refusal to convert a disk SKU (`Changing a disk's account type from 'X' to
/// 'Y' is not supported.`) to NotSupported, so the Director falls back to copying the data.
pub(crate) fn map_update_error(azure_message: &str) -> Option<CpiError> {
    const HEAD: &str = "Changing a disk's account type from '";
    let rest = &azure_message[azure_message.find(HEAD)? + HEAD.len()..];
    let rest = &rest[rest.find("' to '")? + "' to '".len()..];
    rest.contains("' is not supported.")
        .then(|| CpiError::not_supported("Disk conversion is not supported"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::compute::parse_resource;

    fn disk_json() -> Value {
        json!({
            "id": "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/disks/bosh-disk-data-1",
            "name": "bosh-disk-data-1",
            "location": "eastus",
            "type": "Microsoft.Compute/disks",
            "managedBy": "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1",
            "sku": {"name": "Premium_LRS", "tier": "Premium"},
            "zones": ["2"],
            "tags": {"user-agent": "bosh", "caching": "ReadOnly"},
            "properties": {
                "creationData": {"createOption": "Empty"},
                "diskSizeGB": 10,
                "diskIOPSReadWrite": 120,
                "diskMBpsReadWrite": 25,
                "diskState": "Attached",
                "provisioningState": "Succeeded",
                "timeCreated": "2024-01-01T00:00:00Z"
            }
        })
    }

    fn disk() -> ManagedDisk {
        parse_resource("disk", disk_json().to_string().as_bytes()).unwrap()
    }

    #[test]
    fn parses_get_response() {
        let d = disk();
        assert_eq!(d.name, "bosh-disk-data-1");
        assert_eq!(d.zone(), Some("2"));
        assert_eq!(d.sku_name(), Some("Premium_LRS"));
        assert_eq!(d.caching(), Some(Caching::ReadOnly));
        assert_eq!(d.properties.disk_size_gb, Some(10));
        assert_eq!(d.properties.iops, Some(120));
        assert_eq!(d.properties.mbps, Some(25));
        assert_eq!(d.properties.disk_state.as_deref(), Some("Attached"));
        assert!(d.managed_by.unwrap().ends_with("/virtualMachines/vm1"));
    }

    #[test]
    fn parses_minimal_response_with_null_tags() {
        let d: ManagedDisk = serde_json::from_value(json!({
            "id": "x", "name": "n", "location": "l", "tags": null, "zones": null
        }))
        .unwrap();
        assert!(d.tags.is_empty());
        assert_eq!(d.zone(), None);
        assert_eq!(d.caching(), None);
    }

    #[test]
    fn empty_disk_body_matches_ruby_layout() {
        let spec = EmptyDiskSpec {
            location: "eastus".into(),
            size_gib: 5,
            sku: "Standard_LRS".into(),
            caching: Caching::None,
            zone: None,
            iops: None,
            mbps: None,
            disk_encryption_set_id: None,
        };
        assert_eq!(
            empty_disk_body(&spec),
            json!({
                "location": "eastus",
                "tags": {"user-agent": "bosh", "caching": "None"},
                "sku": {"name": "Standard_LRS"},
                "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 5}
            })
        );
    }

    #[test]
    fn empty_disk_body_with_zone_performance_and_encryption() {
        let spec = EmptyDiskSpec {
            location: "eastus".into(),
            size_gib: 100,
            sku: "PremiumV2_LRS".into(),
            caching: Caching::None,
            zone: Some("1".into()),
            iops: Some(3000),
            mbps: Some(125),
            disk_encryption_set_id: Some(
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des".into(),
            ),
        };
        assert_eq!(
            empty_disk_body(&spec),
            json!({
                "location": "eastus",
                "tags": {"user-agent": "bosh", "caching": "None"},
                "sku": {"name": "PremiumV2_LRS"},
                "zones": ["1"],
                "properties": {
                    "creationData": {"createOption": "Empty"},
                    "diskSizeGB": 100,
                    "diskIOPSReadWrite": 3000,
                    "diskMBpsReadWrite": 125,
                    "encryption": {
                        "diskEncryptionSetId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des",
                        "type": "EncryptionAtRestWithCustomerKey"
                    }
                }
            })
        );
    }

    #[test]
    fn disk_from_blob_body_records_original_blob() {
        let spec = DiskFromBlobSpec {
            location: "westus".into(),
            sku: "Premium_LRS".into(),
            caching: Caching::ReadWrite,
            zone: Some("3".into()),
            source_uri: "https://sa.blob.core.windows.net/bosh/bosh-data-x.vhd".into(),
            storage_account_id:
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
                    .into(),
        };
        assert_eq!(
            disk_from_blob_body(&spec),
            json!({
                "location": "westus",
                "tags": {
                    "user-agent": "bosh",
                    "caching": "ReadWrite",
                    "original_blob": "https://sa.blob.core.windows.net/bosh/bosh-data-x.vhd"
                },
                "sku": {"name": "Premium_LRS"},
                "zones": ["3"],
                "properties": {"creationData": {
                    "createOption": "Import",
                    "sourceUri": "https://sa.blob.core.windows.net/bosh/bosh-data-x.vhd",
                    "storageAccountId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa"
                }}
            })
        );
    }

    #[test]
    fn migration_sku_follows_the_storage_account_tier() {
        assert_eq!(migration_disk_sku(Some("Premium")), "Premium_LRS");
        assert_eq!(migration_disk_sku(Some("Standard")), "Standard_LRS");
        assert_eq!(migration_disk_sku(None), "Standard_LRS");
    }

    #[test]
    fn disk_from_snapshot_body_copies_by_resource_id() {
        let spec = DiskFromSnapshotSpec {
            location: "eastus".into(),
            sku: "Premium_LRS".into(),
            zone: Some("1".into()),
            snapshot_id:
                "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/snap"
                    .into(),
            tags: Tags::from([("caching".into(), "None".into())]),
            encryption: None,
        };
        assert_eq!(
            disk_from_snapshot_body(&spec),
            json!({
                "location": "eastus",
                "tags": {"caching": "None"},
                "sku": {"name": "Premium_LRS"},
                "zones": ["1"],
                "properties": {"creationData": {
                    "createOption": "Copy",
                    "sourceResourceId": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/snap"
                }}
            })
        );
    }

    #[test]
    fn patch_bodies_send_only_present_fields() {
        assert_eq!(
            resize_disk_body(20),
            json!({"properties": {"diskSizeGB": 20}})
        );
        let patch = DiskPatch {
            size_gib: Some(20),
            sku: Some("Premium_LRS".into()),
            iops: None,
            mbps: Some(200),
        };
        assert_eq!(
            patch.body(),
            json!({"sku": {"name": "Premium_LRS"}, "properties": {"diskSizeGB": 20, "diskMBpsReadWrite": 200}})
        );
        let sku_only = DiskPatch {
            sku: Some("StandardSSD_LRS".into()),
            ..DiskPatch::default()
        };
        assert_eq!(sku_only.body(), json!({"sku": {"name": "StandardSSD_LRS"}}));
        assert!(DiskPatch::default().is_empty());
        let tags = Tags::from([("a".into(), "b".into())]);
        assert_eq!(tags_patch_body(&tags), json!({"tags": {"a": "b"}}));
    }

    #[test]
    fn size_rounding() {
        assert_eq!(create_size_gib(1024).unwrap(), 1);
        assert_eq!(create_size_gib(2047).unwrap(), 1);
        assert_eq!(create_size_gib(10240).unwrap(), 10);
        assert_eq!(
            create_size_gib(1023).unwrap_err().message(),
            "Azure CPI minimum disk size is 1 GiB"
        );
        assert_eq!(resize_size_gib(1025).unwrap(), 2);
        assert_eq!(resize_size_gib(2048).unwrap(), 2);
        assert!(create_size_gib(u64::MAX).is_err());
        assert!(resize_size_gib(u64::MAX).is_err());
    }

    #[test]
    fn resize_decisions() {
        let d = disk(); // 10 GiB
        assert_eq!(plan_resize(&d, 10 * 1024).unwrap(), ResizePlan::Unchanged);
        assert_eq!(
            plan_resize(&d, 10 * 1024 + 1).unwrap(),
            ResizePlan::Grow(11)
        );
        let err = plan_resize(&d, 9 * 1024).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::NotSupported");
    }

    fn request(size_mib: u64) -> DiskUpdateRequest {
        DiskUpdateRequest {
            new_size_mib: size_mib,
            caching: None,
            storage_account_type: None,
            iops: None,
            mbps: None,
        }
    }

    #[test]
    fn update_reads_caching_from_the_tag() {
        let d = disk(); // tag caching ReadOnly
        let same = DiskUpdateRequest {
            caching: Some(Caching::ReadOnly),
            ..request(10 * 1024)
        };
        // The Ruby bug raised here; the disk really has ReadOnly caching, so nothing to do.
        assert_eq!(
            plan_update(Some(&d), "bosh-disk-data-1", Caching::None, &same).unwrap(),
            None
        );
        let changed = DiskUpdateRequest {
            caching: Some(Caching::ReadWrite),
            ..request(10 * 1024)
        };
        let err =
            plan_update(Some(&d), "bosh-disk-data-1", Caching::ReadWrite, &changed).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::NotSupported");
        assert_eq!(err.message(), "Disk caching cannot be modified");
    }

    #[test]
    fn update_falls_back_to_cid_caching_without_tag() {
        let mut d = disk();
        d.tags.clear();
        let req = DiskUpdateRequest {
            caching: Some(Caching::ReadWrite),
            ..request(10 * 1024)
        };
        assert_eq!(
            plan_update(Some(&d), "bosh-disk-data-1", Caching::ReadWrite, &req).unwrap(),
            None
        );
        assert!(plan_update(Some(&d), "bosh-disk-data-1", Caching::None, &req).is_err());
    }

    #[test]
    fn update_of_a_missing_disk_is_not_supported() {
        let err = plan_update(None, "bosh-disk-data-9", Caching::None, &request(1024)).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::NotSupported");
        assert_eq!(err.message(), "Disk 'bosh-disk-data-9' not found");
    }

    #[test]
    fn update_refuses_shrink_and_sends_only_changes() {
        let d = disk();
        let err = plan_update(
            Some(&d),
            "bosh-disk-data-1",
            Caching::None,
            &request(9 * 1024),
        )
        .unwrap_err();
        assert_eq!(err.message(), "Disk size cannot be decreased");

        let req = DiskUpdateRequest {
            storage_account_type: Some("Premium_LRS".into()), // unchanged
            iops: Some(500),
            mbps: Some(25), // unchanged
            ..request(20 * 1024)
        };
        let patch = plan_update(Some(&d), "bosh-disk-data-1", Caching::None, &req)
            .unwrap()
            .unwrap();
        assert_eq!(
            patch,
            DiskPatch {
                size_gib: Some(20),
                sku: None,
                iops: Some(500),
                mbps: None
            }
        );
        let convert = DiskUpdateRequest {
            storage_account_type: Some("PremiumV2_LRS".into()),
            ..request(10 * 1024)
        };
        assert_eq!(
            plan_update(Some(&d), "bosh-disk-data-1", Caching::None, &convert)
                .unwrap()
                .unwrap()
                .body(),
            json!({"sku": {"name": "PremiumV2_LRS"}})
        );
    }

    #[test]
    fn sku_conversion_refusal_maps_to_not_supported() {
        let msg = "http_patch - error: 409 message: {\"error\":{\"code\":\"OperationNotAllowed\",\"message\":\"Changing a disk's account type from 'Premium_LRS' to 'PremiumV2_LRS' is not supported.\"}}";
        let err = map_update_error(msg).unwrap();
        assert_eq!(err.wire_type(), "Bosh::Clouds::NotSupported");
        assert_eq!(err.message(), "Disk conversion is not supported");
        assert!(map_update_error("Changing a disk's size is not supported.").is_none());
        assert!(map_update_error("some other failure").is_none());
    }

    #[test]
    fn zone_migration() {
        let mut regional = disk();
        regional.zones.clear();
        assert!(needs_zone_migration(&regional, Some("2")));
        assert!(!needs_zone_migration(&regional, None));
        assert!(!needs_zone_migration(&disk(), Some("1")));
        let spec = zone_migration_spec(&regional, "/snapshots/s1", "2").unwrap();
        assert_eq!(spec.sku, "Premium_LRS");
        assert_eq!(spec.zone.as_deref(), Some("2"));
        assert_eq!(spec.tags, regional.tags);
        assert_eq!(spec.location, "eastus");
        let message =
            zone_migration_recovery_message(&regional, "cid", "rg", "bosh-disk-data-s", "2");
        assert!(message.contains(
            "'az disk create --resource-group rg --location eastus --sku Premium_LRS --zone 2 --name bosh-disk-data-1 --source bosh-disk-data-s'"
        ), "{message}");
        regional.sku = None;
        assert!(zone_migration_spec(&regional, "/s", "2").is_err());
        regional.sku = Some(DiskSku {
            name: "Premium_ZRS".into(),
            tier: None,
        });
        assert!(
            !needs_zone_migration(&regional, Some("2")),
            "zone-redundant disks attach in any zone"
        );
    }

    #[test]
    fn zone_migration_keeps_customer_key_encryption() {
        let mut regional = disk();
        regional.zones.clear();
        let des =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des";
        regional.properties.encryption = Some(DiskEncryption {
            disk_encryption_set_id: Some(des.into()),
            kind: Some("EncryptionAtRestWithPlatformAndCustomerKeys".into()),
        });
        let body = disk_from_snapshot_body(&zone_migration_spec(&regional, "/snap", "2").unwrap());
        assert_eq!(
            body["properties"]["encryption"],
            json!({"diskEncryptionSetId": des, "type": "EncryptionAtRestWithPlatformAndCustomerKeys"})
        );
        // Platform keys: nothing to carry, Azure's default.
        regional.properties.encryption = Some(DiskEncryption {
            disk_encryption_set_id: None,
            kind: Some("EncryptionAtRestWithPlatformKey".into()),
        });
        let body = disk_from_snapshot_body(&zone_migration_spec(&regional, "/snap", "2").unwrap());
        assert!(body["properties"].get("encryption").is_none());
    }

    #[test]
    fn encryption_set_id() {
        assert_eq!(
            disk_encryption_set_id("sub", "rg", "des1"),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/diskEncryptionSets/des1"
        );
    }
}
