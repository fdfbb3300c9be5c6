//! Images: managed user images (`Microsoft.Compute/images`, the no-gallery managed-disk path),
//! platform (marketplace) images behind light stemcells, and [`StemcellInfo`], what create_vm
//! knows about the image it boots.
//!
//! Deviations from the Ruby user-image body, kept to the spec's canonical enum case
//! (`Linux`, `Generalized`, `ReadWrite` rather than lower case), and `hyperVGeneration` from the
//! stemcell's `generation` instead of always `V1`, so gen2 stemcells boot without a gallery.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Tags, null_as_default};
use crate::error::{CpiError, CpiResult};

/// Heavy stemcell CIDs: `bosh-stemcell-<uuid>`.
pub(crate) const STEMCELL_PREFIX: &str = "bosh-stemcell";
/// Size of the OS disk in a stemcell without `disk` metadata, in MiB.
pub(crate) const DEFAULT_IMAGE_SIZE_MIB_LINUX: u64 = 3 * 1024;
pub(crate) const DEFAULT_IMAGE_SIZE_MIB_WINDOWS: u64 = 128 * 1024;

/// The legacy user image name, `bosh-stemcell-<uuid>-<SKU>-<location>`: deleted before each
/// create because it can exceed Azure's 80-character limit.
pub(crate) fn legacy_user_image_name(
    stemcell_cid: &str,
    storage_account_type: &str,
    location: &str,
) -> String {
    format!("{stemcell_cid}-{storage_account_type}-{location}")
}

/// The user image name: `<uuid>-S-<loc>`, `<uuid>-SSSD-<loc>`, `<uuid>-P-<loc>`; other SKUs stay
/// spelled out. Derived from the legacy name by the same first-match substitutions as Ruby, so
/// both CPIs find each other's images.
pub(crate) fn user_image_name(
    stemcell_cid: &str,
    storage_account_type: &str,
    location: &str,
) -> String {
    legacy_user_image_name(stemcell_cid, storage_account_type, location)
        .replacen(&format!("{STEMCELL_PREFIX}-"), "", 1)
        .replacen("Standard_LRS", "S", 1)
        .replacen("StandardSSD_LRS", "SSSD", 1)
        .replacen("Premium_LRS", "P", 1)
}

/// Operating system of a stemcell, in Azure's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OsType {
    Linux,
    Windows,
}

impl OsType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Linux => "Linux",
            Self::Windows => "Windows",
        }
    }

    /// Stemcell `os_type` in any case; absent means Linux.
    pub(crate) fn from_metadata(os_type: Option<&str>) -> CpiResult<Self> {
        match os_type.map(str::to_ascii_lowercase).as_deref() {
            None | Some("linux") => Ok(Self::Linux),
            Some("windows") => Ok(Self::Windows),
            Some(_) => Err(CpiError::cloud(format!(
                "Invalid os_type '{}'. Must be either 'Linux' or 'Windows'",
                os_type.unwrap_or_default()
            ))),
        }
    }
}

/// Hyper-V generation from the stemcell `generation` (`gen1` when absent): `gen2` → `V2`.
pub(crate) fn hyper_v_generation(generation: Option<&str>) -> CpiResult<&'static str> {
    match generation.map(str::to_ascii_lowercase).as_deref() {
        None | Some("gen1") => Ok("V1"),
        Some("gen2") => Ok("V2"),
        Some(_) => Err(CpiError::cloud(format!(
            "Invalid stemcell generation '{}'. Must be 'gen1' or 'gen2'",
            generation.unwrap_or_default()
        ))),
    }
}

/// What the lazy user-image creation asks for.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct UserImageSpec {
    pub location: String,
    /// The stemcell blob's metadata.
    pub tags: Tags,
    pub os_type: OsType,
    /// The stemcell VHD URL (no SAS).
    pub(crate) blob_uri: String,
    /// The OS disk SKU baked into the image.
    pub storage_account_type: String,
    /// `V1` or `V2` ([`hyper_v_generation`]).
    pub(crate) hyper_v_generation: &'static str,
}

/// PUT body of a generalized user image from a VHD blob.
pub(crate) fn user_image_body(spec: &UserImageSpec) -> Value {
    json!({
        "location": spec.location,
        "tags": spec.tags,
        "properties": {
            "storageProfile": {
                "osDisk": {
                    "osType": spec.os_type.as_str(),
                    "osState": "Generalized",
                    "blobUri": spec.blob_uri,
                    "caching": "ReadWrite",
                    "storageAccountType": spec.storage_account_type,
                }
            },
            "hyperVGeneration": spec.hyper_v_generation,
        }
    })
}

/// A user image as returned by GET (and in list pages).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct UserImage {
    pub id: String,
    pub name: String,
    pub location: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Tags,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: UserImageProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserImageProperties {
    #[serde(default)]
    pub(crate) provisioning_state: Option<String>,
}

/// delete_stemcell removes the images of a stemcell: names starting with its uuid (current
/// names) or its CID (legacy names).
pub(crate) fn is_image_of_stemcell(image_name: &str, stemcell_cid: &str) -> bool {
    let uuid = stemcell_cid
        .strip_prefix(&format!("{STEMCELL_PREFIX}-"))
        .unwrap_or(stemcell_cid);
    image_name.starts_with(uuid) || image_name.starts_with(stemcell_cid)
}

/// A platform image, as in `light_stemcell` metadata: `{publisher, offer, sku, version}`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize)]
pub(crate) struct PlatformImageReference {
    pub publisher: String,
    pub offer: String,
    pub sku: String,
    pub version: String,
}

/// `/subscriptions/<sub>/providers/Microsoft.Compute/locations/<loc>/publishers/<p>/artifacttypes/vmimage/offers/<o>/skus/<s>/versions`.
pub(crate) fn platform_image_versions_path(
    subscription_id: &str,
    location: &str,
    image: &PlatformImageReference,
) -> String {
    format!(
        "/subscriptions/{subscription_id}/providers/Microsoft.Compute/locations/{location}/publishers/{}/artifacttypes/vmimage/offers/{}/skus/{}/versions",
        image.publisher, image.offer, image.sku
    )
}

/// One entry of the platform image version list (the response is a bare JSON array).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct PlatformImageVersion {
    pub name: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub id: Option<String>,
}

/// Whether the light stemcell's version is offered in that location.
pub(crate) fn has_platform_image_version(versions: &[PlatformImageVersion], version: &str) -> bool {
    versions.iter().any(|v| v.name == version)
}

/// `GET .../versions/<version>` of a platform image: tells whether the image is a marketplace
/// image with a purchase plan, which the VM must then carry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct VirtualMachineImage {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub properties: VirtualMachineImageProperties,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct VirtualMachineImageProperties {
    #[serde(default)]
    pub plan: Option<PurchasePlan>,
}

/// A marketplace purchase plan (`VirtualMachineImage.properties.plan`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct PurchasePlan {
    pub publisher: String,
    pub name: String,
    pub(crate) product: String,
}

/// What create_vm knows about a stemcell's image, from the blob metadata or image tags.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StemcellInfo {
    /// Gallery version id, user image id, or blob URI.
    pub uri: String,
    pub metadata: Tags,
    pub os_type: OsType,
    /// MiB: metadata `disk`, else 3 GiB (Linux) / 128 GiB (Windows).
    pub(crate) image_size_mib: u64,
    /// Set for light stemcells: `image` present and no `compute_gallery_name` (gallery
    /// stemcells carry an `image` too).
    pub image: Option<PlatformImageReference>,
}

impl StemcellInfo {
    pub(crate) fn new(uri: impl Into<String>, metadata: Tags) -> CpiResult<Self> {
        let os_type = OsType::from_metadata(metadata.get("os_type").map(String::as_str))?;
        let default_size = match os_type {
            OsType::Linux => DEFAULT_IMAGE_SIZE_MIB_LINUX,
            OsType::Windows => DEFAULT_IMAGE_SIZE_MIB_WINDOWS,
        };
        let image_size_mib = match metadata.get("disk") {
            None => default_size,
            Some(disk) => disk.trim().parse().map_err(|_| {
                CpiError::cloud(format!(
                    "Stemcell metadata 'disk' is not a size in MiB: '{disk}'"
                ))
            })?,
        };
        let image = match metadata.get("image") {
            Some(image) if !metadata.contains_key("compute_gallery_name") => {
                Some(serde_json::from_str(image).map_err(|e| {
                    CpiError::cloud(format!(
                        "Stemcell metadata 'image' is not a valid image reference: {e}"
                    ))
                })?)
            }
            _ => None,
        };
        Ok(Self {
            uri: uri.into(),
            metadata,
            os_type,
            image_size_mib,
            image,
        })
    }

    pub(crate) fn is_windows(&self) -> bool {
        self.os_type == OsType::Windows
    }

    /// The stemcell's `generation` (`gen1` when absent).
    pub(crate) fn hyper_v_generation(&self) -> CpiResult<&'static str> {
        hyper_v_generation(self.metadata.get("generation").map(String::as_str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CID: &str = "bosh-stemcell-d42a792c-db7a-45a6-8132-e03c863c9f01";

    #[test]
    fn user_image_names() {
        assert_eq!(
            user_image_name(CID, "Standard_LRS", "southeastasia"),
            "d42a792c-db7a-45a6-8132-e03c863c9f01-S-southeastasia"
        );
        assert_eq!(
            user_image_name(CID, "StandardSSD_LRS", "eastus"),
            "d42a792c-db7a-45a6-8132-e03c863c9f01-SSSD-eastus"
        );
        assert_eq!(
            user_image_name(CID, "Premium_LRS", "eastus"),
            "d42a792c-db7a-45a6-8132-e03c863c9f01-P-eastus"
        );
        assert_eq!(
            user_image_name(CID, "Premium_ZRS", "eastus"),
            "d42a792c-db7a-45a6-8132-e03c863c9f01-Premium_ZRS-eastus"
        );
        assert_eq!(
            legacy_user_image_name(CID, "Standard_LRS", "eastus"),
            "bosh-stemcell-d42a792c-db7a-45a6-8132-e03c863c9f01-Standard_LRS-eastus"
        );
        assert!(is_image_of_stemcell(
            &user_image_name(CID, "Premium_LRS", "eastus"),
            CID
        ));
        assert!(is_image_of_stemcell(
            &legacy_user_image_name(CID, "Premium_LRS", "eastus"),
            CID
        ));
        assert!(!is_image_of_stemcell("0000-S-eastus", CID));
    }

    #[test]
    fn user_image_body_uses_canonical_enums() {
        let spec = UserImageSpec {
            location: "eastus".into(),
            tags: Tags::from([(
                "name".into(),
                "bosh-azure-hyperv-ubuntu-jammy-go_agent".into(),
            )]),
            os_type: OsType::Linux,
            blob_uri: "https://sa.blob.core.windows.net/stemcell/bosh-stemcell-x.vhd".into(),
            storage_account_type: "Premium_LRS".into(),
            hyper_v_generation: hyper_v_generation(Some("gen2")).unwrap(),
        };
        assert_eq!(
            user_image_body(&spec),
            json!({
                "location": "eastus",
                "tags": {"name": "bosh-azure-hyperv-ubuntu-jammy-go_agent"},
                "properties": {
                    "storageProfile": {"osDisk": {
                        "osType": "Linux",
                        "osState": "Generalized",
                        "blobUri": "https://sa.blob.core.windows.net/stemcell/bosh-stemcell-x.vhd",
                        "caching": "ReadWrite",
                        "storageAccountType": "Premium_LRS"
                    }},
                    "hyperVGeneration": "V2"
                }
            })
        );
    }

    #[test]
    fn generations_and_os_types() {
        assert_eq!(hyper_v_generation(None).unwrap(), "V1");
        assert_eq!(hyper_v_generation(Some("Gen1")).unwrap(), "V1");
        assert_eq!(hyper_v_generation(Some("gen2")).unwrap(), "V2");
        assert!(hyper_v_generation(Some("gen9")).is_err());
        assert_eq!(
            OsType::from_metadata(Some("WINDOWS")).unwrap(),
            OsType::Windows
        );
        assert_eq!(OsType::from_metadata(None).unwrap(), OsType::Linux);
        assert!(
            OsType::from_metadata(Some("plan9"))
                .unwrap_err()
                .message()
                .contains("plan9")
        );
    }

    #[test]
    fn platform_image_versions() {
        let image = PlatformImageReference {
            publisher: "pivotal".into(),
            offer: "bosh-windows-server-2016".into(),
            sku: "2016".into(),
            version: "1200.3.0".into(),
        };
        assert_eq!(
            platform_image_versions_path("sub", "eastus", &image),
            "/subscriptions/sub/providers/Microsoft.Compute/locations/eastus/publishers/pivotal/artifacttypes/vmimage/offers/bosh-windows-server-2016/skus/2016/versions"
        );
        let versions: Vec<PlatformImageVersion> = serde_json::from_value(json!([
            {"location": "eastus", "name": "1200.2.0", "id": "/x/1200.2.0"},
            {"location": "eastus", "name": "1200.3.0", "id": "/x/1200.3.0"}
        ]))
        .unwrap();
        assert!(has_platform_image_version(&versions, "1200.3.0"));
        assert!(!has_platform_image_version(&versions, "1200.4.0"));

        let with_plan: VirtualMachineImage = serde_json::from_value(json!({
            "name": "1200.3.0", "location": "eastus",
            "properties": {"plan": {"publisher": "pivotal", "name": "2016", "product": "bosh-windows-server-2016"}, "osDiskImage": {"operatingSystem": "Windows"}}
        }))
        .unwrap();
        assert_eq!(
            with_plan.properties.plan.unwrap().product,
            "bosh-windows-server-2016"
        );
        let without: VirtualMachineImage =
            serde_json::from_value(json!({"name": "1", "properties": {"osDiskImage": {}}}))
                .unwrap();
        assert!(without.properties.plan.is_none());
    }

    #[test]
    fn stemcell_info_from_metadata() {
        let info = StemcellInfo::new("/images/x", Tags::new()).unwrap();
        assert_eq!(info.os_type, OsType::Linux);
        assert_eq!(info.image_size_mib, 3072);
        assert!(info.image.is_none());

        let windows = Tags::from([("os_type".into(), "Windows".into())]);
        let info = StemcellInfo::new("u", windows).unwrap();
        assert!(info.is_windows());
        assert_eq!(info.image_size_mib, 131_072);

        let light = Tags::from([
            ("disk".into(), "30720".into()),
            (
                "image".into(),
                r#"{"publisher":"p","offer":"o","sku":"s","version":"1.0"}"#.into(),
            ),
        ]);
        let info = StemcellInfo::new("u", light.clone()).unwrap();
        assert_eq!(info.image_size_mib, 30720);
        assert_eq!(info.image.as_ref().unwrap().offer, "o");
        assert!(info.image.is_some());

        let mut gallery = light;
        gallery.insert("compute_gallery_name".into(), "g".into());
        assert!(StemcellInfo::new("u", gallery).unwrap().image.is_none());

        let bad = Tags::from([("disk".into(), "lots".into())]);
        assert!(
            StemcellInfo::new("u", bad)
                .unwrap_err()
                .message()
                .contains("'disk'")
        );
    }

    #[test]
    fn user_image_get() {
        let image: UserImage = serde_json::from_value(json!(
            {"id": "/i/1", "name": "1", "location": "eastus", "tags": null, "properties": {"provisioningState": "Succeeded"}}
        ))
        .unwrap();
        assert_eq!(
            image.properties.provisioning_state.as_deref(),
            Some("Succeeded")
        );
    }
}
