//! The write URL of a managed disk created for upload (`createOption: Upload`), as Azure's
//! direct upload serves it: `beginGetAccess` with `access: Write` hands out a SAS URL of a page
//! blob (`https://md-impexp-….blob.storage.azure.net/<id>/abcd?sv=…&sr=b&si=…&sig=…`), which
//! takes Put Page until `endGetAccess` revokes it. Here the URL is
//! `{base_url}/md-impexp/{disk uniqueId}/abcd?…` on the sim's own HTTPS port.
//!
//! What a request must carry (sources: "Upload a VHD to Azure or copy a managed disk to another
//! region - Azure CLI" and "Secure downloads and uploads with Microsoft Entra ID" for managed
//! disks; AzCopy's `MDResource` constant for the audience):
//! - the SAS issued by the live grant (a revoked or unknown one is refused, 403);
//! - for a disk with `dataAccessAuthMode: AzureActiveDirectory`, also `Authorization: Bearer`
//!   with a token for `https://disk.azure.com/` (trailing slash included: AzCopy notes the
//!   service checks that exact value) and `x-ms-version`, as every bearer request to storage;
//! - Put Page (`comp=page`, `x-ms-page-write: update`) on 512-byte aligned ranges inside
//!   `uploadSizeBytes` (a range past the end is `416 InvalidPageRange`, as for page blobs).
//!
//! Errors answer the storage way: the status and `x-ms-error-code` (the CPI reads the code).

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Reply, Req};
use crate::resources::disks::{ACTIVE_UPLOAD, READY_TO_UPLOAD, upload_state};
use crate::resources::{ActionResult, expect_enum, expect_int, get, get_str, props_mut};
use crate::state::Sim;

/// The first path segment of upload URLs.
const UPLOAD_SEGMENT: &str = "md-impexp";
/// The resource id Azure's disk upload accepts tokens for.
pub(crate) const DISK_AUDIENCE: &str = "https://disk.azure.com/";
const PAGE: u64 = 512;
/// Largest Put Page body (the Blob service's limit).
const MAX_PUT_PAGE: u64 = 4 * 1024 * 1024;
/// The cookie that starts a VHD footer.
const VHD_COOKIE: &[u8] = b"conectix";

/// True for a request to an upload URL.
pub(crate) fn is_upload_path(req: &Req) -> bool {
    req.segments.first().is_some_and(|s| s == UPLOAD_SEGMENT)
}

/// `beginGetAccess`: `access: Write` on a `ReadyToUpload` disk makes it `ActiveUpload` and
/// answers the write URL as `AccessUri.accessSAS`.
pub(crate) fn grant_access(
    sim: &Sim,
    store: &mut Store,
    item: &Stored,
    req: &Req,
) -> Result<ActionResult, ArmError> {
    let body: Value = serde_json::from_slice(&req.body).map_err(|_| {
        ArmError::bad_request(
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized.",
        )
    })?;
    let access = expect_enum(&body, "access", &["None", "Read", "Write"])?.ok_or_else(|| {
        ArmError::invalid_parameter("access", "Required parameter 'access' is missing (null).")
    })?;
    expect_int(&body, "durationInSeconds")?.ok_or_else(|| {
        ArmError::invalid_parameter(
            "durationInSeconds",
            "Required parameter 'durationInSeconds' is missing (null).",
        )
    })?;
    if access != "Write" {
        return Err(ArmError::bad_request(
            "OperationNotAllowed",
            format!(
                "azure-sim models disk access for uploads only (access 'Write'), not '{access}'."
            ),
        ));
    }
    match upload_state(&item.body) {
        Some(READY_TO_UPLOAD) => {}
        Some(state) => {
            return Err(ArmError::conflict(
                "OperationNotAllowed",
                format!("Disk {} is already in the '{state}' state.", item.id),
            ));
        }
        None => {
            return Err(ArmError::conflict(
                "OperationNotAllowed",
                format!(
                    "Write access can be granted only on a disk created with createOption 'Upload' that is in the '{READY_TO_UPLOAD}' state; disk {} is not.",
                    item.id
                ),
            ));
        }
    }
    let unique = get_str(&item.body, "properties.uniqueId")
        .unwrap_or_default()
        .to_string();
    let signature = uuid::Uuid::new_v4().simple().to_string();
    let policy = uuid::Uuid::new_v4().to_string();
    let url = format!(
        "{}/{UPLOAD_SEGMENT}/{unique}/abcd?sv=2018-03-28&sr=b&si={policy}&sig={signature}",
        sim.base_url
    );
    if let Some(stored) = store.get_mut(&item.id) {
        props_mut(&mut stored.body).insert("diskState".into(), json!(ACTIVE_UPLOAD));
        stored.hidden["upload"] = json!({"sig": signature, "puts": 0, "writtenBytes": 0});
    }
    Ok(ActionResult::LroOutput(json!({ "accessSAS": url })))
}

/// `endGetAccess`: the write URL stops working and an uploaded disk becomes `Unattached`.
/// A disk without a live grant is left as it is (the call succeeds).
pub(crate) fn revoke_access(store: &mut Store, item: &Stored) -> ActionResult {
    if upload_state(&item.body) == Some(ACTIVE_UPLOAD)
        && let Some(stored) = store.get_mut(&item.id)
    {
        props_mut(&mut stored.body).remove("diskState");
        if let Some(upload) = stored
            .hidden
            .get_mut("upload")
            .and_then(Value::as_object_mut)
        {
            upload.remove("sig");
        }
    }
    ActionResult::Lro
}

fn storage_error(status: StatusCode, code: &str) -> Reply {
    Reply::empty(status)
        .header("x-ms-error-code", code)
        .header("x-ms-request-id", uuid::Uuid::new_v4().to_string())
}

/// Put Page on an upload URL.
pub(crate) fn put_page(sim: &Sim, req: &Req) -> Reply {
    let unique = match req.segments.as_slice() {
        [_, unique, blob] if blob == "abcd" => unique.clone(),
        _ => return storage_error(StatusCode::NOT_FOUND, "ResourceNotFound"),
    };
    let mut state = sim.lock();
    let Some(disk_id) = state
        .store
        .of_type("Microsoft.Compute/disks")
        .into_iter()
        .find(|d| get_str(&d.body, "properties.uniqueId") == Some(unique.as_str()))
        .map(|d| d.id.clone())
    else {
        return storage_error(StatusCode::NOT_FOUND, "ResourceNotFound");
    };
    let Some(disk) = state.store.get_mut(&disk_id) else {
        return storage_error(StatusCode::NOT_FOUND, "ResourceNotFound");
    };
    let issued = disk.hidden["upload"]["sig"].as_str().map(str::to_owned);
    let live = upload_state(&disk.body) == Some(ACTIVE_UPLOAD)
        && issued.is_some()
        && req.q("sig").map(str::to_owned) == issued;
    if !live {
        return storage_error(StatusCode::FORBIDDEN, "AuthenticationFailed");
    }
    if get_str(&disk.body, "properties.dataAccessAuthMode")
        .is_some_and(|m| m.eq_ignore_ascii_case("AzureActiveDirectory"))
    {
        match crate::auth::valid_bearer_audience(sim, req.header("authorization")) {
            None => return storage_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationInfo"),
            Some(aud) if aud != DISK_AUDIENCE => {
                return storage_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationInfo");
            }
            Some(_) => {}
        }
        if req.header("x-ms-version").is_none() {
            return storage_error(StatusCode::BAD_REQUEST, "MissingRequiredHeader");
        }
    }
    if req.method != Method::PUT
        || req.q("comp") != Some("page")
        || !req
            .header("x-ms-page-write")
            .is_some_and(|w| w.eq_ignore_ascii_case("update"))
    {
        return storage_error(StatusCode::BAD_REQUEST, "UnsupportedHttpVerb");
    }
    let Some((start, end)) = req
        .header("x-ms-range")
        .or_else(|| req.header("range"))
        .and_then(parse_range)
    else {
        return storage_error(StatusCode::BAD_REQUEST, "InvalidHeaderValue");
    };
    let len = end + 1 - start;
    if !start.is_multiple_of(PAGE) || !len.is_multiple_of(PAGE) || len > MAX_PUT_PAGE {
        return storage_error(StatusCode::RANGE_NOT_SATISFIABLE, "InvalidPageRange");
    }
    if req.body.len() as u64 != len {
        return storage_error(StatusCode::BAD_REQUEST, "InvalidHeaderValue");
    }
    let size = get(&disk.body, "properties.creationData.uploadSizeBytes")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if end >= size {
        return storage_error(StatusCode::RANGE_NOT_SATISFIABLE, "InvalidPageRange");
    }
    let upload = &mut disk.hidden["upload"];
    upload["puts"] = json!(upload["puts"].as_u64().unwrap_or(0) + 1);
    upload["writtenBytes"] = json!(upload["writtenBytes"].as_u64().unwrap_or(0) + len);
    let footer = size - PAGE;
    if start <= footer && end >= size - 1 {
        let at = (footer - start) as usize;
        let cookie = req.body.get(at..at + VHD_COOKIE.len());
        upload["footerWritten"] = json!(cookie == Some(VHD_COOKIE));
    }
    Reply::empty(StatusCode::CREATED)
        .header(
            "ETag",
            format!("\"0x{:X}\"", upload["puts"].as_u64().unwrap_or(0)),
        )
        .header(
            "Last-Modified",
            httpdate::fmt_http_date(std::time::SystemTime::now()),
        )
        .header("x-ms-request-id", uuid::Uuid::new_v4().to_string())
        .header(
            "x-ms-version",
            req.header("x-ms-version")
                .unwrap_or("2018-03-28")
                .to_owned(),
        )
        .header("x-ms-blob-sequence-number", "0")
        .header("x-ms-request-server-encrypted", "true")
}

/// `bytes=<start>-<end>` with `start <= end`.
fn parse_range(value: &str) -> Option<(u64, u64)> {
    let (start, end) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    let (start, end) = (start.parse().ok()?, end.parse().ok()?);
    (start <= end).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges_parse_as_the_blob_service_writes_them() {
        assert_eq!(parse_range("bytes=0-511"), Some((0, 511)));
        assert_eq!(parse_range("bytes=512-1023"), Some((512, 1023)));
        for bad in ["0-511", "bytes=5-1", "bytes=a-b", "bytes=1"] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
