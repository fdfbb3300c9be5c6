//! Storage: accounts through ARM, and the blob data plane.

pub mod account;
pub mod blob;
pub mod blob_disk;

pub use account::{StorageAccess, StorageAccount, StorageAccounts, StorageAuth};
