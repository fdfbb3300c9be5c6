//! Azure environments and their endpoints (docs/ruby-compatibility.md, Release and
//! configuration), plus our documented overrides for private clouds and the local simulator.

use std::fmt;

use url::Url;

use crate::azure::settings::Authority;
use crate::error::{CpiError, CpiResult};

/// The values of `azure.environment`, spelled as the Ruby CPI's job spec spells them.
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    AzureCloud,
    AzureChinaCloud,
    AzureUsGovernment,
    AzureGermanCloud,
    AzureStack,
}

impl Environment {
    pub(crate) const ALL: [Environment; 5] = [
        Self::AzureCloud,
        Self::AzureChinaCloud,
        Self::AzureUsGovernment,
        Self::AzureGermanCloud,
        Self::AzureStack,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::AzureCloud => "AzureCloud",
            Self::AzureChinaCloud => "AzureChinaCloud",
            Self::AzureUsGovernment => "AzureUSGovernment",
            Self::AzureGermanCloud => "AzureGermanCloud",
            Self::AzureStack => "AzureStack",
        }
    }

    pub(crate) fn parse(name: &str) -> CpiResult<Self> {
        Self::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| {
                CpiError::cloud(format!(
                    "Invalid value for 'azure.environment': '{name}'. Valid values are {}",
                    Self::ALL.map(Self::name).join(", ")
                ))
            })
    }

    /// The public ARM endpoint, also the token `resource`/audience (trailing slash included,
    /// as the Ruby CPI sends it).
    fn resource_manager(self) -> Option<&'static str> {
        match self {
            Self::AzureCloud => Some("https://management.azure.com/"),
            Self::AzureChinaCloud => Some("https://management.chinacloudapi.cn/"),
            Self::AzureUsGovernment => Some("https://management.usgovcloudapi.net/"),
            Self::AzureGermanCloud => Some("https://management.microsoftazure.de/"),
            Self::AzureStack => None,
        }
    }

    fn active_directory(self) -> Option<&'static str> {
        match self {
            Self::AzureCloud => Some(PUBLIC_AAD),
            Self::AzureChinaCloud => Some(CHINA_AAD),
            Self::AzureUsGovernment => Some("https://login.microsoftonline.us/"),
            Self::AzureGermanCloud => Some("https://login.microsoftonline.de/"),
            Self::AzureStack => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The resource id of Azure Storage in Entra ID.
pub(crate) const STORAGE_AUDIENCE: &str = "https://storage.azure.com/";

const PUBLIC_AAD: &str = "https://login.microsoftonline.com/";
const CHINA_AAD: &str = "https://login.chinacloudapi.cn/";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureStackConfig {
    pub domain: String,
    pub authentication: String,
    pub resource: String,
    pub endpoint_prefix: String,
}

/// Optional endpoint overrides (`azure.endpoints`), our extension for private/sovereign clouds
/// and the local simulator. The Ruby CPI ignores unknown keys, so configs stay interchangeable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointOverrides {
    pub resource_manager: Option<String>,
    pub active_directory: Option<String>,
    pub token_audience: Option<String>,
    pub managed_identity: Option<String>,
    pub ca_cert: Option<String>,
    pub wire_server: Option<String>,
}

/// The endpoints a CPI process talks to, resolved once from the environment and overrides.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub resource_manager: Url,
    pub authority: Authority,
    pub token_audience: String,
    /// The IMDS token URL for managed identities; None means Azure's well-known address.
    pub managed_identity: Option<Url>,
    /// Extra CA certificates (PEM) to trust beyond the system roots.
    pub extra_ca_certs: Vec<String>,
    /// The wire server (telemetry); None means Azure's well-known address.
    pub wire_server: Option<Url>,
    /// The audience of blob storage tokens; `None` on Azure Stack Hub. Microsoft documents
    /// Entra ID authorization of blob data "in all public regions and national clouds"
    /// ("Authorize access to blobs using Microsoft Entra ID"); "Azure Stack Hub storage:
    /// Differences and considerations" offers none, and vendors' Azure Stack Hub guides say
    /// its storage takes account keys only.
    pub storage_audience: Option<String>,
    /// The audience of managed disk upload tokens; `None` on Azure Stack Hub, whose disks
    /// offer no Entra ID upload. One resource id for every Entra ID cloud, as AzCopy's disk
    /// scope (a single constant) uses it.
    pub disk_audience: Option<String>,
}

impl Endpoints {
    pub(crate) fn resolve(
        environment: Environment,
        azure_stack: Option<&AzureStackConfig>,
        overrides: &EndpointOverrides,
        azure_stack_ca_cert: Option<String>,
    ) -> CpiResult<Self> {
        // (ARM URL, authority: Entra ID host or ADFS base URL, audience)
        let (resource_manager, authority, audience) = match environment {
            Environment::AzureStack => {
                let stack = azure_stack.ok_or_else(|| {
                    CpiError::cloud("azure_stack should be there if environment is AzureStack.")
                })?;
                let authority = match stack.authentication.as_str() {
                    "AzureAD" => AuthorityBase::EntraId(PUBLIC_AAD.to_owned()),
                    "AzureChinaCloudAD" => AuthorityBase::EntraId(CHINA_AAD.to_owned()),
                    "ADFS" => AuthorityBase::Adfs(format!("https://adfs.{}/adfs", stack.domain)),
                    other => {
                        return Err(CpiError::cloud(format!(
                            "No support for the AzureStack authentication: '{other}'. Valid values are AzureAD, AzureChinaCloudAD, ADFS"
                        )));
                    }
                };
                (
                    format!("https://{}.{}/", stack.endpoint_prefix, stack.domain),
                    authority,
                    stack.resource.clone(),
                )
            }
            public => {
                let arm = public.resource_manager().unwrap_or_default().to_owned();
                let host = public.active_directory().unwrap_or_default().to_owned();
                (arm.clone(), AuthorityBase::EntraId(host), arm)
            }
        };

        let resource_manager = url(
            "azure.endpoints.resource_manager",
            overrides
                .resource_manager
                .as_deref()
                .unwrap_or(&resource_manager),
        )?;
        let authority = match (authority, overrides.active_directory.as_deref()) {
            (AuthorityBase::EntraId(default), chosen) => Authority::EntraId {
                host: url(
                    "azure.endpoints.active_directory",
                    chosen.unwrap_or(&default),
                )?,
            },
            (AuthorityBase::Adfs(default), chosen) => {
                let base = chosen.unwrap_or(&default).trim_end_matches('/');
                Authority::Adfs {
                    token_endpoint: url(
                        "azure.endpoints.active_directory",
                        &format!("{base}/oauth2/token"),
                    )?,
                }
            }
        };
        let managed_identity = overrides
            .managed_identity
            .as_deref()
            .map(|u| url("azure.endpoints.managed_identity", u))
            .transpose()?;
        let wire_server = overrides
            .wire_server
            .as_deref()
            .map(|u| url("azure.endpoints.wire_server", u))
            .transpose()?;
        let token_audience = overrides.token_audience.clone().unwrap_or(audience);
        let extra_ca_certs = overrides
            .ca_cert
            .iter()
            .cloned()
            .chain(azure_stack_ca_cert)
            .collect();
        // One storage resource id serves every Entra ID cloud (public, China, US Gov): the
        // storage SDKs' default audience, e.g. .NET's `BlobAudience.DefaultAudience`.
        let storage_audience =
            (environment != Environment::AzureStack).then(|| STORAGE_AUDIENCE.to_owned());
        let disk_audience = (environment != Environment::AzureStack)
            .then(|| crate::azure::DISK_AUDIENCE.to_owned());
        Ok(Self {
            resource_manager,
            authority,
            token_audience,
            managed_identity,
            extra_ca_certs,
            wire_server,
            storage_audience,
            disk_audience,
        })
    }
}

/// The authority before overrides: an Entra ID host or an ADFS base URL.
enum AuthorityBase {
    EntraId(String),
    Adfs(String),
}

fn url(key: &str, value: &str) -> CpiResult<Url> {
    let parsed = Url::parse(value).map_err(|e| {
        CpiError::cloud(format!(
            "Invalid value for '{key}': '{value}' is not a URL ({e})"
        ))
    })?;
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(CpiError::cloud(format!(
            "Invalid value for '{key}': '{value}' must be an http(s) URL"
        )));
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn public_clouds_have_fixed_endpoints() {
        let e = Endpoints::resolve(
            Environment::AzureChinaCloud,
            None,
            &Default::default(),
            None,
        )
        .unwrap();
        assert_eq!(
            e.resource_manager,
            u("https://management.chinacloudapi.cn/")
        );
        assert_eq!(e.token_audience, "https://management.chinacloudapi.cn/");
        assert_eq!(
            e.authority,
            Authority::EntraId {
                host: u("https://login.chinacloudapi.cn/")
            }
        );
    }

    #[test]
    fn azure_stack_builds_its_endpoints_from_the_domain() {
        let stack = AzureStackConfig {
            domain: "local.azurestack.external".into(),
            authentication: "ADFS".into(),
            resource: "https://management.adfs.azurestack.local/abc".into(),
            endpoint_prefix: "management".into(),
        };
        let e = Endpoints::resolve(
            Environment::AzureStack,
            Some(&stack),
            &Default::default(),
            Some("PEM".into()),
        )
        .unwrap();
        assert_eq!(
            e.resource_manager,
            u("https://management.local.azurestack.external/")
        );
        assert_eq!(
            e.authority,
            Authority::Adfs {
                token_endpoint: u("https://adfs.local.azurestack.external/adfs/oauth2/token")
            }
        );
        assert_eq!(e.token_audience, stack.resource);
        assert_eq!(e.extra_ca_certs, vec!["PEM".to_owned()]);

        let bad = AzureStackConfig {
            authentication: "Kerberos".into(),
            ..stack
        };
        let err = Endpoints::resolve(
            Environment::AzureStack,
            Some(&bad),
            &Default::default(),
            None,
        )
        .unwrap_err();
        assert!(err.message().contains("'Kerberos'"));
        assert!(
            Endpoints::resolve(Environment::AzureStack, None, &Default::default(), None).is_err()
        );
    }

    #[test]
    fn overrides_win_and_must_be_urls() {
        let overrides = EndpointOverrides {
            resource_manager: Some("https://127.0.0.1:8443/".into()),
            active_directory: Some("https://127.0.0.1:8443/".into()),
            token_audience: Some("https://management.azure.com/".into()),
            managed_identity: Some("http://127.0.0.1:8444/metadata/identity/oauth2/token".into()),
            ca_cert: Some("PEM".into()),
            wire_server: Some("http://127.0.0.1:8445".into()),
        };
        let e = Endpoints::resolve(Environment::AzureCloud, None, &overrides, None).unwrap();
        assert_eq!(e.resource_manager, u("https://127.0.0.1:8443/"));
        assert_eq!(
            e.authority,
            Authority::EntraId {
                host: u("https://127.0.0.1:8443/")
            }
        );
        assert_eq!(
            e.managed_identity,
            Some(u("http://127.0.0.1:8444/metadata/identity/oauth2/token"))
        );
        assert_eq!(e.extra_ca_certs, vec!["PEM".to_owned()]);
        assert_eq!(e.wire_server, Some(u("http://127.0.0.1:8445")));

        let bad = EndpointOverrides {
            resource_manager: Some("not a url".into()),
            ..Default::default()
        };
        let err = Endpoints::resolve(Environment::AzureCloud, None, &bad, None).unwrap_err();
        assert!(
            err.message().contains("azure.endpoints.resource_manager"),
            "{}",
            err.message()
        );
    }

    #[test]
    fn unknown_environment_names_the_key() {
        let err = Environment::parse("Mars").unwrap_err();
        assert!(err.message().contains("azure.environment"));
        assert_eq!(
            Environment::parse("AzureUSGovernment").unwrap(),
            Environment::AzureUsGovernment
        );
    }
}
