//! `delete_stemcell`: removes the managed images create_vm made from the stemcell (named
//! after its CID, in the default resource group), then its blob: from the default storage
//! account when `use_default_account_for_cleaning` is set, else from every account of the
//! default resource group, as the Ruby CPI does. A CID that no longer exists is not an error.
//!
//! With `compute_gallery_name`, the CID is first removed from its gallery image version's
//! `stemcell_references` (the version is deleted with its last reference; definitions never
//! are). The version is found from the CID's blob metadata, not from ARM's tag-filtered
//! resource list, which returns no tags. The VHD the version was made from outlives the CID
//! that uploaded it while other CIDs use the version, and goes with the version.
//!
//! Every call also removes the partial blobs of killed uploads (`abandoned_uploads`).

use serde_json::Value;

use super::abandoned_uploads::remove_abandoned_uploads;
use super::azure::Azure;
use super::create_stemcell::{
    STEMCELL_CONTAINER, image_version_path, lock_gallery_image, stemcell_blob_of_uri,
    update_version_tags,
};
use crate::azure::ApiKind;
use crate::azure::compute::Tags;
use crate::azure::compute::gallery::{
    GalleryImageVersion, ReferenceRemoval, SOURCE_DELETED_METADATA, remove_stemcell_reference,
    version_location_from_blob_metadata,
};
use crate::azure::compute::image::{UserImage, is_image_of_stemcell};
use crate::azure::storage::blob::BlobService;
use crate::cid::StemcellCid;
use crate::error::CpiResult;
use crate::stemcell::unix_now;

/// Deletions of a version re-read after another host changed it in between; each retry
/// means another writer's change landed.
const DELETE_ATTEMPTS: u32 = 8;

pub async fn delete_stemcell(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<Value> {
    let result = delete_stemcell_blobs(azure, cid).await;
    remove_abandoned_uploads(azure, None).await;
    result
}

async fn delete_stemcell_blobs(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<Value> {
    let mut own_blob = OwnBlob::Delete;
    if let Some(gallery) = azure.config.compute_gallery_name.as_deref()
        && !cid.is_light()
    {
        own_blob = release_gallery_version(azure, gallery, cid).await?;
    }
    if !cid.is_light() {
        delete_user_images(azure, cid).await?;
    }
    if own_blob == OwnBlob::KeepAsSource {
        tracing::info!(stemcell = %cid, "the stemcell blob stays: it is the source VHD of a gallery image version other stemcells still use, and goes with the version");
        return Ok(Value::Null);
    }
    let blob = cid.blob_name();
    if azure.config.use_default_account_for_cleaning || cid.is_light() {
        azure
            .default_blobs()
            .await?
            .delete_blob(STEMCELL_CONTAINER, &blob)
            .await?;
        return Ok(Value::Null);
    }
    for account in azure.storage.list(azure.deadline).await? {
        let access = azure.storage.access(&account.name, azure.deadline).await?;
        let blobs = BlobService::new(&access, azure.arm.blob_options())?;
        if blobs.delete_blob(STEMCELL_CONTAINER, &blob).await? {
            tracing::info!(stemcell = %cid, account = %account.name, "stemcell blob deleted");
        }
    }
    Ok(Value::Null)
}

/// What happens to the deleted CID's own blob once its gallery reference is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OwnBlob {
    Delete,
    /// It is the source VHD of a version that still exists (other CIDs use it).
    KeepAsSource,
}

async fn delete_user_images(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<()> {
    let images_path = azure
        .arm
        .resource_group_path(&azure.config.resource_group_name)
        .provider("Microsoft.Compute")
        .segment("images");
    let images: Vec<UserImage> = azure
        .arm
        .list(&images_path, ApiKind::Compute, azure.deadline)
        .await?;
    for image in images
        .iter()
        .filter(|image| is_image_of_stemcell(&image.name, cid.as_str()))
    {
        let path = images_path.clone().segment(&image.name);
        azure
            .arm
            .delete(&path, ApiKind::Compute, azure.deadline)
            .await?;
        tracing::info!(stemcell = %cid, image = %image.name, "user image deleted");
    }
    Ok(())
}

/// Removes the CID from the version its blob names; deletes the version with its last
/// reference. The version's source VHD lives as long as the version: when it is this CID's
/// blob and other CIDs remain, the blob is kept and marked ([`SOURCE_DELETED_METADATA`]), and
/// whoever deletes the version deletes a marked source with it. The mark is written before the
/// reference is removed, so a last reference removed on another host meanwhile finds it.
async fn release_gallery_version(
    azure: &Azure<'_>,
    gallery: &str,
    cid: &StemcellCid,
) -> CpiResult<OwnBlob> {
    let blobs = azure.default_blobs().await?;
    let own_name = cid.blob_name();
    let Some(own_metadata) = blobs.get_metadata(STEMCELL_CONTAINER, &own_name).await? else {
        return Ok(OwnBlob::Delete);
    };
    let metadata: Tags = own_metadata
        .iter()
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let Some((definition, image)) = version_location_from_blob_metadata(&metadata, gallery) else {
        return Ok(OwnBlob::Delete);
    };
    let version = image.version;
    let path = image_version_path(azure, gallery, &definition, &version);
    // The same lock as create_stemcell, so a reference being added on this host is not lost;
    // the ETag guards the tags against writers on other hosts.
    let _lock = lock_gallery_image(azure, gallery, &definition, Some(&version)).await?;
    let Some(found) = azure
        .get::<GalleryImageVersion>(&path, ApiKind::Galleries)
        .await?
    else {
        return Ok(OwnBlob::Delete);
    };
    let is_own_blob = |version: &GalleryImageVersion| {
        version
            .source_blob_uri()
            .and_then(|uri| stemcell_blob_of_uri(&blobs, uri))
            .is_some_and(|name| name == own_name)
    };
    if is_own_blob(&found) && !own_metadata.contains_key(SOURCE_DELETED_METADATA) {
        let mut marked = own_metadata.clone();
        marked.insert(SOURCE_DELETED_METADATA.to_owned(), unix_now().to_string());
        blobs
            .set_metadata(STEMCELL_CONTAINER, &own_name, &marked)
            .await?;
    }
    let mut first = Some(found);
    for attempt in 1..=DELETE_ATTEMPTS {
        let removal = update_version_tags(azure, &path, first.take(), |found| {
            let removal = remove_stemcell_reference(&found.tags, cid.as_str());
            let tags = match &removal {
                ReferenceRemoval::UpdateTags(tags) => Some(tags.clone()),
                ReferenceRemoval::NotReferenced | ReferenceRemoval::DeleteVersion => None,
            };
            Ok((tags, (removal, found.clone())))
        })
        .await?;
        let Some((removal, found)) = removal else {
            return Ok(OwnBlob::Delete);
        };
        match removal {
            ReferenceRemoval::NotReferenced | ReferenceRemoval::UpdateTags(_) => {
                if matches!(removal, ReferenceRemoval::UpdateTags(_)) {
                    tracing::info!(stemcell = %cid, gallery, definition, version, "stemcell reference removed from the gallery image version");
                }
                // The version stays: so does its source.
                return Ok(if is_own_blob(&found) {
                    OwnBlob::KeepAsSource
                } else {
                    OwnBlob::Delete
                });
            }
            ReferenceRemoval::DeleteVersion => {
                // With an ETag the DELETE goes only if no other host added a reference since
                // the read; without one (the specs declare none) only this host's lock guards it.
                let deleted = match found.etag.as_deref() {
                    Some(etag) => {
                        azure
                            .arm
                            .delete_if_match(&path, ApiKind::Galleries, etag, azure.deadline)
                            .await
                    }
                    None => {
                        azure
                            .arm
                            .delete(&path, ApiKind::Galleries, azure.deadline)
                            .await
                    }
                };
                match deleted {
                    Ok(_) => {
                        tracing::info!(stemcell = %cid, gallery, definition, version, "gallery image version deleted");
                        if !is_own_blob(&found) {
                            delete_released_source(&blobs, &found, cid).await?;
                        }
                        return Ok(OwnBlob::Delete);
                    }
                    Err(e) if e.is_precondition_failed() && attempt < DELETE_ATTEMPTS => {
                        tracing::debug!(stemcell = %cid, attempt, "the version changed before its deletion; reading it again");
                    }
                    Err(e) => return Err(e.into()),
                }
            }
        }
    }
    Ok(OwnBlob::Delete)
}

/// After the version's deletion: its source VHD, when it is another CID's blob that stayed only
/// for the version (marked by that CID's delete_stemcell). An unmarked source belongs to a CID
/// the Director still holds, and stays.
async fn delete_released_source(
    blobs: &BlobService,
    version: &GalleryImageVersion,
    cid: &StemcellCid,
) -> CpiResult<()> {
    let Some(source) = version
        .source_blob_uri()
        .and_then(|uri| stemcell_blob_of_uri(blobs, uri))
    else {
        return Ok(());
    };
    let released = blobs
        .get_metadata(STEMCELL_CONTAINER, &source)
        .await?
        .is_some_and(|metadata| metadata.contains_key(SOURCE_DELETED_METADATA));
    if released && blobs.delete_blob(STEMCELL_CONTAINER, &source).await? {
        tracing::info!(stemcell = %cid, blob = %source, "deleted the source VHD of the gallery image version, kept after its own stemcell's deletion");
    }
    Ok(())
}
