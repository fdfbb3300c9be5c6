//! Read-modify-write without lost updates: the one optimistic-concurrency loop for every
//! resource the CPI changes from what it read (VM data disks and tags, gallery version tags and
//! deletions). The write carries the read's ETag as `If-Match`; when another writer changed the
//! resource in between, Azure answers 412 and the resource is read and decided on again.

use std::time::Duration;

use rand::RngExt;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{ApiKind, ArmClient, ResourcePath};
use crate::azure::{Deadline, Error};

/// How many times a decision is recomputed after losing a race. Each loss means another write
/// landed, so this bounds progress, not time (the deadline does).
const ATTEMPTS: u32 = 32;

/// A resource that may carry an ETag. Clouds that send none (older Azure Stack profiles, and
/// gallery versions, whose spec declares none) get unconditional writes, guarded only by the
/// same-host lock the caller holds.
pub(crate) trait Etagged {
    fn etag(&self) -> Option<&str>;
}

/// What to do with the resource as read.
pub(crate) enum Write {
    Patch(Value),
    Delete,
}

impl ArmClient {
    /// Reads `path` (or starts from `first`, a read the caller has just made), asks `decide` for
    /// a write (`None`: nothing to write) and sends it under the read's ETag; a 412 starts over.
    /// Answers `None` when the resource does not exist, on the read or on the write, else what
    /// `decide` answered for the state that was written.
    pub(crate) async fn read_modify_write<T, R, E>(
        &self,
        path: &ResourcePath,
        api: ApiKind,
        deadline: Deadline,
        mut first: Option<T>,
        mut decide: impl FnMut(&T) -> Result<(Option<Write>, R), E>,
    ) -> Result<Option<R>, E>
    where
        T: Etagged + DeserializeOwned,
        E: From<Error>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let read = match first.take() {
                Some(read) => read,
                None => match self.get::<T>(path, api, deadline).await? {
                    Some(read) => read,
                    None => return Ok(None),
                },
            };
            let (write, outcome) = decide(&read)?;
            let Some(write) = write else {
                return Ok(Some(outcome));
            };
            let written = match (write, read.etag()) {
                (Write::Patch(body), Some(etag)) => self
                    .patch_if_match::<_, Value>(path, api, &body, etag, deadline)
                    .await
                    .map(drop),
                (Write::Patch(body), None) => self
                    .patch::<_, Value>(path, api, &body, deadline)
                    .await
                    .map(drop),
                (Write::Delete, Some(etag)) => self
                    .delete_if_match(path, api, etag, deadline)
                    .await
                    .map(drop),
                (Write::Delete, None) => self.delete(path, api, deadline).await.map(drop),
            };
            match written {
                Ok(()) => return Ok(Some(outcome)),
                Err(e) if e.is_precondition_failed() && attempt < ATTEMPTS => {
                    tracing::debug!(resource = %path, attempt, "changed since it was read; reading it again");
                    // Jitter spreads writers that lost the same race, so one of them wins next.
                    let pause = Duration::from_millis(
                        rand::rng().random_range(0..=40 * u64::from(attempt.min(5))),
                    );
                    if pause >= deadline.remaining() {
                        return Err(e.into());
                    }
                    tokio::time::sleep(pause).await;
                }
                Err(e) if e.is_not_found() => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}
