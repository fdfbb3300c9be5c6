//! Network security group references: a name, or `{name, resource_group_name}`.

use serde_json::Value;

use crate::error::{CpiError, CpiResult};
use crate::fields::{Fields, type_error};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityGroup {
    pub name: String,
    /// Where to look for the NSG; `None` means the network's resource group, then the default.
    pub resource_group_name: Option<String>,
}

impl SecurityGroup {
    /// Reads a `security_group` value found at `path` in `owner` (both only name the field in
    /// messages); a hash without `name` counts as unset, as in the Ruby CPI
    /// (the next level of precedence applies).
    pub(crate) fn from_value(value: &Value, owner: &str, path: &str) -> CpiResult<Option<Self>> {
        match value {
            Value::Null => Ok(None),
            Value::String(name) => Ok(Some(Self {
                name: name.clone(),
                resource_group_name: None,
            })),
            Value::Object(_) => {
                let fields = Fields::at(value, owner, path)?;
                let Some(name) = fields.string("name")? else {
                    return Ok(None);
                };
                Ok(Some(Self {
                    name,
                    resource_group_name: fields.string("resource_group_name")?,
                }))
            }
            other => Err(type_error(
                owner,
                path,
                "a string or an object {name, resource_group_name}",
                other,
            )),
        }
    }

    pub(crate) fn from_field(fields: &Fields, key: &str) -> CpiResult<Option<Self>> {
        match fields.get(key) {
            None => Ok(None),
            Some(value) => Self::from_value(value, fields.owner(), &fields.path(key)),
        }
    }
}

/// The NSG for a NIC, by the Ruby CPI's precedence: vm_type / vm_extension, then the network,
/// then the global `default_security_group`. An empty name is an error once it is chosen.
pub(crate) fn effective_security_group<'a>(
    vm_props: Option<&'a SecurityGroup>,
    network: Option<&'a SecurityGroup>,
    global_default: Option<&'a SecurityGroup>,
) -> CpiResult<Option<&'a SecurityGroup>> {
    match vm_props.or(network).or(global_default) {
        Some(group) if group.name.is_empty() => Err(CpiError::cloud(
            "Cannot specify an empty string to the network security group",
        )),
        chosen => Ok(chosen),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn parse(value: Value) -> CpiResult<Option<SecurityGroup>> {
        SecurityGroup::from_value(&value, "vm cloud_properties", "security_group")
    }

    fn named(name: &str, resource_group_name: Option<&str>) -> SecurityGroup {
        SecurityGroup {
            name: name.into(),
            resource_group_name: resource_group_name.map(Into::into),
        }
    }

    #[test]
    fn accepts_a_name_or_a_hash() {
        assert_eq!(parse(json!("nsg")), Ok(Some(named("nsg", None))));
        assert_eq!(
            parse(json!({"name": "fake_sg_name", "resource_group_name": "fake_resource_group"})),
            Ok(Some(named("fake_sg_name", Some("fake_resource_group"))))
        );
        assert_eq!(parse(json!({"name": "n"})), Ok(Some(named("n", None))));
        assert_eq!(parse(json!({"resource_group_name": "rg"})), Ok(None));
        assert_eq!(parse(Value::Null), Ok(None));
    }

    #[test]
    fn rejects_other_shapes_naming_the_field() {
        assert_eq!(
            parse(json!(7)).unwrap_err().message(),
            "Invalid vm cloud_properties: 'security_group' must be a string or an object {name, resource_group_name}, got an integer"
        );
        assert_eq!(
            parse(json!({"name": 1})).unwrap_err().message(),
            "Invalid vm cloud_properties: 'security_group.name' must be a string, got an integer"
        );
    }

    #[test]
    fn precedence_is_vm_then_network_then_default() {
        let vm = named("vm", None);
        let network = named("network", None);
        let default = named("default", Some("rg"));
        assert_eq!(
            effective_security_group(Some(&vm), Some(&network), Some(&default)),
            Ok(Some(&vm))
        );
        assert_eq!(
            effective_security_group(None, Some(&network), Some(&default)),
            Ok(Some(&network))
        );
        assert_eq!(
            effective_security_group(None, None, Some(&default)),
            Ok(Some(&default))
        );
        assert_eq!(effective_security_group(None, None, None), Ok(None));
        let empty = named("", None);
        assert_eq!(
            effective_security_group(Some(&empty), Some(&network), None),
            Err(CpiError::cloud(
                "Cannot specify an empty string to the network security group"
            ))
        );
        // An empty name that is not chosen does no harm.
        assert_eq!(
            effective_security_group(Some(&vm), Some(&empty), None),
            Ok(Some(&vm))
        );
    }
}
