//! create_vm (and attach_disk) wall time against azure-sim with a fixed latency on every
//! request, next to baselines from the same run: the request count × latency (every request
//! one after another), the sequential depth × latency (the critical path the call's
//! dependencies allow), and the same calls without injected latency (the CPI's own time:
//! process start, token, TLS, JSON). Ignored by `cargo test`; run it with
//! `scripts/bench-create-vm` (`AZURE_CPI_BIN=<path>` measures another build of the binary;
//! `BENCH_TRACE=1` lists each call's requests).

use crate::support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::golden::ArmCalls;
use support::vm_env::{VmEnv, manual_network};

const LATENCY: Duration = Duration::from_millis(50);
const RUNS: usize = 3;

struct Measure {
    wall: Duration,
    requests: usize,
    depth: usize,
}

impl Measure {
    fn of(env: &VmEnv, method: &str, arguments: Value) -> (Self, Value) {
        let offset = env.sim.sim.request_log().len();
        let started = Instant::now();
        let result = env.sim.ok(method, arguments);
        let wall = started.elapsed();
        let calls = ArmCalls::since(&env.sim.sim, offset);
        if std::env::var_os("BENCH_TRACE").is_some() {
            println!("{method}:\n  {}", calls.lines().join("\n  "));
        }
        let measure = Self {
            wall,
            requests: calls.count(),
            depth: calls.depth(),
        };
        (measure, result)
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Runs `RUNS` create_vm (each followed by create_disk + attach_disk) and reports medians.
fn measure_round(env: &VmEnv, stemcell: &str, round: &str) -> (Vec<Measure>, Vec<Measure>) {
    let mut creates = Vec::new();
    let mut attaches = Vec::new();
    for run in 0..RUNS {
        let agent = format!("{round}00c1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b{run:02}");
        let mut networks = manual_network();
        networks["private"]["ip"] = json!(format!("10.0.0.{}", 100 + run));
        let props = json!({"instance_type": "Standard_D2s_v3", "security_group": "nsg",
                           "assign_dynamic_public_ip": true});
        let (create, result) = Measure::of(
            env,
            "create_vm",
            json!([agent, stemcell, props, networks, [], {"bosh": {"group": format!("bench-{round}")}}]),
        );
        let vm_cid = result[0].as_str().expect("vm cid").to_owned();
        let disk_cid = env.sim.ok("create_disk", json!([10240, {}, vm_cid]));
        let (attach, _) = Measure::of(env, "attach_disk", json!([vm_cid, disk_cid]));
        creates.push(create);
        attaches.push(attach);
    }
    (creates, attaches)
}

fn report(name: &str, latency: Duration, measures: &[Measure], unloaded: &[Measure]) {
    let wall = median(measures.iter().map(|m| m.wall).collect());
    let own = median(unloaded.iter().map(|m| m.wall).collect());
    let requests = measures[0].requests;
    let depth = measures.iter().map(|m| m.depth).max().unwrap_or(0);
    let serial = latency * requests as u32;
    let critical = latency * depth as u32;
    println!(
        "{name}: median wall {:.0} ms over {RUNS} runs, {requests} ARM requests, depth {depth}",
        ms(wall)
    );
    println!(
        "  baseline serial (requests x {} ms): {:.0} ms -> {:.2}x faster than serial",
        latency.as_millis(),
        ms(serial),
        serial.as_secs_f64() / wall.as_secs_f64()
    );
    println!(
        "  baseline critical path (depth x {} ms) + no-latency run ({:.0} ms): {:.0} ms -> wall is {:.2}x that",
        latency.as_millis(),
        ms(own),
        ms(critical + own),
        wall.as_secs_f64() / (critical + own).as_secs_f64()
    );
}

#[test]
#[ignore = "benchmark: run scripts/bench-create-vm"]
fn create_vm_with_50ms_latency_per_request() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();

    // The CPI's own time: the same calls without injected latency.
    let (unloaded_creates, unloaded_attaches) = measure_round(&env, &stemcell, "a");
    env.sim.sim.set_latency(Some(LATENCY));
    let (creates, attaches) = measure_round(&env, &stemcell, "b");
    env.sim.sim.set_latency(None);

    report("create_vm", LATENCY, &creates, &unloaded_creates);
    report("attach_disk", LATENCY, &attaches, &unloaded_attaches);
}
