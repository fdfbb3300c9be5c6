//! Azure environments and their endpoints (ruby-cpi-behavior §2.2), plus our documented
//! overrides for private clouds and the local simulator.

use std::fmt;

use crate::error::{CpiError, CpiResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    AzureCloud,
    AzureChinaCloud,
    AzureUsGovernment,
    AzureGermanCloud,
    AzureStack,
}

impl Environment {
    pub const ALL: [Environment; 5] = [
        Self::AzureCloud,
        Self::AzureChinaCloud,
        Self::AzureUsGovernment,
        Self::AzureGermanCloud,
        Self::AzureStack,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::AzureCloud => "AzureCloud",
            Self::AzureChinaCloud => "AzureChinaCloud",
            Self::AzureUsGovernment => "AzureUSGovernment",
            Self::AzureGermanCloud => "AzureGermanCloud",
            Self::AzureStack => "AzureStack",
        }
    }

    pub fn parse(name: &str) -> CpiResult<Self> {
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

const PUBLIC_AAD: &str = "https://login.microsoftonline.com/";
const CHINA_AAD: &str = "https://login.chinacloudapi.cn/";

/// How tokens are requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authority {
    /// Entra ID (AAD): `<host>/<tenant>/oauth2/v2.0/token` with `scope=<audience>/.default`.
    EntraId { host: String },
    /// Azure Stack ADFS: the v1 endpoint `<url>/oauth2/token` with `resource=<audience>`.
    Adfs { url: String },
}

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
}

/// The endpoints a CPI process talks to, resolved once from the environment and overrides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub resource_manager: String,
    pub authority: Authority,
    pub token_audience: String,
    /// The IMDS token URL for managed identities; None means Azure's well-known address.
    pub managed_identity: Option<String>,
    /// Extra CA certificates (PEM) to trust beyond the system roots.
    pub extra_ca_certs: Vec<String>,
}

impl Endpoints {
    pub fn resolve(
        environment: Environment,
        azure_stack: Option<&AzureStackConfig>,
        overrides: &EndpointOverrides,
        azure_stack_ca_cert: Option<String>,
    ) -> CpiResult<Self> {
        let (resource_manager, authority, audience) = match environment {
            Environment::AzureStack => {
                let stack = azure_stack.ok_or_else(|| {
                    CpiError::cloud("azure_stack should be there if environment is AzureStack.")
                })?;
                let authority = match stack.authentication.as_str() {
                    "AzureAD" => Authority::EntraId {
                        host: PUBLIC_AAD.to_owned(),
                    },
                    "AzureChinaCloudAD" => Authority::EntraId {
                        host: CHINA_AAD.to_owned(),
                    },
                    "ADFS" => Authority::Adfs {
                        url: format!("https://adfs.{}/adfs", stack.domain),
                    },
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
                (arm.clone(), Authority::EntraId { host }, arm)
            }
        };

        let resource_manager = overrides
            .resource_manager
            .clone()
            .unwrap_or(resource_manager);
        let authority = match (&overrides.active_directory, authority) {
            (Some(url), Authority::Adfs { .. }) => Authority::Adfs { url: url.clone() },
            (Some(host), Authority::EntraId { .. }) => Authority::EntraId { host: host.clone() },
            (None, authority) => authority,
        };
        let token_audience = overrides.token_audience.clone().unwrap_or(audience);
        let extra_ca_certs = overrides
            .ca_cert
            .iter()
            .cloned()
            .chain(azure_stack_ca_cert)
            .collect();
        Ok(Self {
            resource_manager,
            authority,
            token_audience,
            managed_identity: overrides.managed_identity.clone(),
            extra_ca_certs,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_clouds_have_fixed_endpoints() {
        let e = Endpoints::resolve(
            Environment::AzureChinaCloud,
            None,
            &Default::default(),
            None,
        )
        .unwrap();
        assert_eq!(e.resource_manager, "https://management.chinacloudapi.cn/");
        assert_eq!(e.token_audience, "https://management.chinacloudapi.cn/");
        assert_eq!(
            e.authority,
            Authority::EntraId {
                host: "https://login.chinacloudapi.cn/".into()
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
            "https://management.local.azurestack.external/"
        );
        assert_eq!(
            e.authority,
            Authority::Adfs {
                url: "https://adfs.local.azurestack.external/adfs".into()
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
    fn overrides_win() {
        let overrides = EndpointOverrides {
            resource_manager: Some("https://127.0.0.1:8443/".into()),
            active_directory: Some("https://127.0.0.1:8443/".into()),
            token_audience: Some("https://management.azure.com/".into()),
            managed_identity: Some("http://127.0.0.1:8444/metadata/identity/oauth2/token".into()),
            ca_cert: Some("PEM".into()),
        };
        let e = Endpoints::resolve(Environment::AzureCloud, None, &overrides, None).unwrap();
        assert_eq!(e.resource_manager, "https://127.0.0.1:8443/");
        assert_eq!(
            e.authority,
            Authority::EntraId {
                host: "https://127.0.0.1:8443/".into()
            }
        );
        assert_eq!(e.extra_ca_certs, vec!["PEM".to_owned()]);
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
