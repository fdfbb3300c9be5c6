//! Marketplace (platform) image versions:
//! `/providers/Microsoft.Compute/locations/{l}/publishers/{p}/artifacttypes/vmimage/offers/{o}/skus/{s}/versions[/{v}]`.

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use super::COMPUTE_VERSIONS;
use crate::arm::{Call, check_version};
use crate::http::{ArmError, Reply};

/// (publisher, offer, sku, versions, hyperVGeneration)
const CATALOGUE: &[(&str, &str, &str, &[&str], &str)] = &[
    (
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts",
        &["22.04.202401010", "22.04.202402010", "22.04.202403010"],
        "V1",
    ),
    (
        "Canonical",
        "0001-com-ubuntu-server-jammy",
        "22_04-lts-gen2",
        &["22.04.202401010", "22.04.202403010"],
        "V2",
    ),
    (
        "Canonical",
        "ubuntu-24_04-lts",
        "server",
        &["24.04.202404230", "24.04.202405010"],
        "V2",
    ),
    (
        "Canonical",
        "UbuntuServer",
        "16.04-LTS",
        &["16.04.202109280"],
        "V1",
    ),
    (
        "MicrosoftWindowsServer",
        "WindowsServer",
        "2016-Datacenter",
        &["14393.6252.230905"],
        "V1",
    ),
    (
        "pivotal",
        "bosh-windows-server-2019",
        "2019",
        &["2019.71.0"],
        "V1",
    ),
];

fn find(
    p: &str,
    o: &str,
    s: &str,
) -> Option<&'static (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static str,
)> {
    CATALOGUE.iter().find(|(cp, co, cs, _, _)| {
        cp.eq_ignore_ascii_case(p) && co.eq_ignore_ascii_case(o) && cs.eq_ignore_ascii_case(s)
    })
}

/// The image's `hyperVGeneration` (`V1` or `V2`).
pub(crate) fn generation(p: &str, o: &str, s: &str) -> Option<&'static str> {
    find(p, o, s).map(|(_, _, _, _, generation)| *generation)
}

pub(crate) fn exists(p: &str, o: &str, s: &str, version: &str) -> bool {
    find(p, o, s).is_some_and(|(_, _, _, versions, _)| {
        version.eq_ignore_ascii_case("latest") || versions.contains(&version)
    })
}

pub(crate) fn handle(call: &mut Call<'_>, rest: &[&str]) -> Reply {
    match check_version(call.req, COMPUTE_VERSIONS, "locations/publishers", false) {
        Ok(v) => call.api_version = v,
        Err(e) => return e.reply(),
    }
    if call.req.method != Method::GET {
        return ArmError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Use GET.",
        )
        .reply();
    }
    let lower: Vec<String> = rest.iter().map(|s| s.to_ascii_lowercase()).collect();
    let l: Vec<&str> = lower.iter().map(String::as_str).collect();
    let (loc, p, o, s, version) = match l.as_slice() {
        [
            "locations",
            _,
            "publishers",
            _,
            "artifacttypes",
            "vmimage",
            "offers",
            _,
            "skus",
            _,
            "versions",
        ] => (rest[1], rest[3], rest[7], rest[9], None),
        [
            "locations",
            _,
            "publishers",
            _,
            "artifacttypes",
            "vmimage",
            "offers",
            _,
            "skus",
            _,
            "versions",
            _,
        ] => (rest[1], rest[3], rest[7], rest[9], Some(rest[11])),
        _ => {
            return ArmError::not_found(
                "InvalidResourceType",
                "No platform image route matches the request URI.",
            )
            .reply();
        }
    };
    let sub = &call.sim.config.subscription_id;
    let base = format!(
        "/Subscriptions/{sub}/Providers/Microsoft.Compute/Locations/{loc}/Publishers/{p}/ArtifactTypes/VMImage/Offers/{o}/Skus/{s}/Versions"
    );
    let Some((_, _, _, versions, generation)) = find(p, o, s) else {
        return ArmError::not_found(
            "NotFound",
            format!("Artifact: VMImage was not found for publisher '{p}', offer '{o}', sku '{s}'."),
        )
        .reply();
    };
    match version {
        None => {
            // This list is a bare JSON array, not a `{"value": ...}` page.
            let items: Vec<Value> = versions
                .iter()
                .map(|v| json!({"location": loc, "name": v, "id": format!("{base}/{v}")}))
                .collect();
            Reply::json(StatusCode::OK, Value::Array(items))
        }
        Some(v) if versions.iter().any(|x| x.eq_ignore_ascii_case(v)) => Reply::json(
            StatusCode::OK,
            json!({
                "location": loc, "name": v, "id": format!("{base}/{v}"),
                "properties": {
                    "hyperVGeneration": generation,
                    "architecture": "x64",
                    "osDiskImage": {"operatingSystem": if p.eq_ignore_ascii_case("pivotal") { "Windows" } else { "Linux" }},
                    "dataDiskImages": [],
                    "automaticOSUpgradeProperties": {"automaticOSUpgradeSupported": false},
                    "imageDeprecationStatus": {"imageState": "Active"},
                }
            }),
        ),
        Some(v) => ArmError::not_found(
            "NotFound",
            format!("Artifact: VMImage was not found (version '{v}')."),
        )
        .reply(),
    }
}
