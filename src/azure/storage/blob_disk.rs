//! Legacy unmanaged data disks: page blobs `bosh/<disk name>.vhd` in a storage account of the
//! default resource group, as the Ruby CPI created them before managed disks. bosh-azure-cpi
//! creates none, but keeps those it finds working: it answers has_disk / delete_disk for them,
//! snapshots them as blob snapshots, and imports one as a managed disk of the same name when it
//! is attached (the blob is then marked migrated and kept, as the Ruby CPI does).

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::account::{StorageAccount, StorageAccounts};
use super::blob::{BlobService, BlobServiceOptions};
use crate::azure::compute::stringify_metadata;
use crate::azure::deadline::Deadline;
use crate::error::CpiResult;

/// Container of unmanaged disks.
pub(crate) const DISK_CONTAINER: &str = "bosh";

/// Blob metadata the Ruby CPI writes on a blob disk once it is imported as a managed disk
/// (underscores: `-` is not allowed in blob metadata names).
const MIGRATED_MARKER: [(&str, &str); 2] = [("user_agent", "bosh"), ("migrated", "true")];

/// `<disk name>.vhd`: the blob holding an unmanaged disk.
pub(crate) fn vhd_blob_name(disk_name: &str) -> String {
    format!("{disk_name}.vhd")
}

/// Whether blob metadata carries the migrated marker (both entries, any other entries too).
pub(crate) fn is_migrated(metadata: &HashMap<String, String>) -> bool {
    MIGRATED_MARKER
        .iter()
        .all(|(key, value)| metadata.get(*key).map(String::as_str) == Some(*value))
}

/// `metadata` plus the migrated marker. The Ruby CPI replaced the metadata with the marker;
/// keeping the other entries loses nothing and reads the same to [`is_migrated`].
pub(crate) fn with_migrated_marker(metadata: &HashMap<String, String>) -> HashMap<String, String> {
    let mut marked = metadata.clone();
    for (key, value) in MIGRATED_MARKER {
        marked.insert(key.to_owned(), value.to_owned());
    }
    marked
}

/// The Director's snapshot metadata as blob metadata: values as Ruby's `to_s` renders them
/// (like the managed snapshot's tags). Blob metadata names must be C# identifiers, where the
/// Ruby CPI sent any key and failed on the first `-`: other characters become `_`, and a name
/// that starts with a digit gets a leading `_`.
pub(crate) fn snapshot_metadata(metadata: &Map<String, Value>) -> HashMap<String, String> {
    stringify_metadata(metadata)
        .into_iter()
        .map(|(key, value)| (metadata_name(&key), value))
        .collect()
}

fn metadata_name(key: &str) -> String {
    let mut name: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name
}

/// A storage account holding unmanaged disks, with its blob service.
#[derive(Debug)]
pub(crate) struct BlobDiskAccount {
    pub account: StorageAccount,
    pub blobs: BlobService,
}

impl BlobDiskAccount {
    /// Deletes the status blobs Azure wrote for an unmanaged VM: `bosh/<vm name>*status`.
    pub(crate) async fn delete_status_blobs(&self, vm_name: &str) -> CpiResult<()> {
        let names = self.blobs.list_blob_names(DISK_CONTAINER, vm_name).await?;
        for name in names.iter().filter(|name| name.ends_with("status")) {
            self.blobs.delete_blob(DISK_CONTAINER, name).await?;
        }
        Ok(())
    }
}

impl StorageAccounts {
    /// The account named in an unmanaged disk CID and its blob service, or `None` when the
    /// account does not exist (then neither do its disks).
    pub(crate) async fn blob_disk_account(
        &self,
        name: &str,
        deadline: Deadline,
    ) -> CpiResult<Option<BlobDiskAccount>> {
        let Some(account) = self.get(name, deadline).await? else {
            return Ok(None);
        };
        let access = self.access_of(&account, deadline).await?;
        let blobs = BlobService::new(&access, BlobServiceOptions::on_stack_of(&self.arm))?;
        Ok(Some(BlobDiskAccount { account, blobs }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn migrated_marker_is_rubys() {
        let marked = with_migrated_marker(&HashMap::from([("a".to_owned(), "b".to_owned())]));
        assert_eq!(marked["user_agent"], "bosh");
        assert_eq!(marked["migrated"], "true");
        assert_eq!(marked["a"], "b");
        assert!(is_migrated(&marked));
        assert!(!is_migrated(&HashMap::from([(
            "migrated".to_owned(),
            "true".to_owned()
        )])));
        assert!(!is_migrated(&HashMap::new()));
    }

    #[test]
    fn snapshot_metadata_is_stringified_with_valid_names() {
        let metadata =
            json!({"deployment": "cf", "index": 0, "custom-tag": true, "9lives": null, "": "x"});
        let converted = snapshot_metadata(metadata.as_object().unwrap());
        assert_eq!(
            converted,
            HashMap::from([
                ("deployment".to_owned(), "cf".to_owned()),
                ("index".to_owned(), "0".to_owned()),
                ("custom_tag".to_owned(), "true".to_owned()),
                ("_9lives".to_owned(), String::new()),
                ("_".to_owned(), "x".to_owned()),
            ])
        );
    }

    #[test]
    fn vhd_names() {
        assert_eq!(vhd_blob_name("bosh-data-1"), "bosh-data-1.vhd");
    }
}
