//! Checks request bodies against Azure's published OpenAPI specs: every property must exist in
//! the schema and be writable (not `readOnly`) and have the declared JSON type; enums must use
//! the canonical case (and, when closed, a listed value); required properties must be present;
//! `null` only where `x-nullable`.
//!
//! The specs are reference material outside the repository: they are looked up in
//! `$AZURE_SPECS_DIR`, else in a `shared/azure-specs` in an ancestor of the crate. Callers skip
//! their checks (with a note on stderr) when they are absent, so a fresh clone still passes.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::{Value, json};

/// One directory of an OpenAPI spec tree (e.g. a provider's folder), with parsed files cached.
pub(crate) struct Specs {
    dir: PathBuf,
    files: HashMap<PathBuf, Value>,
}

/// The directory `relative` inside the azure-specs tree, or `None` (after a note on stderr
/// naming `what` is skipped) when the specs are not available.
pub(crate) fn specs_or_skip(relative: &str, what: &str) -> Option<Specs> {
    let dir = match std::env::var_os("AZURE_SPECS_DIR") {
        Some(root) => Some(PathBuf::from(root).join(relative)),
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .ancestors()
            .map(|a| a.join("shared/azure-specs").join(relative))
            .find(|dir| dir.is_dir()),
    }
    .filter(|dir| dir.is_dir());
    if dir.is_none() {
        eprintln!("azure-specs not found (set AZURE_SPECS_DIR): skipping {what}");
    }
    dir.map(|dir| Specs {
        dir,
        files: HashMap::new(),
    })
}

/// What an object schema allows, gathered through `allOf`.
struct Shape {
    /// Each property's schema with the file it is declared in (so its relative `$ref`s resolve).
    properties: HashMap<String, (PathBuf, Value)>,
    /// Schema of keys not listed (tags), with the file it was declared in.
    additional: Option<(PathBuf, Value)>,
    required: Vec<String>,
}

impl Specs {
    /// `relative` (a path inside this directory) parsed as JSON.
    pub(crate) fn read(&mut self, relative: &str) -> Value {
        self.load(&self.dir.join(relative))
    }

    /// The errors of `body` against `file#/definitions/definition`; paths in the messages
    /// start with `at`.
    pub(crate) fn violations(
        &mut self,
        file: &str,
        definition: &str,
        body: &Value,
        at: &str,
    ) -> Vec<String> {
        let mut errors = Vec::new();
        let schema = json!({ "$ref": format!("#/definitions/{definition}") });
        self.check(&self.dir.join(file), &schema, body, at, &mut errors);
        errors
    }

    /// Fails the test when `body` does not conform to `file#/definitions/definition`.
    pub(crate) fn assert_conforms(&mut self, file: &str, definition: &str, body: &Value) {
        let errors = self.violations(file, definition, body, definition);
        assert!(
            errors.is_empty(),
            "{definition} body does not match {file}:\n{}\n{body:#}",
            errors.join("\n")
        );
    }

    fn load(&mut self, file: &Path) -> Value {
        if let Some(doc) = self.files.get(file) {
            return doc.clone();
        }
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let doc: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("parsing {}: {e}", file.display()));
        self.files.insert(file.to_path_buf(), doc.clone());
        doc
    }

    /// Follows `$ref`s (across files) to the schema they name, keeping sibling keys such as
    /// `readOnly` or `x-nullable` next to a `$ref`; returns it and the file it lives in.
    fn resolve(&mut self, file: &Path, schema: &Value) -> (PathBuf, Value) {
        let mut file = file.to_path_buf();
        let mut schema = schema.clone();
        while let Some(reference) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .map(str::to_string)
        {
            let (target, pointer) = reference
                .split_once('#')
                .unwrap_or((reference.as_str(), ""));
            if !target.is_empty() {
                file = normalize(&file.parent().unwrap_or(Path::new("")).join(target));
            }
            let mut resolved = self
                .load(&file)
                .pointer(pointer)
                .cloned()
                .unwrap_or_else(|| panic!("unresolvable $ref {reference} in {}", file.display()));
            if let (Some(resolved), Some(siblings)) = (resolved.as_object_mut(), schema.as_object())
            {
                for (key, value) in siblings.iter().filter(|(key, _)| *key != "$ref") {
                    resolved.insert(key.clone(), value.clone());
                }
            }
            schema = resolved;
        }
        (file, schema)
    }

    /// Properties (own and inherited through `allOf`; own ones win), additionalProperties and
    /// required names.
    fn shape(&mut self, file: &Path, schema: &Value) -> Shape {
        let (file, schema) = self.resolve(file, schema);
        let mut shape = Shape {
            properties: HashMap::new(),
            additional: None,
            required: Vec::new(),
        };
        for parent in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let inherited = self.shape(&file, parent);
            shape.properties.extend(inherited.properties);
            shape.required.extend(inherited.required);
            shape.additional = inherited.additional.or(shape.additional);
        }
        for (name, property) in schema
            .get("properties")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            shape
                .properties
                .insert(name.clone(), (file.clone(), property.clone()));
        }
        if let Some(names) = schema.get("required").and_then(Value::as_array) {
            let names = names.iter().filter_map(Value::as_str).map(str::to_string);
            shape.required.extend(names);
        }
        if let Some(extra) = schema.get("additionalProperties").filter(|a| a.is_object()) {
            shape.additional = Some((file, extra.clone()));
        }
        shape
    }

    fn check(
        &mut self,
        file: &Path,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) {
        let (file, schema) = self.resolve(file, schema);
        // Whole definitions can be read-only (e.g. DiskState), as can single properties.
        if schema.get("readOnly") == Some(&json!(true)) {
            errors.push(format!("{at}: read-only property in a request"));
        }
        if value.is_null() {
            if schema.get("x-nullable") != Some(&json!(true)) {
                errors.push(format!("{at}: null is not allowed"));
            }
            return;
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
            && !allowed.contains(value)
        {
            // An open enum (`modelAsString`) takes values Azure added later (VM sizes), but a
            // listed value in another case is still a mistake.
            let text = value.as_str().unwrap_or_default();
            let other_case = allowed
                .iter()
                .any(|v| v.as_str().is_some_and(|v| v.eq_ignore_ascii_case(text)));
            let open = schema.pointer("/x-ms-enum/modelAsString") == Some(&json!(true));
            if other_case || !open {
                errors.push(format!("{at}: {value} is not one of {allowed:?}"));
            }
        }
        let declared = schema.get("type").and_then(Value::as_str).unwrap_or("");
        let type_ok = match declared {
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "string" => value.is_string(),
            "array" => value.is_array(),
            "object" => value.is_object(),
            _ => true,
        };
        if !type_ok {
            errors.push(format!("{at}: expected {declared}, found {value}"));
            return;
        }
        match value {
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.check(&file, item_schema, item, &format!("{at}[{i}]"), errors);
                    }
                }
            }
            Value::Object(object) => {
                let Shape {
                    properties,
                    additional,
                    required,
                } = self.shape(&file, &schema);
                for name in &required {
                    if !object.contains_key(name) {
                        errors.push(format!("{at}: required '{name}' missing"));
                    }
                }
                for (name, item) in object {
                    let path = format!("{at}.{name}");
                    match properties.get(name).or(additional.as_ref()) {
                        Some((owner, property)) => self.check(owner, property, item, &path, errors),
                        None => errors.push(format!("{path}: not in the spec")),
                    }
                }
            }
            _ => {}
        }
    }
}

/// `path` without `.` and `..` components (relative `$ref`s climb out of a version folder).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}
