//! The CPI methods: one table ([`Method`]) that gives each method its wire name, its default
//! timeout and its telemetry operation, and the call as decoded from the wire ([`Call`]).
//!
//! This module imports nothing of the crate: `rpc` decodes into it, `actions` dispatches on it,
//! `config` reads its timeouts and `telemetry` its operation names, and none of those need to
//! know each other for it.

use std::time::Duration;

use serde_json::{Map, Value};

pub(crate) type Hash = Map<String, Value>;

/// Every method the Director or bosh-cli may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Method {
    Info,
    CreateStemcell,
    DeleteStemcell,
    CreateVm,
    DeleteVm,
    HasVm,
    RebootVm,
    SetVmMetadata,
    CalculateVmCloudProperties,
    CreateDisk,
    DeleteDisk,
    HasDisk,
    AttachDisk,
    DetachDisk,
    GetDisks,
    ResizeDisk,
    UpdateDisk,
    SetDiskMetadata,
    SnapshotDisk,
    DeleteSnapshot,
    /// Answered with NotImplemented (vSphere-only or no caller).
    Ping,
    CreateNetwork,
    DeleteNetwork,
    /// v1 leftovers, answered with NotSupported.
    ConfigureNetworks,
    CurrentVmId,
}

/// One row of the method table.
struct Row {
    wire_name: &'static str,
    /// The default of `azure.method_timeouts.<method>`; `None` for the methods answered without
    /// Azure, which have no deadline and no such setting.
    timeout_minutes: Option<u64>,
    /// The operation the Ruby CPI reports; `None` for the methods it does not report.
    telemetry: Option<&'static str>,
}

const fn row(
    wire_name: &'static str,
    timeout_minutes: Option<u64>,
    telemetry: Option<&'static str>,
) -> Row {
    Row {
        wire_name,
        timeout_minutes,
        telemetry,
    }
}

impl Method {
    /// In declaration order (checked below), which is also the order in which the
    /// configuration's `azure.method_timeouts` are read.
    pub(crate) const ALL: [Self; 25] = [
        Self::Info,
        Self::CreateStemcell,
        Self::DeleteStemcell,
        Self::CreateVm,
        Self::DeleteVm,
        Self::HasVm,
        Self::RebootVm,
        Self::SetVmMetadata,
        Self::CalculateVmCloudProperties,
        Self::CreateDisk,
        Self::DeleteDisk,
        Self::HasDisk,
        Self::AttachDisk,
        Self::DetachDisk,
        Self::GetDisks,
        Self::ResizeDisk,
        Self::UpdateDisk,
        Self::SetDiskMetadata,
        Self::SnapshotDisk,
        Self::DeleteSnapshot,
        Self::Ping,
        Self::CreateNetwork,
        Self::DeleteNetwork,
        Self::ConfigureNetworks,
        Self::CurrentVmId,
    ];

    /// The table. Timeouts: the Director puts no bound on a CPI call, so the CPI bounds
    /// itself; create_stemcell covers upload plus gallery replication (about 10 minutes per
    /// version in Azure).
    const fn row(self) -> Row {
        match self {
            Self::Info => row("info", None, Some("info")),
            Self::CreateStemcell => row("create_stemcell", Some(180), Some("create_stemcell")),
            Self::DeleteStemcell => row("delete_stemcell", Some(30), Some("delete_stemcell")),
            Self::CreateVm => row("create_vm", Some(60), Some("create_vm")),
            Self::DeleteVm => row("delete_vm", Some(30), Some("delete_vm")),
            Self::HasVm => row("has_vm", Some(10), Some("has_vm?")),
            Self::RebootVm => row("reboot_vm", Some(10), Some("reboot_vm")),
            Self::SetVmMetadata => row("set_vm_metadata", Some(10), Some("set_vm_metadata")),
            Self::SetDiskMetadata => row("set_disk_metadata", Some(10), None),
            Self::CreateDisk => row("create_disk", Some(30), Some("create_disk")),
            Self::DeleteDisk => row("delete_disk", Some(30), Some("delete_disk")),
            Self::HasDisk => row("has_disk", Some(10), Some("has_disk?")),
            Self::AttachDisk => row("attach_disk", Some(30), Some("attach_disk")),
            Self::DetachDisk => row("detach_disk", Some(30), Some("detach_disk")),
            Self::GetDisks => row("get_disks", Some(10), Some("get_disks")),
            Self::ResizeDisk => row("resize_disk", Some(30), Some("resize_disk")),
            Self::UpdateDisk => row("update_disk", Some(30), Some("update_disk")),
            Self::SnapshotDisk => row("snapshot_disk", Some(30), Some("snapshot_disk")),
            Self::DeleteSnapshot => row("delete_snapshot", Some(30), Some("delete_snapshot")),
            Self::CalculateVmCloudProperties => row(
                "calculate_vm_cloud_properties",
                Some(10),
                Some("calculate_vm_cloud_properties"),
            ),
            Self::Ping => row("ping", None, None),
            Self::CreateNetwork => row("create_network", None, None),
            Self::DeleteNetwork => row("delete_network", None, None),
            Self::ConfigureNetworks => row("configure_networks", None, None),
            Self::CurrentVmId => row("current_vm_id", None, None),
        }
    }

    pub(crate) fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|method| method.wire_name() == name)
    }

    pub(crate) const fn wire_name(self) -> &'static str {
        self.row().wire_name
    }

    /// How long a call may take unless `azure.method_timeouts.<method>` says otherwise; `None`
    /// for the methods answered without Azure.
    pub(crate) const fn default_timeout(self) -> Option<Duration> {
        match self.row().timeout_minutes {
            Some(minutes) => Some(Duration::from_secs(minutes * 60)),
            None => None,
        }
    }

    /// The operation name of the telemetry event, spelled as the Ruby CPI spells it.
    pub(crate) const fn telemetry_operation(self) -> Option<&'static str> {
        self.row().telemetry
    }
}

// `ALL` in declaration order: a variant left out of it shifts the ones after it and fails the
// build here (one appended last is never decoded, which its first contract test shows).
const _: () = {
    let mut i = 0;
    while i < Method::ALL.len() {
        assert!(Method::ALL[i] as usize == i, "Method::ALL is out of order");
        i += 1;
    }
};

/// Which result shapes the caller expects (the request's `api_version`, 1 when absent). The request's version, not the
/// stemcell's, chooses the v1 or v2 shapes of `create_vm` and `attach_disk`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum ApiVersion {
    V1,
    V2,
    /// 3 and above: v2 shapes plus the optional third `create_stemcell` argument.
    V3,
}

impl ApiVersion {
    pub(crate) fn number(self) -> u8 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
            Self::V3 => 3,
        }
    }
}

/// A call with its positional arguments checked and named; CIDs and cloud_properties stay as
/// the Director sent them, because reading them needs the configuration (the default resource
/// group, the cloud), which is loaded only once the request is known to be well formed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Call {
    Info,
    CreateStemcell {
        image_path: String,
        cloud_properties: Hash,
        /// v3 only: `{"tags": {...}}`.
        env: Option<Hash>,
    },
    DeleteStemcell {
        stemcell_cid: String,
    },
    CreateVm {
        agent_id: String,
        stemcell_cid: String,
        cloud_properties: Hash,
        networks: Hash,
        disk_cids: Vec<String>,
        env: Hash,
    },
    DeleteVm {
        vm_cid: String,
    },
    HasVm {
        vm_cid: String,
    },
    RebootVm {
        vm_cid: String,
    },
    SetVmMetadata {
        vm_cid: String,
        metadata: Hash,
    },
    SetDiskMetadata {
        disk_cid: String,
        metadata: Hash,
    },
    CreateDisk {
        size_mib: u64,
        cloud_properties: Hash,
        /// The Director sends null when the instance has no VM yet.
        vm_cid: Option<String>,
    },
    DeleteDisk {
        disk_cid: String,
    },
    HasDisk {
        disk_cid: String,
    },
    AttachDisk {
        vm_cid: String,
        disk_cid: String,
    },
    DetachDisk {
        vm_cid: String,
        disk_cid: String,
    },
    GetDisks {
        vm_cid: String,
    },
    ResizeDisk {
        disk_cid: String,
        new_size_mib: u64,
    },
    UpdateDisk {
        disk_cid: String,
        new_size_mib: u64,
        cloud_properties: Hash,
    },
    SnapshotDisk {
        disk_cid: String,
        metadata: Hash,
    },
    DeleteSnapshot {
        snapshot_cid: String,
    },
    CalculateVmCloudProperties {
        desired: Hash,
    },
    Ping,
    CreateNetwork,
    DeleteNetwork,
    ConfigureNetworks,
    CurrentVmId,
}

impl Call {
    pub(crate) fn method(&self) -> Method {
        match self {
            Self::Info => Method::Info,
            Self::CreateStemcell { .. } => Method::CreateStemcell,
            Self::DeleteStemcell { .. } => Method::DeleteStemcell,
            Self::CreateVm { .. } => Method::CreateVm,
            Self::DeleteVm { .. } => Method::DeleteVm,
            Self::HasVm { .. } => Method::HasVm,
            Self::RebootVm { .. } => Method::RebootVm,
            Self::SetVmMetadata { .. } => Method::SetVmMetadata,
            Self::SetDiskMetadata { .. } => Method::SetDiskMetadata,
            Self::CreateDisk { .. } => Method::CreateDisk,
            Self::DeleteDisk { .. } => Method::DeleteDisk,
            Self::HasDisk { .. } => Method::HasDisk,
            Self::AttachDisk { .. } => Method::AttachDisk,
            Self::DetachDisk { .. } => Method::DetachDisk,
            Self::GetDisks { .. } => Method::GetDisks,
            Self::ResizeDisk { .. } => Method::ResizeDisk,
            Self::UpdateDisk { .. } => Method::UpdateDisk,
            Self::SnapshotDisk { .. } => Method::SnapshotDisk,
            Self::DeleteSnapshot { .. } => Method::DeleteSnapshot,
            Self::CalculateVmCloudProperties { .. } => Method::CalculateVmCloudProperties,
            Self::Ping => Method::Ping,
            Self::CreateNetwork => Method::CreateNetwork,
            Self::DeleteNetwork => Method::DeleteNetwork,
            Self::ConfigureNetworks => Method::ConfigureNetworks,
            Self::CurrentVmId => Method::CurrentVmId,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_is_listed_once_and_found_by_its_wire_name() {
        for (i, method) in Method::ALL.into_iter().enumerate() {
            assert_eq!(Method::from_wire_name(method.wire_name()), Some(method));
            assert!(!Method::ALL[..i].contains(&method), "{method:?} twice");
        }
        assert_eq!(Method::from_wire_name("frobnicate"), None);
    }

    #[test]
    fn timeouts_and_telemetry_names_follow_the_table() {
        assert_eq!(
            Method::CreateStemcell.default_timeout(),
            Some(Duration::from_secs(3 * 60 * 60))
        );
        assert_eq!(
            Method::HasVm.default_timeout(),
            Some(Duration::from_secs(600))
        );
        assert_eq!(Method::Info.default_timeout(), None);
        assert_eq!(Method::HasDisk.telemetry_operation(), Some("has_disk?"));
        assert_eq!(Method::SetDiskMetadata.telemetry_operation(), None);
    }
}
