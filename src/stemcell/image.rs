//! The blocking half of the stemcell pipeline: one sequential read of the image tarball, hashed
//! (compressed bytes) on the reading thread while this one inflates it, walks the tar to
//! `root.vhd` and cuts the VHD into runs of non-zero pages. Nothing is written to local disk.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bytes::Bytes;
use flate2::bufread::MultiGzDecoder;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::azure::storage::blob::{MAX_PUT_PAGE_BYTES, PAGE_SIZE};

/// The entry the Director's stemcell image carries; the only one we read.
const ROOT_VHD: &str = "root.vhd";
/// Read granularity for the compressed file and for the inflated VHD.
const FILE_BUFFER_BYTES: usize = 256 * 1024;
const SCAN_BUFFER_BYTES: usize = 1024 * 1024;
/// File chunks read ahead of inflate.
const FEED_CHUNKS: usize = 4;

/// Which zero gaps between non-zero pages are sent as data, so one Put Page covers both sides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ZeroGaps {
    /// Gaps of at most this many bytes (0: non-zero pages only).
    Fixed(u64),
    /// Gaps of up to a file-system block always; longer ones while the plan so far would be
    /// bound by Azure's request rate rather than its bandwidth (see [`RunBuilder::allowed_gap`]).
    Balanced,
}

/// A file-system block (ext4's): a zero gap this short costs less to send than the call it
/// saves at any request rate.
pub(crate) const BLOCK_BYTES: u64 = 4096;
/// Bytes one Put Page call is worth at Azure's per-blob targets, 60 MiB/s over 500 requests/s
/// ("Scalability and performance targets for Blob storage"): sending a gap shorter than this
/// instead of making another call is cheaper when calls bound the upload.
pub(crate) const BYTES_PER_CALL_AT_TARGETS: u64 = 60 * 1024 * 1024 / 500;

/// Contiguous non-zero pages of the VHD: one Put Page call.
#[derive(Debug)]
pub(crate) struct PageRun {
    pub offset: u64,
    pub data: Bytes,
}

#[derive(Debug)]
pub(crate) enum ImageEvent {
    /// `root.vhd` was found; its size is the page blob's size. Sent before any run.
    VhdFound { size: u64 },
    /// Runs completed while scanning one buffer, in ascending order (one wakeup per batch).
    Runs(Vec<PageRun>),
}

#[derive(Debug)]
pub(crate) struct ImageSummary {
    pub sha256_hex: String,
    pub vhd_size: u64,
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ImageError {
    #[error("stemcell image '{}' does not exist", .0.display())]
    Missing(PathBuf),
    #[error("cannot read stemcell image '{}': {source}", path.display())]
    Unreadable { path: PathBuf, source: io::Error },
    #[error(
        "stemcell image '{}' is not a complete gzip-compressed tar archive (truncated or corrupt): {source}",
        path.display()
    )]
    Corrupt { path: PathBuf, source: io::Error },
    #[error("stemcell image '{}' does not contain {ROOT_VHD}", .0.display())]
    NoRootVhd(PathBuf),
    #[error("{ROOT_VHD} in '{}' is {size} bytes, not a multiple of {PAGE_SIZE}: not a fixed VHD", path.display())]
    MisalignedVhd { path: PathBuf, size: u64 },
    #[error("{ROOT_VHD} in '{}' is empty", .0.display())]
    EmptyVhd(PathBuf),
    #[error("{ROOT_VHD} in '{}' is not a fixed VHD: {reason}", path.display())]
    NotFixedVhd { path: PathBuf, reason: String },
    #[error("reading the stemcell image stopped because the upload was aborted")]
    Aborted,
}

/// Counts the bytes the uploader cannot see: how far the scan got, for progress logs.
#[derive(Debug, Default)]
pub(crate) struct ScanState {
    pub(crate) scanned_bytes: AtomicU64,
    pub(crate) cancelled: AtomicBool,
}

/// Feeds every byte read from the file into SHA-256: the hash covers the whole compressed
/// file, the value the Ruby CPI stores as `image_sha256`, without a second read.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// Chunks of the image file read ahead on their own thread, which hashes each one after
/// handing it on: SHA-256 runs beside inflate rather than in front of it.
struct FileFeed {
    chunks: std::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
    reader: Option<std::thread::JoinHandle<Option<String>>>,
}

impl FileFeed {
    fn start(file: File) -> io::Result<Self> {
        let (sender, chunks) = std::sync::mpsc::sync_channel(FEED_CHUNKS);
        let reader = std::thread::Builder::new()
            .name("stemcell-read".to_owned())
            .spawn(move || read_and_hash(file, &sender))?;
        Ok(Self {
            chunks,
            current: Bytes::new(),
            reader: Some(reader),
        })
    }

    /// Reads what is left (so the hash covers the whole file) and returns the hex SHA-256.
    fn finish(mut self) -> io::Result<String> {
        while !self.fill_buf()?.is_empty() {
            let n = self.current.len();
            self.consume(n);
        }
        self.reader
            .take()
            .and_then(|reader| reader.join().ok().flatten())
            .ok_or_else(|| io::Error::other("the image file reader stopped early"))
    }
}

/// The feed's thread: sends each chunk, then hashes it while inflate works on it. Stops
/// quietly when the consumer is gone (the upload was aborted).
fn read_and_hash(
    mut file: File,
    sender: &std::sync::mpsc::SyncSender<io::Result<Bytes>>,
) -> Option<String> {
    let mut hasher = Sha256::new();
    loop {
        // read_to_end through `take` fills the chunk without zeroing it first.
        let mut chunk = Vec::with_capacity(FILE_BUFFER_BYTES);
        match (&mut file)
            .take(FILE_BUFFER_BYTES as u64)
            .read_to_end(&mut chunk)
        {
            Ok(0) => return Some(hex(&hasher.finalize())),
            Ok(_) => {}
            Err(e) => {
                let _ = sender.send(Err(e));
                return None;
            }
        }
        let chunk = Bytes::from(chunk);
        sender.send(Ok(chunk.clone())).ok()?;
        hasher.update(&chunk);
    }
}

impl Read for FileFeed {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for FileFeed {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.current.is_empty() {
            // A closed channel is the end of the file (or the reader's error was delivered).
            if let Ok(chunk) = self.chunks.recv() {
                self.current = chunk?;
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        bytes::Buf::advance(&mut self.current, amount);
    }
}

/// Opens the image file; a missing file and an unreadable one are different errors.
fn open_image(path: &Path) -> Result<File, ImageError> {
    File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => ImageError::Missing(path.to_owned()),
        _ => ImageError::Unreadable {
            path: path.to_owned(),
            source,
        },
    })
}

/// Reads `path` once and sends `VhdFound` then the non-zero runs of `root.vhd` into `events`.
pub(crate) fn stream_image(
    path: &Path,
    gaps: ZeroGaps,
    events: &mpsc::Sender<ImageEvent>,
    state: &Arc<ScanState>,
) -> Result<ImageSummary, ImageError> {
    let file = open_image(path)?;
    let unreadable = |source| ImageError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let feed = FileFeed::start(file).map_err(unreadable)?;
    let gunzip = MultiGzDecoder::new(feed);
    let mut archive = tar::Archive::new(gunzip);
    let corrupt = |source| ImageError::Corrupt {
        path: path.to_owned(),
        source,
    };

    let mut vhd_size = None;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        if vhd_size.is_some() || !is_root_vhd(&entry) {
            // Later entries are read through (tar skips their data) so the hash covers them.
            continue;
        }
        let size = entry.size();
        if size == 0 {
            return Err(ImageError::EmptyVhd(path.to_owned()));
        }
        if size % PAGE_SIZE != 0 {
            return Err(ImageError::MisalignedVhd {
                path: path.to_owned(),
                size,
            });
        }
        send(events, ImageEvent::VhdFound { size })?;
        let footer = scan_vhd(&mut entry, size, gaps, events, state).map_err(|e| match e {
            ScanError::Io(source) => corrupt(source),
            ScanError::Aborted => ImageError::Aborted,
        })?;
        // Azure only boots fixed VHDs; say so now rather than when the image is created.
        check_fixed_vhd_footer(&footer, size).map_err(|reason| ImageError::NotFixedVhd {
            path: path.to_owned(),
            reason,
        })?;
        vhd_size = Some(size);
    }
    let vhd_size = vhd_size.ok_or_else(|| ImageError::NoRootVhd(path.to_owned()))?;

    // Read to the end: the gzip trailer (CRC check) and any padding are part of the hash.
    let mut gunzip = archive.into_inner();
    io::copy(&mut gunzip, &mut io::sink()).map_err(corrupt)?;
    let sha256_hex = gunzip.into_inner().finish().map_err(unreadable)?;
    Ok(ImageSummary {
        sha256_hex,
        vhd_size,
    })
}

/// SHA-256 of a whole file, read once in large chunks.
pub(crate) fn file_sha256(path: &Path) -> Result<String, ImageError> {
    let file = open_image(path)?;
    let mut hashing = HashingReader {
        inner: BufReader::with_capacity(FILE_BUFFER_BYTES, file),
        hasher: Sha256::new(),
    };
    io::copy(&mut hashing, &mut io::sink()).map_err(|source| ImageError::Unreadable {
        path: path.to_owned(),
        source,
    })?;
    Ok(hex(&hashing.hasher.finalize()))
}

fn is_root_vhd<R: Read>(entry: &tar::Entry<R>) -> bool {
    let is_file = matches!(
        entry.header().entry_type(),
        tar::EntryType::Regular | tar::EntryType::Continuous | tar::EntryType::GNUSparse
    );
    // Accept `root.vhd` and `./root.vhd`, as `tar -zxf` would place both at the top.
    is_file
        && entry.path().is_ok_and(|p| {
            let mut parts = p.components().filter(|c| c.as_os_str() != ".");
            parts.next().is_some_and(|c| c.as_os_str() == ROOT_VHD) && parts.next().is_none()
        })
}

enum ScanError {
    Io(io::Error),
    Aborted,
}

fn send(events: &mpsc::Sender<ImageEvent>, event: ImageEvent) -> Result<(), ImageError> {
    events.blocking_send(event).map_err(|_| ImageError::Aborted)
}

/// The footer of a fixed VHD: cookie `conectix`, disk type 2, current size = data size.
fn check_fixed_vhd_footer(footer: &[u8; FOOTER_BYTES], vhd_size: u64) -> Result<(), String> {
    if &footer[0..8] != b"conectix" {
        return Err("its last 512 bytes are not a VHD footer (no 'conectix' cookie)".to_owned());
    }
    let disk_type = u32::from_be_bytes([footer[60], footer[61], footer[62], footer[63]]);
    if disk_type != 2 {
        return Err(format!("the footer says disk type {disk_type} (2 = fixed)"));
    }
    let mut size_field = [0u8; 8];
    size_field.copy_from_slice(&footer[48..56]);
    let current_size = u64::from_be_bytes(size_field);
    if current_size != vhd_size - FOOTER_BYTES as u64 {
        return Err(format!(
            "the footer's disk size {current_size} does not match the {} bytes before it",
            vhd_size - FOOTER_BYTES as u64
        ));
    }
    Ok(())
}

const FOOTER_BYTES: usize = PAGE_SIZE as usize;

/// Splits the VHD into runs of non-zero 512-byte pages, each at most one Put Page long. Zero
/// gaps that `gaps` allows inside a run are sent as data instead of splitting it.
/// Returns the last page (the VHD footer).
fn scan_vhd(
    vhd: &mut impl Read,
    size: u64,
    gaps: ZeroGaps,
    events: &mpsc::Sender<ImageEvent>,
    state: &ScanState,
) -> Result<[u8; FOOTER_BYTES], ScanError> {
    let mut buffer = vec![0u8; SCAN_BUFFER_BYTES];
    let mut last_page = [0u8; FOOTER_BYTES];
    let mut runs = RunBuilder::new(gaps);
    let mut position = 0u64;
    while position < size {
        if state.cancelled.load(Ordering::Relaxed) {
            return Err(ScanError::Aborted);
        }
        let want = usize::try_from(size - position)
            .unwrap_or(usize::MAX)
            .min(buffer.len());
        vhd.read_exact(&mut buffer[..want]).map_err(ScanError::Io)?;
        let mut span_start: Option<usize> = None;
        for (index, page) in buffer[..want].chunks(PAGE_SIZE as usize).enumerate() {
            let at = index * PAGE_SIZE as usize;
            let zero = is_zero(page);
            match (zero, span_start) {
                (false, None) => span_start = Some(at),
                (true, Some(start)) => {
                    runs.push_span(position + start as u64, &buffer[start..at]);
                    span_start = None;
                }
                _ => {}
            }
            if zero && runs.gap_too_long(position + (at + page.len()) as u64) {
                runs.flush();
            }
        }
        if let Some(start) = span_start {
            // The span may continue in the next buffer: keep the run open.
            runs.push_span(position + start as u64, &buffer[start..want]);
        }
        runs.send_ready(events)?;
        if want >= FOOTER_BYTES {
            last_page.copy_from_slice(&buffer[want - FOOTER_BYTES..want]);
        }
        position += want as u64;
        state.scanned_bytes.store(position, Ordering::Relaxed);
    }
    runs.flush();
    runs.send_ready(events)?;
    Ok(last_page)
}

fn is_zero(page: &[u8]) -> bool {
    // OR-folding fixed chunks vectorizes; `all` over them still stops at the first data.
    page.chunks(64)
        .all(|chunk| chunk.iter().fold(0u8, |acc, &b| acc | b) == 0)
}

/// Accumulates contiguous data and emits it in pieces of at most 4 MiB. Capacity never
/// exceeds 4 MiB, so memory is bounded by the number of runs alive; `ready` holds at most one
/// scan buffer's worth plus one run carried over from earlier buffers.
struct RunBuilder {
    offset: u64,
    data: Vec<u8>,
    gaps: ZeroGaps,
    /// Calls and bytes of the runs closed so far (the plan's running totals).
    calls: u64,
    bytes: u64,
    ready: Vec<PageRun>,
}

impl RunBuilder {
    fn new(gaps: ZeroGaps) -> Self {
        Self {
            offset: 0,
            data: Vec::new(),
            gaps,
            calls: 0,
            bytes: 0,
            ready: Vec::new(),
        }
    }

    fn end(&self) -> u64 {
        self.offset + self.data.len() as u64
    }

    /// The longest zero gap the open run may bridge.
    ///
    /// Balanced: on Azure the plan takes max(calls / 500/s, bytes / 60 MiB/s), i.e.
    /// max(calls × k, bytes) / 60 MiB/s with k = [`BYTES_PER_CALL_AT_TARGETS`]. Bridging a gap
    /// g instead of starting another call gives max(C k, B + g) instead of max((C + 1) k, B),
    /// no worse exactly when B + g ≤ (C + 1) k: gaps are bridged while calls, not bytes,
    /// would bound the plan so far, which keeps the two bounds level as the image streams.
    fn allowed_gap(&self) -> u64 {
        let room = MAX_PUT_PAGE_BYTES.saturating_sub(self.data.len() as u64);
        let gap = match self.gaps {
            ZeroGaps::Fixed(gap) => gap,
            ZeroGaps::Balanced => {
                let calls = self.calls + 1; // the open run
                let bytes = self.bytes + self.data.len() as u64;
                let worth = (calls + 1)
                    .saturating_mul(BYTES_PER_CALL_AT_TARGETS)
                    .saturating_sub(bytes);
                BLOCK_BYTES.max(worth)
            }
        };
        gap.min(room)
    }

    /// Whether the zeros up to `through` are too long to bridge: then the run must go.
    fn gap_too_long(&self, through: u64) -> bool {
        !self.data.is_empty() && through - self.end() > self.allowed_gap()
    }

    /// Adds the non-zero bytes at `offset`, bridging the zero gap since the run's end.
    fn push_span(&mut self, offset: u64, bytes: &[u8]) {
        if !self.data.is_empty() && offset != self.end() {
            let gap = offset - self.end();
            if gap > self.allowed_gap() {
                self.flush();
            } else {
                let zeros = vec![0u8; gap as usize];
                self.extend(self.end(), &zeros);
            }
        }
        self.extend(offset, bytes);
    }

    fn extend(&mut self, mut offset: u64, mut bytes: &[u8]) {
        const MAX: usize = MAX_PUT_PAGE_BYTES as usize;
        while !bytes.is_empty() {
            if self.data.is_empty() {
                self.offset = offset;
            }
            let take = (MAX - self.data.len()).min(bytes.len());
            let needed = self.data.len() + take;
            if needed > self.data.capacity() {
                let target = needed.max(self.data.capacity() * 2).min(MAX);
                self.data.reserve_exact(target - self.data.len());
            }
            self.data.extend_from_slice(&bytes[..take]);
            offset += take as u64;
            bytes = &bytes[take..];
            if self.data.len() == MAX {
                self.flush();
            }
        }
    }

    /// Closes the current run (if any) and queues it for sending.
    fn flush(&mut self) {
        if self.data.is_empty() {
            return;
        }
        // Growth by doubling can leave up to half the allocation unused, and the in-flight
        // budget counts only the data; shrinking is in place.
        self.data.shrink_to_fit();
        self.calls += 1;
        self.bytes += self.data.len() as u64;
        self.ready.push(PageRun {
            offset: self.offset,
            data: Bytes::from(std::mem::take(&mut self.data)),
        });
    }

    fn send_ready(&mut self, events: &mpsc::Sender<ImageEvent>) -> Result<(), ScanError> {
        if self.ready.is_empty() {
            return Ok(());
        }
        events
            .blocking_send(ImageEvent::Runs(std::mem::take(&mut self.ready)))
            .map_err(|_| ScanError::Aborted)
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs_of(vhd: &[u8]) -> Vec<(u64, usize)> {
        runs_bridging(vhd, 0)
    }

    fn runs_bridging(vhd: &[u8], max_zero_gap: u64) -> Vec<(u64, usize)> {
        runs_planned(vhd, ZeroGaps::Fixed(max_zero_gap))
    }

    fn runs_planned(vhd: &[u8], gaps: ZeroGaps) -> Vec<(u64, usize)> {
        let (tx, mut rx) = mpsc::channel(1024);
        let state = ScanState::default();
        let mut reader = vhd;
        assert!(scan_vhd(&mut reader, vhd.len() as u64, gaps, &tx, &state).is_ok());
        drop(tx);
        let mut out = Vec::new();
        while let Ok(event) = rx.try_recv() {
            if let ImageEvent::Runs(runs) = event {
                out.extend(runs.iter().map(|run| (run.offset, run.data.len())));
            }
        }
        out
    }

    #[test]
    fn zero_pages_split_runs_and_are_never_sent() {
        let mut vhd = vec![0u8; 8 * 512];
        vhd[0] = 1; // page 0
        vhd[512 + 511] = 1; // page 1
        vhd[5 * 512 + 7] = 1; // page 5
        assert_eq!(runs_of(&vhd), vec![(0, 1024), (5 * 512, 512)]);
    }

    #[test]
    fn long_runs_are_cut_at_four_mib_and_cross_buffer_boundaries() {
        let len = 9 * 1024 * 1024 + 1024;
        let vhd = vec![7u8; len];
        let runs = runs_of(&vhd);
        assert_eq!(
            runs,
            vec![
                (0, 4 << 20),
                (4 << 20, 4 << 20),
                (8 << 20, (1 << 20) + 1024)
            ]
        );
    }

    #[test]
    fn short_zero_gaps_are_bridged_when_allowed() {
        let mut vhd = vec![0u8; 64 * 512];
        vhd[0] = 1; // page 0
        vhd[3 * 512] = 1; // page 3: a two-page gap
        vhd[20 * 512] = 1; // page 20: a 16-page gap
        assert_eq!(
            runs_bridging(&vhd, 2 * 512),
            vec![(0, 4 * 512), (20 * 512, 512)]
        );
        assert_eq!(runs_bridging(&vhd, 16 * 512), vec![(0, 21 * 512)]);
        assert_eq!(
            runs_bridging(&vhd, 0),
            vec![(0, 512), (3 * 512, 512), (20 * 512, 512)]
        );
    }

    #[test]
    fn gaps_that_cross_scan_buffers_are_measured_from_the_run_end() {
        let mut vhd = vec![0u8; 3 * SCAN_BUFFER_BYTES];
        vhd[SCAN_BUFFER_BYTES - 512] = 1; // last page of the first buffer
        vhd[SCAN_BUFFER_BYTES + 512] = 1; // second page of the second buffer
        let at = (SCAN_BUFFER_BYTES - 512) as u64;
        assert_eq!(runs_bridging(&vhd, 512), vec![(at, 3 * 512)]);
        assert_eq!(runs_bridging(&vhd, 0), vec![(at, 512), (at + 1024, 512)]);
    }

    #[test]
    fn bridged_runs_still_stop_at_four_mib() {
        let mut vhd = vec![9u8; 10 * 1024 * 1024];
        for page in vhd.chunks_mut(8 * 512).skip(1).step_by(2) {
            page[..512].fill(0); // a zero page every 8 KiB
        }
        let runs = runs_bridging(&vhd, 4096);
        assert!(runs.len() >= 3, "{} runs", runs.len());
        for (offset, len) in &runs {
            assert!(*len as u64 <= MAX_PUT_PAGE_BYTES);
            let run = &vhd[*offset as usize..*offset as usize + len];
            assert!(!is_zero(&run[..512]) && !is_zero(&run[len - 512..]));
        }
        // Every non-zero page is inside a run.
        for (index, page) in vhd.chunks(512).enumerate() {
            let at = (index * 512) as u64;
            let covered = runs.iter().any(|(o, l)| *o <= at && at < o + *l as u64);
            assert!(is_zero(page) || covered, "page {index} not uploaded");
        }
    }

    #[test]
    fn all_zero_disk_sends_nothing() {
        assert!(runs_of(&vec![0u8; 3 * 1024 * 1024]).is_empty());
        assert!(runs_planned(&vec![0u8; 3 * 1024 * 1024], ZeroGaps::Balanced).is_empty());
    }

    /// (calls, bytes, modeled time in units of one call at the targets).
    fn cost(runs: &[(u64, usize)]) -> (u64, u64, u64) {
        let calls = runs.len() as u64;
        let bytes: u64 = runs.iter().map(|(_, len)| *len as u64).sum();
        (calls, bytes, (calls * BYTES_PER_CALL_AT_TARGETS).max(bytes))
    }

    #[test]
    fn balanced_plan_bridges_blocks_always_and_longer_gaps_while_calls_bound() {
        // Scattered single pages 16 KiB apart: calls would bound, so 15.5 KiB gaps are
        // bridged until bytes catch up with calls.
        let mut scattered = vec![0u8; 16 * 1024 * 1024];
        for page in scattered.chunks_mut(16 * 1024) {
            page[0] = 1;
        }
        let runs = runs_planned(&scattered, ZeroGaps::Balanced);
        assert!(runs.len() < 1024 / 4, "{} calls", runs.len());
        // Dense 512 KiB extents 512 KiB apart: bytes bound, the gaps stay, but the one-block
        // hole inside each extent is bridged.
        let mut dense = vec![0u8; 64 * 1024 * 1024];
        for extent in dense.chunks_mut(1024 * 1024) {
            extent[..512 * 1024].fill(3);
            extent[4096..8192].fill(0);
        }
        let runs = runs_planned(&dense, ZeroGaps::Balanced);
        assert_eq!(runs.len(), 64, "{:?}", &runs[..4]);
        assert!(runs.iter().all(|(_, len)| *len == 512 * 1024));
        // On both, never worse than strict or 4 KiB-bridged, and no call is all zero.
        for vhd in [&scattered, &dense] {
            let balanced = runs_planned(vhd, ZeroGaps::Balanced);
            let best = [0, 4096, MAX_PUT_PAGE_BYTES]
                .map(|gap| cost(&runs_bridging(vhd, gap)).2)
                .into_iter()
                .min()
                .unwrap_or(0);
            assert!(
                cost(&balanced).2 as f64 <= 1.1 * best as f64,
                "{:?} vs {best}",
                cost(&balanced)
            );
            for (offset, len) in &balanced {
                let run = &vhd[*offset as usize..*offset as usize + len];
                assert!(!is_zero(&run[..512]) && !is_zero(&run[len - 512..]));
                assert!(*len as u64 <= MAX_PUT_PAGE_BYTES);
            }
        }
    }

    fn footer(disk_type: u32, current_size: u64) -> [u8; FOOTER_BYTES] {
        let mut f = [0u8; FOOTER_BYTES];
        f[0..8].copy_from_slice(b"conectix");
        f[48..56].copy_from_slice(&current_size.to_be_bytes());
        f[60..64].copy_from_slice(&disk_type.to_be_bytes());
        f
    }

    #[test]
    fn only_a_fixed_vhd_footer_matching_the_size_passes() {
        assert_eq!(check_fixed_vhd_footer(&footer(2, 1024), 1536), Ok(()));
        let dynamic = check_fixed_vhd_footer(&footer(3, 1024), 1536).unwrap_err();
        assert!(dynamic.contains("disk type 3"), "{dynamic}");
        let wrong_size = check_fixed_vhd_footer(&footer(2, 4096), 1536).unwrap_err();
        assert!(wrong_size.contains("4096"), "{wrong_size}");
        let raw = check_fixed_vhd_footer(&[0x5a; FOOTER_BYTES], 1536).unwrap_err();
        assert!(raw.contains("conectix"), "{raw}");
    }

    #[test]
    fn hex_is_lowercase_and_padded() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
    }
}
