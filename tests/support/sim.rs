//! A running azure-sim plus a cpi.json pointing at it, for tests through the real binary.

use std::path::PathBuf;

use bosh_azure_sim::{SimConfig, SimHandle};
use serde_json::{Value, json};

use super::CpiRun;

pub struct SimEnv {
    pub sim: SimHandle,
    pub runtime: tokio::runtime::Runtime,
    pub dir: tempfile::TempDir,
    pub config_path: PathBuf,
}

pub const RESOURCE_GROUP: &str = "rg";
pub const LOCATION: &str = "eastus";

impl SimEnv {
    pub fn start() -> Self {
        Self::start_with(SimConfig::default())
    }

    pub fn start_with(config: SimConfig) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = runtime
            .block_on(bosh_azure_sim::start(config))
            .expect("start azure-sim");
        let dir = tempfile::tempdir().expect("tempdir");
        let config_path = dir.path().join("cpi.json");
        let env = Self {
            sim,
            runtime,
            dir,
            config_path,
        };
        env.write_config(|_| {});
        env.seed(json!({
            "id": format!("/subscriptions/{}/resourceGroups/{RESOURCE_GROUP}", env.subscription_id()),
            "location": LOCATION
        }));
        env
    }

    pub fn subscription_id(&self) -> &str {
        &self.sim.config().subscription_id
    }

    pub fn rg_id(&self) -> String {
        format!(
            "/subscriptions/{}/resourceGroups/{RESOURCE_GROUP}",
            self.subscription_id()
        )
    }

    /// Writes cpi.json for the sim; `edit` may change the `azure` section.
    pub fn write_config(&self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) {
        let sim = self.sim.config();
        let mut azure = json!({
            "environment": "AzureCloud",
            "subscription_id": sim.subscription_id,
            "tenant_id": sim.tenant_id,
            "client_id": sim.client_id,
            "client_secret": sim.client_secret,
            "resource_group_name": RESOURCE_GROUP,
            "location": LOCATION,
            "use_managed_disks": true,
            "ssh_user": "vcap",
            "ssh_public_key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC test@example",
            "endpoints": {
                "resource_manager": self.sim.base_url(),
                "active_directory": self.sim.base_url(),
                "ca_cert": self.sim.ca_pem(),
            }
        });
        edit(azure.as_object_mut().expect("object"));
        let config = json!({"cloud": {"plugin": "azure", "properties": {
            "azure": azure,
            "agent": {"ntp": ["0.pool.ntp.org"], "mbus": "nats://nats:nats-password@10.0.0.6:4222"}
        }}});
        std::fs::write(&self.config_path, config.to_string()).expect("write cpi.json");
    }

    pub fn seed(&self, resources: Value) {
        self.sim.seed(resources).expect("seed");
    }

    /// Runs one request through the binary (api_version 2) and checks the wire contract.
    pub fn call(&self, method: &str, arguments: Value) -> CpiRun {
        self.call_versioned(method, arguments, 2)
    }

    pub fn call_versioned(&self, method: &str, arguments: Value, api_version: u64) -> CpiRun {
        let request = json!({
            "method": method,
            "arguments": arguments,
            "context": {"director_uuid": "11111111-1111-1111-1111-111111111111", "request_id": "cpi-100001"},
            "api_version": api_version,
        });
        super::run(&self.config_path, request.to_string().as_bytes(), &[])
    }

    /// The result, after asserting there was no error.
    pub fn ok(&self, method: &str, arguments: Value) -> Value {
        let run = self.call(method, arguments);
        assert_eq!(
            run.response["error"],
            Value::Null,
            "{method}: {}\nstderr: {}",
            run.stdout,
            run.stderr
        );
        run.response["result"].clone()
    }

    pub fn resource(&self, id: &str) -> Option<Value> {
        let inventory = self.sim.inventory();
        inventory["resources"]
            .as_array()?
            .iter()
            .find(|r| {
                r["id"]
                    .as_str()
                    .is_some_and(|rid| rid.eq_ignore_ascii_case(id))
            })
            .map(|r| r["body"].clone())
    }
}
