//! Azure access: credentials, the ARM client, and storage (accounts and blobs).

pub mod compute;
pub mod network;
pub mod storage;
