//! The Azure layer's classified error. Actions match on the variant (a missing resource, a
//! conflict, throttling...), and `From<Error> for CpiError` gives the Director a CloudError
//! carrying Azure's own code and message. No variant ever holds a secret.

use std::fmt;

use crate::error::CpiError;

/// One ARM error detail (`error.details[]`), flattened to what a human needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
}

/// A classified failure of an Azure call. `operation` is e.g. `PUT .../virtualMachines/vm-1`
/// (the ARM path without query: it names resources, never secrets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// 404 (or a 204 where a body was expected).
    #[error("{operation}: not found ({code}: {message})")]
    NotFound {
        operation: String,
        code: String,
        message: String,
    },
    /// 409 that is not (or no longer) worth retrying: name clash, quota, disallowed change.
    #[error("{operation}: conflict {code}: {message}")]
    Conflict {
        operation: String,
        code: String,
        message: String,
    },
    /// 412: the resource changed since the `If-Match` ETag was read (another writer won).
    #[error("{operation}: the resource changed since it was read ({code}: {message})")]
    PreconditionFailed {
        operation: String,
        code: String,
        message: String,
    },
    /// Still throttled (429) after every allowed retry.
    #[error("{operation}: throttled by Azure after {attempts} attempts ({code}: {message})")]
    Throttled {
        operation: String,
        attempts: u32,
        code: String,
        message: String,
    },
    /// Still failing with a transient status or connection error after every allowed retry.
    #[error("{operation}: transient failure after {attempts} attempts: {message}")]
    Transient {
        operation: String,
        attempts: u32,
        message: String,
    },
    /// Azure refused the request for good (4xx other than the above), or a long-running
    /// operation ended Failed/Canceled.
    #[error("{operation}: {code}: {message}{}", format_details(details))]
    Terminal {
        operation: String,
        status: u16,
        code: String,
        message: String,
        details: Vec<ErrorDetail>,
    },
    /// Authentication or authorization failed; `hint` says which setting or role to fix.
    #[error("{operation}: authentication failed: {hint}")]
    Auth { operation: String, hint: String },
    /// No connection to an Azure endpoint on any attempt (refused, timed out, DNS, an
    /// untrusted certificate): `during` names the request, `method` the CPI method being
    /// served, when known.
    #[error("{}{during}: {cause}", method_prefix(*method))]
    Connection {
        method: Option<&'static str>,
        during: String,
        cause: super::http::ConnectFailure,
    },
    /// The caller's deadline passed before the operation finished.
    #[error("deadline exceeded while waiting for {waiting_for}")]
    Deadline { waiting_for: String },
    /// A local file could not be read (certificate, CA bundle).
    #[error("{0}")]
    Io(String),
    /// Bad settings, a malformed Azure answer, or a request the layer refuses to send.
    #[error("{0}")]
    Invalid(String),
}

fn method_prefix(method: Option<&'static str>) -> String {
    method
        .map(|m| format!("CPI method {m}: "))
        .unwrap_or_default()
}

fn format_details(details: &[ErrorDetail]) -> String {
    if details.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = details
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    format!(" (details: {})", joined.join("; "))
}

impl Error {
    /// True for a missing resource: actions turn it into VMNotFound, DiskNotFound, ...
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }

    /// True when an `If-Match` precondition failed: read the resource again and recompute.
    pub(crate) fn is_precondition_failed(&self) -> bool {
        matches!(self, Self::PreconditionFailed { .. })
    }

    /// Azure's error code, when Azure answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::NotFound { code, .. }
            | Self::Conflict { code, .. }
            | Self::PreconditionFailed { code, .. }
            | Self::Throttled { code, .. }
            | Self::Terminal { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<Error> for CpiError {
    fn from(err: Error) -> Self {
        CpiError::cloud(err.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for ErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_error_reaches_the_director_with_azure_code_message_and_details() {
        let err = Error::Terminal {
            operation: "PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm".into(),
            status: 409,
            code: "OperationNotAllowed".into(),
            message: "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.".into(),
            details: vec![ErrorDetail {
                code: "QuotaExceeded".into(),
                message: "Total Regional Cores".into(),
            }],
        };
        let cpi: CpiError = err.into();
        assert_eq!(cpi.wire_type(), "Bosh::Clouds::CloudError");
        assert!(
            cpi.message()
                .contains("OperationNotAllowed: Operation could not")
        );
        assert!(
            cpi.message()
                .contains("details: QuotaExceeded: Total Regional Cores")
        );
        assert!(cpi.message().contains("virtualMachines/vm"));
    }

    #[test]
    fn deadline_names_what_was_awaited() {
        let err = Error::Deadline {
            waiting_for: "PUT virtualMachines/vm-1 (status InProgress)".into(),
        };
        assert_eq!(
            err.to_string(),
            "deadline exceeded while waiting for PUT virtualMachines/vm-1 (status InProgress)"
        );
    }
}
