//! Microsoft.Resources generic resources: the tag-filtered list of a resource group.

use serde::Deserialize;

use super::ResourcePath;

/// An entry of `GET .../resources`. Azure leaves out the tags when the list is filtered by a
/// tag, so only what identifies the resource is read.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub(crate) struct GenericResource {
    pub id: String,
    #[serde(rename = "type")]
    pub(crate) resource_type: String,
}

impl GenericResource {
    /// ARM resource types compare case-insensitively.
    pub(crate) fn is_type(&self, resource_type: &str) -> bool {
        self.resource_type.eq_ignore_ascii_case(resource_type)
    }
}

/// `<resource group>/resources?$filter=tagName eq '<name>' and tagValue eq '<value>'`.
pub(crate) fn tagged_resources_path(
    resource_group: ResourcePath,
    tag_name: &str,
    tag_value: &str,
) -> ResourcePath {
    // OData string literals escape a quote by doubling it.
    let quote = |s: &str| s.replace('\'', "''");
    resource_group.segment("resources").query(
        "$filter",
        &format!(
            "tagName eq '{}' and tagValue eq '{}'",
            quote(tag_name),
            quote(tag_value)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_filter_quotes_odata_literals() {
        let path = tagged_resources_path(
            ResourcePath::resource_group("sub", "rg"),
            "compute_gallery_name",
            "o'gallery",
        );
        assert_eq!(
            path.segments().last().map(String::as_str),
            Some("resources")
        );
        assert_eq!(
            path.query_pairs(),
            &[(
                "$filter".to_string(),
                "tagName eq 'compute_gallery_name' and tagValue eq 'o''gallery'".to_string()
            )]
        );
    }

    #[test]
    fn resource_types_compare_case_insensitively() {
        let item: GenericResource = serde_json::from_value(serde_json::json!({
            "id": "/x", "type": "Microsoft.Compute/Galleries/Images/Versions", "location": "l"
        }))
        .unwrap();
        assert!(item.is_type("Microsoft.Compute/galleries/images/versions"));
    }
}
