//! Allow-list redaction for logs. Only query parameters and JSON keys known to be harmless are
//! printed as they are; every other string value becomes `<redacted>`, and whole subtrees
//! under secret-bearing keys are dropped. It stays on in debug mode.

use serde_json::Value;
use url::Url;

pub(crate) const REDACTED: &str = "<redacted>";

/// Query parameters printed as they are; any other (a SAS `sig`, `se`, `skoid`...) is redacted.
const SAFE_QUERY_PARAMS: [&str; 11] = [
    "api-version",
    "$filter",
    "$expand",
    "$top",
    "$skiptoken",
    "$skipToken",
    "validating",
    "monitor",
    "resource",
    "comp",
    "restype",
];

/// JSON keys whose scalar values are printed. Everything else shows `<redacted>` (numbers and
/// booleans included: an unknown key could be anything).
const SAFE_KEYS: &[&str] = &[
    "id",
    "name",
    "type",
    "kind",
    "location",
    "zones",
    "zone",
    "sku",
    "tier",
    "family",
    "capacity",
    "size",
    "provisioningState",
    "status",
    "startTime",
    "endTime",
    "percentComplete",
    "code",
    "message",
    "target",
    "vmSize",
    "createOption",
    "caching",
    "diskSizeGB",
    "diskIOPSReadWrite",
    "diskMBpsReadWrite",
    "storageAccountType",
    "publisher",
    "offer",
    "version",
    "osType",
    "osState",
    "hyperVGeneration",
    "architecture",
    "privateIPAddress",
    "privateIPAllocationMethod",
    "publicIPAllocationMethod",
    "publicIPAddressVersion",
    "idleTimeoutInMinutes",
    "ipAddress",
    "primary",
    "lun",
    "computerName",
    "adminUsername",
    "enableAcceleratedNetworking",
    "enableIPForwarding",
    "platformUpdateDomainCount",
    "platformFaultDomainCount",
    "replicaCount",
    "vmId",
    "timeCreated",
    "nextLink",
    "blob",
    "table",
    "queue",
    "file",
    "web",
    "dfs",
    "primaryLocation",
    "statusOfPrimary",
    "accessTier",
    "supportsHttpsTrafficOnly",
    "deleteOption",
    "securityType",
    "disablePasswordAuthentication",
    "resourceType",
    "locations",
    "mac",
    "macAddress",
    "keyName",
    "permissions",
    "creationTime",
];

/// Keys whose whole value is dropped, whatever it contains.
const SECRET_KEYS: &[&str] = &[
    "customData",
    "userData",
    "adminPassword",
    "env",
    "keys",
    "key1",
    "key2",
    "access_token",
    "refresh_token",
    "client_secret",
    "client_assertion",
    "password",
    "secret",
    "connectionString",
    "sasToken",
    "protectedSettings",
    "keyData",
    "publicKeys",
];

/// The URL with every query value not on the allow-list replaced; `nextLink`s and poll URLs go
/// through here too.
pub(crate) fn url(url: &Url) -> String {
    if url.query().is_none() {
        return url.to_string();
    }
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let keep = SAFE_QUERY_PARAMS.iter().any(|safe| *safe == k);
            (
                k.into_owned(),
                if keep {
                    v.into_owned()
                } else {
                    REDACTED.to_owned()
                },
            )
        })
        .collect();
    let mut out = url.clone();
    out.query_pairs_mut().clear().extend_pairs(pairs);
    out.to_string()
}

/// A redacted rendering of a JSON body; a non-JSON body is summarised by its length only.
pub(crate) fn body(bytes: &[u8]) -> String {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(value) => redact_value(&value, true).to_string(),
        Err(_) => format!("<{} bytes, not JSON>", bytes.len()),
    }
}

fn redact_value(value: &Value, safe: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let redacted = if SECRET_KEYS.iter().any(|s| s.eq_ignore_ascii_case(k)) {
                        Value::String(REDACTED.into())
                    } else if k == "tags" {
                        tags(v)
                    } else {
                        redact_value(v, SAFE_KEYS.contains(&k.as_str()))
                    };
                    (k.clone(), redacted)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact_value(v, safe)).collect()),
        Value::Null => Value::Null,
        Value::String(s) if safe => match Url::parse(s) {
            Ok(parsed) if parsed.query().is_some() => Value::String(url(&parsed)),
            _ => Value::String(s.clone()),
        },
        _ if safe => value.clone(),
        _ => Value::String(REDACTED.into()),
    }
}

/// Tags are BOSH metadata and names: their values are printed, whatever the tag key.
fn tags(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_value(v, true)))
                .collect(),
        ),
        other => redact_value(other, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sas_signature_never_printed() {
        let u = Url::parse("https://acct.blob.core.windows.net/c/b.vhd?sv=2021&sig=SECRETSIG&se=2030&api-version=1").unwrap();
        let printed = url(&u);
        assert!(!printed.contains("SECRETSIG"), "{printed}");
        assert!(printed.contains("api-version=1"));
    }

    #[test]
    fn only_allow_listed_values_survive() {
        let body = serde_json::json!({
            "name": "vm-1",
            "location": "westeurope",
            "properties": {
                "osProfile": {
                    "customData": "c2VjcmV0",
                    "adminPassword": "P@ss",
                    "computerName": "vm-1",
                    "unknownThing": "maybe-secret"
                },
                "keys": [{"keyName": "key1", "value": "ACCOUNTKEY=="}],
                "storageProfile": {"osDisk": {"vhd": {"uri": "https://a/b?sig=SAS"}}},
                "env": {"bosh": {"password": "x"}},
                "count": 3
            },
            "tags": {"deployment": "cf"}
        })
        .to_string();
        let printed = super::body(body.as_bytes());
        for secret in [
            "c2VjcmV0",
            "P@ss",
            "maybe-secret",
            "ACCOUNTKEY",
            "SAS",
            "\"x\"",
        ] {
            assert!(!printed.contains(secret), "{secret} leaked: {printed}");
        }
        for kept in ["vm-1", "westeurope", "cf"] {
            assert!(printed.contains(kept), "{kept} missing: {printed}");
        }
        assert_eq!(super::body(b"not json at all"), "<15 bytes, not JSON>");
    }
}
