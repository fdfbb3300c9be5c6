//! `cpi.json` as the job template renders it (ruby-cpi-behavior §2), merged with the request
//! context on every call, validated with messages that name the key.

mod environment;
mod fields;

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

pub use environment::{Authority, AzureStackConfig, EndpointOverrides, Endpoints, Environment};
use fields::Fields;

use crate::error::{CpiError, CpiResult};

pub const DEFAULT_ISV_TRACKING_GUID: &str = "563bbbca-7944-4791-b9c6-8af0928114ac";

/// A value that must never reach a log: Debug and Display print a placeholder.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedIdentityType {
    SystemAssigned,
    UserAssigned { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroupRef {
    pub name: String,
    pub resource_group_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AzureConfig {
    pub environment: Environment,
    pub endpoints: Endpoints,
    pub subscription_id: String,
    pub resource_group_name: String,
    pub location: Option<String>,
    pub credentials: Credentials,
    pub default_managed_identity: Option<ManagedIdentityType>,
    pub use_managed_disks: bool,
    pub storage_account_name: Option<String>,
    pub default_security_group: Option<SecurityGroupRef>,
    pub enable_vm_boot_diagnostics: bool,
    pub debug_mode: bool,
    pub keep_failed_vms: bool,
    pub enable_telemetry: bool,
    pub isv_tracking_guid: String,
    pub pip_idle_timeout_in_minutes: u64,
    pub parallel_upload_thread_num: usize,
    pub ssh_user: String,
    pub ssh_public_key: Option<String>,
    pub use_default_account_for_cleaning: bool,
    pub compute_gallery_name: Option<String>,
    pub compute_gallery_replicas: u64,
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

/// Where the job template writes certificate files (`$BOSH_JOBS_DIR/azure_cpi/config`).
pub fn job_config_dir() -> PathBuf {
    let jobs = std::env::var_os("BOSH_JOBS_DIR").unwrap_or_else(|| "/var/vcap/jobs".into());
    Path::new(&jobs).join("azure_cpi").join("config")
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

    pub fn from_json(root: Value, context: &Map<String, Value>) -> CpiResult<Self> {
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
            azure: AzureConfig::parse(&Fields::new("azure", &azure))?,
            agent,
        })
    }
}

impl AzureConfig {
    fn parse(f: &Fields) -> CpiResult<Self> {
        let environment = match f.optional_string("environment")? {
            Some(name) => Environment::parse(&name)?,
            None => Environment::AzureCloud,
        };
        let azure_stack = if environment == Environment::AzureStack {
            let stack = f.object("azure_stack")?.ok_or_else(|| {
                CpiError::cloud("azure_stack should be there if environment is AzureStack.")
            })?;
            Some(AzureStackConfig {
                domain: stack
                    .optional_string("domain")?
                    .unwrap_or_else(|| "local.azurestack.external".to_owned()),
                authentication: stack
                    .optional_string("authentication")?
                    .unwrap_or_else(|| "AzureAD".to_owned()),
                resource: stack.required_string("resource")?,
                endpoint_prefix: stack
                    .optional_string("endpoint_prefix")?
                    .unwrap_or_else(|| "management".to_owned()),
            })
        } else {
            None
        };
        let overrides = match f.object("endpoints")? {
            Some(e) => EndpointOverrides {
                resource_manager: e.optional_string("resource_manager")?,
                active_directory: e.optional_string("active_directory")?,
                token_audience: e.optional_string("token_audience")?,
                managed_identity: e.optional_string("managed_identity")?,
                ca_cert: e.optional_string("ca_cert")?,
            },
            None => EndpointOverrides::default(),
        };
        let stack_ca = if environment == Environment::AzureStack {
            std::fs::read_to_string(job_config_dir().join("azure_stack_ca_cert.pem"))
                .ok()
                .filter(|pem| !pem.trim().is_empty())
        } else {
            None
        };
        let endpoints =
            Endpoints::resolve(environment, azure_stack.as_ref(), &overrides, stack_ca)?;

        let credentials = match f.optional_string("credentials_source")?.as_deref() {
            None | Some("static") => Credentials::ServicePrincipal {
                tenant_id: f.required_string("tenant_id")?,
                client_id: f.required_string("client_id")?,
                secret: f.optional_string("client_secret")?.map(Secret::new),
                certificate_path: job_config_dir().join("service_principal_certificate.pem"),
            },
            Some("managed_identity") => Credentials::ManagedIdentity {
                resource_id: f.optional_string("managed_identity_resource_id")?,
            },
            Some(other) => {
                return Err(CpiError::cloud(format!(
                    "Invalid value for 'azure.credentials_source': '{other}'. Valid values are static, managed_identity"
                )));
            }
        };

        let default_managed_identity = match f.object("default_managed_identity")? {
            None => None,
            Some(identity) => Some(match identity.required_string("type")?.as_str() {
                "SystemAssigned" => ManagedIdentityType::SystemAssigned,
                "UserAssigned" => ManagedIdentityType::UserAssigned {
                    name: identity.required_string("user_assigned_identity_name")?,
                },
                other => {
                    return Err(CpiError::cloud(format!(
                        "Invalid value for 'azure.default_managed_identity.type': '{other}'. Valid values are SystemAssigned, UserAssigned"
                    )));
                }
            }),
        };

        let default_security_group = match f.get("default_security_group") {
            None | Some(Value::Null) => None,
            Some(Value::String(name)) if name.is_empty() => None,
            Some(Value::String(name)) => Some(SecurityGroupRef {
                name: name.clone(),
                resource_group_name: None,
            }),
            Some(Value::Object(_)) => {
                let group = f
                    .object("default_security_group")?
                    .unwrap_or_else(|| f.clone());
                Some(SecurityGroupRef {
                    name: group.required_string("name")?,
                    resource_group_name: group.optional_string("resource_group_name")?,
                })
            }
            Some(_) => {
                return Err(CpiError::cloud(
                    "Invalid value for 'azure.default_security_group': expected a string or an object with 'name'",
                ));
            }
        };

        let isv_tracking_guid = f
            .optional_string("isv_tracking_guid")?
            .unwrap_or_else(|| DEFAULT_ISV_TRACKING_GUID.to_owned());
        if isv_tracking_guid.len() != 36 {
            return Err(CpiError::cloud(
                "Invalid value for 'azure.isv_tracking_guid': the length must be 36",
            ));
        }
        let parallel_upload_thread_num = f.integer("parallel_upload_thread_num")?.unwrap_or(16);
        if parallel_upload_thread_num == 0 {
            return Err(CpiError::cloud(
                "Invalid value for 'azure.parallel_upload_thread_num': must be at least 1",
            ));
        }
        let compute_gallery_replicas = f.integer("compute_gallery_replicas")?.unwrap_or(3);
        if compute_gallery_replicas == 0 {
            return Err(CpiError::cloud(
                "Invalid value for 'azure.compute_gallery_replicas': must be at least 1",
            ));
        }
        let stemcell_api_version = match f.object("vm")? {
            Some(vm) => match vm.object("stemcell")? {
                Some(stemcell) => stemcell.integer("api_version")?.unwrap_or(2),
                None => 2,
            },
            None => 2,
        };

        Ok(Self {
            environment,
            endpoints,
            subscription_id: f.required_string("subscription_id")?,
            resource_group_name: f.required_string("resource_group_name")?,
            location: f.optional_string("location")?,
            credentials,
            default_managed_identity,
            use_managed_disks: f.bool("use_managed_disks")?.unwrap_or(false),
            storage_account_name: f.optional_string("storage_account_name")?,
            default_security_group,
            enable_vm_boot_diagnostics: f.bool("enable_vm_boot_diagnostics")?.unwrap_or(false),
            debug_mode: f.bool("debug_mode")?.unwrap_or(false),
            keep_failed_vms: f.bool("keep_failed_vms")?.unwrap_or(false),
            enable_telemetry: f.bool("enable_telemetry")?.unwrap_or(false),
            isv_tracking_guid,
            pip_idle_timeout_in_minutes: f.integer("pip_idle_timeout_in_minutes")?.unwrap_or(4),
            parallel_upload_thread_num: usize::try_from(parallel_upload_thread_num)
                .unwrap_or(usize::MAX),
            ssh_user: f
                .optional_string("ssh_user")?
                .unwrap_or_else(|| "vcap".to_owned()),
            ssh_public_key: f.optional_string("ssh_public_key")?,
            use_default_account_for_cleaning: f
                .bool("use_default_account_for_cleaning")?
                .unwrap_or(false),
            compute_gallery_name: f.optional_string("compute_gallery_name")?,
            compute_gallery_replicas,
            stemcell_api_version,
            azure_stack,
        })
    }

    pub fn is_azure_stack(&self) -> bool {
        self.environment == Environment::AzureStack
    }
}

#[cfg(test)]
mod tests;
