//! Storage accounts through ARM: GET (endpoints), list by resource group, listKeys; and the
//! lazily resolved default account the blob layer writes stemcells to.

use std::collections::BTreeMap;

use azure_core::credentials::Secret;
use serde::Deserialize;
use tokio::sync::OnceCell;
use url::Url;

use crate::azure::arm::{ApiKind, ArmClient, PostSafety, ResourcePath};
use crate::azure::auth::AudienceCredential;
use crate::azure::deadline::Deadline;
use crate::azure::error::{Error, Result};
use crate::azure::settings::StorageAuthentication;

/// The fields of a storage account the CPI reads.
#[derive(Debug, Clone, Deserialize)]
pub struct StorageAccount {
    #[serde(default)]
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub location: String,
    pub sku: Option<Sku>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub properties: AccountProperties,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sku {
    pub name: String,
    pub tier: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountProperties {
    pub provisioning_state: Option<String>,
    /// `false` when the account refuses Shared Key (and account or service SAS) requests;
    /// absent means allowed ("Prevent Shared Key authorization for an Azure Storage account").
    pub allow_shared_key_access: Option<bool>,
    #[serde(default)]
    pub primary_endpoints: Endpoints,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Endpoints {
    pub blob: Option<String>,
    pub table: Option<String>,
}

#[derive(Deserialize)]
struct KeyList {
    #[serde(default)]
    keys: Vec<Key>,
}

#[derive(Deserialize)]
struct Key {
    value: Secret,
}

/// What the blob layer needs to reach one account.
#[derive(Debug, Clone)]
pub struct StorageAccess {
    pub account_name: String,
    /// `primaryEndpoints.blob`, e.g. `https://<account>.blob.core.windows.net/`.
    pub blob_endpoint: Url,
    pub auth: StorageAuth,
}

/// How blob requests to one account authenticate.
#[derive(Debug, Clone)]
pub enum StorageAuth {
    /// The first account key (base64, as Azure returns it). Never logged.
    SharedKey(Secret),
    /// Bearer tokens for the storage audience from the CPI's own credential.
    EntraId(AudienceCredential),
}

#[cfg(test)]
impl StorageAuth {
    pub(crate) fn account_key(&self) -> Option<&Secret> {
        match self {
            Self::SharedKey(key) => Some(key),
            Self::EntraId(_) => None,
        }
    }
}

/// Storage account operations in one resource group, plus the default account resolved once.
#[derive(Debug)]
pub struct StorageAccounts {
    pub(super) arm: ArmClient,
    resource_group: String,
    default_account: Option<String>,
    default_read: OnceCell<StorageAccount>,
    default_access: OnceCell<StorageAccess>,
}

impl StorageAccounts {
    /// `resource_group` is the CPI's default resource group; `default_account` the configured
    /// `storage_account_name`, if any.
    pub fn new(arm: ArmClient, resource_group: String, default_account: Option<String>) -> Self {
        Self {
            arm,
            resource_group,
            default_account,
            default_read: OnceCell::new(),
            default_access: OnceCell::new(),
        }
    }

    fn path(&self, name: &str) -> ResourcePath {
        self.arm
            .resource_group_path(&self.resource_group)
            .provider("Microsoft.Storage")
            .child("storageAccounts", name)
    }

    /// The account, or `None` when it does not exist.
    pub async fn get(&self, name: &str, deadline: Deadline) -> Result<Option<StorageAccount>> {
        self.arm
            .get(&self.path(name), ApiKind::Storage, deadline)
            .await
    }

    /// Every account in the resource group (all pages).
    pub(crate) async fn list(&self, deadline: Deadline) -> Result<Vec<StorageAccount>> {
        let path = self
            .arm
            .resource_group_path(&self.resource_group)
            .provider("Microsoft.Storage")
            .segment("storageAccounts");
        self.arm.list(&path, ApiKind::Storage, deadline).await
    }

    /// The account's first key.
    pub(crate) async fn primary_key(&self, name: &str, deadline: Deadline) -> Result<Secret> {
        let path = self.path(name).segment("listKeys");
        let keys: Option<KeyList> = self
            .arm
            .post(
                &path,
                ApiKind::Storage,
                None,
                PostSafety::Idempotent,
                deadline,
            )
            .await?;
        keys.and_then(|k| k.keys.into_iter().next())
            .map(|k| k.value)
            .ok_or_else(|| Error::Invalid(format!("storage account {name} returned no keys")))
    }

    /// Endpoint and key of one account.
    pub(crate) async fn access(&self, name: &str, deadline: Deadline) -> Result<StorageAccess> {
        let account = self
            .get(name, deadline)
            .await?
            .ok_or_else(|| self.not_found(name))?;
        self.access_of(&account, deadline).await
    }

    /// Endpoint and credential of an account already read: its key (`listKeys`), or the
    /// CPI's Entra ID credential when `azure.storage_authentication` says so for it.
    pub(crate) async fn access_of(
        &self,
        account: &StorageAccount,
        deadline: Deadline,
    ) -> Result<StorageAccess> {
        let name = account.name.as_str();
        let blob = account
            .properties
            .primary_endpoints
            .blob
            .as_deref()
            .ok_or_else(|| {
                Error::Invalid(format!("storage account {name} has no blob endpoint"))
            })?;
        let blob_endpoint = Url::parse(blob).map_err(|_| {
            Error::Invalid(format!(
                "storage account {name} has an invalid blob endpoint"
            ))
        })?;
        let entra_id = self
            .arm
            .storage_authentication()
            .uses_entra_id(account.properties.allow_shared_key_access);
        let auth = match self.arm.storage_credential() {
            Some(credential) if entra_id => StorageAuth::EntraId(credential),
            None if entra_id => {
                return Err(Error::Invalid(format!(
                    "storage account {name} forbids Shared Key access, and this cloud's storage takes no Microsoft Entra ID token"
                )));
            }
            _ => StorageAuth::SharedKey(self.primary_key(name, deadline).await?),
        };
        Ok(StorageAccess {
            account_name: account.name.clone(),
            blob_endpoint,
            auth,
        })
    }

    /// The configured default account, resolved on first use only (actions that need no blob
    /// never pay for it) and then reused.
    pub(crate) async fn default_access(&self, deadline: Deadline) -> Result<&StorageAccess> {
        self.default_access
            .get_or_try_init(|| async {
                let account = self.default_account(deadline).await?;
                self.access_of(account, deadline).await
            })
            .await
    }

    /// The configured default account as ARM reads it, fetched once.
    pub(crate) async fn default_account(&self, deadline: Deadline) -> Result<&StorageAccount> {
        let name = self
            .default_account
            .as_deref()
            .ok_or_else(|| Error::Invalid("azure.storage_account_name is not set".into()))?;
        self.default_read
            .get_or_try_init(|| async {
                self.get(name, deadline)
                    .await?
                    .ok_or_else(|| self.not_found(name))
            })
            .await
    }

    /// Whether the CPI works without account keys: `entra_id`, or `auto` with a default
    /// account that forbids Shared Key. Accounts the CPI creates then forbid it too, and VMs
    /// get managed boot diagnostics.
    pub(crate) async fn keyless(&self, deadline: Deadline) -> Result<bool> {
        Ok(match self.arm.storage_authentication() {
            StorageAuthentication::EntraId => true,
            StorageAuthentication::SharedKey => false,
            StorageAuthentication::Auto if self.default_account.is_none() => false,
            // A missing default account fails the calls that need it, not this question.
            StorageAuthentication::Auto => match self.default_account(deadline).await {
                Ok(account) => account.properties.allow_shared_key_access == Some(false),
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e),
            },
        })
    }

    fn not_found(&self, name: &str) -> Error {
        Error::NotFound {
            operation: format!("GET {}", self.path(name)),
            code: "StorageAccountNotFound".into(),
            message: format!(
                "storage account {name} does not exist in resource group {}",
                self.resource_group
            ),
        }
    }
}
