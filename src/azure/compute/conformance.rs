//! Checks the request bodies built in this module against Azure's published Microsoft.Compute
//! specs (see `crate::azure::spec_check` for what is checked, and the skip when the specs are
//! absent), and reads Azure's example responses into the models.

use serde_json::{Value, json};

use super::availability_set::{AvailabilitySetSpec, availability_set_body};
use super::disk::{self, DiskFromBlobSpec, DiskFromSnapshotSpec, DiskPatch, EmptyDiskSpec};
use super::gallery::{self, ImageDefinitionSpec, ImageVersionSpec};
use super::image::{OsType, PlatformImageReference, PurchasePlan, UserImageSpec, user_image_body};
use super::snapshot::snapshot_body;
use super::vm::{
    self, AttachDisk, EphemeralDataDiskSpec, EphemeralPlacement, OsDiskSpec, OsProfileSpec,
    VmIdentity, VmImage, VmSecurity, VmSpec,
};
use super::{Caching, Tags, bosh_tags};
use crate::azure::spec_check::{Specs, specs_or_skip};

const COMPUTE: &str = "specification/compute/resource-manager/Microsoft.Compute";

fn compute_specs(what: &str) -> Option<Specs> {
    specs_or_skip(COMPUTE, what)
}

/// Validates `body` against `definition` in `spec` (relative to Microsoft.Compute).
fn assert_conforms(spec: &str, definition: &str, body: &Value) {
    if let Some(mut specs) = compute_specs(&format!("the spec check of {definition}")) {
        specs.assert_conforms(spec, definition, body);
    }
}

const DISK_SPEC: &str = "DiskRP/stable/2024-03-02/disk.json";
const SNAPSHOT_SPEC: &str = "DiskRP/stable/2024-03-02/snapshot.json";
const VM_SPEC: &str = "ComputeRP/stable/2024-07-01/virtualMachine.json";
const AS_SPEC: &str = "ComputeRP/stable/2024-07-01/availabilitySet.json";
const IMAGE_SPEC: &str = "ComputeRP/stable/2024-07-01/image.json";
const GALLERY_SPEC: &str = "GalleryRP/stable/2024-03-03/gallery.json";

#[test]
fn the_validator_catches_deviations() {
    let Some(mut specs) = compute_specs("the validator self-check") else {
        return;
    };
    // Ruby's own deviations must be caught, or the checks below prove nothing.
    let ruby_style = json!({
        "name": "x", "type": "Microsoft.Compute/availabilitySets", "location": "l",
        "properties": {"platformUpdateDomainCount": "5"}
    });
    let errors = specs
        .violations(AS_SPEC, "AvailabilitySet", &ruby_style, "as")
        .join("\n");
    assert!(errors.contains("as.name: read-only"), "{errors}");
    assert!(
        errors.contains("platformUpdateDomainCount: expected integer, found \"5\""),
        "{errors}"
    );

    let lower_case = json!({"location": "l", "properties": {"storageProfile": {"osDisk": {"osType": "linux", "osState": "generalized"}}, "bogus": 1}});
    let read_only_definition = json!({"location": "l", "properties": {"diskState": "Attached"}});
    let mut errors = specs.violations(DISK_SPEC, "Disk", &read_only_definition, "disk");
    errors.extend(specs.violations(IMAGE_SPEC, "Image", &lower_case, "image"));
    let errors = errors.join("\n");
    assert!(
        errors.contains("disk.properties.diskState: read-only"),
        "{errors}"
    );
    assert!(
        errors.contains("osType: \"linux\" is not one of"),
        "{errors}"
    );
    assert!(
        errors.contains("image.properties.bogus: not in the spec"),
        "{errors}"
    );

    let mut deep = vm::vm_body(&full_vm_spec(VmImage::Id("/img".into()), false));
    deep["properties"]["osProfile"]["linuxConfiguration"]["disablePasswordAuthentication"] =
        json!("true");
    deep["properties"]["storageProfile"]["dataDisks"][0]["bogus"] = json!(1);
    deep["identity"]["type"] = json!("systemassigned");
    let errors = specs
        .violations(VM_SPEC, "VirtualMachine", &deep, "vm")
        .join("\n");
    assert!(
        errors.contains("disablePasswordAuthentication: expected boolean, found \"true\""),
        "{errors}"
    );
    assert!(
        errors.contains("dataDisks[0].bogus: not in the spec"),
        "{errors}"
    );
    assert!(
        errors.contains("identity.type: \"systemassigned\" is not one of"),
        "{errors}"
    );

    let no_storage_profile =
        json!({"location": "l", "tags": {}, "properties": {"publishingProfile": {}}});
    let errors = specs.violations(
        GALLERY_SPEC,
        "GalleryImageVersion",
        &no_storage_profile,
        "v",
    );
    assert!(
        errors
            .join("\n")
            .contains("required 'storageProfile' missing"),
        "{errors:#?}"
    );
}

#[test]
fn disk_bodies_conform() {
    let empty = EmptyDiskSpec {
        location: "eastus".into(),
        size_gib: 10,
        sku: "PremiumV2_LRS".into(),
        caching: Caching::ReadOnly,
        zone: Some("1".into()),
        iops: Some(3000),
        mbps: Some(125),
        disk_encryption_set_id: Some("/des".into()),
    };
    assert_conforms(DISK_SPEC, "Disk", &disk::empty_disk_body(&empty));
    let blob = DiskFromBlobSpec {
        location: "eastus".into(),
        sku: "Standard_LRS".into(),
        caching: Caching::None,
        zone: Some("2".into()),
        source_uri: "https://sa.blob.core.windows.net/bosh/d.vhd".into(),
        storage_account_id: "/sa".into(),
    };
    assert_conforms(DISK_SPEC, "Disk", &disk::disk_from_blob_body(&blob));
    let copy = DiskFromSnapshotSpec {
        location: "eastus".into(),
        sku: "Premium_LRS".into(),
        zone: Some("3".into()),
        snapshot_id: "/snap".into(),
        tags: bosh_tags(),
        encryption: None,
    };
    assert_conforms(DISK_SPEC, "Disk", &disk::disk_from_snapshot_body(&copy));
    let patch = DiskPatch {
        size_gib: Some(20),
        sku: Some("Premium_LRS".into()),
        iops: Some(500),
        mbps: Some(60),
    };
    assert_conforms(DISK_SPEC, "DiskUpdate", &patch.body());
    assert_conforms(DISK_SPEC, "DiskUpdate", &disk::resize_disk_body(30));
    assert_conforms(
        DISK_SPEC,
        "DiskUpdate",
        &disk::tags_patch_body(&bosh_tags()),
    );
}

#[test]
fn snapshot_body_conforms() {
    let tags = Tags::from([("original".into(), "d".into())]);
    assert_conforms(
        SNAPSHOT_SPEC,
        "Snapshot",
        &snapshot_body("eastus", "/disk", &tags),
    );
}

fn full_vm_spec(image: VmImage, ephemeral_os: bool) -> VmSpec {
    VmSpec {
        name: "vm1".into(),
        location: "eastus".into(),
        vm_size: "Standard_D2s_v5".into(),
        tags: bosh_tags(),
        os_profile: OsProfileSpec::Linux {
            admin_username: "vcap".into(),
            ssh_public_key: "ssh-rsa AAAA".into(),
        },
        custom_data: "e30=".into(),
        network_interface_ids: vec!["/nic0".into(), "/nic1".into()],
        image,
        os_disk: OsDiskSpec {
            name: "bosh-disk-os-vm1".into(),
            caching: Caching::ReadWrite,
            size_gib: Some(64),
            disk_encryption_set_id: Some("/des".into()),
            ephemeral_placement: ephemeral_os.then_some(EphemeralPlacement::CacheDisk),
        },
        ephemeral_disk: Some(EphemeralDataDiskSpec {
            name: "bosh-disk-os-vm1-ephemeral-disk".into(),
            size_gib: 30,
            caching: Caching::ReadWrite,
            storage_account_type: Some("Premium_LRS".into()),
            disk_encryption_set_id: Some("/des".into()),
        }),
        identity: Some(VmIdentity::UserAssigned("/uai".into())),
        zone: Some("1".into()),
        availability_set_id: Some("/as".into()),
        capacity_reservation_group_id: Some("/crg".into()),
        boot_diagnostics_storage_uri: Some("https://diag.blob.core.windows.net/".into()),
        security: VmSecurity::TrustedLaunch {
            secure_boot: true,
            vtpm: true,
        },
        encryption_at_host: true,
        spot: Some(vm::SpotSpec {
            max_price: serde_json::Number::from_f64(0.05).unwrap(),
            eviction_policy: "Deallocate",
        }),
        proximity_placement_group_id: Some("/ppg".into()),
        ultra_ssd_enabled: true,
    }
}

#[test]
fn vm_bodies_conform() {
    assert_conforms(
        VM_SPEC,
        "VirtualMachine",
        &vm::vm_body(&full_vm_spec(VmImage::Id("/img".into()), false)),
    );
    let marketplace = VmImage::Marketplace {
        reference: PlatformImageReference {
            publisher: "p".into(),
            offer: "o".into(),
            sku: "s".into(),
            version: "1.0.0".into(),
        },
        plan: Some(PurchasePlan {
            publisher: "p".into(),
            name: "s".into(),
            product: "o".into(),
        }),
    };
    let mut windows = full_vm_spec(marketplace, true);
    windows.os_profile = OsProfileSpec::Windows {
        computer_name: "c".into(),
        admin_username: "u".into(),
        admin_password: "p".into(),
    };
    windows.identity = Some(VmIdentity::SystemAssigned);
    assert_conforms(VM_SPEC, "VirtualMachine", &vm::vm_body(&windows));
}

#[test]
fn vm_patches_conform() {
    let model: vm::VirtualMachine = serde_json::from_value(json!({
        "id": "/vm", "name": "vm1", "location": "eastus",
        "tags": {"user-agent": "bosh", "disk-id-d1": "cid1"},
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
            "storageProfile": {"dataDisks": [
                {"lun": 0, "name": "bosh-disk-os-vm1-ephemeral-disk", "createOption": "Empty", "caching": "ReadWrite",
                 "diskSizeGB": 30, "toBeDetached": false, "diskIOPSReadWrite": 500, "deleteOption": "Detach",
                 "managedDisk": {"id": "/e", "storageAccountType": "Premium_LRS"}, "writeAcceleratorEnabled": false},
                {"lun": 1, "name": "d1", "createOption": "Attach", "caching": "None", "managedDisk": {"id": "/d1"}}
            ]}
        }
    }))
    .unwrap();
    let attach = AttachDisk {
        name: "d2".into(),
        caching: Caching::ReadOnly,
        disk_cid: "cid2".into(),
        managed_disk_id: "/d2".into(),
    };
    let plan = vm::attach_disk_patch(&model, &attach, 8).unwrap();
    assert_conforms(VM_SPEC, "VirtualMachineUpdate", &plan.body);
    assert_conforms(
        VM_SPEC,
        "VirtualMachineUpdate",
        &vm::detach_disk_patch(&model, "d1").unwrap(),
    );
    let metadata = json!({"deployment": "cf", "index": 1});
    assert_conforms(
        VM_SPEC,
        "VirtualMachineUpdate",
        &vm::metadata_patch(&model, metadata.as_object().unwrap()),
    );
}

#[test]
fn availability_set_body_conforms() {
    for managed in [true, false] {
        let spec = AvailabilitySetSpec {
            location: "eastus".into(),
            update_domains: 5,
            fault_domains: 2,
            managed,
            proximity_placement_group_id: managed.then(|| "/ppg".into()),
        };
        assert_conforms(AS_SPEC, "AvailabilitySet", &availability_set_body(&spec));
    }
}

#[test]
fn user_image_body_conforms() {
    let spec = UserImageSpec {
        location: "eastus".into(),
        tags: bosh_tags(),
        os_type: OsType::Windows,
        blob_uri: "https://sa.blob.core.windows.net/stemcell/x.vhd".into(),
        storage_account_type: "StandardSSD_LRS".into(),
        hyper_v_generation: "V2",
    };
    assert_conforms(IMAGE_SPEC, "Image", &user_image_body(&spec));
}

#[test]
fn gallery_bodies_conform() {
    let properties = json!({
        "name": "bosh-azure-hyperv-ubuntu-noble-go_agent", "version": "1.5", "os_type": "linux",
        "architecture": "arm64", "generation": "gen2", "disk_controller_types": ["SCSI", "NVMe"],
        "accelerated_networking": true, "hibernation": true, "security_type": "TrustedLaunchSupported"
    });
    let definition =
        ImageDefinitionSpec::from_stemcell("eastus", properties.as_object().unwrap()).unwrap();
    assert_conforms(
        GALLERY_SPEC,
        "GalleryImage",
        &gallery::image_definition_body(&definition),
    );
    let version = ImageVersionSpec {
        location: "eastus".into(),
        tags: Tags::from([("stemcell_references".into(), "bosh-stemcell-1".into())]),
        storage_account_id: "/sa".into(),
        blob_uri: "https://sa.blob.core.windows.net/stemcell/bosh-stemcell-1.vhd".into(),
        replica_count: 3,
        target_regions: vec!["eastus".into(), "westeurope".into()],
        replication_mode: Some(gallery::ReplicationMode::Shallow),
        storage_account_type: Some(gallery::ReplicaStorageType::StandardZrs),
    };
    assert_conforms(
        GALLERY_SPEC,
        "GalleryImageVersion",
        &gallery::image_version_body(&version),
    );
    assert_conforms(
        GALLERY_SPEC,
        "GalleryImageVersionUpdate",
        &gallery::version_tags_patch(&version.tags),
    );
    let existing: gallery::GalleryImageVersion = serde_json::from_value(json!({
        "id": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d/versions/1.5.0",
        "name": "1.5.0", "location": "eastus",
        "properties": {
            "publishingProfile": {"replicaCount": 1, "targetRegions": [{"name": "East US", "regionalReplicaCount": 1, "storageAccountType": "Standard_ZRS"}]},
            "storageProfile": {"osDiskImage": {"sizeInGB": 5, "source": {"storageAccountId": "/sa", "uri": "https://x/y.vhd"}}}
        }
    }))
    .unwrap();
    let patch = gallery::replication_patch(&existing, "westus", 3).unwrap();
    assert_conforms(GALLERY_SPEC, "GalleryImageVersionUpdate", &patch);
}

/// The `200` (else `201`) response body of an example in Azure's spec tree.
fn example_response(path: &str) -> Option<Value> {
    let example = compute_specs("the example responses")?.read(path);
    let responses = &example["responses"];
    responses
        .get("200")
        .or_else(|| responses.get("201"))
        .and_then(|r| r.get("body"))
        .cloned()
}

fn parse_example<T: serde::de::DeserializeOwned>(path: &str) -> Option<T> {
    let body = example_response(path)?;
    Some(serde_json::from_value(body).unwrap_or_else(|e| panic!("{path}: {e}")))
}

// Azure's own example responses must read into the models with the fields the CPI needs;
// a misspelled field name would leave them empty.
#[test]
fn models_read_azure_example_responses() {
    let Some(vm) = parse_example::<vm::VirtualMachine>(
        "ComputeRP/stable/2024-07-01/examples/virtualMachineExamples/VirtualMachine_Get.json",
    ) else {
        return;
    };
    assert!(vm.vm_size().is_some());
    assert!(!vm.data_disks().is_empty());
    assert!(
        vm.data_disks()
            .iter()
            .all(|d| d.name.is_some() && d.managed_disk.is_some())
    );
    assert!(
        vm.properties
            .storage_profile
            .os_disk
            .as_ref()
            .is_some_and(|o| o.name.is_some())
    );
    assert!(vm.network_interface_ids().count() > 0);

    let disk: super::disk::ManagedDisk =
        parse_example("DiskRP/stable/2024-03-02/examples/diskExamples/Disk_Get.json").unwrap();
    assert!(disk.sku_name().is_some());
    assert!(disk.properties.disk_size_gb.is_some());
    assert!(disk.properties.provisioning_state.is_some());

    let snapshot: super::snapshot::ManagedSnapshot =
        parse_example("DiskRP/stable/2024-03-02/examples/snapshotExamples/Snapshot_Get.json")
            .unwrap();
    assert!(snapshot.properties.disk_size_gb.is_some());

    let set: super::availability_set::AvailabilitySet = parse_example(
        "ComputeRP/stable/2024-07-01/examples/availabilitySetExamples/AvailabilitySet_Create.json",
    )
    .unwrap();
    assert!(set.properties.platform_fault_domain_count.is_some());

    let image: super::image::UserImage = parse_example(
        "ComputeRP/stable/2024-07-01/examples/imageExamples/Image_CreateFromABlob.json",
    )
    .unwrap();
    assert!(image.properties.provisioning_state.is_some());

    let platform: super::image::VirtualMachineImage = parse_example("ComputeRP/stable/2024-07-01/examples/virtualMachineImageExamples/VirtualMachineImage_Get_MaximumSet_Gen.json").unwrap();
    let plan = platform
        .properties
        .plan
        .expect("the maximum-set example has a plan");
    assert!(!plan.product.is_empty());
    let versions: Vec<super::image::PlatformImageVersion> = parse_example("ComputeRP/stable/2024-07-01/examples/virtualMachineImageExamples/VirtualMachineImage_List_MaximumSet_Gen.json").unwrap();
    assert!(!versions.is_empty());

    let replicated: gallery::GalleryImageVersion = parse_example("GalleryRP/stable/2024-03-03/examples/galleryExamples/GalleryImageVersion_Get_WithReplicationStatus.json").unwrap();
    assert!(
        replicated
            .properties
            .replication_status
            .as_ref()
            .is_some_and(|r| r.aggregated_state.is_some() && !r.summary.is_empty())
    );
    assert!(replicated.target_region_names().count() > 0);
    assert!(replicated.gallery_name().is_some() && replicated.image_definition().is_some());
    let from_vhd: gallery::GalleryImageVersion = parse_example("GalleryRP/stable/2024-03-03/examples/galleryExamples/GalleryImageVersion_Create_WithVHD.json").unwrap();
    let source = from_vhd
        .properties
        .storage_profile
        .os_disk_image
        .and_then(|d| d.source)
        .expect("a VHD source");
    assert!(source.uri.is_some() && source.storage_account_id.is_some());

    let skus: super::sku::ResourceSkuPage =
        parse_example("Skus/stable/2021-07-01/examples/skus/ListAvailableResourceSkus.json")
            .unwrap();
    assert!(skus.value.iter().any(|s| !s.capabilities.is_empty()));
}
