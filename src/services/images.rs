//! Images a VM boots from outside a gallery: marketplace images (light stemcells) and the
//! managed images create_vm makes from a heavy stemcell's blob, one per stemcell, disk SKU and
//! location, named as the Ruby CPI names them so both CPIs share them.

use serde_json::Value;

use super::Azure;
use super::stemcell_blobs;
use super::storage_accounts;
use crate::azure::compute::image::{
    PlatformImageReference, PlatformImageVersion, StemcellInfo, UserImage, UserImageSpec,
    VirtualMachineImage, has_platform_image_version, is_image_of_stemcell, legacy_user_image_name,
    platform_image_versions_path, user_image_body, user_image_name,
};
use crate::azure::{ApiKind, ResourcePath};
use crate::cid::StemcellCid;
use crate::error::{CpiError, CpiResult};
use crate::locks::{LockDir, LockMode};

fn platform_versions(
    azure: &Azure<'_>,
    location: &str,
    reference: &PlatformImageReference,
) -> CpiResult<ResourcePath> {
    Ok(ResourcePath::parse_id(&platform_image_versions_path(
        azure.arm.subscription_id(),
        location,
        reference,
    ))?)
}

/// Whether the marketplace offers the reference's version in `location`.
pub(crate) async fn has_marketplace_version(
    azure: &Azure<'_>,
    location: &str,
    reference: &PlatformImageReference,
) -> CpiResult<bool> {
    // This list is a bare JSON array (no `value`, no paging), as Azure's spec defines it.
    let versions: Vec<PlatformImageVersion> = azure
        .get(
            &platform_versions(azure, location, reference)?,
            ApiKind::Compute,
        )
        .await?
        .unwrap_or_default();
    Ok(has_platform_image_version(&versions, &reference.version))
}

/// The marketplace image of the reference in `location`, with its purchase plan.
pub(crate) async fn marketplace_image(
    azure: &Azure<'_>,
    location: &str,
    reference: &PlatformImageReference,
) -> CpiResult<Option<VirtualMachineImage>> {
    let path = platform_versions(azure, location, reference)?.segment(&reference.version);
    azure.get(&path, ApiKind::Compute).await
}

fn images_path(azure: &Azure<'_>) -> ResourcePath {
    azure
        .arm
        .resource_group_path(&azure.config.resource_group_name)
        .provider("Microsoft.Compute")
        .segment("images")
}

/// The managed image of a heavy stemcell for this SKU and location, created from the stemcell
/// blob on first use under a cross-process lock.
pub(crate) async fn user_image(
    azure: &Azure<'_>,
    cid: &StemcellCid,
    stemcell: &StemcellInfo,
    storage_account_type: &str,
    location: &str,
    locks: &LockDir,
) -> CpiResult<String> {
    let name = user_image_name(cid.as_str(), storage_account_type, location);
    let images = images_path(azure);
    let path = images.clone().segment(&name);
    if let Some(image) = azure.get::<UserImage>(&path, ApiKind::Compute).await? {
        return Ok(image.id);
    }
    let _lock = locks
        .lock(
            &format!("create-user-image-{name}"),
            LockMode::Exclusive,
            azure.deadline.instant(),
        )
        .await?;
    if let Some(image) = azure.get::<UserImage>(&path, ApiKind::Compute).await? {
        return Ok(image.id);
    }
    let account = storage_accounts::default_account(azure).await?;
    // An image is made from a blob in its own region: elsewhere, from a copy there.
    let blob_uri = if account.location.eq_ignore_ascii_case(location) {
        stemcell.uri.clone()
    } else {
        stemcell_blobs::stemcell_blob_in(azure, cid, location, locks).await?
    };
    let legacy = images.clone().segment(&legacy_user_image_name(
        cid.as_str(),
        storage_account_type,
        location,
    ));
    azure
        .arm
        .delete(&legacy, ApiKind::Compute, azure.deadline)
        .await?;
    let spec = UserImageSpec {
        location: location.to_owned(),
        tags: stemcell.metadata.clone(),
        os_type: stemcell.os_type,
        blob_uri,
        storage_account_type: storage_account_type.to_owned(),
        hyper_v_generation: stemcell.hyper_v_generation()?,
    };
    azure
        .arm
        .put::<_, Value>(
            &path,
            ApiKind::Compute,
            &user_image_body(&spec),
            azure.deadline,
        )
        .await?;
    let image: UserImage = azure.get(&path, ApiKind::Compute).await?.ok_or_else(|| {
        CpiError::cloud(format!(
            "The user image '{name}' vanished after it was created"
        ))
    })?;
    Ok(image.id)
}

/// Deletes every user image made from the stemcell.
pub(crate) async fn delete_user_images_of(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<()> {
    let images_path = images_path(azure);
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
