//! The one HTTP stack of the process: one client configuration (trust roots, the extra CA of
//! Azure Stack or a local simulator, timeouts, no redirects) shared by ARM calls, token
//! requests, the blob SDK and the page writer, so connections are reused and every endpoint is
//! trusted and bounded the same way. Building it never panics: a missing trust store is a
//! [`ClientError`] that says what was read and how to give one.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::Certificate;

use super::error::Error;
use super::settings::{AzureSettings, Timings};

/// What the client is built from; [`HttpOptions::from_settings`] for the CPI's own settings.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Extra CA certificates (PEM) trusted besides the system store (`azure.endpoints.ca_cert`,
    /// the Azure Stack CA).
    pub extra_ca_pem: Option<String>,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
}

impl HttpOptions {
    pub(crate) fn from_settings(settings: &AzureSettings) -> Self {
        Self {
            extra_ca_pem: settings.extra_ca_pem.clone(),
            connect_timeout: settings.timings.connect_timeout,
            request_timeout: settings.timings.request_timeout,
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        let timings = Timings::default();
        Self {
            extra_ca_pem: None,
            connect_timeout: timings.connect_timeout,
            request_timeout: timings.request_timeout,
        }
    }
}

/// Why no HTTP client could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    #[error("the extra CA certificate (azure.endpoints.ca_cert or the Azure Stack CA) {0}")]
    ExtraCa(String),
    /// No trust root at all: no extra CA and nothing usable in the system store.
    #[error(
        "no trusted CA certificate: {store} gave none{problems}. Give the CA of the Azure endpoints in azure.endpoints.ca_cert, or provide a system CA bundle (install the ca-certificates package, or point SSL_CERT_FILE at a PEM bundle)"
    )]
    NoTrustRoots { store: String, problems: String },
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
}

impl From<ClientError> for Error {
    fn from(err: ClientError) -> Self {
        Error::Invalid(err.to_string())
    }
}

/// Builds the process's client from the CPI settings.
pub(crate) fn build_client(settings: &AzureSettings) -> Result<reqwest::Client, ClientError> {
    build(&HttpOptions::from_settings(settings))
}

/// Builds a client. Proxies come from `HTTP(S)_PROXY` / `NO_PROXY`, as in the Ruby CPI.
/// Redirects are not followed: Azure's REST APIs do not redirect, and a followed redirect
/// would carry a signed request elsewhere.
pub fn build(options: &HttpOptions) -> Result<reqwest::Client, ClientError> {
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_idle_timeout(Duration::from_secs(60));
    if let Some(pem) = &options.extra_ca_pem {
        let certs = Certificate::from_pem_bundle(pem.as_bytes())
            .map_err(|e| ClientError::ExtraCa(format!("is not valid PEM: {e}")))?;
        if certs.is_empty() {
            return Err(ClientError::ExtraCa("holds no certificate".into()));
        }
        builder = builder.tls_certs_merge(certs);
    }
    builder.build().map_err(|e| {
        if options.extra_ca_pem.is_none() {
            // reqwest's verifier reads the system store through rustls-native-certs; read it
            // the same way to tell the operator which store was empty and why.
            let loaded = rustls_native_certs::load_native_certs();
            if loaded.certs.is_empty() {
                return no_trust_roots(&loaded.errors);
            }
        }
        ClientError::Build(error_chain(&e))
    })
}

/// Where rustls-native-certs looked: `SSL_CERT_FILE` / `SSL_CERT_DIR` when either is set (and
/// then nothing else), else the bundle and directory openssl-probe finds.
fn trust_store_description() -> String {
    let file = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    let dirs = std::env::var_os("SSL_CERT_DIR").map(|v| v.to_string_lossy().into_owned());
    match (file, dirs.filter(|d| !d.is_empty())) {
        (None, None) => {
            let probe = openssl_probe::probe();
            let mut places: Vec<String> = probe
                .cert_file
                .iter()
                .map(|f| short(&f.display().to_string()))
                .collect();
            places.extend(
                probe
                    .cert_dir
                    .iter()
                    .map(|d| short(&d.display().to_string())),
            );
            if places.is_empty() {
                "the system trust store (no CA bundle found in the usual places)".to_owned()
            } else {
                format!("the system trust store ({})", places.join(", "))
            }
        }
        (file, dirs) => {
            let mut parts = Vec::new();
            if let Some(file) = file {
                parts.push(format!(
                    "SSL_CERT_FILE={}",
                    short(&file.display().to_string())
                ));
            }
            if let Some(dirs) = dirs {
                parts.push(format!("SSL_CERT_DIR={}", short(&dirs)));
            }
            format!("the trust store named by {}", parts.join(" and "))
        }
    }
}

fn no_trust_roots(errors: &[rustls_native_certs::Error]) -> ClientError {
    let problems = errors
        .iter()
        .take(3)
        .map(|e| short(&e.to_string()))
        .collect::<Vec<_>>();
    ClientError::NoTrustRoots {
        store: trust_store_description(),
        problems: if problems.is_empty() {
            String::new()
        } else {
            format!(" ({})", problems.join("; "))
        },
    }
}

/// Paths and error texts come from the environment: quote a short prefix only.
fn short(text: &str) -> String {
    crate::names::quote_up_to(text, 200).to_string()
}

/// Which Azure service an endpoint is, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    TokenEndpoint,
    ResourceManager,
    BlobStorage,
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::TokenEndpoint => "the token endpoint",
            Self::ResourceManager => "Azure Resource Manager",
            Self::BlobStorage => "blob storage",
        })
    }
}

/// Why no answer came: the network, or a TLS certificate the client does not trust.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Refused, timed out, DNS.
    Network(String),
    /// The handshake failed on the server's certificate (e.g. an unknown issuer).
    Untrusted(String),
}

/// No answer at all from an endpoint: every connection attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConnectFailure {
    pub service: Service,
    pub host: String,
    pub problem: Problem,
    pub attempts: u32,
    pub elapsed_ms: u64,
}

impl std::fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            service,
            host,
            attempts,
            ..
        } = self;
        match &self.problem {
            Problem::Network(problem) => write!(
                f,
                "{service} at {host} could not be reached: {problem} ({attempts} attempts in {:.1}s; a network problem between the CPI and Azure: check DNS, routes, firewall and proxy)",
                self.elapsed_ms as f64 / 1000.0
            ),
            Problem::Untrusted(detail) => write!(
                f,
                "{service} at {host} presented a TLS certificate that is not trusted ({detail}): give its CA in azure.endpoints.ca_cert (the Azure Stack CA in azure.azure_stack.ca_cert), or add it to the system trust store"
            ),
        }
    }
}

impl ConnectFailure {
    /// Whether another attempt may help: a certificate does not become trusted by retrying.
    pub(crate) fn retryable(problem: &Problem) -> bool {
        matches!(problem, Problem::Network(_))
    }
}

/// A failed connection (refused, timed out, DNS, an untrusted certificate) as opposed to a
/// failure after the request was sent; `None` for anything else. hyper-util marks its
/// connector's failures "tcp connect error" and "dns error".
pub(crate) fn connect_problem(err: &reqwest::Error) -> Option<Problem> {
    if !err.is_connect() {
        return None;
    }
    let (mut tcp, mut dns) = (false, false);
    let mut untrusted = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = source {
        let text = e.to_string();
        tcp |= text.starts_with("tcp connect error");
        dns |= text.starts_with("dns error");
        // rustls's wording for a certificate the verifier refused.
        if text.starts_with("invalid peer certificate") {
            untrusted = Some(short(&text));
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return Some(Problem::Network("connection refused".into()));
                }
                std::io::ErrorKind::TimedOut => {
                    return Some(Problem::Network("connection timed out".into()));
                }
                _ => {}
            }
        }
        source = e.source();
    }
    if let Some(detail) = untrusted {
        Some(Problem::Untrusted(detail))
    } else if dns {
        Some(Problem::Network(
            "the host name could not be resolved (DNS)".into(),
        ))
    } else if err.is_timeout() {
        Some(Problem::Network("connection timed out".into()))
    } else if tcp {
        Some(Problem::Network(format!(
            "connection failed ({})",
            short(&error_chain(err))
        )))
    } else {
        None
    }
}

/// `host[:port]` of a URL, for messages (never a path or query).
pub(crate) fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => "(no host)".to_owned(),
    }
}

/// The [`ConnectFailure`] inside an SDK error, if a connection failure ended it.
pub(crate) fn connect_failure_in<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a ConnectFailure> {
    find_in(err)
}

/// The [`NoAnswerByDeadline`] inside an SDK error, if the call's deadline ended it.
pub(crate) fn deadline_in<'a>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a NoAnswerByDeadline> {
    find_in(err)
}

/// The first `T` in an error's chain, looking inside `azure_core::Error`s too.
pub(crate) fn find_in<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        if let Some(azure) = e.downcast_ref::<azure_core::Error>()
            && let Some(inner) = azure.get_ref()
            && let Some(found) = inner.downcast_ref::<T>()
        {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// An endpoint that gave no answer before the CPI method's deadline.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) struct NoAnswerByDeadline {
    pub service: Service,
    pub host: String,
    /// The CPI method whose deadline it is.
    pub method: Option<&'static str>,
    /// How long the method may take.
    pub timeout: Option<Duration>,
}

impl std::fmt::Display for NoAnswerByDeadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { service, host, .. } = self;
        let deadline = match (self.method, self.timeout) {
            (Some(method), Some(timeout)) => format!(
                "the deadline of CPI method {method} ({} s, azure.method_timeouts.{method})",
                timeout.as_secs()
            ),
            (Some(method), None) => {
                format!("the deadline of CPI method {method} (azure.method_timeouts.{method})")
            }
            _ => "the call's deadline".to_owned(),
        };
        write!(
            f,
            "{service} at {host} gave no answer before {deadline} passed; the request was abandoned"
        )
    }
}

/// The error's sources, for a message that says "connection reset" rather than just "error
/// sending request".
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_connection_is_named_as_such() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let err = runtime
            .block_on(async {
                let client = build(&HttpOptions::default()).unwrap();
                client.get(format!("http://127.0.0.1:{port}/")).send().await
            })
            .unwrap_err();
        assert_eq!(
            connect_problem(&err),
            Some(Problem::Network("connection refused".into()))
        );
    }

    #[test]
    fn long_paths_are_cut() {
        let long = "x".repeat(5000);
        let cut = short(&long);
        assert!(cut.len() < 300 && cut.ends_with("… (5000 bytes)"), "{cut}");
    }
}
