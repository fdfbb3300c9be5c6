//! Blob storage for tests: a real Azurite (the Azure Storage emulator) started on a free
//! loopback port, and `PageBlobSink`, a tiny page-blob endpoint that discards data, counts
//! Put Page calls and can inject failures (503s, connection resets).
//!
//! Azurite comes from the workspace's `package.json` (`npm ci` at the workspace root puts
//! `azurite-blob` in `node_modules/.bin`). Tests that need it fail with that instruction when
//! it is missing, unless `SKIP_AZURITE=1` is set.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// Azurite's well-known development account. Public, documented emulator credentials.
pub const ACCOUNT_NAME: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

const STARTUP_DEADLINE: Duration = Duration::from_secs(30);
const START_ATTEMPTS: u32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum AzuriteError {
    #[error(
        "Azurite is not installed: {} not found. Run `npm ci` in the workspace root ({}) to install it \
         (CI does), or set SKIP_AZURITE=1 to skip the tests that need it",
        .binary.display(), .root.display()
    )]
    NotInstalled { binary: PathBuf, root: PathBuf },
    #[error("failed to start {}: {source}", .binary.display())]
    Spawn {
        binary: PathBuf,
        source: std::io::Error,
    },
    #[error("azurite-blob exited during startup ({status})")]
    Exited { status: std::process::ExitStatus },
    #[error("azurite-blob did not accept connections on port {port} within {STARTUP_DEADLINE:?}")]
    Timeout { port: u16 },
    #[error("no free loopback port: {0}")]
    NoPort(std::io::Error),
}

/// A running `azurite-blob` child process, killed on drop.
#[derive(Debug)]
pub struct Azurite {
    child: Child,
    port: u16,
    /// `https` in OAuth mode.
    scheme: &'static str,
    /// The certificate files of OAuth mode, removed on drop.
    tls_dir: Option<PathBuf>,
}

/// Azurite's OAuth mode: `--oauth basic` over HTTPS. Read from Azurite 3.35's source
/// (`dist/src/blob/authentication/BlobTokenAuthenticator.js`): it accepts a bearer token over
/// HTTPS only, checks its `nbf`/`exp`/`iat`, an issuer starting with `https://sts.windows.net/`
/// (or the other clouds' STS hosts) and an audience of `https://storage.azure.com[/]` (or the
/// account's own blob host), but not its signature; it serves Get User Delegation Key. It still
/// accepts Shared Key and account-key SAS for every account, which Azure refuses for an account
/// whose `allowSharedKeyAccess` is false: that refusal lives in the blob front
/// ([`crate::blob_front::FrontOptions::keyless_accounts`]).
#[derive(Debug, Clone, Default)]
pub struct AzuriteOptions {
    /// `(name, base64 key)` accounts besides the well-known one (`AZURITE_ACCOUNTS`).
    pub extra_accounts: Vec<(String, String)>,
    /// Serve HTTPS with this certificate and accept bearer tokens (`--oauth basic`).
    pub oauth: Option<crate::tls::LoopbackTls>,
}

impl Azurite {
    /// The workspace root (where `package.json` and `node_modules` live).
    pub fn workspace_root() -> PathBuf {
        let sim = Path::new(env!("CARGO_MANIFEST_DIR"));
        sim.parent().unwrap_or(sim).to_path_buf()
    }

    /// `AZURITE_BLOB_BIN` when set, else `<workspace>/node_modules/.bin/azurite-blob`.
    pub fn binary() -> PathBuf {
        std::env::var_os("AZURITE_BLOB_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| Self::workspace_root().join("node_modules/.bin/azurite-blob"))
    }

    /// Starts the blob service in memory on a free loopback port and waits until it listens.
    pub fn start() -> Result<Self, AzuriteError> {
        Self::start_with_accounts(&[])
    }

    /// Like [`Azurite::start`], with `(name, base64 key)` accounts besides the well-known one
    /// (`AZURITE_ACCOUNTS`), each reached at [`Azurite::account_endpoint`].
    pub fn start_with_accounts(extra: &[(&str, &str)]) -> Result<Self, AzuriteError> {
        Self::start_with(&AzuriteOptions {
            extra_accounts: extra
                .iter()
                .map(|(name, key)| ((*name).to_owned(), (*key).to_owned()))
                .collect(),
            oauth: None,
        })
    }

    /// Starts the blob service with these options.
    pub fn start_with(options: &AzuriteOptions) -> Result<Self, AzuriteError> {
        let binary = Self::binary();
        if !binary.exists() {
            return Err(AzuriteError::NotInstalled {
                binary,
                root: Self::workspace_root(),
            });
        }
        let mut last = None;
        // The port is free when chosen but another process may take it before Azurite binds.
        for _ in 0..START_ATTEMPTS {
            match Self::start_once(&binary, options) {
                Ok(azurite) => return Ok(azurite),
                Err(e @ AzuriteError::Exited { .. }) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(AzuriteError::Timeout { port: 0 }))
    }

    /// For tests: `None` (after a note on stderr) when `SKIP_AZURITE=1`; otherwise a running
    /// Azurite, or a panic whose message says how to install it.
    pub fn start_for_test() -> Option<Self> {
        if std::env::var("SKIP_AZURITE").is_ok_and(|v| v == "1") {
            eprintln!("SKIP_AZURITE=1: skipping a test that needs Azurite");
            return None;
        }
        match Self::start() {
            Ok(azurite) => Some(azurite),
            Err(e) => panic!("{e}"),
        }
    }

    fn start_once(binary: &Path, options: &AzuriteOptions) -> Result<Self, AzuriteError> {
        let port = free_port().map_err(AzuriteError::NoPort)?;
        let mut command = Command::new(binary);
        if !options.extra_accounts.is_empty() {
            // Listing any account replaces the default one, so it is listed too.
            let accounts: Vec<String> = std::iter::once((ACCOUNT_NAME, ACCOUNT_KEY))
                .chain(
                    options
                        .extra_accounts
                        .iter()
                        .map(|(name, key)| (name.as_str(), key.as_str())),
                )
                .map(|(name, key)| format!("{name}:{key}"))
                .collect();
            command.env("AZURITE_ACCOUNTS", accounts.join(";"));
        }
        let mut tls_dir = None;
        if let Some(tls) = &options.oauth {
            let dir =
                std::env::temp_dir().join(format!("azurite-tls-{}-{port}", std::process::id()));
            let write = || -> std::io::Result<()> {
                std::fs::create_dir_all(&dir)?;
                std::fs::write(dir.join("cert.pem"), &tls.cert_pem)?;
                std::fs::write(dir.join("key.pem"), &tls.key_pem)?;
                std::fs::write(dir.join("ca.pem"), &tls.ca_pem)
            };
            write().map_err(|source| AzuriteError::Spawn {
                binary: dir.clone(),
                source,
            })?;
            command
                .args(["--oauth", "basic", "--cert"])
                .arg(dir.join("cert.pem"))
                .arg("--key")
                .arg(dir.join("key.pem"))
                // A cross-account copy makes Azurite read its source URL over HTTPS itself.
                .env("NODE_EXTRA_CA_CERTS", dir.join("ca.pem"));
            tls_dir = Some(dir);
        }
        let child = command
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(port.to_string())
            .args([
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| AzuriteError::Spawn {
                binary: binary.to_owned(),
                source,
            })?;
        let mut azurite = Self {
            child,
            port,
            scheme: if tls_dir.is_some() { "https" } else { "http" },
            tls_dir,
        };
        let address = SocketAddr::from(([127, 0, 0, 1], port));
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = azurite.child.try_wait() {
                return Err(AzuriteError::Exited { status });
            }
            if azurite.answers_on(address) {
                return Ok(azurite);
            }
            if started.elapsed() > STARTUP_DEADLINE {
                azurite.stop();
                return Err(AzuriteError::Timeout { port });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Whether this Azurite is the one listening on `address`. The port was free when chosen,
    /// but another test's server may bind it before Azurite does (Azurite then exits): a plain
    /// connect would take that server for Azurite. Over HTTP the answer must name Azurite; in
    /// HTTPS mode the child must still run a moment after the port opened.
    fn answers_on(&mut self, address: SocketAddr) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_millis(200))
        else {
            return false;
        };
        if self.scheme == "https" {
            std::thread::sleep(Duration::from_millis(300));
            return matches!(self.child.try_wait(), Ok(None));
        }
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let probe = format!("GET /{ACCOUNT_NAME}?comp=list HTTP/1.0\r\nHost: {address}\r\n\r\n");
        if stream.write_all(probe.as_bytes()).is_err() {
            return false;
        }
        let mut head = [0u8; 1024];
        let read = stream.read(&mut head).unwrap_or(0);
        String::from_utf8_lossy(&head[..read])
            .to_ascii_lowercase()
            .contains("server: azurite")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Path-style endpoint, without a trailing slash: `http://127.0.0.1:<port>/devstoreaccount1`
    /// (`https` in OAuth mode).
    pub fn blob_endpoint(&self) -> url::Url {
        self.account_endpoint(ACCOUNT_NAME)
    }

    pub fn account_name(&self) -> &'static str {
        ACCOUNT_NAME
    }

    /// Path-style endpoint of any account of this Azurite: `http://127.0.0.1:<port>/<name>`.
    pub fn account_endpoint(&self, name: &str) -> url::Url {
        url::Url::parse(&format!("{}://127.0.0.1:{}/{name}", self.scheme, self.port))
            .expect("a loopback URL always parses")
    }

    pub fn account_key(&self) -> &'static str {
        ACCOUNT_KEY
    }

    /// The emulator's process id (e.g. to read its memory use in a benchmark).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(dir) = self.tls_dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Faults the sink injects into Put Page calls.
#[derive(Clone, Debug, Default)]
pub struct SinkFaults {
    /// Every n-th distinct range (by first attempt) is flaky: its first attempt gets 503
    /// ServerBusy, its second a dropped connection, its third succeeds. A range never fails
    /// more than twice, so a client retrying at least twice must succeed.
    pub flaky_every: Option<u64>,
    /// Answer 500 to every Put Page (a final failure).
    pub fail_all: bool,
    /// Time each Put Page takes before it is answered (a slower, farther blob service).
    pub put_page_latency: Option<std::time::Duration>,
}

/// What the sink saw.
#[derive(Debug, Default)]
pub struct SinkStats {
    pub put_page_attempts: AtomicU64,
    pub put_pages_accepted: AtomicU64,
    pub injected_faults: AtomicU64,
    pub bytes_accepted: AtomicU64,
    pub largest_put_page: AtomicU64,
    /// `(offset, length)` of every accepted Put Page.
    pub accepted_ranges: Mutex<Vec<(u64, u64)>>,
    /// Attempts so far per range offset, for flaky ranges only.
    flaky_attempts: Mutex<HashMap<u64, u32>>,
    distinct_ranges: AtomicU64,
    /// Blob paths (`/<account>/<container>/<blob>`) created and deleted.
    pub created: Mutex<Vec<String>>,
    pub deleted: Mutex<Vec<String>>,
    /// Put Page calls whose body length did not match their range (a client bug).
    pub mismatched_bodies: AtomicU64,
    /// When each Put Page attempt arrived, and whether it was answered 503 Server Busy.
    pub attempts: Mutex<Vec<(std::time::Instant, bool)>>,
}

/// A loopback blob endpoint that accepts container and page-blob creation, Put Page and
/// delete, discards the data, and records what it saw. It checks no signature.
pub struct PageBlobSink {
    address: SocketAddr,
    stats: Arc<SinkStats>,
    server: tokio::task::JoinHandle<()>,
}

pub const SINK_ACCOUNT_NAME: &str = "sinkaccount";

impl PageBlobSink {
    /// Starts on a free loopback port within the current tokio runtime.
    pub async fn start(faults: SinkFaults) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let stats = Arc::new(SinkStats::default());
        let state = Arc::new((faults, stats.clone()));
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { handle(request, &state.0, &state.1).await }
                    });
                    // Errors here are the injected resets, or clients going away.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Self {
            address,
            stats,
            server,
        })
    }

    /// Path-style endpoint for the sink's (only) account.
    pub fn blob_endpoint(&self) -> url::Url {
        url::Url::parse(&format!("http://{}/{SINK_ACCOUNT_NAME}", self.address))
            .expect("a loopback URL always parses")
    }

    pub fn account_name(&self) -> &'static str {
        SINK_ACCOUNT_NAME
    }

    /// Any base64 string will do: the sink does not verify signatures.
    pub fn account_key(&self) -> &'static str {
        "c2luay1hY2NvdW50LWtleQ=="
    }

    pub fn stats(&self) -> &SinkStats {
        &self.stats
    }
}

impl Drop for PageBlobSink {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The injected "connection reset": hyper drops the connection when the service fails.
#[derive(Debug)]
struct InjectedReset;

impl std::fmt::Display for InjectedReset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("injected connection reset")
    }
}

impl std::error::Error for InjectedReset {}

async fn handle(
    request: Request<Incoming>,
    faults: &SinkFaults,
    stats: &SinkStats,
) -> Result<Response<Full<Bytes>>, InjectedReset> {
    let query: HashMap<String, String> = request
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let comp = query.get("comp").map(String::as_str);

    if method == Method::PUT && comp == Some("page") {
        stats.put_page_attempts.fetch_add(1, Ordering::Relaxed);
        let range = page_range(&request);
        let fault = match (range, faults.flaky_every) {
            (Some((offset, _)), Some(every)) if every > 0 => flaky_fault(stats, offset, every),
            _ => None,
        };
        lock(&stats.attempts).push((std::time::Instant::now(), fault == Some(Fault::Busy)));
        if fault == Some(Fault::Reset) {
            stats.injected_faults.fetch_add(1, Ordering::Relaxed);
            return Err(InjectedReset);
        }
        let length = drain(request.into_body()).await;
        if let Some(latency) = faults.put_page_latency {
            tokio::time::sleep(latency).await;
        }
        if faults.fail_all {
            stats.injected_faults.fetch_add(1, Ordering::Relaxed);
            return Ok(reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some("InternalError"),
            ));
        }
        if fault == Some(Fault::Busy) {
            stats.injected_faults.fetch_add(1, Ordering::Relaxed);
            return Ok(reply(StatusCode::SERVICE_UNAVAILABLE, Some("ServerBusy")));
        }
        let Some((offset, range_len)) = range else {
            return Ok(reply(StatusCode::BAD_REQUEST, Some("InvalidHeaderValue")));
        };
        if range_len != length {
            stats.mismatched_bodies.fetch_add(1, Ordering::Relaxed);
            return Ok(reply(StatusCode::BAD_REQUEST, Some("InvalidPageRange")));
        }
        stats.put_pages_accepted.fetch_add(1, Ordering::Relaxed);
        stats.bytes_accepted.fetch_add(length, Ordering::Relaxed);
        stats.largest_put_page.fetch_max(length, Ordering::Relaxed);
        lock(&stats.accepted_ranges).push((offset, length));
        return Ok(reply(StatusCode::CREATED, None));
    }

    let _ = drain(request.into_body()).await;
    Ok(match method {
        Method::PUT if query.get("restype").is_some_and(|r| r == "container") => {
            reply(StatusCode::CREATED, None)
        }
        Method::PUT if comp.is_none() => {
            lock(&stats.created).push(path);
            reply(StatusCode::CREATED, None)
        }
        Method::PUT => reply(StatusCode::OK, None),
        Method::DELETE => {
            lock(&stats.deleted).push(path);
            reply(StatusCode::ACCEPTED, None)
        }
        _ => reply(StatusCode::NOT_FOUND, Some("BlobNotFound")),
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Busy,
    Reset,
}

/// Decides the fault for this attempt at the range starting at `offset`.
fn flaky_fault(stats: &SinkStats, offset: u64, every: u64) -> Option<Fault> {
    let mut attempts = lock(&stats.flaky_attempts);
    let attempt = match attempts.get_mut(&offset) {
        Some(count) => {
            *count += 1;
            *count
        }
        None => {
            let ordinal = stats.distinct_ranges.fetch_add(1, Ordering::Relaxed) + 1;
            if !ordinal.is_multiple_of(every) {
                return None;
            }
            attempts.insert(offset, 1);
            1
        }
    };
    match attempt {
        1 => Some(Fault::Busy),
        2 => Some(Fault::Reset),
        _ => None,
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `(offset, length)` from `x-ms-range` or `Range: bytes=start-end`.
fn page_range(request: &Request<Incoming>) -> Option<(u64, u64)> {
    let header = request
        .headers()
        .get("x-ms-range")
        .or_else(|| request.headers().get(hyper::header::RANGE))?
        .to_str()
        .ok()?;
    let (start, end) = header.strip_prefix("bytes=")?.split_once('-')?;
    let (start, end): (u64, u64) = (start.parse().ok()?, end.parse().ok()?);
    (end >= start).then(|| (start, end - start + 1))
}

async fn drain(mut body: Incoming) -> u64 {
    let mut length = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            length += data.len() as u64;
        }
    }
    length
}

fn reply(status: StatusCode, error_code: Option<&str>) -> Response<Full<Bytes>> {
    let mut response = Response::builder()
        .status(status)
        .header("x-ms-request-id", "00000000-0000-0000-0000-000000000000")
        .header("x-ms-version", "2026-04-06");
    if let Some(code) = error_code {
        response = response.header("x-ms-error-code", code);
    }
    response
        .body(Full::new(Bytes::new()))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())))
}
