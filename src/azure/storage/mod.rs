//! Storage: accounts through ARM, and the blob data plane.

pub mod blob;
