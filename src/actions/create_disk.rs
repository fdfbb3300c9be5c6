//! `create_disk`: an empty managed disk `bosh-disk-data-<uuid>`. Next to a VM it takes the VM's
//! resource group, location and zone, and defaults to Premium_LRS when the VM size supports
//! Premium IO; without a VM it goes to the default resource group's location as Standard_LRS.
//! Sizes are MiB rounded down to whole GiB, as the Ruby CPI does, and at least 1 GiB.

use serde_json::Value;

use crate::azure::compute::disk::{
    EmptyDiskSpec, check_ultra_caching, create_size_gib, disk_encryption_set_id, empty_disk_body,
};
use crate::azure::compute::sku::default_disk_sku;
use crate::cid::{DiskCid, VmCid};
use crate::error::{CpiError, CpiResult};
use crate::props::DiskCloudProps;
use crate::services::skus::vm_skus;
use crate::services::{Azure, disks, resource_groups, vms};

pub(super) async fn create_disk(
    azure: &Azure<'_>,
    size_mib: u64,
    props: &DiskCloudProps,
    vm: Option<&VmCid>,
) -> CpiResult<Value> {
    let size_gib = create_size_gib(size_mib)?;
    let caching = props.caching();
    let (resource_group, location, zone, sku) = match vm {
        Some(vm_cid) => {
            let vm = vms::existing(azure, vm_cid).await?;
            let sku = match &props.storage_account_type {
                Some(sku) => sku.clone(),
                None => {
                    let vm_size = vm.vm_size().unwrap_or_default();
                    default_disk_sku(&vm_skus(azure, &vm.location).await?, vm_size).to_owned()
                }
            };
            (
                vm_cid.resource_group_name().to_owned(),
                vm.location.clone(),
                vm.zone().map(str::to_owned),
                sku,
            )
        }
        None => {
            let group = &azure.config.resource_group_name;
            let location = resource_groups::location(azure, group)
                .await?
                .ok_or_else(|| {
                    CpiError::cloud(format!("Resource group '{group}' cannot be found"))
                })?;
            let sku = props
                .storage_account_type
                .clone()
                .unwrap_or_else(|| "Standard_LRS".to_owned());
            (group.clone(), location, None, sku)
        }
    };
    check_ultra_caching(&sku, caching)?;
    let cid = DiskCid::new_managed(caching, &resource_group)?;
    let spec = EmptyDiskSpec {
        location,
        size_gib,
        sku,
        caching,
        zone,
        iops: props.iops,
        mbps: props.mbps,
        disk_encryption_set_id: props.disk_encryption_set_name.as_deref().map(|name| {
            disk_encryption_set_id(
                azure.arm.subscription_id(),
                &azure.config.resource_group_name,
                name,
            )
        }),
    };
    let path = disks::path(azure, &resource_group, cid.disk_name());
    disks::put::<Value>(azure, &path, &empty_disk_body(&spec)).await?;
    Ok(Value::String(cid.to_string()))
}
