//! Stemcells: create_stemcell and delete_stemcell through the binary, the streaming page-blob
//! upload, cross-account copies, the blob front's limits and keyless storage accounts. (The upload's log test is its
//! own binary, `tests/stemcell_upload_logs.rs`: see its module doc.)

#[path = "../support/mod.rs"]
mod support;

mod blob_limits;
mod blob_tls_deadline;
mod keyless_storage;
mod stemcell_copy;
mod stemcell_upload;
mod stemcells;
