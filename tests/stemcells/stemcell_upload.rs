//! The streaming stemcell upload against a real Azurite and against the local page-blob sink
//! (which counts Put Page sizes and injects 503s, resets and hard failures).

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

use azure_core::credentials::Secret;
use bosh_azure_cpi::CpiError;
use bosh_azure_cpi::azure::storage::blob::{
    BlobService, BlobServiceOptions, MAX_PUT_PAGE_BYTES, RetrySettings, StorageAccess,
};
use bosh_azure_cpi::stemcell::{UploadOptions, UploadReport, image_sha256, upload_stemcell_vhd};
use bosh_azure_sim::azurite::{Azurite, PageBlobSink, SinkFaults};
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, vhd_footer, write_stemcell_image,
    write_tarball,
};
use sha2::{Digest, Sha256};

const MIB: u64 = 1024 * 1024;
const CONTAINER: &str = "stemcell";

fn fast_retries(max_retries: u32) -> BlobServiceOptions {
    BlobServiceOptions {
        retry: RetrySettings {
            max_retries,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_total: Duration::from_secs(20),
        },
        ..Default::default()
    }
}

fn service(
    account: &str,
    endpoint: url::Url,
    key: &str,
    options: BlobServiceOptions,
) -> BlobService {
    let access = StorageAccess {
        account_name: account.to_owned(),
        blob_endpoint: endpoint,
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(Secret::new(key.to_owned())),
    };
    BlobService::new(&access, options).unwrap()
}

fn azurite_service(azurite: &Azurite) -> BlobService {
    service(
        azurite.account_name(),
        azurite.blob_endpoint(),
        azurite.account_key(),
        fast_retries(3),
    )
}

fn sink_service(sink: &PageBlobSink, options: BlobServiceOptions) -> BlobService {
    service(
        sink.account_name(),
        sink.blob_endpoint(),
        sink.account_key(),
        options,
    )
}

/// The Ruby CPI's blob metadata: the stemcell cloud_properties, values as strings.
/// Uploads `image` as `blob` (without metadata) to the page-blob sink, with `retries` retries.
async fn upload_to_sink(
    image: &Path,
    sink: &PageBlobSink,
    retries: u32,
    blob: &str,
    options: &UploadOptions,
) -> Result<UploadReport, CpiError> {
    let blobs = sink_service(sink, fast_retries(retries));
    upload_stemcell_vhd(image, &blobs, CONTAINER, blob, &HashMap::new(), options).await
}

fn stemcell_metadata() -> HashMap<String, String> {
    let props = stemcell_cloud_properties(Generation::Gen2);
    props
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let value = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (k.clone(), value)
        })
        .collect()
}

/// Non-zero pages only (the explicit `0` override), `parallelism` calls in flight.
fn parallel(parallelism: usize) -> UploadOptions {
    UploadOptions {
        parallelism,
        max_zero_gap_bytes: Some(0),
        ..Default::default()
    }
}

fn file_sha256(path: &Path) -> String {
    let data = std::fs::read(path).unwrap();
    Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn root_vhd(spec: &StemcellImageSpec) -> Vec<u8> {
    let mut vhd = Vec::new();
    spec.root_vhd().read_to_end(&mut vhd).unwrap();
    vhd
}

fn cloud_message(result: Result<impl std::fmt::Debug, CpiError>) -> String {
    match result {
        Err(CpiError::Cloud(message)) => message,
        other => panic!("expected a CloudError, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_blob_equals_root_vhd_with_only_nonzero_pages_and_exact_metadata() {
    let Some(azurite) = Azurite::start_for_test() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let spec = StemcellImageSpec::new(6 * MIB, 0.25);
    let generated = write_stemcell_image(&image, &spec).unwrap();
    let blobs = azurite_service(&azurite);
    let metadata = stemcell_metadata();

    let report = upload_stemcell_vhd(
        &image,
        &blobs,
        CONTAINER,
        "bosh-stemcell-a.vhd",
        &metadata,
        &parallel(16),
    )
    .await
    .unwrap();

    let vhd = root_vhd(&spec);
    assert_eq!(report.vhd_size, vhd.len() as u64);
    assert_eq!(report.sha256_hex, file_sha256(&image));
    assert_eq!(report.bytes_uploaded, generated.nonzero_page_bytes);
    assert!(report.bytes_uploaded < report.vhd_size / 2);

    let downloaded = blobs
        .download(CONTAINER, "bosh-stemcell-a.vhd")
        .await
        .unwrap();
    assert!(downloaded == vhd, "downloaded blob differs from root.vhd");

    let ranges = blobs
        .page_ranges(CONTAINER, "bosh-stemcell-a.vhd")
        .await
        .unwrap();
    let mut covered = 0;
    for range in &ranges {
        for page in vhd[range.start as usize..range.end as usize].chunks(512) {
            assert!(
                page.iter().any(|b| *b != 0),
                "all-zero page written in {range:?}"
            );
        }
        covered += range.end - range.start;
    }
    assert_eq!(
        covered, generated.nonzero_page_bytes,
        "every non-zero page is written"
    );

    let stored = blobs
        .get_metadata(CONTAINER, "bosh-stemcell-a.vhd")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, metadata);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_blob_equals_root_vhd_when_zero_gaps_are_bridged() {
    let Some(azurite) = Azurite::start_for_test() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let spec = StemcellImageSpec::new(6 * MIB, 0.25);
    let generated = write_stemcell_image(&image, &spec).unwrap();
    let blobs = azurite_service(&azurite);
    let options = |gap| UploadOptions {
        max_zero_gap_bytes: Some(gap),
        ..Default::default()
    };

    let strict = upload_stemcell_vhd(
        &image,
        &blobs,
        CONTAINER,
        "s.vhd",
        &HashMap::new(),
        &options(0),
    )
    .await
    .unwrap();
    let bridged = upload_stemcell_vhd(
        &image,
        &blobs,
        CONTAINER,
        "b.vhd",
        &HashMap::new(),
        &options(4096),
    )
    .await
    .unwrap();

    assert!(blobs.download(CONTAINER, "b.vhd").await.unwrap() == root_vhd(&spec));
    // The same-pass hash equals a separate hash-only pass.
    let sha = image_sha256(&image).await.unwrap();
    assert_eq!(sha, file_sha256(&image));
    assert_eq!(bridged.sha256_hex, sha);
    assert!(
        bridged.ranges * 4 < strict.ranges,
        "{bridged:?} vs {strict:?}"
    );
    assert!(bridged.bytes_uploaded > generated.nonzero_page_bytes);
    assert!(bridged.bytes_uploaded < generated.nonzero_page_bytes * 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_blob_service_records_metadata_and_deletes() {
    let Some(azurite) = Azurite::start_for_test() else {
        return;
    };
    let blobs = azurite_service(&azurite);
    blobs.ensure_container(CONTAINER).await.unwrap();
    blobs.ensure_container(CONTAINER).await.unwrap();
    let light = HashMap::from([(
        "image".to_owned(),
        r#"{"publisher":"Canonical","offer":"x","sku":"y","version":"1.0"}"#.to_owned(),
    )]);
    blobs
        .create_record_blob(CONTAINER, "bosh-light-stemcell-1.vhd", &light)
        .await
        .unwrap();
    let props = blobs
        .get_properties(CONTAINER, "bosh-light-stemcell-1.vhd")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(props.content_length, 1024);
    assert_eq!(props.metadata, light);

    let replaced = HashMap::from([("stemcell_references".to_owned(), "a,b".to_owned())]);
    blobs
        .set_metadata(CONTAINER, "bosh-light-stemcell-1.vhd", &replaced)
        .await
        .unwrap();
    assert_eq!(
        blobs
            .get_metadata(CONTAINER, "bosh-light-stemcell-1.vhd")
            .await
            .unwrap(),
        Some(replaced)
    );
    assert!(
        blobs
            .exists(CONTAINER, "bosh-light-stemcell-1.vhd")
            .await
            .unwrap()
    );
    assert!(
        blobs
            .delete_blob(CONTAINER, "bosh-light-stemcell-1.vhd")
            .await
            .unwrap()
    );
    assert!(
        !blobs
            .delete_blob(CONTAINER, "bosh-light-stemcell-1.vhd")
            .await
            .unwrap()
    );
    assert!(
        !blobs
            .exists(CONTAINER, "bosh-light-stemcell-1.vhd")
            .await
            .unwrap()
    );
    assert_eq!(
        blobs.get_metadata("nocontainer", "x.vhd").await.unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_rejects_a_wrong_account_key() {
    let Some(azurite) = Azurite::start_for_test() else {
        return;
    };
    let blobs = service(
        azurite.account_name(),
        azurite.blob_endpoint(),
        "d3Jvbmcta2V5",
        fast_retries(0),
    );
    let message = cloud_message(blobs.ensure_container(CONTAINER).await);
    assert!(message.contains("HTTP 403"), "{message}");
    assert!(!message.contains(azurite.account_key()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_pages_are_at_most_4_mib_and_coalesced() {
    let sink = PageBlobSink::start(SinkFaults::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    // A disk with no zero page at all: 12 MiB of data plus the footer page.
    let mut vhd = vec![0x5au8; (12 * MIB) as usize];
    vhd.extend_from_slice(&vhd_footer(12 * MIB, 1));
    write_tarball(&image, &[("root.vhd", &vhd)]).unwrap();

    let report = upload_to_sink(&image, &sink, 3, "dense.vhd", &parallel(4))
        .await
        .unwrap();

    let stats = sink.stats();
    let largest = stats.largest_put_page.load(Ordering::Relaxed);
    assert!(largest <= MAX_PUT_PAGE_BYTES, "Put Page of {largest} bytes");
    assert_eq!(
        largest, MAX_PUT_PAGE_BYTES,
        "dense data is coalesced to 4 MiB calls"
    );
    assert_eq!(
        stats.bytes_accepted.load(Ordering::Relaxed),
        vhd.len() as u64
    );
    assert_eq!(report.bytes_uploaded, vhd.len() as u64);
    assert_eq!(
        report.ranges, 4,
        "three 4 MiB calls and one for the last page"
    );
    assert_eq!(
        report.ranges,
        stats.put_pages_accepted.load(Ordering::Relaxed)
    );
    assert_eq!(stats.mismatched_bodies.load(Ordering::Relaxed), 0);
    for (offset, len) in stats.accepted_ranges.lock().unwrap().iter() {
        assert_eq!(offset % 512, 0);
        assert_eq!(len % 512, 0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_503s_and_resets_are_retried_to_success() {
    let sink = PageBlobSink::start(SinkFaults {
        flaky_every: Some(4),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let spec = StemcellImageSpec::new(8 * MIB, 0.4);
    let generated = write_stemcell_image(&image, &spec).unwrap();

    let report = upload_to_sink(&image, &sink, 2, "flaky.vhd", &parallel(8))
        .await
        .unwrap();

    let stats = sink.stats();
    let injected = stats.injected_faults.load(Ordering::Relaxed);
    let accepted = stats.put_pages_accepted.load(Ordering::Relaxed);
    // One range in four failed twice (a 503, then a reset) before it was accepted.
    assert!(accepted >= 8, "only {accepted} Put Page calls");
    assert_eq!(injected, 2 * (accepted / 4));
    assert_eq!(report.bytes_uploaded, generated.nonzero_page_bytes);
    // Every non-zero page landed exactly once: no range lost, none accepted twice.
    let mut ranges = stats.accepted_ranges.lock().unwrap().clone();
    ranges.sort();
    let total: u64 = ranges.iter().map(|(_, len)| len).sum();
    assert_eq!(total, generated.nonzero_page_bytes);
    assert!(ranges.windows(2).all(|w| w[0].0 + w[0].1 <= w[1].0));
    assert!(stats.deleted.lock().unwrap().is_empty());
}

/// A 503 holds back every call's next try for the throttled call's retry delay, so calls in
/// flight do not press on against a busy blob.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_busy_answer_pauses_every_call() {
    // Slow calls, so that without the pause other calls would go on arriving meanwhile.
    let sink = PageBlobSink::start(SinkFaults {
        flaky_every: Some(200),
        put_page_latency: Some(Duration::from_millis(10)),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(64 * MIB, 0.4)).unwrap();
    let delay = Duration::from_millis(1500);
    let options = BlobServiceOptions {
        retry: RetrySettings {
            max_retries: 3,
            initial_delay: delay,
            max_delay: 2 * delay,
            max_total: Duration::from_secs(60),
        },
        ..Default::default()
    };
    let blobs = sink_service(&sink, options);
    upload_stemcell_vhd(
        &image,
        &blobs,
        CONTAINER,
        "busy.vhd",
        &HashMap::new(),
        &parallel(8),
    )
    .await
    .unwrap();

    let attempts = sink.stats().attempts.lock().unwrap().clone();
    let busy: Vec<_> = attempts
        .iter()
        .filter(|(_, busy)| *busy)
        .map(|(at, _)| *at)
        .collect();
    assert!(busy.len() >= 2, "only {} 503s injected", busy.len());
    // Each pause lasts at least 0.75 s (half the delay, the jitter's floor). The window leaves 300 ms
    // for tries sent before the 503 was seen and for a loaded machine's scheduling.
    let quiet_from = Duration::from_millis(300);
    let quiet_to = Duration::from_millis(700);
    for answered in &busy {
        let pressing_on = attempts
            .iter()
            .filter(|(at, _)| *at > *answered + quiet_from && *at < *answered + quiet_to)
            .count();
        assert_eq!(pressing_on, 0, "tries sent while the blob was busy");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn final_failure_deletes_the_partial_blob() {
    let sink = PageBlobSink::start(SinkFaults {
        fail_all: true,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(4 * MIB, 0.25)).unwrap();

    let message = cloud_message(upload_to_sink(&image, &sink, 2, "doomed.vhd", &parallel(4)).await);
    assert!(message.contains("stemcell/doomed.vhd"), "{message}");
    assert!(message.contains("HTTP 500"), "{message}");
    let stats = sink.stats();
    // Two retries per call, then the failure: never an endless loop.
    assert!(stats.put_page_attempts.load(Ordering::Relaxed) >= 3);
    assert_eq!(
        *stats.deleted.lock().unwrap(),
        vec![format!("/{}/stemcell/doomed.vhd", sink.account_name())]
    );
}

/// Runs an upload of a bad image against the sink; returns the error and the sink.
async fn upload_bad(image: &Path) -> (String, PageBlobSink) {
    let sink = PageBlobSink::start(SinkFaults::default()).await.unwrap();
    let result = upload_to_sink(image, &sink, 1, "bad.vhd", &parallel(4)).await;
    (cloud_message(result), sink)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_file_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (message, sink) = upload_bad(&dir.path().join("nope")).await;
    assert!(message.contains("does not exist"), "{message}");
    assert!(sink.stats().created.lock().unwrap().is_empty());
    let (message, _) = upload_bad(dir.path()).await;
    assert!(message.contains("it is a directory"), "{message}");
    let message = cloud_message(image_sha256(&dir.path().join("nope")).await);
    assert!(message.contains("does not exist"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tarball_without_root_vhd_is_refused_before_any_blob() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    write_tarball(
        &image,
        &[("other.vhd", &[1u8; 1024]), ("dir/root.vhd", &[1u8; 512])],
    )
    .unwrap();
    let (message, sink) = upload_bad(&image).await;
    assert!(message.contains("does not contain root.vhd"), "{message}");
    assert!(sink.stats().created.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vhd_size_not_a_multiple_of_512_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    write_tarball(&image, &[("./root.vhd", &[1u8; 1000])]).unwrap();
    let (message, sink) = upload_bad(&image).await;
    assert!(
        message.contains("1000 bytes, not a multiple of 512"),
        "{message}"
    );
    assert!(sink.stats().created.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_root_vhd_without_a_fixed_vhd_footer_is_refused_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    // A raw disk image (no footer) named root.vhd.
    write_tarball(&image, &[("root.vhd", &[7u8; 4096])]).unwrap();
    let (message, sink) = upload_bad(&image).await;
    assert!(message.contains("not a fixed VHD"), "{message}");
    assert!(message.contains("conectix"), "{message}");
    assert_eq!(
        *sink.stats().created.lock().unwrap(),
        *sink.stats().deleted.lock().unwrap()
    );
    assert_eq!(sink.stats().deleted.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_gzip_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    std::fs::write(&image, b"this is not a stemcell image").unwrap();
    let (message, sink) = upload_bad(&image).await;
    assert!(message.contains("truncated or corrupt"), "{message}");
    assert!(sink.stats().created.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_gzip_fails_and_removes_the_partial_blob() {
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let generated = write_stemcell_image(&image, &StemcellImageSpec::new(8 * MIB, 0.5)).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&image)
        .unwrap();
    file.set_len(generated.compressed_size / 2).unwrap();
    drop(file);

    let (message, sink) = upload_bad(&image).await;
    assert!(message.contains("truncated or corrupt"), "{message}");
    // root.vhd's header was intact, so the blob existed before the stream broke.
    assert_eq!(sink.stats().created.lock().unwrap().len(), 1);
    assert_eq!(sink.stats().deleted.lock().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn root_vhd_is_found_among_other_entries_and_the_hash_covers_the_whole_file() {
    let sink = PageBlobSink::start(SinkFaults::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    let mut vhd = vec![0u8; (2 * MIB) as usize];
    vhd[MIB as usize..MIB as usize + 700].fill(3); // two pages of data
    vhd.extend_from_slice(&vhd_footer(2 * MIB, 9));
    write_tarball(
        &image,
        &[
            ("stemcell.MF", b"name: x\n"),
            ("./root.vhd", &vhd),
            ("trailing.txt", &[1u8; 3000]),
        ],
    )
    .unwrap();

    let report = upload_to_sink(&image, &sink, 1, "entries.vhd", &parallel(16))
        .await
        .unwrap();

    assert_eq!(report.sha256_hex, file_sha256(&image));
    assert_eq!(report.vhd_size, vhd.len() as u64);
    assert_eq!(
        report.bytes_uploaded,
        2 * 512 + 512,
        "two data pages and the footer"
    );
    let mut ranges = sink.stats().accepted_ranges.lock().unwrap().clone();
    ranges.sort();
    assert_eq!(ranges, vec![(MIB, 1024), (2 * MIB, 512)]);
}
