//! azure-sim: a local Azure Resource Manager simulator, plus test support (Azurite harness).

pub mod azurite;
