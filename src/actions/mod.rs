//! One file per CPI method. `Cpi` holds what a request needs and dispatches a decoded call.

mod info;

use serde_json::Value;

use crate::config::Config;
use crate::error::{CpiError, CpiResult};
use crate::rpc::{ApiVersion, Call};

pub struct Cpi {
    pub config: Config,
    pub api_version: ApiVersion,
}

impl Cpi {
    pub fn new(config: Config, api_version: ApiVersion) -> Self {
        Self {
            config,
            api_version,
        }
    }

    pub fn run(&self, call: Call) -> CpiResult<Value> {
        match call {
            Call::Info => Ok(info::info()),
            Call::Ping | Call::CreateNetwork | Call::DeleteNetwork => {
                Err(CpiError::not_implemented(format!(
                    "'{}' is not implemented by the Azure CPI",
                    call.method_name()
                )))
            }
            Call::ConfigureNetworks | Call::CurrentVmId => Err(CpiError::not_supported(format!(
                "'{}' is not supported by the Azure CPI",
                call.method_name()
            ))),
            other => Err(CpiError::not_implemented(format!(
                "'{}' is not implemented yet in bosh-azure-cpi {}",
                other.method_name(),
                env!("CARGO_PKG_VERSION")
            ))),
        }
    }
}
