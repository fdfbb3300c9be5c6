//! Managed disks: their path, reads, and the disks a VM owns by name.

use futures::future::try_join_all;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::Azure;
use crate::azure::compute::disk::ManagedDisk;
use crate::azure::{ApiKind, Deleted, ResourcePath, Result as AzureResult};
use crate::cid::{DiskCid, VmCid};
use crate::error::{CpiError, CpiResult};

pub(crate) fn path(azure: &Azure<'_>, resource_group: &str, name: &str) -> ResourcePath {
    azure.compute_path(resource_group, "disks", name)
}

pub(crate) async fn get(
    azure: &Azure<'_>,
    resource_group: &str,
    name: &str,
) -> CpiResult<Option<ManagedDisk>> {
    azure
        .get(&path(azure, resource_group, name), ApiKind::Disks)
        .await
}

/// `DiskNotFound` for a managed disk that does not exist. Not retriable: the disk does not come
/// back by sending the same call again.
pub(crate) fn not_found(disk: &DiskCid) -> CpiError {
    CpiError::DiskNotFound {
        message: format!("Disk '{disk}' cannot be found"),
        ok_to_retry: false,
    }
}

/// The managed disk a CID names, or `DiskNotFound`. Callers that handle legacy `bosh-data-*`
/// blob disks look for the blob when there is no managed disk of that name.
pub(crate) async fn existing(azure: &Azure<'_>, disk: &DiskCid) -> CpiResult<ManagedDisk> {
    get(azure, disk.resource_group_name(), disk.disk_name())
        .await?
        .ok_or_else(|| not_found(disk))
}

/// The disk at `path` (an id from Azure, or a path built here).
pub(crate) async fn get_at(
    azure: &Azure<'_>,
    path: &ResourcePath,
) -> CpiResult<Option<ManagedDisk>> {
    azure.get(path, ApiKind::Disks).await
}

/// PUTs the disk, waiting until Azure has created it; answers the disk as Azure returned it.
pub(crate) async fn put<T: DeserializeOwned>(
    azure: &Azure<'_>,
    path: &ResourcePath,
    body: &impl Serialize,
) -> AzureResult<T> {
    azure
        .arm
        .put(path, ApiKind::Disks, body, azure.deadline)
        .await
}

/// PATCHes the disk, waiting until Azure has applied the change.
pub(crate) async fn patch(
    azure: &Azure<'_>,
    path: &ResourcePath,
    body: &impl Serialize,
) -> AzureResult<()> {
    azure
        .arm
        .patch::<_, Value>(path, ApiKind::Disks, body, azure.deadline)
        .await
        .map(drop)
}

pub(crate) async fn delete(azure: &Azure<'_>, path: &ResourcePath) -> AzureResult<Deleted> {
    azure.arm.delete(path, ApiKind::Disks, azure.deadline).await
}

/// The VM's OS and ephemeral managed disks, found by the names create_vm gives them, so a
/// retried deletion finds them after the VM is gone.
pub(crate) async fn delete_vm_disks(azure: &Azure<'_>, vm: &VmCid) -> CpiResult<()> {
    try_join_all(
        [vm.os_disk_name(), vm.ephemeral_disk_name()].map(|name| async move {
            delete(azure, &path(azure, vm.resource_group_name(), &name)).await
        }),
    )
    .await?;
    Ok(())
}
