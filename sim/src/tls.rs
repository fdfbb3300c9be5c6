//! A throw-away certificate authority and the loopback server certificate it signs.
//!
//! The official identity crate refuses plain-http authorities, so the sim must speak HTTPS; the
//! CA PEM is handed to clients to trust.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::Error;

pub(crate) struct TlsMaterial {
    pub ca_pem: String,
    pub server_config: Arc<rustls::ServerConfig>,
}

pub(crate) fn generate() -> Result<TlsMaterial, Error> {
    let loopback = LoopbackTls::generate()?;
    Ok(TlsMaterial {
        server_config: loopback.server_config()?,
        ca_pem: loopback.ca_pem,
    })
}

/// A CA and the loopback server certificate it signs, as PEM: for HTTPS servers besides the
/// sim (Azurite in OAuth mode, the blob front), whose clients trust `ca_pem`.
#[derive(Clone, PartialEq, Eq)]
pub struct LoopbackTls {
    pub ca_pem: String,
    /// The leaf (for `localhost` and `127.0.0.1`) followed by the CA.
    pub cert_pem: String,
    pub key_pem: String,
}

impl std::fmt::Debug for LoopbackTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackTls").finish_non_exhaustive()
    }
}

impl LoopbackTls {
    pub fn generate() -> Result<Self, Error> {
        generate_pem()
    }

    /// A rustls server configuration serving the leaf.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes())
            .map_err(|e| Error::Tls(e.to_string()))?;
        // Pick the provider explicitly: other crates in the graph may enable a second one.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| Error::Tls(e.to_string()))?;
        Ok(Arc::new(config))
    }
}

fn generate_pem() -> Result<LoopbackTls, Error> {
    let tls = |e: rcgen::Error| Error::Tls(e.to_string());
    let ca_key = KeyPair::generate().map_err(tls)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls)?;
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "azure-sim local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca_params.self_signed(&ca_key).map_err(tls)?;
    let issuer = Issuer::new(ca_params, ca_key);

    let leaf_key = KeyPair::generate().map_err(tls)?;
    let mut leaf_params =
        CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .map_err(tls)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "azure-sim");
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let leaf_cert = leaf_params.signed_by(&leaf_key, &issuer).map_err(tls)?;

    Ok(LoopbackTls {
        ca_pem: ca_cert.pem(),
        cert_pem: format!("{}{}", leaf_cert.pem(), ca_cert.pem()),
        key_pem: leaf_key.serialize_pem(),
    })
}
