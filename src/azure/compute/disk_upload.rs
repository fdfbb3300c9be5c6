//! Direct upload to a managed disk (DiskRP 2024-03-02), the way a stemcell reaches a gallery
//! without a storage account key: an empty disk created with `createOption: Upload` and
//! `uploadSizeBytes` (state `ReadyToUpload`), `beginGetAccess` with `access: Write` (an upload
//! URL, state `ActiveUpload`), Put Page to that URL, `endGetAccess` (state `Unattached`), then
//! the disk serves as an image source. Sources: the spec (`CreationData.uploadSizeBytes`,
//! `GrantAccessData`, `AccessUri`, `DiskState`, `DataAccessAuthMode`) and Azure's "Upload a VHD
//! to Azure or copy a managed disk to another region" and "Secure downloads and uploads with
//! Microsoft Entra ID" articles.
//!
//! With `dataAccessAuthMode: AzureActiveDirectory` the upload URL also demands a bearer token
//! for `https://disk.azure.com/` from an identity holding the data action
//! `Microsoft.Compute/disks/upload/action`, so a leaked URL alone writes nothing.

use serde::Deserialize;
use serde_json::{Value, json};

use super::Tags;
use crate::error::{CpiError, CpiResult};

/// Bytes of a VHD footer, included in `uploadSizeBytes`.
pub(crate) const VHD_FOOTER_BYTES: u64 = 512;
/// The spec's bounds of `uploadSizeBytes`: 20 MiB and (as it says) 32 TiB, each plus the
/// footer; its upper figure, 35183298347520, is 32767 GiB + 512.
pub(crate) const MIN_UPLOAD_BYTES: u64 = 20 * MIB + VHD_FOOTER_BYTES;
pub(crate) const MAX_UPLOAD_BYTES: u64 = 32_767 * 1024 * MIB + VHD_FOOTER_BYTES;
const MIB: u64 = 1024 * 1024;
/// The staging disk's SKU: it lives for one upload and one image version copy.
const STAGING_SKU: &str = "Standard_LRS";

/// The staging disk of stemcell `cid` (`bosh-stemcell-<uuid>-staging`).
pub(crate) fn staging_disk_name(cid: &str) -> String {
    format!("{cid}-staging")
}

/// What an upload disk is created with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UploadDiskSpec {
    pub location: String,
    pub tags: Tags,
    /// The VHD's size including its footer: `root.vhd`'s size.
    pub upload_size_bytes: u64,
    /// `Linux` or `Windows`, as the image definition declares.
    pub os_type: &'static str,
    /// `V1` or `V2`, as the image definition declares: a gallery version's source must match.
    pub hyper_v_generation: &'static str,
}

/// The PUT body of the disk, or a CloudError for a VHD Azure cannot take: besides the spec's
/// bounds, the data before the footer must be whole MiB ("N * MiB + 512 bytes", Add-AzVhd's
/// documentation of direct upload to a managed disk).
pub(crate) fn upload_disk_body(spec: &UploadDiskSpec) -> CpiResult<Value> {
    let size = spec.upload_size_bytes;
    if !(MIN_UPLOAD_BYTES..=MAX_UPLOAD_BYTES).contains(&size)
        || !(size - VHD_FOOTER_BYTES).is_multiple_of(MIB)
    {
        return Err(CpiError::cloud(format!(
            "The stemcell's root.vhd is {size} bytes: a managed disk upload takes a VHD of {MIN_UPLOAD_BYTES} to {MAX_UPLOAD_BYTES} bytes, a whole number of MiB (20 MiB to 32767 GiB) plus the 512-byte footer"
        )));
    }
    Ok(json!({
        "location": spec.location,
        "tags": spec.tags,
        "sku": {"name": STAGING_SKU},
        "properties": {
            "osType": spec.os_type,
            "hyperVGeneration": spec.hyper_v_generation,
            "creationData": {"createOption": "Upload", "uploadSizeBytes": size},
            "dataAccessAuthMode": "AzureActiveDirectory",
        }
    }))
}

/// The `beginGetAccess` body asking for the upload URL for `duration_secs`.
pub(crate) fn grant_write_body(duration_secs: u64) -> Value {
    let seconds = i32::try_from(duration_secs).unwrap_or(i32::MAX);
    json!({"access": "Write", "durationInSeconds": seconds})
}

/// The `beginGetAccess` answer. The URL carries a SAS: it is never logged.
#[derive(Deserialize)]
pub(crate) struct AccessUri {
    #[serde(rename = "accessSAS", default)]
    access_sas: Option<String>,
}

impl std::fmt::Debug for AccessUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessUri")
            .field("access_sas", &"<redacted>")
            .finish()
    }
}

impl AccessUri {
    /// The upload URL, or a CloudError when Azure answered none.
    pub(crate) fn upload_url(&self, disk: &str) -> CpiResult<url::Url> {
        let text = self
            .access_sas
            .as_deref()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                CpiError::cloud(format!(
                    "Azure granted write access to managed disk '{disk}' without an upload URL"
                ))
            })?;
        url::Url::parse(text).map_err(|_| {
            CpiError::cloud(format!(
                "Azure answered an unusable upload URL for managed disk '{disk}'"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(size: u64) -> UploadDiskSpec {
        UploadDiskSpec {
            location: "eastus".into(),
            tags: Tags::from([("user-agent".into(), "bosh".into())]),
            upload_size_bytes: size,
            os_type: "Linux",
            hyper_v_generation: "V2",
        }
    }

    #[test]
    fn the_upload_disk_asks_for_entra_id_uploads_of_the_vhd_size() {
        let body = upload_disk_body(&spec(MIN_UPLOAD_BYTES)).unwrap();
        assert_eq!(
            body,
            json!({
                "location": "eastus",
                "tags": {"user-agent": "bosh"},
                "sku": {"name": "Standard_LRS"},
                "properties": {
                    "osType": "Linux",
                    "hyperVGeneration": "V2",
                    "creationData": {"createOption": "Upload", "uploadSizeBytes": 20972032},
                    "dataAccessAuthMode": "AzureActiveDirectory",
                }
            })
        );
    }

    #[test]
    fn sizes_outside_the_spec_bounds_or_not_whole_mib_are_refused() {
        for size in [
            MIN_UPLOAD_BYTES - 512,
            MIN_UPLOAD_BYTES + 1,
            MIN_UPLOAD_BYTES + 512,
            MIN_UPLOAD_BYTES + MIB - 512,
            MAX_UPLOAD_BYTES + MIB,
        ] {
            let message = upload_disk_body(&spec(size)).unwrap_err().to_string();
            assert!(message.contains("whole number of MiB"), "{message}");
        }
        assert!(upload_disk_body(&spec(MIN_UPLOAD_BYTES + 3 * MIB)).is_ok());
        assert!(upload_disk_body(&spec(MAX_UPLOAD_BYTES)).is_ok());
    }

    #[test]
    fn the_access_uri_never_shows_its_sas() {
        let answer: AccessUri =
            serde_json::from_value(json!({"accessSAS": "https://h/x/abcd?sv=1&sig=SECRET"}))
                .unwrap();
        assert!(!format!("{answer:?}").contains("SECRET"));
        assert_eq!(answer.upload_url("d").unwrap().host_str(), Some("h"));
        let empty: AccessUri = serde_json::from_value(json!({})).unwrap();
        assert!(empty.upload_url("d").is_err());
    }
}
