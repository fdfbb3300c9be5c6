//! One request served: stdin bytes in, exactly one response out, whatever happens. Data flows
//! one way from here: the wire (`rpc`) gives the call, the configuration is loaded, and
//! `actions` runs it while `telemetry` watches.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use crate::actions::Cpi;
use crate::config::Config;
use crate::error::{CpiError, CpiResult};
use crate::logging;
use crate::names::quote;
use crate::rpc::{self, Request, Response};
use crate::telemetry::Monitor;

/// Serves one request. Never panics: a panic anywhere below is answered as a CloudError.
pub fn serve(config_path: Option<&Path>, input: &[u8]) -> Response {
    match catch_unwind(AssertUnwindSafe(|| handle(config_path, input))) {
        Ok(Ok(result)) => Response::success(result),
        Ok(Err(error)) => {
            tracing::error!("{}", error);
            Response::failure(&error)
        }
        Err(panic) => {
            let detail = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Response::failure(&CpiError::cloud(format!(
                "Internal error in bosh-azure-cpi (please report this bug): {detail}"
            )))
        }
    }
}

fn handle(config_path: Option<&Path>, input: &[u8]) -> CpiResult<serde_json::Value> {
    let request = Request::parse(input)?;
    let call = rpc::decode(&request)?;
    let config_path = config_path.ok_or_else(|| {
        CpiError::cloud(
            "Usage: azure_cpi <path to cpi.json>: the configuration path argument is missing",
        )
    })?;
    let config = Config::load(config_path, &request.context)?;
    // The tag is on every log line: a short prefix of whatever the context holds.
    let request_id = request.request_id().map(|id| quote(id).to_string());
    logging::init(config.azure.debug_mode, request_id.as_deref());
    tracing::info!(
        method = call.method().wire_name(),
        api_version = request.api_version.number(),
        "handling request"
    );
    let monitor = Monitor::start(&config.azure, &call);
    let cpi = Cpi::new(config, request.api_version);
    let result = cpi.run(call);
    if let Some(monitor) = monitor {
        monitor.finish(result.as_ref());
    }
    result
}
