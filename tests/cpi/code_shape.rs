//! The shape the code keeps, checked on its sources: data flows one way between the top-level
//! modules of `src/` (no import cycle), and no action imports another action: what two actions
//! share lives in a service.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The source without its unit tests (`#[cfg(test)] mod tests` and `tests.rs` files).
fn production_source(path: &Path) -> Option<String> {
    if path.file_name().is_some_and(|n| n == "tests.rs")
        || path.components().any(|c| c.as_os_str() == "tests")
    {
        return None;
    }
    let text = fs::read_to_string(path).unwrap();
    Some(match text.find("#[cfg(test)]\nmod tests") {
        Some(end) => text[..end].to_owned(),
        None => text,
    })
}

/// `crate::<module>` paths named in `text`.
fn crate_modules(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in text.match_indices("crate::") {
        let rest = &text[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    found
}

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn top_level_modules_import_each_other_without_a_cycle() {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_string_lossy().trim_end_matches(".rs").to_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(text) = production_source(&file) else {
            continue;
        };
        for used in crate_modules(&text) {
            if used != module {
                edges.entry(module.clone()).or_default().insert(used);
            }
        }
    }
    // Depth-first search for a back edge; the cycle found is named.
    fn visit(
        module: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if let Some(at) = path.iter().position(|m| m == module) {
            panic!("import cycle: {} -> {module}", path[at..].join(" -> "));
        }
        if done.contains(module) {
            return;
        }
        path.push(module.to_owned());
        for next in edges.get(module).into_iter().flatten() {
            visit(next, edges, path, done);
        }
        path.pop();
        done.insert(module.to_owned());
    }
    let mut done = BTreeSet::new();
    for module in edges.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn no_action_imports_another_action() {
    let actions = src().join("actions");
    let mut files = Vec::new();
    rust_files(&actions, &mut files);
    let names: BTreeSet<String> = files
        .iter()
        .filter(|f| f.parent() == Some(actions.as_path()))
        .filter_map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|name| name != "mod")
        .collect();
    let mut offences = Vec::new();
    for file in &files {
        if file.file_name().is_some_and(|n| n == "mod.rs") && file.parent() == Some(&actions) {
            continue;
        }
        let Some(text) = production_source(file) else {
            continue;
        };
        let own = file
            .strip_prefix(&actions)
            .unwrap()
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        for other in names.iter().filter(|name| **name != own) {
            for pattern in [
                format!("super::{other}"),
                format!("crate::actions::{other}"),
                format!("super::super::{other}"),
            ] {
                if text.contains(&pattern) {
                    offences.push(format!("{}: {pattern}", file.display()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "actions importing actions: {offences:#?}"
    );
}
