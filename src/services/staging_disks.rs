//! Staging disks: managed disks created for upload (`createOption: Upload`, `dataAccessAuthMode:
//! AzureActiveDirectory`) that carry a stemcell's VHD into a gallery version when the default
//! storage account forbids Shared Key. A disk for upload goes ReadyToUpload → (write access
//! granted) ActiveUpload → (access revoked) Unattached, and only then can a version be made from
//! it or the disk be deleted.
//!
//! A process killed mid-upload leaves its staging disk. Staging disks carry [`STAGING_TAG`] and
//! the upload mark of stemcell blobs ([`UPLOAD_STARTED_METADATA`], Unix seconds); the next
//! staging removes those whose mark is older than create_stemcell may run, as abandoned stemcell
//! blobs are removed.

use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::Azure;
use super::stemcell_blobs::max_upload_age;
use crate::azure::compute::disk::ManagedDisk;
use crate::azure::compute::disk_upload::{
    AccessUri, UploadDiskSpec, grant_write_body, staging_disk_name, upload_disk_body,
};
use crate::azure::compute::{Tags, UPLOAD_STARTED_METADATA, bosh_tags, compute_id};
use crate::azure::resources::{GenericResource, tagged_resources_path};
use crate::azure::{ApiKind, Deadline, PostSafety, ResourcePath, Result as AzureResult};
use crate::cid::StemcellCid;
use crate::stemcell::unix_now;

/// How long the cleanup of a failed staging may take, even after the call's deadline passed.
const CLEANUP_WAIT: Duration = Duration::from_secs(300);
/// The upload URL stays valid this much longer than the call may still run.
const ACCESS_MARGIN: Duration = Duration::from_secs(600);
/// The tag (and its value) that marks a staging disk.
const STAGING_TAG: (&str, &str) = ("bosh_azure_cpi_rs_staging", "stemcell");

/// The staging disk of one stemcell: `<cid>-staging` in the default resource group.
pub(crate) struct StagingDisk {
    pub name: String,
    pub path: ResourcePath,
    /// The ARM id, the source of the gallery version.
    pub id: String,
}

impl StagingDisk {
    pub(crate) fn of(azure: &Azure<'_>, cid: &StemcellCid) -> Self {
        let name = staging_disk_name(cid.as_str());
        let rg = &azure.config.resource_group_name;
        Self {
            path: azure.compute_path(rg, "disks", &name),
            id: compute_id(azure.arm.subscription_id(), rg, "disks", &name),
            name,
        }
    }

    /// `tags` plus the BOSH tags, the staging tag and the upload mark (now).
    pub(crate) fn tags(mut tags: Tags) -> Tags {
        tags.extend(bosh_tags());
        tags.insert(STAGING_TAG.0.to_owned(), STAGING_TAG.1.to_owned());
        tags.insert(UPLOAD_STARTED_METADATA.to_owned(), unix_now().to_string());
        tags
    }

    /// PUTs the empty disk for upload, waiting until Azure has created it (ReadyToUpload).
    pub(crate) async fn create(
        &self,
        azure: &Azure<'_>,
        spec: &UploadDiskSpec,
    ) -> Result<(), String> {
        let body = upload_disk_body(spec).map_err(|e| e.message().to_owned())?;
        azure
            .arm
            .put::<_, Value>(&self.path, ApiKind::Disks, &body, azure.deadline)
            .await
            .map(drop)
            .map_err(|e| format!("cannot create the staging disk '{}': {e}", self.name))
    }

    /// Grants write access until the call's deadline (plus a margin) and answers the upload URL
    /// (it carries a SAS: never logged).
    pub(crate) async fn grant_write(&self, azure: &Azure<'_>) -> Result<Url, String> {
        let seconds = (azure.deadline.remaining() + ACCESS_MARGIN).as_secs();
        let access: Option<AccessUri> = azure
            .arm
            .post(
                &self.path.clone().segment("beginGetAccess"),
                ApiKind::Disks,
                Some(&grant_write_body(seconds)),
                PostSafety::Idempotent,
                azure.deadline,
            )
            .await
            .map_err(|e| format!("cannot get write access to disk '{}': {e}", self.name))?;
        access
            .ok_or_else(|| {
                format!(
                    "Azure granted write access to disk '{}' without an answer",
                    self.name
                )
            })?
            .upload_url(&self.name)
            .map_err(|e| e.message().to_owned())
    }

    /// Revokes the upload URL: the disk becomes usable (Unattached) only then.
    pub(crate) async fn revoke(&self, azure: &Azure<'_>) -> AzureResult<()> {
        revoke_access(azure, &self.path, azure.deadline).await
    }

    /// Best effort, see [`remove`].
    pub(crate) async fn remove(&self, azure: &Azure<'_>, granted: bool) {
        remove(azure, &self.path, granted).await;
    }
}

async fn revoke_access(
    azure: &Azure<'_>,
    disk_path: &ResourcePath,
    deadline: Deadline,
) -> AzureResult<()> {
    azure
        .arm
        .post::<Value>(
            &disk_path.clone().segment("endGetAccess"),
            ApiKind::Disks,
            None,
            PostSafety::Idempotent,
            deadline,
        )
        .await
        .map(drop)
}

/// Best effort: revokes the upload URL when it may be live (Azure refuses to delete a disk in
/// `ActiveUpload`), then deletes the disk; failures are logged, never raised, so the error
/// that led here is the one the Director sees.
async fn remove(azure: &Azure<'_>, disk_path: &ResourcePath, granted: bool) {
    let deadline = Deadline::after(CLEANUP_WAIT);
    if granted && let Err(e) = revoke_access(azure, disk_path, deadline).await {
        tracing::warn!(disk = %disk_path.name(), error = %e, "cannot revoke the upload access of the staging disk");
    }
    match azure.arm.delete(disk_path, ApiKind::Disks, deadline).await {
        Ok(_) => tracing::info!(disk = %disk_path.name(), "deleted the staging disk"),
        Err(e) => {
            tracing::warn!(disk = %disk_path.name(), error = %e, "cannot delete the staging disk: delete it by hand")
        }
    }
}

/// Deletes the staging disks of the default resource group whose upload mark is older than an
/// upload may run (their process was killed). Never fails the call: problems are warnings.
pub(crate) async fn remove_abandoned(azure: &Azure<'_>) {
    let group = azure
        .arm
        .resource_group_path(&azure.config.resource_group_name);
    let path = tagged_resources_path(group, STAGING_TAG.0, STAGING_TAG.1);
    let listed: Vec<GenericResource> = match azure
        .arm
        .list(&path, ApiKind::Resources, azure.deadline)
        .await
    {
        Ok(listed) => listed,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for staging disks of killed stemcell uploads");
            return;
        }
    };
    let max_age = max_upload_age(azure).as_secs();
    let now = unix_now();
    for resource in listed
        .iter()
        .filter(|r| r.is_type("Microsoft.Compute/disks"))
    {
        let Ok(path) = ResourcePath::parse_id(&resource.id) else {
            continue;
        };
        let disk = match azure.get::<ManagedDisk>(&path, ApiKind::Disks).await {
            Ok(Some(disk)) => disk,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(disk = %path.name(), error = %e, "cannot read a staging disk");
                continue;
            }
        };
        // An unreadable mark was not written by this CPI: leave the disk alone.
        let Some(started) = disk
            .tags
            .get(UPLOAD_STARTED_METADATA)
            .and_then(|mark| mark.trim().parse::<u64>().ok())
        else {
            continue;
        };
        let age = now.saturating_sub(started);
        if age <= max_age {
            continue;
        }
        tracing::info!(disk = %path.name(), upload_started_secs_ago = age, max_upload_secs = max_age, "removing the staging disk of a stemcell upload that was killed");
        let live = disk.properties.disk_state.as_deref() == Some("ActiveUpload");
        remove(azure, &path, live).await;
    }
}
