//! `set_disk_metadata` (the Ruby CPI answers NotImplemented): merges the metadata into the
//! managed disk's tags (values as strings). The disk's own `user-agent` and `caching` tags are
//! kept whatever the metadata says: `caching` is what update_disk compares against. Nothing is
//! written when the tags would not change.

use serde_json::{Map, Value};

use crate::azure::compute::disk::tags_patch_body;
use crate::azure::compute::{USER_AGENT_TAG, stringify_metadata};
use crate::cid::DiskCid;
use crate::error::{CpiError, CpiResult};
use crate::services::{Azure, disks};

/// The disk tags metadata never overwrites.
const KEPT_TAGS: [&str; 2] = [USER_AGENT_TAG, "caching"];

pub(super) async fn set_disk_metadata(
    azure: &Azure<'_>,
    disk_cid: &DiskCid,
    metadata: &Map<String, Value>,
) -> CpiResult<Value> {
    let found = disks::get(azure, disk_cid.resource_group_name(), disk_cid.disk_name()).await?;
    let disk = match found {
        Some(disk) => disk,
        // The Director ignores NotImplemented here, so a blob disk does not fail the deploy.
        None if !disk_cid.has_managed_name() => {
            return Err(CpiError::not_implemented(format!(
                "Disk '{disk_cid}' is an unmanaged (blob) disk; set_disk_metadata handles managed disks only"
            )));
        }
        None => return Err(disks::not_found(disk_cid)),
    };
    let mut tags = disk.tags.clone();
    tags.extend(
        stringify_metadata(metadata)
            .into_iter()
            .filter(|(key, _)| !KEPT_TAGS.contains(&key.as_str())),
    );
    if tags != disk.tags {
        let path = disks::path(azure, disk_cid.resource_group_name(), disk_cid.disk_name());
        disks::patch(azure, &path, &tags_patch_body(&tags)).await?;
    }
    Ok(Value::Null)
}
