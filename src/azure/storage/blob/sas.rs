//! Read-only service SAS for one blob, signed with the account key.
//!
//! `azure_storage_blob` 1.1 can start a server-side copy from a URL but cannot sign one. A copy
//! between storage accounts needs the source readable by the destination service, so the source
//! blob's URL carries a short-lived read-only SAS (`sp=r`, `sr=b`, HTTPS or HTTP), as the Ruby
//! CPI's stemcell copy does.

use azure_core::credentials::Secret;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::error::{CpiError, CpiResult};

/// The service version whose string-to-sign layout [`string_to_sign`] writes.
const SAS_VERSION: &str = "2018-11-09";

/// What a read SAS for one blob says, before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BlobReadSas<'a> {
    pub account_name: &'a str,
    pub container: &'a str,
    pub blob: &'a str,
    /// Valid from (`st`): a little in the past, for the service's clock.
    pub start: OffsetDateTime,
    pub expiry: OffsetDateTime,
}

impl BlobReadSas<'_> {
    /// `blob_url` with the signed SAS query appended.
    pub(crate) fn sign_url(&self, blob_url: &Url, account_key: &Secret) -> CpiResult<Url> {
        let start = expiry_text(self.start)?;
        let expiry = expiry_text(self.expiry)?;
        let signature =
            azure_core::hmac::hmac_sha256(&self.string_to_sign(&start, &expiry), account_key)
                .map_err(|e| {
                    CpiError::cloud(format!(
                        "Cannot sign a SAS for storage account '{}': {e}",
                        self.account_name
                    ))
                })?;
        let mut url = blob_url.clone();
        url.query_pairs_mut()
            .append_pair("sv", SAS_VERSION)
            .append_pair("st", &start)
            .append_pair("se", &expiry)
            .append_pair("sr", "b")
            .append_pair("sp", "r")
            .append_pair("sig", &signature);
        Ok(url)
    }

    /// The service SAS string-to-sign (versions 2018-11-09 to 2020-10-02): permissions, start,
    /// expiry, canonical resource, identifier, IP, protocol, version, resource, snapshot time,
    /// then the five response-header overrides; unused fields stay empty.
    fn string_to_sign(&self, start: &str, expiry: &str) -> String {
        let resource = format!(
            "/blob/{}/{}/{}",
            self.account_name, self.container, self.blob
        );
        [
            "r",
            start,
            expiry,
            &resource,
            "",
            "",
            "",
            SAS_VERSION,
            "b",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n")
    }
}

/// The service version of user delegation SAS: its string-to-sign layout is
/// [`BlobReadSas::delegation_string_to_sign`]'s.
const DELEGATION_SAS_VERSION: &str = "2020-12-06";

/// A user delegation key (Get User Delegation Key), with its fields as the SAS repeats them.
/// `value` is secret.
#[derive(Clone)]
pub(crate) struct DelegationKey {
    pub signed_oid: String,
    pub signed_tid: String,
    pub signed_start: String,
    pub signed_expiry: String,
    pub signed_service: String,
    pub signed_version: String,
    pub value: Secret,
}

impl BlobReadSas<'_> {
    /// `blob_url` with a read-only user delegation SAS: signed with a key the storage service
    /// derived for the CPI's Entra ID identity, so no account key is involved.
    pub(crate) fn sign_url_with_delegation(
        &self,
        blob_url: &Url,
        key: &DelegationKey,
    ) -> CpiResult<Url> {
        let start = expiry_text(self.start)?;
        let expiry = expiry_text(self.expiry)?;
        let signature = azure_core::hmac::hmac_sha256(
            &self.delegation_string_to_sign(&start, &expiry, key),
            &key.value,
        )
        .map_err(|e| {
            CpiError::cloud(format!(
                "Cannot sign a user delegation SAS for storage account '{}': {e}",
                self.account_name
            ))
        })?;
        let mut url = blob_url.clone();
        url.query_pairs_mut()
            .append_pair("sv", DELEGATION_SAS_VERSION)
            .append_pair("st", &start)
            .append_pair("se", &expiry)
            .append_pair("sr", "b")
            .append_pair("sp", "r")
            .append_pair("skoid", &key.signed_oid)
            .append_pair("sktid", &key.signed_tid)
            .append_pair("skt", &key.signed_start)
            .append_pair("ske", &key.signed_expiry)
            .append_pair("sks", &key.signed_service)
            .append_pair("skv", &key.signed_version)
            .append_pair("sig", &signature);
        Ok(url)
    }

    /// The user delegation SAS string-to-sign of version 2020-12-06 and later ("Create a user
    /// delegation SAS", Azure Storage REST reference): permissions, start, expiry, canonical
    /// resource, the six key fields, authorized and unauthorized object ids, correlation id,
    /// IP, protocol, version, resource, snapshot time, encryption scope, then the five
    /// response-header overrides; unused fields stay empty.
    fn delegation_string_to_sign(&self, start: &str, expiry: &str, key: &DelegationKey) -> String {
        let resource = format!(
            "/blob/{}/{}/{}",
            self.account_name, self.container, self.blob
        );
        [
            "r",
            start,
            expiry,
            &resource,
            &key.signed_oid,
            &key.signed_tid,
            &key.signed_start,
            &key.signed_expiry,
            &key.signed_service,
            &key.signed_version,
            "",
            "",
            "",
            "",
            "",
            DELEGATION_SAS_VERSION,
            "b",
            "",
            "",
            "",
            "",
            "",
            "",
            "",
        ]
        .join("\n")
    }
}

/// `YYYY-MM-DDThh:mm:ssZ`: whole seconds, as the service compares it (start and expiry).
pub(super) fn expiry_text(expiry: OffsetDateTime) -> CpiResult<String> {
    expiry
        .to_offset(time::UtcOffset::UTC)
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .ok_or_else(|| CpiError::cloud(format!("Cannot write SAS expiry time {expiry}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use time::macros::datetime;

    fn sas() -> BlobReadSas<'static> {
        BlobReadSas {
            account_name: "myaccount",
            container: "stemcell",
            blob: "bosh-stemcell-1.vhd",
            start: datetime!(2026-12-01 09:55:00 UTC),
            expiry: datetime!(2026-12-01 10:30:15.5 UTC),
        }
    }

    #[test]
    fn string_to_sign_has_the_documented_fields_in_order() {
        let expiry = expiry_text(sas().expiry).unwrap();
        assert_eq!(expiry, "2026-12-01T10:30:15Z");
        assert_eq!(
            sas().string_to_sign("2026-12-01T09:55:00Z", &expiry),
            "r\n2026-12-01T09:55:00Z\n2026-12-01T10:30:15Z\n/blob/myaccount/stemcell/bosh-stemcell-1.vhd\n\n\n\n2018-11-09\nb\n\n\n\n\n\n"
        );
    }

    #[test]
    fn signature_is_hmac_sha256_of_the_string_to_sign_with_the_decoded_key() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = Secret::new(base64::engine::general_purpose::STANDARD.encode("Jefe"));
        let expected = base64::engine::general_purpose::STANDARD.encode(hex_bytes(
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        ));
        assert_eq!(
            azure_core::hmac::hmac_sha256("what do ya want for nothing?", &key).unwrap(),
            expected
        );
        let url =
            Url::parse("https://myaccount.blob.core.windows.net/stemcell/bosh-stemcell-1.vhd")
                .unwrap();
        let signed = sas().sign_url(&url, &key).unwrap();
        let pairs: Vec<(String, String)> = signed.query_pairs().into_owned().collect();
        let start = "2026-12-01T09:55:00Z";
        let expiry = "2026-12-01T10:30:15Z";
        let signature =
            azure_core::hmac::hmac_sha256(&sas().string_to_sign(start, expiry), &key).unwrap();
        assert_eq!(
            pairs,
            [
                ("sv", SAS_VERSION),
                ("st", start),
                ("se", expiry),
                ("sr", "b"),
                ("sp", "r"),
                ("sig", signature.as_str())
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
        );
        assert_eq!(signed.path(), url.path());
    }

    #[test]
    fn delegation_string_to_sign_has_the_documented_24_fields() {
        let key = DelegationKey {
            signed_oid: "oid".into(),
            signed_tid: "tid".into(),
            signed_start: "2026-12-01T10:00:00Z".into(),
            signed_expiry: "2026-12-02T10:00:00Z".into(),
            signed_service: "b".into(),
            signed_version: "2026-06-06".into(),
            value: Secret::new("a2V5"),
        };
        let text =
            sas().delegation_string_to_sign("2026-12-01T09:55:00Z", "2026-12-01T10:30:15Z", &key);
        assert_eq!(text.split('\n').count(), 24);
        assert_eq!(
            text,
            "r\n2026-12-01T09:55:00Z\n2026-12-01T10:30:15Z\n/blob/myaccount/stemcell/bosh-stemcell-1.vhd\noid\ntid\n2026-12-01T10:00:00Z\n2026-12-02T10:00:00Z\nb\n2026-06-06\n\n\n\n\n\n2020-12-06\nb\n\n\n\n\n\n\n"
        );
        let url = Url::parse("https://myaccount.blob.core.windows.net/stemcell/x.vhd").unwrap();
        let signed = sas().sign_url_with_delegation(&url, &key).unwrap();
        let keys: Vec<String> = signed.query_pairs().map(|(k, _)| k.into_owned()).collect();
        assert_eq!(
            keys,
            [
                "sv", "st", "se", "sr", "sp", "skoid", "sktid", "skt", "ske", "sks", "skv", "sig"
            ]
        );
    }

    fn hex_bytes(hex: &str) -> Vec<u8> {
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }
}
