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

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rand::Rng;
use serde_json::{Map, Value};

use super::abandoned_uploads::remove_abandoned_uploads;
use super::azure::Azure;
use super::disk_staging::create_version_through_disk;
use crate::azure::ResourcePath;
use crate::azure::compute::Tags;
use crate::azure::compute::gallery::{
    GalleryImageVersion, ImageDefinitionSpec, ImageVersionSpec, PublishingSettings,
    SOURCE_BLOB_METADATA, VersionSource, add_stemcell_reference, check_existing_version,
    gallery_blob_metadata, image_definition_body, image_version_body, is_referenced_by,
    version_location_from_blob_metadata, version_tags, version_tags_patch,
};
use crate::azure::compute::image::{
    PlatformImageReference, PlatformImageVersion, has_platform_image_version,
    platform_image_versions_path,
};
use crate::azure::compute::stringify_metadata;
use crate::azure::storage::StorageAccount;
use crate::azure::storage::blob::BlobService;
use crate::azure::{ApiKind, Error as AzureError};
use crate::cid::{STEMCELL_PREFIX, StemcellCid};
use crate::error::{CpiError, CpiResult};
use crate::locks::{FileLock, LockDir, LockMode};
use crate::stemcell::{UploadOptions, image_sha256, upload_stemcell_vhd};

/// The blob container of stemcells.
pub const STEMCELL_CONTAINER: &str = "stemcell";
/// Read-modify-write rounds of a version's tags before giving up on a busy version.
const TAG_UPDATE_ATTEMPTS: u32 = 32;

pub async fn create_stemcell(
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
    let blobs = azure.default_blobs().await?;
    blobs.ensure_container(STEMCELL_CONTAINER).await?;
    remove_abandoned_uploads(azure, Some(&blobs)).await;
    let cid = StemcellCid::new_heavy();
    let metadata: HashMap<String, String> =
        stringify_metadata(cloud_properties).into_iter().collect();
    upload_vhd(azure, image_path, &blobs, &cid, &metadata).await?;
    Ok(Value::String(cid.to_string()))
}

/// Streams the image's root.vhd into `stemcell/<cid>.vhd` with `metadata`.
async fn upload_vhd(
    azure: &Azure<'_>,
    image_path: &Path,
    blobs: &BlobService,
    cid: &StemcellCid,
    metadata: &HashMap<String, String>,
) -> CpiResult<()> {
    let options = upload_options(azure);
    let blob = cid.blob_name();
    let upload = upload_stemcell_vhd(
        image_path,
        blobs,
        STEMCELL_CONTAINER,
        &blob,
        metadata,
        &options,
    );
    // Stopped at the call's deadline, so an upload mark older than the create_stemcell
    // timeout belongs to a killed process (see `abandoned_uploads`).
    let Ok(uploaded) = tokio::time::timeout(azure.deadline.remaining(), upload).await else {
        if let Err(e) = blobs.delete_blob(STEMCELL_CONTAINER, &blob).await {
            tracing::warn!(stemcell = %cid, error = %e, "cannot delete the partial stemcell blob");
        }
        return Err(CpiError::cloud(format!(
            "The upload of stemcell '{cid}' did not finish within the create_stemcell timeout (azure.method_timeouts.create_stemcell)"
        )));
    };
    let report = uploaded?;
    tracing::info!(
        stemcell = %cid,
        vhd_bytes = report.vhd_size,
        uploaded_bytes = report.bytes_uploaded,
        put_page_calls = report.ranges,
        seconds = report.duration.as_secs_f64(),
        "stemcell uploaded"
    );
    Ok(())
}

/// How a stemcell VHD is streamed: the configured parallelism and zero gaps, retrying throttled
/// calls until the call's deadline.
pub(super) fn upload_options(azure: &Azure<'_>) -> UploadOptions {
    UploadOptions {
        parallelism: azure.config.parallel_upload_thread_num,
        max_zero_gap_bytes: azure.config.stemcell_upload_max_zero_gap_bytes,
        deadline: Some(azure.deadline.instant()),
        ..UploadOptions::default()
    }
}

/// The name of the stemcell blob `uri` addresses in `blobs`' account, or None for a blob
/// elsewhere (another account or container, not a heavy stemcell's blob).
/// Host names compare without case; container and blob names are case-sensitive.
pub(super) fn stemcell_blob_of_uri(blobs: &BlobService, uri: &str) -> Option<String> {
    let url = url::Url::parse(uri).ok()?;
    if url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    let name = url.path_segments()?.next_back()?;
    if !name.starts_with(STEMCELL_PREFIX) {
        return None;
    }
    let own = blobs.blob_url(STEMCELL_CONTAINER, name);
    let same = own.scheme() == url.scheme()
        && own
            .host_str()
            .zip(url.host_str())
            .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && own.port_or_known_default() == url.port_or_known_default()
        && own.path() == url.path();
    same.then(|| name.to_owned())
}

/// The ARM model of `azure.storage_account_name`.
pub(super) async fn default_storage_account(azure: &Azure<'_>) -> CpiResult<StorageAccount> {
    let account_name = azure
        .config
        .storage_account_name
        .as_deref()
        .ok_or_else(|| {
            CpiError::cloud(
                "Missing required property 'azure.storage_account_name' in the CPI configuration",
            )
        })?;
    azure
        .storage
        .get(account_name, azure.deadline)
        .await?
        .ok_or_else(|| {
            CpiError::cloud(format!(
                "The default storage account '{account_name}' cannot be found"
            ))
        })
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
    let account = default_storage_account(azure).await?;
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
    remove_abandoned_uploads(azure, Some(&blobs)).await;
    let cid = StemcellCid::new_light();
    blobs
        .create_record_blob(STEMCELL_CONTAINER, &cid.blob_name(), &metadata)
        .await?;
    Ok(Value::String(cid.to_string()))
}

/// `galleries/<gallery>/images/<definition>` in the default resource group.
pub(super) fn image_definition_path(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
) -> ResourcePath {
    azure
        .arm
        .resource_group_path(&azure.config.resource_group_name)
        .provider("Microsoft.Compute")
        .child("galleries", gallery)
        .child("images", definition)
}

pub(super) fn image_version_path(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
    version: &str,
) -> ResourcePath {
    image_definition_path(azure, gallery, definition).child("versions", version)
}

/// The Ruby CPI's lock names (`create-gallery-image-<gallery>-<definition>[-<version>]`), so
/// both CPIs on one Director VM exclude each other.
pub(super) async fn lock_gallery_image(
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
/// create_vm uses it too, with [`crate::azure::compute::gallery::replication_patch_for`].
pub(super) fn gallery_publishing(azure: &Azure<'_>) -> CpiResult<PublishingSettings> {
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

/// Read-modify-write of a version's tags without lost updates across hosts: `change` computes
/// the new tags from the version as read (`None`: nothing to write) and the PATCH carries the
/// read's ETag as `If-Match`; when another writer changed the version in between (412), it is
/// read again and `change` runs again. `first` saves the first GET when the caller just read
/// the version. Answers None when the version does not exist (or vanished meanwhile).
/// A version without an ETag (the 2024-03-03 spec declares none) gets a plain PATCH, and
/// then only the same-host lock protects the update.
pub(super) async fn update_version_tags<R>(
    azure: &Azure<'_>,
    path: &ResourcePath,
    mut first: Option<GalleryImageVersion>,
    mut change: impl FnMut(&GalleryImageVersion) -> CpiResult<(Option<Tags>, R)>,
) -> CpiResult<Option<R>> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let version = match first.take() {
            Some(version) => version,
            None => match azure.get(path, ApiKind::Galleries).await? {
                Some(version) => version,
                None => return Ok(None),
            },
        };
        let (tags, outcome) = change(&version)?;
        let Some(tags) = tags else {
            return Ok(Some(outcome));
        };
        let body = version_tags_patch(&tags);
        let written = match version.etag.as_deref() {
            Some(etag) => {
                azure
                    .arm
                    .patch_if_match::<_, Value>(
                        path,
                        ApiKind::Galleries,
                        &body,
                        etag,
                        azure.deadline,
                    )
                    .await
            }
            None => {
                azure
                    .arm
                    .patch::<_, Value>(path, ApiKind::Galleries, &body, azure.deadline)
                    .await
            }
        };
        match written {
            Ok(_) => return Ok(Some(outcome)),
            Err(e) if e.is_precondition_failed() && attempt < TAG_UPDATE_ATTEMPTS => {
                tracing::debug!(version = %path, attempt, "gallery image version changed since it was read; reading it again");
                // Jitter spreads writers that lost the same race, so one of them wins next.
                let pause = Duration::from_millis(
                    rand::rng().random_range(0..=40 * u64::from(attempt.min(5))),
                );
                if pause >= azure.deadline.remaining() {
                    return Err(e.into());
                }
                tokio::time::sleep(pause).await;
            }
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e.into()),
        }
    }
}

fn is_conflict(error: &AzureError) -> bool {
    matches!(error, AzureError::Conflict { .. })
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
    let blobs = azure.default_blobs().await?;
    blobs.ensure_container(STEMCELL_CONTAINER).await?;
    remove_abandoned_uploads(azure, Some(&blobs)).await;
    let cid = StemcellCid::new_heavy();
    let blob_metadata: HashMap<String, String> = metadata.clone().into_iter().collect();
    let version_path = image_version_path(azure, gallery, &definition, &version);

    // One process per host creates a version; the others wait and then only add a reference.
    let _version_lock = lock_gallery_image(azure, gallery, &definition, Some(&version)).await?;
    let existing: Option<GalleryImageVersion> =
        azure.get(&version_path, ApiKind::Galleries).await?;
    if let Some(existing) = existing {
        check_existing_version(&existing, gallery, &definition, Some(&sha256))?;
        let mut record_metadata = blob_metadata.clone();
        // create_vm recreates a deleted version from this VHD, whichever CID it is given.
        if let Some(source) = existing
            .source_blob_uri()
            .and_then(|uri| stemcell_blob_of_uri(&blobs, uri))
        {
            record_metadata.insert(SOURCE_BLOB_METADATA.to_owned(), source);
        }
        blobs
            .create_record_blob(STEMCELL_CONTAINER, &cid.blob_name(), &record_metadata)
            .await?;
        let stemcell = GalleryStemcell {
            gallery,
            definition: &definition,
            version_path: &version_path,
            cid: &cid,
            sha256: &sha256,
        };
        if let Err(e) = add_reference(azure, &stemcell, Some(existing)).await {
            blobs
                .delete_blob(STEMCELL_CONTAINER, &cid.blob_name())
                .await?;
            return Err(e);
        }
        tracing::info!(stemcell = %cid, gallery, definition, version, "stemcell registered on the existing gallery image version");
        return Ok(Value::String(cid.to_string()));
    }

    let stemcell = GalleryStemcell {
        gallery,
        definition: &definition,
        version_path: &version_path,
        cid: &cid,
        sha256: &sha256,
    };
    // An account reached with Entra ID gets no VHD source (see `image_version_body`).
    if blobs.uses_entra_id() {
        create_version_through_disk(
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
    upload_vhd(azure, image_path, &blobs, &cid, &blob_metadata).await?;
    let blob_uri = blobs.blob_url(STEMCELL_CONTAINER, &cid.blob_name());
    let created = create_image_version(
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
        if let Err(cleanup) = blobs
            .delete_blob(STEMCELL_CONTAINER, &cid.blob_name())
            .await
        {
            tracing::warn!(stemcell = %cid, error = %cleanup, "cannot delete the uploaded VHD");
        }
        return Err(e);
    }
    Ok(Value::String(cid.to_string()))
}

/// The stemcell being registered in a gallery, and where its version lives.
pub(super) struct GalleryStemcell<'a> {
    pub gallery: &'a str,
    pub definition: &'a str,
    pub version_path: &'a ResourcePath,
    pub cid: &'a StemcellCid,
    pub sha256: &'a str,
}

/// Creates the definition when missing (never updates one: its features are immutable), then
/// the version from the uploaded VHD, waiting for replication under the call's deadline.
pub(super) async fn create_image_version(
    azure: &Azure<'_>,
    stemcell: &GalleryStemcell<'_>,
    location: &str,
    cloud_properties: &Map<String, Value>,
    metadata: &Tags,
    blob_uri: &str,
) -> CpiResult<()> {
    ensure_image_definition(
        azure,
        stemcell.gallery,
        stemcell.definition,
        location,
        cloud_properties,
    )
    .await?;
    let account = default_storage_account(azure).await?;
    let source = VersionSource::Vhd {
        storage_account_id: account.id,
        blob_uri: blob_uri.to_string(),
    };
    put_image_version(azure, stemcell, location, metadata, source).await
}

/// PUTs the version from `source` (its definition exists) and registers the CID on it.
pub(super) async fn put_image_version(
    azure: &Azure<'_>,
    stemcell: &GalleryStemcell<'_>,
    location: &str,
    metadata: &Tags,
    source: VersionSource,
) -> CpiResult<()> {
    let GalleryStemcell {
        version_path, cid, ..
    } = stemcell;
    let publishing = gallery_publishing(azure)?;
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

pub(super) async fn ensure_image_definition(
    azure: &Azure<'_>,
    gallery: &str,
    definition: &str,
    location: &str,
    cloud_properties: &Map<String, Value>,
) -> CpiResult<()> {
    let path = image_definition_path(azure, gallery, definition);
    let _lock = lock_gallery_image(azure, gallery, definition, None).await?;
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
async fn add_reference(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::azure::storage::StorageAccess;
    use crate::azure::storage::blob::BlobServiceOptions;

    fn service() -> BlobService {
        let access = StorageAccess {
            account_name: "acct".into(),
            blob_endpoint: url::Url::parse("https://acct.blob.core.windows.net/").unwrap(),
            auth: crate::azure::storage::StorageAuth::SharedKey("a2V5".to_string().into()),
        };
        BlobService::new(&access, BlobServiceOptions::default()).unwrap()
    }

    #[test]
    fn a_version_source_is_recognised_only_as_a_stemcell_blob_of_this_account() {
        let blobs = service();
        let name = "bosh-stemcell-1f0e.vhd";
        let own = format!("https://acct.blob.core.windows.net/stemcell/{name}");
        assert_eq!(stemcell_blob_of_uri(&blobs, &own).as_deref(), Some(name));
        let host_in_capitals = own.replace("acct.blob", "ACCT.blob");
        assert_eq!(
            stemcell_blob_of_uri(&blobs, &host_in_capitals).as_deref(),
            Some(name)
        );
        for other in [
            format!("https://other.blob.core.windows.net/stemcell/{name}"),
            format!("https://acct.blob.core.windows.net/vhds/{name}"),
            "https://acct.blob.core.windows.net/stemcell/bosh-light-stemcell-1.vhd".to_owned(),
            format!("{own}?sv=1"),
            own.replace("/stemcell/", "/Stemcell/"),
            String::new(),
        ] {
            assert_eq!(stemcell_blob_of_uri(&blobs, &other), None, "{other}");
        }
    }
}
