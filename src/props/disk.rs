//! disk_types cloud_properties, read by create_disk and update_disk.

use serde_json::Value;

use crate::cid::Caching;
use crate::error::CpiResult;
use crate::fields::Fields;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct DiskCloudProps {
    /// Managed disk SKU; when absent create_disk picks a default from the VM size.
    pub storage_account_type: Option<String>,
    /// As given; `caching()` applies the default. update_disk needs to know whether it was set.
    pub caching: Option<Caching>,
    pub iops: Option<u64>,
    pub mbps: Option<u64>,
    pub disk_encryption_set_name: Option<String>,
}

impl DiskCloudProps {
    pub(crate) fn from_value(value: &Value) -> CpiResult<Self> {
        let fields = Fields::new(value, "disk cloud_properties")?;
        Ok(Self {
            storage_account_type: fields.string("storage_account_type")?,
            caching: fields.str("caching")?.map(str::parse).transpose()?,
            iops: fields.u64("iops")?,
            mbps: fields.u64("mbps")?,
            disk_encryption_set_name: fields.string("disk_encryption_set_name")?,
        })
    }

    /// Data disks default to no host caching.
    pub(crate) fn caching(&self) -> Caching {
        self.caching.unwrap_or(Caching::None)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn empty_props_default_to_no_caching() {
        for value in [json!({}), Value::Null] {
            let props = DiskCloudProps::from_value(&value).unwrap();
            assert_eq!(props, DiskCloudProps::default());
            assert_eq!(props.caching(), Caching::None);
        }
    }

    #[test]
    fn every_key_is_read_and_unknown_keys_are_tolerated() {
        let props = DiskCloudProps::from_value(&json!({
            "storage_account_type": "PremiumV2_LRS",
            "caching": "ReadOnly",
            "iops": 5000,
            "mbps": 200,
            "disk_encryption_set_name": "des",
            "something_else": {"x": 1}
        }))
        .unwrap();
        assert_eq!(
            props,
            DiskCloudProps {
                storage_account_type: Some("PremiumV2_LRS".into()),
                caching: Some(Caching::ReadOnly),
                iops: Some(5000),
                mbps: Some(200),
                disk_encryption_set_name: Some("des".into()),
            }
        );
        assert_eq!(props.caching(), Caching::ReadOnly);
    }

    #[test]
    fn errors_name_the_field() {
        let message = |value: Value| {
            DiskCloudProps::from_value(&value)
                .unwrap_err()
                .message()
                .to_string()
        };
        assert_eq!(
            message(json!({"caching": "Write"})),
            "Unknown disk caching Write"
        );
        assert_eq!(
            message(json!({"iops": "3000"})),
            "Invalid disk cloud_properties: 'iops' must be a non-negative integer, got a string"
        );
        assert_eq!(
            message(json!({"storage_account_type": ["Premium_LRS"]})),
            "Invalid disk cloud_properties: 'storage_account_type' must be a string, got an array"
        );
        assert_eq!(
            message(json!("Premium_LRS")),
            "Invalid disk cloud_properties: must be an object, got a string"
        );
    }
}
