//! The demo behind `scripts/demo`: starts azure-sim and Azurite (blob storage) behind the
//! sim's blob front, which holds each blob to Azure's per-blob targets (500 requests/s,
//! 60 MiB/s) as Azure does, writes a cpi.json pointing at them, generates a small stemcell, and walks a BOSH lifecycle through
//! the real `azure_cpi` binary, printing every request and the CPI's answer as it is. The
//! stemcell becomes an Azure Compute Gallery image version and the VM boots from it. It ends
//! with a summary (each call's time, what is left in the simulator and why) and exits 1 when
//! any call answered an error.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use bosh_azure_sim::azurite::Azurite;
use bosh_azure_sim::blob_front::{BlobFront, BlobLimits, FrontOptions};
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::{SimConfig, StorageBackend};
use serde_json::{Value, json};

const RESOURCE_GROUP: &str = "bosh-demo";
const LOCATION: &str = "eastus";
const GALLERY: &str = "bosh_gallery";

fn main() {
    let binary = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/debug/azure_cpi"));
    if !binary.exists() {
        eprintln!(
            "demo: the CPI binary '{}' does not exist; run scripts/demo",
            binary.display()
        );
        std::process::exit(2);
    }
    let azurite = Azurite::start().unwrap_or_else(|e| {
        eprintln!("demo: cannot start Azurite ({e}); run `npm ci` in the repository first");
        std::process::exit(2);
    });
    let front = BlobFront::start(
        &azurite.blob_endpoint(),
        FrontOptions {
            limits: Some(BlobLimits::azure()),
            ..FrontOptions::default()
        },
    )
    .unwrap_or_else(|e| {
        eprintln!("demo: cannot start the blob front ({e})");
        std::process::exit(2);
    });
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    let sim = runtime
        .block_on(bosh_azure_sim::start(SimConfig {
            storage: Some(StorageBackend {
                blob_endpoint: front.account_endpoint(azurite.account_name()),
                account_name: azurite.account_name().into(),
                account_key: azurite.account_key().into(),
            }),
            ..SimConfig::default()
        }))
        .expect("start azure-sim");
    let subscription = sim.config().subscription_id.clone();
    let rg_id = format!("/subscriptions/{subscription}/resourceGroups/{RESOURCE_GROUP}");
    sim.seed(json!([
        {"id": rg_id, "location": LOCATION},
        {"id": format!("{rg_id}/providers/Microsoft.Network/virtualNetworks/boshvnet"), "location": LOCATION,
         "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                        "subnets": [{"name": "bosh", "properties": {"addressPrefix": "10.0.0.0/24"}}]}},
        // Named like Azurite's account, so the Shared Key signature matches.
        {"id": format!("{rg_id}/providers/Microsoft.Storage/storageAccounts/{}", azurite.account_name()),
         "location": LOCATION, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"},
        // The Azure Compute Gallery stemcells go into (operators create it; the CPI never does).
        {"id": format!("{rg_id}/providers/Microsoft.Compute/galleries/{GALLERY}"), "location": LOCATION,
         "properties": {}},
    ]))
    .expect("seed the demo network");

    let dir = std::env::temp_dir().join(format!("bosh-azure-cpi-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("demo directory");
    let config_path = dir.join("cpi.json");
    let sim_config = sim.config();
    let config = json!({"cloud": {"plugin": "azure", "properties": {
        "azure": {
            "environment": "AzureCloud",
            "subscription_id": subscription,
            "tenant_id": sim_config.tenant_id,
            "client_id": sim_config.client_id,
            "client_secret": sim_config.client_secret,
            "resource_group_name": RESOURCE_GROUP,
            "location": LOCATION,
            "use_managed_disks": true,
            "storage_account_name": azurite.account_name(),
            "compute_gallery_name": GALLERY,
            "ssh_user": "vcap",
            "ssh_public_key": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC demo@example",
            "endpoints": {"resource_manager": sim.base_url(), "active_directory": sim.base_url(), "ca_cert": sim.ca_pem()}
        },
        "agent": {"ntp": ["0.pool.ntp.org"], "mbus": "nats://nats:demo-password@10.0.0.6:4222"}
    }}});
    std::fs::write(
        &config_path,
        serde_json::to_vec_pretty(&config).expect("json"),
    )
    .expect("write cpi.json");
    let image = dir.join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(16 * 1024 * 1024, 0.25))
        .expect("generate a stemcell");
    println!(
        "azure-sim at {} (CA {}), Azurite at {} behind the blob front at {} (Azure's per-blob targets)",
        sim.base_url(),
        sim.ca_pem_path().display(),
        azurite.blob_endpoint(),
        front.account_endpoint(azurite.account_name())
    );
    println!(
        "cpi.json at {}; a 16 MiB test stemcell at {}\n",
        config_path.display(),
        image.display()
    );

    let vm_cid = "agent_id:demo-agent-0001;resource_group_name:bosh-demo";
    let stemcell = stemcell_cloud_properties(Generation::Gen2);
    let networks = json!({"default": {"type": "manual", "ip": "10.0.0.11", "netmask": "255.255.255.0", "gateway": "10.0.0.1",
        "dns": ["168.63.129.16"], "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": "boshvnet", "subnet_name": "bosh"}}});

    println!("Walking a BOSH lifecycle: each request sent to azure_cpi, then its answer.\n");
    let mut demo = Demo {
        binary: &binary,
        config: &config_path,
        calls: Vec::new(),
    };
    let started = Instant::now();
    demo.call("info", json!([]));
    let stemcell_cid = demo
        .call("create_stemcell", json!([image, stemcell]))
        .as_str()
        .unwrap_or("bosh-stemcell-00000000-0000-0000-0000-000000000000")
        .to_owned();
    let created = demo.call("create_vm",
        json!(["demo-agent-0001", stemcell_cid,
        {"instance_type": "Standard_D2s_v3"}, networks, [], {"bosh": {"group": "demo-director-demo-web"}}]),
    );
    let vm = created
        .get(0)
        .and_then(Value::as_str)
        .unwrap_or(vm_cid)
        .to_owned();
    demo.call("has_vm", json!([vm]));
    demo.call(
        "set_vm_metadata",
        json!([vm, {"deployment": "demo", "job": "web", "index": "0"}]),
    );
    let disk = demo.call(
        "create_disk",
        json!([10240, {"caching": "ReadWrite"}, null]),
    );
    let disk = disk.as_str().unwrap_or_default().to_owned();
    demo.call("has_disk", json!([disk]));
    demo.call("attach_disk", json!([vm, disk]));
    demo.call("get_disks", json!([vm]));
    demo.call("detach_disk", json!([vm, disk]));
    demo.call("delete_disk", json!([disk]));
    demo.call("has_disk", json!([disk]));
    demo.call("delete_vm", json!([vm]));
    demo.call("delete_stemcell", json!([stemcell_cid]));

    let failed = demo.summary(started.elapsed().as_secs_f64());
    print_leftovers(&sim.inventory());
    runtime.block_on(sim.shutdown());
    let _ = std::fs::remove_dir_all(&dir);
    if failed > 0 {
        eprintln!("demo: {failed} call(s) answered an error");
        std::process::exit(1);
    }
}

/// What the demo seeded stays, and so do gallery image definitions: the CPI never deletes one
/// (each serves every version of its stemcell series). Anything else left is a leak.
fn print_leftovers(inventory: &Value) {
    let resources = inventory["resources"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    println!("\nLeft in azure-sim: {} resources", resources.len());
    for resource in &resources {
        let full_type = resource["type"].as_str().unwrap_or("?");
        let id = resource["id"].as_str().unwrap_or("?");
        let name = id.rsplit('/').next().unwrap_or(id);
        let kind = full_type.rsplit('/').next().unwrap_or(full_type);
        let why = match full_type.to_ascii_lowercase().as_str() {
            "microsoft.resources/resourcegroups"
            | "microsoft.network/virtualnetworks"
            | "microsoft.network/virtualnetworks/subnets"
            | "microsoft.storage/storageaccounts"
            | "microsoft.compute/galleries" => "made by the operator (seeded by the demo)",
            "microsoft.compute/galleries/images" => {
                "image definition: kept for the next version of the stemcell series"
            }
            _ => "LEFT BEHIND by the CPI",
        };
        println!("  {kind:<20} {name:<44} {why}");
    }
}

struct Demo<'a> {
    binary: &'a Path,
    config: &'a Path,
    calls: Vec<(&'static str, f64, bool)>,
}

impl Demo<'_> {
    /// Runs one request through the binary and prints it with the answer; returns the result.
    fn call(&mut self, method: &'static str, arguments: Value) -> Value {
        let (response, ms) = call(self.binary, self.config, method, &arguments);
        self.calls.push((method, ms, response["error"].is_null()));
        response["result"].clone()
    }

    /// Prints one line per call and returns how many answered an error.
    fn summary(&self, total_secs: f64) -> usize {
        let failed = self.calls.iter().filter(|(_, _, ok)| !ok).count();
        println!(
            "Summary: {} calls in {total_secs:.1} s, {failed} answered an error",
            self.calls.len()
        );
        for (method, ms, ok) in &self.calls {
            let outcome = if *ok { "ok" } else { "ERROR" };
            println!("  {method:<18} {ms:>8.0} ms  {outcome}");
        }
        failed
    }
}

/// Runs one request through the binary and prints it with the answer.
fn call(binary: &Path, config: &Path, method: &str, arguments: &Value) -> (Value, f64) {
    let request = json!({"method": method, "arguments": arguments,
        "context": {"director_uuid": "11111111-1111-1111-1111-111111111111", "request_id": "cpi-000042"},
        "api_version": 2});
    let started = Instant::now();
    let mut child = Command::new(binary)
        .arg(config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run azure_cpi");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("write the request");
    let output = child.wait_with_output().expect("azure_cpi output");
    let elapsed = started.elapsed();
    let response: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        json!({"result": null, "error": {"type": "demo", "message": format!("unreadable answer: {e}")}, "log": ""})
    });
    println!("→ {method} {arguments}");
    match &response["error"] {
        Value::Null => println!(
            "← {} ({:.0} ms)\n",
            response["result"],
            elapsed.as_secs_f64() * 1e3
        ),
        error => println!(
            "← {}: {} ({:.0} ms)\n",
            error["type"].as_str().unwrap_or("?"),
            error["message"].as_str().unwrap_or("?"),
            elapsed.as_secs_f64() * 1e3
        ),
    }
    (response, elapsed.as_secs_f64() * 1e3)
}
