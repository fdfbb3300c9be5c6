//! azure-sim's integration tests, in one binary (one link instead of one per file): its ARM
//! API, tokens and TLS, faults, the blob front and the storage back ends, spec examples, and the
//! `azure-sim` binary.

mod common;

mod arm_basic;
mod azure_identity_compat;
mod binary;
mod disk_migration;
mod disk_upload;
mod faults;
mod resources;
mod spec_examples;
mod storage_backend;
mod traffic;
mod transport_tokens;
mod vm_options;
