//! Heavy stemcell upload: the image tarball streamed into a page blob.
//!
//! A pipeline bound by inflate speed. A reader thread reads the file once and hashes the
//! compressed bytes (SHA-256) beside a blocking thread that inflates them, walks the tar to
//! `root.vhd` and cuts the VHD into Put Page ranges of at most 4 MiB that start and end with
//! non-zero pages (bridging the zero gaps that are cheaper to send than another call, see
//! [`UploadOptions::max_zero_gap_bytes`]); a bounded channel hands them to this async side,
//! which keeps up to `parallelism` Put Page calls in flight. On throttling the writer pauses
//! every call and halves the tries it lets through, growing back by one per window of
//! successes (AIMD). Nothing is extracted to disk; memory stays bounded by the channels, the
//! in-flight limit and a byte budget.

mod image;

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::sync::mpsc;

use crate::azure::compute::UPLOAD_STARTED_METADATA;
use crate::azure::storage::blob::{BlobService, MAX_PUT_PAGE_BYTES, PAGE_SIZE, PageWriter};
use crate::error::{CpiError, CpiResult};
use image::{ImageError, ImageEvent, ImageSummary, PageRun, ScanState, ZeroGaps};

/// The Ruby CPI's `parallel_upload_thread_num` default.
pub const DEFAULT_UPLOAD_PARALLELISM: usize = 16;
/// Upper bound on page data in flight (Put Page bodies not yet answered): six 4 MiB calls,
/// 0.4 s of a page blob's 60 MiB/s target: enough to keep the blob busy, while more would
/// only raise the process's memory.
const IN_FLIGHT_BUDGET_BYTES: u64 = 24 * 1024 * 1024;
/// Batches (one per 1 MiB scan buffer) queued between the reader thread and the uploader.
const CHANNEL_BATCHES: usize = 4;
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// How an upload runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadOptions {
    /// Put Page calls in flight (`parallel_upload_thread_num`).
    pub parallelism: usize,
    /// Zero gaps of at most this many bytes between non-zero pages are uploaded as data, so
    /// one Put Page covers both sides; 0 writes non-zero pages only. `None` (the default):
    /// gaps up to a 4 KiB block always, longer ones while Azure's per-blob request rate
    /// (500/s) rather than its bandwidth (60 MiB/s) would bound the upload.
    pub max_zero_gap_bytes: Option<u64>,
    /// Throttled Put Page calls retry until then (the CPI method's deadline).
    pub deadline: Option<Instant>,
}

impl Default for UploadOptions {
    fn default() -> Self {
        Self {
            parallelism: DEFAULT_UPLOAD_PARALLELISM,
            max_zero_gap_bytes: None,
            deadline: None,
        }
    }
}

/// Seconds since the Unix epoch, for the upload mark (0 for a clock before 1970).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// SHA-256 (lowercase hex) of the image file, in a hash-only pass: for deciding whether an
/// existing gallery version already holds this image before uploading anything. Cheap next
/// to an upload: it reads the compressed file and inflates nothing.
pub async fn image_sha256(image_path: &Path) -> CpiResult<String> {
    let path = image_path.to_owned();
    tokio::task::spawn_blocking(move || image::file_sha256(&path))
        .await
        .map_err(|e| CpiError::cloud(format!("hashing the stemcell image failed: {e}")))?
        .map_err(|e| CpiError::cloud(e.to_string()))
}

/// What an upload did, for the caller's logs and the gallery metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadReport {
    /// SHA-256 of the image file as given (compressed), lowercase hex: `image_sha256`.
    pub sha256_hex: String,
    /// Size of `root.vhd`, which is the page blob's size.
    pub vhd_size: u64,
    /// Bytes written with Put Page: non-zero pages plus any bridged zero gaps.
    pub bytes_uploaded: u64,
    /// Number of Put Page calls (each at most 4 MiB).
    pub ranges: u64,
    pub duration: Duration,
}

/// Uploads `root.vhd` from the stemcell image at `image_path` as the page blob
/// `container/blob_name` with `metadata`, writing its non-zero pages (and the zero gaps the
/// options bridge).
///
/// The container is created when missing. On any failure after the blob was created, the
/// partial blob is deleted and a CloudError names the cause.
pub async fn upload_stemcell_vhd(
    image_path: &Path,
    service: &BlobService,
    container: &str,
    blob_name: &str,
    metadata: &HashMap<String, String>,
    options: &UploadOptions,
) -> CpiResult<UploadReport> {
    let failed = |cause: String| {
        CpiError::cloud(format!(
            "Failed to upload stemcell image '{}' to blob '{container}/{blob_name}' in storage account '{}': {cause}",
            image_path.display(),
            service.account_name()
        ))
    };
    let target = BlobTarget {
        service: service.clone(),
        container: Arc::from(container),
        blob: Arc::from(blob_name),
    };
    let open = |vhd_size: u64| async move {
        let writer = service
            .page_writer(container, blob_name)
            .map_err(|e| e.message().to_owned())?;
        // Marked until the final metadata write below, so a process killed meanwhile leaves a
        // blob that a later call can tell from a finished one (and from a running upload).
        let mut marked = metadata.clone();
        marked.insert(UPLOAD_STARTED_METADATA.to_owned(), unix_now().to_string());
        async {
            service.ensure_container(container).await?;
            service
                .create_page_blob(container, blob_name, vhd_size, &marked)
                .await
        }
        .await
        .map_err(|e| e.message().to_owned())?;
        tracing::info!(
            blob = %format!("{container}/{blob_name}"),
            vhd_mib = vhd_size / (1024 * 1024),
            parallelism = options.parallelism.max(1),
            "uploading the non-zero pages of the stemcell VHD"
        );
        Ok(writer)
    };
    let streamed = match stream_stemcell_vhd(image_path, options, open).await {
        Ok(streamed) => streamed,
        Err(e) => {
            if e.target_opened {
                target.delete_partial().await;
            }
            return Err(failed(e.cause));
        }
    };
    // The final metadata, without the upload mark: the blob is complete from here on.
    if let Err(e) = service.set_metadata(container, blob_name, metadata).await {
        target.delete_partial().await;
        return Err(failed(e.message().to_owned()));
    }
    tracing::info!(
        blob = %format!("{container}/{blob_name}"),
        uploaded_mib = streamed.bytes_uploaded / (1024 * 1024),
        put_pages = streamed.ranges,
        seconds = streamed.duration.as_secs_f64(),
        "stemcell VHD uploaded"
    );
    Ok(streamed)
}

/// Why [`stream_stemcell_vhd`] failed, and whether its target was opened by then (so the
/// caller knows whether there is a partial target to remove).
#[derive(Debug)]
pub(crate) struct StreamFailure {
    pub cause: String,
    pub target_opened: bool,
}

/// The pipeline of every stemcell upload: finds `root.vhd` in the image, calls `open` with its
/// size (the target is created there: a page blob, or a managed disk for upload) for the
/// [`PageWriter`] of the target, and writes the VHD's non-zero pages (and the zero gaps the
/// options bridge) through it with the options' parallelism and deadline.
pub(crate) async fn stream_stemcell_vhd<F, Fut>(
    image_path: &Path,
    options: &UploadOptions,
    open: F,
) -> Result<UploadReport, StreamFailure>
where
    F: FnOnce(u64) -> Fut,
    Fut: std::future::Future<Output = Result<PageWriter, String>>,
{
    let started = Instant::now();
    let parallelism = options.parallelism.max(1);
    // Whole pages, and never more than one call can carry.
    let gaps = match options.max_zero_gap_bytes {
        Some(gap) => ZeroGaps::Fixed((gap / PAGE_SIZE * PAGE_SIZE).min(MAX_PUT_PAGE_BYTES)),
        None => ZeroGaps::Balanced,
    };
    let before_open = |cause: String| StreamFailure {
        cause,
        target_opened: false,
    };
    // Fail fast, before any Azure call, on the commonest mistakes.
    let unusable = match std::fs::metadata(image_path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Some(ImageError::Missing(image_path.to_owned()))
        }
        Err(source) => Some(ImageError::Unreadable {
            path: image_path.to_owned(),
            source,
        }),
        Ok(meta) if meta.is_dir() => Some(ImageError::Unreadable {
            path: image_path.to_owned(),
            source: std::io::Error::other("it is a directory"),
        }),
        Ok(_) => None,
    };
    if let Some(e) = unusable {
        return Err(before_open(e.to_string()));
    }

    let (events_tx, mut events) = mpsc::channel(CHANNEL_BATCHES);
    let state = Arc::new(ScanState::default());
    let reader = {
        let path = image_path.to_owned();
        let state = state.clone();
        tokio::task::spawn_blocking(move || image::stream_image(&path, gaps, &events_tx, &state))
    };

    // The reader announces root.vhd's size before any data; without it, nothing was created.
    let vhd_size = match events.recv().await {
        Some(ImageEvent::VhdFound { size }) => size,
        _ => {
            drop(events);
            let cause = match finish_reader(reader).await {
                Err(e) => e,
                Ok(_) => "the image reader ended without reporting root.vhd".to_owned(),
            };
            return Err(before_open(cause));
        }
    };

    let mut writer = match open(vhd_size).await {
        Ok(writer) => writer,
        Err(cause) => {
            state.cancelled.store(true, Ordering::Relaxed);
            drop(events);
            let _ = reader.await;
            return Err(before_open(cause));
        }
    };
    writer.set_deadline(options.deadline);
    writer.set_max_tries_in_flight(parallelism);
    tracing::debug!(vhd_size, parallelism, zero_gaps = ?gaps, "streaming the stemcell VHD");

    let pumped = pump(&mut events, &writer, vhd_size, parallelism, &state, started).await;
    state.cancelled.store(true, Ordering::Relaxed);
    drop(events);
    let read = finish_reader(reader).await;

    match (pumped, read) {
        (Ok(written), Ok(summary)) => Ok(UploadReport {
            sha256_hex: summary.sha256_hex,
            vhd_size: summary.vhd_size,
            bytes_uploaded: written.bytes,
            ranges: written.calls,
            duration: started.elapsed(),
        }),
        // An upload error makes the reader stop with `Aborted`: report the upload's cause.
        (Err(cause), _) | (Ok(_), Err(cause)) => Err(StreamFailure {
            cause,
            target_opened: true,
        }),
    }
}

#[derive(Clone)]
struct BlobTarget {
    service: BlobService,
    container: Arc<str>,
    blob: Arc<str>,
}

impl BlobTarget {
    async fn delete_partial(&self) {
        match self.service.delete_blob(&self.container, &self.blob).await {
            Ok(_) => tracing::info!(blob = %self.blob, "deleted the partially uploaded blob"),
            Err(e) => tracing::warn!(
                blob = %self.blob,
                error = %e.message(),
                "could not delete the partially uploaded blob"
            ),
        }
    }
}

struct Written {
    bytes: u64,
    calls: u64,
}

/// Moves runs from the reader to Put Page calls, at most `parallelism` at once (and, after
/// throttling, the writer's lower limit) and within the byte budget. Returns at the first
/// failed call (after the writer's retries).
async fn pump(
    events: &mut mpsc::Receiver<ImageEvent>,
    writer: &PageWriter,
    vhd_size: u64,
    parallelism: usize,
    state: &ScanState,
    started: Instant,
) -> Result<Written, String> {
    // Polled by this task rather than spawned: no task allocation and no cross-thread wakeup
    // per call, which matters at tens of thousands of small calls.
    let mut in_flight = FuturesUnordered::new();
    let mut in_flight_bytes = 0u64;
    let mut written = Written { bytes: 0, calls: 0 };
    let mut progress =
        tokio::time::interval_at(tokio::time::Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    let mut reader_done = false;
    let mut pending: VecDeque<PageRun> = VecDeque::new();

    while !reader_done || !pending.is_empty() || !in_flight.is_empty() {
        // A run is at most 4 MiB, within the budget on its own: something always starts
        // when nothing is in flight.
        // Calls beyond the writer's throttled limit would only wait at its gate, holding data.
        while in_flight.len() < parallelism.min(writer.tries_allowed())
            && let Some(run) = pending.front()
            && in_flight_bytes + run.data.len() as u64 <= IN_FLIGHT_BUDGET_BYTES
            && let Some(run) = pending.pop_front()
        {
            in_flight_bytes += run.data.len() as u64;
            in_flight.push(put_run(writer, run));
        }
        tokio::select! {
            Some(done) = in_flight.next(), if !in_flight.is_empty() => {
                let bytes = done?;
                in_flight_bytes -= bytes;
                written.bytes += bytes;
                written.calls += 1;
            }
            event = events.recv(), if !reader_done && pending.is_empty() => {
                match event {
                    Some(ImageEvent::Runs(runs)) => pending.extend(runs),
                    Some(ImageEvent::VhdFound { .. }) => {
                        return Err("the image reader reported root.vhd twice".to_owned());
                    }
                    None => reader_done = true,
                }
            }
            _ = progress.tick() => {
                log_progress(state, vhd_size, written.bytes, started);
            }
        }
    }
    Ok(written)
}

async fn put_run(writer: &PageWriter, run: PageRun) -> Result<u64, String> {
    let len = run.data.len() as u64;
    writer
        .put_pages(run.offset, run.data)
        .await
        .map(|()| len)
        .map_err(|e| e.message().to_owned())
}

fn log_progress(state: &ScanState, vhd_size: u64, uploaded: u64, started: Instant) {
    const MIB: f64 = 1024.0 * 1024.0;
    let scanned = state.scanned_bytes.load(Ordering::Relaxed);
    let seconds = started.elapsed().as_secs_f64().max(0.001);
    let rate = scanned as f64 / seconds;
    let eta = if rate > 0.0 {
        (vhd_size.saturating_sub(scanned)) as f64 / rate
    } else {
        f64::INFINITY
    };
    tracing::info!(
        percent = format!("{:.1}", 100.0 * scanned as f64 / vhd_size.max(1) as f64),
        mib_per_s = format!("{:.1}", rate / MIB),
        eta_s = format!("{eta:.0}"),
        uploaded_mib = format!("{:.1}", uploaded as f64 / MIB),
        "stemcell upload progress"
    );
}

async fn finish_reader(
    reader: tokio::task::JoinHandle<Result<ImageSummary, ImageError>>,
) -> Result<ImageSummary, String> {
    match reader.await {
        Ok(Ok(summary)) => Ok(summary),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(format!("the image reader failed: {e}")),
    }
}
