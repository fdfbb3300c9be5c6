//! The image create_vm boots from when the stemcell lives in an Azure Compute Gallery.
//!
//! Warm path: the stemcell blob's metadata (already read for the stemcell's properties) names
//! the image definition and version, so one GET of the version is all ARM sees. The Ruby CPI
//! lists the resource group's resources filtered by tag instead, which Azure answers without
//! tags, so its lookup falls into recovery every time; here that list is only the fallback for
//! blobs without gallery metadata, read page by page with one GET per version to see its tags.
//!
//! A version missing from the gallery is recreated from the stemcell VHD (recovery), and a
//! version not yet replicated to the VM's region gets that region added before the VM PUT.

use serde_json::{Map, Value};

use super::{
    GalleryStemcell, create_version, get_version, lock, publishing, update_version_tags,
    version_path,
};
use crate::azure::arm::Write;
use crate::azure::compute::gallery::{
    GALLERY_NAME_TAG, GalleryImageVersion, IMAGE_SHA256_TAG, SOURCE_BLOB_METADATA,
    add_stemcell_reference, check_existing_version, is_referenced_by, replication_patch_for,
    version_location_from_blob_metadata,
};
use crate::azure::resources::{GenericResource, tagged_resources_path};
use crate::azure::storage::blob::RECORD_BLOB_SIZE;
use crate::azure::{ApiKind, ResourcePath};
use crate::cid::{STEMCELL_PREFIX, StemcellCid};
use crate::error::{CpiError, CpiResult};
use crate::services::Azure;
use crate::services::stemcell_blobs::{self, StemcellBlob};

const VERSION_TYPE: &str = "Microsoft.Compute/galleries/images/versions";

/// How often the version is patched when concurrent writers without ETags replaced its target
/// regions in between.
const REPLICATION_ATTEMPTS: u32 = 5;

/// The gallery image version id to boot from, replicated to `vm_location`; `None` when the
/// stemcell has no version in this gallery (made before the gallery was configured), so the
/// caller uses a user image as the Ruby CPI does.
pub(crate) async fn image_for_vm(
    azure: &Azure<'_>,
    gallery: &str,
    cid: &StemcellCid,
    stemcell: &StemcellBlob,
    vm_location: &str,
) -> CpiResult<Option<String>> {
    let version = match version_location_from_blob_metadata(&stemcell.info.metadata, gallery) {
        Some((definition, image)) => {
            let path = version_path(azure, gallery, &definition, &image.version);
            Some(registered_version(azure, gallery, &definition, &path, cid, stemcell).await?)
        }
        None => find_by_references(azure, gallery, cid).await?,
    };
    let Some(version) = version else {
        return Ok(None);
    };
    let replicated = ensure_replicated(azure, gallery, version, vm_location).await?;
    Ok(Some(replicated.id))
}

/// The version the blob metadata names, recreated from the VHD when it is gone, and carrying
/// this CID in `stemcell_references`.
async fn registered_version(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
    path: &ResourcePath,
    cid: &StemcellCid,
    stemcell: &StemcellBlob,
) -> CpiResult<GalleryImageVersion> {
    if let Some(found) = get_version(azure, path).await?
        && is_referenced_by(&found.tags, cid.as_str())
    {
        return Ok(found);
    }
    let metadata = &stemcell.info.metadata;
    let sha256 = metadata.get(IMAGE_SHA256_TAG).map(String::as_str);
    let _lock = lock(azure, gallery, definition, Some(path.name())).await?;
    if let Some(found) = get_version(azure, path).await? {
        if is_referenced_by(&found.tags, cid.as_str()) {
            return Ok(found);
        }
        // The version exists without this CID (e.g. the reference was lost to a concurrent
        // tag write): register it, as Ruby's recovery does.
        check_existing_version(&found, gallery, definition, sha256)?;
        update_version_tags(azure, path, Some(found), |version| {
            let tags = (!is_referenced_by(&version.tags, cid.as_str()))
                .then(|| add_stemcell_reference(&version.tags, cid.as_str(), sha256));
            Ok((tags, ()))
        })
        .await?;
        return existing_version(azure, path).await;
    }
    recreate_version(azure, gallery, definition, path, cid, stemcell, sha256).await?;
    existing_version(azure, path).await
}

/// Recovery: the version was deleted (by hand, or by another BOSH) but the stemcell's VHD is
/// still in the default storage account, so the version is created again from it.
async fn recreate_version(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
    path: &ResourcePath,
    cid: &StemcellCid,
    stemcell: &StemcellBlob,
    sha256: Option<&str>,
) -> CpiResult<()> {
    let label = format!("{gallery}/{definition}:{}", path.name());
    let source_uri = if stemcell.content_length > RECORD_BLOB_SIZE {
        stemcell.info.uri.clone()
    } else {
        recorded_source(azure, stemcell).await?.ok_or_else(|| {
            CpiError::vm_creation_failed(
                format!(
                    "The gallery image version {label} of stemcell '{cid}' is missing, and neither the stemcell's blob (a record: registered on an existing version, or staged through a managed disk) nor a source VHD it names is left to recreate it from. Upload the stemcell again."
                ),
                false,
            )
        })?
    };
    let Some(sha256) = sha256 else {
        return Err(CpiError::vm_creation_failed(
            format!(
                "The gallery image version {label} of stemcell '{cid}' is missing and the stemcell blob has no '{IMAGE_SHA256_TAG}' metadata to recreate it with. Upload the stemcell again."
            ),
            false,
        ));
    };
    let location = azure.config.location.as_deref().ok_or_else(|| {
        CpiError::cloud(
            "Missing required property 'azure.location' in the CPI configuration: Azure Compute Gallery stemcells (azure.compute_gallery_name) are replicated to it",
        )
    })?;
    tracing::warn!(stemcell = %cid, version = %label, "the gallery image version is missing: recreating it from the stemcell VHD");
    // The blob metadata holds the stemcell properties as text; the definition reads them so.
    let properties: Map<String, Value> = stemcell
        .info
        .metadata
        .iter()
        .map(|(key, value)| (key.clone(), Value::String(value.clone())))
        .collect();
    let registering = GalleryStemcell {
        gallery,
        definition,
        version_path: path,
        cid,
        sha256,
    };
    create_version(
        azure,
        &registering,
        location,
        &properties,
        &stemcell.info.metadata,
        &source_uri,
    )
    .await
}

/// The URL of the source VHD a record blob names ([`SOURCE_BLOB_METADATA`]), when that blob is
/// still in the stemcell container (it outlives its own CID while the version exists).
async fn recorded_source(azure: &Azure<'_>, stemcell: &StemcellBlob) -> CpiResult<Option<String>> {
    let Some(name) = stemcell.info.metadata.get(SOURCE_BLOB_METADATA) else {
        return Ok(None);
    };
    if !name.starts_with(STEMCELL_PREFIX) || name.contains('/') {
        return Ok(None);
    }
    let blobs = azure.default_blobs().await?;
    let holds_vhd = blobs
        .get_properties(stemcell_blobs::CONTAINER, name)
        .await?
        .is_some_and(|source| source.content_length > RECORD_BLOB_SIZE);
    Ok(holds_vhd.then(|| blobs.blob_url(stemcell_blobs::CONTAINER, name).to_string()))
}

/// Fallback for a blob without gallery metadata: the gallery's versions listed by tag (every
/// page; Azure sends no tags there), each read to find the one referencing this CID.
async fn find_by_references(
    azure: &Azure<'_>,
    gallery: &str,
    cid: &StemcellCid,
) -> CpiResult<Option<GalleryImageVersion>> {
    let path = tagged_resources_path(
        azure
            .arm
            .resource_group_path(&azure.config.resource_group_name),
        GALLERY_NAME_TAG,
        gallery,
    );
    let tagged: Vec<GenericResource> = azure
        .arm
        .list(&path, ApiKind::Resources, azure.deadline)
        .await?;
    for resource in tagged.iter().filter(|r| r.is_type(VERSION_TYPE)) {
        let version_path = ResourcePath::parse_id(&resource.id)?;
        if let Some(version) = get_version(azure, &version_path).await?
            && version.gallery_name() == Some(gallery)
            && is_referenced_by(&version.tags, cid.as_str())
        {
            return Ok(Some(version));
        }
    }
    Ok(None)
}

/// Adds the VM's region to the version's target regions (and sets the configured replica
/// count) unless it is there already; the PATCH waits until the replication finished.
async fn ensure_replicated(
    azure: &Azure<'_>,
    gallery: &str,
    version: GalleryImageVersion,
    vm_location: &str,
) -> CpiResult<GalleryImageVersion> {
    let settings = publishing(azure)?;
    if replication_patch_for(&version, vm_location, &settings).is_none() {
        return Ok(version);
    }
    let path = ResourcePath::parse_id(&version.id)?;
    let definition = version.image_definition().unwrap_or_default().to_owned();
    let _lock = lock(azure, gallery, &definition, Some(&version.name)).await?;
    // A PATCH replaces the whole list of target regions: under the ETag, one computed from an
    // outdated read is refused and computed again. Versions without an ETag are read back, and
    // patched again when a concurrent writer replaced the list meanwhile.
    for _ in 0..REPLICATION_ATTEMPTS {
        azure
            .arm
            .read_modify_write(&path, ApiKind::Galleries, azure.deadline, None, |version| {
                let patch = replication_patch_for(version, vm_location, &settings);
                if patch.is_some() {
                    tracing::info!(version = %version.id, region = vm_location, "replicating the gallery image version");
                }
                CpiResult::Ok((patch.map(Write::Patch), ()))
            })
            .await?;
        let version = existing_version(azure, &path).await?;
        if replication_patch_for(&version, vm_location, &settings).is_none() {
            return Ok(version);
        }
    }
    Err(CpiError::cloud(format!(
        "Cannot replicate the gallery image version '{}' to '{vm_location}': its target regions kept changing under concurrent updates",
        version.id
    )))
}

async fn existing_version(
    azure: &Azure<'_>,
    path: &ResourcePath,
) -> CpiResult<GalleryImageVersion> {
    get_version(azure, path).await?.ok_or_else(|| {
        CpiError::vm_creation_failed(
            format!("The gallery image version '{path}' vanished while create_vm used it"),
            false,
        )
    })
}
