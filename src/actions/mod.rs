//! One file per CPI method. `Cpi` holds what a request needs, decodes the call's IDs and
//! cloud_properties into typed values, then runs the action.

mod info;

use serde_json::Value;

use crate::cid::{DiskCid, SnapshotCid, StemcellCid, VmCid};
use crate::config::Config;
use crate::error::{CpiError, CpiResult};
use crate::props::{DiskCloudProps, VmResources};
use crate::rpc::{ApiVersion, Call};

pub struct Cpi {
    pub config: Config,
    pub api_version: ApiVersion,
}

impl Cpi {
    pub fn new(config: Config, api_version: ApiVersion) -> Self {
        Self {
            config,
            api_version,
        }
    }

    fn vm_cid(&self, cid: &str) -> CpiResult<VmCid> {
        VmCid::parse(cid, &self.config.azure.resource_group_name)
    }

    fn disk_cid(&self, cid: &str) -> CpiResult<DiskCid> {
        DiskCid::parse(cid, &self.config.azure.resource_group_name)
    }

    pub fn run(&self, call: Call) -> CpiResult<Value> {
        let name = call.method_name();
        match call {
            Call::Info => Ok(info::info()),
            Call::Ping | Call::CreateNetwork | Call::DeleteNetwork => Err(
                CpiError::not_implemented(format!("'{name}' is not implemented by the Azure CPI")),
            ),
            Call::ConfigureNetworks | Call::CurrentVmId => Err(CpiError::not_supported(format!(
                "'{name}' is not supported by the Azure CPI"
            ))),
            // Every ID and cloud_properties value is decoded before anything else happens, so
            // a malformed one is refused the same way whether or not the action exists yet.
            Call::DeleteStemcell { stemcell_cid } => {
                stemcell_cid.parse::<StemcellCid>()?;
                not_yet(name)
            }
            Call::CreateVm { stemcell_cid, .. } => {
                stemcell_cid.parse::<StemcellCid>()?;
                not_yet(name)
            }
            Call::DeleteVm { vm_cid }
            | Call::HasVm { vm_cid }
            | Call::RebootVm { vm_cid }
            | Call::GetDisks { vm_cid }
            | Call::SetVmMetadata { vm_cid, .. } => {
                self.vm_cid(&vm_cid)?;
                not_yet(name)
            }
            Call::DeleteDisk { disk_cid }
            | Call::HasDisk { disk_cid }
            | Call::ResizeDisk { disk_cid, .. }
            | Call::SetDiskMetadata { disk_cid, .. }
            | Call::SnapshotDisk { disk_cid, .. } => {
                self.disk_cid(&disk_cid)?;
                not_yet(name)
            }
            Call::UpdateDisk {
                disk_cid,
                cloud_properties,
                ..
            } => {
                self.disk_cid(&disk_cid)?;
                DiskCloudProps::from_value(&Value::Object(cloud_properties))?;
                not_yet(name)
            }
            Call::CreateDisk {
                cloud_properties,
                vm_cid,
                ..
            } => {
                DiskCloudProps::from_value(&Value::Object(cloud_properties))?;
                vm_cid.as_deref().map(|cid| self.vm_cid(cid)).transpose()?;
                not_yet(name)
            }
            Call::AttachDisk { vm_cid, disk_cid } | Call::DetachDisk { vm_cid, disk_cid } => {
                self.vm_cid(&vm_cid)?;
                self.disk_cid(&disk_cid)?;
                not_yet(name)
            }
            Call::DeleteSnapshot { snapshot_cid } => {
                SnapshotCid::parse(&snapshot_cid, &self.config.azure.resource_group_name)?;
                not_yet(name)
            }
            Call::CalculateVmCloudProperties { desired } => {
                VmResources::from_value(&Value::Object(desired))?;
                not_yet(name)
            }
            Call::CreateStemcell { .. } => not_yet(name),
        }
    }
}

fn not_yet(method: &str) -> CpiResult<Value> {
    Err(CpiError::not_implemented(format!(
        "'{method}' is not implemented yet in bosh-azure-cpi {}",
        env!("CARGO_PKG_VERSION")
    )))
}
