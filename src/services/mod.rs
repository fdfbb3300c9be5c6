//! One service per Azure resource the CPI manages. Each owns its ARM paths, its reads and
//! writes (the ETag read-modify-write included), its lock names and its waits, so actions only
//! orchestrate: they call services and never each other. [`Azure`] is what every service works
//! with: the configuration, the one ARM client, the storage accounts and the deadline of the
//! whole CPI call.

pub(crate) mod availability_sets;
pub(crate) mod disks;
pub(crate) mod galleries;
pub(crate) mod images;
pub(crate) mod network;
pub(crate) mod nics;
pub(crate) mod public_ips;
pub(crate) mod resource_groups;
pub(crate) mod skus;
pub(crate) mod snapshots;
pub(crate) mod staging_disks;
pub(crate) mod stemcell_blobs;
pub(crate) mod storage_accounts;
pub(crate) mod vm_sizes;
pub(crate) mod vms;

use serde::de::DeserializeOwned;

use crate::azure::storage::StorageAccounts;
use crate::azure::storage::blob::{BlobService, BlobServiceOptions};
use crate::azure::{ApiKind, ArmClient, Deadline, ResourcePath};
use crate::config::AzureConfig;
use crate::error::CpiResult;

pub(crate) struct Azure<'a> {
    pub config: &'a AzureConfig,
    pub arm: ArmClient,
    pub deadline: Deadline,
    /// Storage accounts of the default resource group; the default account's keys are read
    /// only by actions that touch blobs.
    pub storage: StorageAccounts,
}

impl<'a> Azure<'a> {
    /// No network traffic: the token is fetched by the first ARM call.
    /// `method` (the CPI method being served) is named in network failure messages.
    pub(crate) fn new(
        config: &'a AzureConfig,
        method: &'static str,
        deadline: Deadline,
    ) -> CpiResult<Self> {
        let mut settings = config.azure_settings();
        settings.cpi_method = Some(method);
        settings.method_deadline = Some(deadline);
        let arm = ArmClient::new(&settings)?;
        let storage = StorageAccounts::new(
            arm.clone(),
            config.resource_group_name.clone(),
            config.storage_account_name.clone(),
        );
        Ok(Self {
            config,
            arm,
            deadline,
            storage,
        })
    }

    /// `<resource group>/providers/Microsoft.Compute/<collection>/<name>`.
    pub(crate) fn compute_path(
        &self,
        resource_group: &str,
        collection: &str,
        name: &str,
    ) -> ResourcePath {
        self.arm
            .resource_group_path(resource_group)
            .provider("Microsoft.Compute")
            .child(collection, name)
    }

    /// The `Microsoft.Network` provider of a resource group.
    pub(crate) fn network_path(&self, resource_group: &str) -> ResourcePath {
        self.arm
            .resource_group_path(resource_group)
            .provider("Microsoft.Network")
    }

    /// The resource at `path`, or `None` when Azure answers 404.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
    ) -> CpiResult<Option<T>> {
        Ok(self.arm.get(path, api, self.deadline).await?)
    }

    /// The blob service of the default storage account (`azure.storage_account_name`).
    pub(crate) async fn default_blobs(&self) -> CpiResult<BlobService> {
        let access = self.storage.default_access(self.deadline).await?;
        BlobService::new(access, BlobServiceOptions::on_stack_of(&self.arm))
    }
}
