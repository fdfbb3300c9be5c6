//! VMs: create_vm and delete_vm through the binary (bodies, golden files, sizing, gallery
//! images, cleanup, legacy unmanaged VMs, options beyond the Ruby CPI) and the ignored
//! create_vm benchmark `scripts/bench-create-vm` runs.

#[path = "../support/mod.rs"]
mod support;

mod bench_create_vm;
mod create_vm_gallery;
mod create_vm_golden;
mod create_vm_sizing;
mod delete_vm_retry;
mod delete_vm_unmanaged;
mod vm_lifecycle;
mod vm_options;
