//! Cross-process locks: a Director runs many CPI processes at once, so in-process mutexes are
//! useless. Lock files live where the Ruby CPI keeps them (`/tmp/azure_cpi/bosh-lock-<name>`)
//! and use the same `flock` semantics, so the two CPIs respect each other's locks on one host.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{CpiError, CpiResult};

pub(crate) const DEFAULT_LOCK_DIR: &str = "/tmp/azure_cpi";

/// Held until dropped; the kernel also releases it if the process dies.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    Shared,
    Exclusive,
}

#[derive(Debug, Clone)]
pub(crate) struct LockDir {
    dir: PathBuf,
}

impl Default for LockDir {
    fn default() -> Self {
        Self::new(DEFAULT_LOCK_DIR)
    }
}

impl LockDir {
    pub(crate) fn new(dir: impl AsRef<Path>) -> Self {
        Self {
            dir: dir.as_ref().to_path_buf(),
        }
    }

    pub(crate) fn path_of(&self, name: &str) -> PathBuf {
        // Names come from Azure resource names; keep them inside the lock directory.
        let safe: String = name
            .chars()
            .map(|c| if c == '/' || c == '\0' { '_' } else { c })
            .collect();
        self.dir.join(format!("bosh-lock-{safe}"))
    }

    fn open(&self, name: &str) -> CpiResult<File> {
        std::fs::create_dir_all(&self.dir).map_err(|e| {
            CpiError::cloud(format!(
                "Cannot create the lock directory '{}': {e}",
                self.dir.display()
            ))
        })?;
        let path = self.path_of(name);
        OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| {
                CpiError::cloud(format!(
                    "Cannot open the lock file '{}': {e}",
                    path.display()
                ))
            })
    }

    /// Takes the lock now or answers None when another process holds it.
    pub(crate) fn try_lock(&self, name: &str, mode: LockMode) -> CpiResult<Option<FileLock>> {
        let file = self.open(name)?;
        let attempt = match mode {
            LockMode::Shared => file.try_lock_shared(),
            LockMode::Exclusive => file.try_lock(),
        };
        match attempt {
            Ok(()) => Ok(Some(FileLock { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(CpiError::cloud(format!(
                "Cannot lock '{}': {e}",
                self.path_of(name).display()
            ))),
        }
    }

    /// Waits for the lock until `deadline`, polling so the wait stays cancellable and bounded.
    pub(crate) async fn lock(
        &self,
        name: &str,
        mode: LockMode,
        deadline: Instant,
    ) -> CpiResult<FileLock> {
        let mut pause = Duration::from_millis(20);
        loop {
            if let Some(lock) = self.try_lock(name, mode)? {
                return Ok(lock);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(CpiError::cloud(format!(
                    "Timed out waiting for the lock '{}' held by another CPI process",
                    self.path_of(name).display()
                )));
            }
            tokio::time::sleep(pause.min(deadline - now)).await;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_shared_shares() {
        let dir = tempfile::tempdir().unwrap();
        let locks = LockDir::new(dir.path());
        let first = locks
            .try_lock("availability-set-a", LockMode::Exclusive)
            .unwrap();
        assert!(first.is_some());
        assert!(
            locks
                .try_lock("availability-set-a", LockMode::Exclusive)
                .unwrap()
                .is_none()
        );
        assert!(
            locks
                .try_lock("availability-set-a", LockMode::Shared)
                .unwrap()
                .is_none()
        );
        assert!(
            locks
                .try_lock("availability-set-b", LockMode::Exclusive)
                .unwrap()
                .is_some()
        );
        drop(first);
        let shared1 = locks
            .try_lock("availability-set-a", LockMode::Shared)
            .unwrap();
        let shared2 = locks
            .try_lock("availability-set-a", LockMode::Shared)
            .unwrap();
        assert!(shared1.is_some() && shared2.is_some());
        assert!(dir.path().join("bosh-lock-availability-set-a").exists());
    }

    #[tokio::test]
    async fn waiting_stops_at_the_deadline_and_succeeds_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let locks = LockDir::new(dir.path());
        let held = locks.try_lock("x/y", LockMode::Exclusive).unwrap().unwrap();
        let err = locks
            .lock(
                "x/y",
                LockMode::Exclusive,
                Instant::now() + Duration::from_millis(100),
            )
            .await
            .unwrap_err();
        assert!(err.message().contains("bosh-lock-x_y"), "{}", err.message());
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                locks
                    .lock(
                        "x/y",
                        LockMode::Exclusive,
                        Instant::now() + Duration::from_secs(5),
                    )
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        assert!(waiter.await.unwrap().is_ok());
    }
}
