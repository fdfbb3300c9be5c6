//! The client assertion of a certificate credential: an RS256 JWT signed with the service
//! principal's key, `x5t` = base64url(SHA-1(certificate DER)). Signing uses `jsonwebtoken` on
//! aws-lc-rs, so no system OpenSSL is needed at run time.

use std::path::PathBuf;

use azure_core::http::ClientMethodOptions;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use sha1::{Digest, Sha1};
use url::Url;

use super::super::error::{Error, Result};

/// Builds assertions for one client id and token endpoint from one PEM file (key + certificate).
#[derive(Clone)]
pub(crate) struct CertificateAssertion {
    client_id: String,
    pem_path: PathBuf,
    audience: Url,
}

impl std::fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("pem_path", &self.pem_path)
            .field("audience", &self.audience.as_str())
            .finish()
    }
}

/// The signing key and thumbprint read from the PEM file.
pub(super) struct LoadedCertificate {
    key: EncodingKey,
    x5t: String,
}

#[derive(Serialize)]
struct Claims<'a> {
    aud: &'a str,
    iss: &'a str,
    sub: &'a str,
    jti: String,
    nbf: i64,
    exp: i64,
}

/// Accept a token request signed slightly ahead of the server clock.
const CLOCK_SKEW_SECS: i64 = 90;
const ASSERTION_LIFETIME_SECS: i64 = 600;

impl CertificateAssertion {
    pub fn new(client_id: String, pem_path: PathBuf, audience: Url) -> Self {
        Self {
            client_id,
            pem_path,
            audience,
        }
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// Reads the PEM file: an RSA private key (PKCS#1 or PKCS#8) and the certificate.
    pub(super) fn load(&self) -> Result<LoadedCertificate> {
        let path = self.pem_path.display();
        let bytes = std::fs::read(&self.pem_path).map_err(|e| {
            Error::Io(format!(
                "cannot read the service principal certificate {path}: {e}"
            ))
        })?;
        let blocks = pem::parse_many(&bytes)
            .map_err(|e| Error::Invalid(format!("{path} is not valid PEM: {e}")))?;
        let cert = blocks
            .iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| Error::Invalid(format!("{path} holds no CERTIFICATE block")))?;
        let key_block = blocks
            .iter()
            .find(|b| b.tag() == "PRIVATE KEY" || b.tag() == "RSA PRIVATE KEY")
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "{path} holds no unencrypted RSA private key (PRIVATE KEY or RSA PRIVATE KEY block)"
                ))
            })?;
        let key = EncodingKey::from_rsa_pem(pem::encode(key_block).as_bytes()).map_err(|e| {
            Error::Invalid(format!(
                "{path}: the private key is not a usable RSA key: {e}"
            ))
        })?;
        Ok(LoadedCertificate {
            key,
            x5t: URL_SAFE_NO_PAD.encode(Sha1::digest(cert.contents())),
        })
    }

    /// A freshly signed assertion.
    pub(crate) fn sign(&self) -> Result<String> {
        let loaded = self.load()?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let mut header = Header::new(Algorithm::RS256);
        header.x5t = Some(loaded.x5t);
        let claims = Claims {
            aud: self.audience.as_str(),
            iss: &self.client_id,
            sub: &self.client_id,
            jti: uuid::Uuid::new_v4().to_string(),
            nbf: now - CLOCK_SKEW_SECS,
            exp: now + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&header, &claims, &loaded.key).map_err(|e| {
            Error::Invalid(format!(
                "cannot sign the client assertion with {}: {e}",
                self.pem_path.display()
            ))
        })
    }
}

#[async_trait::async_trait]
impl azure_identity::ClientAssertion for CertificateAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        self.sign().map_err(|e| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, e.to_string())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion_for(contents: &str) -> (tempfile::NamedTempFile, CertificateAssertion) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        std::io::Write::write_all(&mut file, contents.as_bytes()).unwrap();
        let assertion = CertificateAssertion::new(
            "app".into(),
            file.path().to_owned(),
            Url::parse("https://login.example/t/oauth2/v2.0/token").unwrap(),
        );
        (file, assertion)
    }

    #[test]
    fn a_pem_without_key_or_certificate_is_named_clearly() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).unwrap();
        let cert = rcgen::CertificateParams::new(vec!["x".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let (_f, only_cert) = assertion_for(&cert.pem());
        let err = only_cert.sign().unwrap_err().to_string();
        assert!(err.contains("no unencrypted RSA private key"), "{err}");
        let (_f, only_key) = assertion_for(&key.serialize_pem());
        let err = only_key.sign().unwrap_err().to_string();
        assert!(err.contains("no CERTIFICATE block"), "{err}");
        let (_f, both) = assertion_for(&format!("{}{}", cert.pem(), key.serialize_pem()));
        let jwt = both.sign().unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, Algorithm::RS256);
        assert_eq!(
            header.x5t.as_deref(),
            Some(URL_SAFE_NO_PAD.encode(Sha1::digest(cert.der())).as_str())
        );
    }
}
