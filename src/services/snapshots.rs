//! Managed snapshots: of persistent disks (snapshot_disk), and the intermediate snapshot that
//! moves a regional disk into a zone.

use serde::Serialize;
use serde_json::Value;

use super::Azure;
use crate::azure::compute::snapshot::ManagedSnapshot;
use crate::azure::{ApiKind, Deleted, ResourcePath, Result as AzureResult};
use crate::error::CpiResult;

pub(crate) fn path(azure: &Azure<'_>, resource_group: &str, name: &str) -> ResourcePath {
    azure.compute_path(resource_group, "snapshots", name)
}

/// PUTs the snapshot, waiting until Azure has taken it.
pub(crate) async fn put(
    azure: &Azure<'_>,
    path: &ResourcePath,
    body: &impl Serialize,
) -> AzureResult<()> {
    azure
        .arm
        .put::<_, Value>(path, ApiKind::Snapshots, body, azure.deadline)
        .await
        .map(drop)
}

pub(crate) async fn get(
    azure: &Azure<'_>,
    path: &ResourcePath,
) -> CpiResult<Option<ManagedSnapshot>> {
    azure.get(path, ApiKind::Snapshots).await
}

pub(crate) async fn delete(azure: &Azure<'_>, path: &ResourcePath) -> AzureResult<Deleted> {
    azure
        .arm
        .delete(path, ApiKind::Snapshots, azure.deadline)
        .await
}
