//! `delete_stemcell`: removes the managed images create_vm made from the stemcell (named
//! after its CID, in the default resource group), then its blob: from the default storage
//! account when `use_default_account_for_cleaning` is set, else from every account of the
//! default resource group, as the Ruby CPI does. A CID that no longer exists is not an error.
//!
//! With `compute_gallery_name`, the CID is first removed from its gallery image version's
//! `stemcell_references` (the version is deleted with its last reference; definitions never
//! are). The version is found from the CID's blob metadata, not from ARM's tag-filtered
//! resource list, which returns no tags. The VHD the version was made from outlives the CID
//! that uploaded it while other CIDs use the version, and goes with the version.
//!
//! Every call also removes the partial blobs of killed uploads.

use serde_json::Value;

use crate::cid::StemcellCid;
use crate::error::CpiResult;
use crate::services::galleries::{self, OwnBlob};
use crate::services::{Azure, images, stemcell_blobs};

pub(super) async fn delete_stemcell(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<Value> {
    let result = delete_stemcell_blobs(azure, cid).await;
    stemcell_blobs::remove_abandoned_uploads(azure, None).await;
    result
}

async fn delete_stemcell_blobs(azure: &Azure<'_>, cid: &StemcellCid) -> CpiResult<Value> {
    let mut own_blob = OwnBlob::Delete;
    if let Some(gallery) = azure.config.compute_gallery_name.as_deref()
        && !cid.is_light()
    {
        own_blob = galleries::release(azure, gallery, cid).await?;
    }
    if !cid.is_light() {
        images::delete_user_images_of(azure, cid).await?;
    }
    if own_blob == OwnBlob::KeepAsSource {
        tracing::info!(stemcell = %cid, "the stemcell blob stays: it is the source VHD of a gallery image version other stemcells still use, and goes with the version");
        return Ok(Value::Null);
    }
    let blob = cid.blob_name();
    if azure.config.use_default_account_for_cleaning || cid.is_light() {
        azure
            .default_blobs()
            .await?
            .delete_blob(stemcell_blobs::CONTAINER, &blob)
            .await?;
        return Ok(Value::Null);
    }
    stemcell_blobs::delete_in_every_account(azure, cid).await?;
    Ok(Value::Null)
}
