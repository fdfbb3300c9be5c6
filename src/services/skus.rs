//! The VM sizes a location offers (Azure's resource SKUs), cached for a day in a file under
//! the CPI's data directory when there is one. The list is large (thousands of entries over
//! several pages) and changes rarely, while create_vm, create_disk, attach_disk and
//! calculate_vm_cloud_properties all read it.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::Azure;
use crate::azure::compute::sku::ResourceSku;
use crate::azure::{ApiKind, ResourcePath};
use crate::data_dir::data_dir;
use crate::error::{CpiError, CpiResult};

const CACHE_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Serialize, Deserialize)]
struct CacheFile {
    /// Seconds since the Unix epoch when Azure sent the list.
    fetched_at: u64,
    skus: Vec<Value>,
}

/// The VM sizes offered in a location (every page), to read their capabilities.
pub(crate) async fn vm_skus(azure: &Azure<'_>, location: &str) -> CpiResult<Vec<ResourceSku>> {
    let cache = cache_path(azure, location);
    let cached = cache.as_deref().and_then(read_fresh);
    let raw = match cached {
        Some(skus) => skus,
        None => {
            let fetched = fetch(azure, location).await?;
            if let Some(path) = &cache {
                write_cache(path, &fetched);
            }
            fetched
        }
    };
    raw.into_iter()
        .map(|sku| {
            serde_json::from_value(sku)
                .map_err(|e| CpiError::cloud(format!("Azure sent an unreadable resource SKU: {e}")))
        })
        .collect()
}

async fn fetch(azure: &Azure<'_>, location: &str) -> CpiResult<Vec<Value>> {
    let path = ResourcePath::subscription(azure.arm.subscription_id())
        .provider("Microsoft.Compute")
        .segment("skus")
        .query("$filter", &format!("location eq '{location}'"));
    let skus: Vec<Value> = azure
        .arm
        .list(&path, ApiKind::ResourceSkus, azure.deadline)
        .await?;
    Ok(skus
        .into_iter()
        .filter(|sku| sku.get("resourceType").and_then(Value::as_str) == Some("virtualMachines"))
        .collect())
}

/// One file per cloud, subscription and location, so CPIs of several clouds can share a
/// Director VM without reading each other's lists.
fn cache_path(azure: &Azure<'_>, location: &str) -> Option<PathBuf> {
    let dir = data_dir()?;
    // The endpoint and subscription, as the URL of the subscription says them.
    let subscription = azure
        .arm
        .url(
            &ResourcePath::subscription(azure.arm.subscription_id()),
            ApiKind::ResourceSkus,
        )
        .ok()?;
    let mut key = Sha256::new();
    key.update(subscription.as_str());
    key.update([0]);
    key.update(location.to_ascii_lowercase());
    let digest = format!("{:x}", key.finalize());
    Some(dir.join(format!("resource-skus-{}.json", &digest[..16])))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// The cached list when it is younger than a day; anything unreadable counts as no cache.
fn read_fresh(path: &Path) -> Option<Vec<Value>> {
    let text = std::fs::read(path).ok()?;
    let cache: CacheFile = serde_json::from_slice(&text).ok()?;
    let age = now_secs().checked_sub(cache.fetched_at)?;
    if age >= CACHE_LIFETIME.as_secs() {
        return None;
    }
    tracing::debug!(path = %path.display(), age_seconds = age, "resource SKUs from the cache");
    Some(cache.skus)
}

/// Best effort: a cache that cannot be written only costs the next call a fetch. Written to a
/// temporary name and renamed, so a concurrent reader never sees half a file.
fn write_cache(path: &Path, skus: &[Value]) {
    let cache = CacheFile {
        fetched_at: now_secs(),
        skus: skus.to_vec(),
    };
    let temporary = path.with_extension(format!("json.{}.tmp", std::process::id()));
    let written = serde_json::to_vec(&cache)
        .map_err(std::io::Error::other)
        .and_then(|bytes| std::fs::write(&temporary, bytes))
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        tracing::warn!(path = %path.display(), error = %e, "cannot write the resource SKU cache");
    }
}
