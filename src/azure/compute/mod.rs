//! Microsoft.Compute resources as pure data: serde models of the ARM JSON we read, ARM id
//! builders, request-body builders and the decisions the CPI actions take on them. Nothing here
//! sends a request: the actions pass these bodies to the ARM client and feed its responses back
//! in. Bodies are checked against the api-versions the client sends (ComputeRP 2024-07-01,
//! DiskRP 2024-03-02, GalleryRP 2024-03-03, Skus 2021-07-01): booleans are booleans, enums use
//! their canonical case, and read-only properties are never echoed back. Names, tags and
//! formats stay those of the Ruby CPI so resources created by either CPI keep working.
//!
//! Public API, by module (every body builder returns a `serde_json::Value` ready to send):
//!
//! - this module — [`Tags`], [`bosh_tags`], [`Caching`], [`resource_id`], [`compute_id`],
//!   [`stringify_metadata`] (Ruby `to_s` of metadata values).
//! - [`disk`] — [`disk::ManagedDisk`] (GET); [`disk::empty_disk_body`],
//!   [`disk::disk_from_blob_body`] ([`disk::migration_disk_sku`]),
//!   [`disk::disk_from_snapshot_body`], [`disk::resize_disk_body`],
//!   [`disk::DiskPatch`] (update / iops / mbps PATCH), [`disk::tags_patch_body`];
//!   [`disk::create_size_gib`] (floor), [`disk::resize_size_gib`] (ceil); [`disk::plan_resize`],
//!   [`disk::plan_update`], [`disk::map_update_error`];
//!   [`disk::disk_encryption_set_id`]; zone migration [`disk::needs_zone_migration`],
//!   [`disk::zone_migration_spec`], [`disk::zone_migration_recovery_message`].
//! - [`disk_upload`] — direct upload of a stemcell to a managed disk: [`disk_upload::upload_disk_body`],
//!   [`disk_upload::grant_write_body`], [`disk_upload::AccessUri`].
//! - [`snapshot`] — [`snapshot::ManagedSnapshot`] (GET), [`snapshot::snapshot_tags`],
//!   [`snapshot::snapshot_body`].
//! - [`vm`] — [`vm::VirtualMachine`] (GET) with [`vm::VirtualMachine::bosh_disk_ids`]
//!   (get_disks) and [`vm::VirtualMachine::etag`] (for `If-Match`); [`vm::VmSpec`] →
//!   [`vm::vm_body`] (create PUT); [`vm::vm_tags`]; [`vm::os_disk_size_gib`],
//!   [`vm::ephemeral_os_disk_size_gib`], [`vm::ephemeral_data_disk_size_gib`];
//!   [`vm::attach_disk_patch`] → [`vm::AttachPlan`] + [`vm::DiskHints`],
//!   [`vm::detach_disk_patch`], [`vm::metadata_patch`];
//!   [`vm::windows_computer_name`], [`vm::windows_admin_username`],
//!   [`vm::windows_admin_password`],
//!   [`vm::user_assigned_identity_id`], [`vm::capacity_reservation_group_id`].
//! - [`availability_set`] — [`availability_set::availability_set_name`],
//!   [`availability_set::AvailabilitySetSpec`] → [`availability_set::availability_set_body`],
//!   [`availability_set::AvailabilitySet`] (GET), [`availability_set::plan_availability_set`].
//! - [`image`] — [`image::user_image_name`], [`image::legacy_user_image_name`],
//!   [`image::UserImageSpec`] → [`image::user_image_body`], [`image::UserImage`],
//!   [`image::platform_image_versions_path`],
//!   [`image::PlatformImageVersion`], [`image::VirtualMachineImage`] (does a light stemcell's
//!   image need a `plan`), [`image::StemcellInfo`].
//! - [`gallery`] — [`gallery::semver_version`], [`gallery::image_definition_name`],
//!   [`gallery::ImageDefinitionSpec`] → [`gallery::image_definition_body`],
//!   [`gallery::ImageVersionSpec`] → [`gallery::image_version_body`],
//!   [`gallery::version_tags_patch`], [`gallery::replication_patch_for`],
//!   [`gallery::GalleryImageVersion`] (GET), [`gallery::check_existing_version`],
//!   [`gallery::add_stemcell_reference`], [`gallery::remove_stemcell_reference`],
//!   [`gallery::gallery_blob_metadata`], [`gallery::version_location_from_blob_metadata`].
//! - [`sku`] — [`sku::ResourceSku`], [`sku::supports_premium_io`],
//!   [`sku::default_disk_sku`], [`sku::max_data_disks`],
//!   [`sku::map_instance_types`] (InstanceTypeMapper), [`sku::filter_by_architecture`],
//!   [`sku::DiskInfo`].

pub(crate) mod availability_set;
pub(crate) mod disk;
pub(crate) mod disk_upload;
pub(crate) mod gallery;
pub(crate) mod image;
pub(crate) mod sku;
pub(crate) mod snapshot;
pub(crate) mod vm;

use std::collections::BTreeMap;

use serde_json::Value;

use super::null_as_default;

/// ARM tags. A sorted map keeps request bodies and logs deterministic.
pub(crate) type Tags = BTreeMap<String, String>;

/// The tag every resource the CPI creates carries (except snapshots and public IPs, as in Ruby).
pub(crate) const USER_AGENT_TAG: &str = "user-agent";
pub(crate) const USER_AGENT_VALUE: &str = "bosh";

/// `{"user-agent": "bosh"}`.
pub(crate) fn bosh_tags() -> Tags {
    Tags::from([(USER_AGENT_TAG.to_string(), USER_AGENT_VALUE.to_string())])
}

/// Host caching of a disk, in Azure's canonical spelling (also the CID and `caching` tag value).
pub(crate) use crate::cid::Caching;

/// `/subscriptions/<sub>/resourceGroups/<rg>/providers/<provider>/<kind>/<name>`.
///
/// ARM ids are used both as URL paths and as values inside bodies, so no escaping happens here:
/// the ARM client escapes when it builds the URL.
pub(crate) fn resource_id(
    subscription_id: &str,
    resource_group: &str,
    provider: &str,
    kind: &str,
    name: &str,
) -> String {
    format!(
        "/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/{provider}/{kind}/{name}"
    )
}

/// A `Microsoft.Compute` resource id, e.g. `compute_id(sub, rg, "disks", "bosh-disk-data-x")`.
pub(crate) fn compute_id(
    subscription_id: &str,
    resource_group: &str,
    kind: &str,
    name: &str,
) -> String {
    resource_id(
        subscription_id,
        resource_group,
        "Microsoft.Compute",
        kind,
        name,
    )
}

/// Parses an ARM response body into a model; the error names the resource that was read.
#[cfg(test)]
pub(crate) fn parse_resource<T: serde::de::DeserializeOwned>(
    what: &str,
    body: &[u8],
) -> crate::error::CpiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        crate::error::CpiError::cloud(format!("Unexpected ARM response for {what}: {e}"))
    })
}

/// Prefix of the stemcell blob metadata keys only this CPI writes (upload and deletion marks,
/// the source VHD of a record blob). The Ruby CPI writes the stemcell properties, `image` and the
/// gallery keys; none starts so, and it ignores keys it does not know.
pub(crate) const CPI_METADATA_PREFIX: &str = "bosh_azure_cpi_rs_";
/// Unix seconds when an upload into this stemcell blob started; present only while it runs
/// (or after it was killed), removed by the metadata write that ends the upload.
pub(crate) const UPLOAD_STARTED_METADATA: &str = "bosh_azure_cpi_rs_upload_started";

/// Metadata values as tag strings, the way Ruby's `value.to_s` renders them, so tags written
/// by either CPI read the same: strings as is, numbers and booleans as text, null as "",
/// arrays and objects in Ruby 3.3 `inspect` form (`["SCSI", "NVMe"]`, `{"k"=>"v"}`).
pub(crate) fn stringify_metadata(metadata: &serde_json::Map<String, Value>) -> Tags {
    metadata
        .iter()
        .map(|(key, value)| (key.clone(), ruby_to_s(value)))
        .collect()
}

/// Ruby `to_s` of one JSON value (see [`stringify_metadata`]).
pub(crate) fn ruby_to_s(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => ruby_inspect(other),
    }
}

fn ruby_inspect(value: &Value) -> String {
    match value {
        Value::Null => "nil".to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        // JSON string escaping matches Ruby's inspect for the printable text stemcell
        // metadata carries.
        Value::String(s) => Value::String(s.clone()).to_string(),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(ruby_inspect).collect();
            format!("[{}]", parts.join(", "))
        }
        Value::Object(map) => {
            let parts: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}=>{}", Value::String(k.clone()), ruby_inspect(v)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caching_parses_exact_names_only() {
        assert_eq!("ReadWrite".parse::<Caching>().unwrap(), Caching::ReadWrite);
        assert_eq!("None".parse::<Caching>().unwrap(), Caching::None);
        let err = "readwrite".parse::<Caching>().unwrap_err();
        assert_eq!(err.message(), "Unknown disk caching readwrite");
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
    }

    #[test]
    fn ids_follow_arm_layout() {
        assert_eq!(
            compute_id("sub", "rg", "disks", "d1"),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/disks/d1"
        );
    }

    #[test]
    fn metadata_is_stringified_like_ruby_to_s() {
        let metadata = json!({
            "name": "bosh-azure-hyperv-ubuntu-jammy-go_agent",
            "disk": 3072,
            "ratio": 1.5,
            "accelerated_networking": true,
            "nothing": null,
            "disk_controller_types": ["SCSI", "NVMe"],
            "image": {"publisher": "p", "n": 1},
        });
        let tags = stringify_metadata(metadata.as_object().unwrap());
        assert_eq!(tags["name"], "bosh-azure-hyperv-ubuntu-jammy-go_agent");
        assert_eq!(tags["disk"], "3072");
        assert_eq!(tags["ratio"], "1.5");
        assert_eq!(tags["accelerated_networking"], "true");
        assert_eq!(tags["nothing"], "");
        assert_eq!(tags["disk_controller_types"], r#"["SCSI", "NVMe"]"#);
        assert_eq!(tags["image"], r#"{"publisher"=>"p", "n"=>1}"#);
        // The array form stays parseable JSON, which the gallery recovery path relies on.
        let parsed: Vec<String> = serde_json::from_str(&tags["disk_controller_types"]).unwrap();
        assert_eq!(parsed, ["SCSI", "NVMe"]);
    }

    proptest::proptest! {
        // Text from requests, stemcell metadata and ARM flows through these; none may panic,
        // multi-byte characters included.
        #[test]
        fn string_helpers_never_panic(text in "\\PC{0,120}", n in 0u64..u64::MAX) {
            let _ = gallery::semver_version(&text);
            let name = availability_set::availability_set_name(None, Some(&text)).unwrap();
            proptest::prop_assert!(name.chars().count() <= 80);
            let _ = image::user_image_name(&text, &text, &text);
            let _ = disk::map_update_error(&text);
            let _ = disk::create_size_gib(n);
            let _ = disk::resize_size_gib(n);
            let _ = sku::DiskInfo::for_instance_type(&text);
            let _ = text.parse::<Caching>();
            let sku: sku::ResourceSku = serde_json::from_value(json!({
                "resourceType": "virtualMachines",
                "name": text,
                "capabilities": [{"name": "vCPUs", "value": "2"}, {"name": "MemoryGB", "value": text}]
            }))
            .unwrap();
            let _ = sku::map_instance_types(&[sku], sku::DesiredInstanceSize { cpu: 1, ram_mib: 1 }, None);
            let mut tags = Tags::new();
            tags.insert(gallery::STEMCELL_REFERENCES_TAG.into(), text.clone());
            let _ = gallery::remove_stemcell_reference(&tags, &text);
            let _ = vm::windows_computer_name(u128::from(n), n as u32);
        }
    }

    #[test]
    fn parse_resource_names_the_resource_on_error() {
        let err = parse_resource::<disk::ManagedDisk>("disk 'd1'", b"not json").unwrap_err();
        assert!(
            err.message()
                .starts_with("Unexpected ARM response for disk 'd1'")
        );
    }
}
