//! Microsoft.Compute resources (placeholder).
