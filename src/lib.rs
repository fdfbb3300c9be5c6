//! bosh-azure-cpi: the BOSH Azure CPI as a library; `src/main.rs` is the thin binary.

// A panic is a bug the Director sees as an internal error: fallible steps return errors.
// Unit tests may unwrap (clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod actions;
pub mod agent_settings;
pub mod azure;
pub mod call;
pub mod cid;
pub mod config;
pub mod data_dir;
pub mod error;
pub(crate) mod fields;
pub mod locks;
pub mod logging;
pub mod names;
pub mod props;
pub mod rpc;
pub mod serve;
pub mod stemcell;
pub mod telemetry;

pub use error::{CpiError, CpiResult};
