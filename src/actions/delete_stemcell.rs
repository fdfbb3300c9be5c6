//! `delete_stemcell`: removes the managed images create_vm made from the stemcell (named
//! after its CID, in the default resource group), then its blob: from the default storage
//! account when `use_default_account_for_cleaning` is set, else from every account of the
//! default resource group, as the Ruby CPI does. A CID that no longer exists is not an error.
//!
//! With `compute_gallery_name`, the CID is first removed from its gallery image version's
//! `stemcell_references` (the version is deleted with its last reference; definitions never
//! are). The version is found from the CID's blob metadata, not from ARM's tag-filtered
//! resource list, which returns no tags.

use serde_json::Value;

use super::azure::Azure;
use super::create_stemcell::{
    STEMCELL_CONTAINER, image_version_path, lock_gallery_image, update_version_tags,
};
use crate::azure::ApiKind;
use crate::azure::compute::Tags;
use crate::azure::compute::gallery::{
    ReferenceRemoval, remove_stemcell_reference, version_location_from_blob_metadata,
};
use crate::azure::compute::image::{UserImage, is_image_of_stemcell};
use crate::azure::storage::blob::BlobService;
use crate::cid::StemcellCid;
use crate::error::CpiResult;

/// Deletions of a version re-read after another host changed it in between; each retry
/// means another writer's change landed.
const DELETE_ATTEMPTS: u32 = 8;

pub async fn delete_stemcell(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<Value> {
    if let Some(gallery) = azure.config.compute_gallery_name.as_deref()
        && !cid.is_light()
    {
        release_gallery_version(azure, gallery, cid).await?;
    }
    if !cid.is_light() {
        delete_user_images(azure, cid).await?;
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

/// Removes the CID from the version its blob names; deletes the version with its last reference.
async fn release_gallery_version(
    azure: &Azure<'_>,
    gallery: &str,
    cid: &StemcellCid,
) -> CpiResult<()> {
    let Some(metadata) = azure
        .default_blobs()
        .await?
        .get_metadata(STEMCELL_CONTAINER, &cid.blob_name())
        .await?
    else {
        return Ok(());
    };
    let metadata: Tags = metadata.into_iter().collect();
    let Some((definition, image)) = version_location_from_blob_metadata(&metadata, gallery) else {
        return Ok(());
    };
    let version = image.version;
    let path = image_version_path(azure, gallery, &definition, &version);
    // The same lock as create_stemcell, so a reference being added on this host is not lost;
    // the ETag guards the tags against writers on other hosts.
    let _lock = lock_gallery_image(azure, gallery, &definition, Some(&version)).await?;
    for attempt in 1..=DELETE_ATTEMPTS {
        let removal = update_version_tags(azure, &path, None, |found| {
            let removal = remove_stemcell_reference(&found.tags, cid.as_str());
            let tags = match &removal {
                ReferenceRemoval::UpdateTags(tags) => Some(tags.clone()),
                ReferenceRemoval::NotReferenced | ReferenceRemoval::DeleteVersion => None,
            };
            Ok((tags, (removal, found.etag.clone())))
        })
        .await?;
        match removal {
            None | Some((ReferenceRemoval::NotReferenced, _)) => {}
            Some((ReferenceRemoval::DeleteVersion, etag)) => {
                // With an ETag the DELETE goes only if no other host added a reference since
                // the read; without one (the specs declare none) only this host's lock guards it.
                let deleted = match etag.as_deref() {
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
                    }
                    Err(e) if e.is_precondition_failed() && attempt < DELETE_ATTEMPTS => {
                        tracing::debug!(stemcell = %cid, attempt, "the version changed before its deletion; reading it again");
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Some((ReferenceRemoval::UpdateTags(_), _)) => {
                tracing::info!(stemcell = %cid, gallery, definition, version, "stemcell reference removed from the gallery image version");
            }
        }
        break;
    }
    Ok(())
}
