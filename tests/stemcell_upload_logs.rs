//! The stemcell upload's logs at TRACE level never show the account key or a signature.
//!
//! Alone in its own test binary: `tracing` caches per call site whether anyone listens, and a
//! call site first reached on another test's thread while this test's thread-local subscriber
//! was being set up could stay silent for it, so other uploads must not run meanwhile.

use std::collections::HashMap;
use std::time::Duration;

use azure_core::credentials::Secret;
use bosh_azure_cpi::azure::storage::blob::{
    BlobService, BlobServiceOptions, RetrySettings, StorageAccess,
};
use bosh_azure_cpi::stemcell::{UploadOptions, upload_stemcell_vhd};
use bosh_azure_sim::azurite::{PageBlobSink, SinkFaults};
use bosh_azure_sim::stemcell_gen::{StemcellImageSpec, write_stemcell_image};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct CapturedLogs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_at_trace_level_never_contain_the_key_or_signature() {
    let logs = CapturedLogs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // Every other range fails twice, so the retry lines are logged too.
    let sink = PageBlobSink::start(SinkFaults {
        flaky_every: Some(2),
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(2 * 1024 * 1024, 0.25)).unwrap();
    let access = StorageAccess {
        account_name: sink.account_name().to_owned(),
        blob_endpoint: sink.blob_endpoint(),
        auth: bosh_azure_cpi::azure::storage::StorageAuth::SharedKey(Secret::new(
            sink.account_key().to_owned(),
        )),
    };
    let options = BlobServiceOptions {
        retry: RetrySettings {
            max_retries: 3,
            initial_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            max_total: Duration::from_secs(20),
        },
        ..Default::default()
    };
    let blobs = BlobService::new(&access, options).unwrap();
    upload_stemcell_vhd(
        &image,
        &blobs,
        "stemcell",
        "logged.vhd",
        &HashMap::new(),
        &UploadOptions::default(),
    )
    .await
    .unwrap();

    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("stemcell VHD uploaded"), "{text}");
    assert!(
        text.contains("comp=page"),
        "request logs were captured: {text}"
    );
    assert!(!text.contains(sink.account_key()));
    assert!(!text.contains("SharedKey"), "{text}");
}
