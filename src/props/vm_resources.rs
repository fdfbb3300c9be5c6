//! The argument of calculate_vm_cloud_properties: `{cpu, ram, ephemeral_disk_size}`.

use serde_json::Value;

use crate::error::{CpiError, CpiResult};
use crate::fields::Fields;

const REQUIRED_KEYS: [&str; 3] = ["cpu", "ram", "ephemeral_disk_size"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VmResources {
    pub cpu: u64,
    pub(crate) ram_mib: u64,
    pub(crate) ephemeral_disk_size_mib: u64,
}

impl VmResources {
    pub(crate) fn from_value(value: &Value) -> CpiResult<Self> {
        let fields = Fields::new(value, "vm_resources")?;
        // Ruby treats `false` like a missing key here (`reject { |key| desired[key] }`).
        let missing: Vec<String> = REQUIRED_KEYS
            .iter()
            .filter(|key| matches!(fields.get(key), None | Some(Value::Bool(false))))
            .map(|key| format!("'{key}'"))
            .collect();
        if !missing.is_empty() {
            return Err(CpiError::cloud(format!(
                "Missing VM cloud properties: {}",
                missing.join(", ")
            )));
        }
        // Present by the check above.
        let required = |key: &str| fields.u64(key).map(Option::unwrap_or_default);
        Ok(Self {
            cpu: required("cpu")?,
            ram_mib: required("ram")?,
            ephemeral_disk_size_mib: required("ephemeral_disk_size")?,
        })
    }

    /// The `ephemeral_disk.size` answered to the Director: rounded up to whole GiB, in MiB.
    pub(crate) fn ephemeral_disk_size_rounded_mib(&self) -> u64 {
        self.ephemeral_disk_size_mib
            .div_ceil(1024)
            .saturating_mul(1024)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_the_three_sizes() {
        let resources =
            VmResources::from_value(&json!({"cpu": 2, "ram": 4096, "ephemeral_disk_size": 10241}))
                .unwrap();
        assert_eq!(
            resources,
            VmResources {
                cpu: 2,
                ram_mib: 4096,
                ephemeral_disk_size_mib: 10241
            }
        );
        assert_eq!(resources.ephemeral_disk_size_rounded_mib(), 11264);
        let exact = VmResources {
            ephemeral_disk_size_mib: 2048,
            ..resources
        };
        assert_eq!(exact.ephemeral_disk_size_rounded_mib(), 2048);
        let huge = VmResources {
            ephemeral_disk_size_mib: u64::MAX,
            ..resources
        };
        assert_eq!(huge.ephemeral_disk_size_rounded_mib(), u64::MAX);
    }

    #[test]
    fn names_every_missing_key_like_the_ruby_cpi() {
        let message = |value: Value| {
            VmResources::from_value(&value)
                .unwrap_err()
                .message()
                .to_string()
        };
        assert_eq!(
            message(json!({"cpu": 2})),
            "Missing VM cloud properties: 'ram', 'ephemeral_disk_size'"
        );
        assert_eq!(
            message(json!({})),
            "Missing VM cloud properties: 'cpu', 'ram', 'ephemeral_disk_size'"
        );
        assert_eq!(
            message(json!({"cpu": 1, "ram": null, "ephemeral_disk_size": false})),
            "Missing VM cloud properties: 'ram', 'ephemeral_disk_size'"
        );
        assert_eq!(
            message(json!({"cpu": "2", "ram": 1, "ephemeral_disk_size": 1})),
            "Invalid vm_resources: 'cpu' must be a non-negative integer, got a string"
        );
        let err = VmResources::from_value(&json!({"cpu": 1})).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
    }
}
