//! Tests of the Azure layer against loopback servers, through the API it gives the rest of the
//! crate (crate-private, so they live here rather than in `tests/`).

mod arm;
mod logging;
mod props;
mod sim;
mod storage;
mod support;
mod tokens;
