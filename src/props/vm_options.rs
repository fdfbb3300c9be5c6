//! VM cloud_properties beyond the Ruby CPI 53.1.8: `security_profile` (the Ruby CPI's later
//! names, rules and messages), `spot`, `proximity_placement_group`, `encryption_at_host` and
//! `ultra_ssd_enabled`. Absent, each leaves the VM body as it was.

use serde_json::{Number, Value};

use crate::error::{CpiError, CpiResult};
use crate::fields::Fields;
use crate::names::quote;

const SECURITY_TYPE_TRUSTED_LAUNCH: &str = "TrustedLaunch";
const SECURITY_TYPE_STANDARD: &str = "Standard";
const SECURITY_TYPE_CONFIDENTIAL_VM: &str = "ConfidentialVM";

/// `security_profile.security_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecurityType {
    TrustedLaunch,
    Standard,
}

/// `security_profile`: given, the VM's security type is explicit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SecurityProfile {
    pub security_type: SecurityType,
    /// Default true for TrustedLaunch, false (and only false) for Standard. vTPM is always on
    /// for TrustedLaunch.
    pub secure_boot_enabled: bool,
}

impl SecurityProfile {
    pub(crate) fn is_trusted_launch(&self) -> bool {
        self.security_type == SecurityType::TrustedLaunch
    }
}

/// `spot.eviction_policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvictionPolicy {
    Delete,
    Deallocate,
}

impl EvictionPolicy {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Delete => "Delete",
            Self::Deallocate => "Deallocate",
        }
    }
}

/// `spot`: an Azure Spot VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spot {
    /// US dollars per hour, or -1 (the default): pay up to the on-demand price, never evicted
    /// for price.
    pub max_price: Number,
    pub eviction_policy: EvictionPolicy,
    /// When Azure has no Spot capacity or quota, create a regular VM in the same call.
    pub fallback_to_on_demand: bool,
}

/// `proximity_placement_group`: an existing group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProximityPlacementGroup {
    pub name: String,
    /// Defaults to the VM's resource group.
    pub resource_group_name: String,
}

/// Ruby's class name of a JSON value, for the messages the Ruby CPI words with `.class`.
fn ruby_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "NilClass",
        Value::Bool(true) => "TrueClass",
        Value::Bool(false) => "FalseClass",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Float",
        Value::String(_) => "String",
        Value::Array(_) => "Array",
        Value::Object(_) => "Hash",
    }
}

/// Ruby's `inspect` of a scalar, inputs cut by [`quote`].
fn ruby_inspect(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::String(s) => format!("\"{}\"", quote(s)),
        Value::Array(_) => "[...]".into(),
        Value::Object(_) => "{...}".into(),
        other => other.to_string(),
    }
}

/// Ruby's string interpolation of a value (`nil` is empty).
fn ruby_to_s(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => quote(s).to_string(),
        other => quote(&other.to_string()).to_string(),
    }
}

/// `security_profile`, with the Ruby CPI's checks in its order and its messages.
pub(super) fn parse_security_profile(fields: &Fields) -> CpiResult<Option<SecurityProfile>> {
    let Some(value) = fields.get("security_profile") else {
        return Ok(None);
    };
    let Some(hash) = value.as_object() else {
        return Err(CpiError::cloud(format!(
            "'security_profile' must be a Hash, but is a {}.",
            ruby_class(value)
        )));
    };
    // Ruby's Hash#fetch: an explicit null is a value, not the default.
    let security_type = match hash.get("security_type") {
        None => SecurityType::TrustedLaunch,
        Some(Value::String(s)) if s == SECURITY_TYPE_TRUSTED_LAUNCH => SecurityType::TrustedLaunch,
        Some(Value::String(s)) if s == SECURITY_TYPE_STANDARD => SecurityType::Standard,
        Some(Value::String(s)) if s == SECURITY_TYPE_CONFIDENTIAL_VM => {
            return Err(CpiError::cloud(
                "'security_type' 'ConfidentialVM' is not supported by this CPI, yet.",
            ));
        }
        Some(other) => {
            return Err(CpiError::cloud(format!(
                "Invalid 'security_type' '{}'. Supported values: {SECURITY_TYPE_TRUSTED_LAUNCH}, {SECURITY_TYPE_STANDARD}.",
                ruby_to_s(other)
            )));
        }
    };
    let trusted_launch = security_type == SecurityType::TrustedLaunch;
    let secure_boot_enabled = match hash.get("secure_boot_enabled") {
        None => trusted_launch,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(CpiError::cloud(format!(
                "'secure_boot_enabled' must be a boolean, but is '{}'.",
                ruby_inspect(other)
            )));
        }
    };
    if secure_boot_enabled && !trusted_launch {
        return Err(CpiError::cloud(
            "'secure_boot_enabled' must be false when 'security_type' is 'Standard'.",
        ));
    }
    Ok(Some(SecurityProfile {
        security_type,
        secure_boot_enabled,
    }))
}

pub(super) fn parse_spot(fields: &Fields) -> CpiResult<Option<Spot>> {
    let Some(spot) = fields.object("spot")? else {
        return Ok(None);
    };
    let max_price = match spot.get("max_price") {
        None => Number::from(-1),
        Some(Value::Number(price)) => {
            let valid = price.as_f64().is_some_and(|p| p > 0.0 && p.is_finite())
                || price.as_i64() == Some(-1);
            if !valid {
                return Err(CpiError::cloud(format!(
                    "Invalid vm cloud_properties: 'spot.max_price' must be -1 or a price in US dollars greater than 0, got {}",
                    quote(&price.to_string())
                )));
            }
            price.clone()
        }
        Some(other) => return Err(spot.type_error("max_price", "a number", other)),
    };
    let eviction_policy = match spot.str("eviction_policy")? {
        None | Some("Delete") => EvictionPolicy::Delete,
        Some("Deallocate") => EvictionPolicy::Deallocate,
        Some(other) => {
            return Err(CpiError::cloud(format!(
                "Invalid vm cloud_properties: 'spot.eviction_policy' must be 'Delete' or 'Deallocate', got '{}'",
                quote(other)
            )));
        }
    };
    Ok(Some(Spot {
        max_price,
        eviction_policy,
        fallback_to_on_demand: spot.bool("fallback_to_on_demand")?.unwrap_or(false),
    }))
}

pub(super) fn parse_proximity_placement_group(
    fields: &Fields,
    vm_resource_group_name: &str,
) -> CpiResult<Option<ProximityPlacementGroup>> {
    let Some(group) = fields.object("proximity_placement_group")? else {
        return Ok(None);
    };
    let name = group.string("name")?.ok_or_else(|| {
        CpiError::cloud("Invalid vm cloud_properties: 'proximity_placement_group.name' is required")
    })?;
    Ok(Some(ProximityPlacementGroup {
        name,
        resource_group_name: group
            .string("resource_group_name")?
            .unwrap_or_else(|| vm_resource_group_name.to_owned()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn security(value: Value) -> CpiResult<Option<SecurityProfile>> {
        let props = json!({ "security_profile": value });
        parse_security_profile(&Fields::new(&props, "vm cloud_properties").unwrap())
    }

    fn security_error(value: Value) -> String {
        security(value).unwrap_err().message().to_owned()
    }

    #[test]
    fn security_profile_defaults() {
        assert_eq!(
            security(json!({})).unwrap(),
            Some(SecurityProfile {
                security_type: SecurityType::TrustedLaunch,
                secure_boot_enabled: true
            })
        );
        assert_eq!(
            security(json!({"security_type": "Standard"})).unwrap(),
            Some(SecurityProfile {
                security_type: SecurityType::Standard,
                secure_boot_enabled: false
            })
        );
        assert_eq!(
            security(json!({"secure_boot_enabled": false})).unwrap(),
            Some(SecurityProfile {
                security_type: SecurityType::TrustedLaunch,
                secure_boot_enabled: false
            })
        );
        // null reads as absent, as for every other property.
        assert_eq!(security(Value::Null).unwrap(), None);
    }

    #[test]
    fn security_profile_errors_use_the_ruby_messages() {
        assert_eq!(
            security_error(json!("TrustedLaunch")),
            "'security_profile' must be a Hash, but is a String."
        );
        assert_eq!(
            security_error(json!([1])),
            "'security_profile' must be a Hash, but is a Array."
        );
        assert_eq!(
            security_error(json!({"security_type": "ConfidentialVM"})),
            "'security_type' 'ConfidentialVM' is not supported by this CPI, yet."
        );
        assert_eq!(
            security_error(json!({"security_type": "trustedlaunch"})),
            "Invalid 'security_type' 'trustedlaunch'. Supported values: TrustedLaunch, Standard."
        );
        assert_eq!(
            security_error(json!({"security_type": null})),
            "Invalid 'security_type' ''. Supported values: TrustedLaunch, Standard."
        );
        for (value, shown) in [
            (json!("true"), "\"true\""),
            (json!(1), "1"),
            (Value::Null, "nil"),
        ] {
            assert_eq!(
                security_error(json!({ "secure_boot_enabled": value })),
                format!("'secure_boot_enabled' must be a boolean, but is '{shown}'.")
            );
        }
        assert_eq!(
            security_error(json!({"security_type": "Standard", "secure_boot_enabled": true})),
            "'secure_boot_enabled' must be false when 'security_type' is 'Standard'."
        );
    }

    fn spot(value: Value) -> CpiResult<Option<Spot>> {
        let props = json!({ "spot": value });
        parse_spot(&Fields::new(&props, "vm cloud_properties").unwrap())
    }

    #[test]
    fn spot_defaults_and_errors() {
        assert_eq!(
            spot(json!({})).unwrap(),
            Some(Spot {
                max_price: Number::from(-1),
                eviction_policy: EvictionPolicy::Delete,
                fallback_to_on_demand: false
            })
        );
        let given = spot(json!({"max_price": 0.05, "eviction_policy": "Deallocate",
                                "fallback_to_on_demand": true}))
        .unwrap()
        .unwrap();
        assert_eq!(given.max_price.as_f64(), Some(0.05));
        assert_eq!(given.eviction_policy, EvictionPolicy::Deallocate);
        assert!(given.fallback_to_on_demand);
        for bad in [json!(0), json!(-2), json!(-0.5)] {
            assert!(
                spot(json!({ "max_price": bad }))
                    .unwrap_err()
                    .message()
                    .contains("'spot.max_price' must be -1 or a price"),
                "{bad}"
            );
        }
        assert_eq!(
            spot(json!({"max_price": "1"})).unwrap_err().message(),
            "Invalid vm cloud_properties: 'spot.max_price' must be a number, got a string"
        );
        assert_eq!(
            spot(json!({"eviction_policy": "delete"}))
                .unwrap_err()
                .message(),
            "Invalid vm cloud_properties: 'spot.eviction_policy' must be 'Delete' or 'Deallocate', got 'delete'"
        );
        assert_eq!(
            spot(json!(true)).unwrap_err().message(),
            "Invalid vm cloud_properties: 'spot' must be an object, got a boolean"
        );
    }

    #[test]
    fn proximity_placement_group_defaults_to_the_vm_resource_group() {
        let props = json!({"proximity_placement_group": {"name": "ppg"}});
        let fields = Fields::new(&props, "vm cloud_properties").unwrap();
        assert_eq!(
            parse_proximity_placement_group(&fields, "vm-rg").unwrap(),
            Some(ProximityPlacementGroup {
                name: "ppg".into(),
                resource_group_name: "vm-rg".into()
            })
        );
        let props = json!({"proximity_placement_group": {}});
        let fields = Fields::new(&props, "vm cloud_properties").unwrap();
        assert_eq!(
            parse_proximity_placement_group(&fields, "vm-rg")
                .unwrap_err()
                .message(),
            "Invalid vm cloud_properties: 'proximity_placement_group.name' is required"
        );
    }
}
