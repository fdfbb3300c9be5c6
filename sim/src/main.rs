//! `azure-sim`: runs the simulator until SIGTERM or Ctrl-C.
//! Prints one JSON line with addresses, CA path and credentials (and writes it to `--info-file`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bosh_azure_sim::{Scenario, SimConfig, StorageBackend};
use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "azure-sim",
    about = "A local Azure Resource Manager and token endpoint simulator"
)]
struct Args {
    /// HTTPS port for ARM, token endpoints and the control API (0 = any free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Plain-HTTP port for the IMDS managed-identity endpoint (0 = any free port).
    #[arg(long, default_value_t = 0)]
    imds_port: u16,
    /// Directory for the CA certificate (default: a temporary directory).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Also write the start-up JSON line to this file.
    #[arg(long)]
    info_file: Option<PathBuf>,
    /// Scenario file (JSON): latency and faults.
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Append a JSON line per request to this file.
    #[arg(long)]
    request_log: Option<PathBuf>,
    /// Conformance mode: write every ARM request/response pair as an `oav validate-traffic`
    /// file into this directory (default: $AZURE_SIM_TRAFFIC_DIR when set).
    #[arg(long)]
    traffic_dir: Option<PathBuf>,
    /// Blob endpoint of an Azurite instance, e.g. http://127.0.0.1:10000/devstoreaccount1
    #[arg(long)]
    azurite_blob_endpoint: Option<url::Url>,
    #[arg(long, default_value = "devstoreaccount1")]
    azurite_account_name: String,
    /// Azurite's account key (defaults to the documented emulator key).
    #[arg(
        long,
        default_value = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    )]
    azurite_account_key: String,
    #[arg(long)]
    subscription_id: Option<String>,
    #[arg(long)]
    tenant_id: Option<String>,
    #[arg(long)]
    client_id: Option<String>,
    /// Client secret the token endpoint accepts (default: a fixed test value).
    #[arg(long)]
    client_secret: Option<String>,
    /// PEM certificate whose key signs client assertions.
    #[arg(long)]
    client_certificate: Option<PathBuf>,
    /// Lifetime of issued tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_lifetime_secs: u64,
    /// `InProgress` answers before an operation ends.
    #[arg(long, default_value_t = 1)]
    lro_polls: u32,
    /// `Retry-After` seconds on LRO responses.
    #[arg(long, default_value_t = 0)]
    retry_after_secs: u64,
    /// Items per list page.
    #[arg(long, default_value_t = 2)]
    page_size: usize,
    /// Seed for generated ids and probabilistic faults.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Fixed latency per request, in milliseconds.
    #[arg(long)]
    latency_ms: Option<u64>,
    /// Report ARM rate-limit headers but never throttle when buckets run empty.
    #[arg(long)]
    no_rate_limits: bool,
    /// Default location for fixtures.
    #[arg(long, default_value = "eastus")]
    location: String,
}

fn config_from(args: Args) -> Result<SimConfig, String> {
    let mut c = SimConfig::default();
    if let Some(v) = args.subscription_id {
        c.subscription_id = v;
    }
    if let Some(v) = args.tenant_id {
        c.tenant_id = v;
    }
    if let Some(v) = args.client_id {
        c.client_id = v;
    }
    if let Some(v) = args.client_secret {
        c.client_secret = v;
    }
    if let Some(p) = args.client_certificate {
        c.client_certificate_pem = Some(
            std::fs::read_to_string(&p)
                .map_err(|e| format!("--client-certificate {}: {e}", p.display()))?,
        );
    }
    if let Some(p) = args.scenario {
        let text =
            std::fs::read_to_string(&p).map_err(|e| format!("--scenario {}: {e}", p.display()))?;
        c.scenario = Some(
            Scenario::from_json(&text).map_err(|e| format!("--scenario {}: {e}", p.display()))?,
        );
    }
    c.storage = args
        .azurite_blob_endpoint
        .map(|blob_endpoint| StorageBackend {
            blob_endpoint,
            account_name: args.azurite_account_name,
            account_key: args.azurite_account_key,
        });
    c.port = args.port;
    c.imds_port = args.imds_port;
    c.state_dir = args.state_dir;
    c.request_log = args.request_log;
    c.traffic_dir = args.traffic_dir;
    c.token_lifetime = Duration::from_secs(args.token_lifetime_secs);
    c.lro_in_progress_polls = args.lro_polls;
    c.retry_after_secs = args.retry_after_secs;
    c.page_size = args.page_size.max(1);
    c.seed = args.seed;
    c.latency = args.latency_ms.map(Duration::from_millis);
    c.location = args.location;
    c.arm_rate_limits = !args.no_rate_limits;
    Ok(c)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let info_file = args.info_file.clone();
    let config = match config_from(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("azure-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let handle = match bosh_azure_sim::start(config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("azure-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let line = handle.info().to_string();
    // The file is complete before the line appears, so a reader of stdout can use either.
    if let Some(path) = info_file
        && let Err(e) = std::fs::write(&path, format!("{line}\n"))
    {
        eprintln!("azure-sim: --info-file {}: {e}", path.display());
        handle.shutdown().await;
        return ExitCode::FAILURE;
    }
    println!("{line}");
    wait_for_signal().await;
    handle.shutdown().await;
    ExitCode::SUCCESS
}
