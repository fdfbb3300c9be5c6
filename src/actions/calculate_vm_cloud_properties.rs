//! `calculate_vm_cloud_properties`: the VM sizes of the configured location that meet the
//! desired CPUs and RAM, best first by the Ruby CPI's ordering, and the ephemeral disk size
//! rounded up to whole GiB (in MiB).

use serde_json::{Value, json};

use crate::azure::compute::sku::{DesiredInstanceSize, map_instance_types};
use crate::error::{CpiError, CpiResult};
use crate::props::VmResources;
use crate::services::Azure;
use crate::services::skus::vm_skus;

pub(super) async fn calculate_vm_cloud_properties(
    azure: &Azure<'_>,
    desired: &VmResources,
) -> CpiResult<Value> {
    let location = azure.config.location.as_deref().ok_or_else(|| {
        CpiError::cloud("Missing the property 'location' in the global configuration")
    })?;
    let skus = vm_skus(azure, location).await?;
    let size = DesiredInstanceSize {
        cpu: desired.cpu,
        ram_mib: desired.ram_mib,
    };
    let instance_types = map_instance_types(&skus, size, None)?;
    Ok(json!({
        "instance_types": instance_types,
        "ephemeral_disk": {"size": desired.ephemeral_disk_size_rounded_mib()},
    }))
}
