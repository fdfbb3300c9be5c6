//! For every PUT example in Azure's REST specs (`../shared/azure-specs`, or `AZURE_SPECS_DIR`)
//! of an operation the sim serves: PUT the example request and check that the sim's answer has
//! the example response's structure (same keys, same JSON types, in `properties`). Referenced
//! resources are seeded first. Skips, with a note, when the specs are not available.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Map, Value, json};

fn specs_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("AZURE_SPECS_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/azure-specs"),
    };
    dir.is_dir().then_some(dir)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

struct Example {
    file: PathBuf,
    path_template: String,
    params: Map<String, Value>,
    responses: Map<String, Value>,
}

/// PUT operations with `x-ms-examples` in every spec file.
fn put_examples(root: &Path) -> Vec<Example> {
    let mut files = Vec::new();
    walk(root, &mut files);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for spec in files
        .iter()
        .filter(|f| !f.components().any(|c| c.as_os_str() == "examples"))
    {
        let Ok(text) = std::fs::read_to_string(spec) else {
            continue;
        };
        let Ok(doc) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        for section in ["paths", "x-ms-paths"] {
            let Some(paths) = doc.get(section).and_then(Value::as_object) else {
                continue;
            };
            for (template, ops) in paths {
                let Some(examples) = ops
                    .get("put")
                    .and_then(|o| o.get("x-ms-examples"))
                    .and_then(Value::as_object)
                else {
                    continue;
                };
                for ex in examples.values() {
                    let Some(rel) = ex.get("$ref").and_then(Value::as_str) else {
                        continue;
                    };
                    let file = spec.parent().unwrap().join(rel);
                    let Ok(canon) = file.canonicalize() else {
                        continue;
                    };
                    if !seen.insert(canon.clone()) {
                        continue;
                    }
                    let Ok(ex_text) = std::fs::read_to_string(&canon) else {
                        continue;
                    };
                    let Ok(ex) = serde_json::from_str::<Value>(&ex_text) else {
                        continue;
                    };
                    out.push(Example {
                        file: canon,
                        path_template: template.clone(),
                        params: ex["parameters"].as_object().cloned().unwrap_or_default(),
                        responses: ex["responses"].as_object().cloned().unwrap_or_default(),
                    });
                }
            }
        }
    }
    out
}

/// Rewrites `/subscriptions/<anything>/` to the sim's subscription in every string.
fn rewrite_subscription(v: &mut Value, sub: &str) {
    match v {
        Value::String(s) => {
            let lower = s.to_ascii_lowercase();
            if lower.starts_with("/subscriptions/") {
                let rest: Vec<&str> = s.splitn(4, '/').collect();
                if rest.len() == 4 {
                    *s = format!("/subscriptions/{sub}/{}", rest[3]);
                } else if rest.len() == 3 {
                    *s = format!("/subscriptions/{sub}");
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rewrite_subscription(x, sub)),
        Value::Object(m) => m.values_mut().for_each(|x| rewrite_subscription(x, sub)),
        _ => {}
    }
}

fn collect_ids(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s)
            if s.to_ascii_lowercase().starts_with("/subscriptions/")
                && s.matches('/').count() >= 8 =>
        {
            out.push(s.clone())
        }
        Value::Array(a) => a.iter().for_each(|x| collect_ids(x, out)),
        Value::Object(m) => m.values().for_each(|x| collect_ids(x, out)),
        _ => {}
    }
}

/// Response fields Azure fills only when other resources reference this one.
const STATEFUL_ONLY: &[&str] = &[
    "properties.ipConfiguration ",
    "properties.virtualMachine ",
    "properties.networkInterfaces ",
    "properties.subnets ",
    "properties.ipConfigurations ",
    "properties.virtualMachines ",
];

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Every key of `expected` must be in `actual` with the same JSON type (objects recursively,
/// arrays by their first element).
fn same_structure(expected: &Value, actual: &Value, path: &str, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    None => problems.push(format!("{path}.{k} missing")),
                    Some(av) => same_structure(ev, av, &format!("{path}.{k}"), problems),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(ef), Some(af)) = (e.first(), a.first()) {
                same_structure(ef, af, &format!("{path}[0]"), problems);
            }
        }
        (e, a) if kind_of(e) != kind_of(a) => problems.push(format!(
            "{path}: {} expected, got {}",
            kind_of(e),
            kind_of(a)
        )),
        _ => {}
    }
}

#[tokio::test]
async fn put_examples_match_example_response_structure() {
    let Some(root) = specs_dir() else {
        println!(
            "NOTE: Azure specs not found (set AZURE_SPECS_DIR or provide ../shared/azure-specs); skipping the spec example check"
        );
        return;
    };
    let examples = put_examples(&root);
    assert!(
        !examples.is_empty(),
        "no PUT examples found under {}",
        root.display()
    );
    let sim = TestSim::start().await;
    let sub = sim.handle.config().subscription_id.clone();
    let mut checked = 0;
    let mut skipped = Vec::new();
    let mut failures = Vec::new();
    for ex in &examples {
        sim.handle.reset();
        let version = ex
            .params
            .get("api-version")
            .or_else(|| ex.params.get("version"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // Fill the path template from the example's parameters.
        let mut path = ex.path_template.clone();
        let mut body = None;
        for (name, value) in &ex.params {
            match value {
                Value::String(s) => path = path.replace(&format!("{{{name}}}"), s),
                Value::Object(_) => body = Some(value.clone()),
                _ => {}
            }
        }
        let Some(mut body) = body else {
            skipped.push(format!("{}: no body", ex.file.display()));
            continue;
        };
        // Placeholder values such as "{vm-name}" become plain names.
        let path = path.replace(['{', '}'], "");
        let mut path_value = Value::String(path);
        rewrite_subscription(&mut path_value, &sub);
        let path = path_value.as_str().unwrap().to_string();
        if path.contains('{') {
            skipped.push(format!("{}: unfilled path {path}", ex.file.display()));
            continue;
        }
        rewrite_subscription(&mut body, &sub);
        // Seed the resource group, the target's ancestors and everything the body references.
        let segs: Vec<&str> = path.split('/').collect();
        let mut seeds = Vec::new();
        if segs.len() > 4 {
            seeds.push(json!({"id": segs[..5].join("/"), "location": "eastus"}));
        }
        let mut cut = 9;
        while cut < segs.len() {
            seeds.push(json!({"id": segs[..cut].join("/"), "location": body.get("location").cloned().unwrap_or(json!("eastus"))}));
            cut += 2;
        }
        let mut refs = Vec::new();
        collect_ids(&body, &mut refs);
        for id in refs {
            let mut seed = json!({"id": id, "location": body.get("location").cloned().unwrap_or(json!("eastus"))});
            if id.to_ascii_lowercase().contains("/subnets/") {
                seed["properties"] = json!({"addressPrefix": "10.0.0.0/24"});
            }
            seeds.push(seed);
            if id.to_ascii_lowercase().contains("/galleries/")
                && id.to_ascii_lowercase().split('/').rev().nth(1) == Some("images")
            {
                seeds.push(json!({"id": format!("{id}/versions/1.0.0"), "location": "eastus"}));
            }
        }
        sim.handle.seed_raw(json!(seeds)).expect("seed");
        let r = sim
            .put(&format!("{path}?api-version={version}"), &body)
            .await;
        if r.status == StatusCode::BAD_REQUEST && r.code() == "NoRegisteredProviderFound"
            || r.code() == "InvalidApiVersionParameter"
        {
            skipped.push(format!(
                "{}: api-version {version} not served",
                ex.file.display()
            ));
            continue;
        }
        if r.code() == "InvalidResourceType" {
            skipped.push(format!("{}: operation not served", ex.file.display()));
            continue;
        }
        if !r.status.is_success() {
            failures.push(format!(
                "{}: PUT answered {} {}",
                ex.file.display(),
                r.status,
                r.body
            ));
            continue;
        }
        // Compare with the example response for the same status, else any 2xx example.
        let expected = ex
            .responses
            .get(r.status.as_str())
            .or_else(|| {
                ex.responses
                    .iter()
                    .find(|(k, _)| k.starts_with('2'))
                    .map(|(_, v)| v)
            })
            .and_then(|resp| resp.get("body"))
            .cloned();
        let actual = if r.body.is_null() {
            sim.get(&format!("{path}?api-version={version}")).await.body
        } else {
            r.body.clone()
        };
        if let Some(expected) = expected {
            let mut problems = Vec::new();
            same_structure(
                &expected["properties"],
                &actual["properties"],
                "properties",
                &mut problems,
            );
            // Fields that only appear once other resources use this one (the examples were
            // captured from resources in use); the sim derives them from its store instead.
            problems.retain(|p| !STATEFUL_ONLY.iter().any(|s| p.starts_with(s)));
            for top in ["id", "name", "location", "sku", "zones", "tags", "kind"] {
                if expected.get(top).is_some() && actual.get(top).is_none() {
                    problems.push(format!("{top} missing"));
                }
            }
            if !problems.is_empty() {
                failures.push(format!(
                    "{}:\n    {}",
                    ex.file.display(),
                    problems.join("\n    ")
                ));
                continue;
            }
        }
        checked += 1;
    }
    println!(
        "spec examples: {checked} checked, {} skipped",
        skipped.len()
    );
    for s in &skipped {
        println!("  skipped {s}");
    }
    assert!(
        failures.is_empty(),
        "{} example(s) do not match:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 20, "only {checked} examples checked");
    sim.handle.shutdown().await;
}
