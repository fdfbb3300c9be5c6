//! bosh-azure-cpi: the BOSH Azure CPI as a library; `src/main.rs` is the thin binary.

// A panic is a bug the Director sees as an internal error: fallible steps return errors.
// Unit tests may unwrap (clippy.toml).
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub(crate) mod actions;
pub(crate) mod agent_settings;
pub mod azure;
pub(crate) mod call;
pub(crate) mod cid;
pub mod config;
pub(crate) mod data_dir;
pub(crate) mod error;
pub(crate) mod fields;
pub(crate) mod locks;
pub mod logging;
pub(crate) mod names;
pub(crate) mod props;
pub mod rpc;
pub mod serve;
pub(crate) mod services;
pub mod stemcell;
pub mod telemetry;

pub use error::CpiError;
