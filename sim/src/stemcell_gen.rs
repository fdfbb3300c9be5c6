//! Test stemcell generator (placeholder).
