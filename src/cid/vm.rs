//! VM CIDs (the Ruby CPI's `InstanceId`).
//!
//! - V2 managed: `agent_id:<agent_id>;resource_group_name:<rg>`
//! - V2 unmanaged: `agent_id:<agent_id>;resource_group_name:<rg>;storage_account_name:<sa>`
//! - V1 managed: `<agent_id>` (36 characters); V1 unmanaged: `<sa>-<agent_id>`.
//!
//! The VM name is the agent id for V2 ids and the whole plain id for V1 ids; the names of the
//! VM's own disks and NICs derive from it.

use std::fmt;

use super::object_id::{ObjectId, RESOURCE_GROUP_NAME_KEY, STORAGE_ACCOUNT_NAME_KEY};
use crate::error::{CpiError, CpiResult};
use crate::names::{Kind, check, quote};

const AGENT_ID_KEY: &str = "agent_id";
/// A V1 managed VM id is a bare agent id (a UUID), counted in characters like Ruby's
/// `String#length`.
const UUID_LENGTH: usize = 36;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VmCid(ObjectId);

impl VmCid {
    /// Parses a CID the Director sends back; ids without `resource_group_name` (and all V1 ids)
    /// live in `default_resource_group_name`.
    pub(crate) fn parse(cid: &str, default_resource_group_name: &str) -> CpiResult<Self> {
        let vm_cid = Self(ObjectId::parse(cid, default_resource_group_name)?);
        vm_cid.validate()?;
        Ok(vm_cid)
    }

    /// Azure's rules for the names the id holds: an id no Azure VM can have is refused
    /// before any call, so that nothing oversized or malformed reaches ARM. Separate from
    /// `parse`, which keeps the Ruby CPI's syntax rules only.
    pub(crate) fn check_names(&self) -> CpiResult<()> {
        check(Kind::VirtualMachine, "vm_cid", self.vm_name())?;
        check(
            Kind::ResourceGroup,
            "vm_cid resource_group_name",
            self.resource_group_name(),
        )?;
        match self.storage_account_name() {
            Some(account) => check(Kind::StorageAccount, "vm_cid storage_account_name", account),
            None => Ok(()),
        }
    }

    /// The CID of a new VM with managed disks; the VM is named after the agent id.
    pub(crate) fn new_managed(agent_id: &str, resource_group_name: &str) -> CpiResult<Self> {
        Self::new_keyed([
            (AGENT_ID_KEY, agent_id),
            (RESOURCE_GROUP_NAME_KEY, resource_group_name),
        ])
    }

    /// The CID of a new VM whose disks are blobs in `storage_account_name` (the Ruby CPI's;
    /// this one creates only managed VMs).
    #[cfg(test)]
    pub(crate) fn new_unmanaged(
        agent_id: &str,
        resource_group_name: &str,
        storage_account_name: &str,
    ) -> CpiResult<Self> {
        Self::new_keyed([
            (AGENT_ID_KEY, agent_id),
            (RESOURCE_GROUP_NAME_KEY, resource_group_name),
            (STORAGE_ACCOUNT_NAME_KEY, storage_account_name),
        ])
    }

    fn new_keyed<'a>(entries: impl IntoIterator<Item = (&'a str, &'a str)>) -> CpiResult<Self> {
        let vm_cid = Self(ObjectId::keyed("instance id", entries)?);
        vm_cid.validate()?;
        Ok(vm_cid)
    }

    pub(crate) fn vm_name(&self) -> &str {
        match self.0.plain() {
            Some(plain) => plain,
            // validate() guarantees a non-empty agent_id on every V2 id.
            None => self.0.field(AGENT_ID_KEY).unwrap_or_default(),
        }
    }

    pub(crate) fn resource_group_name(&self) -> &str {
        // Seeded by parse and set by the constructors, so always present.
        self.0.field(RESOURCE_GROUP_NAME_KEY).unwrap_or_default()
    }

    /// The storage account holding the VM's disk blobs; `None` for VMs with managed disks.
    pub(crate) fn storage_account_name(&self) -> Option<&str> {
        match self.0.plain() {
            Some(plain) if plain_is_managed(plain) => None,
            Some(plain) => plain.split_once('-').map(|(account, _)| account),
            None => self.0.field(STORAGE_ACCOUNT_NAME_KEY),
        }
    }

    pub(crate) fn is_managed(&self) -> bool {
        match self.0.plain() {
            Some(plain) => plain_is_managed(plain),
            None => self.0.field(STORAGE_ACCOUNT_NAME_KEY).is_none(),
        }
    }

    /// The OS disk: managed disk `bosh-disk-os-<vm>`, or blob `bosh-os-<vm>` (+ `.vhd`).
    pub(crate) fn os_disk_name(&self) -> String {
        format!("{}-{}", self.os_disk_prefix(), self.vm_name())
    }

    /// The ephemeral data disk: managed disk `bosh-disk-os-<vm>-ephemeral-disk`, or blob
    /// `bosh-os-<vm>-ephemeral-disk` (+ `.vhd`; its name inside the VM is `ephemeral-disk`).
    pub(crate) fn ephemeral_disk_name(&self) -> String {
        format!("{}-ephemeral-disk", self.os_disk_name())
    }

    /// NIC `index` of the VM (0 is the primary one): `<vm>-<index>`.
    pub(crate) fn nic_name(&self, index: usize) -> String {
        format!("{}-{index}", self.vm_name())
    }

    fn os_disk_prefix(&self) -> &'static str {
        if self.is_managed() {
            "bosh-disk-os"
        } else {
            "bosh-os"
        }
    }

    fn validate(&self) -> CpiResult<()> {
        if let Some(plain) = self.0.plain() {
            let is_unmanaged = plain
                .split_once('-')
                .is_some_and(|(_, agent_id)| agent_id.chars().count() == UUID_LENGTH);
            if !plain_is_managed(plain) && !is_unmanaged {
                return Err(CpiError::cloud(format!(
                    "Invalid instance id (plain) '{}'",
                    quote(plain)
                )));
            }
            return Ok(());
        }
        if self.resource_group_name().is_empty() {
            return Err(CpiError::cloud(format!(
                "Invalid resource_group_name in instance id (version 2) '{}'",
                quote(&self.to_string())
            )));
        }
        if self.vm_name().is_empty() {
            // The stray quote is in the Ruby CPI's message too.
            return Err(CpiError::cloud(format!(
                "Invalid vm_name in instance id (version 2)' '{}'",
                quote(&self.to_string())
            )));
        }
        if self.0.field(STORAGE_ACCOUNT_NAME_KEY) == Some("") {
            return Err(CpiError::cloud(format!(
                "Invalid storage_account_name in instance id (version 2) '{}'",
                quote(&self.to_string())
            )));
        }
        Ok(())
    }
}

fn plain_is_managed(plain: &str) -> bool {
    plain.chars().count() == UUID_LENGTH
}

impl fmt::Display for VmCid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.format(None))
    }
}
