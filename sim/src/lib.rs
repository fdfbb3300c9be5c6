//! azure-sim: a local Azure Resource Manager simulator.
