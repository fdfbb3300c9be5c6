//! Checks the request bodies this module builds against Azure's published Microsoft.Network
//! 2024-05-01 spec: every property known to the schema, writable (not `readOnly`), of the right
//! JSON type, enums in their canonical spelling, no `null` unless `x-nullable`.
//!
//! The specs are reference material outside the repository: these tests look for them in
//! `$AZURE_SPECS_DIR`, else in a `shared/azure-specs` next to an ancestor of the crate, and
//! skip (with a note on stderr) when they are absent, so a fresh clone still passes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::SubResource;
use super::interface::{NicSpec, PrimaryNicAttachments, ResolvedNicIds, ipconfig_name};
use super::load_balancer::LoadBalancerAttachment;
use super::public_ip::DynamicPublicIp;

const NETWORK_SPEC: &str =
    "specification/network/resource-manager/Microsoft.Network/stable/2024-05-01";

fn spec_dir() -> Option<PathBuf> {
    let root = std::env::var_os("AZURE_SPECS_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .ancestors()
                .map(|dir| dir.join("shared/azure-specs"))
                .find(|dir| dir.is_dir())
        })?;
    let dir = root.join(NETWORK_SPEC);
    dir.is_dir().then_some(dir)
}

struct Swagger {
    dir: PathBuf,
    files: HashMap<String, Value>,
}

impl Swagger {
    fn file(&mut self, name: &str) -> &Value {
        let dir = &self.dir;
        self.files.entry(name.to_owned()).or_insert_with(|| {
            let text = std::fs::read_to_string(dir.join(name))
                .unwrap_or_else(|e| panic!("reading spec file {name}: {e}"));
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("parsing {name}: {e}"))
        })
    }

    /// Follows `$ref`s (across files) and returns the schema with sibling keys such as
    /// `readOnly` kept, plus the file the schema lives in.
    fn resolve(&mut self, schema: &Value, file: &str) -> (Value, String) {
        let mut schema = schema.clone();
        let mut file = file.to_owned();
        while let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let (target_file, pointer) = reference.split_once('#').unwrap_or((reference, ""));
            if !target_file.is_empty() {
                file = Path::new(target_file)
                    .file_name()
                    .and_then(|f| f.to_str())
                    .unwrap_or(target_file)
                    .to_owned();
            }
            let target = self
                .file(&file)
                .pointer(pointer)
                .unwrap_or_else(|| panic!("unresolvable $ref {reference} in {file}"))
                .clone();
            let mut merged = target;
            if let (Some(merged), Some(siblings)) = (merged.as_object_mut(), schema.as_object()) {
                for (key, value) in siblings {
                    if key != "$ref" {
                        merged.insert(key.clone(), value.clone());
                    }
                }
            }
            schema = merged;
        }
        (schema, file)
    }

    /// The properties of an object schema, including those of its `allOf` parents.
    fn properties(&mut self, schema: &Value, file: &str) -> HashMap<String, (Value, String)> {
        let (schema, file) = self.resolve(schema, file);
        let mut out = HashMap::new();
        for parent in schema["allOf"].as_array().into_iter().flatten() {
            out.extend(self.properties(parent, &file));
        }
        for (name, property) in schema["properties"].as_object().into_iter().flatten() {
            out.insert(name.clone(), (property.clone(), file.clone()));
        }
        out
    }

    fn check(
        &mut self,
        value: &Value,
        schema: &Value,
        file: &str,
        path: &str,
        errors: &mut Vec<String>,
    ) {
        let (schema, file) = self.resolve(schema, file);
        if schema["readOnly"] == json!(true) {
            errors.push(format!("{path}: read-only property in a request"));
        }
        if value.is_null() {
            if schema["x-nullable"] != json!(true) {
                errors.push(format!("{path}: null is not allowed"));
            }
            return;
        }
        if let Some(allowed) = schema["enum"].as_array()
            && !allowed.contains(value)
        {
            errors.push(format!("{path}: {value} is not one of {allowed:?}"));
        }
        let declared = schema["type"].as_str().unwrap_or("");
        let type_ok = match declared {
            "boolean" => value.is_boolean(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !type_ok {
            errors.push(format!("{path}: expected {declared}, found {value}"));
            return;
        }
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    self.check(
                        item,
                        &schema["items"],
                        &file,
                        &format!("{path}[{index}]"),
                        errors,
                    );
                }
            }
            Value::Object(fields) => {
                let known = self.properties(&schema, &file);
                for (name, field) in fields {
                    let field_path = format!("{path}.{name}");
                    if let Some((property, property_file)) = known.get(name) {
                        self.check(field, property, property_file, &field_path, errors);
                    } else if let Some(additional) =
                        schema.get("additionalProperties").filter(|a| a.is_object())
                    {
                        self.check(field, additional, &file, &field_path, errors);
                    } else {
                        errors.push(format!("{field_path}: not in the spec"));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Errors of `body` against `file#/definitions/definition`; `None` when the spec is absent.
fn violations(file: &str, definition: &str, body: &Value) -> Option<Vec<String>> {
    let Some(dir) = spec_dir() else {
        eprintln!("skipped: Azure network specs not found (set AZURE_SPECS_DIR)");
        return None;
    };
    let mut swagger = Swagger {
        dir,
        files: HashMap::new(),
    };
    let mut errors = Vec::new();
    let root = json!({"$ref": format!("{file}#/definitions/{definition}")});
    swagger.check(body, &root, file, "$", &mut errors);
    Some(errors)
}

fn full_nic() -> NicSpec {
    let id = |kind: &str, name: &str| {
        format!("/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/{kind}/{name}")
    };
    NicSpec {
        name: "vm-0".into(),
        location: "eastus".into(),
        ipconfig_name: ipconfig_name(0),
        private_ip: Some("10.0.0.4".into()),
        ids: ResolvedNicIds {
            subnet_id: id("virtualNetworks", "v/subnets/s"),
            network_security_group_id: Some(id("networkSecurityGroups", "nsg")),
            application_security_group_ids: vec![id("applicationSecurityGroups", "asg")],
        },
        enable_ip_forwarding: true,
        enable_accelerated_networking: true,
        dns_servers: vec!["168.63.129.16".into()],
        primary: Some(PrimaryNicAttachments {
            public_ip_id: Some(id("publicIPAddresses", "vm")),
            load_balancers: vec![LoadBalancerAttachment {
                backend_pool_id: Some(id("loadBalancers", "lb/backendAddressPools/p")),
                inbound_nat_rules: vec![SubResource::new(&id(
                    "loadBalancers",
                    "lb/inboundNatRules/n",
                ))],
            }],
            application_gateway_pool_ids: vec![id(
                "applicationGateways",
                "agw/backendAddressPools/p",
            )],
            availability_set: Some("as-1".into()),
        }),
    }
}

#[test]
fn nic_bodies_conform_to_the_spec() {
    let minimal = NicSpec {
        name: "vm-1".into(),
        location: "eastus".into(),
        ipconfig_name: ipconfig_name(1),
        private_ip: None,
        ids: ResolvedNicIds {
            subnet_id: "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/s".into(),
            ..ResolvedNicIds::default()
        },
        ..NicSpec::default()
    };
    for spec in [full_nic(), minimal] {
        let body = serde_json::to_value(spec.body()).unwrap();
        if let Some(errors) = violations("networkInterface.json", "NetworkInterface", &body) {
            assert!(errors.is_empty(), "{errors:#?}\nbody: {body}");
        }
    }
}

#[test]
fn public_ip_bodies_conform_to_the_spec() {
    for zone in [None, Some("1")] {
        let pip = DynamicPublicIp::new("rg", "vm", 4, zone).unwrap();
        let body = serde_json::to_value(pip.body("eastus")).unwrap();
        if let Some(errors) = violations("publicIpAddress.json", "PublicIPAddress", &body) {
            assert!(errors.is_empty(), "{errors:#?}\nbody: {body}");
        }
    }
}

/// The checker must catch what the Ruby CPI sends, or it proves nothing.
#[test]
fn the_checker_rejects_the_ruby_deviations() {
    let mut ruby = serde_json::to_value(full_nic().body()).unwrap();
    ruby["name"] = json!("vm-0");
    ruby["properties"]["networkSecurityGroup"] = Value::Null;
    ruby["properties"]["enableIPForwarding"] = json!("true");
    ruby["properties"]["ipConfigurations"][0]["properties"]["privateIPAllocationMethod"] =
        json!("static");
    ruby["properties"]["bogus"] = json!(1);
    let Some(errors) = violations("networkInterface.json", "NetworkInterface", &ruby) else {
        return;
    };
    for expected in [
        "$.name: read-only",
        "$.properties.networkSecurityGroup: null",
        "$.properties.enableIPForwarding: expected boolean",
        "privateIPAllocationMethod: \"static\" is not one of",
        "$.properties.bogus: not in the spec",
    ] {
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "missing '{expected}' in {errors:#?}"
        );
    }
}
