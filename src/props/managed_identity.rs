//! The `managed_identity` of a VM (vm_types / vm_extensions, or the global
//! `default_managed_identity`): `{type, user_assigned_identity_name}`.

use serde_json::Value;

use crate::error::{CpiError, CpiResult};
use crate::fields::Fields;

const USER_ASSIGNED: &str = "UserAssigned";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagedIdentity {
    SystemAssigned,
    /// A user-assigned identity, looked up in the VM's resource group.
    UserAssigned {
        name: String,
    },
}

impl ManagedIdentity {
    /// Any `type` other than `UserAssigned` (including none) gives a system-assigned identity:
    /// that is what the Ruby CPI puts in the VM body.
    pub(crate) fn from_value(value: &Value, owner: &str, path: &str) -> CpiResult<Self> {
        let fields = Fields::at(value, owner, path)?;
        if fields.str("type")? != Some(USER_ASSIGNED) {
            return Ok(Self::SystemAssigned);
        }
        // The key is `user_assigned_identity_name`; the message keeps the Ruby CPI's wording.
        let name = fields
            .string("user_assigned_identity_name")?
            .ok_or_else(|| {
                CpiError::cloud(format!(
                    "'user_assign_identity_name' is required when 'type' is '{USER_ASSIGNED}'"
                ))
            })?;
        Ok(Self::UserAssigned { name })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> CpiResult<ManagedIdentity> {
        ManagedIdentity::from_value(&value, "vm cloud_properties", "managed_identity")
    }

    #[test]
    fn system_assigned_ignores_a_user_identity_name() {
        assert_eq!(
            parse(json!({"type": "SystemAssigned"})),
            Ok(ManagedIdentity::SystemAssigned)
        );
        assert_eq!(
            parse(json!({"type": "SystemAssigned", "user_assigned_identity_name": "x"})),
            Ok(ManagedIdentity::SystemAssigned)
        );
    }

    #[test]
    fn user_assigned_needs_a_name() {
        assert_eq!(
            parse(
                json!({"type": "UserAssigned", "user_assigned_identity_name": "fake_identity_name"})
            ),
            Ok(ManagedIdentity::UserAssigned {
                name: "fake_identity_name".into()
            })
        );
        assert_eq!(
            parse(json!({"type": "UserAssigned"})),
            Err(CpiError::cloud(
                "'user_assign_identity_name' is required when 'type' is 'UserAssigned'"
            ))
        );
    }

    #[test]
    fn rejects_non_objects_naming_the_field() {
        assert_eq!(
            parse(json!("SystemAssigned")).unwrap_err().message(),
            "Invalid vm cloud_properties: 'managed_identity' must be an object, got a string"
        );
    }
}
