//! Shared Key request signing for the blob data plane.
//!
//! `azure_storage_blob` 1.1 only knows Entra ID tokens (and refuses them over http), while the
//! Ruby CPI and existing deployments authenticate storage with the account key from ARM
//! `listKeys`. This policy runs per try, after the SDK has set every header, so it signs the
//! request exactly as it goes on the wire (and re-signs each retry with a fresh `x-ms-date`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use azure_core::credentials::Secret;
use azure_core::http::policies::{Policy, PolicyResult};
use azure_core::http::{Context, Request};

/// Standard headers that take a fixed position in the string to sign, in that order.
const POSITIONAL_HEADERS: [&str; 11] = [
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
];

/// Signs every request with `Authorization: SharedKey <account>:<signature>`.
pub struct SharedKeyPolicy {
    account_name: String,
    account_key: Secret,
}

impl SharedKeyPolicy {
    pub fn new(account_name: impl Into<String>, account_key: Secret) -> Self {
        Self {
            account_name: account_name.into(),
            account_key,
        }
    }

    fn sign(&self, request: &mut Request) -> azure_core::Result<()> {
        request.insert_header("x-ms-date", httpdate::fmt_http_date(SystemTime::now()));
        let string_to_sign = string_to_sign(&self.account_name, request);
        let signature = azure_core::hmac::hmac_sha256(&string_to_sign, &self.account_key)?;
        request.insert_header(
            "authorization",
            format!("SharedKey {}:{}", self.account_name, signature),
        );
        Ok(())
    }
}

// Written by hand so the key can never reach a log through `{:?}`.
impl std::fmt::Debug for SharedKeyPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKeyPolicy")
            .field("account_name", &self.account_name)
            .field("account_key", &"<redacted>")
            .finish()
    }
}

#[async_trait]
impl Policy for SharedKeyPolicy {
    async fn send(
        &self,
        ctx: &Context,
        request: &mut Request,
        next: &[Arc<dyn Policy>],
    ) -> PolicyResult {
        self.sign(request)?;
        next[0].send(ctx, request, &next[1..]).await
    }
}

/// The Shared Key string to sign (Blob service, x-ms-version 2009-09-19 and later).
fn string_to_sign(account_name: &str, request: &Request) -> String {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in request.headers().iter() {
        headers.insert(
            name.as_str().to_ascii_lowercase(),
            value.as_str().trim().to_owned(),
        );
    }

    let mut out = String::with_capacity(512);
    out.push_str(request.method().as_ref());
    out.push('\n');
    for name in POSITIONAL_HEADERS {
        let value = headers.get(name).map(String::as_str).unwrap_or("");
        // A zero Content-Length is signed as empty since version 2015-02-21.
        if !(name == "content-length" && value == "0") {
            out.push_str(value);
        }
        out.push('\n');
    }
    for (name, value) in headers.iter().filter(|(n, _)| n.starts_with("x-ms-")) {
        out.push_str(name);
        out.push(':');
        out.push_str(value);
        out.push('\n');
    }
    out.push_str(&canonicalized_resource(account_name, request.url()));
    out
}

/// `/<account><path>` plus the sorted, decoded query parameters. For path-style URLs (Azurite,
/// `http://host:port/<account>/<container>/<blob>`) the path already starts with the account
/// name, which then appears twice; that is what the emulator expects.
fn canonicalized_resource(account_name: &str, url: &url::Url) -> String {
    let mut out = format!("/{account_name}{}", url.path());
    let mut params: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in url.query_pairs() {
        params
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.into_owned());
    }
    for (name, mut values) in params {
        values.sort();
        out.push('\n');
        out.push_str(&name);
        out.push(':');
        out.push_str(&values.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use azure_core::http::{Method, Url};

    fn request(url: &str, method: Method, headers: &[(&'static str, &str)]) -> Request {
        let mut request = Request::new(Url::parse(url).unwrap(), method);
        for (name, value) in headers {
            request.insert_header(*name, value.to_string());
        }
        request
    }

    #[test]
    fn string_to_sign_orders_standard_headers_then_ms_headers_then_resource() {
        let request = request(
            "http://127.0.0.1:10000/devstoreaccount1/stemcell/b.vhd?comp=page&timeout=30",
            Method::Put,
            &[
                ("content-length", "512"),
                ("content-type", "application/octet-stream"),
                ("range", "bytes=0-511"),
                ("x-ms-version", "2026-04-06"),
                ("x-ms-page-write", "update"),
                ("x-ms-date", "Mon, 30 Nov 2026 18:00:00 GMT"),
                ("user-agent", "not signed"),
            ],
        );
        let expected = "PUT\n\n\n512\n\napplication/octet-stream\n\n\n\n\n\nbytes=0-511\n\
            x-ms-date:Mon, 30 Nov 2026 18:00:00 GMT\nx-ms-page-write:update\nx-ms-version:2026-04-06\n\
            /devstoreaccount1/devstoreaccount1/stemcell/b.vhd\ncomp:page\ntimeout:30";
        assert_eq!(string_to_sign("devstoreaccount1", &request), expected);
    }

    #[test]
    fn zero_content_length_is_signed_as_empty() {
        let request = request(
            "https://acct.blob.core.windows.net/stemcell/x.vhd",
            Method::Put,
            &[("content-length", "0"), ("x-ms-blob-type", "PageBlob")],
        );
        let signed = string_to_sign("acct", &request);
        assert!(signed.starts_with("PUT\n\n\n\n"), "{signed}");
        assert!(signed.ends_with("x-ms-blob-type:PageBlob\n/acct/stemcell/x.vhd"));
    }

    #[test]
    fn query_values_are_decoded_grouped_and_sorted() {
        let url = Url::parse(
            "https://a.blob.core.windows.net/c?restype=container&COMP=list&include=b&include=a%2Cz",
        )
        .unwrap();
        assert_eq!(
            canonicalized_resource("a", &url),
            "/a/c\ncomp:list\ninclude:a,z,b\nrestype:container"
        );
    }

    #[test]
    fn signing_sets_date_and_authorization() {
        let policy = SharedKeyPolicy::new("acct", Secret::new("c2VjcmV0LWtleQ=="));
        let mut request = request("https://acct.blob.core.windows.net/c/b", Method::Get, &[]);
        policy.sign(&mut request).unwrap();
        let auth = request
            .headers()
            .get_optional_str(&"authorization".into())
            .unwrap()
            .to_owned();
        assert!(auth.starts_with("SharedKey acct:"), "{auth}");
        assert!(
            request
                .headers()
                .get_optional_str(&"x-ms-date".into())
                .is_some()
        );
    }

    #[test]
    fn debug_output_never_shows_the_key() {
        let policy = SharedKeyPolicy::new("acct", Secret::new("c2VjcmV0LWtleQ=="));
        let printed = format!("{policy:?}");
        assert!(!printed.contains("c2VjcmV0LWtleQ"), "{printed}");
        assert!(printed.contains("acct"));
    }
}
