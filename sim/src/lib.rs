//! azure-sim: a local Azure Resource Manager and token endpoint simulator, plus test support
//! (Azurite harness, test stemcell generator) shared by the CPI's tests, benchmarks and the demo.
//!
//! Start one with [`start`]; point an ARM client at [`SimHandle::base_url`] trusting
//! [`SimHandle::ca_pem`], get tokens from `{base_url}/{tenant}/oauth2/v2.0/token` (or v1, ADFS,
//! or IMDS at [`SimHandle::imds_url`]). The sim is built from Azure's REST specs, examples and
//! recorded traffic; it shares no types with the CPI.

mod arm;
mod auth;
mod config;
mod control;
mod disk_upload;
mod faults;
mod http;
mod reqlog;
mod resources;
mod server;
mod state;
mod storage_backend;
pub mod tls;
mod traffic;
mod wire_server;

pub mod azurite;
pub mod blob_front;
pub mod stemcell_gen;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use config::{SimConfig, StorageBackend};
pub(crate) use faults::FaultStatus;
pub use faults::{Fault, FaultAction, Scenario};
pub(crate) use http::ArmError;
pub use reqlog::LoggedRequest;
pub(crate) use traffic::TRAFFIC_DIR_ENV;

/// Errors starting or controlling the simulator.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("TLS setup failed: {0}")]
    Tls(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("seed rejected: {} ({})", .0.code, .0.message)]
    Seed(ArmError),
}

/// A running simulator. Dropping it does not stop the servers; call [`SimHandle::shutdown`].
pub struct SimHandle {
    sim: Arc<Sim>,
    imds_url: String,
    ca_pem: String,
    ca_pem_path: PathBuf,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _temp_dir: Option<TempDir>,
}

use state::Sim;

/// A directory removed on drop (for the CA file when no state dir was given).
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Starts the simulator: generates the CA, binds both ports, serves in the background.
pub async fn start(config: SimConfig) -> Result<SimHandle, Error> {
    let tls = tls::generate()?;
    let assertion_cert = config
        .client_certificate_pem
        .as_deref()
        .map(auth::AssertionCert::from_pem)
        .transpose()?;
    let listener = TcpListener::bind(("127.0.0.1", config.port)).await?;
    let imds_listener = TcpListener::bind(("127.0.0.1", config.imds_port)).await?;
    let port = listener.local_addr()?.port();
    let imds_port = imds_listener.local_addr()?.port();
    let base_url = format!("https://127.0.0.1:{port}");
    let imds_url = format!("http://127.0.0.1:{imds_port}");

    let (dir, temp) = match &config.state_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            (d.clone(), None)
        }
        None => {
            let d = std::env::temp_dir().join(format!("azure-sim-{}-{port}", std::process::id()));
            std::fs::create_dir_all(&d)?;
            (d.clone(), Some(TempDir(d)))
        }
    };
    let ca_pem_path = dir.join("azure-sim-ca.pem");
    std::fs::write(&ca_pem_path, &tls.ca_pem)?;

    let mut faults = faults::FaultEngine::new(config.seed);
    if let Some(scenario) = &config.scenario {
        for f in &scenario.faults {
            faults.add(f.clone())?;
        }
    }
    let mut token_key = vec![0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut token_key);
    let mut blob_client = reqwest::Client::builder().timeout(Duration::from_secs(10));
    if let Some(pem) = &config.storage_ca_pem {
        let ca = reqwest::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| Error::Config(format!("storage CA certificate: {e}")))?;
        blob_client = blob_client.tls_certs_merge([ca]);
    }
    let blob_client = blob_client
        .build()
        .map_err(|e| Error::Config(format!("HTTP client for the storage backend: {e}")))?;
    // Gallery version ETags are a deliberate departure from Azure's specs: such a sim's traffic
    // is not evidence of conformance, so it writes none.
    let traffic_dir = config
        .traffic_dir
        .clone()
        .or_else(|| std::env::var_os(TRAFFIC_DIR_ENV).map(PathBuf::from))
        .filter(|_| !config.gallery_version_etags);
    let traffic = traffic_dir
        .map(|d| {
            traffic::TrafficWriter::new(&d)
                .map_err(|e| Error::Config(format!("traffic directory {}: {e}", d.display())))
        })
        .transpose()?;
    let sim = Arc::new(Sim {
        state: Mutex::new(state::State::new(config.seed)),
        faults: Mutex::new(faults),
        log: reqlog::RequestLog::new(config.request_log.clone()),
        traffic,
        base_url,
        token_key,
        assertion_cert,
        blob_client,
        telemetry: Mutex::new(Vec::new()),
        imds_url: imds_url.clone(),
        ca_pem_path: ca_pem_path.clone(),
        latency: Mutex::new(config.latency.or_else(|| {
            config
                .scenario
                .as_ref()
                .and_then(|s| s.latency_ms)
                .map(Duration::from_millis)
        })),
        config,
    });
    let (stop, stop_rx) = watch::channel(false);
    let acceptor = tokio_rustls::TlsAcceptor::from(tls.server_config);
    let tasks = vec![
        tokio::spawn(server::serve(
            listener,
            Some(acceptor),
            sim.clone(),
            false,
            stop_rx.clone(),
        )),
        tokio::spawn(server::serve(
            imds_listener,
            None,
            sim.clone(),
            true,
            stop_rx,
        )),
    ];
    Ok(SimHandle {
        sim,
        imds_url,
        ca_pem: tls.ca_pem,
        ca_pem_path,
        stop,
        tasks,
        _temp_dir: temp,
    })
}

impl SimHandle {
    /// `https://127.0.0.1:PORT` (ARM, token endpoints and `/_sim/` control API), no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.sim.base_url
    }

    /// `http://127.0.0.1:PORT` of the IMDS endpoint, no trailing slash.
    pub fn imds_url(&self) -> &str {
        &self.imds_url
    }

    /// PEM of the CA that signed the server certificate.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// File holding [`SimHandle::ca_pem`].
    pub fn ca_pem_path(&self) -> &std::path::Path {
        &self.ca_pem_path
    }

    pub fn config(&self) -> &SimConfig {
        &self.sim.config
    }

    /// Addresses and credentials as one JSON object (what the binary prints).
    pub fn info(&self) -> Value {
        self.sim.info()
    }

    /// Seeds resources (one body or an array; each with an `id`), validated and defaulted like
    /// a PUT but finished at once. Missing resource groups are created.
    pub fn seed(&self, resources: Value) -> Result<Vec<String>, Error> {
        control::seed(&self.sim, resources, false).map_err(Error::Seed)
    }

    /// Seeds resources exactly as given (only `id`/`name`/`type`/`location` and a
    /// `provisioningState` are filled in): for fixtures that reference things the sim lacks.
    pub fn seed_raw(&self, resources: Value) -> Result<Vec<String>, Error> {
        control::seed(&self.sim, resources, true).map_err(Error::Seed)
    }

    /// `{"count": n, "resources": [{"id","type","body","hidden"?}]}`, sorted by id.
    pub fn inventory(&self) -> Value {
        control::inventory(&self.sim)
    }

    /// Every ARM, token and IMDS request so far (redacted), oldest first.
    pub fn request_log(&self) -> Vec<LoggedRequest> {
        self.sim.log.entries()
    }

    /// The XML bodies posted to the wire server's telemetry endpoint
    /// (`POST <imds_url>/machine?comp=telemetrydata`), oldest first.
    pub fn telemetry_posts(&self) -> Vec<String> {
        self.sim
            .telemetry
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Empties the store, operations, request log and faults.
    pub fn reset(&self) {
        self.sim.reset();
    }

    pub fn add_fault(&self, fault: Fault) -> Result<(), Error> {
        self.sim
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(fault)
    }

    pub fn clear_faults(&self) {
        self.sim
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Fault rules with their match and fire counts.
    pub fn faults(&self) -> Vec<FaultStatus> {
        self.sim
            .faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .status()
    }

    /// Sets (or clears) the fixed latency added to every ARM and token request.
    pub fn set_latency(&self, latency: Option<Duration>) {
        *self.sim.latency.lock().unwrap_or_else(|e| e.into_inner()) = latency;
    }

    /// Stops both listeners and every open connection.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl Sim {
    pub(crate) fn info(&self) -> Value {
        json!({
            "base_url": self.base_url,
            "imds_url": self.imds_url,
            "ca_pem_path": self.ca_pem_path,
            "tenant_id": self.config.tenant_id,
            "subscription_id": self.config.subscription_id,
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "token_endpoint_v2": format!("{}/{}/oauth2/v2.0/token", self.base_url, self.config.tenant_id),
            "token_endpoint_v1": format!("{}/{}/oauth2/token", self.base_url, self.config.tenant_id),
            "adfs_token_endpoint": format!("{}/adfs/oauth2/token", self.base_url),
            "resource_manager_audience": format!("{}/", self.base_url),
            "location": self.config.location,
        })
    }

    pub(crate) fn reset(&self) {
        *self.lock() = state::State::new(self.config.seed);
        self.log.clear();
        self.faults
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}
