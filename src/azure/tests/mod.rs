//! Tests of the Azure layer against loopback servers, through its public API.

mod arm;
mod logging;
mod props;
mod sim;
mod storage;
mod support;
mod tokens;
