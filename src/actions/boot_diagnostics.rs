//! `enable_vm_boot_diagnostics`: the storage account that keeps VMs' serial console logs and
//! screenshots: one per location, tagged `type: bootdiagnostics` as the Ruby CPI tags it
//! (see [`super::tagged_storage_account`]).

use super::azure::Azure;
use super::tagged_storage_account;
use crate::error::{CpiError, CpiResult};
use crate::locks::LockDir;

/// The `type` tag of boot diagnostics accounts.
const PURPOSE: &str = "bootdiagnostics";

/// The blob endpoint VMs in `location` send boot diagnostics to; `None` when diagnostics are
/// off, and on Azure Stack (which the Ruby CPI leaves out too).
pub(super) async fn diagnostics_storage_uri(
    azure: &Azure<'_>,
    location: &str,
    locks: &LockDir,
) -> CpiResult<Option<String>> {
    if !azure.config.enable_vm_boot_diagnostics || azure.config.azure_stack.is_some() {
        return Ok(None);
    }
    let account = tagged_storage_account::find_or_create(azure, location, PURPOSE, locks).await?;
    account
        .properties
        .primary_endpoints
        .blob
        .map(Some)
        .ok_or_else(|| {
            CpiError::cloud(format!(
                "The boot diagnostics storage account '{}' has no blob endpoint",
                account.name
            ))
        })
}
