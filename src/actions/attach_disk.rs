//! `attach_disk`: adds the managed disk to the VM at the lowest free LUN within the VM size's
//! data-disk limit and records the `disk-id-<name>` VM tag, in one PATCH guarded by the VM's
//! ETag (concurrent attaches and detaches on one VM never drop each other's disks). No fixed
//! sleeps. A disk already attached answers its LUN again without writing.
//!
//! Not handled yet (they need the blob layer and the migration flow): legacy unmanaged
//! `bosh-data-*` disks and the regional → zonal disk migration; both answer a CloudError that
//! says so, before anything is changed.

use serde_json::Value;

use super::azure::Azure;
use super::create_disk::vm_skus;
use crate::azure::compute::disk::needs_zone_migration;
use crate::azure::compute::sku::max_data_disks;
use crate::azure::compute::vm::{AttachDisk, DiskHints, attach_disk_patch, disk_id_tag};
use crate::cid::{DiskCid, VmCid};
use crate::error::{CpiError, CpiResult};
use crate::rpc::ApiVersion;

pub async fn attach_disk(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    disk_cid: &DiskCid,
    api_version: ApiVersion,
) -> CpiResult<Value> {
    let caching = disk_cid.caching()?;
    // The VM first: a missing VM is VMNotFound whatever the disk.
    let vm = azure.existing_vm(vm_cid).await?;
    let disk = azure.existing_disk(disk_cid).await?;
    if vm.data_disk(&disk.name).is_none() && needs_zone_migration(&disk, vm.zone()) {
        return Err(CpiError::cloud(format!(
            "Disk '{disk_cid}' is regional and VM '{vm_cid}' is in zone '{}': bosh-azure-cpi cannot migrate a disk into a zone yet; the disk is unchanged",
            vm.zone().unwrap_or_default()
        )));
    }
    let max_luns = match vm.vm_size() {
        Some(size) => max_data_disks(&vm_skus(azure, &vm.location).await?, size),
        None => {
            return Err(CpiError::cloud(format!(
                "VM '{vm_cid}' reports no vmSize, so its data-disk limit is unknown"
            )));
        }
    };
    let attach = AttachDisk {
        name: disk.name.clone(),
        caching,
        disk_cid: disk_cid.to_string(),
        managed_disk_id: disk.id.clone(),
    };
    let tag = disk_id_tag(&attach.name);
    let lun = azure
        .update_vm(vm_cid, |vm| {
            let plan = attach_disk_patch(vm, &attach, max_luns)?;
            // A Director retry of an attach that landed: nothing to write unless the tag is
            // missing.
            let done = plan.already_attached && vm.tags.get(&tag) == Some(&attach.disk_cid);
            Ok(((!done).then_some(plan.body), plan.lun))
        })
        .await?;
    Ok(match api_version {
        ApiVersion::V1 => Value::Null,
        ApiVersion::V2 | ApiVersion::V3 => serde_json::to_value(DiskHints::new(lun))
            .map_err(|e| CpiError::cloud(format!("Cannot encode the disk hints: {e}")))?,
    })
}
