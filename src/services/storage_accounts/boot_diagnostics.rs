//! `enable_vm_boot_diagnostics`: the storage account that keeps VMs' serial console logs and
//! screenshots: one per location, tagged `type: bootdiagnostics` as the Ruby CPI tags it
//! (see [`super::find_or_create_tagged`]).

use super::find_or_create_tagged;
use crate::azure::compute::vm::BootDiagnostics;
use crate::error::{CpiError, CpiResult};
use crate::locks::LockDir;
use crate::services::Azure;

/// The `type` tag of boot diagnostics accounts.
const PURPOSE: &str = "bootdiagnostics";

/// Where VMs in `location` send boot diagnostics: `None` when diagnostics are off, and on
/// Azure Stack (which the Ruby CPI leaves out too); managed boot diagnostics when the CPI works
/// without account keys (a storage account of ours would need them for the platform to write
/// there); else the blob endpoint of the tagged account.
pub(crate) async fn boot_diagnostics(
    azure: &Azure<'_>,
    location: &str,
    locks: &LockDir,
) -> CpiResult<Option<BootDiagnostics>> {
    if !azure.config.enable_vm_boot_diagnostics || azure.config.azure_stack.is_some() {
        return Ok(None);
    }
    if azure.storage.keyless(azure.deadline).await? {
        return Ok(Some(BootDiagnostics::Managed));
    }
    let account = find_or_create_tagged(azure, location, PURPOSE, locks).await?;
    account
        .properties
        .primary_endpoints
        .blob
        .map(|uri| Some(BootDiagnostics::StorageAccount(uri)))
        .ok_or_else(|| {
            CpiError::cloud(format!(
                "The boot diagnostics storage account '{}' has no blob endpoint",
                account.name
            ))
        })
}
