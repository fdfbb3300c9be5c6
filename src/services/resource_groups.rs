//! Resource groups: a vm_type's own group is created when missing, as the Ruby CPI does (the
//! default one exists: the CPI works in it).

use serde::Deserialize;
use serde_json::{Value, json};

use super::Azure;
use crate::azure::ApiKind;
use crate::error::CpiResult;

/// The group's location, or `None` when it does not exist.
pub(crate) async fn location(azure: &Azure<'_>, name: &str) -> CpiResult<Option<String>> {
    #[derive(Deserialize)]
    struct Located {
        location: String,
    }
    let path = azure.arm.resource_group_path(name);
    let found: Option<Located> = azure.get(&path, ApiKind::Resources).await?;
    Ok(found.map(|group| group.location))
}

pub(crate) async fn ensure(azure: &Azure<'_>, name: &str, location: &str) -> CpiResult<()> {
    let path = azure.arm.resource_group_path(name);
    if azure
        .get::<Value>(&path, ApiKind::Resources)
        .await?
        .is_some()
    {
        return Ok(());
    }
    tracing::info!(
        resource_group = name,
        location,
        "creating the VM's resource group"
    );
    azure
        .arm
        .put::<_, Value>(
            &path,
            ApiKind::Resources,
            // Ruby also sends `name`, which the spec marks read-only.
            &json!({ "location": location }),
            azure.deadline,
        )
        .await?;
    Ok(())
}
