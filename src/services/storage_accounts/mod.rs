//! Storage accounts: the default one (`azure.storage_account_name`), and those the CPI keeps one
//! per location for a purpose (boot diagnostics, stemcell copies), found in the default resource group by their tags (`user-agent: bosh`,
//! `type: <purpose>`) as the Ruby CPI tags them, so accounts either CPI made are shared; created
//! on first use under a cross-process lock.
//!
//! A new account is `StorageV2` (Azure retired general-purpose v1 accounts, which the Ruby CPI
//! still asks for), HTTPS-only with TLS 1.2 and no public blob access.

mod boot_diagnostics;

pub(crate) use boot_diagnostics::boot_diagnostics;
use serde::Deserialize;
use serde_json::{Value, json};

use super::Azure;
use crate::azure::storage::StorageAccount;
use crate::azure::{ApiKind, PostSafety, ResourcePath};
use crate::error::{CpiError, CpiResult};
use crate::locks::{LockDir, LockMode};

/// Random names are tried until Azure has one free; each miss is one more POST.
const NAME_ATTEMPTS: u32 = 10;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NameAvailability {
    #[serde(default)]
    name_available: bool,
}

/// The account tagged `{user-agent: bosh, type: <purpose>}` in `location`, created when there
/// is none. `purpose` also names the lock and appears in messages.
pub(crate) async fn find_or_create_tagged(
    azure: &Azure<'_>,
    location: &str,
    purpose: &str,
    locks: &LockDir,
) -> CpiResult<StorageAccount> {
    if let Some(found) = find(azure, location, purpose).await? {
        return Ok(found);
    }
    let _lock = locks
        .lock(
            &format!(
                "storage-account-{}-{purpose}",
                location.to_ascii_lowercase()
            ),
            LockMode::Exclusive,
            azure.deadline.instant(),
        )
        .await?;
    if let Some(found) = find(azure, location, purpose).await? {
        return Ok(found);
    }
    let name = free_name(azure, purpose).await?;
    let path = account_path(azure, &name);
    let keyless = azure.storage.keyless(azure.deadline).await?;
    let mut body = json!({
        "location": location,
        "sku": {"name": "Standard_LRS"},
        "kind": "StorageV2",
        "tags": {"user-agent": "bosh", "type": purpose},
        "properties": {
            "supportsHttpsTrafficOnly": true,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": false
        }
    });
    if keyless {
        body["properties"]["allowSharedKeyAccess"] = json!(false);
    }
    tracing::info!(account = %name, location, purpose, "creating a storage account");
    azure
        .arm
        .put::<_, Value>(&path, ApiKind::Storage, &body, azure.deadline)
        .await?;
    azure.get(&path, ApiKind::Storage).await?.ok_or_else(|| {
        CpiError::cloud(format!(
            "The {purpose} storage account '{name}' was not created"
        ))
    })
}

/// The ARM model of `azure.storage_account_name`.
pub(crate) async fn default_account(azure: &Azure<'_>) -> CpiResult<StorageAccount> {
    let account_name = azure
        .config
        .storage_account_name
        .as_deref()
        .ok_or_else(|| {
            CpiError::cloud(
                "Missing required property 'azure.storage_account_name' in the CPI configuration",
            )
        })?;
    azure
        .storage
        .get(account_name, azure.deadline)
        .await?
        .ok_or_else(|| {
            CpiError::cloud(format!(
                "The default storage account '{account_name}' cannot be found"
            ))
        })
}

fn account_path(azure: &Azure<'_>, name: &str) -> ResourcePath {
    azure
        .arm
        .resource_group_path(&azure.config.resource_group_name)
        .provider("Microsoft.Storage")
        .child("storageAccounts", name)
}

async fn find(
    azure: &Azure<'_>,
    location: &str,
    purpose: &str,
) -> CpiResult<Option<StorageAccount>> {
    let accounts = azure.storage.list(azure.deadline).await?;
    Ok(accounts.into_iter().find(|account| {
        account.location.eq_ignore_ascii_case(location)
            && account.tags.get("user-agent").map(String::as_str) == Some("bosh")
            && account.tags.get("type").map(String::as_str) == Some(purpose)
    }))
}

/// 24 random hex characters (the longest name Azure allows), as the Ruby CPI names them.
async fn free_name(azure: &Azure<'_>, purpose: &str) -> CpiResult<String> {
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
    Err(CpiError::cloud(format!(
        "Cannot find a free name for the {purpose} storage account"
    )))
}
