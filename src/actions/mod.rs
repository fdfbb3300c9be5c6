//! One file per CPI method. `Cpi` decodes the call's IDs and cloud_properties into typed values
//! first, then runs the action; actions that talk to Azure run on a tokio runtime built only
//! for them, under one deadline for the whole call.

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

use std::path::PathBuf;

use serde_json::{Map, Value};

use self::azure::Azure;
use crate::azure::Deadline;
use crate::cid::{DiskCid, SnapshotCid, StemcellCid, VmCid};
use crate::config::Config;
use crate::config::Environment;
use crate::error::{CpiError, CpiResult};
use crate::names::{Kind, check as check_name, check_cid_length};
use crate::props::{DiskCloudProps, Networks, PropsContext, VmCloudProps, VmResources};
use crate::rpc::{ApiVersion, Call};

pub struct Cpi {
    pub config: Config,
    pub api_version: ApiVersion,
}

/// A decoded call: answered on the spot, or an action that needs Azure.
enum Decoded {
    Answer(Value),
    Azure(AzureCall),
}

/// A call whose arguments are decoded and that needs Azure.
enum AzureCall {
    HasVm(VmCid),
    RebootVm(VmCid),
    GetDisks(VmCid),
    SetVmMetadata(VmCid, Map<String, Value>),
    HasDisk(DiskCid),
    DeleteDisk(DiskCid),
    CreateDisk {
        size_mib: u64,
        props: DiskCloudProps,
        vm: Option<VmCid>,
    },
    CreateStemcell {
        image_path: PathBuf,
        cloud_properties: Map<String, Value>,
    },
    DeleteStemcell(StemcellCid),
    CalculateVmCloudProperties(VmResources),
    CreateVm(Box<create_vm::CreateVm>),
    DeleteVm(VmCid),
    AttachDisk(VmCid, DiskCid),
    DetachDisk(VmCid, DiskCid),
    ResizeDisk(DiskCid, u64),
    UpdateDisk {
        disk: DiskCid,
        size_mib: u64,
        props: DiskCloudProps,
    },
    SetDiskMetadata(DiskCid, Map<String, Value>),
    SnapshotDisk(DiskCid, Map<String, Value>),
    DeleteSnapshot(SnapshotCid),
}

impl Cpi {
    pub fn new(config: Config, api_version: ApiVersion) -> Self {
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

    pub fn run(&self, call: Call) -> CpiResult<Value> {
        let method = call.method_name();
        let azure_call = match self.decode(call)? {
            Decoded::Answer(value) => return Ok(value),
            Decoded::Azure(azure_call) => azure_call,
        };
        self.config.azure.check_names()?;
        let deadline = Deadline::after(self.config.azure.method_timeout(method));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| CpiError::cloud(format!("Cannot start the async runtime: {e}")))?;
        runtime.block_on(async {
            let azure = Azure::new(&self.config.azure, method, deadline)?;
            match azure_call {
                AzureCall::HasVm(vm) => has_vm::has_vm(&azure, &vm).await,
                AzureCall::RebootVm(vm) => reboot_vm::reboot_vm(&azure, &vm).await,
                AzureCall::GetDisks(vm) => get_disks::get_disks(&azure, &vm).await,
                AzureCall::SetVmMetadata(vm, metadata) => {
                    set_vm_metadata::set_vm_metadata(&azure, &vm, &metadata).await
                }
                AzureCall::HasDisk(disk) => has_disk::has_disk(&azure, &disk).await,
                AzureCall::DeleteDisk(disk) => delete_disk::delete_disk(&azure, &disk).await,
                AzureCall::CreateDisk {
                    size_mib,
                    props,
                    vm,
                } => create_disk::create_disk(&azure, size_mib, &props, vm.as_ref()).await,
                AzureCall::CreateStemcell {
                    image_path,
                    cloud_properties,
                } => create_stemcell::create_stemcell(&azure, &image_path, &cloud_properties).await,
                AzureCall::CalculateVmCloudProperties(desired) => {
                    calculate_vm_cloud_properties::calculate_vm_cloud_properties(&azure, &desired)
                        .await
                }
                AzureCall::DeleteStemcell(cid) => {
                    delete_stemcell::delete_stemcell(&azure, &cid).await
                }
                AzureCall::CreateVm(request) => {
                    create_vm::create_vm(&azure, &request, &self.config.agent, self.api_version)
                        .await
                }
                AzureCall::DeleteVm(vm) => delete_vm::delete_vm(&azure, &vm).await,
                AzureCall::AttachDisk(vm, disk) => {
                    attach_disk::attach_disk(&azure, &vm, &disk, self.api_version).await
                }
                AzureCall::DetachDisk(vm, disk) => {
                    detach_disk::detach_disk(&azure, &vm, &disk).await
                }
                AzureCall::ResizeDisk(disk, size_mib) => {
                    resize_disk::resize_disk(&azure, &disk, size_mib).await
                }
                AzureCall::UpdateDisk {
                    disk,
                    size_mib,
                    props,
                } => update_disk::update_disk(&azure, &disk, size_mib, &props).await,
                AzureCall::SetDiskMetadata(disk, metadata) => {
                    set_disk_metadata::set_disk_metadata(&azure, &disk, &metadata).await
                }
                AzureCall::SnapshotDisk(disk, metadata) => {
                    snapshot_disk::snapshot_disk(&azure, &disk, &metadata).await
                }
                AzureCall::DeleteSnapshot(snapshot) => {
                    delete_snapshot::delete_snapshot(&azure, &snapshot).await
                }
            }
        })
    }

    fn decode(&self, call: Call) -> CpiResult<Decoded> {
        let name = call.method_name();
        match call {
            Call::Info => Ok(Decoded::Answer(info::info())),
            Call::Ping | Call::CreateNetwork | Call::DeleteNetwork => Err(
                CpiError::not_implemented(format!("'{name}' is not implemented by the Azure CPI")),
            ),
            Call::ConfigureNetworks | Call::CurrentVmId => Err(CpiError::not_supported(format!(
                "'{name}' is not supported by the Azure CPI"
            ))),
            Call::HasVm { vm_cid } => Ok(Decoded::Azure(AzureCall::HasVm(self.vm_cid(&vm_cid)?))),
            Call::RebootVm { vm_cid } => {
                Ok(Decoded::Azure(AzureCall::RebootVm(self.vm_cid(&vm_cid)?)))
            }
            Call::GetDisks { vm_cid } => {
                Ok(Decoded::Azure(AzureCall::GetDisks(self.vm_cid(&vm_cid)?)))
            }
            Call::SetVmMetadata { vm_cid, metadata } => Ok(Decoded::Azure(
                AzureCall::SetVmMetadata(self.vm_cid(&vm_cid)?, metadata),
            )),
            Call::HasDisk { disk_cid } => Ok(Decoded::Azure(AzureCall::HasDisk(
                self.disk_cid(&disk_cid)?,
            ))),
            Call::DeleteDisk { disk_cid } => Ok(Decoded::Azure(AzureCall::DeleteDisk(
                self.disk_cid(&disk_cid)?,
            ))),
            Call::CreateDisk {
                size_mib,
                cloud_properties,
                vm_cid,
            } => Ok(Decoded::Azure(AzureCall::CreateDisk {
                size_mib,
                props: disk_props(cloud_properties)?,
                vm: vm_cid.as_deref().map(|cid| self.vm_cid(cid)).transpose()?,
            })),
            // Not built yet: every ID and cloud_properties value is still decoded first, so a
            // malformed one is refused the same way as it will be once the action exists.
            Call::CreateStemcell {
                image_path,
                cloud_properties,
                ..
            } => Ok(Decoded::Azure(AzureCall::CreateStemcell {
                image_path: PathBuf::from(image_path),
                cloud_properties,
            })),
            Call::DeleteStemcell { stemcell_cid } => Ok(Decoded::Azure(AzureCall::DeleteStemcell(
                stemcell_cid.parse()?,
            ))),
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
                Ok(Decoded::Azure(AzureCall::CreateVm(Box::new(
                    create_vm::CreateVm {
                        agent_id,
                        stemcell: stemcell_cid.parse()?,
                        props,
                        networks,
                        env,
                        disk_cids: disk_cids
                            .iter()
                            .map(|cid| self.disk_cid(cid))
                            .collect::<CpiResult<_>>()?,
                    },
                ))))
            }
            Call::DeleteVm { vm_cid } => {
                Ok(Decoded::Azure(AzureCall::DeleteVm(self.vm_cid(&vm_cid)?)))
            }
            Call::ResizeDisk {
                disk_cid,
                new_size_mib,
            } => Ok(Decoded::Azure(AzureCall::ResizeDisk(
                self.disk_cid(&disk_cid)?,
                new_size_mib,
            ))),
            Call::SetDiskMetadata { disk_cid, metadata } => Ok(Decoded::Azure(
                AzureCall::SetDiskMetadata(self.disk_cid(&disk_cid)?, metadata),
            )),
            Call::SnapshotDisk { disk_cid, metadata } => Ok(Decoded::Azure(
                AzureCall::SnapshotDisk(self.disk_cid(&disk_cid)?, metadata),
            )),
            Call::UpdateDisk {
                disk_cid,
                new_size_mib,
                cloud_properties,
            } => Ok(Decoded::Azure(AzureCall::UpdateDisk {
                disk: self.disk_cid(&disk_cid)?,
                size_mib: new_size_mib,
                props: disk_props(cloud_properties)?,
            })),
            Call::AttachDisk { vm_cid, disk_cid } => Ok(Decoded::Azure(AzureCall::AttachDisk(
                self.vm_cid(&vm_cid)?,
                self.disk_cid(&disk_cid)?,
            ))),
            Call::DetachDisk { vm_cid, disk_cid } => Ok(Decoded::Azure(AzureCall::DetachDisk(
                self.vm_cid(&vm_cid)?,
                self.disk_cid(&disk_cid)?,
            ))),
            Call::DeleteSnapshot { snapshot_cid } => {
                check_cid_length("snapshot_cid", &snapshot_cid)?;
                let snapshot =
                    SnapshotCid::parse(&snapshot_cid, &self.config.azure.resource_group_name)?;
                snapshot.check_names()?;
                Ok(Decoded::Azure(AzureCall::DeleteSnapshot(snapshot)))
            }
            Call::CalculateVmCloudProperties { desired } => {
                Ok(Decoded::Azure(AzureCall::CalculateVmCloudProperties(
                    VmResources::from_value(&Value::Object(desired))?,
                )))
            }
        }
    }
}

fn disk_props(cloud_properties: Map<String, Value>) -> CpiResult<DiskCloudProps> {
    let props = DiskCloudProps::from_value(&Value::Object(cloud_properties))?;
    props.check_names()?;
    Ok(props)
}
