//! Azurite harness (placeholder).
