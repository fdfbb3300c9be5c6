//! Microsoft.Network resources (placeholder).
