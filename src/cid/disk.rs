//! Disk and snapshot CIDs (the Ruby CPI's `DiskId`, which serves both).
//!
//! - V2 managed: `caching:<c>;disk_name:bosh-disk-data-<uuid>;resource_group_name:<rg>`
//! - V2 unmanaged: `caching:<c>;disk_name:bosh-data-<uuid>;storage_account_name:<sa>`; the
//!   resource group is never written when a storage account is present.
//! - V1 managed: `bosh-disk-data-<agent_id>-<caching>`; V1 unmanaged:
//!   `bosh-data-<sa>-<uuid>-<caching>`.
//! - Snapshots use the same shapes: managed snapshots are named `bosh-disk-data-<uuid>`,
//!   unmanaged ones `<disk name>--<blob snapshot time>`.
//!
//! V1 ids are accepted as they are (the Ruby CPI checks them only when a part is read), so the
//! accessors that dig into a V1 id return errors with the Ruby CPI's messages.

use std::fmt;

use uuid::Uuid;

use super::caching::Caching;
use super::object_id::{ObjectId, RESOURCE_GROUP_NAME_KEY, STORAGE_ACCOUNT_NAME_KEY};
use crate::error::{CpiError, CpiResult};
use crate::names::{Kind, check, quote};

/// Name prefix of managed data disks and managed snapshots.
pub(crate) const MANAGED_DATA_DISK_PREFIX: &str = "bosh-disk-data";
/// Name prefix of unmanaged (blob) data disks and their snapshots.
pub(crate) const DATA_DISK_PREFIX: &str = "bosh-data";
const CACHING_KEY: &str = "caching";
const DISK_NAME_KEY: &str = "disk_name";
const SNAPSHOT_TIME_SEPARATOR: &str = "--";

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiskCid(ObjectId);

impl DiskCid {
    /// Parses a CID the Director sends back; ids without `resource_group_name` (and all V1 ids)
    /// live in `default_resource_group_name`.
    pub(crate) fn parse(cid: &str, default_resource_group_name: &str) -> CpiResult<Self> {
        let disk_cid = Self(ObjectId::parse(cid, default_resource_group_name)?);
        disk_cid.validate()?;
        Ok(disk_cid)
    }

    /// Azure's rules for the names the id holds, before any call: a managed disk or snapshot
    /// name, or else a blob name (unmanaged disks, blob snapshots `<disk>--<time>`, V1 ids).
    /// `field` names the argument (`disk_cid`, `snapshot_cid`) in the error.
    pub(crate) fn check_names(&self, field: &str) -> CpiResult<()> {
        let kind = if self.has_managed_name() {
            Kind::Resource
        } else {
            Kind::Blob
        };
        check(kind, field, self.disk_name())?;
        check(
            Kind::ResourceGroup,
            &format!("{field} resource_group_name"),
            self.resource_group_name(),
        )?;
        match self.0.field(STORAGE_ACCOUNT_NAME_KEY) {
            Some(account) => check(
                Kind::StorageAccount,
                &format!("{field} storage_account_name"),
                account,
            ),
            None => Ok(()),
        }
    }

    /// A new managed data disk, named `bosh-disk-data-<fresh uuid v4>`.
    pub(crate) fn new_managed(caching: Caching, resource_group_name: &str) -> CpiResult<Self> {
        let disk_name = format!("{MANAGED_DATA_DISK_PREFIX}-{}", Uuid::new_v4());
        Self::new_keyed(caching, &disk_name, resource_group_name, None)
    }

    /// A new unmanaged data disk, the blob `bosh-data-<fresh uuid v4>.vhd` in
    /// `storage_account_name`. `resource_group_name` is where a disk of that name would be
    /// looked up once migrated to a managed disk (usually the default one); it is not written
    /// into the CID, exactly as after parsing. Only the Ruby CPI creates unmanaged disks.
    #[cfg(test)]
    pub(crate) fn new_unmanaged(
        caching: Caching,
        storage_account_name: &str,
        resource_group_name: &str,
    ) -> CpiResult<Self> {
        let disk_name = format!("{DATA_DISK_PREFIX}-{}", Uuid::new_v4());
        Self::new_keyed(
            caching,
            &disk_name,
            resource_group_name,
            Some(storage_account_name),
        )
    }

    fn new_keyed(
        caching: Caching,
        disk_name: &str,
        resource_group_name: &str,
        storage_account_name: Option<&str>,
    ) -> CpiResult<Self> {
        let mut entries = vec![
            (CACHING_KEY, caching.as_str()),
            (DISK_NAME_KEY, disk_name),
            (RESOURCE_GROUP_NAME_KEY, resource_group_name),
        ];
        if let Some(account) = storage_account_name {
            entries.push((STORAGE_ACCOUNT_NAME_KEY, account));
        }
        let disk_cid = Self(ObjectId::keyed("disk id", entries)?);
        disk_cid.validate()?;
        Ok(disk_cid)
    }

    /// The Azure disk name (managed) or blob name without `.vhd` (unmanaged); for V1 ids, the
    /// whole id.
    pub(crate) fn disk_name(&self) -> &str {
        match self.0.plain() {
            Some(plain) => plain,
            // validate() guarantees a non-empty disk_name on every V2 id.
            None => self.0.field(DISK_NAME_KEY).unwrap_or_default(),
        }
    }

    pub(crate) fn resource_group_name(&self) -> &str {
        // Seeded by parse and set by the constructors, so always present.
        self.0.field(RESOURCE_GROUP_NAME_KEY).unwrap_or_default()
    }

    /// Whether the name marks a managed disk. A `bosh-data-*` name may still be a managed disk
    /// migrated from a blob: callers look for a managed disk of that name first.
    pub(crate) fn has_managed_name(&self) -> bool {
        self.disk_name().starts_with(MANAGED_DATA_DISK_PREFIX)
    }

    pub(crate) fn caching(&self) -> CpiResult<Caching> {
        let name = self.disk_name();
        if !is_data_disk_name(name) {
            return Err(CpiError::cloud(
                "This function should only be called for data disks",
            ));
        }
        match self.0.plain() {
            // Ruby takes the last non-empty '-' segment (String#split drops trailing empties).
            Some(plain) => plain
                .trim_end_matches('-')
                .rsplit('-')
                .next()
                .unwrap_or_default()
                .parse(),
            None => self.0.field(CACHING_KEY).unwrap_or_default().parse(),
        }
    }

    /// The storage account of an unmanaged disk.
    pub(crate) fn storage_account_name(&self) -> CpiResult<&str> {
        let name = self.disk_name();
        if name.starts_with(MANAGED_DATA_DISK_PREFIX) {
            return Err(CpiError::cloud(
                "This function should only be called for unmanaged disks",
            ));
        }
        match self.0.plain() {
            Some(plain) => plain_storage_account_name(plain),
            // validate() guarantees a non-empty account on every V2 `bosh-data-*` id.
            None => self
                .0
                .field(STORAGE_ACCOUNT_NAME_KEY)
                .ok_or_else(|| CpiError::cloud(format!("Invalid data disk name {}", quote(name)))),
        }
    }

    fn validate(&self) -> CpiResult<()> {
        if self.0.plain().is_some() {
            return Ok(());
        }
        let name = self.disk_name();
        if name.is_empty() {
            return Err(CpiError::cloud(format!(
                "Invalid disk_name in disk id (version 2) '{}'",
                quote(&self.to_string())
            )));
        }
        if !is_data_disk_name(name) {
            return Err(CpiError::cloud(
                "This function should only be called for data disks",
            ));
        }
        // Like the Ruby CPI, the V2 caching value is only checked for presence here, so ids it
        // accepted keep parsing; caching() rejects unknown values when one is needed.
        if self.0.field(CACHING_KEY).is_none_or(str::is_empty) {
            return Err(CpiError::cloud(format!(
                "Invalid caching in disk id (version 2) '{}'",
                quote(&self.to_string())
            )));
        }
        if self.resource_group_name().is_empty() {
            return Err(CpiError::cloud(format!(
                "Invalid resource_group_name in disk id (version 2) '{}'",
                quote(&self.to_string())
            )));
        }
        if name.starts_with(DATA_DISK_PREFIX)
            && self
                .0
                .field(STORAGE_ACCOUNT_NAME_KEY)
                .is_none_or(str::is_empty)
        {
            return Err(CpiError::cloud(format!(
                "Invalid storage_account_name in disk id (version 2) '{}'",
                quote(&self.to_string())
            )));
        }
        Ok(())
    }
}

fn is_data_disk_name(name: &str) -> bool {
    name.starts_with(DATA_DISK_PREFIX) || name.starts_with(MANAGED_DATA_DISK_PREFIX)
}

/// `bosh-data-<sa>-<rest>-<caching>`: the account is the segment after the prefix.
fn plain_storage_account_name(plain: &str) -> CpiResult<&str> {
    let Some(rest) = plain.strip_prefix(DATA_DISK_PREFIX) else {
        return Err(CpiError::cloud(format!(
            "Invalid data disk name (plain) {}",
            quote(plain)
        )));
    };
    // Equivalent of /^bosh-data-([^-]*)-(.*)-([^-]*)$/: two more '-' must follow the account.
    rest.strip_prefix('-')
        .and_then(|rest| rest.split_once('-'))
        .filter(|(_, tail)| tail.contains('-'))
        .map(|(account, _)| account)
        .ok_or_else(|| {
            CpiError::cloud(format!("Invalid unmanaged data disk name {}", quote(plain)))
        })
}

impl fmt::Display for DiskCid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let omit = self
            .0
            .field(STORAGE_ACCOUNT_NAME_KEY)
            .map(|_| RESOURCE_GROUP_NAME_KEY);
        f.write_str(&self.0.format(omit))
    }
}

/// A snapshot CID: the disk CID format, naming a managed snapshot or a blob snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SnapshotCid(DiskCid);

impl SnapshotCid {
    pub(crate) fn parse(cid: &str, default_resource_group_name: &str) -> CpiResult<Self> {
        DiskCid::parse(cid, default_resource_group_name).map(Self)
    }

    /// A new managed snapshot `bosh-disk-data-<fresh uuid v4>`, carrying the disk's caching.
    pub(crate) fn new_managed(caching: Caching, resource_group_name: &str) -> CpiResult<Self> {
        DiskCid::new_managed(caching, resource_group_name).map(Self)
    }

    /// A blob snapshot of the unmanaged disk `disk_name`, taken at `snapshot_time` (the value
    /// Blob storage returned in `x-ms-snapshot`).
    pub(crate) fn new_unmanaged(
        caching: Caching,
        disk_name: &str,
        snapshot_time: &str,
        storage_account_name: &str,
        resource_group_name: &str,
    ) -> CpiResult<Self> {
        let name = format!("{disk_name}{SNAPSHOT_TIME_SEPARATOR}{snapshot_time}");
        DiskCid::new_keyed(
            caching,
            &name,
            resource_group_name,
            Some(storage_account_name),
        )
        .map(Self)
    }

    /// The managed snapshot's name, or `<disk name>--<snapshot time>` for a blob snapshot.
    pub(crate) fn snapshot_name(&self) -> &str {
        self.0.disk_name()
    }

    pub(crate) fn resource_group_name(&self) -> &str {
        self.0.resource_group_name()
    }

    /// See [`DiskCid::check_names`].
    pub(crate) fn check_names(&self) -> CpiResult<()> {
        self.0.check_names("snapshot_cid")
    }

    pub(crate) fn is_managed(&self) -> bool {
        self.0.has_managed_name()
    }

    pub(crate) fn storage_account_name(&self) -> CpiResult<&str> {
        self.0.storage_account_name()
    }

    /// For a blob snapshot: the disk's blob name (without `.vhd`) and the snapshot time, split
    /// at the last `--`.
    pub(crate) fn blob_snapshot(&self) -> CpiResult<(&str, &str)> {
        let name = self.snapshot_name();
        name.rsplit_once(SNAPSHOT_TIME_SEPARATOR)
            .ok_or_else(|| CpiError::cloud(format!("Invalid snapshot id {}", quote(name))))
    }
}

impl fmt::Display for SnapshotCid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}
