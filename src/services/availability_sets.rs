//! Availability sets: created on a VM's first use, deleted with the last VM in them. Every
//! create_vm and delete_vm on a host agrees on one lock per set name, so a set is never deleted
//! while a VM is joining it.

use serde_json::Value;

use super::Azure;
use crate::azure::compute::availability_set::{
    AvailabilitySet, AvailabilitySetAction, AvailabilitySetSpec, availability_set_body,
    plan_availability_set,
};
use crate::azure::{ApiKind, ResourcePath};
use crate::error::{CpiError, CpiResult};
use crate::locks::{FileLock, LockDir, LockMode};

/// The availability set `name` in a VM's resource group.
pub(crate) fn path(azure: &Azure<'_>, resource_group: &str, name: &str) -> ResourcePath {
    azure.compute_path(resource_group, "availabilitySets", name)
}

/// The one lock name of a set: exclusive to create or delete it, shared while a VM joins or
/// leaves it.
fn lock_name(name: &str) -> String {
    format!("availability-set-{name}")
}

pub(crate) async fn get(
    azure: &Azure<'_>,
    path: &ResourcePath,
) -> CpiResult<Option<AvailabilitySet>> {
    azure.get(path, ApiKind::Compute).await
}

/// Held while a VM leaves the set, so the set is not deleted under it.
pub(crate) async fn lock_shared(
    azure: &Azure<'_>,
    locks: &LockDir,
    name: &str,
) -> CpiResult<FileLock> {
    locks
        .lock(&lock_name(name), LockMode::Shared, azure.deadline.instant())
        .await
}

/// A set the VM can join.
pub(crate) struct Joined {
    pub id: String,
    /// Shared lock: hold it until the VM is in the set, so delete_vm of the set's last VM
    /// cannot remove it meanwhile.
    pub lock: FileLock,
}

/// Gets or creates the set under its exclusive lock (upgrading an unmanaged set to managed
/// when asked), then answers its id under a shared lock. `on_create` runs before the set is
/// created, so a caller can record it for clean-up even when the creation fails midway.
pub(crate) async fn get_or_create(
    azure: &Azure<'_>,
    path: &ResourcePath,
    wanted: &AvailabilitySetSpec,
    locks: &LockDir,
    on_create: impl FnOnce(),
) -> CpiResult<Joined> {
    let name = path.name().to_owned();
    let deadline = azure.deadline.instant();
    {
        let _exclusive = locks
            .lock(&lock_name(&name), LockMode::Exclusive, deadline)
            .await?;
        let existing = get(azure, path).await?;
        let body = match plan_availability_set(&name, existing.as_ref(), wanted, None)? {
            AvailabilitySetAction::Use => None,
            AvailabilitySetAction::Create(spec) => {
                on_create();
                Some(availability_set_body(&spec))
            }
            AvailabilitySetAction::UpgradeToManaged(spec) => Some(availability_set_body(&spec)),
        };
        if let Some(body) = body {
            azure
                .arm
                .put::<_, Value>(path, ApiKind::Compute, &body, azure.deadline)
                .await?;
        }
    }
    // A flock cannot be downgraded atomically: once shared, read the set again, since a
    // delete_vm may have removed it (empty) in between.
    let lock = locks
        .lock(&lock_name(&name), LockMode::Shared, deadline)
        .await?;
    let set = get(azure, path).await?.ok_or_else(|| {
        CpiError::cloud(format!(
            "availability set '{name}' was deleted while this VM was being created"
        ))
    })?;
    Ok(Joined { id: set.id, lock })
}

/// Deletes the set under its exclusive lock when no VM is in it.
pub(crate) async fn delete_if_empty(
    azure: &Azure<'_>,
    path: &ResourcePath,
    locks: &LockDir,
) -> CpiResult<()> {
    let _lock = locks
        .lock(
            &lock_name(path.name()),
            LockMode::Exclusive,
            azure.deadline.instant(),
        )
        .await?;
    if get(azure, path).await?.is_some_and(|set| set.is_empty()) {
        azure
            .arm
            .delete(path, ApiKind::Compute, azure.deadline)
            .await?;
    }
    Ok(())
}
