//! Page blobs: create, Get Page Ranges, and the small metadata-only record blob (Put Page is
//! [`super::PageWriter`]).

use std::collections::HashMap;
use std::ops::Range;

use azure_storage_blob::models::PageBlobClientCreateOptions;
use futures::StreamExt;

use super::BlobService;
use crate::error::{CpiError, CpiResult};

/// Page blobs are addressed in 512-byte pages.
pub const PAGE_SIZE: u64 = 512;
/// Azure rejects a Put Page `update` larger than 4 MiB (413). Azurite does not, so we check.
pub const MAX_PUT_PAGE_BYTES: u64 = 4 * 1024 * 1024;
/// Size of the record blob that carries only metadata (light stemcells, reused gallery versions).
pub const RECORD_BLOB_SIZE: u64 = 1024;

impl BlobService {
    /// Creates (or overwrites) an empty page blob of `size` bytes with `metadata`.
    pub async fn create_page_blob(
        &self,
        container: &str,
        blob: &str,
        size: u64,
        metadata: &HashMap<String, String>,
    ) -> CpiResult<()> {
        if !size.is_multiple_of(PAGE_SIZE) {
            return Err(CpiError::cloud(format!(
                "Cannot create page blob '{container}/{blob}': size {size} is not a multiple of {PAGE_SIZE}"
            )));
        }
        let options = PageBlobClientCreateOptions {
            metadata: Some(metadata.clone()),
            ..Default::default()
        };
        self.client
            .blob_client(container, blob)
            .page_blob_client()
            .create(size, Some(options))
            .await
            .map(|_| ())
            .map_err(|e| self.failure("create page blob", container, Some(blob), &e))
    }

    /// The written (non-clear) byte ranges of a page blob, in ascending order, as returned by
    /// the service (adjacent ranges are not necessarily merged).
    pub async fn page_ranges(&self, container: &str, blob: &str) -> CpiResult<Vec<Range<u64>>> {
        let client = self.client.blob_client(container, blob).page_blob_client();
        let mut pages = client
            .list_page_ranges(None)
            .map_err(|e| self.failure("list page ranges of", container, Some(blob), &e))?;
        let mut ranges = Vec::new();
        while let Some(page) = pages.next().await {
            let list = page
                .and_then(|response| response.into_model())
                .map_err(|e| self.failure("list page ranges of", container, Some(blob), &e))?;
            for range in list.page_ranges {
                match (range.start, range.end) {
                    (Some(start), Some(end)) if start >= 0 && end >= start => {
                        ranges.push(start as u64..end as u64 + 1);
                    }
                    other => {
                        return Err(CpiError::cloud(format!(
                            "Unexpected page range {other:?} listed for '{container}/{blob}'"
                        )));
                    }
                }
            }
        }
        Ok(ranges)
    }

    /// Creates the 1 KiB empty page blob whose only content is its metadata (the Ruby CPI's
    /// light-stemcell record).
    pub async fn create_record_blob(
        &self,
        container: &str,
        blob: &str,
        metadata: &HashMap<String, String>,
    ) -> CpiResult<()> {
        self.create_page_blob(container, blob, RECORD_BLOB_SIZE, metadata)
            .await
    }
}
