//! Table tests over the CID formats of the Ruby CPI and the vectors of the Ruby CPI's
//! `instance_id_spec.rb`, `disk_id_spec.rb`, `models/disk_id_spec.rb` and `models/obj_id_spec.rb`,
//! plus property tests for round-trips and arbitrary input.

use proptest::prelude::*;

use super::*;
use crate::error::CpiError;

const UUID: &str = "c5fb8cae-c3de-48b9-af8f-c17d373e6ff4";
const DEFAULT_RG: &str = "default-resource-group-name";

fn cloud(message: &str) -> CpiError {
    CpiError::cloud(message)
}

struct Vm {
    vm_name: String,
    resource_group_name: &'static str,
    storage_account_name: Option<&'static str>,
    is_managed: bool,
    formatted: String,
}

#[test]
fn vm_cids_parse_and_format_like_the_ruby_cpi() {
    let sa_uuid = format!("fakestorageaccountname-{UUID}");
    let cases: Vec<(String, &str, Result<Vm, CpiError>)> = vec![
        // V2 with unknown keys: kept, and the default resource group is added.
        (
            "a:a;b:b;agent_id:fake-agent-id".into(),
            DEFAULT_RG,
            Ok(Vm {
                vm_name: "fake-agent-id".into(),
                resource_group_name: DEFAULT_RG,
                storage_account_name: None,
                is_managed: true,
                formatted: format!(
                    "a:a;agent_id:fake-agent-id;b:b;resource_group_name:{DEFAULT_RG}"
                ),
            }),
        ),
        // V1 managed: 36 characters, returned verbatim, default resource group.
        (
            "i".repeat(36),
            DEFAULT_RG,
            Ok(Vm {
                vm_name: "i".repeat(36),
                resource_group_name: DEFAULT_RG,
                storage_account_name: None,
                is_managed: true,
                formatted: "i".repeat(36),
            }),
        ),
        (
            UUID.into(),
            "fake-resource-group-name",
            Ok(Vm {
                vm_name: UUID.into(),
                resource_group_name: "fake-resource-group-name",
                storage_account_name: None,
                is_managed: true,
                formatted: UUID.into(),
            }),
        ),
        // V1 unmanaged: `<sa>-<agent_id>`.
        (
            sa_uuid.clone(),
            "fake-resource-group-name",
            Ok(Vm {
                vm_name: sa_uuid.clone(),
                resource_group_name: "fake-resource-group-name",
                storage_account_name: Some("fakestorageaccountname"),
                is_managed: false,
                formatted: sa_uuid,
            }),
        ),
        // V2 unmanaged, already canonical.
        (
            "agent_id:a;resource_group_name:r;storage_account_name:s".into(),
            "r",
            Ok(Vm {
                vm_name: "a".into(),
                resource_group_name: "r",
                storage_account_name: Some("s"),
                is_managed: false,
                formatted: "agent_id:a;resource_group_name:r;storage_account_name:s".into(),
            }),
        ),
        // V2 in any key order; its own resource group wins over the default.
        (
            "resource_group_name:fake-resource-group-name;agent_id:a;storage_account_name:s"
                .into(),
            DEFAULT_RG,
            Ok(Vm {
                vm_name: "a".into(),
                resource_group_name: "fake-resource-group-name",
                storage_account_name: Some("s"),
                is_managed: false,
                formatted:
                    "agent_id:a;resource_group_name:fake-resource-group-name;storage_account_name:s"
                        .into(),
            }),
        ),
        (
            format!("resource_group_name:r;agent_id:{UUID};storage_account_name:s"),
            "fake-resource-group-name",
            Ok(Vm {
                vm_name: UUID.into(),
                resource_group_name: "r",
                storage_account_name: Some("s"),
                is_managed: false,
                formatted: format!("agent_id:{UUID};resource_group_name:r;storage_account_name:s"),
            }),
        ),
        (
            "resource_group_name:r;agent_id:None;storage_account_name:fakestorageaccountname"
                .into(),
            "fake-resource-group-name",
            Ok(Vm {
                vm_name: "None".into(),
                resource_group_name: "r",
                storage_account_name: Some("fakestorageaccountname"),
                is_managed: false,
                formatted:
                    "agent_id:None;resource_group_name:r;storage_account_name:fakestorageaccountname"
                        .into(),
            }),
        ),
        (
            "resource_group_name:r;agent_id:None".into(),
            "fake-resource-group-name",
            Ok(Vm {
                vm_name: "None".into(),
                resource_group_name: "r",
                storage_account_name: None,
                is_managed: true,
                formatted: "agent_id:None;resource_group_name:r".into(),
            }),
        ),
        // V2 managed without a resource group inherits the default.
        (
            format!("agent_id:{UUID};x:y"),
            DEFAULT_RG,
            Ok(Vm {
                vm_name: UUID.into(),
                resource_group_name: DEFAULT_RG,
                storage_account_name: None,
                is_managed: true,
                formatted: format!("agent_id:{UUID};resource_group_name:{DEFAULT_RG};x:y"),
            }),
        ),
        // Errors.
        (
            "fakestorageaccountname-length-not-equal-to-36".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid instance id (plain) 'fakestorageaccountname-length-not-equal-to-36'",
            )),
        ),
        (
            "length-not-equal-to-36".into(),
            DEFAULT_RG,
            Err(cloud("Invalid instance id (plain) 'length-not-equal-to-36'")),
        ),
        (
            "nodash".into(),
            DEFAULT_RG,
            Err(cloud("Invalid instance id (plain) 'nodash'")),
        ),
        (
            "agent_id:a;resource_group_name:".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid resource_group_name in instance id (version 2) 'agent_id:a;resource_group_name:'",
            )),
        ),
        (
            "agent_id:a;storage_account_name:s".into(),
            "",
            Err(cloud(
                "Invalid resource_group_name in instance id (version 2) 'agent_id:a;resource_group_name:;storage_account_name:s'",
            )),
        ),
        (
            "resource_group_name:r;storage_account_name:s".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid vm_name in instance id (version 2)' 'resource_group_name:r;storage_account_name:s'",
            )),
        ),
        (
            "agent_id:;resource_group_name:r".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid vm_name in instance id (version 2)' 'agent_id:;resource_group_name:r'",
            )),
        ),
        (
            "agent_id:a;resource_group_name:r;storage_account_name:".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid storage_account_name in instance id (version 2) 'agent_id:a;resource_group_name:r;storage_account_name:'",
            )),
        ),
        (
            "".into(),
            "r",
            Err(cloud(
                "Invalid vm_name in instance id (version 2)' 'resource_group_name:r'",
            )),
        ),
        (
            "mock_plain_id;ak:av".into(),
            DEFAULT_RG,
            Err(cloud("key/value format wrong.")),
        ),
    ];
    for (cid, default_rg, expected) in cases {
        let actual = VmCid::parse(&cid, default_rg);
        match (actual, expected) {
            (Ok(vm), Ok(want)) => {
                assert_eq!(vm.vm_name(), want.vm_name, "{cid}");
                assert_eq!(vm.resource_group_name(), want.resource_group_name, "{cid}");
                assert_eq!(
                    vm.storage_account_name(),
                    want.storage_account_name,
                    "{cid}"
                );
                assert_eq!(vm.is_managed(), want.is_managed, "{cid}");
                assert_eq!(vm.to_string(), want.formatted, "{cid}");
            }
            (Err(err), Err(want)) => assert_eq!(err, want, "{cid}"),
            (actual, _) => panic!("{cid}: unexpected {actual:?}"),
        }
    }
}

#[test]
fn new_vm_cids_have_the_v2_format_and_parse_back() {
    let managed = VmCid::new_managed("fake-agent-id", "fake-resource-group-name").unwrap();
    assert_eq!(
        managed.to_string(),
        "agent_id:fake-agent-id;resource_group_name:fake-resource-group-name"
    );
    assert!(managed.is_managed());
    assert_eq!(managed.vm_name(), "fake-agent-id");

    let unmanaged = VmCid::new_unmanaged(
        "fake-agent-id",
        "fake-resource-group-name",
        "fakestorageaccountname",
    )
    .unwrap();
    let wire = "agent_id:fake-agent-id;resource_group_name:fake-resource-group-name;storage_account_name:fakestorageaccountname";
    assert_eq!(unmanaged.to_string(), wire);
    let reparsed = VmCid::parse(wire, "fake-resource-group-name").unwrap();
    assert_eq!(reparsed, unmanaged);
    assert_eq!(
        reparsed.storage_account_name(),
        Some("fakestorageaccountname")
    );
}

#[test]
fn new_vm_cids_reject_what_could_not_be_parsed_back() {
    let cases = [
        (
            VmCid::new_unmanaged("agent-id", "", "storage-account-name"),
            "Invalid resource_group_name in instance id (version 2) 'agent_id:agent-id;resource_group_name:;storage_account_name:storage-account-name'",
        ),
        (
            VmCid::new_unmanaged("", "resource-group-name", "storage-account-name"),
            "Invalid vm_name in instance id (version 2)' 'agent_id:;resource_group_name:resource-group-name;storage_account_name:storage-account-name'",
        ),
        (
            VmCid::new_unmanaged("agent-id", "resource-group-name", ""),
            "Invalid storage_account_name in instance id (version 2) 'agent_id:agent-id;resource_group_name:resource-group-name;storage_account_name:'",
        ),
        (
            VmCid::new_managed("a;b", "rg"),
            "Invalid agent_id in instance id: 'a;b' must not contain ';'",
        ),
    ];
    for (actual, message) in cases {
        assert_eq!(actual.unwrap_err(), cloud(message));
    }
}

#[test]
fn vm_resource_names_derive_from_the_vm_name() {
    let managed = VmCid::new_managed("agent-0101", "rg").unwrap();
    assert_eq!(managed.os_disk_name(), "bosh-disk-os-agent-0101");
    assert_eq!(
        managed.ephemeral_disk_name(),
        "bosh-disk-os-agent-0101-ephemeral-disk"
    );
    assert_eq!(managed.nic_name(0), "agent-0101-0");
    assert_eq!(managed.nic_name(2), "agent-0101-2");

    let unmanaged = VmCid::new_unmanaged("agent-0101", "rg", "sa").unwrap();
    assert_eq!(unmanaged.os_disk_name(), "bosh-os-agent-0101");
    assert_eq!(
        unmanaged.ephemeral_disk_name(),
        "bosh-os-agent-0101-ephemeral-disk"
    );

    // A V1 unmanaged VM is named after its whole plain id.
    let plain = VmCid::parse(&format!("sa-{UUID}"), DEFAULT_RG).unwrap();
    assert_eq!(plain.os_disk_name(), format!("bosh-os-sa-{UUID}"));
    assert_eq!(plain.nic_name(1), format!("sa-{UUID}-1"));
}

struct Disk {
    disk_name: String,
    resource_group_name: &'static str,
    caching: Result<Caching, CpiError>,
    storage_account_name: Result<&'static str, CpiError>,
    formatted: String,
}

const ONLY_UNMANAGED: &str = "This function should only be called for unmanaged disks";
const SA: &str = "6slyzrx7ypji2cfdefaultsa";

#[test]
fn disk_cids_parse_and_format_like_the_ruby_cpi() {
    let managed_v1 = format!("bosh-disk-data-{UUID}-ReadOnly");
    let unmanaged_v1 = format!("bosh-data-{SA}-{UUID}-ReadOnly");
    let wrong_prefix = format!("wrongbosh-data-fake-storage-account-name-{UUID}-None");
    let cases: Vec<(String, &str, Result<Disk, CpiError>)> = vec![
        // V2 with unknown keys; the V2 caching value is not checked until it is read.
        (
            "a:a;b:b;disk_name:bosh-disk-data-disk-1;caching:c".into(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: "bosh-disk-data-disk-1".into(),
                resource_group_name: DEFAULT_RG,
                caching: Err(cloud("Unknown disk caching c")),
                storage_account_name: Err(cloud(ONLY_UNMANAGED)),
                formatted: format!(
                    "a:a;b:b;caching:c;disk_name:bosh-disk-data-disk-1;resource_group_name:{DEFAULT_RG}"
                ),
            }),
        ),
        // Plain ids are accepted as they are; accessors check them.
        (
            "fake-id".into(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: "fake-id".into(),
                resource_group_name: DEFAULT_RG,
                caching: Err(cloud("This function should only be called for data disks")),
                storage_account_name: Err(cloud("Invalid data disk name (plain) fake-id")),
                formatted: "fake-id".into(),
            }),
        ),
        (
            "caching:c;disk_name:bosh-disk-data-d;resource_group_name:r".into(),
            "r",
            Ok(Disk {
                disk_name: "bosh-disk-data-d".into(),
                resource_group_name: "r",
                caching: Err(cloud("Unknown disk caching c")),
                storage_account_name: Err(cloud(ONLY_UNMANAGED)),
                formatted: "caching:c;disk_name:bosh-disk-data-d;resource_group_name:r".into(),
            }),
        ),
        // V1 managed: caching is the last '-' segment.
        (
            managed_v1.clone(),
            "fake-resource-group-name",
            Ok(Disk {
                disk_name: managed_v1.clone(),
                resource_group_name: "fake-resource-group-name",
                caching: Ok(Caching::ReadOnly),
                storage_account_name: Err(cloud(ONLY_UNMANAGED)),
                formatted: managed_v1,
            }),
        ),
        (
            format!("bosh-disk-data-{UUID}-None"),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: format!("bosh-disk-data-{UUID}-None"),
                resource_group_name: DEFAULT_RG,
                caching: Ok(Caching::None),
                storage_account_name: Err(cloud(ONLY_UNMANAGED)),
                formatted: format!("bosh-disk-data-{UUID}-None"),
            }),
        ),
        // V1 unmanaged: `bosh-data-<sa>-<uuid>-<caching>`.
        (
            unmanaged_v1.clone(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: unmanaged_v1.clone(),
                resource_group_name: DEFAULT_RG,
                caching: Ok(Caching::ReadOnly),
                storage_account_name: Ok(SA),
                formatted: unmanaged_v1,
            }),
        ),
        (
            wrong_prefix.clone(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: wrong_prefix.clone(),
                resource_group_name: DEFAULT_RG,
                caching: Err(cloud("This function should only be called for data disks")),
                storage_account_name: Err(cloud(&format!(
                    "Invalid data disk name (plain) {wrong_prefix}"
                ))),
                formatted: wrong_prefix,
            }),
        ),
        (
            "bosh-data-sa-ReadOnly".into(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: "bosh-data-sa-ReadOnly".into(),
                resource_group_name: DEFAULT_RG,
                caching: Ok(Caching::ReadOnly),
                storage_account_name: Err(cloud(
                    "Invalid unmanaged data disk name bosh-data-sa-ReadOnly",
                )),
                formatted: "bosh-data-sa-ReadOnly".into(),
            }),
        ),
        // V2 managed, own and default resource group.
        (
            format!("caching:ReadOnly;disk_name:bosh-disk-data-{UUID};resource_group_name:another-resource-group-name"),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: format!("bosh-disk-data-{UUID}"),
                resource_group_name: "another-resource-group-name",
                caching: Ok(Caching::ReadOnly),
                storage_account_name: Err(cloud(ONLY_UNMANAGED)),
                formatted: format!("caching:ReadOnly;disk_name:bosh-disk-data-{UUID};resource_group_name:another-resource-group-name"),
            }),
        ),
        (
            "disk_name:bosh-disk-data-fake-uuid;caching:None;resource_group_name:fake-resource-group-name".into(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: "bosh-disk-data-fake-uuid".into(),
                resource_group_name: "fake-resource-group-name",
                caching: Ok(Caching::None),
                storage_account_name: Err(cloud(ONLY_UNMANAGED)),
                formatted: "caching:None;disk_name:bosh-disk-data-fake-uuid;resource_group_name:fake-resource-group-name".into(),
            }),
        ),
        // V2 unmanaged: the resource group is read (default) but never written.
        (
            format!("caching:ReadOnly;disk_name:bosh-data-{UUID};storage_account_name:{SA}"),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: format!("bosh-data-{UUID}"),
                resource_group_name: DEFAULT_RG,
                caching: Ok(Caching::ReadOnly),
                storage_account_name: Ok(SA),
                formatted: format!("caching:ReadOnly;disk_name:bosh-data-{UUID};storage_account_name:{SA}"),
            }),
        ),
        (
            "disk_name:bosh-data-uuid;caching:cc;resource_group_name:rr;storage_account_name:fakestorageaccountname".into(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: "bosh-data-uuid".into(),
                resource_group_name: "rr",
                caching: Err(cloud("Unknown disk caching cc")),
                storage_account_name: Ok("fakestorageaccountname"),
                formatted: "caching:cc;disk_name:bosh-data-uuid;storage_account_name:fakestorageaccountname".into(),
            }),
        ),
        // Values may contain ':'.
        (
            "disk_name:bosh-data-fake-uuid--a:b:c;caching:cc;storage_account_name:ss".into(),
            DEFAULT_RG,
            Ok(Disk {
                disk_name: "bosh-data-fake-uuid--a:b:c".into(),
                resource_group_name: DEFAULT_RG,
                caching: Err(cloud("Unknown disk caching cc")),
                storage_account_name: Ok("ss"),
                formatted: "caching:cc;disk_name:bosh-data-fake-uuid--a:b:c;storage_account_name:ss".into(),
            }),
        ),
        // Errors.
        (
            "caching:None;disk_name:dd;resource_group_name:rr".into(),
            DEFAULT_RG,
            Err(cloud("This function should only be called for data disks")),
        ),
        (
            "caching:None;disk_name:;resource_group_name:r".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid disk_name in disk id (version 2) 'caching:None;disk_name:;resource_group_name:r'",
            )),
        ),
        (
            "caching:None;resource_group_name:r".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid disk_name in disk id (version 2) 'caching:None;resource_group_name:r'",
            )),
        ),
        (
            "disk_name:bosh-disk-data-x;resource_group_name:r".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid caching in disk id (version 2) 'disk_name:bosh-disk-data-x;resource_group_name:r'",
            )),
        ),
        (
            "caching:;disk_name:bosh-disk-data-x;resource_group_name:r".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid caching in disk id (version 2) 'caching:;disk_name:bosh-disk-data-x;resource_group_name:r'",
            )),
        ),
        (
            "caching:None;disk_name:bosh-disk-data-x;resource_group_name:".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid resource_group_name in disk id (version 2) 'caching:None;disk_name:bosh-disk-data-x;resource_group_name:'",
            )),
        ),
        (
            "caching:None;disk_name:bosh-data-x;resource_group_name:r".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid storage_account_name in disk id (version 2) 'caching:None;disk_name:bosh-data-x;resource_group_name:r'",
            )),
        ),
        (
            "caching:None;disk_name:bosh-data-x;storage_account_name:".into(),
            DEFAULT_RG,
            Err(cloud(
                "Invalid storage_account_name in disk id (version 2) 'caching:None;disk_name:bosh-data-x;storage_account_name:'",
            )),
        ),
        (
            "bosh-data-x;caching".into(),
            DEFAULT_RG,
            Err(cloud("key/value format wrong.")),
        ),
    ];
    for (cid, default_rg, expected) in cases {
        let actual = DiskCid::parse(&cid, default_rg);
        match (actual, expected) {
            (Ok(disk), Ok(want)) => {
                assert_eq!(disk.disk_name(), want.disk_name, "{cid}");
                assert_eq!(
                    disk.resource_group_name(),
                    want.resource_group_name,
                    "{cid}"
                );
                assert_eq!(disk.caching(), want.caching, "{cid}");
                assert_eq!(
                    disk.storage_account_name(),
                    want.storage_account_name,
                    "{cid}"
                );
                assert_eq!(disk.to_string(), want.formatted, "{cid}");
            }
            (Err(err), Err(want)) => assert_eq!(err, want, "{cid}"),
            (actual, _) => panic!("{cid}: unexpected {actual:?}"),
        }
    }
}

fn uuid_after<'a>(name: &'a str, prefix: &str) -> &'a str {
    let uuid = name.strip_prefix(prefix).unwrap();
    let parsed = uuid::Uuid::parse_str(uuid).unwrap();
    assert_eq!(parsed.get_version_num(), 4, "{name}");
    // Lower-case hyphenated, as Ruby's SecureRandom.uuid writes it.
    assert_eq!(parsed.hyphenated().to_string(), uuid);
    uuid
}

#[test]
fn new_disk_cids_carry_a_fresh_name_in_the_v2_format() {
    let managed = DiskCid::new_managed(Caching::ReadOnly, "another-resource-group-name").unwrap();
    let uuid = uuid_after(managed.disk_name(), "bosh-disk-data-");
    assert_eq!(
        managed.to_string(),
        format!(
            "caching:ReadOnly;disk_name:bosh-disk-data-{uuid};resource_group_name:another-resource-group-name"
        )
    );
    assert!(managed.has_managed_name());
    assert_eq!(managed.caching(), Ok(Caching::ReadOnly));
    assert_eq!(managed.storage_account_name(), Err(cloud(ONLY_UNMANAGED)));

    let unmanaged = DiskCid::new_unmanaged(Caching::None, SA, DEFAULT_RG).unwrap();
    let uuid = uuid_after(unmanaged.disk_name(), "bosh-data-");
    assert_eq!(
        unmanaged.to_string(),
        format!("caching:None;disk_name:bosh-data-{uuid};storage_account_name:{SA}")
    );
    assert!(!unmanaged.has_managed_name());
    assert_eq!(unmanaged.storage_account_name(), Ok(SA));
    assert_eq!(
        DiskCid::parse(&unmanaged.to_string(), DEFAULT_RG),
        Ok(unmanaged)
    );

    assert_ne!(
        DiskCid::new_managed(Caching::None, "rg")
            .unwrap()
            .disk_name(),
        DiskCid::new_managed(Caching::None, "rg")
            .unwrap()
            .disk_name()
    );
    assert!(
        DiskCid::new_managed(Caching::None, "")
            .unwrap_err()
            .message()
            .starts_with("Invalid resource_group_name in disk id (version 2) 'caching:None;disk_name:bosh-disk-data-")
    );
    assert!(DiskCid::new_unmanaged(Caching::None, "", DEFAULT_RG).is_err());
}

#[test]
fn snapshot_cids_parse_and_format_like_the_ruby_cpi() {
    // V1 unmanaged snapshot: the disk's plain id plus `--<time>`.
    let plain = format!("bosh-data-{SA}-{UUID}-ReadOnly--snapshottime");
    let snapshot = SnapshotCid::parse(&plain, DEFAULT_RG).unwrap();
    assert_eq!(snapshot.to_string(), plain);
    assert_eq!(snapshot.snapshot_name(), plain);
    assert!(!snapshot.is_managed());
    assert_eq!(snapshot.storage_account_name(), Ok(SA));
    assert_eq!(
        snapshot.blob_snapshot(),
        Ok((
            format!("bosh-data-{SA}-{UUID}-ReadOnly").as_str(),
            "snapshottime"
        ))
    );

    // V2 unmanaged snapshot.
    let v2 = format!(
        "caching:ReadOnly;disk_name:bosh-data-{UUID}--snapshottime;storage_account_name:{SA}"
    );
    let snapshot = SnapshotCid::parse(&v2, DEFAULT_RG).unwrap();
    assert_eq!(snapshot.to_string(), v2);
    assert_eq!(
        snapshot.snapshot_name(),
        format!("bosh-data-{UUID}--snapshottime")
    );
    assert_eq!(
        snapshot.blob_snapshot(),
        Ok((format!("bosh-data-{UUID}").as_str(), "snapshottime"))
    );

    // V2 managed snapshot: the managed disk format.
    let managed = format!(
        "caching:None;disk_name:bosh-disk-data-{UUID};resource_group_name:another-resource-group-name"
    );
    let snapshot = SnapshotCid::parse(&managed, DEFAULT_RG).unwrap();
    assert!(snapshot.is_managed());
    assert_eq!(
        snapshot.resource_group_name(),
        "another-resource-group-name"
    );
    assert_eq!(
        snapshot.blob_snapshot(),
        Err(cloud(&format!("Invalid snapshot id bosh-disk-data-{UUID}")))
    );
}

#[test]
fn new_snapshot_cids() {
    let managed = SnapshotCid::new_managed(Caching::ReadWrite, "rg").unwrap();
    let uuid = uuid_after(managed.snapshot_name(), "bosh-disk-data-");
    assert_eq!(
        managed.to_string(),
        format!("caching:ReadWrite;disk_name:bosh-disk-data-{uuid};resource_group_name:rg")
    );

    let time = "2017-02-15T06:39:30.7617430Z";
    let unmanaged = SnapshotCid::new_unmanaged(
        Caching::None,
        &format!("bosh-data-{UUID}"),
        time,
        SA,
        DEFAULT_RG,
    )
    .unwrap();
    let wire = format!("caching:None;disk_name:bosh-data-{UUID}--{time};storage_account_name:{SA}");
    assert_eq!(unmanaged.to_string(), wire);
    assert_eq!(SnapshotCid::parse(&wire, DEFAULT_RG), Ok(unmanaged));
}

#[test]
fn stemcell_cids_tell_their_kind_by_prefix() {
    let heavy = StemcellCid::new_heavy();
    let uuid = uuid_after(heavy.as_str(), "bosh-stemcell-");
    assert!(!heavy.is_light());
    assert_eq!(heavy.blob_name(), format!("bosh-stemcell-{uuid}.vhd"));

    let light = StemcellCid::new_light();
    let uuid = uuid_after(light.as_str(), "bosh-light-stemcell-");
    assert!(light.is_light());
    assert_eq!(light.blob_name(), format!("bosh-light-stemcell-{uuid}.vhd"));

    let parsed: StemcellCid = format!("bosh-light-stemcell-{UUID}").parse().unwrap();
    assert!(parsed.is_light());
    assert_eq!(parsed.to_string(), format!("bosh-light-stemcell-{UUID}"));
    let parsed: StemcellCid = format!("bosh-stemcell-{UUID}").parse().unwrap();
    assert!(!parsed.is_light());

    for bad in ["", "../bosh-stemcell-x", "bosh-stemcell-x?comp=list", "a b"] {
        assert_eq!(
            bad.parse::<StemcellCid>().unwrap_err(),
            cloud(&format!("Invalid stemcell id '{bad}'"))
        );
    }
}

fn caching() -> impl Strategy<Value = Caching> {
    prop::sample::select(Caching::ALL.to_vec())
}

/// What Azure names and agent ids can hold, plus ':' and a few awkward characters; never ';'.
fn id_value() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9:._ \\-\\n]{1,40}"
}

proptest! {
    #[test]
    fn new_vm_cids_round_trip(agent_id in id_value(), rg in id_value(), account in proptest::option::of(id_value())) {
        let vm = match &account {
            Some(account) => VmCid::new_unmanaged(&agent_id, &rg, account),
            None => VmCid::new_managed(&agent_id, &rg),
        }
        .unwrap();
        let wire = vm.to_string();
        let reparsed = VmCid::parse(&wire, "unused-default").unwrap();
        prop_assert_eq!(reparsed.to_string(), wire);
        prop_assert_eq!(reparsed.vm_name(), agent_id.as_str());
        prop_assert_eq!(reparsed.resource_group_name(), rg.as_str());
        prop_assert_eq!(reparsed.storage_account_name(), account.as_deref());
        prop_assert_eq!(reparsed.is_managed(), account.is_none());
    }

    #[test]
    fn new_disk_and_snapshot_cids_round_trip(
        caching in caching(),
        rg in id_value(),
        account in id_value(),
        time in id_value(),
    ) {
        let managed = DiskCid::new_managed(caching, &rg).unwrap();
        let reparsed = DiskCid::parse(&managed.to_string(), "unused-default").unwrap();
        prop_assert_eq!(reparsed.to_string(), managed.to_string());
        prop_assert_eq!(reparsed.caching(), Ok(caching));
        prop_assert_eq!(reparsed.resource_group_name(), rg.as_str());

        let unmanaged = DiskCid::new_unmanaged(caching, &account, &rg).unwrap();
        let reparsed = DiskCid::parse(&unmanaged.to_string(), &rg).unwrap();
        prop_assert_eq!(reparsed.to_string(), unmanaged.to_string());
        prop_assert_eq!(reparsed.storage_account_name(), Ok(account.as_str()));

        let snapshot =
            SnapshotCid::new_unmanaged(caching, unmanaged.disk_name(), &time, &account, &rg)
                .unwrap();
        let reparsed = SnapshotCid::parse(&snapshot.to_string(), &rg).unwrap();
        prop_assert_eq!(reparsed.to_string(), snapshot.to_string());
        // Times without "--" split back exactly.
        if !time.contains("--") && !time.starts_with('-') {
            prop_assert_eq!(
                reparsed.blob_snapshot(),
                Ok((unmanaged.disk_name(), time.as_str()))
            );
        }
    }

    /// Any V2 map (unknown keys included) formats as its sorted `key:value` entries.
    #[test]
    fn v2_vm_cids_keep_every_entry_sorted(
        extra in proptest::collection::btree_map("[a-z_]{1,12}", "[a-zA-Z0-9:\\-]{0,12}", 0..5),
        agent_id in id_value(),
    ) {
        let mut entries: Vec<String> = extra
            .iter()
            .filter(|(key, _)| !matches!(key.as_str(), "agent_id" | "resource_group_name" | "storage_account_name"))
            .map(|(key, value)| format!("{key}:{value}"))
            .collect();
        let only_agent_id = entries.is_empty();
        entries.push(format!("agent_id:{agent_id}"));
        let input = entries.iter().rev().cloned().collect::<Vec<_>>().join(";");
        entries.push("resource_group_name:default".to_string());
        entries.sort();
        let vm = VmCid::parse(&input, "default");
        if only_agent_id {
            // agent_id alone is one entry: a plain id, valid only with V1 shapes.
            prop_assert!(vm.is_err() || vm.unwrap().to_string() == input);
        } else {
            let vm = vm.unwrap();
            prop_assert_eq!(vm.to_string(), entries.join(";"));
        }
    }

    /// Arbitrary input never panics; whatever parses formats to a fixed point.
    #[test]
    fn arbitrary_strings_parse_or_fail_cleanly(input in ".{0,80}", rg in "[a-z]{0,5}") {
        match VmCid::parse(&input, &rg) {
            Ok(vm) => {
                let wire = vm.to_string();
                prop_assert_eq!(VmCid::parse(&wire, &rg).unwrap().to_string(), wire);
            }
            Err(err) => {
                prop_assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
                prop_assert!(!err.message().is_empty());
            }
        }
        match DiskCid::parse(&input, &rg) {
            Ok(disk) => {
                let wire = disk.to_string();
                let reparsed = DiskCid::parse(&wire, &rg).unwrap();
                prop_assert_eq!(reparsed.to_string(), wire);
                // Accessors may fail but never panic.
                let _ = (reparsed.caching(), reparsed.storage_account_name());
                let _ = SnapshotCid::parse(&input, &rg).map(|s| s.blob_snapshot().is_ok());
            }
            Err(err) => {
                prop_assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
                prop_assert!(!err.message().is_empty());
            }
        }
        if let Ok(stemcell) = input.parse::<StemcellCid>() {
            prop_assert_eq!(stemcell.to_string(), input.clone());
            prop_assert!(stemcell.blob_name().ends_with(".vhd"));
        }
    }

    /// Inputs shaped like ids (separators and prefixes mixed) reach the deeper branches.
    #[test]
    fn id_shaped_strings_parse_or_fail_cleanly(
        parts in proptest::collection::vec(
            prop::sample::select(vec![
                "bosh-data-", "bosh-disk-data-", "-", "--", ";", ":", "caching:", "disk_name:",
                "storage_account_name:", "resource_group_name:", "agent_id:", "None", "ReadOnly",
                UUID, "sa", "",
            ]),
            0..8,
        )
    ) {
        let input = parts.concat();
        if let Ok(disk) = DiskCid::parse(&input, "rg") {
            let _ = (disk.caching(), disk.storage_account_name());
            let wire = disk.to_string();
            prop_assert_eq!(DiskCid::parse(&wire, "rg").unwrap().to_string(), wire);
        }
        if let Ok(vm) = VmCid::parse(&input, "rg") {
            let _ = vm.storage_account_name();
            let wire = vm.to_string();
            prop_assert_eq!(VmCid::parse(&wire, "rg").unwrap().to_string(), wire);
        }
    }
}
