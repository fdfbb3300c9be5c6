//! Property tests: no input makes the layer panic, and names never change a path's shape.

use proptest::prelude::*;
use url::Url;

use super::support::imds_settings;
use crate::azure::arm::redact;
use crate::azure::{ApiKind, ArmClient, ResourcePath};

fn client() -> ArmClient {
    ArmClient::new(&imds_settings(
        "https://management.azure.com/",
        "http://127.0.0.1:1",
    ))
    .unwrap()
}

#[test]
fn dot_and_empty_segments_cannot_change_the_path() {
    let arm = client();
    let disk = |name: &str| {
        arm.resource_group_path("rg")
            .provider("Microsoft.Compute")
            .child("disks", name)
    };
    for name in [".", "..", ""] {
        let err = arm.url(&disk(name), ApiKind::Disks).unwrap_err();
        assert!(err.to_string().contains("not a valid name"), "{err}");
    }
    for name in ["../..", "%2e%2e", "a/../../b", ".hidden", "..."] {
        let url = arm.url(&disk(name), ApiKind::Disks).unwrap();
        let segments: Vec<&str> = url.path_segments().unwrap().collect();
        assert_eq!(segments.len(), 8, "{name}: {url}");
        assert_eq!(segments[6], "disks", "{name}: {url}");
        assert_eq!(percent_decode(segments[7]), name, "{name}: {url}");
    }
}

proptest! {
    #[test]
    fn any_name_stays_one_escaped_segment(rg in "\\PC{1,40}".prop_filter("dot segments are refused", |n| n != "." && n != ".."), name in "\\PC{1,60}".prop_filter("dot segments are refused", |n| n != "." && n != "..")) {
        let arm = client();
        let path = arm.resource_group_path(&rg).provider("Microsoft.Compute").child("disks", &name);
        let url = arm.url(&path, ApiKind::Disks).unwrap();
        let segments: Vec<String> = url
            .path_segments()
            .unwrap()
            .map(percent_decode)
            .collect();
        prop_assert_eq!(segments.len(), 8);
        prop_assert_eq!(&segments[3], &rg);
        prop_assert_eq!(&segments[7], &name);
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        prop_assert_eq!(pairs, vec![("api-version".to_owned(), "2024-03-02".to_owned())]);
        prop_assert_eq!(url.host_str(), Some("management.azure.com"));
    }

    #[test]
    fn arbitrary_ids_and_urls_never_panic(id in "\\PC{0,80}", query in "\\PC{0,80}") {
        let _ = ResourcePath::parse_id(&id);
        if let Ok(url) = Url::parse(&format!("https://a.blob.core.windows.net/c/b?{query}")) {
            let printed = redact::url(&url);
            prop_assert!(printed.starts_with("https://a.blob.core.windows.net/c/b"));
        }
    }
}

fn percent_decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .unwrap()
        .into_owned()
}
