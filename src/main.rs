//! `azure_cpi <path to cpi.json>`: one request on stdin, exactly one JSON response on stdout,
//! logs on stderr, exit 0 whenever a response was written (bosh-cli fails on non-zero).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bosh_azure_cpi::rpc::{self, Response};
use bosh_azure_cpi::{CpiError, telemetry};

fn main() -> ExitCode {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    // Started detached by a CPI call with telemetry on: no request, no response.
    if let [flag, dir, wire_server] = args.as_slice()
        && flag.as_os_str() == telemetry::SEND_FLAG
    {
        telemetry::send_spooled(dir, &wire_server.to_string_lossy());
        return ExitCode::SUCCESS;
    }
    let mut input = Vec::new();
    let response = match (std::io::stdin().read_to_end(&mut input), args.as_slice()) {
        (Err(e), _) => Response::failure(&CpiError::invalid_request(format!(
            "Cannot read the request from stdin: {e}"
        ))),
        (Ok(_), [config_path]) => rpc::serve(Some(config_path), &input),
        (Ok(_), []) => rpc::serve(None, &input),
        (Ok(_), _) => Response::failure(&CpiError::cloud(format!(
            "Usage: azure_cpi <path to cpi.json>: expected one argument, got {}",
            args.len()
        ))),
    };
    let mut stdout = std::io::stdout().lock();
    match writeln!(stdout, "{}", response.to_json()).and_then(|()| stdout.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}
