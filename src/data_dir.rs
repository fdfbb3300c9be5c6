//! The CPI's directory for what outlives one call (the day's VM size list, telemetry events
//! waiting to be sent).

use std::path::PathBuf;

/// Overrides the data directory (the job's `bin/cpi` sets it; tests too); otherwise the BOSH
/// job's data directory is used when it exists.
pub(crate) const DATA_DIR_ENV: &str = "BOSH_AZURE_CPI_DATA_DIR";
const JOB_DATA_DIR: &str = "/var/vcap/data/azure_cpi";

/// The data directory, if it exists.
pub(crate) fn data_dir() -> Option<PathBuf> {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => Some(PathBuf::from(JOB_DATA_DIR)),
    }
    .filter(|dir| dir.is_dir())
}
