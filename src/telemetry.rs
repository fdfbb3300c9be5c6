//! Usage telemetry (`enable_telemetry`, off by default, never on Azure Stack), as the Ruby CPI
//! reports it: one event per CPI call (operation, the CID it concerns, success, duration,
//! subscription and an error message) posted as `TelemetryData` XML to the Azure wire
//! server (`http://168.63.129.16/machine?comp=telemetrydata`).
//!
//! A call never waits for the network: it writes its event as a file into the data
//! directory's `telemetry/` folder and starts `azure_cpi --send-telemetry` detached. One sender
//! at a time (a file lock) posts the waiting events, at most four per post and one post a
//! minute, as the Ruby CPI does, so a busy Director sends little. Lost events are not an error.

use crate::names::quote;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::call::Call;
use crate::config::{AzureConfig, Environment};
use crate::data_dir::data_dir;
use crate::error::CpiError;

/// The argument that turns the binary into the sender: `azure_cpi --send-telemetry <dir> <url>`.
pub const SEND_FLAG: &str = "--send-telemetry";
/// Test hook: seconds between two posts (default 60).
pub(crate) const COOLDOWN_ENV: &str = "BOSH_AZURE_CPI_TELEMETRY_COOLDOWN_SECS";

const EVENT_ID: &str = "1";
const PROVIDER_ID: &str = "69B669B9-4AF8-4C50-BDC4-6006FA76E975";
const EVENT_NAME: &str = "BOSH-CPI";
/// Azure's wire server, the same address in every region and cloud.
const WIRE_SERVER: &str = "http://168.63.129.16";
const EVENTS_PER_POST: usize = 4;
/// Events waiting beyond this are dropped: at four a minute the sender can fall behind a busy
/// Director for good, and the spool must not grow without end.
const MAX_WAITING: usize = 1000;
const COOLDOWN: Duration = Duration::from_secs(60);
/// Error messages are cut to keep an event under 4 kB, as the Ruby CPI cuts them.
const MESSAGE_LIMIT: usize = 3990;
const EVENT_SUFFIX: &str = ".tld";
const POST_TIMEOUT: Duration = Duration::from_secs(30);
const RETRY_AFTER: Duration = Duration::from_secs(5);
/// The sender's log is cut back when it grows past this.
const LOG_LIMIT: u64 = 1024 * 1024;

/// One call being watched; `finish` records it.
pub(crate) struct Monitor {
    operation: &'static str,
    container_id: String,
    extras: Map<String, Value>,
    subscription_id: String,
    wire_server: String,
    started: Instant,
}

impl Monitor {
    /// `None` when telemetry is off, on Azure Stack, or for a method the Ruby CPI does not
    /// report (set_disk_metadata, configure_networks, current_vm_id and the unimplemented ones).
    pub(crate) fn start(config: &AzureConfig, call: &Call) -> Option<Self> {
        if !config.enable_telemetry || config.environment == Environment::AzureStack {
            return None;
        }
        let (operation, container_id, extras) = describe(call)?;
        Some(Self {
            operation,
            // Every CID this CPI makes shows whole; an oversized one is not carried along.
            container_id: quote(&container_id).to_string(),
            extras,
            subscription_id: config.subscription_id.clone(),
            wire_server: config
                .endpoints
                .wire_server
                .as_ref()
                .map_or_else(|| WIRE_SERVER.to_owned(), |url| url.to_string()),
            started: Instant::now(),
        })
    }

    /// Spools the event and starts a sender. Failures are logged, never returned.
    pub(crate) fn finish(self, outcome: Result<&Value, &CpiError>) {
        match events_dir() {
            Some(dir) => self.finish_in(&dir, outcome),
            None => tracing::debug!("telemetry: no data directory; event dropped"),
        }
    }

    fn finish_in(self, dir: &Path, outcome: Result<&Value, &CpiError>) {
        if event_files(dir).len() >= MAX_WAITING {
            tracing::debug!(dir = %dir.display(), "telemetry: too many events waiting; event dropped");
            return;
        }
        let event = self.event(outcome);
        if let Err(e) = spool(dir, &event) {
            tracing::warn!(error = %e, dir = %dir.display(), "telemetry: cannot write the event");
            return;
        }
        if let Err(e) = spawn_sender(dir, &self.wire_server) {
            tracing::warn!(error = %e, "telemetry: cannot start the sender");
        }
    }

    fn event(&self, outcome: Result<&Value, &CpiError>) -> Event {
        let mut message = Map::new();
        let msg = match outcome {
            // Spelled as the Ruby CPI sends it, so both CPIs' events read alike.
            Ok(_) => "Successed".to_owned(),
            Err(error) => truncate(&format!("{}: {}", error.wire_type(), error.message())),
        };
        message.insert("msg".into(), Value::String(msg));
        message.insert(
            "subscription_id".into(),
            Value::String(self.subscription_id.clone()),
        );
        message.extend(self.extras.clone());
        let duration_ms = self.started.elapsed().as_secs_f64() * 1000.0;
        Event {
            event_id: EVENT_ID.to_owned(),
            provider_id: PROVIDER_ID.to_owned(),
            parameters: vec![
                param("Name", json!(EVENT_NAME)),
                param("Version", json!(env!("CARGO_PKG_VERSION"))),
                param("Operation", json!(self.operation)),
                param("ContainerId", json!(self.container_id)),
                param("OperationSuccess", json!(outcome.is_ok())),
                param("Message", Value::Object(message)),
                param("Duration", json!(duration_ms)),
            ],
        }
    }
}

/// The Ruby CPI's operation name, the ID it reports and its extras.
fn describe(call: &Call) -> Option<(&'static str, String, Map<String, Value>)> {
    let operation = call.method().telemetry_operation()?;
    let mut extras = Map::new();
    let id = match call {
        Call::CreateStemcell {
            cloud_properties, ..
        } => {
            let field = |key: &str, unknown: &str| {
                cloud_properties
                    .get(key)
                    .and_then(Value::as_str)
                    .unwrap_or(unknown)
                    .to_owned()
            };
            extras.insert(
                "stemcell".into(),
                json!(format!(
                    "{}-{}",
                    field("name", "unknown_name"),
                    field("version", "unknown_version")
                )),
            );
            String::new()
        }
        Call::DeleteStemcell { stemcell_cid } => stemcell_cid.clone(),
        Call::CreateVm {
            agent_id,
            cloud_properties,
            ..
        } => {
            match cloud_properties.get("instance_type") {
                Some(size) => extras.insert("instance_type".into(), size.clone()),
                None => cloud_properties
                    .get("instance_types")
                    .and_then(|sizes| extras.insert("instance_types".into(), sizes.clone())),
            };
            agent_id.clone()
        }
        Call::CreateDisk {
            size_mib, vm_cid, ..
        } => {
            extras.insert("disk_size".into(), json!(size_mib));
            vm_cid.clone().unwrap_or_default()
        }
        Call::ResizeDisk {
            disk_cid,
            new_size_mib,
        }
        | Call::UpdateDisk {
            disk_cid,
            new_size_mib,
            ..
        } => {
            extras.insert("disk_size".into(), json!(new_size_mib));
            disk_cid.clone()
        }
        Call::DeleteVm { vm_cid }
        | Call::HasVm { vm_cid }
        | Call::RebootVm { vm_cid }
        | Call::SetVmMetadata { vm_cid, .. }
        | Call::AttachDisk { vm_cid, .. }
        | Call::DetachDisk { vm_cid, .. }
        | Call::GetDisks { vm_cid } => vm_cid.clone(),
        Call::DeleteDisk { disk_cid }
        | Call::HasDisk { disk_cid }
        | Call::SetDiskMetadata { disk_cid, .. }
        | Call::SnapshotDisk { disk_cid, .. } => disk_cid.clone(),
        Call::DeleteSnapshot { snapshot_cid } => snapshot_cid.clone(),
        Call::Info
        | Call::CalculateVmCloudProperties { .. }
        | Call::Ping
        | Call::CreateNetwork
        | Call::DeleteNetwork
        | Call::ConfigureNetworks
        | Call::CurrentVmId => String::new(),
    };
    Some((operation, id, extras))
}

fn truncate(message: &str) -> String {
    if message.len() <= MESSAGE_LIMIT + 3 {
        return message.to_owned();
    }
    let mut end = MESSAGE_LIMIT;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &message[..end])
}

/// An event as spooled: the Ruby CPI's event file format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Event {
    #[serde(rename = "eventId")]
    event_id: String,
    #[serde(rename = "providerId")]
    provider_id: String,
    parameters: Vec<Param>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Param {
    name: String,
    value: Value,
}

fn param(name: &str, value: Value) -> Param {
    Param {
        name: name.to_owned(),
        value,
    }
}

impl Param {
    /// `<Param Name=".." Value=".." T=".." />`, typed as the wire server expects.
    fn xml(&self) -> String {
        let (text, kind) = match &self.value {
            Value::String(s) => (s.clone(), "mt:wstr"),
            Value::Bool(b) => (b.to_string(), "mt:bool"),
            Value::Number(n) if n.is_u64() || n.is_i64() => (n.to_string(), "mt:uint64"),
            Value::Number(n) => (n.to_string(), "mt:float64"),
            other => (other.to_string(), "mt:wstr"),
        };
        format!(
            "<Param Name=\"{}\" Value=\"{}\" T=\"{kind}\" />",
            quick_xml::escape::escape(self.name.as_str()),
            quick_xml::escape::escape(text.as_str())
        )
    }
}

/// The `TelemetryData` document for `events`, grouped by provider in first-seen order.
fn telemetry_xml(events: &[Event]) -> String {
    let mut providers: Vec<(&str, String)> = Vec::new();
    for event in events {
        let params: String = event.parameters.iter().map(Param::xml).collect();
        let xml = format!(
            "<Event id=\"{}\"><![CDATA[{params}]]></Event>",
            quick_xml::escape::escape(event.event_id.as_str())
        );
        match providers
            .iter_mut()
            .find(|(id, _)| *id == event.provider_id)
        {
            Some((_, events)) => events.push_str(&xml),
            None => providers.push((&event.provider_id, xml)),
        }
    }
    let body: String = providers
        .iter()
        .map(|(id, events)| {
            format!(
                "<Provider id=\"{}\">{events}</Provider>",
                quick_xml::escape::escape(*id)
            )
        })
        .collect();
    format!("<?xml version=\"1.0\"?><TelemetryData version=\"1.0\">{body}</TelemetryData>")
}

fn events_dir() -> Option<PathBuf> {
    Some(data_dir()?.join("telemetry"))
}

/// Writes the event under a temporary name and renames it, so a sender never reads half.
fn spool(dir: &Path, event: &Event) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let name = format!("cpi-event-{}", uuid::Uuid::new_v4());
    let partial = dir.join(format!(".{name}.partial"));
    let path = dir.join(format!("{name}{EVENT_SUFFIX}"));
    fs::write(&partial, serde_json::to_vec(event)?)?;
    fs::rename(&partial, &path)?;
    Ok(path)
}

/// Starts this binary as the sender, detached: in its own process group with no stdio, so
/// the Director neither waits for it nor reads its output.
fn spawn_sender(dir: &Path, wire_server: &str) -> std::io::Result<()> {
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe()?;
    Command::new(exe)
        .arg(SEND_FLAG)
        .arg(dir)
        .arg(wire_server)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
}

/// The sender: posts the events waiting in `dir` until none is left. Returns the number of
/// posts; 0 when another sender holds the lock (it sends these events too: a holder looks
/// again after letting go, so an event spooled meanwhile is never stranded).
pub fn send_spooled(dir: &Path, wire_server: &str) -> usize {
    let cooldown = std::env::var(COOLDOWN_ENV)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .map_or(COOLDOWN, Duration::from_secs);
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return 0;
    };
    let options = crate::azure::http::HttpOptions {
        request_timeout: POST_TIMEOUT,
        ..Default::default()
    };
    let Ok(client) = crate::azure::http::build(&options) else {
        return 0;
    };
    let url = format!(
        "{}/machine?comp=telemetrydata",
        wire_server.trim_end_matches('/')
    );
    let mut posts = 0;
    loop {
        let Some(lock) = sender_lock(dir) else {
            return posts;
        };
        // Emptiness needs no ordering: the sorted list is read once per post, after the wait.
        while !event_files(dir).is_empty() {
            if let Some(wait) = cooldown_left(&dir.join(LAST_POST), cooldown) {
                std::thread::sleep(wait);
            }
            if runtime.block_on(post_oldest(dir, &client, &url)) {
                posts += 1;
            }
        }
        drop(lock);
        if event_files(dir).is_empty() {
            return posts;
        }
    }
}

const LAST_POST: &str = ".last_post";

/// The sender's lock, if no other sender holds it.
fn sender_lock(dir: &Path) -> Option<File> {
    let lock = File::create(dir.join(".sender.lock")).ok()?;
    lock.try_lock().ok()?;
    Some(lock)
}

/// Posts (at most four of) the oldest events and removes their files, sent or not: a bad one
/// must not block the rest. Returns whether a post was made.
async fn post_oldest(dir: &Path, client: &reqwest::Client, url: &str) -> bool {
    let events: Vec<Event> = waiting_events(dir)
        .iter()
        .take(EVENTS_PER_POST)
        .filter_map(|path| {
            let event = fs::read(path)
                .ok()
                .and_then(|bytes| serde_json::from_slice(&bytes).ok());
            let _ = fs::remove_file(path);
            event
        })
        .collect();
    if events.is_empty() {
        return false;
    }
    let outcome = post(client, url, &telemetry_xml(&events)).await;
    log(
        dir,
        &match &outcome {
            Ok(()) => format!("posted {} event(s)", events.len()),
            Err(e) => format!("dropped {} event(s): {e}", events.len()),
        },
    );
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let _ = fs::write(dir.join(LAST_POST), now.to_string());
    true
}

/// Spooled event files, in no order.
fn event_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cpi-event-") && n.ends_with(EVENT_SUFFIX))
        })
        .collect()
}

/// Spooled events, oldest first.
fn waiting_events(dir: &Path) -> Vec<PathBuf> {
    let mut events: Vec<(SystemTime, PathBuf)> = event_files(dir)
        .into_iter()
        .map(|path| {
            let modified = fs::metadata(&path)
                .and_then(|m| m.modified())
                .unwrap_or(UNIX_EPOCH);
            (modified, path)
        })
        .collect();
    events.sort();
    events.into_iter().map(|(_, path)| path).collect()
}

/// How long to wait before the next post, if the last one was less than `cooldown` ago.
fn cooldown_left(last_post: &Path, cooldown: Duration) -> Option<Duration> {
    let last: u64 = fs::read_to_string(last_post).ok()?.trim().parse().ok()?;
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH + Duration::from_secs(last))
        .unwrap_or_default();
    cooldown.checked_sub(since).filter(|left| !left.is_zero())
}

/// One retry, after 5 s, on timeouts, dropped connections and 408/429/5xx.
async fn post(client: &reqwest::Client, url: &str, body: &str) -> Result<(), String> {
    let mut retried = false;
    loop {
        let sent = client
            .post(url)
            .header("Content-Type", "text/xml;charset=utf-8")
            .header("x-ms-version", "2012-11-30")
            .body(body.to_owned())
            .send()
            .await;
        let (retriable, error) = match sent {
            Ok(response) if response.status() == reqwest::StatusCode::OK => return Ok(()),
            Ok(response) => {
                let status = response.status().as_u16();
                (
                    matches!(status, 408 | 429 | 500 | 502 | 503 | 504),
                    format!("HTTP {status}"),
                )
            }
            Err(e) => (
                e.is_timeout() || e.is_connect() || e.is_request(),
                e.to_string(),
            ),
        };
        if !retriable || retried {
            return Err(error);
        }
        retried = true;
        tokio::time::sleep(RETRY_AFTER).await;
    }
}

/// Appends a line to the sender's log beside the events (the sender has no stderr).
fn log(dir: &Path, line: &str) {
    use std::io::Write;
    let path = dir.join("sender.log");
    if fs::metadata(&path).is_ok_and(|m| m.len() > LOG_LIMIT) {
        let _ = fs::rename(&path, dir.join("sender.log.1"));
    }
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    if let Ok(mut file) = fs::OpenOptions::new().create(true).append(true).open(&path) {
        let _ = writeln!(file, "{stamp} {line}");
    }
}

#[cfg(test)]
mod tests;
