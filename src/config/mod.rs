//! `cpi.json` as the job template renders it (docs/ruby-compatibility.md, Release and
//! configuration), merged with the request context on every call, validated with messages that
//! name the key.

mod environment;
mod names;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use azure_core::credentials::Secret;

use serde_json::{Map, Value};

pub(crate) use environment::{AzureStackConfig, EndpointOverrides, Endpoints, Environment};

use crate::azure::compute::gallery::{DefinitionSecurityType, ReplicaStorageType, ReplicationMode};
use crate::azure::settings::{
    AzureSettings, CloudKind, CredentialSettings, DEFAULT_ISV_TRACKING_GUID, StorageAuthentication,
    Timings, azure_stack_ca_cert_path, service_principal_certificate_path,
};
use crate::call::Method;
use crate::error::{CpiError, CpiResult};
use crate::fields::Fields;
use crate::props::{ManagedIdentity, SecurityGroup};

#[derive(Debug, Clone, PartialEq)]
pub enum Credentials {
    /// A service principal: with a client secret, or else with the certificate file the job
    /// writes from `azure.certificate`.
    ServicePrincipal {
        tenant_id: String,
        client_id: String,
        secret: Option<Secret>,
        certificate_path: PathBuf,
    },
    /// The VM's managed identity; `resource_id` picks a user-assigned one.
    ManagedIdentity { resource_id: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct AzureConfig {
    pub environment: Environment,
    pub endpoints: Endpoints,
    pub subscription_id: String,
    pub resource_group_name: String,
    pub location: Option<String>,
    pub credentials: Credentials,
    pub default_managed_identity: Option<ManagedIdentity>,
    pub use_managed_disks: bool,
    pub storage_account_name: Option<String>,
    pub default_security_group: Option<SecurityGroup>,
    pub enable_vm_boot_diagnostics: bool,
    pub debug_mode: bool,
    pub keep_failed_vms: bool,
    pub enable_telemetry: bool,
    pub isv_tracking_guid: String,
    pub pip_idle_timeout_in_minutes: u64,
    pub parallel_upload_thread_num: usize,
    /// Extension: zero gaps of at most this many bytes are uploaded with the data around
    /// them (fewer Put Page calls); 0 writes non-zero pages only; unset: the uploader's
    /// balanced plan.
    pub stemcell_upload_max_zero_gap_bytes: Option<u64>,
    pub ssh_user: String,
    pub ssh_public_key: Option<String>,
    pub use_default_account_for_cleaning: bool,
    pub compute_gallery_name: Option<String>,
    pub compute_gallery_replicas: u64,
    /// Extension: `Shallow` or `Full` replication of new versions; unset sends nothing (Full).
    pub compute_gallery_replication_mode: Option<ReplicationMode>,
    /// Extension: the replicas' storage; unset sends nothing (Azure's Standard_LRS).
    pub compute_gallery_storage_account_type: Option<ReplicaStorageType>,
    /// Extension: regions a new version is replicated to besides `location`.
    pub compute_gallery_target_regions: Vec<String>,
    /// Extension: the `SecurityType` feature of new gen2 definitions, instead of the
    /// stemcell's `security_type`.
    pub compute_gallery_security_type: Option<DefinitionSecurityType>,
    /// Extension: how blob requests authenticate (Shared Key or Entra ID).
    pub storage_authentication: StorageAuthentication,
    /// Per-method overrides of how long a CPI call may take (`azure.method_timeouts`).
    pub method_timeouts: BTreeMap<Method, Duration>,
    /// From the context (`vm.stemcell.api_version`); 2 when the caller does not say.
    pub stemcell_api_version: u64,
    pub azure_stack: Option<AzureStackConfig>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub azure: AzureConfig,
    /// The `agent` section, merged verbatim into the agent settings (`mbus`, `ntp`, ...).
    pub agent: Map<String, Value>,
}

impl Config {
    /// Reads `cpi.json` (YAML in the Ruby CPI; the template renders JSON) and merges the
    /// request context into `cloud.properties.azure`, context keys winning.
    pub fn load(path: &Path, context: &Map<String, Value>) -> CpiResult<Self> {
        let text = std::fs::read(path).map_err(|e| {
            CpiError::cloud(format!(
                "Cannot read the CPI configuration file '{}': {e}",
                path.display()
            ))
        })?;
        let root: Value = serde_json::from_slice(&text).map_err(|e| {
            CpiError::cloud(format!(
                "The CPI configuration file '{}' is not valid JSON: {e}",
                path.display()
            ))
        })?;
        Self::from_json(root, context)
    }

    pub(crate) fn from_json(root: Value, context: &Map<String, Value>) -> CpiResult<Self> {
        let missing = || CpiError::cloud("Could not find cloud properties in the configuration");
        let Value::Object(mut root) = root else {
            return Err(missing());
        };
        let Some(Value::Object(mut cloud)) = root.remove("cloud") else {
            return Err(missing());
        };
        let Some(Value::Object(mut properties)) = cloud.remove("properties") else {
            return Err(missing());
        };
        let mut azure = match properties.remove("azure") {
            Some(Value::Object(azure)) => azure,
            None | Some(Value::Null) => Map::new(),
            Some(_) => {
                return Err(CpiError::cloud(
                    "'azure' in the CPI configuration must be an object",
                ));
            }
        };
        // The Ruby CPI merges the whole context shallowly: cpi-config properties override
        // cpi.json for that call; director_uuid, request_id and vm land there harmlessly.
        for (key, value) in context {
            azure.insert(key.clone(), value.clone());
        }
        let agent = match properties.remove("agent") {
            Some(Value::Object(agent)) => agent,
            None | Some(Value::Null) => Map::new(),
            Some(_) => {
                return Err(CpiError::cloud(
                    "'agent' in the CPI configuration must be an object",
                ));
            }
        };
        Ok(Self {
            azure: AzureConfig::parse(&Fields::at(&Value::Object(azure), OWNER, "azure")?)?,
            agent,
        })
    }
}

impl AzureConfig {
    fn parse(f: &Fields) -> CpiResult<Self> {
        let environment = match optional(f, "environment")? {
            Some(name) => Environment::parse(&name)?,
            None => Environment::AzureCloud,
        };
        let azure_stack = if environment == Environment::AzureStack {
            let stack = f.object("azure_stack")?.ok_or_else(|| {
                CpiError::cloud("azure_stack should be there if environment is AzureStack.")
            })?;
            Some(AzureStackConfig {
                domain: optional(&stack, "domain")?
                    .unwrap_or_else(|| "local.azurestack.external".to_owned()),
                authentication: optional(&stack, "authentication")?
                    .unwrap_or_else(|| "AzureAD".to_owned()),
                resource: required(&stack, "resource")?,
                endpoint_prefix: optional(&stack, "endpoint_prefix")?
                    .unwrap_or_else(|| "management".to_owned()),
            })
        } else {
            None
        };
        let overrides = match f.object("endpoints")? {
            Some(e) => EndpointOverrides {
                resource_manager: optional(&e, "resource_manager")?,
                active_directory: optional(&e, "active_directory")?,
                token_audience: optional(&e, "token_audience")?,
                managed_identity: optional(&e, "managed_identity")?,
                ca_cert: optional(&e, "ca_cert")?,
                wire_server: optional(&e, "wire_server")?,
            },
            None => EndpointOverrides::default(),
        };
        let stack_ca = if environment == Environment::AzureStack {
            std::fs::read_to_string(azure_stack_ca_cert_path())
                .ok()
                .filter(|pem| !pem.trim().is_empty())
        } else {
            None
        };
        let endpoints =
            Endpoints::resolve(environment, azure_stack.as_ref(), &overrides, stack_ca)?;

        let credentials = match optional(f, "credentials_source")?.as_deref() {
            None | Some("static") => Credentials::ServicePrincipal {
                tenant_id: required(f, "tenant_id")?,
                client_id: required(f, "client_id")?,
                secret: optional(f, "client_secret")?.map(Secret::new),
                certificate_path: service_principal_certificate_path(),
            },
            Some("managed_identity") => Credentials::ManagedIdentity {
                resource_id: optional(f, "managed_identity_resource_id")?,
            },
            Some(other) => {
                return Err(CpiError::cloud(format!(
                    "Invalid value for 'azure.credentials_source': '{other}'. Valid values are static, managed_identity"
                )));
            }
        };

        let default_managed_identity = f
            .get("default_managed_identity")
            .map(|value| {
                ManagedIdentity::from_value(value, OWNER, &f.path("default_managed_identity"))
            })
            .transpose()?;
        let default_security_group = match f.get("default_security_group") {
            Some(Value::String(name)) if name.is_empty() => None,
            Some(value) => {
                SecurityGroup::from_value(value, OWNER, &f.path("default_security_group"))?
            }
            None => None,
        };

        let isv_tracking_guid = optional(f, "isv_tracking_guid")?
            .unwrap_or_else(|| DEFAULT_ISV_TRACKING_GUID.to_owned());
        if isv_tracking_guid.len() != 36 {
            return Err(CpiError::cloud(
                "Invalid value for 'azure.isv_tracking_guid': the length must be 36",
            ));
        }
        let parallel_upload_thread_num = count(f, "parallel_upload_thread_num")?.unwrap_or(16);
        let stemcell_upload_max_zero_gap_bytes = zero_gap(f, "stemcell_upload_max_zero_gap_bytes")?;
        let compute_gallery_replicas = count(f, "compute_gallery_replicas")?.unwrap_or(3);
        if compute_gallery_replicas > MAX_GALLERY_REPLICAS {
            return Err(CpiError::cloud(format!(
                "Invalid value for '{}': {compute_gallery_replicas} replicas, Azure allows at most {MAX_GALLERY_REPLICAS}",
                f.path("compute_gallery_replicas")
            )));
        }
        let compute_gallery_replication_mode = one_of(
            f,
            "compute_gallery_replication_mode",
            ReplicationMode::parse,
            &ReplicationMode::VALUES,
        )?;
        let compute_gallery_storage_account_type = one_of(
            f,
            "compute_gallery_storage_account_type",
            ReplicaStorageType::parse,
            &ReplicaStorageType::VALUES,
        )?;
        let compute_gallery_security_type = one_of(
            f,
            "compute_gallery_security_type",
            DefinitionSecurityType::parse,
            &DefinitionSecurityType::VALUES,
        )?;
        let compute_gallery_target_regions = region_list(f, "compute_gallery_target_regions")?;
        if compute_gallery_replication_mode == Some(ReplicationMode::Shallow)
            && !compute_gallery_target_regions.is_empty()
        {
            return Err(CpiError::cloud(format!(
                "Invalid combination: '{}' is Shallow, which keeps a version in its own region, so '{}' must be empty",
                f.path("compute_gallery_replication_mode"),
                f.path("compute_gallery_target_regions")
            )));
        }
        let storage_authentication = one_of(
            f,
            "storage_authentication",
            StorageAuthentication::parse,
            &StorageAuthentication::VALUES,
        )?
        .unwrap_or_default();
        if storage_authentication == StorageAuthentication::EntraId
            && environment == Environment::AzureStack
        {
            return Err(CpiError::cloud(format!(
                "Invalid value for '{}': entra_id is not available on Azure Stack Hub, whose storage accepts only Shared Key and SAS; use auto or shared_key",
                f.path("storage_authentication")
            )));
        }
        let stemcell_api_version = f
            .object("vm")?
            .map(|vm| vm.object("stemcell"))
            .transpose()?
            .flatten()
            .map(|stemcell| stemcell.u64("api_version"))
            .transpose()?
            .flatten()
            .unwrap_or(2);

        let mut method_timeouts = BTreeMap::new();
        if let Some(timeouts) = f.object("method_timeouts")? {
            // Only the methods that reach Azure have a timeout to set.
            for method in Method::ALL {
                if method.default_timeout().is_some()
                    && let Some(seconds) = count(&timeouts, method.wire_name())?
                {
                    method_timeouts.insert(method, Duration::from_secs(seconds));
                }
            }
        }

        Ok(Self {
            environment,
            endpoints,
            method_timeouts,
            subscription_id: required(f, "subscription_id")?,
            resource_group_name: required(f, "resource_group_name")?,
            location: optional(f, "location")?,
            credentials,
            default_managed_identity,
            use_managed_disks: f.bool("use_managed_disks")?.unwrap_or(false),
            storage_account_name: optional(f, "storage_account_name")?,
            default_security_group,
            enable_vm_boot_diagnostics: f.bool("enable_vm_boot_diagnostics")?.unwrap_or(false),
            debug_mode: f.bool("debug_mode")?.unwrap_or(false),
            keep_failed_vms: f.bool("keep_failed_vms")?.unwrap_or(false),
            enable_telemetry: f.bool("enable_telemetry")?.unwrap_or(false),
            isv_tracking_guid,
            pip_idle_timeout_in_minutes: f.u64("pip_idle_timeout_in_minutes")?.unwrap_or(4),
            parallel_upload_thread_num: usize::try_from(parallel_upload_thread_num)
                .unwrap_or(usize::MAX),
            stemcell_upload_max_zero_gap_bytes,
            ssh_user: optional(f, "ssh_user")?.unwrap_or_else(|| "vcap".to_owned()),
            ssh_public_key: optional(f, "ssh_public_key")?,
            use_default_account_for_cleaning: f
                .bool("use_default_account_for_cleaning")?
                .unwrap_or(false),
            compute_gallery_name: optional(f, "compute_gallery_name")?,
            compute_gallery_replicas,
            compute_gallery_replication_mode,
            compute_gallery_storage_account_type,
            compute_gallery_target_regions,
            compute_gallery_security_type,
            storage_authentication,
            stemcell_api_version,
            azure_stack,
        })
    }

    /// What the Azure access layer needs to authenticate and reach ARM.
    pub fn azure_settings(&self) -> AzureSettings {
        let (tenant_id, credential) = match &self.credentials {
            Credentials::ServicePrincipal {
                tenant_id,
                client_id,
                secret: Some(secret),
                ..
            } => (
                tenant_id.clone(),
                CredentialSettings::ClientSecret {
                    client_id: client_id.clone(),
                    secret: secret.clone(),
                },
            ),
            Credentials::ServicePrincipal {
                tenant_id,
                client_id,
                secret: None,
                certificate_path,
            } => (
                tenant_id.clone(),
                CredentialSettings::Certificate {
                    client_id: client_id.clone(),
                    pem_path: certificate_path.clone(),
                },
            ),
            Credentials::ManagedIdentity { resource_id } => (
                String::new(),
                CredentialSettings::ManagedIdentity {
                    resource_id: resource_id.clone(),
                    endpoint: self.endpoints.managed_identity.clone(),
                },
            ),
        };
        let extra_ca_certs = &self.endpoints.extra_ca_certs;
        AzureSettings {
            cloud: if self.is_azure_stack() {
                CloudKind::Stack
            } else {
                CloudKind::Public
            },
            resource_manager_url: self.endpoints.resource_manager.clone(),
            authority: self.endpoints.authority.clone(),
            token_audience: self.endpoints.token_audience.clone(),
            tenant_id,
            subscription_id: self.subscription_id.clone(),
            credential,
            extra_ca_pem: (!extra_ca_certs.is_empty()).then(|| extra_ca_certs.join("\n")),
            isv_tracking_guid: self.isv_tracking_guid.clone(),
            debug_mode: self.debug_mode,
            timings: Timings::default(),
            cpi_method: None,
            method_deadline: None,
            storage_authentication: self.storage_authentication,
            storage_audience: self.endpoints.storage_audience.clone(),
            disk_audience: self.endpoints.disk_audience.clone(),
        }
    }

    /// How long a CPI call may take before it stops waiting and reports what it waited for:
    /// `azure.method_timeouts.<method>`, else the method's default; `None` for the methods
    /// answered without Azure.
    pub(crate) fn method_timeout(&self, method: Method) -> Option<Duration> {
        self.method_timeouts
            .get(&method)
            .copied()
            .or(method.default_timeout())
    }

    pub(crate) fn is_azure_stack(&self) -> bool {
        self.environment == Environment::AzureStack
    }
}

const OWNER: &str = "CPI configuration";

/// A string setting; empty counts as unset, as the template omits unset properties.
fn optional(f: &Fields, key: &str) -> CpiResult<Option<String>> {
    Ok(f.string(key)?.filter(|s| !s.is_empty()))
}

fn required(f: &Fields, key: &str) -> CpiResult<String> {
    optional(f, key)?.ok_or_else(|| {
        CpiError::cloud(format!(
            "Missing required property '{}' in the CPI configuration",
            f.path(key)
        ))
    })
}

/// Azure's limit of replicas per region of a gallery image version.
const MAX_GALLERY_REPLICAS: u64 = 100;

/// A string setting that must be one of `values` (matched case-insensitively by `parse`).
fn one_of<T>(
    f: &Fields,
    key: &str,
    parse: impl Fn(&str) -> Option<T>,
    values: &[&str],
) -> CpiResult<Option<T>> {
    let Some(text) = optional(f, key)? else {
        return Ok(None);
    };
    parse(text.trim()).map(Some).ok_or_else(|| {
        CpiError::cloud(format!(
            "Invalid value for '{}': '{text}'. Valid values are {}",
            f.path(key),
            values.join(", ")
        ))
    })
}

/// A list of Azure region names (`eastus`, `West Europe`): letters, digits and spaces.
fn region_list(f: &Fields, key: &str) -> CpiResult<Vec<String>> {
    let regions = f.string_list(key)?.unwrap_or_default();
    for region in &regions {
        let valid = !region.trim().is_empty()
            && region
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == ' ');
        if !valid {
            return Err(CpiError::cloud(format!(
                "Invalid value for '{}': '{region}' is not an Azure region name (letters, digits and spaces, e.g. westeurope)",
                f.path(key)
            )));
        }
    }
    Ok(regions.iter().map(|r| r.trim().to_owned()).collect())
}

/// A count of at least 1; a numeric string is accepted as the Ruby CPI's `to_i` does.
/// A byte count of whole 512-byte pages that one Put Page (4 MiB) can carry; unset is 0.
fn zero_gap(f: &Fields, key: &str) -> CpiResult<Option<u64>> {
    const PAGE: u64 = 512;
    const MAX: u64 = 4 * 1024 * 1024;
    match f.u64(key)? {
        None => Ok(None),
        Some(n) if n % PAGE == 0 && n <= MAX => Ok(Some(n)),
        Some(n) => Err(CpiError::cloud(format!(
            "Invalid value for '{}': {n} is not a multiple of {PAGE} bytes from 0 to {MAX}",
            f.path(key)
        ))),
    }
}

fn count(f: &Fields, key: &str) -> CpiResult<Option<u64>> {
    let value = match f.get(key) {
        Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
        Some(_) => f.u64(key)?,
        None => return Ok(None),
    };
    match value {
        Some(n) if n >= 1 => Ok(Some(n)),
        _ => Err(CpiError::cloud(format!(
            "Invalid value for '{}': must be an integer of at least 1",
            f.path(key)
        ))),
    }
}

#[cfg(test)]
mod tests;
