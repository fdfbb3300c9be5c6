//! `attach_disk`: adds the managed disk to the VM at the lowest free LUN within the VM size's
//! data-disk limit and records the `disk-id-<name>` VM tag, in one PATCH guarded by the VM's
//! ETag (concurrent attaches and detaches on one VM never drop each other's disks). No fixed
//! sleeps. A disk already attached answers its LUN again without writing.
//!
//! Before that, as the Ruby CPI does:
//! - a legacy `bosh-data-*` disk that is still a blob is imported as a managed disk of the same
//!   name (in the VM's zone), and the blob is marked migrated; it is kept, never deleted;
//! - a regional disk attached to a zonal VM is moved into the VM's zone: snapshot, delete,
//!   recreate from the snapshot in the zone, verify, delete the snapshot.
//!
//! Both keep the original data safe on every failure, and the error says what is left and what
//! to do. Unlike Ruby, a failed zone move puts the disk back as it was (regional, from the
//! snapshot) when it can, so the deployment keeps working.

use serde_json::Value;

use crate::azure::ResourcePath;
use crate::azure::compute::disk::{
    DiskFromBlobSpec, DiskFromSnapshotSpec, ManagedDisk, ULTRA_SSD_SKU, check_ultra_caching,
    disk_from_blob_body, disk_from_snapshot_body, migration_disk_sku, needs_zone_migration,
    zone_migration_recovery_message, zone_migration_spec,
};
use crate::azure::compute::sku::max_data_disks;
use crate::azure::compute::snapshot::{snapshot_body, snapshot_tags};
use crate::azure::compute::vm::{AttachDisk, DiskHints, attach_disk_patch, disk_id_tag};
use crate::azure::storage::blob_disk::{
    DISK_CONTAINER, is_migrated, vhd_blob_name, with_migrated_marker,
};
use crate::call::ApiVersion;
use crate::cid::{Caching, DiskCid, SnapshotCid, VmCid};
use crate::error::{CpiError, CpiResult};
use crate::services::skus::vm_skus;
use crate::services::{Azure, disks, snapshots, vms};

/// Extra attempts at creating the zonal disk from the snapshot (Ruby's `max_retries`), on top
/// of the ARM client's own retries of transient failures: an operation that ends `Failed` is
/// worth one more try before the disk is put back.
const ZONAL_CREATE_RETRIES: u32 = 2;

pub(super) async fn attach_disk(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    disk_cid: &DiskCid,
    api_version: ApiVersion,
) -> CpiResult<Value> {
    let caching = disk_cid.caching()?;
    // The VM first: a missing VM is VMNotFound whatever the disk.
    let vm = vms::existing(azure, vm_cid).await?;
    if !vm_cid.is_managed() {
        // The Ruby CPI attached the blob itself to such a VM; Azure retired unmanaged VM disks
        // on 2025-09-30, and a VM never mixes managed and unmanaged disks.
        return Err(CpiError::cloud(format!(
            "VM '{vm_cid}' uses unmanaged disks, which Azure retired on 2025-09-30; bosh-azure-cpi attaches disks to VMs with managed disks only. Nothing was changed."
        )));
    }
    // The disk and the VM size's data-disk limit are independent reads: at once.
    let disk_lookup = async {
        if disk_cid.has_managed_name() {
            return disks::existing(azure, disk_cid).await;
        }
        // A legacy name is a managed disk once imported, a blob until then.
        match disks::get(azure, disk_cid.resource_group_name(), disk_cid.disk_name()).await? {
            Some(disk) => Ok(disk),
            None => import_blob_disk(azure, disk_cid, caching, vm.zone()).await,
        }
    };
    let lun_limit = async {
        match vm.vm_size() {
            Some(size) => Ok(max_data_disks(&vm_skus(azure, &vm.location).await?, size)),
            None => Err(CpiError::cloud(format!(
                "VM '{vm_cid}' reports no vmSize, so its data-disk limit is unknown"
            ))),
        }
    };
    let (mut disk, max_luns) = futures::try_join!(disk_lookup, lun_limit)?;
    if disk
        .sku_name()
        .is_some_and(|sku| sku.eq_ignore_ascii_case(ULTRA_SSD_SKU))
    {
        if !vm.ultra_ssd_enabled() {
            return Err(CpiError::cloud(format!(
                "Disk '{}' is an UltraSSD_LRS disk, but VM '{}' was created without Ultra disk support: give its vm_type 'ultra_ssd_enabled: true' (the VM is recreated), or use another disk type. Nothing was changed.",
                disk.name,
                vm_cid.vm_name()
            )));
        }
        check_ultra_caching(ULTRA_SSD_SKU, caching)?;
    }
    let mut migration_snapshot = None;
    if vm.data_disk(&disk.name).is_none()
        && let Some(zone) = vm.zone().filter(|_| needs_zone_migration(&disk, vm.zone()))
    {
        let (moved, snapshot) = migrate_into_zone(azure, disk_cid, caching, &disk, zone).await?;
        disk = moved;
        migration_snapshot = Some(snapshot);
    }
    let attach = AttachDisk {
        name: disk.name.clone(),
        caching,
        disk_cid: disk_cid.to_string(),
        managed_disk_id: disk.id.clone(),
    };
    let tag = disk_id_tag(&attach.name);
    // The VM read above: its ETag guards the write (a 412 reads it again).
    let attached = vms::update(azure, vm_cid, Some(vm), |vm| {
        let plan = attach_disk_patch(vm, &attach, max_luns)?;
        // A Director retry of an attach that landed: nothing to write unless the tag is
        // missing.
        let done = plan.already_attached && vm.tags.get(&tag) == Some(&attach.disk_cid);
        Ok(((!done).then_some(plan.body), plan.lun))
    });
    // The migrated disk is verified: its snapshot goes while the VM is updated.
    let cleanup = async {
        if let Some(snapshot) = &migration_snapshot {
            snapshot.delete(azure).await;
        }
    };
    let (lun, ()) = tokio::join!(attached, cleanup);
    let lun = lun?;
    Ok(match api_version {
        ApiVersion::V1 => Value::Null,
        ApiVersion::V2 | ApiVersion::V3 => serde_json::to_value(DiskHints::new(lun))
            .map_err(|e| CpiError::cloud(format!("Cannot encode the disk hints: {e}")))?,
    })
}

/// Imports the unmanaged disk's blob as a managed disk of the same name in the CID's resource
/// group: in the storage account's location, `Premium_LRS` when the account is Premium (else
/// `Standard_LRS`), in `zone`, tagged with the caching and `original_blob`. Then marks the blob
/// migrated. On failure the half-made managed disk is deleted; the blob is never changed before
/// the managed disk exists.
async fn import_blob_disk(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    caching: Caching,
    zone: Option<&str>,
) -> CpiResult<ManagedDisk> {
    let account_name = disk_cid.storage_account_name()?;
    let Some(account) = azure
        .storage
        .blob_disk_account(account_name, azure.deadline)
        .await?
    else {
        return Err(disks::not_found(disk_cid));
    };
    let blob = vhd_blob_name(disk_cid.disk_name());
    let Some(properties) = account.blobs.get_properties(DISK_CONTAINER, &blob).await? else {
        return Err(disks::not_found(disk_cid));
    };
    if is_migrated(&properties.metadata) {
        // Its managed copy was the disk, and that was deleted: has_disk answers false too.
        return Err(disks::not_found(disk_cid));
    }
    let source_uri = account.blobs.blob_url(DISK_CONTAINER, &blob).to_string();
    let spec = DiskFromBlobSpec {
        location: account.account.location.clone(),
        sku: migration_disk_sku(account.account.sku.as_ref().and_then(|s| s.tier.as_deref()))
            .to_owned(),
        caching,
        zone: zone.map(str::to_owned),
        source_uri: source_uri.clone(),
        storage_account_id: account.account.id.clone(),
    };
    let resource_group = disk_cid.resource_group_name();
    let path = disks::path(azure, resource_group, disk_cid.disk_name());
    tracing::info!(disk = %disk_cid, blob = %source_uri, "importing the unmanaged disk as a managed disk");
    let imported = async {
        let disk: ManagedDisk = disks::put(azure, &path, &disk_from_blob_body(&spec)).await?;
        account
            .blobs
            .set_metadata(
                DISK_CONTAINER,
                &blob,
                &with_migrated_marker(&properties.metadata),
            )
            .await?;
        Ok::<_, CpiError>(disk)
    }
    .await;
    let error = match imported {
        Ok(disk) => return Ok(disk),
        Err(error) => error,
    };
    // A managed disk without the marker (or a failed one) would be taken for the disk by the
    // next call; removing it leaves the blob, untouched, as the only copy.
    let cleanup = match disks::delete(azure, &path).await {
        Ok(_) => {
            "The blob is unchanged and still holds the disk; attach_disk can be retried.".to_owned()
        }
        Err(e) => format!(
            "The blob is unchanged, but the partly created managed disk '{}' in resource group '{resource_group}' could not be deleted ({e}): delete it (az disk delete --resource-group {resource_group} --name {}) before retrying.",
            disk_cid.disk_name(),
            disk_cid.disk_name()
        ),
    };
    Err(CpiError::cloud(format!(
        "attach_disk - Failed to create the managed disk for '{disk_cid}' from blob '{source_uri}': {}. {cleanup}",
        error.message()
    )))
}

/// The snapshot a finished zone migration leaves, to delete once the disk is in place.
struct MigrationSnapshot {
    path: ResourcePath,
    name: String,
    resource_group: String,
}

impl MigrationSnapshot {
    /// The disk is in place: a snapshot that cannot be deleted only costs storage, so it is
    /// reported, not failed on.
    async fn delete(&self, azure: &Azure<'_>) {
        if let Err(e) = snapshots::delete(azure, &self.path).await {
            tracing::warn!(snapshot = %self.name, resource_group = %self.resource_group, error = %e, "the zone migration snapshot could not be deleted; delete it by hand");
        }
    }
}

/// Moves a regional managed disk into `zone` under the same name: snapshot it, delete it,
/// recreate it from the snapshot in the zone, verify. Answers the new disk and the snapshot,
/// which the caller deletes.
async fn migrate_into_zone(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    caching: Caching,
    disk: &ManagedDisk,
    zone: &str,
) -> CpiResult<(ManagedDisk, MigrationSnapshot)> {
    if let Some(user) = &disk.managed_by {
        return Err(CpiError::cloud(format!(
            "Disk '{disk_cid}' is regional and attached to '{user}', so it cannot be moved into zone '{zone}'; detach it first. The disk is unchanged."
        )));
    }
    let resource_group = disk_cid.resource_group_name();
    let snapshot = SnapshotCid::new_managed(caching, resource_group)?;
    let snapshot_name = snapshot.snapshot_name();
    let snapshot_path = snapshots::path(azure, resource_group, snapshot_name);
    let disk_path = disks::path(azure, resource_group, &disk.name);
    tracing::info!(disk = %disk_cid, zone, snapshot = snapshot_name, "moving the regional disk into the VM's zone");

    // 1. Snapshot and verify it; the disk is untouched until the snapshot is known good.
    let body = snapshot_body(
        &disk.location,
        &disk.id,
        &snapshot_tags(&serde_json::Map::new(), &disk.name),
    );
    let snapshot_made = async {
        snapshots::put(azure, &snapshot_path, &body).await?;
        let found = snapshots::get(azure, &snapshot_path).await?;
        match found {
            Some(s) if provisioned(s.properties.provisioning_state.as_deref()) => Ok(s),
            Some(s) => Err(CpiError::cloud(format!(
                "snapshot '{snapshot_name}' is in state {}",
                s.properties.provisioning_state.unwrap_or_default()
            ))),
            None => Err(CpiError::cloud(format!(
                "snapshot '{snapshot_name}' cannot be found after its creation"
            ))),
        }
    }
    .await;
    let snapshot_resource = match snapshot_made {
        Ok(s) => s,
        Err(e) => {
            return Err(CpiError::cloud(format!(
                "migrate_to_zone - Cannot snapshot disk '{disk_cid}' to move it into zone '{zone}': {}. The disk is unchanged; {}",
                e.message(),
                remove_snapshot(azure, &snapshot_path, snapshot_name, resource_group).await
            )));
        }
    };

    // 2. Delete the regional disk. If it is still there afterwards, nothing was lost.
    if let Err(e) = disks::delete(azure, &disk_path).await {
        let still_there = disks::get(azure, resource_group, &disk.name)
            .await
            .ok()
            .flatten();
        if still_there.is_some() {
            return Err(CpiError::cloud(format!(
                "migrate_to_zone - Cannot delete regional disk '{disk_cid}' to recreate it in zone '{zone}': {e}. The disk is unchanged; {}",
                remove_snapshot(azure, &snapshot_path, snapshot_name, resource_group).await
            )));
        }
        tracing::warn!(disk = %disk_cid, error = %e, "the disk's delete reported a failure, but the disk is gone");
    }

    // 3. Recreate it in the zone from the snapshot; on failure put it back as it was.
    let zonal = zone_migration_spec(disk, &snapshot_resource.id, zone)?;
    let mut attempt = 0;
    let created = loop {
        match create_from_snapshot(azure, &disk_path, &zonal).await {
            Ok(created) => break Ok(created),
            Err(e) if attempt < ZONAL_CREATE_RETRIES => {
                attempt += 1;
                tracing::warn!(disk = %disk_cid, attempt, error = %e.message(), "creating the zonal disk failed; trying again");
            }
            Err(e) => break Err(e),
        }
    };
    let recover_by_hand = || {
        format!(
            "You need to recover '{disk_cid}' manually from snapshot '{snapshot_name}' and put it in zone '{zone}'. Try:\n    'az disk create --resource-group {resource_group} --location {} --sku {} --zone {zone} --name {} --source {snapshot_name}'",
            disk.location, zonal.sku, disk.name
        )
    };
    let created = match created {
        Ok(created) => created,
        Err(e) => {
            let restored = restore_regional(azure, &disk_path, disk, &zonal).await;
            return Err(CpiError::cloud(match restored {
                Ok(()) => format!(
                    "migrate_to_zone - Failed to create disk '{}' in zone '{zone}' from snapshot '{snapshot_name}' in resource group '{resource_group}': {}. The disk was restored from the snapshot as the regional disk it was, with its data and tags; {} Check that the disk's SKU {} is offered in zone '{zone}' before retrying.",
                    disk.name,
                    e.message(),
                    remove_snapshot(azure, &snapshot_path, snapshot_name, resource_group).await,
                    zonal.sku
                ),
                Err(restore_error) => format!(
                    "{}\nSnapshot '{snapshot_name}' holds the disk's data and is kept. Cause: {}; putting the disk back as a regional disk failed too: {}",
                    zone_migration_recovery_message(
                        disk,
                        &disk_cid.to_string(),
                        resource_group,
                        snapshot_name,
                        zone
                    ),
                    e.message(),
                    restore_error.message()
                ),
            }));
        }
    };

    // 4. The snapshot may go only once the zonal disk is known good.
    if created.zone() != Some(zone) {
        return Err(CpiError::cloud(format!(
            "migrate_to_zone - Disk '{}' in resource group '{resource_group}' is not in zone '{zone}' after its migration (zones: {:?}). Snapshot '{snapshot_name}' holds its data and is kept.\n{}",
            disk.name,
            created.zones,
            recover_by_hand()
        )));
    }
    tracing::info!(disk = %disk_cid, zone, "disk moved into the zone");
    Ok((
        created,
        MigrationSnapshot {
            path: snapshot_path,
            name: snapshot_name.to_owned(),
            resource_group: resource_group.to_owned(),
        },
    ))
}

/// PUT the disk from the snapshot, then read it back: it must exist and be provisioned.
async fn create_from_snapshot(
    azure: &Azure<'_>,
    disk_path: &ResourcePath,
    spec: &DiskFromSnapshotSpec,
) -> CpiResult<ManagedDisk> {
    disks::put::<Value>(azure, disk_path, &disk_from_snapshot_body(spec)).await?;
    let disk = disks::get_at(azure, disk_path).await?;
    match disk {
        Some(d) if provisioned(d.properties.provisioning_state.as_deref()) => Ok(d),
        Some(d) => Err(CpiError::cloud(format!(
            "the disk is in state {}",
            d.properties.provisioning_state.unwrap_or_default()
        ))),
        None => Err(CpiError::cloud(
            "the disk cannot be found after its creation",
        )),
    }
}

/// Puts the disk back where it was: whatever a failed zonal create left is deleted, then the
/// disk is recreated from the snapshot without a zone.
async fn restore_regional(
    azure: &Azure<'_>,
    disk_path: &ResourcePath,
    disk: &ManagedDisk,
    zonal: &DiskFromSnapshotSpec,
) -> CpiResult<()> {
    disks::delete(azure, disk_path).await?;
    let regional = DiskFromSnapshotSpec {
        zone: disk.zone().map(str::to_owned),
        ..zonal.clone()
    };
    create_from_snapshot(azure, disk_path, &regional).await?;
    Ok(())
}

/// Deletes a migration snapshot that is no longer needed; the answer ends the error message.
async fn remove_snapshot(
    azure: &Azure<'_>,
    path: &ResourcePath,
    name: &str,
    resource_group: &str,
) -> String {
    match snapshots::delete(azure, path).await {
        Ok(_) => "no snapshot is left behind.".to_owned(),
        Err(e) => format!(
            "snapshot '{name}' in resource group '{resource_group}' could not be deleted ({e}): delete it by hand (az snapshot delete --resource-group {resource_group} --name {name})."
        ),
    }
}

/// A resource without a provisioningState (older clouds) counts as provisioned.
fn provisioned(state: Option<&str>) -> bool {
    state.is_none_or(|s| s.eq_ignore_ascii_case("Succeeded"))
}
