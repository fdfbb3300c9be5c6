//! Azure Compute Gallery: one image definition per stemcell series and generation, one image
//! version per stemcell version. A version's `stemcell_references` tag lists the CIDs that use
//! it; it is changed only by read-modify-write under the version's ETag (and, on one host, under
//! the Ruby CPI's lock names, so both CPIs exclude each other), and the version is deleted with
//! its last reference.

mod vm_image;

use serde_json::{Map, Value};

pub(crate) use vm_image::image_for_vm;

use super::Azure;
use super::stemcell_blobs;
use super::storage_accounts;
use crate::azure::arm::Write;
use crate::azure::compute::Tags;
use crate::azure::compute::gallery::{
    GalleryImageVersion, ImageDefinitionSpec, ImageVersionSpec, PublishingSettings,
    ReferenceRemoval, SOURCE_DELETED_METADATA, VersionSource, add_stemcell_reference,
    check_existing_version, image_definition_body, image_version_body, is_referenced_by,
    remove_stemcell_reference, version_location_from_blob_metadata, version_tags,
    version_tags_patch,
};
use crate::azure::storage::blob::BlobService;
use crate::azure::{ApiKind, Error as AzureError, ResourcePath};
use crate::cid::StemcellCid;
use crate::error::{CpiError, CpiResult};
use crate::locks::{FileLock, LockDir, LockMode};
use crate::stemcell::unix_now;

/// `galleries/<gallery>/images/<definition>` in the default resource group.
pub(crate) fn definition_path(azure: &Azure<'_>, gallery: &str, definition: &str) -> ResourcePath {
    azure
        .compute_path(&azure.config.resource_group_name, "galleries", gallery)
        .child("images", definition)
}

pub(crate) fn version_path(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
    version: &str,
) -> ResourcePath {
    definition_path(azure, gallery, definition).child("versions", version)
}

/// The Ruby CPI's lock names (`create-gallery-image-<gallery>-<definition>[-<version>]`), so
/// both CPIs on one Director VM exclude each other.
pub(crate) async fn lock(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
    version: Option<&str>,
) -> CpiResult<FileLock> {
    let name = match version {
        Some(version) => format!("create-gallery-image-{gallery}-{definition}-{version}"),
        None => format!("create-gallery-image-{gallery}-{definition}"),
    };
    LockDir::default()
        .lock(&name, LockMode::Exclusive, azure.deadline.instant())
        .await
}

/// How new versions are published: `compute_gallery_replicas` and the publishing extensions.
pub(crate) fn publishing(azure: &Azure<'_>) -> CpiResult<PublishingSettings> {
    let config = azure.config;
    Ok(PublishingSettings {
        replica_count: u32::try_from(config.compute_gallery_replicas).map_err(|_| {
            CpiError::cloud("azure.compute_gallery_replicas is too large (Azure allows 1 to 100)")
        })?,
        replication_mode: config.compute_gallery_replication_mode,
        storage_account_type: config.compute_gallery_storage_account_type,
        extra_regions: config.compute_gallery_target_regions.clone(),
    })
}

pub(crate) async fn get_definition(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
) -> CpiResult<Option<Value>> {
    let path = definition_path(azure, gallery, definition);
    azure.get(&path, ApiKind::Galleries).await
}

pub(crate) async fn get_version(
    azure: &Azure<'_>,
    path: &ResourcePath,
) -> CpiResult<Option<GalleryImageVersion>> {
    azure.get(path, ApiKind::Galleries).await
}

/// Read-modify-write of a version's tags: `change` computes the new tags from the version as
/// read (`None`: nothing to write). `first` saves the first GET when the caller just read the
/// version. Answers None when the version does not exist (or vanished meanwhile).
pub(crate) async fn update_version_tags<R>(
    azure: &Azure<'_>,
    path: &ResourcePath,
    first: Option<GalleryImageVersion>,
    mut change: impl FnMut(&GalleryImageVersion) -> CpiResult<(Option<Tags>, R)>,
) -> CpiResult<Option<R>> {
    azure
        .arm
        .read_modify_write(path, ApiKind::Galleries, azure.deadline, first, |version| {
            let (tags, outcome) = change(version)?;
            Ok((
                tags.map(|tags| Write::Patch(version_tags_patch(&tags))),
                outcome,
            ))
        })
        .await
}

fn is_conflict(error: &AzureError) -> bool {
    matches!(error, AzureError::Conflict { .. })
}

/// The stemcell being registered in a gallery, and where its version lives.
pub(crate) struct GalleryStemcell<'a> {
    pub gallery: &'a str,
    pub definition: &'a str,
    pub version_path: &'a ResourcePath,
    pub cid: &'a StemcellCid,
    pub sha256: &'a str,
}

/// Creates the definition when missing (never updates one: its features are immutable), then
/// the version from the uploaded VHD, waiting for replication under the call's deadline.
pub(crate) async fn create_version(
    azure: &Azure<'_>,
    stemcell: &GalleryStemcell<'_>,
    location: &str,
    cloud_properties: &Map<String, Value>,
    metadata: &Tags,
    blob_uri: &str,
) -> CpiResult<()> {
    ensure_definition(
        azure,
        stemcell.gallery,
        stemcell.definition,
        location,
        cloud_properties,
    )
    .await?;
    let account = storage_accounts::default_account(azure).await?;
    let source = VersionSource::Vhd {
        storage_account_id: account.id,
        blob_uri: blob_uri.to_string(),
    };
    put_version(azure, stemcell, location, metadata, source).await
}

/// PUTs the version from `source` (its definition exists) and registers the CID on it.
pub(crate) async fn put_version(
    azure: &Azure<'_>,
    stemcell: &GalleryStemcell<'_>,
    location: &str,
    metadata: &Tags,
    source: VersionSource,
) -> CpiResult<()> {
    let GalleryStemcell {
        version_path, cid, ..
    } = stemcell;
    let publishing = publishing(azure)?;
    let spec = ImageVersionSpec {
        location: location.to_string(),
        tags: version_tags(metadata, cid.as_str()),
        source,
        replica_count: publishing.effective_replica_count(),
        target_regions: publishing.target_regions(location),
        replication_mode: publishing.replication_mode,
        storage_account_type: publishing.storage_account_type,
    };
    let put = azure
        .arm
        .put::<_, Value>(
            version_path,
            ApiKind::Galleries,
            &image_version_body(&spec),
            azure.deadline,
        )
        .await;
    match put {
        Ok(_) => {}
        // Another host is creating the same version: register on it instead.
        Err(e) if is_conflict(&e) => {
            tracing::info!(stemcell = %cid, error = %e, "the version is being written by another CPI");
        }
        Err(e) => return Err(e.into()),
    }
    // A writer on another host (outside our lock) may have replaced the tags: make sure this
    // CID is referenced by what is stored now.
    add_reference(azure, stemcell, None).await
}

pub(crate) async fn ensure_definition(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
    location: &str,
    cloud_properties: &Map<String, Value>,
) -> CpiResult<()> {
    let path = definition_path(azure, gallery, definition);
    let _lock = lock(azure, gallery, definition, None).await?;
    if azure
        .get::<Value>(&path, ApiKind::Galleries)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let body = image_definition_body(&ImageDefinitionSpec::from_stemcell_with(
        location,
        cloud_properties,
        azure.config.compute_gallery_security_type,
    )?);
    match azure
        .arm
        .put::<_, Value>(&path, ApiKind::Galleries, &body, azure.deadline)
        .await
    {
        Ok(_) => Ok(()),
        // Created meanwhile from another host: an existing definition is what we want.
        Err(e) if is_conflict(&e) => match azure.get::<Value>(&path, ApiKind::Galleries).await? {
            Some(_) => Ok(()),
            None => Err(e.into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// Adds this CID to the version's `stemcell_references` (unless already there), refusing a
/// version with other content or not made by BOSH. `read` is the version when just read.
pub(crate) async fn add_reference(
    azure: &Azure<'_>,
    stemcell: &GalleryStemcell<'_>,
    read: Option<GalleryImageVersion>,
) -> CpiResult<()> {
    let GalleryStemcell {
        gallery,
        definition,
        version_path,
        cid,
        sha256,
    } = stemcell;
    let added = update_version_tags(azure, version_path, read, |version| {
        if is_referenced_by(&version.tags, cid.as_str()) {
            return Ok((None, ()));
        }
        check_existing_version(version, gallery, definition, Some(sha256))?;
        let tags = add_stemcell_reference(&version.tags, cid.as_str(), Some(sha256));
        Ok((Some(tags), ()))
    })
    .await?;
    added.ok_or_else(|| {
        CpiError::cloud(format!(
            "The gallery image version {gallery}/{definition}:{} vanished while stemcell {cid} was registered on it",
            version_path.name()
        ))
    })
}

/// What happens to a deleted CID's own blob once its gallery reference is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnBlob {
    Delete,
    /// It is the source VHD of a version that still exists (other CIDs use it).
    KeepAsSource,
}

/// Removes the CID from the version its blob names; deletes the version with its last
/// reference. The version's source VHD lives as long as the version: when it is this CID's
/// blob and other CIDs remain, the blob is kept and marked ([`SOURCE_DELETED_METADATA`]), and
/// whoever deletes the version deletes a marked source with it. The mark is written before the
/// reference is removed, so a last reference removed on another host meanwhile finds it.
pub(crate) async fn release(
    azure: &Azure<'_>,
    gallery: &str,
    cid: &StemcellCid,
) -> CpiResult<OwnBlob> {
    let blobs = azure.default_blobs().await?;
    let own_name = cid.blob_name();
    let Some(own_metadata) = blobs
        .get_metadata(stemcell_blobs::CONTAINER, &own_name)
        .await?
    else {
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
    let path = version_path(azure, gallery, &definition, &version);
    // The same lock as create_stemcell, so a reference being added on this host is not lost;
    // the ETag guards the tags against writers on other hosts.
    let _lock = lock(azure, gallery, &definition, Some(&version)).await?;
    let Some(found) = get_version(azure, &path).await? else {
        return Ok(OwnBlob::Delete);
    };
    let is_own_blob = |version: &GalleryImageVersion| {
        version
            .source_blob_uri()
            .and_then(|uri| stemcell_blobs::blob_of_uri(&blobs, uri))
            .is_some_and(|name| name == own_name)
    };
    if is_own_blob(&found) && !own_metadata.contains_key(SOURCE_DELETED_METADATA) {
        let mut marked = own_metadata.clone();
        marked.insert(SOURCE_DELETED_METADATA.to_owned(), unix_now().to_string());
        blobs
            .set_metadata(stemcell_blobs::CONTAINER, &own_name, &marked)
            .await?;
    }
    // With an ETag the DELETE of the version goes only if no other host added a reference
    // since the read; without one (the specs declare none) only this host's lock guards it.
    let released = azure
        .arm
        .read_modify_write(
            &path,
            ApiKind::Galleries,
            azure.deadline,
            Some(found),
            |found| {
                let removal = remove_stemcell_reference(&found.tags, cid.as_str());
                let write = match &removal {
                    ReferenceRemoval::UpdateTags(tags) => {
                        Some(Write::Patch(version_tags_patch(tags)))
                    }
                    ReferenceRemoval::DeleteVersion => Some(Write::Delete),
                    ReferenceRemoval::NotReferenced => None,
                };
                CpiResult::Ok((write, (removal, found.clone())))
            },
        )
        .await?;
    let Some((removal, found)) = released else {
        return Ok(OwnBlob::Delete);
    };
    match removal {
        ReferenceRemoval::NotReferenced | ReferenceRemoval::UpdateTags(_) => {
            if matches!(removal, ReferenceRemoval::UpdateTags(_)) {
                tracing::info!(stemcell = %cid, gallery, definition, version, "stemcell reference removed from the gallery image version");
            }
            // The version stays: so does its source.
            Ok(if is_own_blob(&found) {
                OwnBlob::KeepAsSource
            } else {
                OwnBlob::Delete
            })
        }
        ReferenceRemoval::DeleteVersion => {
            tracing::info!(stemcell = %cid, gallery, definition, version, "gallery image version deleted");
            if !is_own_blob(&found) {
                delete_released_source(&blobs, &found, cid).await?;
            }
            Ok(OwnBlob::Delete)
        }
    }
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
        .and_then(|uri| stemcell_blobs::blob_of_uri(blobs, uri))
    else {
        return Ok(());
    };
    let released = blobs
        .get_metadata(stemcell_blobs::CONTAINER, &source)
        .await?
        .is_some_and(|metadata| metadata.contains_key(SOURCE_DELETED_METADATA));
    if released
        && blobs
            .delete_blob(stemcell_blobs::CONTAINER, &source)
            .await?
    {
        tracing::info!(stemcell = %cid, blob = %source, "deleted the source VHD of the gallery image version, kept after its own stemcell's deletion");
    }
    Ok(())
}
