//! The CPI as the Director sees it, through the real binary: the wire contract, arbitrary
//! input, secrets, oversized input, an unreachable Azure and telemetry; and the shape of the
//! code (its module graph). One test binary for the area, so the suite links the crate a few
//! times rather than once per file.

#[path = "../support/mod.rs"]
mod support;

mod code_shape;
mod contract;
mod input_limits;
mod network_failures;
mod robustness;
mod secrets;
mod telemetry;
