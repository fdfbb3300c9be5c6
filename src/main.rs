//! `azure_cpi <path to cpi.json>`: one request on stdin, exactly one JSON response on stdout,
//! logs on stderr, exit 0 whenever a response was written (bosh-cli fails on non-zero).

#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bosh_azure_cpi::rpc::Response;
use bosh_azure_cpi::{CpiError, serve, telemetry};
use clap::Parser;
use clap::error::ErrorKind;

const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (revision ",
    env!("BOSH_AZURE_CPI_REVISION"),
    ")"
);

const AFTER_HELP: &str = "\
The BOSH Director (or bosh-cli) runs this once per CPI call, as the release's bin/cpi does:

  azure_cpi /var/vcap/jobs/azure_cpi/config/cpi.json < request.json > response.json

stdin:  one request, {\"method\", \"arguments\", \"context\": {\"director_uuid\", ...}, \"api_version\"}
stdout: exactly one JSON object, {\"result\", \"error\": null | {\"type\", \"message\", \"ok_to_retry\"}, \"log\"};
        the exit status is 0 whenever it was written
stderr: the log, BOSH style, tagged with the request_id of the context

Environment:
  BOSH_AZURE_CPI_LOG_LEVEL  error, warn, info, debug or trace (default info; debug with debug_mode)
  BOSH_AZURE_CPI_DATA_DIR   the CPI's data directory (default /var/vcap/data/azure_cpi when it exists)
  BOSH_JOBS_DIR             where the job's certificate files are (default /var/vcap/jobs)
  SSL_CERT_FILE, SSL_CERT_DIR  the system's trusted CA certificates
  HTTPS_PROXY, NO_PROXY     the proxy for Azure endpoints";

/// The command line. Anything it does not accept still gets a CPI error response on stdout,
/// because a Director reads one whatever went wrong.
#[derive(Parser)]
#[command(name = "azure_cpi", version = VERSION, about = "The BOSH Azure CPI", after_help = AFTER_HELP)]
struct Args {
    /// The CPI configuration that the release's job renders (config/cpi.json)
    config: Option<PathBuf>,
    /// Sends spooled telemetry events; started detached by a CPI call
    #[arg(long = &telemetry::SEND_FLAG[2..], hide = true, num_args = 2, value_names = ["DIR", "WIRE_SERVER"])]
    send_telemetry: Option<Vec<OsString>>,
}

fn main() -> ExitCode {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let args = match Args::try_parse_from(&argv) {
        Ok(args) => Ok(args),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            };
        }
        Err(_) => Err(argv.len().saturating_sub(1)),
    };
    if let Ok(Args {
        send_telemetry: Some(sender),
        ..
    }) = &args
        && let [dir, wire_server] = sender.as_slice()
    {
        telemetry::send_spooled(dir.as_ref(), &wire_server.to_string_lossy());
        return ExitCode::SUCCESS;
    }
    let mut input = Vec::new();
    let response = match (std::io::stdin().read_to_end(&mut input), args) {
        (Err(e), _) => Response::failure(&CpiError::invalid_request(format!(
            "Cannot read the request from stdin: {e}"
        ))),
        (Ok(_), Ok(args)) => serve::serve(args.config.as_deref(), &input),
        (Ok(_), Err(1)) => Response::failure(&CpiError::cloud(
            "Usage: azure_cpi <path to cpi.json>: got an option instead of the path (see azure_cpi --help)",
        )),
        (Ok(_), Err(count)) => Response::failure(&CpiError::cloud(format!(
            "Usage: azure_cpi <path to cpi.json>: expected one argument, got {count}"
        ))),
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{}", response.to_json()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
