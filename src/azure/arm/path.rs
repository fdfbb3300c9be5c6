//! ARM resource paths built from raw (unescaped) segments; the client escapes each segment when
//! it builds the URL, so a name can never change the path's shape.

use crate::names::quote_up_to;
use std::fmt;

use super::super::error::{Error, Result};

/// A path below the ARM endpoint, e.g.
/// `/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{vm}`,
/// plus optional query parameters (`$filter`, `$expand`; the client adds `api-version`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourcePath {
    segments: Vec<String>,
    query: Vec<(String, String)>,
}

impl ResourcePath {
    /// `/subscriptions/{subscription_id}`
    pub(crate) fn subscription(subscription_id: &str) -> Self {
        Self {
            segments: vec!["subscriptions".into(), subscription_id.into()],
            query: Vec::new(),
        }
    }

    /// `/subscriptions/{subscription_id}/resourceGroups/{resource_group}`
    pub(crate) fn resource_group(subscription_id: &str, resource_group: &str) -> Self {
        Self::subscription(subscription_id).child("resourceGroups", resource_group)
    }

    /// Appends `/providers/{namespace}`.
    pub fn provider(self, namespace: &str) -> Self {
        self.segment("providers").segment(namespace)
    }

    /// Appends `/{collection}/{name}`.
    pub fn child(self, collection: &str, name: &str) -> Self {
        self.segment(collection).segment(name)
    }

    /// Appends one segment (a collection, or an action such as `listKeys`).
    pub(crate) fn segment(mut self, segment: &str) -> Self {
        self.segments.push(segment.to_owned());
        self
    }

    /// Adds a query parameter.
    pub(crate) fn query(mut self, key: &str, value: &str) -> Self {
        self.query.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Parses a resource id as Azure returns it (`/subscriptions/...`).
    pub fn parse_id(id: &str) -> Result<Self> {
        let trimmed = id.trim_end_matches('/');
        let segments: Vec<String> = trimmed
            .strip_prefix('/')
            .unwrap_or("")
            .split('/')
            .map(str::to_owned)
            .collect();
        let valid = segments.len() >= 2
            && segments[0].eq_ignore_ascii_case("subscriptions")
            && segments.iter().all(|s| !s.is_empty());
        if !valid {
            return Err(Error::Invalid(format!(
                "not an Azure resource id: '{}'",
                quote_up_to(id, crate::names::RESOURCE_ID_SHOWN_CHARS)
            )));
        }
        Ok(Self {
            segments,
            query: Vec::new(),
        })
    }

    pub(crate) fn segments(&self) -> &[String] {
        &self.segments
    }

    pub(crate) fn query_pairs(&self) -> &[(String, String)] {
        &self.query
    }

    /// The ARM id as it goes into request bodies: every segment raw, no query.
    pub(crate) fn id(&self) -> String {
        let mut id = String::new();
        for segment in &self.segments {
            id.push('/');
            id.push_str(segment);
        }
        id
    }

    /// The last segment: the resource's name.
    pub(crate) fn name(&self) -> &str {
        self.segments.last().map(String::as_str).unwrap_or("")
    }
}

/// Longer than any valid Azure resource name: a checked name shows whole.
const PATH_SEGMENT_SHOWN_CHARS: usize = 128;

impl fmt::Display for ResourcePath {
    /// The unescaped path without query, as used in logs and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            write!(f, "/{}", quote_up_to(segment, PATH_SEGMENT_SHOWN_CHARS))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_a_vm_path() {
        let path = ResourcePath::resource_group("sub", "rg")
            .provider("Microsoft.Compute")
            .child("virtualMachines", "vm-1");
        assert_eq!(
            path.to_string(),
            "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm-1"
        );
        assert_eq!(path.name(), "vm-1");
    }

    #[test]
    fn parses_ids_and_rejects_junk() {
        let id =
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic";
        let path = ResourcePath::parse_id(id).ok().unwrap();
        assert_eq!(path.to_string(), id);
        for bad in [
            "",
            "/",
            "resourceGroups/rg",
            "/subscriptions//x",
            "/foo/bar",
        ] {
            assert!(ResourcePath::parse_id(bad).is_err(), "{bad}");
        }
    }
}
