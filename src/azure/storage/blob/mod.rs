//! Blob data plane (placeholder).
