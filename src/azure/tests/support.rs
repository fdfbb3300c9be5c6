//! Loopback servers for the Azure layer's tests: a scripted HTTP(S) server that records every
//! request, and a proxy that resets its first connections.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use url::Url;

use crate::azure::settings::{Authority, AzureSettings, CloudKind, CredentialSettings, Timings};

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub(super) struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub(crate) headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Recorded {
    pub(super) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub(super) fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    pub(super) fn form_value(&self, key: &str) -> Option<String> {
        self.form()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    pub(super) fn query_value(&self, key: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }
}

/// What the script answers.
pub(super) struct Reply {
    pub status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub(super) fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.to_string(),
        }
    }

    pub(super) fn empty(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub(super) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// What the script sees: the request, how many earlier requests had the same method and path,
/// and the server's base URL (for absolute operation URLs).
pub(super) struct Ctx<'a> {
    pub(crate) req: &'a Recorded,
    pub n: usize,
    pub base: &'a str,
}

type Script = dyn Fn(&Ctx<'_>) -> Reply + Send + Sync;

struct Shared {
    log: Mutex<Vec<Recorded>>,
    script: Box<Script>,
    base: Mutex<String>,
}

/// A scripted server on 127.0.0.1:0; stops when dropped.
pub(super) struct TestServer {
    shared: Arc<Shared>,
    pub base: String,
    pub addr: SocketAddr,
    /// The self-signed certificate (PEM) when serving https.
    pub ca_pem: Option<String>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let recorded = Recorded {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        headers,
        body,
        at: Instant::now(),
    };
    let n = {
        let mut log = shared.log.lock().unwrap();
        let n = log
            .iter()
            .filter(|r| r.method == recorded.method && r.path == recorded.path)
            .count();
        log.push(recorded.clone());
        n
    };
    let base = shared.base.lock().unwrap().clone();
    let reply = (shared.script)(&Ctx {
        req: &recorded,
        n,
        base: &base,
    });
    let mut response = (
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reply.body,
    )
        .into_response();
    for (name, value) in reply.headers {
        response.headers_mut().insert(
            axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            value.parse().unwrap(),
        );
    }
    response
}

struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((stream, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(stream).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

impl TestServer {
    pub(super) async fn http(script: impl Fn(&Ctx<'_>) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(Box::new(script), false).await
    }

    pub(super) async fn https(script: impl Fn(&Ctx<'_>) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(Box::new(script), true).await
    }

    async fn start(script: Box<Script>, tls: bool) -> Self {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            script,
            base: Mutex::new(String::new()),
        });
        let router = Router::new().fallback(handle).with_state(shared.clone());
        let (base, ca_pem, task) = if tls {
            let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
            let ca_pem = cert.cert.pem();
            let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())
                .unwrap();
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::aws_lc_rs::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .unwrap();
            let listener = TlsListener {
                tcp,
                acceptor: TlsAcceptor::from(Arc::new(config)),
            };
            let task = tokio::spawn(async move {
                let _ = axum::serve(listener, router).await;
            });
            (format!("https://{addr}"), Some(ca_pem), task)
        } else {
            let task = tokio::spawn(async move {
                let _ = axum::serve(tcp, router).await;
            });
            (format!("http://{addr}"), None, task)
        };
        *shared.base.lock().unwrap() = base.clone();
        Self {
            shared,
            base,
            addr,
            ca_pem,
            task,
        }
    }

    pub(super) fn url(&self, path: &str) -> Url {
        Url::parse(&format!("{}{path}", self.base)).unwrap()
    }

    pub(super) fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap().clone()
    }

    /// Requests whose path contains `fragment`.
    pub(super) fn requests_to(&self, fragment: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path.contains(fragment))
            .collect()
    }
}

/// A TCP proxy in front of `backend` that reads the first `resets` requests and then resets
/// the connection (RST), so the client cannot know whether the request was processed.
pub(super) struct ResettingProxy {
    pub base: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ResettingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ResettingProxy {
    pub(super) async fn start(backend: SocketAddr, resets: usize) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let mut remaining = resets;
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if remaining > 0 {
                    remaining -= 1;
                    tokio::spawn(async move {
                        let mut seen = Vec::new();
                        let mut buf = [0u8; 4096];
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match client.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        // A zero linger makes the close an RST; with zero it cannot block.
                        #[allow(deprecated)]
                        let _ = client.set_linger(Some(Duration::ZERO));
                        drop(client);
                    });
                } else {
                    tokio::spawn(async move {
                        if let Ok(mut upstream) = TcpStream::connect(backend).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
                            let _ = upstream.shutdown().await;
                        }
                    });
                }
            }
        });
        Self {
            base: format!("http://{addr}"),
            task,
        }
    }
}

pub(super) const TENANT: &str = "11111111-2222-3333-4444-555555555555";
pub(super) const SUBSCRIPTION: &str = "00000000-0000-0000-0000-000000000000";
pub(super) const AUDIENCE: &str = "https://management.azure.com/";

pub(super) fn fast_timings() -> Timings {
    Timings {
        max_attempts: 6,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_secs(3),
        poll_default: Duration::from_millis(10),
        poll_floor: Duration::from_millis(5),
        poll_ceiling: Duration::from_millis(100),
        connect_timeout: Duration::from_secs(2),
        request_timeout: Duration::from_secs(5),
    }
}

/// Settings whose token comes from a fake IMDS on `token_base` and ARM at `arm_base`.
pub(super) fn imds_settings(arm_base: &str, token_base: &str) -> AzureSettings {
    AzureSettings {
        cloud: CloudKind::Public,
        resource_manager_url: Url::parse(arm_base).unwrap(),
        authority: Authority::EntraId {
            host: Url::parse("https://login.microsoftonline.com").unwrap(),
        },
        token_audience: AUDIENCE.into(),
        tenant_id: TENANT.into(),
        subscription_id: SUBSCRIPTION.into(),
        credential: CredentialSettings::ManagedIdentity {
            resource_id: None,
            endpoint: Some(
                Url::parse(&format!("{token_base}/metadata/identity/oauth2/token")).unwrap(),
            ),
        },
        extra_ca_pem: None,
        isv_tracking_guid: crate::azure::settings::DEFAULT_ISV_TRACKING_GUID.into(),
        debug_mode: false,
        timings: fast_timings(),
        cpi_method: None,
        method_deadline: None,
        storage_authentication: Default::default(),
        storage_audience: None,
        disk_audience: None,
    }
}

/// An IMDS-style token answer.
pub(super) fn imds_token(token: &str, expires_in: u64) -> Reply {
    Reply::json(
        200,
        serde_json::json!({
            "access_token": token,
            "expires_in": expires_in.to_string(),
            "token_type": "Bearer",
            "resource": AUDIENCE,
        }),
    )
}

pub(super) fn is_token_request(ctx: &Ctx<'_>) -> bool {
    ctx.req.path.contains("/oauth2/")
}

pub(super) fn arm_error(status: u16, code: &str, message: &str) -> Reply {
    Reply::json(
        status,
        serde_json::json!({"error": {"code": code, "message": message}}),
    )
}
