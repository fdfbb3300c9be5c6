//! create_stemcell for a default storage account reached with Entra ID (keyless): the image
//! version is made from a managed disk, not from a VHD blob. Azure documents a VHD source only
//! with listKeys permission on its account (see `image_version_body`), while a disk created for
//! upload takes the VHD through its own upload URL with an Entra ID token and no account key.
//!
//! Steps: the staging disk (`createOption: Upload`, `uploadSizeBytes` = root.vhd's size) in the
//! default resource group and location, write access, the VHD streamed to the upload URL by the
//! same page writer as blobs (parallelism, AIMD, deadline) with tokens for the disk audience,
//! access revoked, the record blob `stemcell/<cid>.vhd` (the stemcell's metadata, as a CID
//! registered on an existing version has), the version from the disk, and the disk deleted. On
//! any failure the access is revoked and the disk deleted (best effort, with a warning), and the
//! record blob removed.
//!
//! What this changes for later calls: there is no stemcell VHD. create_vm finds the version
//! from the record blob as usual; a version deleted behind BOSH's back cannot be rebuilt
//! (nothing is left to rebuild it from; the VHD path keeps its VHD for that) and create_vm says
//! to upload the stemcell again. delete_stemcell releases the version and deletes the record
//! blob, with no source VHD to keep or delete.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::azure::compute::Tags;
use crate::azure::compute::disk_upload::UploadDiskSpec;
use crate::azure::compute::gallery::{ImageDefinitionSpec, VersionSource, version_tags};
use crate::azure::storage::blob::BlobService;
use crate::error::{CpiError, CpiResult};
use crate::services::galleries::{self, GalleryStemcell};
use crate::services::staging_disks::{self, StagingDisk};
use crate::services::{Azure, stemcell_blobs};
use crate::stemcell::stream_stemcell_vhd;

/// How far the staging disk got, for the cleanup.
#[derive(Default)]
struct Staged {
    /// The disk PUT was sent (it may exist even when the answer was an error).
    created: bool,
    /// Write access was asked for (it may be live even when the answer was an error).
    granted: bool,
}

/// Uploads the image through a staging disk and creates the version from it, registering
/// `stemcell.cid` with the record blob `stemcell/<cid>.vhd` carrying `metadata`.
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
    galleries::ensure_definition(
        azure,
        stemcell.gallery,
        stemcell.definition,
        location,
        cloud_properties,
    )
    .await?;
    let disk = StagingDisk::of(azure, cid);
    staging_disks::remove_abandoned(azure).await;
    let tags = StagingDisk::tags(version_tags(metadata, cid.as_str()));
    let staged = Mutex::new(Staged::default());
    let mark = |step: fn(&mut Staged)| {
        step(
            &mut staged
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    };

    let open = |vhd_size: u64| {
        let (disk, tags, credential) = (&disk, tags.clone(), credential.clone());
        async move {
            let spec = UploadDiskSpec {
                location: location.to_owned(),
                tags,
                upload_size_bytes: vhd_size,
                os_type: definition.os_type.as_str(),
                hyper_v_generation: definition.hyper_v_generation,
            };
            mark(|s| s.created = true);
            disk.create(azure, &spec).await?;
            mark(|s| s.granted = true);
            let url = disk.grant_write(azure).await?;
            tracing::info!(stemcell = %cid, disk = %disk.name, vhd_mib = vhd_size / (1024 * 1024), "uploading the stemcell VHD to a staging managed disk");
            blobs
                .disk_upload_writer(&url, &disk.name, credential)
                .map_err(|e| e.message().to_owned())
        }
    };
    let streamed = tokio::time::timeout(
        azure.deadline.remaining(),
        stream_stemcell_vhd(image_path, &stemcell_blobs::upload_options(azure), open),
    )
    .await;
    let failure = match streamed {
        Err(_) => Some(stemcell_blobs::upload_timed_out(cid)),
        Ok(Err(e)) => Some(format!(
            "Failed to upload stemcell image '{}' to the staging managed disk '{}': {}",
            image_path.display(),
            disk.name,
            e.cause
        )),
        Ok(Ok(report)) => {
            stemcell_blobs::log_uploaded(cid, &report, "the staging disk");
            None
        }
    };
    let staged = staged
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(message) = failure {
        if staged.created {
            disk.remove(azure, staged.granted).await;
        }
        return Err(CpiError::cloud(message));
    }
    if let Err(e) = disk.revoke(azure).await {
        disk.remove(azure, true).await;
        return Err(CpiError::cloud(format!(
            "Cannot end the upload to the staging managed disk '{}' of stemcell '{cid}': {e}",
            disk.name
        )));
    }
    let record_metadata: HashMap<String, String> = metadata.clone().into_iter().collect();
    let registered = async {
        blobs
            .create_record_blob(
                stemcell_blobs::CONTAINER,
                &cid.blob_name(),
                &record_metadata,
            )
            .await?;
        let source = VersionSource::ManagedDisk {
            id: disk.id.clone(),
        };
        let put = galleries::put_version(azure, stemcell, location, metadata, source).await;
        if put.is_err() {
            stemcell_blobs::delete_quietly(blobs, cid, "stemcell's record blob").await;
        }
        put
    }
    .await;
    // The version holds its own copy of the image: the staging disk has served its purpose.
    disk.remove(azure, false).await;
    registered
}
