//! azure-sim: a local Azure Resource Manager simulator, plus test support (Azurite harness,
//! test stemcell generator) shared by the CPI's tests, benchmarks and the demo.

pub mod azurite;
pub mod stemcell_gen;
