//! What an action that talks to Azure holds: the configuration, the one ARM client and the
//! deadline of the whole CPI call, plus the lookups several actions share.

use std::time::Duration;

use rand::Rng;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::azure::compute::disk::ManagedDisk;
use crate::azure::compute::vm::VirtualMachine;
use crate::azure::storage::StorageAccounts;
use crate::azure::storage::blob::BlobService;
use crate::azure::{ApiKind, ArmClient, Deadline, ResourcePath};
use crate::cid::{DiskCid, VmCid};
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

/// How many times a VM read-modify-write is recomputed after losing a race to another writer.
/// Each loss means another change landed, so this bounds progress, not time (the deadline does).
const VM_UPDATE_ATTEMPTS: u32 = 32;

impl<'a> Azure<'a> {
    /// No network traffic: the token is fetched by the first ARM call.
    /// `method` (the CPI method being served) is named in network failure messages.
    pub fn new(
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

    pub fn snapshot_path(&self, resource_group: &str, name: &str) -> ResourcePath {
        self.compute_path(resource_group, "snapshots", name)
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
        BlobService::new(access, self.arm.blob_options())
    }

    pub async fn managed_disk(
        &self,
        resource_group: &str,
        name: &str,
    ) -> CpiResult<Option<ManagedDisk>> {
        self.get(&self.disk_path(resource_group, name), ApiKind::Disks)
            .await
    }

    /// The managed disk a CID names, or `DiskNotFound`. Callers that handle legacy `bosh-data-*`
    /// blob disks look for the blob when there is no managed disk of that name.
    pub async fn existing_disk(&self, disk: &DiskCid) -> CpiResult<ManagedDisk> {
        self.managed_disk(disk.resource_group_name(), disk.disk_name())
            .await?
            .ok_or_else(|| disk_not_found(disk))
    }

    /// Read-modify-write of a VM without lost updates: GET, let `change` compute a PATCH from
    /// what was read (`None`: nothing to write), and send it with the GET's ETag as `If-Match`.
    /// When another writer changed the VM in between (412), read it again and recompute.
    /// A missing VM is `VMNotFound`. Returns what `change` returned for the VM it wrote.
    pub async fn update_vm<R>(
        &self,
        vm_cid: &VmCid,
        change: impl FnMut(&VirtualMachine) -> CpiResult<(Option<Value>, R)>,
    ) -> CpiResult<R> {
        let vm = self.existing_vm(vm_cid).await?;
        self.update_read_vm(vm_cid, vm, change).await
    }

    /// [`Azure::update_vm`] starting from a VM the caller has just read, saving a GET: its
    /// ETag guards the first write, and a 412 reads it again as usual.
    pub async fn update_read_vm<R>(
        &self,
        vm_cid: &VmCid,
        mut vm: VirtualMachine,
        mut change: impl FnMut(&VirtualMachine) -> CpiResult<(Option<Value>, R)>,
    ) -> CpiResult<R> {
        let path = self.vm_path(vm_cid);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (patch, outcome) = change(&vm)?;
            let Some(patch) = patch else {
                return Ok(outcome);
            };
            let result = match vm.etag.as_deref() {
                Some(etag) => {
                    self.arm
                        .patch_if_match::<_, Value>(
                            &path,
                            ApiKind::Compute,
                            &patch,
                            etag,
                            self.deadline,
                        )
                        .await
                }
                // Clouds that send no ETag (older Azure Stack profiles) get a plain PATCH.
                None => {
                    self.arm
                        .patch::<_, Value>(&path, ApiKind::Compute, &patch, self.deadline)
                        .await
                }
            };
            match result {
                Ok(_) => return Ok(outcome),
                Err(e) if e.is_precondition_failed() && attempt < VM_UPDATE_ATTEMPTS => {
                    tracing::debug!(vm = %vm_cid, attempt, "VM changed since it was read; reading it again");
                    // Jitter spreads writers that lost the same race, so one of them wins next.
                    let pause = Duration::from_millis(
                        rand::rng().random_range(0..=40 * u64::from(attempt.min(5))),
                    );
                    if pause >= self.deadline.remaining() {
                        return Err(e.into());
                    }
                    tokio::time::sleep(pause).await;
                    vm = self.existing_vm(vm_cid).await?;
                }
                Err(e) if e.is_not_found() => {
                    return Err(CpiError::VmNotFound(format!(
                        "VM '{vm_cid}' cannot be found"
                    )));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// `DiskNotFound` for a managed disk that does not exist. Not retriable: the disk does not come
/// back by sending the same call again.
pub fn disk_not_found(disk: &DiskCid) -> CpiError {
    CpiError::DiskNotFound {
        message: format!("Disk '{disk}' cannot be found"),
        ok_to_retry: false,
    }
}
