//! `delete_stemcell`: removes the managed images create_vm made from the stemcell (named
//! after its CID, in the default resource group), then its blob: from the default storage
//! account when `use_default_account_for_cleaning` is set, else from every account of the
//! default resource group, as the Ruby CPI does. A CID that no longer exists is not an error.

use serde_json::Value;

use super::azure::Azure;
use super::create_stemcell::STEMCELL_CONTAINER;
use crate::azure::ApiKind;
use crate::azure::compute::image::{UserImage, is_image_of_stemcell};
use crate::azure::storage::blob::{BlobService, BlobServiceOptions};
use crate::cid::StemcellCid;
use crate::error::{CpiError, CpiResult};

pub async fn delete_stemcell(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<Value> {
    if azure.config.compute_gallery_name.is_some() && !cid.is_light() {
        return Err(CpiError::not_implemented(
            "Deleting Azure Compute Gallery stemcells (azure.compute_gallery_name) is not implemented yet in bosh-azure-cpi",
        ));
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
        let blobs = BlobService::new(&access, BlobServiceOptions::default())?;
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
