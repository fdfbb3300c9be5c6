//! `create_stemcell`. A light stemcell (cloud_properties carry `image`, a marketplace image)
//! is checked to exist in the default storage account's location and recorded as a small blob
//! `stemcell/bosh-light-stemcell-<uuid>.vhd`. A heavy stemcell is streamed from the image
//! tarball into the page blob `stemcell/bosh-stemcell-<uuid>.vhd` of the default storage
//! account; create_vm makes images from it. The blob metadata is the stemcell's properties,
//! as the Ruby CPI writes it, so either CPI can use the other's stemcells.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::azure::Azure;
use crate::azure::ApiKind;
use crate::azure::ResourcePath;
use crate::azure::compute::image::{
    PlatformImageReference, PlatformImageVersion, has_platform_image_version,
    platform_image_versions_path,
};
use crate::azure::compute::stringify_metadata;
use crate::cid::StemcellCid;
use crate::error::{CpiError, CpiResult};
use crate::stemcell::{UploadOptions, upload_stemcell_vhd};

/// The blob container of stemcells.
pub const STEMCELL_CONTAINER: &str = "stemcell";

pub async fn create_stemcell(
    azure: &Azure<'_>,
    image_path: &Path,
    cloud_properties: &Map<String, Value>,
) -> CpiResult<Value> {
    if let Some(image) = cloud_properties.get("image") {
        return create_light_stemcell(azure, image, cloud_properties).await;
    }
    if azure.config.compute_gallery_name.is_some() {
        return Err(CpiError::not_implemented(
            "Azure Compute Gallery stemcells (azure.compute_gallery_name) are not implemented yet in bosh-azure-cpi; unset compute_gallery_name to upload the stemcell as a blob",
        ));
    }
    if !azure.config.use_managed_disks {
        return Err(CpiError::cloud(
            "Azure retired unmanaged disks on 2025-09-30, so bosh-azure-cpi creates no new unmanaged stemcells: set azure.use_managed_disks to true",
        ));
    }
    let blobs = azure.default_blobs().await?;
    blobs.ensure_container(STEMCELL_CONTAINER).await?;
    let cid = StemcellCid::new_heavy();
    let metadata: HashMap<String, String> =
        stringify_metadata(cloud_properties).into_iter().collect();
    let options = UploadOptions {
        parallelism: azure.config.parallel_upload_thread_num,
        ..UploadOptions::default()
    };
    let report = upload_stemcell_vhd(
        image_path,
        &blobs,
        STEMCELL_CONTAINER,
        &cid.blob_name(),
        &metadata,
        &options,
    )
    .await?;
    tracing::info!(
        stemcell = %cid,
        vhd_bytes = report.vhd_size,
        uploaded_bytes = report.bytes_uploaded,
        put_page_calls = report.ranges,
        seconds = report.duration.as_secs_f64(),
        "stemcell uploaded"
    );
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
    let account_name = azure
        .config
        .storage_account_name
        .as_deref()
        .ok_or_else(|| {
            CpiError::cloud(
                "Missing required property 'azure.storage_account_name' in the CPI configuration",
            )
        })?;
    let account = azure
        .storage
        .get(account_name, azure.deadline)
        .await?
        .ok_or_else(|| {
            CpiError::cloud(format!(
                "The default storage account '{account_name}' cannot be found"
            ))
        })?;
    let path = ResourcePath::parse_id(&platform_image_versions_path(
        azure.arm.subscription_id(),
        &account.location,
        &reference,
    ))?;
    // This list is a bare JSON array (no `value`, no paging), as Azure's spec defines it.
    let versions: Vec<PlatformImageVersion> = azure
        .get(&path, ApiKind::Compute)
        .await?
        .unwrap_or_default();
    if !has_platform_image_version(&versions, &reference.version) {
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
    let blobs = azure.default_blobs().await?;
    blobs.ensure_container(STEMCELL_CONTAINER).await?;
    let cid = StemcellCid::new_light();
    blobs
        .create_record_blob(STEMCELL_CONTAINER, &cid.blob_name(), &metadata)
        .await?;
    Ok(Value::String(cid.to_string()))
}
