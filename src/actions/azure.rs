//! What an action that talks to Azure holds: the configuration, the one ARM client and the
//! deadline of the whole CPI call, plus the lookups several actions share.

use serde::de::DeserializeOwned;

use crate::azure::compute::disk::ManagedDisk;
use crate::azure::compute::vm::VirtualMachine;
use crate::azure::storage::StorageAccounts;
use crate::azure::storage::blob::{BlobService, BlobServiceOptions};
use crate::azure::{ApiKind, ArmClient, Deadline, ResourcePath};
use crate::cid::VmCid;
use crate::config::AzureConfig;
use crate::error::{CpiError, CpiResult};

pub struct Azure<'a> {
    pub config: &'a AzureConfig,
    pub arm: ArmClient,
    pub deadline: Deadline,
    /// Storage accounts of the default resource group; the default account's keys are read
    /// only by actions that touch blobs.
    pub storage: StorageAccounts,
}

impl<'a> Azure<'a> {
    /// No network traffic: the token is fetched by the first ARM call.
    pub fn new(config: &'a AzureConfig, deadline: Deadline) -> CpiResult<Self> {
        let arm = ArmClient::new(&config.azure_settings())?;
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

    fn compute_path(&self, resource_group: &str, collection: &str, name: &str) -> ResourcePath {
        self.arm
            .resource_group_path(resource_group)
            .provider("Microsoft.Compute")
            .child(collection, name)
    }

    pub fn vm_path(&self, vm: &VmCid) -> ResourcePath {
        self.compute_path(vm.resource_group_name(), "virtualMachines", vm.vm_name())
    }

    pub fn disk_path(&self, resource_group: &str, name: &str) -> ResourcePath {
        self.compute_path(resource_group, "disks", name)
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
    ) -> CpiResult<Option<T>> {
        Ok(self.arm.get(path, api, self.deadline).await?)
    }

    pub async fn vm(&self, vm: &VmCid) -> CpiResult<Option<VirtualMachine>> {
        self.get(&self.vm_path(vm), ApiKind::Compute).await
    }

    /// The VM, or the Director's `VMNotFound` (which delete_vm and cck understand).
    pub async fn existing_vm(&self, vm: &VmCid) -> CpiResult<VirtualMachine> {
        self.vm(vm)
            .await?
            .ok_or_else(|| CpiError::VmNotFound(format!("VM '{vm}' cannot be found")))
    }

    /// The blob service of the default storage account (`azure.storage_account_name`).
    pub async fn default_blobs(&self) -> CpiResult<BlobService> {
        let access = self.storage.default_access(self.deadline).await?;
        BlobService::new(access, BlobServiceOptions::default())
    }

    pub async fn managed_disk(
        &self,
        resource_group: &str,
        name: &str,
    ) -> CpiResult<Option<ManagedDisk>> {
        self.get(&self.disk_path(resource_group, name), ApiKind::Disks)
            .await
    }
}
