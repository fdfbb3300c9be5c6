//! `create_stemcell`. A light stemcell (cloud_properties carry `image`, a marketplace image)
//! is checked to exist in the default storage account's location and recorded as a small blob
//! `stemcell/bosh-light-stemcell-<uuid>.vhd`. A heavy stemcell is streamed from the image
//! tarball into the page blob `stemcell/bosh-stemcell-<uuid>.vhd` of the default storage
//! account; create_vm makes images from it. The blob metadata is the stemcell's properties,
//! as the Ruby CPI writes it, so either CPI can use the other's stemcells.
//!
//! With `compute_gallery_name`, the stemcell becomes an image version of the gallery (one
//! definition per series and generation, one version per stemcell version). Unlike the Ruby
//! CPI, the image is hashed before anything is uploaded: when the version already exists with
//! the same SHA-256, the new CID gets only a small record blob carrying the gallery metadata
//! (so delete_stemcell and create_vm's recovery find the version) instead of a second VHD.

mod disk_staging;

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use crate::azure::compute::gallery::{
    GalleryImageVersion, SOURCE_BLOB_METADATA, check_existing_version, gallery_blob_metadata,
    version_location_from_blob_metadata,
};
use crate::azure::compute::image::PlatformImageReference;
use crate::azure::compute::stringify_metadata;
use crate::cid::StemcellCid;
use crate::error::{CpiError, CpiResult};
use crate::services::galleries::{self, GalleryStemcell};
use crate::services::{Azure, images, stemcell_blobs, storage_accounts};
use crate::stemcell::image_sha256;

pub(super) async fn create_stemcell(
    azure: &Azure<'_>,
    image_path: &Path,
    cloud_properties: &Map<String, Value>,
) -> CpiResult<Value> {
    if let Some(image) = cloud_properties.get("image") {
        return create_light_stemcell(azure, image, cloud_properties).await;
    }
    if let Some(gallery) = azure.config.compute_gallery_name.as_deref() {
        return create_gallery_stemcell(azure, gallery, image_path, cloud_properties).await;
    }
    if !azure.config.use_managed_disks {
        return Err(CpiError::cloud(
            "Azure retired unmanaged disks on 2025-09-30, so bosh-azure-cpi creates no new unmanaged stemcells: set azure.use_managed_disks to true",
        ));
    }
    let blobs = stemcell_blobs::prepared_default(azure).await?;
    let cid = StemcellCid::new_heavy();
    let metadata: HashMap<String, String> =
        stringify_metadata(cloud_properties).into_iter().collect();
    stemcell_blobs::upload_vhd(azure, image_path, &blobs, &cid, &metadata).await?;
    Ok(Value::String(cid.to_string()))
}

async fn create_light_stemcell(
    azure: &Azure<'_>,
    image: &Value,
    cloud_properties: &Map<String, Value>,
) -> CpiResult<Value> {
    let reference: PlatformImageReference = serde_json::from_value(image.clone()).map_err(|e| {
        CpiError::cloud(format!(
            "Invalid light stemcell: 'image' must hold publisher, offer, sku and version ({e})"
        ))
    })?;
    // The Ruby CPI looks for the image where the default storage account is.
    let account = storage_accounts::default_account(azure).await?;
    if !images::has_marketplace_version(azure, &account.location, &reference).await? {
        return Err(CpiError::cloud(format!(
            "Cannot find the light stemcell ({}:{}:{}:{}) in the location '{}'",
            reference.publisher,
            reference.offer,
            reference.sku,
            reference.version,
            account.location
        )));
    }
    let mut metadata: HashMap<String, String> =
        stringify_metadata(cloud_properties).into_iter().collect();
    metadata.insert("image".into(), image.to_string());
    let blobs = stemcell_blobs::prepared_default(azure).await?;
    let cid = StemcellCid::new_light();
    blobs
        .create_record_blob(stemcell_blobs::CONTAINER, &cid.blob_name(), &metadata)
        .await?;
    Ok(Value::String(cid.to_string()))
}

async fn create_gallery_stemcell(
    azure: &Azure<'_>,
    gallery: &str,
    image_path: &Path,
    cloud_properties: &Map<String, Value>,
) -> CpiResult<Value> {
    let location = azure.config.location.as_deref().ok_or_else(|| {
        CpiError::cloud(
            "Missing required property 'azure.location' in the CPI configuration: Azure Compute Gallery stemcells (azure.compute_gallery_name) are replicated to it",
        )
    })?;
    if !azure.config.use_managed_disks {
        return Err(CpiError::cloud(
            "Azure Compute Gallery stemcells need managed disks: set azure.use_managed_disks to true",
        ));
    }
    // Hash first: an existing version with this content needs no upload at all.
    let sha256 = image_sha256(image_path).await?;
    let metadata = gallery_blob_metadata(cloud_properties, gallery, &sha256)?;
    let (definition, image) = version_location_from_blob_metadata(&metadata, gallery)
        .ok_or_else(|| CpiError::cloud("Cannot derive the gallery image from the stemcell"))?;
    let version = image.version;
    let blobs = stemcell_blobs::prepared_default(azure).await?;
    let cid = StemcellCid::new_heavy();
    let blob_metadata: HashMap<String, String> = metadata.clone().into_iter().collect();
    let version_path = galleries::version_path(azure, gallery, &definition, &version);
    let stemcell = GalleryStemcell {
        gallery,
        definition: &definition,
        version_path: &version_path,
        cid: &cid,
        sha256: &sha256,
    };

    // One process per host creates a version; the others wait and then only add a reference.
    let _version_lock = galleries::lock(azure, gallery, &definition, Some(&version)).await?;
    let existing: Option<GalleryImageVersion> =
        galleries::get_version(azure, &version_path).await?;
    if let Some(existing) = existing {
        check_existing_version(&existing, gallery, &definition, Some(&sha256))?;
        let mut record_metadata = blob_metadata.clone();
        // create_vm recreates a deleted version from this VHD, whichever CID it is given.
        if let Some(source) = existing
            .source_blob_uri()
            .and_then(|uri| stemcell_blobs::blob_of_uri(&blobs, uri))
        {
            record_metadata.insert(SOURCE_BLOB_METADATA.to_owned(), source);
        }
        blobs
            .create_record_blob(
                stemcell_blobs::CONTAINER,
                &cid.blob_name(),
                &record_metadata,
            )
            .await?;
        if let Err(e) = galleries::add_reference(azure, &stemcell, Some(existing)).await {
            blobs
                .delete_blob(stemcell_blobs::CONTAINER, &cid.blob_name())
                .await?;
            return Err(e);
        }
        tracing::info!(stemcell = %cid, gallery, definition, version, "stemcell registered on the existing gallery image version");
        return Ok(Value::String(cid.to_string()));
    }

    // An account reached with Entra ID gets no VHD source (see `image_version_body`).
    if blobs.uses_entra_id() {
        disk_staging::create_version_through_disk(
            azure,
            &blobs,
            &stemcell,
            location,
            image_path,
            cloud_properties,
            &metadata,
        )
        .await?;
        return Ok(Value::String(cid.to_string()));
    }
    stemcell_blobs::upload_vhd(azure, image_path, &blobs, &cid, &blob_metadata).await?;
    let blob_uri = blobs.blob_url(stemcell_blobs::CONTAINER, &cid.blob_name());
    let created = galleries::create_version(
        azure,
        &stemcell,
        location,
        cloud_properties,
        &metadata,
        blob_uri.as_str(),
    )
    .await;
    if let Err(e) = created {
        // No orphan VHD when the gallery refused it (a Ruby weak spot).
        stemcell_blobs::delete_quietly(&blobs, &cid, "uploaded VHD").await;
        return Err(e);
    }
    Ok(Value::String(cid.to_string()))
}
