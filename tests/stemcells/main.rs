//! Stemcells: create_stemcell and delete_stemcell through the binary, the streaming page-blob
//! upload, cross-account copies and the blob front's limits. (The upload's log test is its
//! own binary, `tests/stemcell_upload_logs.rs`: see its module doc.)

#[path = "../support/mod.rs"]
mod support;

mod blob_limits;
mod stemcell_copy;
mod stemcell_upload;
mod stemcells;
