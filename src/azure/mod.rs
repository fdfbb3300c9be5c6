//! Azure access: credentials, the one ARM client, and storage (accounts and blobs).
//!
//! # Using it from an action
//!
//! ```ignore
//! use bosh_azure_cpi::azure::{ArmClient, ApiKind, AzureSettings, Deadline, Deleted, PostSafety, ResourcePath};
//!
//! let arm = ArmClient::new(&settings)?;                       // no network until the first call
//! let deadline = Deadline::after(Duration::from_secs(900));  // the action decides
//! let vm = arm.resource_group_path("rg").provider("Microsoft.Compute").child("virtualMachines", "vm-1");
//!
//! let found: Option<Vm> = arm.get(&vm, ApiKind::Compute, deadline).await?;   // None on 404
//! let created: Vm = arm.put(&vm, ApiKind::Compute, &body, deadline).await?;   // waits for the LRO
//! let patched: Disk = arm.patch(&disk, ApiKind::Disks, &changes, deadline).await?;
//! // Read-modify-write: only if unchanged since the GET; Error::PreconditionFailed (412) if not.
//! let vm: Vm = arm.patch_if_match(&vm, ApiKind::Compute, &changes, &etag, deadline).await?;
//! let gone: Deleted = arm.delete(&vm, ApiKind::Compute, deadline).await?;     // NotFound is Ok
//! let _: Option<serde_json::Value> = arm.post(&vm.clone().segment("restart"), ApiKind::Compute,
//!                                            None, PostSafety::Idempotent, deadline).await?;
//! let nics: Vec<Nic> = arm.list(&nics_path, ApiKind::Network, deadline).await?;  // every page
//! let by_id = ResourcePath::parse_id(&nic.id)?;                // ids from Azure, re-escaped
//! ```
//!
//! Errors convert into the Director's error with `?` in actions (`From<Error> for CpiError`);
//! match on [`Error::NotFound`], [`Error::Conflict`], ... first where the action cares.
//!
//! - [`ArmClient`]: builds every URL (escaped segments + the api-version of [`ApiKind`] for the
//!   cloud kind), sends `Authorization`, `User-Agent: BOSH-AZURE-CPI/<v> pid-<guid>`,
//!   `x-ms-client-request-id`, `x-ms-return-client-request-id`; retries 408/429/5xx, connection
//!   errors and the "another operation in progress" conflicts with jittered exponential
//!   backoff, honouring `x-ms-retry-after-ms`, `retry-after-ms` and `Retry-After`; refreshes the
//!   token once on 401; follows `Azure-AsyncOperation`, `Location` and `provisioningState`;
//!   follows `nextLink`. Every wait stops at the caller's [`Deadline`].
//! - [`Error`]: NotFound / Conflict / PreconditionFailed / Throttled / Transient / Terminal / Auth /
//!   Connection / Deadline / Io / Invalid, converted into the Director's CloudError by
//!   `From<Error> for CpiError`.
//! - [`http`]: the one HTTP client (trust roots, extra CA, timeouts) for ARM, tokens and blobs.
//! - `retry`: the one retry loop of ARM requests, blob and token calls through the SDK
//!   (`sdk_retry`, in place of the SDK's own policy), token requests and Put Page: attempts,
//!   the deadline, the delay (`retry_delay`) and the bound on connection failures (3 attempts
//!   of at most 4 s each); each caller only classifies its outcomes.
//! - [`storage::StorageAccounts`]: storage accounts, keys and the lazily resolved default
//!   account as a [`storage::StorageAccess`] for the blob layer.
//! - Logs: every ARM exchange at debug level (target `azure::arm`): method, URL with
//!   non-allow-listed query values redacted, status, duration, `x-ms-request-id`. Bodies only
//!   with `debug_mode`, through the allow-list redactor.

pub(crate) mod arm;
pub(crate) mod auth;
pub(crate) mod compute;
pub mod deadline;
pub(crate) mod error;
pub mod http;
pub(crate) mod network;
pub(crate) mod resources;
pub(crate) mod retry;
pub(crate) mod retry_delay;
pub(crate) mod sdk_retry;
pub mod settings;
pub mod storage;

#[cfg(test)]
mod tests;

pub use arm::{ApiKind, ArmClient, Deleted, PostSafety, ResourcePath};
pub use auth::DISK_AUDIENCE;
pub use deadline::Deadline;
pub use error::{Error, ErrorDetail, Result};
pub use settings::{Authority, AzureSettings, CloudKind, CredentialSettings, Timings};

/// Reads `null` or an absent field as the type's default: ARM sends `"tags": null` and omits
/// empty lists depending on the resource and api-version.
pub(crate) fn null_as_default<'de, D, T>(deserializer: D) -> std::result::Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(deserializer)?.unwrap_or_default())
}
