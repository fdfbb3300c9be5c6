//! `info`: the CPI's API version and the stemcell formats it takes. No Azure call.

use serde_json::{Value, json};

pub(super) fn info() -> Value {
    json!({"api_version": 2, "stemcell_formats": ["azure-vhd", "azure-light"]})
}
