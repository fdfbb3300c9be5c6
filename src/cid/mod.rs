//! CIDs in the Ruby CPI's formats, byte for byte, so that VMs, disks,
//! snapshots and stemcells made by either CPI keep working with the other.
//!
//! Public API:
//! - [`VmCid`]: `parse(cid, default_rg)`, `new_managed(agent_id, rg)`; `vm_name()`, `resource_group_name()`,
//!   `storage_account_name() -> Option<&str>`, `is_managed()`, and the names derived from the VM:
//!   `os_disk_name()`, `ephemeral_disk_name()`, `nic_name(index)`; `Display` gives the
//!   wire form.
//! - [`DiskCid`]: `parse(cid, default_rg)`, `new_managed(caching, rg)`; `disk_name()`, `resource_group_name()`,
//!   `has_managed_name()`, `caching() -> CpiResult<Caching>`,
//!   `storage_account_name() -> CpiResult<&str>`; `Display`.
//! - [`SnapshotCid`]: `parse`, `new_managed(caching, rg)`,
//!   `new_unmanaged(caching, disk_name, snapshot_time, storage_account, rg)`;
//!   `snapshot_name()`, `resource_group_name()`, `is_managed()`, `storage_account_name()`,
//!   `blob_snapshot() -> CpiResult<(disk blob name, snapshot time)>`; `Display`.
//! - [`StemcellCid`]: `FromStr`, `new_heavy()`, `new_light()`, `is_light()`, `blob_name()`;
//!   `Display`.
//! - [`Caching`]: `None` / `ReadOnly` / `ReadWrite` with `FromStr` ("Unknown disk caching X")
//!   and `Display`.
//!
//! VM, disk and snapshot ids take the global default resource group when parsed (ids without
//! `resource_group_name`, and every legacy plain id, live there), so they are parsed with
//! `parse(cid, default_rg)` rather than `FromStr`. Every failure is a `CpiError::Cloud` with the
//! Ruby CPI's message. One deliberate difference: an entry is split at its first `:` even when
//! the id contains a newline, where Ruby's line-anchored regex would read only one line.

mod caching;
mod disk;
mod object_id;
mod stemcell;
mod vm;

pub(crate) use caching::Caching;
pub(crate) use disk::{DiskCid, SnapshotCid};
pub(crate) use stemcell::{STEMCELL_PREFIX, StemcellCid};
pub(crate) use vm::VmCid;

#[cfg(test)]
mod tests;
