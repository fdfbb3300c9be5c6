//! Storage: accounts through ARM, and the blob data plane.

pub(crate) mod account;
pub mod blob;
pub(crate) mod blob_disk;

pub use account::{StorageAccess, StorageAccount, StorageAccounts, StorageAuth};
