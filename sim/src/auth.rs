//! Token endpoints (Entra ID v2 and v1, ADFS, IMDS) and bearer-token checks for ARM.
//!
//! Issued tokens are HS256 JWTs signed with a key that lives only in this process, so a token
//! from anywhere else (or an edited one) is rejected like a forged token in Azure.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use hyper::StatusCode;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha1::{Digest, Sha1};

use crate::Error;
use crate::http::{ArmError, Reply, Req, now_rfc3339, unix_now};
use crate::state::Sim;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The certificate that signs client assertions, reduced to what verification needs.
pub(crate) struct AssertionCert {
    thumbprint: Vec<u8>,
    key: DecodingKey,
}

impl AssertionCert {
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let bad = |m: String| Error::Config(format!("client_certificate_pem: {m}"));
        let (_, pem) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .map_err(|e| bad(format!("not a PEM certificate: {e}")))?;
        let cert = pem
            .parse_x509()
            .map_err(|e| bad(format!("not an X.509 certificate: {e}")))?;
        // For RSA keys the SubjectPublicKeyInfo bit string is the PKCS#1 RSAPublicKey DER.
        let spki = cert.public_key().subject_public_key.data.to_vec();
        Ok(Self {
            thumbprint: Sha1::digest(&pem.contents).to_vec(),
            key: DecodingKey::from_rsa_der(&spki),
        })
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    aud: String,
    iss: String,
    sub: String,
    appid: String,
    tid: String,
    /// The service principal's object id (Get User Delegation Key signs for it).
    oid: String,
    /// Entra ID's per-token identifier ("Access token claims reference": `uti`, unique and
    /// case-sensitive, the JWT `jti`): two tokens issued in the same second differ.
    #[serde(default)]
    uti: String,
    iat: i64,
    nbf: i64,
    exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xms_mirid: Option<String>,
}

#[derive(Debug, Deserialize)]
struct AssertionClaims {
    aud: Value,
    iss: Option<String>,
    sub: Option<String>,
    exp: Option<i64>,
    nbf: Option<i64>,
}

/// AAD-shaped error: `{error, error_description, error_codes, timestamp, trace_id, correlation_id, error_uri}`.
fn aad_error(status: StatusCode, error: &str, code: u32, text: &str) -> Reply {
    let trace = uuid::Uuid::new_v4().to_string();
    let corr = uuid::Uuid::new_v4().to_string();
    let ts = now_rfc3339();
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// A stable object id for a client id (Entra ID gives each service principal one).
fn object_id(client_id: &str) -> String {
    use sha1::Digest;
    let digest = sha1::Sha1::digest(client_id.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_sha1_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The audience of a bearer token this sim issued and that has not expired; `None` for a
/// missing, malformed, forged or expired one.
pub(crate) fn valid_bearer_audience(sim: &Sim, authorization: Option<&str>) -> Option<String> {
    let token = authorization?
        .strip_prefix("Bearer ")
        .or_else(|| authorization?.strip_prefix("bearer "))?;
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<AccessClaims>(
        token.trim(),
        &DecodingKey::from_secret(&sim.token_key),
        &validation,
    )
    .ok()?
    .claims;
    (claims.exp > unix_now() && claims.nbf <= unix_now()).then_some(claims.aud)
}

/// A token of the sim's own for blob storage (`https://storage.azure.com/`).
pub(crate) fn storage_token(sim: &Sim) -> (String, i64) {
    issue(sim, "https://storage.azure.com/", None)
}

fn issue(sim: &Sim, audience: &str, mirid: Option<String>) -> (String, i64) {
    let now = unix_now();
    let lifetime = sim.config.token_lifetime.as_secs() as i64;
    let claims = AccessClaims {
        aud: audience.to_string(),
        iss: format!("https://sts.windows.net/{}/", sim.config.tenant_id),
        sub: sim.config.client_id.clone(),
        appid: sim.config.client_id.clone(),
        tid: sim.config.tenant_id.clone(),
        oid: object_id(&sim.config.client_id),
        uti: uuid::Uuid::new_v4().simple().to_string(),
        iat: now,
        nbf: now - 5,
        exp: now + lifetime,
        xms_mirid: mirid,
    };
    let token = jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(&sim.token_key),
    )
    .unwrap_or_default();
    (token, lifetime)
}

/// Routes `/{tenant}/oauth2/v2.0/token`, `/{tenant}/oauth2/token` and `/adfs/oauth2/token`.
pub(crate) fn is_token_path(req: &Req) -> bool {
    let s: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    matches!(
        s.as_slice(),
        [_, "oauth2", "v2.0", "token"] | [_, "oauth2", "token"]
    )
}

pub(crate) fn token_endpoint(sim: &Sim, req: &Req) -> Reply {
    if req.method != hyper::Method::POST {
        return aad_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            900561,
            "The endpoint only accepts POST requests.",
        );
    }
    let v2 = req.segments.get(2).map(String::as_str) == Some("v2.0");
    let tenant = req.segments[0].as_str();
    let adfs = tenant.eq_ignore_ascii_case("adfs");
    if !adfs && !tenant.eq_ignore_ascii_case(&sim.config.tenant_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let form = req.form();
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if field("grant_type") != Some("client_credentials") {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type. Only 'client_credentials' is supported here.",
        );
    }
    let Some(client_id) = field("client_id") else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    };
    if !client_id.eq_ignore_ascii_case(&sim.config.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'."
            ),
        );
    }
    let audience = if v2 {
        match field("scope").and_then(|s| s.strip_suffix("/.default")) {
            Some(a) if !a.is_empty() => a.to_string(),
            _ => {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    1002012,
                    "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
                );
            }
        }
    } else {
        match field("resource") {
            Some(r) if !r.is_empty() => r.to_string(),
            _ => {
                return aad_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    900144,
                    "The request body must contain the following parameter: 'resource'.",
                );
            }
        }
    };
    if let Some(secret) = field("client_secret") {
        if secret != sim.config.client_secret {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
            );
        }
    } else if let Some(assertion) = field("client_assertion") {
        if field("client_assertion_type") != Some(ASSERTION_TYPE) {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                50027,
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            );
        }
        let endpoint = format!("{}{}", sim.base_url, req.raw_path);
        if let Err(reply) = verify_assertion(sim, assertion, &endpoint) {
            return reply;
        }
    } else {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let (token, lifetime) = issue(sim, &audience, None);
    if v2 {
        Reply::json(
            StatusCode::OK,
            json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
        )
    } else {
        // v1 and ADFS answer with numbers as strings.
        let now = unix_now();
        Reply::json(
            StatusCode::OK,
            json!({
                "token_type": "Bearer",
                "expires_in": lifetime.to_string(),
                "ext_expires_in": lifetime.to_string(),
                "expires_on": (now + lifetime).to_string(),
                "not_before": (now - 5).to_string(),
                "resource": audience,
                "access_token": token,
            }),
        )
    }
}

fn verify_assertion(sim: &Sim, assertion: &str, endpoint: &str) -> Result<(), Reply> {
    let invalid_sig =
        |text: &str| aad_error(StatusCode::UNAUTHORIZED, "invalid_client", 700027, text);
    let malformed = |text: &str| aad_error(StatusCode::BAD_REQUEST, "invalid_request", 50027, text);
    let Some(cert) = &sim.assertion_cert else {
        return Err(invalid_sig(
            "Client assertion failed signature validation: no certificate is registered for this application.",
        ));
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| malformed(&format!("JWT token is invalid or malformed: {e}.")))?;
    if header.alg != Algorithm::RS256 {
        return Err(malformed("The client assertion must be signed with RS256."));
    }
    let x5t = header
        .x5t
        .as_deref()
        .ok_or_else(|| invalid_sig("The client assertion header has no x5t thumbprint."))?;
    // Clients differ: base64url with or without padding, or standard base64.
    let decoded = URL_SAFE_NO_PAD
        .decode(x5t.trim_end_matches('='))
        .or_else(|_| URL_SAFE.decode(x5t))
        .or_else(|_| STANDARD.decode(x5t))
        .unwrap_or_default();
    if decoded != cert.thumbprint {
        return Err(invalid_sig(&format!(
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{x5t}']"
        )));
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let data = jsonwebtoken::decode::<AssertionClaims>(assertion, &cert.key, &validation)
        .map_err(|_| invalid_sig("Client assertion contains an invalid signature."))?;
    let claims = data.claims;
    let aud_ok = |a: &str| {
        let a = a.trim_end_matches('/');
        a == endpoint
            || a == endpoint.replace("/oauth2/v2.0/token", "/oauth2/token")
            || a == endpoint.replace("/oauth2/token", "/oauth2/v2.0/token")
    };
    let aud_matches = match &claims.aud {
        Value::String(a) => aud_ok(a),
        Value::Array(list) => list.iter().filter_map(Value::as_str).any(aud_ok),
        _ => false,
    };
    if !aud_matches {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700212,
            &format!(
                "The audience claim value '{}' of the client assertion is invalid; expected '{endpoint}'.",
                claims.aud
            ),
        ));
    }
    let client = &sim.config.client_id;
    if claims.iss.as_deref() != Some(client.as_str())
        || claims.sub.as_deref() != Some(client.as_str())
    {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter (iss and sub must both be the client id).",
        ));
    }
    let now = unix_now();
    let expired = claims.exp.is_none_or(|exp| exp <= now);
    let not_yet = claims.nbf.is_some_and(|nbf| nbf > now + 300);
    if expired || not_yet {
        return Err(aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    Ok(())
}

/// IMDS managed identity: `GET /metadata/identity/oauth2/token`, plain HTTP, `Metadata: true`.
pub(crate) fn imds(sim: &Sim, req: &Req) -> Reply {
    let imds_err = |status: StatusCode, error: &str, text: &str| {
        Reply::json(status, json!({"error": error, "error_description": text}))
    };
    let path: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    if path != ["metadata", "identity", "oauth2", "token"] {
        return imds_err(StatusCode::NOT_FOUND, "not_found", "No such IMDS endpoint.");
    }
    if req.method != hyper::Method::GET {
        return imds_err(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "Only GET is supported.",
        );
    }
    if !req
        .header("metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return imds_err(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    if req.q("api-version").is_none() {
        return imds_err(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required api-version parameter not specified",
        );
    }
    let Some(resource) = req.q("resource").filter(|r| !r.is_empty()) else {
        return imds_err(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required audience parameter not specified",
        );
    };
    let mirid = req.q("msi_res_id").map(str::to_string);
    if let Some(id) = &mirid
        && !sim
            .config
            .managed_identity_resource_ids
            .iter()
            .any(|known| known.eq_ignore_ascii_case(id))
    {
        return imds_err(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Identity not found",
        );
    }
    let (token, lifetime) = issue(sim, resource, mirid);
    let now = unix_now();
    Reply::json(
        StatusCode::OK,
        json!({
            "access_token": token,
            "client_id": sim.config.client_id,
            "expires_in": lifetime.to_string(),
            "expires_on": (now + lifetime).to_string(),
            "ext_expires_in": lifetime.to_string(),
            "not_before": (now - 5).to_string(),
            "resource": resource,
            "token_type": "Bearer",
        }),
    )
}

/// Checks the bearer token of an ARM request the way ARM does.
pub(crate) fn check_arm_token(sim: &Sim, req: &Req) -> Result<(), Reply> {
    let fail = |code: &str, message: String| {
        let challenge = format!(
            "Bearer authorization_uri=\"{}/{}\", error=\"invalid_token\", error_description=\"{}\"",
            sim.base_url,
            sim.config.tenant_id,
            message.replace('"', "'")
        );
        ArmError::new(StatusCode::UNAUTHORIZED, code, message)
            .reply()
            .header("WWW-Authenticate", challenge)
    };
    let Some(auth) = req.header("authorization") else {
        return Err(fail(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.".into(),
        ));
    };
    let Some(token) = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
    else {
        return Err(fail(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format."
                .into(),
        ));
    };
    let mut validation = Validation::new(Algorithm::HS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = match jsonwebtoken::decode::<AccessClaims>(
        token.trim(),
        &DecodingKey::from_secret(&sim.token_key),
        &validation,
    ) {
        Ok(data) => data.claims,
        Err(_) => {
            return Err(fail(
                "InvalidAuthenticationToken",
                "The access token is invalid.".into(),
            ));
        }
    };
    let now = unix_now();
    if claims.exp <= now {
        let fmt = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .ok()
                .and_then(|d| {
                    d.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default()
        };
        return Err(fail(
            "ExpiredAuthenticationToken",
            format!(
                "The access token expiry UTC time '{}' is earlier than current UTC time '{}'.",
                fmt(claims.exp),
                fmt(now)
            ),
        ));
    }
    let audiences = sim.arm_audiences();
    let aud = claims.aud.trim_end_matches('/');
    if !audiences.iter().any(|a| a.trim_end_matches('/') == aud) {
        return Err(fail(
            "InvalidAuthenticationTokenAudience",
            format!(
                "The access token has been obtained for wrong audience or resource '{}'. It should exactly match with one of the allowed audiences '{}'.",
                claims.aud,
                audiences.join("','")
            ),
        ));
    }
    Ok(())
}
