use super::*;
use crate::azure::compute::parse_resource;

const SUB_RG: &str = "/subscriptions/sub/resourceGroups/rg/providers";

fn vm_json() -> Value {
    json!({
        "id": format!("{SUB_RG}/Microsoft.Compute/virtualMachines/vm1"),
        "name": "vm1",
        "type": "Microsoft.Compute/virtualMachines",
        "location": "eastus",
        "etag": "\"7\"",
        "tags": {
            "user-agent": "bosh",
            "deployment": "cf",
            "disk-id-bosh-disk-data-a": "caching:None;disk_name:bosh-disk-data-a;resource_group_name:rg"
        },
        "zones": ["1"],
        "identity": {
            "type": "UserAssigned",
            "userAssignedIdentities": {
                format!("{SUB_RG}/Microsoft.ManagedIdentity/userAssignedIdentities/id1"): {"principalId": "p", "clientId": "c"}
            }
        },
        "properties": {
            "vmId": "0000",
            "provisioningState": "Succeeded",
            "hardwareProfile": {"vmSize": "Standard_A5"},
            "availabilitySet": {"id": format!("{SUB_RG}/Microsoft.Compute/availabilitySets/AS1")},
            "storageProfile": {
                "imageReference": {"id": "/img"},
                "osDisk": {
                    "osType": "Linux", "name": "bosh-disk-os-vm1", "createOption": "FromImage",
                    "caching": "ReadWrite", "diskSizeGB": 30,
                    "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-os-vm1"), "storageAccountType": "Premium_LRS"}
                },
                "dataDisks": [
                    {
                        "lun": 0, "name": "bosh-disk-os-vm1-ephemeral-disk", "createOption": "Empty",
                        "caching": "ReadWrite", "diskSizeGB": 135, "toBeDetached": false,
                        "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-os-vm1-ephemeral-disk"), "storageAccountType": "Premium_LRS"},
                        "diskIOPSReadWrite": 500, "diskMBpsReadWrite": 100, "deleteOption": "Detach"
                    },
                    {
                        "lun": 1, "name": "bosh-disk-data-a", "createOption": "Attach", "caching": "None",
                        "diskSizeGB": 10, "toBeDetached": false,
                        "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-data-a")}
                    },
                    {
                        "lun": 3, "name": "bosh-disk-data-b", "createOption": "Attach", "caching": "ReadOnly",
                        "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-data-b")}
                    }
                ]
            },
            "networkProfile": {"networkInterfaces": [
                {"id": format!("{SUB_RG}/Microsoft.Network/networkInterfaces/vm1-0"), "properties": {"primary": true}},
                {"id": format!("{SUB_RG}/Microsoft.Network/networkInterfaces/vm1-1")}
            ]},
            "diagnosticsProfile": {"bootDiagnostics": {"enabled": true, "storageUri": "https://diag.blob.core.windows.net/"}}
        }
    })
}

fn vm() -> VirtualMachine {
    parse_resource("vm", vm_json().to_string().as_bytes()).unwrap()
}

#[test]
fn parses_get_response() {
    let vm = vm();
    assert_eq!(vm.vm_size(), Some("Standard_A5"));
    assert_eq!(vm.zone(), Some("1"));
    assert_eq!(vm.etag.as_deref(), Some("\"7\""));
    assert_eq!(vm.availability_set_name(), Some("AS1"));
    assert!(!vm.is_deleting());
    assert_eq!(vm.network_interface_ids().count(), 2);
    let identity = vm.identity.as_ref().unwrap();
    assert_eq!(identity.kind.as_deref(), Some("UserAssigned"));
    assert_eq!(identity.user_assigned_identities.len(), 1);
    let os = vm.properties.storage_profile.os_disk.as_ref().unwrap();
    assert_eq!(os.name.as_deref(), Some("bosh-disk-os-vm1"));
    assert_eq!(os.disk_size_gb, Some(30));
    assert_eq!(vm.data_disk("bosh-disk-data-a").unwrap().lun, 1);
}

#[test]
fn parses_minimal_vm() {
    let vm: VirtualMachine = serde_json::from_value(json!({
        "id": "/vm", "name": "vm", "location": "l", "tags": null,
        "properties": {"provisioningState": "Deleting", "storageProfile": {"dataDisks": null}}
    }))
    .unwrap();
    assert!(vm.is_deleting());
    assert!(vm.bosh_disk_ids().is_empty());
    assert_eq!(vm.availability_set_name(), None);
}

#[test]
fn get_disks_uses_tags_then_names_and_skips_ephemeral() {
    assert_eq!(
        vm().bosh_disk_ids(),
        vec![
            "caching:None;disk_name:bosh-disk-data-a;resource_group_name:rg".to_string(),
            "bosh-disk-data-b".to_string(),
        ]
    );
}

fn attach(name: &str) -> AttachDisk {
    AttachDisk {
        name: name.into(),
        caching: Caching::ReadWrite,
        disk_cid: format!("caching:ReadWrite;disk_name:{name};resource_group_name:rg"),
        managed_disk_id: format!("{SUB_RG}/Microsoft.Compute/disks/{name}"),
    }
}

#[test]
fn attach_picks_lowest_free_lun_and_resends_only_writable_fields() {
    let plan = attach_disk_patch(&vm(), &attach("bosh-disk-data-c"), 4).unwrap();
    assert_eq!(plan.lun, 2);
    assert!(!plan.already_attached);
    assert_eq!(
        plan.body,
        json!({
            "tags": {
                "user-agent": "bosh",
                "deployment": "cf",
                "disk-id-bosh-disk-data-a": "caching:None;disk_name:bosh-disk-data-a;resource_group_name:rg",
                "disk-id-bosh-disk-data-c": "caching:ReadWrite;disk_name:bosh-disk-data-c;resource_group_name:rg"
            },
            "properties": {"storageProfile": {"dataDisks": [
                {
                    "lun": 0, "name": "bosh-disk-os-vm1-ephemeral-disk", "createOption": "Empty",
                    "caching": "ReadWrite", "diskSizeGB": 135, "deleteOption": "Detach",
                    "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-os-vm1-ephemeral-disk"), "storageAccountType": "Premium_LRS"}
                },
                {
                    "lun": 1, "name": "bosh-disk-data-a", "createOption": "Attach", "caching": "None", "diskSizeGB": 10,
                    "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-data-a")}
                },
                {
                    "lun": 3, "name": "bosh-disk-data-b", "createOption": "Attach", "caching": "ReadOnly",
                    "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-data-b")}
                },
                {
                    "name": "bosh-disk-data-c", "lun": 2, "createOption": "Attach", "caching": "ReadWrite",
                    "managedDisk": {"id": format!("{SUB_RG}/Microsoft.Compute/disks/bosh-disk-data-c")}
                }
            ]}}
        })
    );
    assert_eq!(
        serde_json::to_value(DiskHints::new(plan.lun)).unwrap(),
        json!({"lun": "2", "host_device_id": "{f8b3781b-1e82-4818-a1c3-63d806ec15bb}"})
    );
}

#[test]
fn attach_fails_when_every_lun_is_taken() {
    // LUNs 0 and 1 are used; a size with 2 data disks has no room left (LUN 3 is beyond it).
    let err = attach_disk_patch(&vm(), &attach("bosh-disk-data-c"), 2).unwrap_err();
    assert!(err.message().contains("cannot find an available lun"));
    assert!(err.message().contains("'vm1'"));
}

#[test]
fn attach_of_an_attached_disk_keeps_its_lun() {
    let plan = attach_disk_patch(&vm(), &attach("bosh-disk-data-b"), 4).unwrap();
    assert!(plan.already_attached);
    assert_eq!(plan.lun, 3);
    assert_eq!(
        plan.body["properties"]["storageProfile"]["dataDisks"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        plan.body["tags"]["disk-id-bosh-disk-data-b"],
        "caching:ReadWrite;disk_name:bosh-disk-data-b;resource_group_name:rg"
    );
}

#[test]
fn detach_drops_the_disk_and_its_tag() {
    let body = detach_disk_patch(&vm(), "bosh-disk-data-a").unwrap();
    assert_eq!(
        body["tags"],
        json!({"user-agent": "bosh", "deployment": "cf"})
    );
    let luns: Vec<u64> = body["properties"]["storageProfile"]["dataDisks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["lun"].as_u64().unwrap())
        .collect();
    assert_eq!(luns, [0, 3]);
    let err = detach_disk_patch(&vm(), "bosh-disk-data-z").unwrap_err();
    assert_eq!(err.wire_type(), "Bosh::Clouds::DiskNotAttached");
    assert!(err.ok_to_retry());
    assert_eq!(
        err.message(),
        "The disk bosh-disk-data-z is not attached to the virtual machine vm1"
    );
}

#[test]
fn metadata_merges_into_tags() {
    let metadata = json!({"deployment": "cf2", "index": 3, "user-agent": "spoofed"});
    let body = metadata_patch(&vm(), metadata.as_object().unwrap());
    assert_eq!(
        body,
        json!({"tags": {
            "user-agent": "bosh",
            "deployment": "cf2",
            "index": "3",
            "disk-id-bosh-disk-data-a": "caching:None;disk_name:bosh-disk-data-a;resource_group_name:rg"
        }})
    );
}

#[test]
fn vm_tags_precedence() {
    let env = Tags::from([("a".into(), "env".into()), ("b".into(), "env".into())]);
    let props = Tags::from([
        ("b".into(), "props".into()),
        ("user-agent".into(), "x".into()),
    ]);
    assert_eq!(
        vm_tags(&env, &props),
        Tags::from([
            ("a".into(), "env".into()),
            ("b".into(), "props".into()),
            ("user-agent".into(), "x".into()),
        ])
    );
}

fn stemcell(metadata: &[(&str, &str)]) -> StemcellInfo {
    StemcellInfo::new(
        "u",
        metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap()
}

// Vectors from Ruby's helpers_spec (get_os_disk_size).
#[test]
fn os_disk_sizes() {
    let linux = stemcell(&[]); // 3072 MiB image
    assert_eq!(os_disk_size_gib(None, &linux, false).unwrap(), None);
    assert_eq!(os_disk_size_gib(None, &linux, true).unwrap(), Some(30));
    assert_eq!(
        os_disk_size_gib(Some(2048), &linux, false).unwrap(),
        Some(3)
    );
    assert_eq!(
        os_disk_size_gib(Some(50 * 1024 + 1), &linux, true).unwrap(),
        Some(51)
    );
    let big_image = stemcell(&[("disk", "40960")]);
    assert_eq!(os_disk_size_gib(None, &big_image, true).unwrap(), Some(40));
    let windows = stemcell(&[("os_type", "windows")]);
    assert_eq!(os_disk_size_gib(None, &windows, true).unwrap(), Some(128));
    assert_eq!(
        os_disk_size_gib(Some(1024), &windows, false).unwrap(),
        Some(128)
    );
}

#[test]
fn ephemeral_os_disk_sizes() {
    let linux = stemcell(&[]);
    // use_root_disk + ephemeral size + no root size: image floor + ephemeral floor.
    assert_eq!(
        ephemeral_os_disk_size_gib(None, Some(10 * 1024 + 5), &linux, true).unwrap(),
        Some(13)
    );
    // Root size given: ceil(root) + ephemeral.
    assert_eq!(
        ephemeral_os_disk_size_gib(Some(40 * 1024), Some(10 * 1024), &linux, true).unwrap(),
        Some(50)
    );
    // use_root_disk alone: the 30 GiB minimum.
    assert_eq!(
        ephemeral_os_disk_size_gib(None, None, &linux, true).unwrap(),
        Some(30)
    );
    assert_eq!(
        ephemeral_os_disk_size_gib(None, Some(10 * 1024), &linux, false).unwrap(),
        None
    );
}

#[test]
fn ephemeral_data_disk_sizes() {
    assert_eq!(
        ephemeral_data_disk_size_gib(None, "Standard_D2_v2").unwrap(),
        100
    );
    assert_eq!(
        ephemeral_data_disk_size_gib(None, "Standard_D2s_v5").unwrap(),
        30
    );
    assert_eq!(
        ephemeral_data_disk_size_gib(Some(20 * 1024 + 1023), "x").unwrap(),
        20
    );
    assert!(ephemeral_data_disk_size_gib(Some(1000), "x").is_err());
}

#[test]
fn windows_names() {
    // Ruby helpers_spec vectors: time 1482829740.3734238 with pid 6 and pid 6553600.
    assert_eq!(
        windows_computer_name(14_828_297_403_734_238, 6),
        "d5e883lv66u0006"
    );
    assert_eq!(
        windows_computer_name(14_828_297_403_734_238, 6_553_600),
        "5e883lv66u68000"
    );
    let name = windows_computer_name(14_828_297_403_734_238, 65_536);
    assert_eq!(name.len(), 15);
    assert!(name.starts_with("d5e883lv66u"), "{name}");
    assert!(name.ends_with("2000"), "{name}");
    assert_eq!(name, "d5e883lv66u2000");
    assert_eq!(windows_computer_name(1, 1), "100000000000001");
    // Too long: the tail is kept.
    let long = windows_computer_name(u128::MAX, 1);
    assert_eq!(long.len(), 15);
    assert!(long.ends_with('1'));
    let uuid = uuid::Uuid::parse_str("67e55044-10b1-426f-9247-bb680e5fe0c8").unwrap();
    assert_eq!(windows_admin_username(&uuid), "67e5504410b1426f9247");
    use rand::SeedableRng;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let password = windows_admin_password(&mut rng);
    assert_eq!(password.len(), 72);
    assert!(password.chars().any(|c| c.is_ascii_lowercase()));
    assert!(password.chars().any(|c| c.is_ascii_uppercase()));
    assert!(password.chars().any(|c| c.is_ascii_digit()));
    assert_eq!(password.chars().filter(|c| *c == '-').count(), 8);
    assert_ne!(password, windows_admin_password(&mut rng));
}

fn linux_spec() -> VmSpec {
    VmSpec {
        name: "vm1".into(),
        location: "eastus".into(),
        vm_size: "Standard_D2s_v5".into(),
        tags: Tags::from([
            ("user-agent".into(), "bosh".into()),
            ("foo".into(), "bar".into()),
        ]),
        os_profile: OsProfileSpec::Linux {
            admin_username: "vcap".into(),
            ssh_public_key: "ssh-rsa AAAA".into(),
        },
        custom_data: "e30=".into(),
        network_interface_ids: vec!["/nic0".into(), "/nic1".into()],
        image: VmImage::Id("/gallery/versions/1.0.0".into()),
        os_disk: OsDiskSpec {
            name: "bosh-disk-os-vm1".into(),
            caching: Caching::ReadWrite,
            size_gib: Some(30),
            disk_encryption_set_id: None,
            ephemeral_placement: None,
        },
        ephemeral_disk: Some(EphemeralDataDiskSpec {
            name: "bosh-disk-os-vm1-ephemeral-disk".into(),
            size_gib: 30,
            caching: Caching::ReadWrite,
            storage_account_type: Some("Premium_LRS".into()),
            disk_encryption_set_id: None,
        }),
        identity: None,
        zone: None,
        availability_set_id: None,
        capacity_reservation_group_id: None,
        boot_diagnostics: None,
        security: VmSecurity::Standard,
        encryption_at_host: false,
        spot: None,
        proximity_placement_group_id: None,
        ultra_ssd_enabled: false,
    }
}

#[test]
fn linux_vm_body() {
    assert_eq!(
        vm_body(&linux_spec()),
        json!({
            "location": "eastus",
            "tags": {"user-agent": "bosh", "foo": "bar"},
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
                "osProfile": {
                    "customData": "e30=",
                    "computerName": "vm1",
                    "adminUsername": "vcap",
                    "linuxConfiguration": {
                        "disablePasswordAuthentication": true,
                        "ssh": {"publicKeys": [{"path": "/home/vcap/.ssh/authorized_keys", "keyData": "ssh-rsa AAAA"}]}
                    }
                },
                "networkProfile": {"networkInterfaces": [
                    {"id": "/nic0", "properties": {"primary": true}},
                    {"id": "/nic1", "properties": {"primary": false}}
                ]},
                "storageProfile": {
                    "imageReference": {"id": "/gallery/versions/1.0.0"},
                    "osDisk": {"name": "bosh-disk-os-vm1", "createOption": "FromImage", "caching": "ReadWrite", "diskSizeGB": 30},
                    "dataDisks": [{
                        "name": "bosh-disk-os-vm1-ephemeral-disk", "lun": 0, "createOption": "Empty",
                        "diskSizeGB": 30, "caching": "ReadWrite",
                        "managedDisk": {"storageAccountType": "Premium_LRS"}
                    }]
                }
            }
        })
    );
}

#[test]
fn vm_body_with_every_option() {
    let mut spec = linux_spec();
    spec.identity = Some(VmIdentity::UserAssigned(format!(
        "{SUB_RG}/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
    )));
    spec.zone = Some("2".into());
    spec.availability_set_id = Some("/as".into());
    spec.capacity_reservation_group_id = Some("/crg".into());
    spec.boot_diagnostics = Some(super::BootDiagnostics::StorageAccount(
        "https://diag.blob.core.windows.net/".into(),
    ));
    spec.security = VmSecurity::TrustedLaunch {
        secure_boot: true,
        vtpm: true,
    };
    spec.os_disk = OsDiskSpec {
        name: "bosh-disk-os-vm1".into(),
        caching: Caching::ReadWrite,
        size_gib: None,
        disk_encryption_set_id: Some("/des".into()),
        ephemeral_placement: Some(EphemeralPlacement::ResourceDisk),
    };
    spec.ephemeral_disk = None;
    spec.image = VmImage::Marketplace {
        reference: PlatformImageReference {
            publisher: "pub".into(),
            offer: "off".into(),
            sku: "sku".into(),
            version: "1.2.3".into(),
        },
        plan: Some(PurchasePlan {
            publisher: "pub".into(),
            name: "sku".into(),
            product: "off".into(),
        }),
    };
    let body = vm_body(&spec);
    assert_eq!(
        body["identity"],
        json!({"type": "UserAssigned", "userAssignedIdentities": {
            format!("{SUB_RG}/Microsoft.ManagedIdentity/userAssignedIdentities/id1"): {}
        }})
    );
    assert_eq!(body["zones"], json!(["2"]));
    assert_eq!(
        body["plan"],
        json!({"name": "sku", "publisher": "pub", "product": "off"})
    );
    let p = &body["properties"];
    assert_eq!(p["availabilitySet"], json!({"id": "/as"}));
    assert_eq!(
        p["capacityReservation"],
        json!({"capacityReservationGroup": {"id": "/crg"}})
    );
    assert_eq!(
        p["diagnosticsProfile"],
        json!({"bootDiagnostics": {"enabled": true, "storageUri": "https://diag.blob.core.windows.net/"}})
    );
    assert_eq!(
        p["securityProfile"],
        json!({"securityType": "TrustedLaunch", "uefiSettings": {"secureBootEnabled": true, "vTpmEnabled": true}})
    );
    assert_eq!(
        p["storageProfile"],
        json!({
            "imageReference": {"publisher": "pub", "offer": "off", "sku": "sku", "version": "1.2.3"},
            "osDisk": {
                "name": "bosh-disk-os-vm1", "createOption": "FromImage", "caching": "ReadOnly",
                "diffDiskSettings": {"option": "Local", "placement": "ResourceDisk"},
                "managedDisk": {"diskEncryptionSet": {"id": "/des"}}
            }
        })
    );
    assert!(body.get("name").is_none() && body.get("type").is_none());
}

#[test]
fn marketplace_image_without_plan_sends_no_plan() {
    let mut spec = linux_spec();
    spec.identity = Some(VmIdentity::SystemAssigned);
    spec.image = VmImage::Marketplace {
        reference: PlatformImageReference {
            publisher: "Canonical".into(),
            offer: "ubuntu".into(),
            sku: "22_04".into(),
            version: "latest".into(),
        },
        plan: None,
    };
    let body = vm_body(&spec);
    assert!(body.get("plan").is_none());
    assert!(body["properties"].get("securityProfile").is_none());
    assert_eq!(body["identity"], json!({"type": "SystemAssigned"}));
}

#[test]
fn windows_vm_os_profile() {
    let mut spec = linux_spec();
    spec.os_profile = OsProfileSpec::Windows {
        computer_name: "d5e883lv66u2000".into(),
        admin_username: "67e5504410b1426f9247".into(),
        admin_password: "secret".into(),
    };
    assert_eq!(
        vm_body(&spec)["properties"]["osProfile"],
        json!({
            "customData": "e30=",
            "computerName": "d5e883lv66u2000",
            "adminUsername": "67e5504410b1426f9247",
            "adminPassword": "secret",
            "windowsConfiguration": {"enableAutomaticUpdates": false}
        })
    );
}

#[test]
fn names() {
    assert_eq!(disk_id_tag("d"), "disk-id-d");
}

#[test]
fn related_ids() {
    assert_eq!(
        user_assigned_identity_id("sub", "rg", "id1"),
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/id1"
    );
    assert_eq!(
        capacity_reservation_group_id("sub", "rg", "crg"),
        "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/capacityReservationGroups/crg"
    );
}
