//! `info` end to end through the real binary: the median wall time of a whole process run,
//! against a same-run baseline of spawning `cat` with the same stdin (the process-spawn floor).
//! Run with `scripts/bench-info` (optimized build).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const RUNS: usize = 101;
const REQUEST: &[u8] =
    br#"{"method":"info","arguments":[],"context":{"director_uuid":"d","request_id":"cpi-000001"},"api_version":2}"#;

fn time_once(program: &str, args: &[&Path]) -> Duration {
    let start = Instant::now();
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(REQUEST)
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    let elapsed = start.elapsed();
    assert!(output.status.success());
    elapsed
}

fn median(program: &str, args: &[&Path]) -> Duration {
    let mut samples: Vec<Duration> = (0..RUNS).map(|_| time_once(program, args)).collect();
    samples.sort();
    samples[RUNS / 2]
}

fn main() {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config/static-secret.json");
    let cpi = env!("CARGO_BIN_EXE_azure_cpi");
    // Warm the page cache for both programs first.
    time_once(cpi, &[&config]);
    time_once("cat", &[]);
    let baseline = median("cat", &[]);
    let info = median(cpi, &[&config]);
    println!("info benchmark: {RUNS} runs each, median wall time per process");
    println!(
        "  baseline (spawn cat):  {:>8.3} ms",
        baseline.as_secs_f64() * 1e3
    );
    println!(
        "  azure_cpi info:        {:>8.3} ms",
        info.as_secs_f64() * 1e3
    );
    println!(
        "  ratio to baseline:     {:>8.2}x  (CPI's own cost {:.3} ms)",
        info.as_secs_f64() / baseline.as_secs_f64(),
        (info.saturating_sub(baseline)).as_secs_f64() * 1e3
    );
}
