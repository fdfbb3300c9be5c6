//! Golden files and request-log measures for scenario tests: the ARM calls a CPI call made
//! (count and sequential depth), their bodies with volatile values normalized, and the
//! comparison against checked-in JSON (`UPDATE_GOLDEN=1` rewrites the files).

use std::path::{Path, PathBuf};

use bosh_azure_sim::{LoggedRequest, SimHandle};
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The ARM requests (no token or IMDS calls) the sim received after `offset` log entries.
pub struct ArmCalls {
    pub requests: Vec<LoggedRequest>,
}

impl ArmCalls {
    pub fn since(sim: &SimHandle, offset: usize) -> Self {
        let requests = sim.request_log()[offset..]
            .iter()
            .filter(|r| r.path.starts_with("/subscriptions/"))
            .cloned()
            .collect();
        Self { requests }
    }

    pub fn count(&self) -> usize {
        self.requests.len()
    }

    /// The number of dependent request waves: the longest chain of requests in which each
    /// one arrived after the previous one was answered. Requests that overlapped in time
    /// were in flight together and count once.
    pub fn depth(&self) -> usize {
        let mut spans: Vec<(OffsetDateTime, OffsetDateTime)> = self
            .requests
            .iter()
            .map(|r| (parse_time(&r.started), parse_time(&r.time)))
            .collect();
        spans.sort();
        let mut depth = vec![0usize; spans.len()];
        for i in 0..spans.len() {
            let before = (0..i)
                .filter(|&j| spans[j].1 <= spans[i].0)
                .map(|j| depth[j])
                .max()
                .unwrap_or(0);
            depth[i] = before + 1;
        }
        depth.into_iter().max().unwrap_or(0)
    }

    /// `METHOD /path` of each request, in arrival order.
    pub fn lines(&self) -> Vec<String> {
        self.requests
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }

    /// The collections listed (GETs of `…/providers/<namespace>/<type>[/<name>/<child type>]`):
    /// the last segment of each listed path, once per page.
    pub fn listed_collections(&self) -> Vec<String> {
        self.requests
            .iter()
            .filter(|r| r.method == "GET")
            .filter_map(|r| {
                let (_, under_provider) = r.path.rsplit_once("/providers/")?;
                let segments: Vec<&str> = under_provider.split('/').collect();
                segments
                    .len()
                    .is_multiple_of(2)
                    .then(|| segments[segments.len() - 1].to_owned())
            })
            .collect()
    }

    /// The bodies of the PUTs to top-level resources `…/providers/<namespace>/<collection>/<name>`
    /// (not to children such as a gallery's `images`), by name.
    pub fn puts(&self, collection: &str) -> Vec<(String, Value)> {
        self.requests
            .iter()
            .filter(|r| r.method == "PUT")
            .filter_map(|r| {
                let segments: Vec<&str> = r.path.rsplitn(5, '/').collect();
                let [name, kind, _namespace, providers, ..] = segments[..] else {
                    return None;
                };
                (kind.eq_ignore_ascii_case(collection) && providers == "providers")
                    .then(|| (name.to_owned(), r.body.clone().unwrap_or_default()))
            })
            .collect()
    }
}

fn parse_time(text: &str) -> OffsetDateTime {
    OffsetDateTime::parse(text, &Rfc3339)
        .unwrap_or_else(|e| panic!("request log time {text:?}: {e}"))
}

/// Replaces volatile values in every string of a JSON value: the given literals, then any
/// loopback port.
#[derive(Default)]
pub struct Normalizer {
    replacements: Vec<(String, String)>,
}

impl Normalizer {
    pub fn replace(mut self, volatile: &str, placeholder: &str) -> Self {
        if !volatile.is_empty() {
            self.replacements
                .push((volatile.to_owned(), placeholder.to_owned()));
        }
        self
    }

    pub fn apply(&self, value: &Value) -> Value {
        match value {
            Value::String(text) => Value::String(self.apply_str(text)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.apply(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.apply_str(k), self.apply(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn apply_str(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (volatile, placeholder) in &self.replacements {
            out = out.replace(volatile.as_str(), placeholder);
        }
        normalize_loopback_ports(&out)
    }
}

/// `127.0.0.1:<digits>` → `127.0.0.1:<port>`.
pub fn normalize_loopback_ports(text: &str) -> String {
    const HOST: &str = "127.0.0.1:";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(HOST) {
        out.push_str(&rest[..at + HOST.len()]);
        rest = &rest[at + HOST.len()..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 {
            out.push_str("<port>");
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

pub fn golden_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/golden")
        .join(relative)
}

fn updating() -> bool {
    std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1")
}

/// Compares `files` (name → JSON) with the `.json` files of `dir`: the same names and equal
/// values. With `UPDATE_GOLDEN=1` the directory is rewritten instead.
pub fn assert_golden_dir(dir: &Path, files: &[(String, Value)]) {
    if updating() {
        std::fs::create_dir_all(dir).expect("create golden dir");
        for entry in std::fs::read_dir(dir).expect("read golden dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().is_some_and(|e| e == "json") {
                std::fs::remove_file(&path).expect("remove stale golden file");
            }
        }
        for (name, value) in files {
            let text = serde_json::to_string_pretty(value).expect("JSON") + "\n";
            std::fs::write(dir.join(format!("{name}.json")), text).expect("write golden file");
        }
        return;
    }
    let mut expected_names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
                dir.display()
            )
        })
        .filter_map(|entry| {
            let path = entry.expect("dir entry").path();
            let stem = path.file_stem()?.to_str()?.to_owned();
            path.extension()
                .is_some_and(|e| e == "json")
                .then_some(stem)
        })
        .collect();
    expected_names.sort();
    let mut actual_names: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
    actual_names.sort();
    assert_eq!(
        actual_names,
        expected_names,
        "the bodies produced differ from the golden files in {}",
        dir.display()
    );
    for (name, actual) in files {
        let path = dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path).expect("read golden file");
        let expected: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: not JSON: {e}", path.display()));
        assert!(
            &expected == actual,
            "{} differs (UPDATE_GOLDEN=1 rewrites it)\nexpected: {}\nactual:   {}",
            path.display(),
            serde_json::to_string_pretty(&expected).unwrap_or_default(),
            serde_json::to_string_pretty(actual).unwrap_or_default(),
        );
    }
}
