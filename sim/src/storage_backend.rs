//! Checks against the blob storage backend (Azurite): does a source blob exist, and how big is it.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::state::Sim;

const BLOB_API_VERSION: &str = "2021-08-06";

/// `None` when no backend is configured (nothing can be checked); `Some(None)` when the blob
/// does not exist (or lies outside the backend); `Some(Some(size))` otherwise.
pub(crate) async fn blob_size(sim: &Sim, uri: &str) -> Option<Option<u64>> {
    let backend = sim.config.storage.as_ref()?;
    let endpoint = backend.blob_endpoint.as_str().trim_end_matches('/');
    if !uri.starts_with(endpoint) {
        return Some(None);
    }
    let Ok(url) = url::Url::parse(uri) else {
        return Some(None);
    };
    let Ok(key) = STANDARD.decode(&backend.account_key) else {
        return Some(None);
    };
    let date = httpdate::fmt_http_date(std::time::SystemTime::now());
    let canonical_resource = format!("/{}{}", backend.account_name, url.path());
    let string_to_sign = format!(
        "HEAD\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{BLOB_API_VERSION}\n{canonical_resource}"
    );
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
        return Some(None);
    };
    mac.update(string_to_sign.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let response = sim
        .blob_client
        .head(url)
        .header("x-ms-date", date)
        .header("x-ms-version", BLOB_API_VERSION)
        .header(
            "Authorization",
            format!("SharedKey {}:{signature}", backend.account_name),
        )
        .send()
        .await;
    match response {
        Ok(r) if r.status().is_success() => Some(Some(
            r.headers()
                .get("content-length")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0),
        )),
        _ => Some(None),
    }
}
