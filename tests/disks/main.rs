//! Persistent disks through the binary: create/delete, attach/detach, resize, update,
//! snapshots, legacy blob disks, and calculate_vm_cloud_properties.

#[path = "../support/mod.rs"]
mod support;

mod calculate_vm_cloud_properties;
mod disk_attach;
mod disk_legacy;
mod disk_methods;
mod disks;
