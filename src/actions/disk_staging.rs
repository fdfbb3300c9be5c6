//! create_stemcell for a default storage account reached with Entra ID (keyless): the image
//! version is made from a managed disk, not from a VHD blob. Azure documents a VHD source only
//! with listKeys permission on its account (see `image_version_body`), while a disk created for
//! upload takes the VHD through its own upload URL with an Entra ID token and no account key.
//!
//! Steps: a staging disk `<cid>-staging` in the default resource group and location
//! (`createOption: Upload`, `uploadSizeBytes` = root.vhd's size, `dataAccessAuthMode:
//! AzureActiveDirectory`), write access, the VHD streamed to the upload URL by the same page
//! writer as blobs (parallelism, AIMD, deadline) with tokens for the disk audience, access
//! revoked, the record blob `stemcell/<cid>.vhd` (the stemcell's metadata, as a CID registered
//! on an existing version has), the version from the disk, and the disk deleted. On any failure
//! the access is revoked and the disk deleted (best effort, with a warning), and the record
//! blob removed.
//!
//! What this changes for later calls: there is no stemcell VHD. create_vm finds the version
//! from the record blob as usual; a version deleted behind BOSH's back cannot be rebuilt
//! (nothing is left to rebuild it from; the VHD path keeps its VHD for that) and create_vm says
//! to upload the stemcell again. delete_stemcell releases the version and deletes the record
//! blob, with no source VHD to keep or delete.
//!
//! A process killed mid-upload leaves its staging disk. Staging disks carry the tag
//! `bosh_azure_cpi_rs_staging: stemcell` and the upload mark of stemcell blobs
//! (`bosh_azure_cpi_rs_upload_started`, Unix seconds); the next staging removes those whose
//! mark is older than create_stemcell may run, as `abandoned_uploads` does for blobs.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Map, Value};

use super::abandoned_uploads::max_upload_age;
use super::azure::Azure;
use super::create_stemcell::{
    GalleryStemcell, STEMCELL_CONTAINER, ensure_image_definition, put_image_version, upload_options,
};
use crate::azure::compute::disk::ManagedDisk;
use crate::azure::compute::disk_upload::{
    AccessUri, UploadDiskSpec, grant_write_body, staging_disk_name, upload_disk_body,
};
use crate::azure::compute::gallery::{ImageDefinitionSpec, VersionSource, version_tags};
use crate::azure::compute::{Tags, UPLOAD_STARTED_METADATA, bosh_tags, compute_id};
use crate::azure::resources::{GenericResource, tagged_resources_path};
use crate::azure::storage::blob::BlobService;
use crate::azure::{ApiKind, Deadline, PostSafety, ResourcePath};
use crate::error::{CpiError, CpiResult};
use crate::stemcell::{stream_stemcell_vhd, unix_now};

/// How long the cleanup of a failed staging may take, even after the call's deadline passed.
const CLEANUP_WAIT: Duration = Duration::from_secs(300);
/// The upload URL stays valid this much longer than the call may still run.
const ACCESS_MARGIN: Duration = Duration::from_secs(600);
/// The tag (and its value) that marks a staging disk.
const STAGING_TAG: (&str, &str) = ("bosh_azure_cpi_rs_staging", "stemcell");

/// How far the staging disk got, for the cleanup.
#[derive(Default)]
struct Staged {
    /// The disk PUT was sent (it may exist even when the answer was an error).
    created: bool,
    /// Write access was asked for (it may be live even when the answer was an error).
    granted: bool,
}

/// Uploads the image through a staging disk and creates the version from it, registering
/// `stemcell.cid` with the record blob `stemcell/<cid>.vhd` carrying `blob_metadata`.
pub(super) async fn create_version_through_disk(
    azure: &Azure<'_>,
    blobs: &BlobService,
    stemcell: &GalleryStemcell<'_>,
    location: &str,
    image_path: &std::path::Path,
    cloud_properties: &Map<String, Value>,
    metadata: &Tags,
) -> CpiResult<()> {
    let cid = stemcell.cid;
    let credential = azure.arm.disk_credential().ok_or_else(|| {
        CpiError::cloud(
            "This cloud offers no Microsoft Entra ID upload to managed disks, which a default storage account without Shared Key access needs for stemcells",
        )
    })?;
    let definition = ImageDefinitionSpec::from_stemcell_with(
        location,
        cloud_properties,
        azure.config.compute_gallery_security_type,
    )?;
    ensure_image_definition(
        azure,
        stemcell.gallery,
        stemcell.definition,
        location,
        cloud_properties,
    )
    .await?;
    let disk_name = staging_disk_name(cid.as_str());
    let rg = &azure.config.resource_group_name;
    let disk_path = azure.disk_path(rg, &disk_name);
    let disk_id = compute_id(azure.arm.subscription_id(), rg, "disks", &disk_name);
    remove_abandoned_staging_disks(azure).await;
    let mut tags = version_tags(metadata, cid.as_str());
    tags.extend(bosh_tags());
    tags.insert(STAGING_TAG.0.to_owned(), STAGING_TAG.1.to_owned());
    tags.insert(UPLOAD_STARTED_METADATA.to_owned(), unix_now().to_string());
    let staged = Mutex::new(Staged::default());
    let mark = |step: fn(&mut Staged)| {
        step(
            &mut staged
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    };

    let open = |vhd_size: u64| {
        let (disk_path, disk_name, tags) = (&disk_path, &disk_name, tags.clone());
        let credential = credential.clone();
        async move {
            let body = upload_disk_body(&UploadDiskSpec {
                location: location.to_owned(),
                tags,
                upload_size_bytes: vhd_size,
                os_type: definition.os_type.as_str(),
                hyper_v_generation: definition.hyper_v_generation,
            })
            .map_err(|e| e.message().to_owned())?;
            mark(|s| s.created = true);
            azure
                .arm
                .put::<_, Value>(disk_path, ApiKind::Disks, &body, azure.deadline)
                .await
                .map_err(|e| format!("cannot create the staging disk '{disk_name}': {e}"))?;
            mark(|s| s.granted = true);
            let seconds = (azure.deadline.remaining() + ACCESS_MARGIN).as_secs();
            let access: Option<AccessUri> = azure
                .arm
                .post(
                    &disk_path.clone().segment("beginGetAccess"),
                    ApiKind::Disks,
                    Some(&grant_write_body(seconds)),
                    PostSafety::Idempotent,
                    azure.deadline,
                )
                .await
                .map_err(|e| format!("cannot get write access to disk '{disk_name}': {e}"))?;
            let url = access
                .ok_or_else(|| {
                    format!("Azure granted write access to disk '{disk_name}' without an answer")
                })?
                .upload_url(disk_name)
                .map_err(|e| e.message().to_owned())?;
            tracing::info!(stemcell = %cid, disk = %disk_name, vhd_mib = vhd_size / (1024 * 1024), "uploading the stemcell VHD to a staging managed disk");
            blobs
                .disk_upload_writer(&url, disk_name, credential)
                .map_err(|e| e.message().to_owned())
        }
    };
    let streamed = tokio::time::timeout(
        azure.deadline.remaining(),
        stream_stemcell_vhd(image_path, &upload_options(azure), open),
    )
    .await;
    let failure = match streamed {
        Err(_) => Some(format!(
            "The upload of stemcell '{cid}' did not finish within the create_stemcell timeout (azure.method_timeouts.create_stemcell)"
        )),
        Ok(Err(e)) => Some(format!(
            "Failed to upload stemcell image '{}' to the staging managed disk '{disk_name}': {}",
            image_path.display(),
            e.cause
        )),
        Ok(Ok(report)) => {
            tracing::info!(
                stemcell = %cid,
                vhd_bytes = report.vhd_size,
                uploaded_bytes = report.bytes_uploaded,
                put_page_calls = report.ranges,
                seconds = report.duration.as_secs_f64(),
                "stemcell uploaded to the staging disk"
            );
            None
        }
    };
    let staged = staged
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(message) = failure {
        if staged.created {
            remove_staging_disk(azure, &disk_path, staged.granted).await;
        }
        return Err(CpiError::cloud(message));
    }
    // The disk becomes usable (Unattached) only once the upload URL is revoked.
    if let Err(e) = revoke_access(azure, &disk_path, azure.deadline).await {
        remove_staging_disk(azure, &disk_path, true).await;
        return Err(CpiError::cloud(format!(
            "Cannot end the upload to the staging managed disk '{disk_name}' of stemcell '{cid}': {e}"
        )));
    }
    let record_metadata: std::collections::HashMap<String, String> =
        metadata.clone().into_iter().collect();
    let registered = async {
        blobs
            .create_record_blob(STEMCELL_CONTAINER, &cid.blob_name(), &record_metadata)
            .await?;
        let source = VersionSource::ManagedDisk { id: disk_id };
        let put = put_image_version(azure, stemcell, location, metadata, source).await;
        if put.is_err()
            && let Err(e) = blobs
                .delete_blob(STEMCELL_CONTAINER, &cid.blob_name())
                .await
        {
            tracing::warn!(stemcell = %cid, error = %e, "cannot delete the stemcell's record blob");
        }
        put
    }
    .await;
    // The version holds its own copy of the image: the staging disk has served its purpose.
    remove_staging_disk(azure, &disk_path, false).await;
    registered
}

async fn revoke_access(
    azure: &Azure<'_>,
    disk_path: &ResourcePath,
    deadline: Deadline,
) -> crate::azure::Result<()> {
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
async fn remove_staging_disk(azure: &Azure<'_>, disk_path: &ResourcePath, granted: bool) {
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
async fn remove_abandoned_staging_disks(azure: &Azure<'_>) {
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
        remove_staging_disk(azure, &path, live).await;
    }
}
