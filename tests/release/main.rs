//! The BOSH release: job templates rendered with Ruby's ERB against the Ruby release's
//! output, the job and package specs, and the renderer's fidelity to the Director.

#[path = "../release_support/mod.rs"]
mod release_support;

mod release_renderer;
mod release_structure;
mod release_templates;
