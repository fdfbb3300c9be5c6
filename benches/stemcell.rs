//! Stemcell upload benchmark: `scripts/bench-stemcell [SIZE]` (default 3G).
//!
//! Generates a stemcell image of SIZE with about 25% non-zero data (cached under
//! `target/bench-stemcell/`), prints how its non-zero pages group into runs (one strict Put
//! Page call each), then measures in one run:
//! - the floor: gunzip + untar of the same file to nothing (the inflate-bound minimum);
//! - the default plan against a local discard sink without limits (the pipeline's own speed):
//!   targets sink ≤ 1.3× floor, peak RSS ≤ 128 MiB, 0 bytes written to local disk;
//! - strict (non-zero pages only), 4 KiB-bridged and the default plan against azure-sim's blob
//!   front holding the blob to Azure's targets (500 requests/s, 60 MiB/s) in front of the sink:
//!   Put Page calls, MiB sent, the modeled time max(calls / 500, bytes / 60 MiB/s), the
//!   measured time and the 503s, and the default's ratio to the best plan;
//! - the default plan through the limited front into Azurite (in memory; not a baseline).
//!
//! Set `RUST_LOG=info` to see the uploader's progress lines on stderr.
//!
//! `--image FILE` measures the stemcell image tarball FILE (e.g. a real stemcell's `image`)
//! instead of a generated one; `--profile FILE` only prints the runs of FILE (an image
//! tarball, a raw disk or a VHD), to compare a real stemcell's layout with the generated one.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use azure_core::credentials::Secret;
use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions, StorageAccess};
use bosh_azure_cpi::stemcell::{
    DEFAULT_UPLOAD_PARALLELISM, UploadOptions, UploadReport, image_sha256, upload_stemcell_vhd,
};
use bosh_azure_sim::azurite::{Azurite, PageBlobSink, SinkFaults};
use bosh_azure_sim::blob_front::{
    BLOB_REQUESTS_PER_SECOND, BlobFront, BlobLimits, FrontOptions, PAGE_BLOB_BYTES_PER_SECOND,
};
use bosh_azure_sim::stemcell_gen::{
    LAYOUT_VERSION, PageRunProfile, StemcellImageSpec, profile_page_runs, write_stemcell_image,
};
use std::sync::atomic::Ordering;

const MIB: f64 = 1024.0 * 1024.0;
const NONZERO_SHARE: f64 = 0.25;
/// The bridged variant sends zero gaps up to one file-system block as data.
const BRIDGED_GAP: u64 = 4096;

fn main() {
    // RUST_LOG=info shows the uploader's own progress lines on stderr.
    if std::env::var_os("RUST_LOG").is_some() {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
    }
    if let Err(e) = run() {
        eprintln!("bench-stemcell: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(at) = args.iter().position(|a| a == "--profile") {
        let path = args
            .get(at + 1)
            .ok_or("--profile needs a file: a stemcell image tarball, a raw disk or a VHD")?;
        let profile = profile_file(Path::new(path))?;
        print_profile(path, &profile);
        return Ok(());
    }
    let image = match args.iter().position(|a| a == "--image") {
        Some(at) => PathBuf::from(
            args.get(at + 1)
                .ok_or("--image needs a stemcell image tarball (gzipped tar holding root.vhd)")?,
        ),
        None => {
            let size_arg = args
                .iter()
                .find(|a| !a.starts_with("--"))
                .cloned()
                .unwrap_or_else(|| "3G".to_owned());
            prepare_image(parse_size(&size_arg)?)?
        }
    };
    let compressed = std::fs::metadata(&image).map_err(|e| e.to_string())?.len();
    print_profile("root.vhd", &profile_file(&image)?);

    let floor = best_of(2, || floor_pass(&image))?;
    println!(
        "floor (gunzip + untar to nothing): {:.2} s ({:.0} MiB/s of VHD)",
        floor.elapsed.as_secs_f64(),
        floor.vhd_bytes as f64 / MIB / floor.elapsed.as_secs_f64()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    let hash_started = Instant::now();
    runtime
        .block_on(image_sha256(&image))
        .map_err(|e| e.to_string())?;
    let hash_only = hash_started.elapsed();

    let strict = UploadOptions {
        max_zero_gap_bytes: Some(0),
        ..Default::default()
    };
    let bridged = UploadOptions {
        max_zero_gap_bytes: Some(BRIDGED_GAP),
        ..Default::default()
    };
    let default_plan = UploadOptions::default();
    let plans = [
        ("strict", &strict),
        ("4 KiB-bridged", &bridged),
        ("default", &default_plan),
    ];

    // The pipeline alone (no limits): the floor ratio, RSS and disk targets.
    // Then each plan against the blob front holding the blob to Azure's targets, in front
    // of the discard sink (so the targets, not the backend, bound it).
    let (sink_default, limited) = runtime.block_on(async {
        let sink = PageBlobSink::start(SinkFaults::default())
            .await
            .map_err(|e| e.to_string())?;
        let blobs = blob_service(
            sink.account_name(),
            sink.blob_endpoint(),
            sink.account_key(),
        )?;
        let unlimited = measure_upload(&image, &blobs, "sink-default.vhd", &default_plan).await?;
        let mut limited = Vec::new();
        for (slot, (name, options)) in plans.iter().enumerate() {
            let front = BlobFront::start(
                &sink.blob_endpoint(),
                FrontOptions {
                    limits: Some(BlobLimits::azure()),
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())?;
            let blobs = blob_service(
                sink.account_name(),
                front.account_endpoint(sink.account_name()),
                sink.account_key(),
            )?;
            let measured =
                measure_upload(&image, &blobs, &format!("limited-{slot}.vhd"), options).await?;
            let busy = front.stats().server_busy.load(Ordering::Relaxed);
            let attempts = front.stats().put_page_attempts.load(Ordering::Relaxed);
            limited.push((*name, measured, busy, attempts));
        }
        Ok::<_, String>((unlimited, limited))
    })?;

    // The default plan through the limited front into Azurite (an in-memory storage
    // emulator, itself not as fast as Azure).
    let azurite_run = if std::env::var("SKIP_AZURITE").is_ok_and(|v| v == "1") {
        None
    } else {
        let azurite = Azurite::start().map_err(|e| e.to_string())?;
        let front = BlobFront::start(
            &azurite.blob_endpoint(),
            FrontOptions {
                limits: Some(BlobLimits::azure()),
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        let blobs = blob_service(
            azurite.account_name(),
            front.account_endpoint(azurite.account_name()),
            azurite.account_key(),
        )?;
        let run = runtime.block_on(measure_upload(&image, &blobs, "azurite.vhd", &default_plan))?;
        let busy = front.stats().server_busy.load(Ordering::Relaxed);
        let attempts = front.stats().put_page_attempts.load(Ordering::Relaxed);
        Some((run, busy, attempts))
    };

    let report = &sink_default.report;
    println!();
    println!(
        "image: {:.0} MiB compressed, root.vhd {:.0} MiB, parallelism {}",
        compressed as f64 / MIB,
        report.vhd_size as f64 / MIB,
        DEFAULT_UPLOAD_PARALLELISM
    );
    println!(
        "{:<28} {:>8} {:>8} {:>8} {:>10} {:>12} {:>10} {:>12}",
        "run", "seconds", "x floor", "CPU s", "Put Pages", "MiB written", "peak RSS", "disk writes"
    );
    println!(
        "{:<28} {:>8.2} {:>8.2} {:>8}",
        "floor: gunzip+untar",
        floor.elapsed.as_secs_f64(),
        1.0,
        floor
            .cpu
            .map_or("n/a".to_owned(), |c| format!("{:.2}", c.as_secs_f64()))
    );
    println!(
        "{:<28} {:>8.2} {:>8.2}",
        "hash-only pass (sha256)",
        hash_only.as_secs_f64(),
        hash_only.as_secs_f64() / floor.elapsed.as_secs_f64()
    );
    print_row("sink, default, no limits", &sink_default, floor.elapsed);
    for (name, run, _, _) in &limited {
        print_row(&format!("limited front, {name}"), run, floor.elapsed);
    }
    if let Some((run, _, _)) = &azurite_run {
        print_row("limited Azurite, default", run, floor.elapsed);
    }

    println!();
    println!(
        "Against Azure's per-blob targets ({} requests/s, {:.0} MiB/s): modeled = max(calls / {}, MiB / {:.0}), measured against the limited front",
        BLOB_REQUESTS_PER_SECOND,
        PAGE_BLOB_BYTES_PER_SECOND / MIB,
        BLOB_REQUESTS_PER_SECOND,
        PAGE_BLOB_BYTES_PER_SECOND / MIB
    );
    println!(
        "{:<16} {:>8} {:>10} {:>11} {:>11} {:>13} {:>9}",
        "plan", "calls", "MiB sent", "modeled s", "measured s", "measured/mod", "503s"
    );
    let modeled = |run: &Measured| {
        (run.report.ranges as f64 / BLOB_REQUESTS_PER_SECOND)
            .max(run.report.bytes_uploaded as f64 / PAGE_BLOB_BYTES_PER_SECOND)
    };
    for (name, run, busy, attempts) in &limited {
        println!(
            "{:<16} {:>8} {:>10.1} {:>11.2} {:>11.2} {:>13.2} {:>4} ({:.2}%)",
            name,
            run.report.ranges,
            run.report.bytes_uploaded as f64 / MIB,
            modeled(run),
            run.elapsed.as_secs_f64(),
            run.elapsed.as_secs_f64() / modeled(run),
            busy,
            100.0 * *busy as f64 / (*attempts).max(1) as f64
        );
    }
    let best_modeled = limited
        .iter()
        .map(|(_, run, _, _)| modeled(run))
        .fold(f64::INFINITY, f64::min);
    let best_measured = limited
        .iter()
        .map(|(_, run, _, _)| run.elapsed.as_secs_f64())
        .fold(f64::INFINITY, f64::min);
    if let Some((_, default_run, busy, attempts)) = limited.iter().find(|(n, ..)| *n == "default") {
        let to_best = modeled(default_run) / best_modeled;
        let own = default_run.elapsed.as_secs_f64() / modeled(default_run);
        let throttled = *busy as f64 / (*attempts).max(1) as f64;
        println!(
            "default: {to_best:.2}x the best modeled plan ({:.2}x the best measured); targets: modeled <= 1.10x best: {}; measured <= 1.25x its modeled: {} ({own:.2}x); 503s <= 1%: {} ({:.2}%)",
            default_run.elapsed.as_secs_f64() / best_measured,
            verdict(to_best <= 1.1),
            verdict(own <= 1.25),
            verdict(throttled <= 0.01),
            100.0 * throttled
        );
    }
    if let Some((run, busy, attempts)) = &azurite_run {
        println!(
            "default through the limited front into Azurite: {:.2} s ({:.2}x its modeled time), {busy} of {attempts} calls answered 503",
            run.elapsed.as_secs_f64(),
            run.elapsed.as_secs_f64() / modeled(run)
        );
    }
    let run = &sink_default;
    let ratio = run.elapsed.as_secs_f64() / floor.elapsed.as_secs_f64();
    let rss_mib = run.peak_rss_kib.map(|k| k as f64 / 1024.0);
    println!(
        "targets (default, no limits): sink <= 1.30x floor: {} ({ratio:.2}x); peak RSS <= 128 MiB: {} ({}); zero bytes to disk: {} ({} B)",
        verdict(ratio <= 1.3),
        verdict(rss_mib.is_some_and(|r| r <= 128.0)),
        rss_mib.map_or("n/a".to_owned(), |r| format!("{r:.0} MiB")),
        verdict(run.disk_writes == Some(0)),
        run.disk_writes.map_or("n/a".to_owned(), |b| b.to_string())
    );
    Ok(())
}

fn verdict(ok: bool) -> &'static str {
    if ok { "MET" } else { "MISSED" }
}

fn print_row(name: &str, run: &Measured, floor: Duration) {
    println!(
        "{:<28} {:>8.2} {:>8.2} {:>8} {:>10} {:>12.1} {:>10} {:>12}",
        name,
        run.elapsed.as_secs_f64(),
        run.elapsed.as_secs_f64() / floor.as_secs_f64(),
        run.cpu
            .map_or("n/a".to_owned(), |c| format!("{:.2}", c.as_secs_f64())),
        run.report.ranges,
        run.report.bytes_uploaded as f64 / MIB,
        run.peak_rss_kib.map_or("n/a".to_owned(), |k| format!(
            "{:.0} MiB",
            k as f64 / 1024.0
        )),
        run.disk_writes
            .map_or("n/a".to_owned(), |b| format!("{b} B")),
    );
}

/// Runs of non-zero pages in `path`: the `root.vhd` of a stemcell image tarball (gzip), or the
/// file itself (a raw disk or VHD), e.g. to compare a real stemcell with the generated one.
fn profile_file(path: &Path) -> Result<PageRunProfile, String> {
    let describe = |e: io::Error| format!("profiling {}: {e}", path.display());
    let mut file = File::open(path).map_err(describe)?;
    let mut magic = [0u8; 2];
    let gzipped = io::Read::read_exact(&mut file, &mut magic).is_ok() && magic == [0x1f, 0x8b];
    io::Seek::rewind(&mut file).map_err(describe)?;
    if !gzipped {
        return profile_page_runs(BufReader::with_capacity(1 << 20, file)).map_err(describe);
    }
    let gunzip = flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, file));
    let mut archive = tar::Archive::new(gunzip);
    for entry in archive.entries().map_err(describe)? {
        let entry = entry.map_err(describe)?;
        if entry.path().is_ok_and(|p| p.ends_with("root.vhd")) {
            return profile_page_runs(entry).map_err(describe);
        }
    }
    Err(format!("{} holds no root.vhd", path.display()))
}

fn print_profile(name: &str, profile: &PageRunProfile) {
    println!(
        "{name}: {:.0} MiB, {:.0} MiB in non-zero pages ({:.1}%), {} runs of them ({:.1} per non-zero MiB; \
         sectors at the 10/25/50/75/90/99th percentile: {}), {:.1}% of the gaps between runs shorter than 4 KiB",
        profile.disk_bytes as f64 / MIB,
        profile.nonzero_bytes as f64 / MIB,
        100.0 * profile.nonzero_bytes as f64 / profile.disk_bytes.max(1) as f64,
        profile.runs(),
        profile.runs_per_nonzero_mib(),
        [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
            .map(|q| profile.run_sectors_at(q).to_string())
            .join("/"),
        100.0 * profile.share_of_gaps_shorter_than_a_block()
    );
}

fn parse_size(text: &str) -> Result<u64, String> {
    let upper = text.trim().to_ascii_uppercase();
    let (digits, unit) = match upper.trim_end_matches("IB").trim_end_matches('B') {
        s if s.ends_with('G') => (&s[..s.len() - 1], 1u64 << 30),
        s if s.ends_with('M') => (&s[..s.len() - 1], 1u64 << 20),
        s if s.ends_with('K') => (&s[..s.len() - 1], 1u64 << 10),
        s => (s, 1),
    };
    let value: f64 = digits
        .parse()
        .map_err(|_| format!("invalid size '{text}' (examples: 3G, 512M)"))?;
    Ok((value * unit as f64) as u64)
}

/// Generated once per size; reused by later runs (generation is deterministic).
fn prepare_image(disk_size: u64) -> Result<PathBuf, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-stemcell");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let path = dir.join(format!(
        "image-{disk_size}-{NONZERO_SHARE}-v{LAYOUT_VERSION}.tgz"
    ));
    if path.exists() {
        println!("using cached image {}", path.display());
        return Ok(path);
    }
    let partial = path.with_extension("partial");
    let started = Instant::now();
    println!(
        "generating a {:.0} MiB stemcell image ({:.0}% non-zero) at {} ...",
        disk_size as f64 / MIB,
        NONZERO_SHARE * 100.0,
        path.display()
    );
    write_stemcell_image(&partial, &StemcellImageSpec::new(disk_size, NONZERO_SHARE))
        .map_err(|e| format!("generating the image: {e}"))?;
    std::fs::rename(&partial, &path).map_err(|e| e.to_string())?;
    println!("generated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(path)
}

struct Floor {
    elapsed: Duration,
    cpu: Option<Duration>,
    vhd_bytes: u64,
}

/// The same decoders as the CPI (flate2 with zlib-rs, tar), discarding root.vhd.
fn floor_pass(image: &Path) -> Result<Floor, String> {
    let cpu_before = process_cpu();
    let started = Instant::now();
    let file = File::open(image).map_err(|e| e.to_string())?;
    let gunzip = flate2::bufread::MultiGzDecoder::new(BufReader::with_capacity(256 * 1024, file));
    let mut archive = tar::Archive::new(gunzip);
    let mut vhd_bytes = 0;
    for entry in archive.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        vhd_bytes += io::copy(&mut entry, &mut io::sink()).map_err(|e| e.to_string())?;
    }
    Ok(Floor {
        elapsed: started.elapsed(),
        cpu: cpu_since(cpu_before),
        vhd_bytes,
    })
}

fn best_of(runs: usize, mut pass: impl FnMut() -> Result<Floor, String>) -> Result<Floor, String> {
    let mut best: Option<Floor> = None;
    for _ in 0..runs {
        let floor = pass()?;
        if best.as_ref().is_none_or(|b| floor.elapsed < b.elapsed) {
            best = Some(floor);
        }
    }
    best.ok_or_else(|| "no floor run".to_owned())
}

fn blob_service(account: &str, endpoint: url::Url, key: &str) -> Result<BlobService, String> {
    let access = StorageAccess {
        account_name: account.to_owned(),
        blob_endpoint: endpoint,
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(Secret::new(key.to_owned())),
    };
    BlobService::new(&access, BlobServiceOptions::default()).map_err(|e| e.to_string())
}

struct Measured {
    elapsed: Duration,
    cpu: Option<Duration>,
    report: UploadReport,
    peak_rss_kib: Option<u64>,
    disk_writes: Option<u64>,
}

async fn measure_upload(
    image: &Path,
    blobs: &BlobService,
    blob: &str,
    options: &UploadOptions,
) -> Result<Measured, String> {
    // Reset the peak-RSS counter so VmHWM covers this upload only.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let writes_before = proc_io_write_bytes();
    let cpu_before = process_cpu();
    let started = Instant::now();
    let report = upload_stemcell_vhd(image, blobs, "stemcell", blob, &HashMap::new(), options)
        .await
        .map_err(|e| e.to_string())?;
    let elapsed = started.elapsed();
    let cpu = cpu_since(cpu_before);
    let disk_writes = match (writes_before, proc_io_write_bytes()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    Ok(Measured {
        elapsed,
        cpu,
        report,
        peak_rss_kib: proc_status_kib("VmHWM:"),
        disk_writes,
    })
}

fn proc_status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Bytes this process caused to be written to storage (`write_bytes` in /proc/self/io).
fn proc_io_write_bytes() -> Option<u64> {
    let io = std::fs::read_to_string("/proc/self/io").ok()?;
    io.lines()
        .find_map(|line| line.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// User + system CPU time of this process, all threads (`/proc/self/stat`, in USER_HZ ticks,
/// which Linux fixes at 100 per second).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

fn cpu_since(before: Option<Duration>) -> Option<Duration> {
    Some(process_cpu()?.saturating_sub(before?))
}
