//! stderr logging in the BOSH style the Ruby CPI uses:
//! `I, [2026-11-30T17:51:29.123456 #4242 #main]  INFO -- [req_id cpi-123456]: message`.
//!
//! The level is `info`, or `debug` when `debug_mode` is on; the environment variable
//! `BOSH_AZURE_CPI_LOG_LEVEL` (error, warn, info, debug, trace) overrides both.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use time::OffsetDateTime;
use time::format_description::FormatItem;
use time::macros::format_description;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

pub(crate) const LEVEL_ENV: &str = "BOSH_AZURE_CPI_LOG_LEVEL";

const TIMESTAMP: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]");

static SILENCED: AtomicBool = AtomicBool::new(false);

/// Makes later `init` calls no-ops: for programs that embed `serve::serve` and own stderr (the
/// in-process tests).
pub fn silence() {
    SILENCED.store(true, Ordering::Relaxed);
}

/// Installs the stderr subscriber once per process; later calls are no-ops.
pub(crate) fn init(debug_mode: bool, request_id: Option<&str>) {
    if SILENCED.load(Ordering::Relaxed) {
        return;
    }
    let level = std::env::var(LEVEL_ENV)
        .ok()
        .filter(|l| ["error", "warn", "info", "debug", "trace"].contains(&l.as_str()))
        .unwrap_or_else(|| if debug_mode { "debug" } else { "info" }.to_owned());
    // Our crate (and the access layer's `azure::*` targets) at the chosen level; dependencies
    // (HTTP, TLS, the SDK) only warn, so their debug output can never carry a header or body
    // past our redaction.
    let filter = EnvFilter::new(format!(
        "warn,bosh_azure_cpi={level},azure::arm={level},azure::auth={level}"
    ));
    let format = BoshFormat {
        flag: request_id
            .map(|id| format!(" [req_id {id}]"))
            .unwrap_or_default(),
        pid: std::process::id(),
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .event_format(format)
        .try_init();
}

struct BoshFormat {
    flag: String,
    pid: u32,
}

impl<S, N> FormatEvent<S, N> for BoshFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let level = *event.metadata().level();
        let name = match level {
            Level::ERROR => "ERROR",
            Level::WARN => "WARN",
            Level::INFO => "INFO",
            Level::DEBUG => "DEBUG",
            Level::TRACE => "TRACE",
        };
        let now = OffsetDateTime::now_utc()
            .format(TIMESTAMP)
            .unwrap_or_default();
        let thread = std::thread::current();
        let thread_name = thread.name().unwrap_or("worker");
        write!(
            writer,
            "{}, [{now} #{} #{thread_name}] {name:>5} --{}: ",
            &name[..1],
            self.pid,
            self.flag
        )?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}
