//! The one error type every CPI method returns, and its BOSH wire identity.
//!
//! Only the ten type strings the Director knows are ever emitted: any other string makes the
//! Director raise `ExternalCpi::UnknownError` and lose the semantics.

use std::fmt;

/// A CPI failure that knows the wire `type` string and `ok_to_retry` flag BOSH expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpiError {
    /// `Bosh::Clouds::CloudError`: an IaaS or unexpected failure.
    Cloud(String),
    /// `Bosh::Clouds::CpiError`: the request itself is malformed.
    Cpi(String),
    /// `Bosh::Clouds::NotImplemented`: the Director tolerates it for optional methods.
    NotImplemented(String),
    /// `Bosh::Clouds::NotSupported`: e.g. resize_disk falls back to a disk copy.
    NotSupported(String),
    /// `Bosh::Clouds::VMNotFound`: swallowed by delete_vm.
    VmNotFound(String),
    /// `Bosh::Clouds::NetworkNotFound`.
    NetworkNotFound(String),
    /// `Bosh::Clouds::NoDiskSpace` (retriable class).
    NoDiskSpace { message: String, ok_to_retry: bool },
    /// `Bosh::Clouds::DiskNotAttached` (retriable class): swallowed by detach steps.
    DiskNotAttached { message: String, ok_to_retry: bool },
    /// `Bosh::Clouds::DiskNotFound` (retriable class): swallowed by orphan-disk deletion.
    DiskNotFound { message: String, ok_to_retry: bool },
    /// `Bosh::Clouds::VMCreationFailed` (retriable class): the Director retries create_vm.
    VmCreationFailed { message: String, ok_to_retry: bool },
}

impl CpiError {
    pub fn cloud(message: impl Into<String>) -> Self {
        Self::Cloud(message.into())
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::Cpi(message.into())
    }

    pub(crate) fn not_implemented(message: impl Into<String>) -> Self {
        Self::NotImplemented(message.into())
    }

    pub(crate) fn not_supported(message: impl Into<String>) -> Self {
        Self::NotSupported(message.into())
    }

    pub(crate) fn vm_creation_failed(message: impl Into<String>, ok_to_retry: bool) -> Self {
        Self::VmCreationFailed {
            message: message.into(),
            ok_to_retry,
        }
    }

    /// The exact type string the Director maps to an error class.
    pub(crate) fn wire_type(&self) -> &'static str {
        match self {
            Self::Cloud(_) => "Bosh::Clouds::CloudError",
            Self::Cpi(_) => "Bosh::Clouds::CpiError",
            Self::NotImplemented(_) => "Bosh::Clouds::NotImplemented",
            Self::NotSupported(_) => "Bosh::Clouds::NotSupported",
            Self::VmNotFound(_) => "Bosh::Clouds::VMNotFound",
            Self::NetworkNotFound(_) => "Bosh::Clouds::NetworkNotFound",
            Self::NoDiskSpace { .. } => "Bosh::Clouds::NoDiskSpace",
            Self::DiskNotAttached { .. } => "Bosh::Clouds::DiskNotAttached",
            Self::DiskNotFound { .. } => "Bosh::Clouds::DiskNotFound",
            Self::VmCreationFailed { .. } => "Bosh::Clouds::VMCreationFailed",
        }
    }

    /// Only the RetriableCloudError subclasses carry a meaningful flag; the rest answer false.
    pub(crate) fn ok_to_retry(&self) -> bool {
        match self {
            Self::NoDiskSpace { ok_to_retry, .. }
            | Self::DiskNotAttached { ok_to_retry, .. }
            | Self::DiskNotFound { ok_to_retry, .. }
            | Self::VmCreationFailed { ok_to_retry, .. } => *ok_to_retry,
            _ => false,
        }
    }

    pub(crate) fn message(&self) -> &str {
        match self {
            Self::Cloud(m)
            | Self::Cpi(m)
            | Self::NotImplemented(m)
            | Self::NotSupported(m)
            | Self::VmNotFound(m)
            | Self::NetworkNotFound(m) => m,
            Self::NoDiskSpace { message, .. }
            | Self::DiskNotAttached { message, .. }
            | Self::DiskNotFound { message, .. }
            | Self::VmCreationFailed { message, .. } => message,
        }
    }
}

impl fmt::Display for CpiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.wire_type(), self.message())
    }
}

impl std::error::Error for CpiError {}

pub(crate) type CpiResult<T> = Result<T, CpiError>;

/// Every wire type string the Director knows (`ExternalCpi::KNOWN_RPC_ERRORS`).
#[cfg(test)]
pub(crate) const KNOWN_WIRE_TYPES: [&str; 10] = [
    "Bosh::Clouds::CloudError",
    "Bosh::Clouds::CpiError",
    "Bosh::Clouds::NotImplemented",
    "Bosh::Clouds::NotSupported",
    "Bosh::Clouds::VMNotFound",
    "Bosh::Clouds::NetworkNotFound",
    "Bosh::Clouds::NoDiskSpace",
    "Bosh::Clouds::DiskNotAttached",
    "Bosh::Clouds::DiskNotFound",
    "Bosh::Clouds::VMCreationFailed",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_variant_maps_to_a_known_wire_type() {
        let all = [
            CpiError::Cloud(String::new()),
            CpiError::Cpi(String::new()),
            CpiError::NotImplemented(String::new()),
            CpiError::NotSupported(String::new()),
            CpiError::VmNotFound(String::new()),
            CpiError::NetworkNotFound(String::new()),
            CpiError::NoDiskSpace {
                message: String::new(),
                ok_to_retry: true,
            },
            CpiError::DiskNotAttached {
                message: String::new(),
                ok_to_retry: true,
            },
            CpiError::DiskNotFound {
                message: String::new(),
                ok_to_retry: true,
            },
            CpiError::VmCreationFailed {
                message: String::new(),
                ok_to_retry: true,
            },
        ];
        let mut seen: Vec<&str> = all.iter().map(CpiError::wire_type).collect();
        seen.sort();
        let mut known = KNOWN_WIRE_TYPES.to_vec();
        known.sort();
        assert_eq!(seen, known);
    }

    #[test]
    fn only_retriable_classes_carry_ok_to_retry() {
        assert!(!CpiError::cloud("x").ok_to_retry());
        assert!(CpiError::vm_creation_failed("x", true).ok_to_retry());
        assert!(!CpiError::vm_creation_failed("x", false).ok_to_retry());
    }
}
