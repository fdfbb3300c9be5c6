//! The shared state of one running simulator.

use std::sync::Mutex;

use rand::RngCore;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::arm::lro::Operations;
use crate::arm::ratelimit::{ComputeLimits, RateLimits};
use crate::arm::store::Store;
use crate::auth::AssertionCert;
use crate::config::SimConfig;
use crate::faults::FaultEngine;
use crate::reqlog::RequestLog;
use crate::traffic::TrafficWriter;

pub(crate) struct Sim {
    pub config: SimConfig,
    /// `https://127.0.0.1:PORT`, no trailing slash.
    pub base_url: String,
    pub imds_url: String,
    pub ca_pem_path: std::path::PathBuf,
    /// Fixed delay added to every ARM and token request.
    pub latency: Mutex<Option<std::time::Duration>>,
    pub token_key: Vec<u8>,
    pub assertion_cert: Option<AssertionCert>,
    pub state: Mutex<State>,
    pub faults: Mutex<FaultEngine>,
    pub log: RequestLog,
    /// Conformance mode's traffic files, when on.
    pub traffic: Option<TrafficWriter>,
    /// Client for checking source blobs in the storage backend.
    pub blob_client: reqwest::Client,
    /// Bodies of the telemetry posts the wire server endpoint received, oldest first.
    pub telemetry: Mutex<Vec<String>>,
}

pub(crate) struct State {
    pub store: Store,
    pub ops: Operations,
    pub limits: RateLimits,
    pub compute_limits: ComputeLimits,
    /// Seeded, so generated ids (vmId, uniqueId, operation ids) repeat from run to run.
    pub rng: ChaCha8Rng,
}

impl State {
    pub fn new(seed: u64) -> Self {
        Self {
            store: Store::default(),
            ops: Operations::default(),
            limits: RateLimits::new(),
            compute_limits: ComputeLimits::default(),
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }
}

impl Sim {
    pub fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock must not take the whole simulator down.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn latency(&self) -> Option<std::time::Duration> {
        *self.latency.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Audiences ARM accepts in a bearer token.
    pub fn arm_audiences(&self) -> Vec<String> {
        vec![
            "https://management.azure.com/".into(),
            "https://management.core.windows.net/".into(),
            format!("{}/", self.base_url),
        ]
    }
}
