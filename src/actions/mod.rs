//! One file per CPI method, and the dispatch: one match over the decoded [`Call`] that reads
//! each method's IDs and cloud_properties into typed values, then runs its action. Actions that
//! talk to Azure run on a tokio runtime built only for them, under one deadline for the whole
//! call.

mod abandoned_uploads;
mod attach_disk;
mod azure;
mod boot_diagnostics;
mod calculate_vm_cloud_properties;
mod create_disk;
mod create_stemcell;
mod create_vm;
mod delete_disk;
mod delete_snapshot;
mod delete_stemcell;
mod delete_vm;
mod detach_disk;
mod disk_staging;
mod gallery_image;
mod get_disks;
mod has_disk;
mod has_vm;
mod info;
mod reboot_vm;
mod resize_disk;
mod resource_skus;
mod set_disk_metadata;
mod set_vm_metadata;
mod snapshot_disk;
mod stemcell_copy;
mod tagged_storage_account;
mod update_disk;
mod vm_size;

use std::path::Path;

use serde_json::{Map, Value};

use self::azure::Azure;
use crate::azure::Deadline;
use crate::call::{ApiVersion, Call, Method};
use crate::cid::{DiskCid, SnapshotCid, VmCid};
use crate::config::Config;
use crate::config::Environment;
use crate::error::{CpiError, CpiResult};
use crate::names::{Kind, check as check_name, check_cid_length};
use crate::props::{DiskCloudProps, Networks, PropsContext, VmCloudProps, VmResources};

pub(crate) struct Cpi {
    pub config: Config,
    pub api_version: ApiVersion,
}

impl Cpi {
    pub(crate) fn new(config: Config, api_version: ApiVersion) -> Self {
        Self {
            config,
            api_version,
        }
    }

    /// A VM CID from the Director: parsed, and its names checked against Azure's rules.
    fn vm_cid(&self, cid: &str) -> CpiResult<VmCid> {
        check_cid_length("vm_cid", cid)?;
        let vm = VmCid::parse(cid, &self.config.azure.resource_group_name)?;
        vm.check_names()?;
        Ok(vm)
    }

    fn props_context(&self) -> PropsContext {
        let azure = &self.config.azure;
        PropsContext {
            default_resource_group_name: azure.resource_group_name.clone(),
            is_azure_stack: azure.environment == Environment::AzureStack,
            use_managed_disks: azure.use_managed_disks,
            default_managed_identity: azure.default_managed_identity.clone(),
        }
    }

    /// A disk CID from the Director: parsed, and its names checked against Azure's rules.
    fn disk_cid(&self, cid: &str) -> CpiResult<DiskCid> {
        check_cid_length("disk_cid", cid)?;
        let disk = DiskCid::parse(cid, &self.config.azure.resource_group_name)?;
        disk.check_names("disk_cid")?;
        Ok(disk)
    }

    /// Runs the call. Every ID and cloud_properties value is read before Azure is reached,
    /// so a malformed one is refused without any traffic.
    pub(crate) fn run(&self, call: Call) -> CpiResult<Value> {
        let method = call.method();
        match call {
            Call::Info => Ok(info::info()),
            Call::Ping | Call::CreateNetwork | Call::DeleteNetwork => {
                Err(CpiError::not_implemented(format!(
                    "'{}' is not implemented by the Azure CPI",
                    method.wire_name()
                )))
            }
            Call::ConfigureNetworks | Call::CurrentVmId => Err(CpiError::not_supported(format!(
                "'{}' is not supported by the Azure CPI",
                method.wire_name()
            ))),
            Call::HasVm { vm_cid } => {
                let vm = self.vm_cid(&vm_cid)?;
                self.on_azure(method, async |azure| has_vm::has_vm(azure, &vm).await)
            }
            Call::RebootVm { vm_cid } => {
                let vm = self.vm_cid(&vm_cid)?;
                self.on_azure(method, async |azure| reboot_vm::reboot_vm(azure, &vm).await)
            }
            Call::GetDisks { vm_cid } => {
                let vm = self.vm_cid(&vm_cid)?;
                self.on_azure(method, async |azure| get_disks::get_disks(azure, &vm).await)
            }
            Call::SetVmMetadata { vm_cid, metadata } => {
                let vm = self.vm_cid(&vm_cid)?;
                self.on_azure(method, async |azure| {
                    set_vm_metadata::set_vm_metadata(azure, &vm, &metadata).await
                })
            }
            Call::HasDisk { disk_cid } => {
                let disk = self.disk_cid(&disk_cid)?;
                self.on_azure(method, async |azure| has_disk::has_disk(azure, &disk).await)
            }
            Call::DeleteDisk { disk_cid } => {
                let disk = self.disk_cid(&disk_cid)?;
                self.on_azure(method, async |azure| {
                    delete_disk::delete_disk(azure, &disk).await
                })
            }
            Call::CreateDisk {
                size_mib,
                cloud_properties,
                vm_cid,
            } => {
                let props = disk_props(cloud_properties)?;
                let vm = vm_cid.as_deref().map(|cid| self.vm_cid(cid)).transpose()?;
                self.on_azure(method, async |azure| {
                    create_disk::create_disk(azure, size_mib, &props, vm.as_ref()).await
                })
            }
            // The v3 `env` (stemcell tags) is not used by the Azure CPI.
            Call::CreateStemcell {
                image_path,
                cloud_properties,
                ..
            } => self.on_azure(method, async |azure| {
                create_stemcell::create_stemcell(azure, Path::new(&image_path), &cloud_properties)
                    .await
            }),
            Call::DeleteStemcell { stemcell_cid } => {
                let stemcell = stemcell_cid.parse()?;
                self.on_azure(method, async |azure| {
                    delete_stemcell::delete_stemcell(azure, &stemcell).await
                })
            }
            Call::CreateVm {
                agent_id,
                stemcell_cid,
                cloud_properties,
                networks,
                disk_cids,
                env,
            } => {
                let context = self.props_context();
                // The VM's name, and its disks' and NICs' names derived from it.
                check_name(Kind::VirtualMachine, "agent_id", &agent_id)?;
                check_name(
                    Kind::Resource,
                    "agent_id (in the ephemeral disk name)",
                    &VmCid::new_managed(&agent_id, "rg")?.ephemeral_disk_name(),
                )?;
                let props = VmCloudProps::from_value(&Value::Object(cloud_properties), &context)?;
                props.check_names()?;
                let networks = Networks::from_value(&Value::Object(networks), &context)?;
                networks.check_names()?;
                let request = create_vm::CreateVm {
                    agent_id,
                    stemcell: stemcell_cid.parse()?,
                    props,
                    networks,
                    env,
                    disk_cids: disk_cids
                        .iter()
                        .map(|cid| self.disk_cid(cid))
                        .collect::<CpiResult<_>>()?,
                };
                self.on_azure(method, async |azure| {
                    create_vm::create_vm(azure, &request, &self.config.agent, self.api_version)
                        .await
                })
            }
            Call::DeleteVm { vm_cid } => {
                let vm = self.vm_cid(&vm_cid)?;
                self.on_azure(method, async |azure| delete_vm::delete_vm(azure, &vm).await)
            }
            Call::ResizeDisk {
                disk_cid,
                new_size_mib,
            } => {
                let disk = self.disk_cid(&disk_cid)?;
                self.on_azure(method, async |azure| {
                    resize_disk::resize_disk(azure, &disk, new_size_mib).await
                })
            }
            Call::SetDiskMetadata { disk_cid, metadata } => {
                let disk = self.disk_cid(&disk_cid)?;
                self.on_azure(method, async |azure| {
                    set_disk_metadata::set_disk_metadata(azure, &disk, &metadata).await
                })
            }
            Call::SnapshotDisk { disk_cid, metadata } => {
                let disk = self.disk_cid(&disk_cid)?;
                self.on_azure(method, async |azure| {
                    snapshot_disk::snapshot_disk(azure, &disk, &metadata).await
                })
            }
            Call::UpdateDisk {
                disk_cid,
                new_size_mib,
                cloud_properties,
            } => {
                let disk = self.disk_cid(&disk_cid)?;
                let props = disk_props(cloud_properties)?;
                self.on_azure(method, async |azure| {
                    update_disk::update_disk(azure, &disk, new_size_mib, &props).await
                })
            }
            Call::AttachDisk { vm_cid, disk_cid } => {
                let vm = self.vm_cid(&vm_cid)?;
                let disk = self.disk_cid(&disk_cid)?;
                self.on_azure(method, async |azure| {
                    attach_disk::attach_disk(azure, &vm, &disk, self.api_version).await
                })
            }
            Call::DetachDisk { vm_cid, disk_cid } => {
                let vm = self.vm_cid(&vm_cid)?;
                let disk = self.disk_cid(&disk_cid)?;
                self.on_azure(method, async |azure| {
                    detach_disk::detach_disk(azure, &vm, &disk).await
                })
            }
            Call::DeleteSnapshot { snapshot_cid } => {
                check_cid_length("snapshot_cid", &snapshot_cid)?;
                let snapshot =
                    SnapshotCid::parse(&snapshot_cid, &self.config.azure.resource_group_name)?;
                snapshot.check_names()?;
                self.on_azure(method, async |azure| {
                    delete_snapshot::delete_snapshot(azure, &snapshot).await
                })
            }
            Call::CalculateVmCloudProperties { desired } => {
                let desired = VmResources::from_value(&Value::Object(desired))?;
                self.on_azure(method, async |azure| {
                    calculate_vm_cloud_properties::calculate_vm_cloud_properties(azure, &desired)
                        .await
                })
            }
        }
    }

    /// Runs `action` against Azure under the method's deadline, on a runtime of its own.
    fn on_azure(
        &self,
        method: Method,
        action: impl AsyncFnOnce(&Azure<'_>) -> CpiResult<Value>,
    ) -> CpiResult<Value> {
        self.config.azure.check_names()?;
        let timeout = self.config.azure.method_timeout(method).ok_or_else(|| {
            CpiError::cloud(format!(
                "Internal error in bosh-azure-cpi (please report this bug): '{}' has no timeout",
                method.wire_name()
            ))
        })?;
        let deadline = Deadline::after(timeout);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| CpiError::cloud(format!("Cannot start the async runtime: {e}")))?;
        runtime.block_on(async {
            let azure = Azure::new(&self.config.azure, method.wire_name(), deadline)?;
            action(&azure).await
        })
    }
}

fn disk_props(cloud_properties: Map<String, Value>) -> CpiResult<DiskCloudProps> {
    let props = DiskCloudProps::from_value(&Value::Object(cloud_properties))?;
    props.check_names()?;
    Ok(props)
}
