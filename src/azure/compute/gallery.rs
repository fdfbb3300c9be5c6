//! Azure Compute Gallery stemcells (`Microsoft.Compute/galleries`, GalleryRP 2024-03-03): image
//! definition and version names, their PUT/PATCH bodies, the version model, the
//! `stemcell_references` bookkeeping shared by every stemcell that uses one version, and the
//! blob metadata of a gallery stemcell (which names its definition and version, so the version
//! can be found without ARM's tag-filtered resource list).
//!
//! Differences from the Ruby CPI, names and tags unchanged:
//! - Definitions are sent at 2024-03-03. Ruby used 2025-03-03, where a gen2 definition without
//!   a `SecurityType` feature becomes `TrustedLaunchSupported` (and waits for Trusted Launch
//!   validation); at 2024-03-03 it is a Standard image. The stemcell's `security_type` is sent
//!   when it has one. Without one nothing is sent: `Standard` is not among the feature's
//!   documented values, and the absence means Standard at this api-version. Moving the gallery
//!   api-version to 2025-03-03 or later must revisit this.
//! - Tag-only and replication updates are PATCHes. A version PUT requires `storageProfile`,
//!   which Ruby's `{location, tags}` PUT left out; the replication PATCH resends the source.
//! - Existing target regions keep their per-region settings when a region is added.
//! - Removing a reference counts a legacy `stemcell_name` tag as a reference, so a version
//!   still used by a stemcell registered the old way is not deleted.
//! - Beyond Ruby, each only when configured ([`PublishingSettings`], [`DefinitionSecurityType`]):
//!   shallow replication, the replicas' storage account type, extra target regions written
//!   with the version, and the definitions' security type.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::image::{OsType, hyper_v_generation};
use super::{CPI_METADATA_PREFIX, Tags, null_as_default, stringify_metadata};
use crate::error::{CpiError, CpiResult};

/// `publishingProfile.replicationMode` of new versions (`compute_gallery_replication_mode`).
/// Not updatable once a version exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicationMode {
    /// Every replica is a full copy (Azure's default).
    Full,
    /// The replicas reference the source instead of copying it: the version is ready much
    /// sooner; Azure documents it for test and development, not mass deployments.
    Shallow,
}

impl ReplicationMode {
    pub(crate) const VALUES: [&'static str; 2] = ["Full", "Shallow"];

    /// Case-insensitive, returning the spec's spelling.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "full" => Some(Self::Full),
            "shallow" => Some(Self::Shallow),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Full => "Full",
            Self::Shallow => "Shallow",
        }
    }
}

/// `storageAccountType` of the replicas (`compute_gallery_storage_account_type`). Not
/// updatable once a region holds replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplicaStorageType {
    StandardLrs,
    StandardZrs,
    PremiumLrs,
}

impl ReplicaStorageType {
    pub(crate) const VALUES: [&'static str; 3] = ["Standard_LRS", "Standard_ZRS", "Premium_LRS"];

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "standard_lrs" => Some(Self::StandardLrs),
            "standard_zrs" => Some(Self::StandardZrs),
            "premium_lrs" => Some(Self::PremiumLrs),
            _ => None,
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::StandardLrs => "Standard_LRS",
            Self::StandardZrs => "Standard_ZRS",
            Self::PremiumLrs => "Premium_LRS",
        }
    }
}

/// The `SecurityType` feature of new non-gen1 definitions (`compute_gallery_security_type`),
/// overriding the stemcell's `security_type`. Definitions are immutable: an existing one
/// keeps its features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefinitionSecurityType {
    /// No `SecurityType` feature, even when the stemcell declares one: a Standard image at
    /// this api-version (`Standard` is not a documented value of the feature itself).
    Standard,
    TrustedLaunchSupported,
    TrustedLaunch,
    ConfidentialVmSupported,
    ConfidentialVm,
    TrustedLaunchAndConfidentialVmSupported,
}

impl DefinitionSecurityType {
    pub(crate) const VALUES: [&'static str; 6] = [
        "Standard",
        "TrustedLaunchSupported",
        "TrustedLaunch",
        "ConfidentialVmSupported",
        "ConfidentialVM",
        "TrustedLaunchAndConfidentialVmSupported",
    ];

    pub(crate) fn parse(text: &str) -> Option<Self> {
        const ALL: [DefinitionSecurityType; 6] = [
            DefinitionSecurityType::Standard,
            DefinitionSecurityType::TrustedLaunchSupported,
            DefinitionSecurityType::TrustedLaunch,
            DefinitionSecurityType::ConfidentialVmSupported,
            DefinitionSecurityType::ConfidentialVm,
            DefinitionSecurityType::TrustedLaunchAndConfidentialVmSupported,
        ];
        ALL.into_iter()
            .find(|choice| choice.as_str().eq_ignore_ascii_case(text))
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Standard => "Standard",
            Self::TrustedLaunchSupported => "TrustedLaunchSupported",
            Self::TrustedLaunch => "TrustedLaunch",
            Self::ConfidentialVmSupported => "ConfidentialVmSupported",
            Self::ConfidentialVm => "ConfidentialVM",
            Self::TrustedLaunchAndConfidentialVmSupported => {
                "TrustedLaunchAndConfidentialVmSupported"
            }
        }
    }

    /// The feature value to send; None for Standard.
    fn feature_value(self) -> Option<&'static str> {
        (self != Self::Standard).then(|| self.as_str())
    }
}

/// How versions are published, from the `compute_gallery_*` settings. The default (no
/// setting) is the Ruby CPI's: Full replication, Azure's default storage, the version's own
/// location only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublishingSettings {
    /// `compute_gallery_replicas`.
    pub(crate) replica_count: u32,
    pub(crate) replication_mode: Option<ReplicationMode>,
    pub storage_account_type: Option<ReplicaStorageType>,
    /// Regions replicated to when the version is created, besides its own location.
    pub(crate) extra_regions: Vec<String>,
}

impl PublishingSettings {
    /// The replicas per region to ask for: one with shallow replication (as in the spec's
    /// shallow example and Packer's `use_shallow_replication`), else `replica_count`.
    pub(crate) fn effective_replica_count(&self) -> u32 {
        match self.replication_mode {
            Some(ReplicationMode::Shallow) => 1,
            _ => self.replica_count,
        }
    }

    /// `location` first, then each extra region not already listed (regions compared as
    /// [`same_region`] does).
    pub(crate) fn target_regions(&self, location: &str) -> Vec<String> {
        let mut regions = vec![location.to_string()];
        for region in &self.extra_regions {
            if !regions.iter().any(|r| same_region(r, region)) {
                regions.push(region.clone());
            }
        }
        regions
    }
}

/// Publisher of every BOSH image definition.
pub(crate) const PUBLISHER: &str = "bosh";
/// `generation` of a stemcell that does not say.
pub(crate) const DEFAULT_GENERATION: &str = "gen1";
pub(crate) const STEMCELL_REFERENCES_TAG: &str = "stemcell_references";
/// Written by older Ruby releases instead of `stemcell_references`.
pub(crate) const LEGACY_STEMCELL_NAME_TAG: &str = "stemcell_name";
pub(crate) const IMAGE_SHA256_TAG: &str = "image_sha256";
pub(crate) const GALLERY_NAME_TAG: &str = "compute_gallery_name";
pub(crate) const IMAGE_DEFINITION_TAG: &str = "compute_gallery_image_definition";
/// Unix seconds when delete_stemcell of the CID whose blob this is ran while the blob was the
/// source VHD of a version other CIDs still referenced: the blob stays for the version (create_vm
/// recreates the version from it) and goes with the version's last reference.
pub(crate) const SOURCE_DELETED_METADATA: &str = "bosh_azure_cpi_rs_deleted";
/// On a record blob (a CID registered on an existing version): the name of the blob in the same
/// container that holds the version's source VHD, for create_vm's recovery.
pub(crate) const SOURCE_BLOB_METADATA: &str = "bosh_azure_cpi_rs_source_blob";
const DESCRIPTION: &str = "Generated by BOSH";

/// A gallery version name from a stemcell version: `X` → `X.0.0`, `X.Y` → `X.Y.0`,
/// `X.Y.Z[.more]` → `X.Y.Z`. Azure accepts digits only, each part within int32.
pub(crate) fn semver_version(stemcell_version: &str) -> CpiResult<String> {
    let mut parts = stemcell_version.split('.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next().unwrap_or("0");
    let patch = parts.next().unwrap_or("0");
    for part in [major, minor, patch] {
        let valid = !part.is_empty()
            && part.bytes().all(|b| b.is_ascii_digit())
            && part.parse::<i32>().is_ok();
        if !valid {
            return Err(CpiError::cloud(format!(
                "Stemcell version '{stemcell_version}' cannot be a gallery image version: each of its first three parts must be a number"
            )));
        }
    }
    Ok(format!("{major}.{minor}.{patch}"))
}

/// The stemcell's `generation`, `gen1` when absent.
pub(crate) fn stemcell_generation(stemcell_properties: &Map<String, Value>) -> String {
    match stemcell_properties.get("generation") {
        Some(Value::String(g)) if !g.is_empty() => g.clone(),
        _ => DEFAULT_GENERATION.to_string(),
    }
}

fn is_gen1(generation: &str) -> bool {
    generation.eq_ignore_ascii_case(DEFAULT_GENERATION)
}

/// The definition name: the stemcell `name` for gen1, `<name>-<generation>` otherwise.
pub(crate) fn image_definition_name(stemcell_properties: &Map<String, Value>) -> CpiResult<String> {
    let name = match stemcell_properties.get("name") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => return Err(CpiError::cloud("Could not find stemcell name in metadata.")),
    };
    let generation = stemcell_generation(stemcell_properties);
    Ok(if is_gen1(&generation) {
        name.clone()
    } else {
        format!("{name}-{generation}")
    })
}

/// The `image` metadata of a gallery stemcell, JSON as Ruby writes it (compact, this order).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GalleryImageMetadata {
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    pub version: String,
}

/// The stemcell blob's metadata in gallery mode: every stemcell property stringified, plus
/// `image` (JSON `{publisher:"bosh", offer:<definition>, sku:<generation>, version:<semver>}`),
/// `compute_gallery_name`, `compute_gallery_image_definition` and `image_sha256` (of the image
/// tarball). The gallery version's tags are this plus `stemcell_references`.
pub(crate) fn gallery_blob_metadata(
    stemcell_properties: &Map<String, Value>,
    gallery_name: &str,
    image_sha256: &str,
) -> CpiResult<Tags> {
    let definition = image_definition_name(stemcell_properties)?;
    let version = match stemcell_properties.get("version") {
        Some(Value::String(v)) => semver_version(v)?,
        Some(Value::Number(n)) => semver_version(&n.to_string())?,
        _ => {
            return Err(CpiError::cloud(
                "Could not find stemcell version in metadata.",
            ));
        }
    };
    let image = GalleryImageMetadata {
        publisher: PUBLISHER.into(),
        offer: definition.clone(),
        sku: stemcell_generation(stemcell_properties),
        version,
    };
    let image_json = serde_json::to_string(&image)
        .map_err(|e| CpiError::cloud(format!("Cannot encode the image metadata: {e}")))?;
    let mut metadata = stringify_metadata(stemcell_properties);
    metadata.insert("image".into(), image_json);
    metadata.insert(GALLERY_NAME_TAG.into(), gallery_name.into());
    metadata.insert(IMAGE_DEFINITION_TAG.into(), definition);
    metadata.insert(IMAGE_SHA256_TAG.into(), image_sha256.into());
    Ok(metadata)
}

/// Where a gallery stemcell's version lives, read back from its blob metadata (the recovery
/// path and delete_stemcell). None when the blob is not a stemcell of this gallery.
pub(crate) fn version_location_from_blob_metadata(
    metadata: &Tags,
    gallery_name: &str,
) -> Option<(String, GalleryImageMetadata)> {
    if metadata.get(GALLERY_NAME_TAG).map(String::as_str) != Some(gallery_name) {
        return None;
    }
    let definition = metadata.get(IMAGE_DEFINITION_TAG)?.clone();
    let image: GalleryImageMetadata = serde_json::from_str(metadata.get("image")?).ok()?;
    Some((definition, image))
}

/// What a new image definition declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageDefinitionSpec {
    pub location: String,
    /// The definition name ([`image_definition_name`]), also its `offer`.
    pub offer: String,
    /// The stemcell generation (`gen1`, `gen2`), also its `sku`.
    pub sku: String,
    pub os_type: OsType,
    pub(crate) hyper_v_generation: &'static str,
    /// `x64` or `Arm64`.
    pub architecture: Option<&'static str>,
    /// (name, value) features, non-gen1 only.
    pub features: Vec<(String, String)>,
}

impl ImageDefinitionSpec {
    /// From the stemcell.MF cloud_properties (or the blob metadata in the recovery path, where
    /// every value is a string), with `security_type` (when given) replacing the stemcell's
    /// own `security_type` on non-gen1 definitions. Gen1 (Hyper-V V1) images cannot boot
    /// Trusted Launch or confidential VMs, so they never carry the feature.
    pub(crate) fn from_stemcell_with(
        location: &str,
        stemcell_properties: &Map<String, Value>,
        security_type: Option<DefinitionSecurityType>,
    ) -> CpiResult<Self> {
        let text = |key: &str| match stemcell_properties.get(key) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
            _ => None,
        };
        let generation = stemcell_generation(stemcell_properties);
        let os_type = match text("os_type") {
            Some(os) => OsType::from_metadata(Some(os))?,
            None => {
                return Err(CpiError::cloud(
                    "Invalid os_type ''. Must be either 'Linux' or 'Windows'",
                ));
            }
        };
        let architecture = text("architecture")
            .map(normalize_architecture)
            .transpose()?;
        let features = if is_gen1(&generation) {
            Vec::new()
        } else {
            features(stemcell_properties, security_type)
        };
        Ok(Self {
            location: location.into(),
            offer: image_definition_name(stemcell_properties)?,
            hyper_v_generation: hyper_v_generation(Some(&generation))?,
            sku: generation,
            os_type,
            architecture,
            features,
        })
    }
}

fn normalize_architecture(architecture: &str) -> CpiResult<&'static str> {
    match architecture.to_ascii_lowercase().as_str() {
        "x86_64" | "x64" | "amd64" => Ok("x64"),
        "arm64" | "aarch64" => Ok("Arm64"),
        _ => Err(CpiError::cloud(format!(
            "Unsupported stemcell architecture '{architecture}': expected x86_64 or arm64"
        ))),
    }
}

/// Ruby's features: each only when the stemcell declares it; the configured security type,
/// when set, instead of the stemcell's.
fn features(
    properties: &Map<String, Value>,
    security_type: Option<DefinitionSecurityType>,
) -> Vec<(String, String)> {
    let mut features = Vec::new();
    if let Some(controllers) = disk_controller_types(properties.get("disk_controller_types")) {
        features.push(("DiskControllerTypes".to_string(), controllers.join(",")));
    }
    if let Some(value) = properties.get("accelerated_networking") {
        features.push((
            "IsAcceleratedNetworkSupported".to_string(),
            true_false(value).into(),
        ));
    }
    if let Some(value) = properties.get("hibernation") {
        features.push(("IsHibernateSupported".to_string(), true_false(value).into()));
    }
    let declared = match properties.get("security_type") {
        Some(Value::String(declared)) if !declared.is_empty() => Some(declared.as_str()),
        _ => None,
    };
    let security_type = match security_type {
        Some(configured) => configured.feature_value(),
        None => declared,
    };
    if let Some(value) = security_type {
        features.push(("SecurityType".to_string(), value.to_string()));
    }
    features
}

/// A list, or (from blob metadata) its JSON text; normalized to `SCSI`/`NVMe`. Anything else
/// is ignored, as in Ruby.
fn disk_controller_types(value: Option<&Value>) -> Option<Vec<String>> {
    let list: Vec<Value> = match value? {
        Value::Array(items) => items.clone(),
        Value::String(text) => serde_json::from_str(text).ok()?,
        _ => return None,
    };
    let names: Vec<String> = list
        .iter()
        .filter_map(Value::as_str)
        .map(|c| match c.to_ascii_lowercase().as_str() {
            "scsi" => "SCSI".to_string(),
            "nvme" => "NVMe".to_string(),
            _ => c.to_string(),
        })
        .collect();
    (!names.is_empty()).then_some(names)
}

/// Booleans, and their text from blob metadata (Ruby took the string "false" as true).
fn true_false(value: &Value) -> &'static str {
    let yes = match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        Value::Null => false,
        _ => true,
    };
    if yes { "True" } else { "False" }
}

/// PUT body of an image definition.
pub(crate) fn image_definition_body(spec: &ImageDefinitionSpec) -> Value {
    let mut properties = Map::new();
    properties.insert("description".into(), json!(DESCRIPTION));
    properties.insert(
        "identifier".into(),
        json!({"publisher": PUBLISHER, "offer": spec.offer, "sku": spec.sku}),
    );
    properties.insert("osState".into(), json!("Generalized"));
    properties.insert("osType".into(), json!(spec.os_type.as_str()));
    properties.insert("hyperVGeneration".into(), json!(spec.hyper_v_generation));
    if let Some(architecture) = spec.architecture {
        properties.insert("architecture".into(), json!(architecture));
    }
    if !spec.features.is_empty() {
        let features: Vec<Value> = spec
            .features
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect();
        properties.insert("features".into(), Value::Array(features));
    }
    json!({"location": spec.location, "properties": properties})
}

/// What a new image version holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageVersionSpec {
    pub location: String,
    /// [`version_tags`].
    pub tags: Tags,
    pub(crate) source: VersionSource,
    /// Replicas per region ([`PublishingSettings::effective_replica_count`]).
    pub(crate) replica_count: u32,
    /// The version's location first ([`PublishingSettings::target_regions`]).
    pub target_regions: Vec<String>,
    /// Sent only when configured, so Azure's defaults (Full, Standard_LRS) apply otherwise.
    pub(crate) replication_mode: Option<ReplicationMode>,
    pub storage_account_type: Option<ReplicaStorageType>,
}

/// What a new version is made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum VersionSource {
    /// A VHD blob: the ARM id of its storage account and its URL (no SAS).
    Vhd {
        storage_account_id: String,
        blob_uri: String,
    },
    /// A managed disk (or snapshot), by ARM id: `storageProfile.osDiskImage.source.id`, the
    /// source Azure documents for images whose data never sat in a storage account.
    ManagedDisk { id: String },
}

/// The tags of a new version: the blob metadata (without this CPI's own blob keys) plus
/// `stemcell_references: <cid>`.
pub(crate) fn version_tags(blob_metadata: &Tags, stemcell_cid: &str) -> Tags {
    let mut tags: Tags = blob_metadata
        .iter()
        .filter(|(key, _)| !key.starts_with(CPI_METADATA_PREFIX))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    tags.insert(STEMCELL_REFERENCES_TAG.into(), stemcell_cid.into());
    tags
}

/// PUT body of an image version from a VHD blob or a managed disk.
pub(crate) fn image_version_body(spec: &ImageVersionSpec) -> Value {
    let regions: Vec<Value> = spec
        .target_regions
        .iter()
        .map(|r| json!({ "name": r }))
        .collect();
    let mut publishing = Map::new();
    publishing.insert("replicaCount".into(), json!(spec.replica_count));
    publishing.insert("targetRegions".into(), Value::Array(regions));
    if let Some(mode) = spec.replication_mode {
        publishing.insert("replicationMode".into(), json!(mode.as_str()));
    }
    if let Some(storage) = spec.storage_account_type {
        publishing.insert("storageAccountType".into(), json!(storage.as_str()));
    }
    // A VHD source needs listKeys permission (Microsoft.Storage/storageAccounts/listKeys/action)
    // on its account, as Azure's gallery docs ("Store and share images in an Azure Compute
    // Gallery", RBAC permissions) say; neither they, the GalleryRP 2024-03-03 spec
    // (GalleryOSDiskImage.source) nor the SDK issues say that the import works from an account
    // that refuses key-based access. So a keyless default account gets no VHD source: its
    // stemcells are staged through a managed disk (createOption Upload, dataAccessAuthMode
    // AzureActiveDirectory) and the version is made from the disk.
    let source = match &spec.source {
        VersionSource::Vhd {
            storage_account_id,
            blob_uri,
        } => json!({"storageAccountId": storage_account_id, "uri": blob_uri}),
        VersionSource::ManagedDisk { id } => json!({ "id": id }),
    };
    json!({
        "location": spec.location,
        "tags": spec.tags,
        "properties": {
            "storageProfile": {"osDiskImage": {"source": source}},
            "publishingProfile": publishing,
        }
    })
}

/// PATCH body replacing a version's tags.
pub(crate) fn version_tags_patch(tags: &Tags) -> Value {
    json!({ "tags": tags })
}

/// A gallery image version as returned by GET (`$expand=ReplicationStatus` fills
/// `replicationStatus`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct GalleryImageVersion {
    pub id: String,
    pub name: String,
    pub location: String,
    /// For `If-Match` on tag updates. The 2024-03-03 spec declares no `etag` on versions, so
    /// Azure may send none; callers then fall back to a plain PATCH.
    #[serde(default)]
    pub(crate) etag: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Tags,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: GalleryImageVersionProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GalleryImageVersionProperties {
    #[serde(default)]
    pub(crate) provisioning_state: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) publishing_profile: PublishingProfile,
    #[serde(default, deserialize_with = "null_as_default")]
    pub(crate) storage_profile: VersionStorageProfile,
    #[serde(default)]
    pub(crate) replication_status: Option<ReplicationStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PublishingProfile {
    #[serde(default)]
    pub(crate) replica_count: Option<u32>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub target_regions: Vec<TargetRegion>,
    #[serde(default)]
    pub storage_account_type: Option<String>,
    /// `Full` or `Shallow`; absent means Full.
    #[serde(default)]
    pub(crate) replication_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TargetRegion {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) regional_replica_count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_account_type: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct VersionStorageProfile {
    #[serde(default)]
    pub(crate) os_disk_image: Option<DiskImage>,
    #[serde(default)]
    pub source: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct DiskImage {
    #[serde(default)]
    pub source: Option<DiskImageSource>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DiskImageSource {
    #[serde(default)]
    pub uri: Option<String>,
    #[serde(default)]
    pub storage_account_id: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ReplicationStatus {
    #[serde(default)]
    pub(crate) aggregated_state: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub summary: Vec<RegionalReplicationStatus>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct RegionalReplicationStatus {
    #[serde(default)]
    pub region: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub progress: Option<u32>,
}

impl crate::azure::arm::Etagged for GalleryImageVersion {
    fn etag(&self) -> Option<&str> {
        self.etag.as_deref()
    }
}

impl GalleryImageVersion {
    /// The gallery name, from the id.
    pub(crate) fn gallery_name(&self) -> Option<&str> {
        id_segment_after(&self.id, "/galleries/")
    }

    /// The image definition name, from the id.
    pub(crate) fn image_definition(&self) -> Option<&str> {
        id_segment_after(&self.id, "/images/")
    }

    /// The VHD the version was created from (`storageProfile.osDiskImage.source.uri`).
    pub(crate) fn source_blob_uri(&self) -> Option<&str> {
        self.properties
            .storage_profile
            .os_disk_image
            .as_ref()?
            .source
            .as_ref()?
            .uri
            .as_deref()
    }

    pub(crate) fn target_region_names(&self) -> impl Iterator<Item = &str> {
        self.properties
            .publishing_profile
            .target_regions
            .iter()
            .map(|r| r.name.as_str())
    }
}

/// The segment after `marker` in an ARM id. Type segments are case-insensitive in ARM and do
/// come back as `Galleries`/`Images` in some responses.
fn id_segment_after<'a>(id: &'a str, marker: &str) -> Option<&'a str> {
    // ASCII lower-casing keeps byte offsets, so the index applies to `id`.
    let start = id.to_ascii_lowercase().find(marker)? + marker.len();
    id[start..].split('/').next().filter(|s| !s.is_empty())
}

/// Region names compared as Ruby: case-insensitive, spaces ignored (`East US` = `eastus`).
pub(crate) fn same_region(a: &str, b: &str) -> bool {
    let normalize = |s: &str| s.replace(' ', "").to_ascii_lowercase();
    normalize(a) == normalize(b)
}

/// create_vm with a gallery stemcell: a PATCH adding the VM's location to the target regions
/// and/or setting the replica count, or None when the version already fits. The PATCH resends
/// the version's source because the spec requires `storageProfile` in a version update. It
/// follows the configured publishing settings: their effective
/// replica count (one with shallow replication), and their storage account type for the added
/// region (regions already there keep theirs: the type is not updatable).
pub(crate) fn replication_patch_for(
    version: &GalleryImageVersion,
    location: &str,
    settings: &PublishingSettings,
) -> Option<Value> {
    replication_patch_with(
        version,
        location,
        settings.effective_replica_count(),
        settings.storage_account_type,
    )
}

fn replication_patch_with(
    version: &GalleryImageVersion,
    location: &str,
    replica_count: u32,
    storage_account_type: Option<ReplicaStorageType>,
) -> Option<Value> {
    let publishing = &version.properties.publishing_profile;
    let needs_region = !version
        .target_region_names()
        .any(|r| same_region(r, location));
    let needs_replicas = publishing.replica_count.is_some_and(|c| c != replica_count);
    if !needs_region && !needs_replicas {
        return None;
    }
    let mut regions = publishing.target_regions.clone();
    if needs_region {
        regions.push(TargetRegion {
            name: location.to_string(),
            regional_replica_count: None,
            storage_account_type: storage_account_type.map(|t| t.as_str().to_string()),
        });
    }
    let mut profile = Map::new();
    profile.insert("targetRegions".into(), json!(regions));
    let replicas = if needs_replicas {
        replica_count
    } else {
        publishing.replica_count.unwrap_or(replica_count)
    };
    profile.insert("replicaCount".into(), json!(replicas));
    let mut properties = Map::new();
    properties.insert("publishingProfile".into(), Value::Object(profile));
    if let Some(source) = version
        .properties
        .storage_profile
        .os_disk_image
        .as_ref()
        .and_then(|d| d.source.as_ref())
    {
        let mut writable = Map::new();
        if let Some(id) = &source.storage_account_id {
            writable.insert("storageAccountId".into(), json!(id));
        }
        if let Some(uri) = &source.uri {
            writable.insert("uri".into(), json!(uri));
        }
        if let Some(id) = &source.id {
            writable.insert("id".into(), json!(id));
        }
        properties.insert(
            "storageProfile".into(),
            json!({"osDiskImage": {"source": writable}}),
        );
    }
    Some(json!({ "properties": properties }))
}

/// The stemcell CIDs using a version: `stemcell_references` (comma-separated) with the legacy
/// `stemcell_name` folded in.
pub(crate) fn stemcell_references(tags: &Tags) -> Vec<String> {
    let mut references: Vec<String> = tags
        .get(STEMCELL_REFERENCES_TAG)
        .map(|refs| {
            refs.split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    if let Some(legacy) = tags.get(LEGACY_STEMCELL_NAME_TAG)
        && !legacy.is_empty()
        && !references.contains(legacy)
    {
        references.push(legacy.clone());
    }
    references
}

/// Whether a version serves that stemcell.
pub(crate) fn is_referenced_by(tags: &Tags, stemcell_cid: &str) -> bool {
    stemcell_references(tags).iter().any(|r| r == stemcell_cid)
}

/// create_stemcell found the version already there: refuse a version with other content (both
/// SHA-256 known and different) or one BOSH did not create (no reference tags).
pub(crate) fn check_existing_version(
    version: &GalleryImageVersion,
    gallery: &str,
    definition: &str,
    new_image_sha256: Option<&str>,
) -> CpiResult<()> {
    let label = format!("{gallery}/{definition}:{}", version.name);
    if let (Some(existing), Some(new)) = (version.tags.get(IMAGE_SHA256_TAG), new_image_sha256)
        && existing != new
    {
        return Err(CpiError::cloud(format!(
            "Gallery image version {label} already exists but has different content (SHA256 mismatch). Expected: {new}, Found: {existing}. Please use a different stemcell version or verify the image integrity."
        )));
    }
    if !version.tags.contains_key(STEMCELL_REFERENCES_TAG)
        && !version.tags.contains_key(LEGACY_STEMCELL_NAME_TAG)
    {
        return Err(CpiError::cloud(format!(
            "Gallery image version {label} already exists but was not created by BOSH CPI. Please use a different stemcell version or delete the existing image."
        )));
    }
    Ok(())
}

/// The tags after registering another stemcell on an existing version: the CID appended to
/// `stemcell_references` (legacy `stemcell_name` folded in, the key kept for older CPIs), and
/// `image_sha256` recorded when the version had none.
pub(crate) fn add_stemcell_reference(
    tags: &Tags,
    stemcell_cid: &str,
    image_sha256: Option<&str>,
) -> Tags {
    let mut references = stemcell_references(tags);
    if !references.iter().any(|r| r == stemcell_cid) {
        references.push(stemcell_cid.to_string());
    }
    let mut updated = tags.clone();
    updated.insert(STEMCELL_REFERENCES_TAG.into(), references.join(","));
    if let Some(sha) = image_sha256 {
        updated
            .entry(IMAGE_SHA256_TAG.into())
            .or_insert_with(|| sha.to_string());
    }
    updated
}

/// What delete_stemcell does to a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ReferenceRemoval {
    /// The version does not serve this stemcell: leave it.
    NotReferenced,
    /// This was the last stemcell: DELETE the version.
    DeleteVersion,
    /// Other stemcells remain: PATCH these tags ([`version_tags_patch`]).
    UpdateTags(Tags),
}

pub(crate) fn remove_stemcell_reference(tags: &Tags, stemcell_cid: &str) -> ReferenceRemoval {
    let references = stemcell_references(tags);
    if !references.iter().any(|r| r == stemcell_cid) {
        return ReferenceRemoval::NotReferenced;
    }
    let remaining: Vec<String> = references
        .into_iter()
        .filter(|r| r != stemcell_cid)
        .collect();
    if remaining.is_empty() {
        return ReferenceRemoval::DeleteVersion;
    }
    let mut updated = tags.clone();
    if updated.get(LEGACY_STEMCELL_NAME_TAG).map(String::as_str) == Some(stemcell_cid) {
        updated.remove(LEGACY_STEMCELL_NAME_TAG);
    }
    updated.insert(STEMCELL_REFERENCES_TAG.into(), remaining.join(","));
    ReferenceRemoval::UpdateTags(updated)
}

#[cfg(test)]
mod tests;
