//! `enable_vm_boot_diagnostics`: the storage account that keeps VMs' serial console logs and
//! screenshots. One per location in the default resource group, found by its tags
//! (`user-agent: bosh`, `type: bootdiagnostics`) as the Ruby CPI tags it, so accounts either
//! CPI made are shared; created on first use under a cross-process lock.
//!
//! A new account is `StorageV2` (Azure retired general-purpose v1 accounts, which the Ruby CPI
//! still asks for), HTTPS-only with TLS 1.2 and no public blob access.

use serde::Deserialize;
use serde_json::{Value, json};

use super::azure::Azure;
use crate::azure::storage::StorageAccount;
use crate::azure::{ApiKind, PostSafety, ResourcePath};
use crate::error::{CpiError, CpiResult};
use crate::locks::{LockDir, LockMode};

const TAGS: [(&str, &str); 2] = [("user-agent", "bosh"), ("type", "bootdiagnostics")];
/// Random names are tried until Azure has one free; each miss is one more POST.
const NAME_ATTEMPTS: u32 = 10;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NameAvailability {
    #[serde(default)]
    name_available: bool,
}

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
    if let Some(found) = find(azure, location).await? {
        return blob_endpoint(found).map(Some);
    }
    let _lock = locks
        .lock(
            &format!(
                "storage-account-{}-bootdiagnostics",
                location.to_ascii_lowercase()
            ),
            LockMode::Exclusive,
            azure.deadline.instant(),
        )
        .await?;
    if let Some(found) = find(azure, location).await? {
        return blob_endpoint(found).map(Some);
    }
    let name = free_name(azure).await?;
    let path = account_path(azure, &name);
    let tags: serde_json::Map<String, Value> = TAGS
        .iter()
        .map(|(key, value)| ((*key).to_owned(), json!(value)))
        .collect();
    let body = json!({
        "location": location,
        "sku": {"name": "Standard_LRS"},
        "kind": "StorageV2",
        "tags": tags,
        "properties": {
            "supportsHttpsTrafficOnly": true,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": false
        }
    });
    tracing::info!(account = %name, location, "creating the boot diagnostics storage account");
    azure
        .arm
        .put::<_, Value>(&path, ApiKind::Storage, &body, azure.deadline)
        .await?;
    let created: StorageAccount = azure.get(&path, ApiKind::Storage).await?.ok_or_else(|| {
        CpiError::cloud(format!(
            "The boot diagnostics storage account '{name}' was not created"
        ))
    })?;
    blob_endpoint(created).map(Some)
}

fn account_path(azure: &Azure<'_>, name: &str) -> ResourcePath {
    azure
        .arm
        .resource_group_path(&azure.config.resource_group_name)
        .provider("Microsoft.Storage")
        .child("storageAccounts", name)
}

async fn find(azure: &Azure<'_>, location: &str) -> CpiResult<Option<StorageAccount>> {
    let accounts = azure.storage.list(azure.deadline).await?;
    Ok(accounts.into_iter().find(|account| {
        account.location.eq_ignore_ascii_case(location)
            && TAGS
                .iter()
                .all(|(key, value)| account.tags.get(*key).map(String::as_str) == Some(*value))
    }))
}

fn blob_endpoint(account: StorageAccount) -> CpiResult<String> {
    account.properties.primary_endpoints.blob.ok_or_else(|| {
        CpiError::cloud(format!(
            "The boot diagnostics storage account '{}' has no blob endpoint",
            account.name
        ))
    })
}

/// 24 random hex characters (the longest name Azure allows), as the Ruby CPI names them.
async fn free_name(azure: &Azure<'_>) -> CpiResult<String> {
    let path = ResourcePath::subscription(azure.arm.subscription_id())
        .provider("Microsoft.Storage")
        .segment("checkNameAvailability");
    for _ in 0..NAME_ATTEMPTS {
        let name: String = uuid::Uuid::new_v4().simple().to_string()[..24].to_owned();
        let answer: Option<NameAvailability> = azure
            .arm
            .post(
                &path,
                ApiKind::Storage,
                Some(&json!({"name": name, "type": "Microsoft.Storage/storageAccounts"})),
                PostSafety::Idempotent,
                azure.deadline,
            )
            .await?;
        if answer.is_some_and(|a| a.name_available) {
            return Ok(name);
        }
    }
    Err(CpiError::cloud(
        "Cannot find a free name for the boot diagnostics storage account",
    ))
}
