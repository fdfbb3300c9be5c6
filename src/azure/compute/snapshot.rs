//! Managed snapshots (`Microsoft.Compute/snapshots`, DiskRP 2024-03-02): `snapshot_disk` and
//! the first step of the regional → zonal disk migration.
//!
//! The Ruby CPI names the source disk in `creationData.sourceUri`. In the 2024-03-02 spec
//! `sourceUri` is the blob URI for `Import`, and `sourceResourceId` is "the ARM id of the
//! source snapshot or disk" for `Copy`, so the disk's ARM id goes in `sourceResourceId`.

use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{Tags, null_as_default, stringify_metadata};

/// Tag naming the disk a snapshot was taken from.
pub(crate) const ORIGINAL_TAG: &str = "original";

/// A managed snapshot as returned by GET.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct ManagedSnapshot {
    pub id: String,
    pub name: String,
    pub location: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Tags,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: SnapshotProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct SnapshotProperties {
    #[serde(rename = "diskSizeGB", default)]
    pub(crate) disk_size_gb: Option<u64>,
    #[serde(rename = "provisioningState", default)]
    pub(crate) provisioning_state: Option<String>,
}

/// Snapshot tags: the Director's metadata stringified, plus `original: <disk_name>` (no
/// `user-agent`, as in Ruby).
pub(crate) fn snapshot_tags(metadata: &Map<String, Value>, disk_name: &str) -> Tags {
    let mut tags = stringify_metadata(metadata);
    tags.insert(ORIGINAL_TAG.into(), disk_name.into());
    tags
}

/// PUT body of a full snapshot of a managed disk, in the disk's location.
pub(crate) fn snapshot_body(disk_location: &str, disk_id: &str, tags: &Tags) -> Value {
    json!({
        "location": disk_location,
        "tags": tags,
        "properties": {
            "creationData": {"createOption": "Copy", "sourceResourceId": disk_id}
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_copies_the_disk_by_resource_id() {
        let metadata = json!({"deployment": "cf", "index": 0, "director_uuid": "d"});
        let tags = snapshot_tags(metadata.as_object().unwrap(), "bosh-disk-data-abc");
        let disk_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/bosh-disk-data-abc";
        assert_eq!(
            snapshot_body("eastus", disk_id, &tags),
            json!({
                "location": "eastus",
                "tags": {
                    "deployment": "cf",
                    "index": "0",
                    "director_uuid": "d",
                    "original": "bosh-disk-data-abc"
                },
                "properties": {"creationData": {
                    "createOption": "Copy",
                    "sourceResourceId": disk_id
                }}
            })
        );
    }

    #[test]
    fn original_tag_wins_over_metadata() {
        let metadata = json!({"original": "spoofed"});
        let tags = snapshot_tags(metadata.as_object().unwrap(), "d1");
        assert_eq!(tags["original"], "d1");
    }

    #[test]
    fn parses_get_response() {
        let snapshot: ManagedSnapshot = serde_json::from_value(json!({
            "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/snapshots/s1",
            "name": "s1",
            "location": "eastus",
            "tags": {"original": "d1"},
            "properties": {"diskSizeGB": 5, "provisioningState": "Succeeded"}
        }))
        .unwrap();
        assert_eq!(snapshot.properties.disk_size_gb, Some(5));
        assert_eq!(snapshot.tags[ORIGINAL_TAG], "d1");
        assert_eq!(
            snapshot.properties.provisioning_state.as_deref(),
            Some("Succeeded")
        );
    }
}
