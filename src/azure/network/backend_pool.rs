//! Backend pool references shared by load balancers and application gateways: the
//! `load_balancer` / `application_gateway` cloud property shapes, and picking the pool.
//!
//! Shapes (Ruby `VMCloudProps`): a name; comma-separated names; `{name, resource_group_name,
//! backend_pool_name}` (its `name` may be comma-separated too); or an array of those. Each
//! resulting entry is one backend pool on the primary NIC; the RG defaults to the global one
//! and, without `backend_pool_name`, the first pool is used.
//!
//! Better than Ruby: names are trimmed and empty ones skipped (Ruby would GET `" lb2"` or `""`),
//! and an element that is neither a string nor a hash is an error instead of being `to_s`'d.

use serde::Deserialize;
use serde_json::Value;

use super::ids::{NetworkKind, ResourceId, ResourceLookup};
use crate::error::{CpiError, CpiResult};

/// Which of the two cloud properties a reference came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolOwnerKind {
    LoadBalancer,
    ApplicationGateway,
}

impl PoolOwnerKind {
    /// The vm_types key.
    pub fn property(self) -> &'static str {
        match self {
            PoolOwnerKind::LoadBalancer => "load_balancer",
            PoolOwnerKind::ApplicationGateway => "application_gateway",
        }
    }

    fn network_kind(self) -> NetworkKind {
        match self {
            PoolOwnerKind::LoadBalancer => NetworkKind::LoadBalancer,
            PoolOwnerKind::ApplicationGateway => NetworkKind::ApplicationGateway,
        }
    }

    fn noun(self) -> &'static str {
        match self {
            PoolOwnerKind::LoadBalancer => "load balancer",
            PoolOwnerKind::ApplicationGateway => "application gateway",
        }
    }
}

/// One configured backend pool: `(resource group, LB/AGW name, optional pool name)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendPoolRef {
    pub kind: PoolOwnerKind,
    pub resource_group: String,
    pub name: String,
    pub backend_pool_name: Option<String>,
}

impl BackendPoolRef {
    /// Parses the raw property value; absent, `null` or `false` means no pools.
    pub fn parse_property(
        kind: PoolOwnerKind,
        value: Option<&Value>,
        default_resource_group: &str,
    ) -> CpiResult<Vec<Self>> {
        let key = kind.property();
        let shape_error = || {
            CpiError::cloud(format!(
                "Property '{key}' must be a String, Hash, or Array."
            ))
        };
        let entries: Vec<&Value> = match value {
            None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items.iter().collect(),
            Some(item @ (Value::String(_) | Value::Object(_))) => vec![item],
            Some(_) => return Err(shape_error()),
        };
        let mut refs = Vec::new();
        for entry in entries {
            let (names, resource_group, backend_pool_name) = match entry {
                Value::String(names) => (names.as_str(), None, None),
                Value::Object(fields) => {
                    let text = |field: &str| match fields.get(field) {
                        None | Some(Value::Null) => Ok(None),
                        Some(Value::String(s)) => Ok(Some(s.as_str())),
                        Some(_) => Err(CpiError::cloud(format!(
                            "Property '{key}.{field}' must be a String."
                        ))),
                    };
                    (
                        text("name")?.unwrap_or(""),
                        text("resource_group_name")?,
                        text("backend_pool_name")?,
                    )
                }
                _ => {
                    return Err(CpiError::cloud(format!(
                        "Each entry of property '{key}' must be a String or a Hash."
                    )));
                }
            };
            for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                refs.push(Self {
                    kind,
                    resource_group: resource_group.unwrap_or(default_resource_group).to_owned(),
                    name: name.to_owned(),
                    backend_pool_name: backend_pool_name.map(str::to_owned),
                });
            }
        }
        Ok(refs)
    }

    /// The LB/AGW to GET; missing is the Ruby CloudError.
    pub fn lookup(&self, subscription_id: &str) -> ResourceLookup {
        ResourceLookup {
            name: self.name.clone(),
            candidates: vec![ResourceId::network(
                subscription_id,
                &self.resource_group,
                self.kind.network_kind(),
                &self.name,
            )],
            not_found: format!("Cannot find the {} '{}'", self.kind.noun(), self.name),
        }
    }

    /// The pool this reference means among `pools` (as listed by the GET): the named one, or
    /// the first. `Ok(None)` when the LB/AGW has no pools and none was named (Ruby then adds
    /// nothing to the NIC).
    pub fn select<'a>(
        &self,
        pools: &'a [BackendAddressPool],
    ) -> CpiResult<Option<&'a BackendAddressPool>> {
        let Some(wanted) = self.backend_pool_name.as_deref() else {
            return Ok(pools.first());
        };
        // ARM names are case-insensitive; Ruby compared exactly.
        match pools
            .iter()
            .find(|pool| pool.name.eq_ignore_ascii_case(wanted))
        {
            Some(pool) => Ok(Some(pool)),
            None => {
                let available: Vec<&str> = pools.iter().map(|p| p.name.as_str()).collect();
                Err(CpiError::cloud(format!(
                    "'{}' does not have a backend_pool named '{}': available pools: [{}]",
                    self.name,
                    wanted,
                    available.join(", ")
                )))
            }
        }
    }
}

/// A backend address pool as listed in an LB or AGW GET.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct BackendAddressPool {
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub id: String,
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub name: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> CpiResult<Vec<BackendPoolRef>> {
        BackendPoolRef::parse_property(PoolOwnerKind::LoadBalancer, Some(&value), "global-rg")
    }

    fn triple(r: &BackendPoolRef) -> (&str, &str, Option<&str>) {
        (
            r.resource_group.as_str(),
            r.name.as_str(),
            r.backend_pool_name.as_deref(),
        )
    }

    fn pools(names: &[&str]) -> Vec<BackendAddressPool> {
        names
            .iter()
            .map(|n| BackendAddressPool {
                id: format!("id-{n}"),
                name: (*n).to_owned(),
            })
            .collect()
    }

    #[test]
    fn string_and_comma_separated_names_use_the_global_rg() {
        let refs = parse(json!("lb-1")).unwrap();
        assert_eq!(
            refs.iter().map(triple).collect::<Vec<_>>(),
            [("global-rg", "lb-1", None)]
        );
        let refs = parse(json!("lb-1,lb-2, lb-3,")).unwrap();
        assert_eq!(
            refs.iter().map(triple).collect::<Vec<_>>(),
            [
                ("global-rg", "lb-1", None),
                ("global-rg", "lb-2", None),
                ("global-rg", "lb-3", None)
            ]
        );
        assert!(parse(json!("")).unwrap().is_empty());
    }

    #[test]
    fn hash_carries_rg_and_pool_to_each_of_its_names() {
        let refs = parse(json!({
            "name": "lb-a,lb-b",
            "resource_group_name": "lb-rg",
            "backend_pool_name": "pool-x"
        }))
        .unwrap();
        assert_eq!(
            refs.iter().map(triple).collect::<Vec<_>>(),
            [
                ("lb-rg", "lb-a", Some("pool-x")),
                ("lb-rg", "lb-b", Some("pool-x"))
            ]
        );
        assert!(parse(json!({})).unwrap().is_empty());
    }

    #[test]
    fn array_mixes_strings_and_hashes_in_order() {
        let refs = parse(json!([
            "lb-1,lb-2",
            {"name": "lb-3", "backend_pool_name": "p3"},
            {"name": "lb-4", "resource_group_name": "rg-4"}
        ]))
        .unwrap();
        assert_eq!(
            refs.iter().map(triple).collect::<Vec<_>>(),
            [
                ("global-rg", "lb-1", None),
                ("global-rg", "lb-2", None),
                ("global-rg", "lb-3", Some("p3")),
                ("rg-4", "lb-4", None)
            ]
        );
    }

    #[test]
    fn absent_or_false_means_none_and_other_shapes_are_errors() {
        for absent in [None, Some(json!(null)), Some(json!(false))] {
            let refs = BackendPoolRef::parse_property(
                PoolOwnerKind::ApplicationGateway,
                absent.as_ref(),
                "rg",
            )
            .unwrap();
            assert!(refs.is_empty());
        }
        let err = parse(json!(42)).unwrap_err();
        assert_eq!(
            err.message(),
            "Property 'load_balancer' must be a String, Hash, or Array."
        );
        let err = BackendPoolRef::parse_property(
            PoolOwnerKind::ApplicationGateway,
            Some(&json!(true)),
            "rg",
        )
        .unwrap_err();
        assert_eq!(
            err.message(),
            "Property 'application_gateway' must be a String, Hash, or Array."
        );
        assert!(
            parse(json!([1]))
                .unwrap_err()
                .message()
                .contains("Each entry")
        );
        assert!(
            parse(json!({"name": "lb", "backend_pool_name": 5}))
                .unwrap_err()
                .message()
                .contains("load_balancer.backend_pool_name")
        );
    }

    #[test]
    fn lookups_name_the_resource_and_the_ruby_error() {
        let lb = &parse(json!({"name": "lb-1", "resource_group_name": "rg-lb"})).unwrap()[0];
        let lookup = lb.lookup("sub");
        assert_eq!(
            lookup.candidates[0].to_string(),
            "/subscriptions/sub/resourceGroups/rg-lb/providers/Microsoft.Network/loadBalancers/lb-1"
        );
        assert_eq!(lookup.not_found, "Cannot find the load balancer 'lb-1'");
        let agw = &BackendPoolRef::parse_property(
            PoolOwnerKind::ApplicationGateway,
            Some(&json!("agw")),
            "rg",
        )
        .unwrap()[0];
        let lookup = agw.lookup("sub");
        assert!(
            lookup.candidates[0]
                .to_string()
                .ends_with("/applicationGateways/agw")
        );
        assert_eq!(
            lookup.not_found,
            "Cannot find the application gateway 'agw'"
        );
    }

    #[test]
    fn selects_the_first_or_the_named_pool() {
        let first = &parse(json!("lb")).unwrap()[0];
        let named = &parse(json!({"name": "lb", "backend_pool_name": "pool2"})).unwrap()[0];
        let list = pools(&["pool1", "pool2"]);
        assert_eq!(first.select(&list).unwrap().unwrap().id, "id-pool1");
        assert_eq!(named.select(&list).unwrap().unwrap().id, "id-pool2");
        assert_eq!(first.select(&[]).unwrap(), None);
        let err = named.select(&pools(&["pool1"])).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
        assert!(
            err.message()
                .starts_with("'lb' does not have a backend_pool named 'pool2'"),
            "{}",
            err.message()
        );
        assert!(named.select(&[]).is_err());
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        /// Arbitrary JSON, biased towards the keys the parser reads.
        fn json() -> impl Strategy<Value = Value> {
            let leaf = prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                "[a-z, ]{0,10}".prop_map(Value::String),
            ];
            leaf.prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec(
                        (
                            prop_oneof![
                                Just("name".to_owned()),
                                Just("resource_group_name".to_owned()),
                                Just("backend_pool_name".to_owned()),
                                "[a-z]{1,4}",
                            ],
                            inner
                        ),
                        0..4
                    )
                    .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn parse_never_panics_and_never_yields_empty_names(value in json()) {
                for kind in [PoolOwnerKind::LoadBalancer, PoolOwnerKind::ApplicationGateway] {
                    if let Ok(refs) = BackendPoolRef::parse_property(kind, Some(&value), "rg") {
                        for r in refs {
                            prop_assert!(!r.name.is_empty());
                            prop_assert_eq!(r.name.trim(), r.name.as_str());
                            prop_assert!(!r.name.contains(','));
                        }
                    }
                }
            }
        }
    }
}
