//! Keyless storage through the binary: a default storage account whose `allowSharedKeyAccess`
//! is false, behind the blob front (which refuses Shared Key and account-key SAS there, as
//! Azure does) in front of Azurite in OAuth mode (HTTPS, bearer tokens). azure-sim issues the
//! storage tokens from the same credential as ARM's.

use crate::support;

use bosh_azure_cpi::azure::storage::blob::{BlobService, BlobServiceOptions};
use bosh_azure_cpi::azure::storage::{StorageAccess, StorageAuth};
use bosh_azure_sim::azurite::{ACCOUNT_NAME, Azurite, AzuriteOptions};
use bosh_azure_sim::blob_front::{Auth, BlobFront, FrontOptions};
use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::tls::LoopbackTls;
use bosh_azure_sim::{SimConfig, StorageBackend};
use serde_json::{Value, json};
use support::sim::{LOCATION, SimEnv};

const GALLERY: &str = "boshgallery";
/// root.vhd of the test image without its footer.
const STAGED_VHD_DATA: u64 = 20 * 1024 * 1024;
const AGENT_ID: &str = "5b2e8f0a-3c4d-4e5f-8a9b-0c1d2e3f4a5b";

struct Env {
    sim: SimEnv,
    front: BlobFront,
    account: String,
    azurite: Azurite,
    _images: tempfile::TempDir,
    image: std::path::PathBuf,
    blob_ca: String,
}

/// `front` decides which accounts forbid Shared Key and where the identity has no data role.
fn start(front: FrontOptions) -> Option<Env> {
    if std::env::var("SKIP_AZURITE").is_ok_and(|v| v == "1") {
        return None;
    }
    let tls = LoopbackTls::generate().expect("certificates");
    let azurite = Azurite::start_with(&AzuriteOptions {
        oauth: Some(tls.clone()),
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let front = BlobFront::start(
        &azurite.blob_endpoint(),
        FrontOptions {
            tls: Some(tls.clone()),
            ..front
        },
    )
    .expect("blob front");
    let account = azurite.account_name().to_owned();
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: front.account_endpoint(&account),
            account_name: account.clone(),
            account_key: azurite.account_key().into(),
        }),
        storage_ca_pem: Some(tls.ca_pem.clone()),
        ..SimConfig::default()
    });
    let rg = sim.rg_id();
    sim.seed(json!([
        {
            "id": format!("{rg}/providers/Microsoft.Storage/storageAccounts/{account}"),
            "location": LOCATION, "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
            "properties": {"allowSharedKeyAccess": false}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Compute/galleries/{GALLERY}"),
            "location": LOCATION, "properties": {}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet"),
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "subnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]
            }
        }
    ]));
    let images = tempfile::tempdir().expect("tempdir");
    let image = images.path().join("image");
    // The smallest VHD a managed disk upload takes: 20 MiB plus the footer.
    write_stemcell_image(&image, &StemcellImageSpec::new(STAGED_VHD_DATA, 0.1))
        .expect("stemcell image");
    let env = Env {
        sim,
        front,
        account,
        azurite,
        _images: images,
        image,
        blob_ca: tls.ca_pem,
    };
    env.configure(None);
    Some(env)
}

impl Env {
    /// cpi.json with the keyless default account, the gallery and boot diagnostics on;
    /// `mode` sets `azure.storage_authentication`.
    fn configure(&self, mode: Option<&str>) {
        let account = self.account.clone();
        let cas = format!("{}\n{}", self.sim.sim.ca_pem(), self.blob_ca);
        self.sim.write_config(|azure| {
            azure.insert("storage_account_name".into(), json!(account));
            azure.insert("compute_gallery_name".into(), json!(GALLERY));
            azure.insert("enable_vm_boot_diagnostics".into(), json!(true));
            azure["endpoints"]["ca_cert"] = json!(cas);
            if let Some(mode) = mode {
                azure.insert("storage_authentication".into(), json!(mode));
            }
        });
    }

    fn stemcell_arguments(&self) -> Value {
        let mut properties = stemcell_cloud_properties(Generation::Gen1);
        properties["version"] = json!("1.301");
        json!([self.image, properties])
    }

    fn error_message(&self, method: &str, arguments: Value) -> String {
        let run = self.sim.call(method, arguments);
        assert_eq!(
            run.response["error"]["type"], "Bosh::Clouds::CloudError",
            "{}\nstderr: {}",
            run.stdout, run.stderr
        );
        run.response["error"]["message"]
            .as_str()
            .expect("message")
            .to_owned()
    }

    /// The default account's blobs in Azurite itself (Shared Key, past the front): test setup.
    fn direct_blobs(&self) -> BlobService {
        let http = bosh_azure_cpi::azure::http::build(&bosh_azure_cpi::azure::http::HttpOptions {
            extra_ca_pem: Some(self.blob_ca.clone()),
            ..Default::default()
        })
        .expect("client");
        BlobService::new(
            &StorageAccess {
                account_name: self.account.clone(),
                blob_endpoint: self.azurite.blob_endpoint(),
                auth: StorageAuth::SharedKey(self.azurite.account_key().to_owned().into()),
            },
            BlobServiceOptions {
                http: Some(http),
                ..Default::default()
            },
        )
        .expect("blob service")
    }

    fn list_keys_calls(&self) -> usize {
        self.sim
            .sim
            .request_log()
            .iter()
            .filter(|r| r.path.to_ascii_lowercase().ends_with("/listkeys"))
            .count()
    }

    /// The sim's requests whose method is `method` and whose path ends with `suffix`
    /// (case-insensitive), as `(seq, status, body)`.
    fn arm_requests(&self, method: &str, suffix: &str) -> Vec<(u64, u16, Value)> {
        let suffix = suffix.to_ascii_lowercase();
        self.sim
            .sim
            .request_log()
            .into_iter()
            .filter(|r| r.method == method && r.path.to_ascii_lowercase().ends_with(&suffix))
            .map(|r| (r.seq, r.status, r.body.unwrap_or(Value::Null)))
            .collect()
    }

    fn upload_puts(&self) -> Vec<(u64, u16)> {
        self.sim
            .sim
            .request_log()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.path.starts_with("/md-impexp/"))
            .map(|r| (r.seq, r.status))
            .collect()
    }

    fn staging_disk_id(&self, stemcell: &str) -> String {
        format!(
            "{}/providers/Microsoft.Compute/disks/{stemcell}-staging",
            self.sim.rg_id()
        )
    }

    fn blob_requests(&self, auth: Auth) -> usize {
        self.front
            .stats()
            .requests()
            .iter()
            .filter(|(_, a, _)| *a == auth)
            .count()
    }
}

#[test]
fn a_keyless_default_account_serves_the_stemcell_and_vm_lifecycle_with_entra_id_only() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    let stemcell = env.sim.ok("create_stemcell", env.stemcell_arguments());
    let stemcell = stemcell.as_str().expect("stemcell cid").to_owned();
    env.assert_staged_through_a_disk(&stemcell);
    let result = env.sim.ok(
        "create_vm",
        json!([
            AGENT_ID,
            stemcell,
            {"instance_type": "Standard_D2s_v3"},
            {"private": {
                "type": "manual", "ip": "10.0.0.10", "netmask": "255.255.255.0",
                "gateway": "10.0.0.1", "dns": ["168.63.129.16"], "default": ["dns", "gateway"],
                "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": "subnet"}
            }},
            [],
            {}
        ]),
    );
    let vm_cid = result[0].as_str().expect("vm cid").to_owned();
    let vm = env
        .sim
        .resource(&format!(
            "{}/providers/Microsoft.Compute/virtualMachines/{AGENT_ID}",
            env.sim.rg_id()
        ))
        .expect("the VM");
    // Managed boot diagnostics: no storage account of ours, so no key is needed for them.
    assert_eq!(
        vm["properties"]["diagnosticsProfile"],
        json!({"bootDiagnostics": {"enabled": true}})
    );
    env.sim.ok("delete_vm", json!([vm_cid]));
    env.sim.ok("delete_stemcell", json!([stemcell]));

    assert_eq!(env.list_keys_calls(), 0, "listKeys was called");
    assert_eq!(
        env.blob_requests(Auth::SharedKey),
        0,
        "{:?}",
        env.front.stats().requests()
    );
    assert_eq!(env.blob_requests(Auth::KeySas), 0);
    assert!(env.blob_requests(Auth::Bearer) > 0, "no bearer request");
    // No storage account was created for boot diagnostics.
    let accounts = env.sim.sim.inventory()["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .filter(|r| r["type"] == "Microsoft.Storage/storageAccounts")
        .count();
    assert_eq!(accounts, 1);
}

impl Env {
    /// create_stemcell made the version from a staging disk it uploaded to and then deleted,
    /// and left the stemcell's metadata in a record blob (no VHD in the account).
    fn assert_staged_through_a_disk(&self, stemcell: &str) {
        let disk = self.staging_disk_id(stemcell);
        let created = self.arm_requests("PUT", &disk);
        assert_eq!(created.len(), 1, "{created:?}");
        let (created_at, _, body) = &created[0];
        assert_eq!(
            body["properties"]["creationData"],
            json!({"createOption": "Upload", "uploadSizeBytes": STAGED_VHD_DATA + 512})
        );
        assert_eq!(
            body["properties"]["dataAccessAuthMode"],
            "AzureActiveDirectory"
        );
        assert_eq!(body["tags"]["bosh_azure_cpi_rs_staging"], "stemcell");
        assert_eq!(body["tags"]["stemcell_references"], stemcell);
        let granted = self.arm_requests("POST", &format!("{disk}/beginGetAccess"));
        assert_eq!(granted.len(), 1, "{granted:?}");
        assert_eq!(granted[0].2["access"], "Write");
        // Every page went to the upload URL, which takes them only with a disk-audience token.
        let puts = self.upload_puts();
        assert!(!puts.is_empty(), "no Put Page to the upload URL");
        assert!(puts.iter().all(|(_, status)| *status == 201), "{puts:?}");
        let revoked = self.arm_requests("POST", &format!("{disk}/endGetAccess"));
        assert_eq!(revoked.len(), 1, "{revoked:?}");
        let versions = self.arm_requests("PUT", "/versions/1.301.0");
        assert_eq!(versions.len(), 1, "{versions:?}");
        assert_eq!(
            versions[0].2["properties"]["storageProfile"]["osDiskImage"]["source"],
            json!({ "id": disk })
        );
        let deleted = self.arm_requests("DELETE", &disk);
        assert_eq!(deleted.len(), 1, "{deleted:?}");
        let order = [
            *created_at,
            granted[0].0,
            puts[0].0,
            puts[puts.len() - 1].0,
            revoked[0].0,
            versions[0].0,
            deleted[0].0,
        ];
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
        assert_eq!(self.sim.resource(&disk), None, "the staging disk is left");
        let scopes: Vec<Value> = self
            .sim
            .sim
            .request_log()
            .into_iter()
            .filter(|r| r.path.ends_with("/oauth2/v2.0/token"))
            .filter_map(|r| r.body.map(|b| b["scope"].clone()))
            .collect();
        assert!(
            scopes.contains(&json!("https://disk.azure.com//.default")),
            "{scopes:?}"
        );
        let record = self
            .sim
            .runtime
            .block_on(
                self.direct_blobs()
                    .get_properties("stemcell", &format!("{stemcell}.vhd")),
            )
            .expect("blob properties")
            .expect("the stemcell's record blob");
        assert_eq!(record.content_length, 1024);
        assert_eq!(record.metadata["compute_gallery_name"], GALLERY);
    }
}

/// A Put Page refused mid-upload: the access is revoked and the staging disk deleted, no
/// record blob and no version are left, and the error names the disk.
#[test]
fn a_failed_upload_to_the_staging_disk_revokes_its_access_and_deletes_it() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    env.sim
        .sim
        .add_fault(
            serde_json::from_value(json!({
                "method": "PUT", "path": "^/md-impexp/", "nth": 2,
                "action": {"kind": "status", "status": 403, "code": "AuthorizationPermissionMismatch"}
            }))
            .expect("fault"),
        )
        .expect("add fault");
    let message = env.error_message("create_stemcell", env.stemcell_arguments());
    assert!(
        message.contains("staging managed disk 'bosh-stemcell-"),
        "{message}"
    );
    assert!(message.contains("HTTP 403"), "{message}");
    let created: Vec<(u64, u16, Value)> = env.arm_requests("PUT", "-staging");
    assert_eq!(created.len(), 1, "{created:?}");
    let disk_path = env
        .sim
        .sim
        .request_log()
        .into_iter()
        .find(|r| r.seq == created[0].0)
        .expect("the disk PUT")
        .path;
    let revoked = env.arm_requests("POST", &format!("{disk_path}/endGetAccess"));
    let deleted = env.arm_requests("DELETE", &disk_path);
    assert_eq!(revoked.len(), 1, "{revoked:?}");
    assert_eq!(deleted.len(), 1, "{deleted:?}");
    assert!(revoked[0].0 < deleted[0].0);
    assert_eq!(
        env.sim.resource(&disk_path),
        None,
        "the staging disk is left"
    );
    assert!(env.arm_requests("PUT", "/versions/1.301.0").is_empty());
    let left = env
        .sim
        .runtime
        .block_on(env.direct_blobs().list_blob_names("stemcell", ""))
        .unwrap_or_default();
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(env.list_keys_calls(), 0, "listKeys was called");
}

/// A staging disk left by a killed create_stemcell (its upload mark older than the method may
/// run) is deleted by the next staging; a recent one, maybe still uploading, is kept.
#[test]
fn the_next_staging_removes_the_staging_disk_of_a_killed_upload() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    // create_stemcell may run 3 hours (its default timeout), plus 10 minutes of clock skew.
    let old = env.staging_disk_id("bosh-stemcell-00000000-0000-0000-0000-0000000000a1");
    let fresh = env.staging_disk_id("bosh-stemcell-00000000-0000-0000-0000-0000000000a2");
    for (id, started) in [(&old, now - 4 * 3600), (&fresh, now - 600)] {
        env.sim.seed(json!({
            "id": id, "location": LOCATION, "sku": {"name": "Standard_LRS"},
            "tags": {"bosh_azure_cpi_rs_staging": "stemcell",
                     "bosh_azure_cpi_rs_upload_started": started.to_string()},
            "properties": {"creationData": {"createOption": "Upload", "uploadSizeBytes": 20972032},
                           "dataAccessAuthMode": "AzureActiveDirectory"}
        }));
    }
    env.sim.ok("create_stemcell", env.stemcell_arguments());
    assert_eq!(
        env.sim.resource(&old),
        None,
        "the abandoned staging disk is left"
    );
    assert!(
        env.sim.resource(&fresh).is_some(),
        "a recent staging disk was deleted"
    );
}

#[test]
fn shared_key_mode_on_a_keyless_account_says_to_switch_to_entra_id() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    env.configure(Some("shared_key"));
    let message = env.error_message("create_stemcell", env.stemcell_arguments());
    for expected in [
        "storage account 'devstoreaccount1'",
        "HTTP 403 KeyBasedAuthenticationNotPermitted",
        "forbids Shared Key access: set azure.storage_authentication to entra_id",
        "Storage Blob Data Contributor",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
}

#[test]
fn an_identity_without_a_data_role_is_told_which_role_on_which_account() {
    let Some(env) = start(FrontOptions {
        no_data_role_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    env.configure(Some("entra_id"));
    let message = env.error_message("create_stemcell", env.stemcell_arguments());
    for expected in [
        "in storage account 'devstoreaccount1'",
        "HTTP 403 AuthorizationPermissionMismatch",
        "give it the role Storage Blob Data Contributor on storage account 'devstoreaccount1'",
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
    assert_eq!(env.list_keys_calls(), 0, "listKeys was called");
}

/// A keyless default account in `eastus` and a keyless `type: stemcell` account in `westus2`,
/// with the VMs' location `westus2` and no gallery: create_vm copies the stemcell server side.
struct CrossRegion {
    sim: SimEnv,
    front: BlobFront,
    _azurite: Azurite,
    _dir: tempfile::TempDir,
    image: std::path::PathBuf,
}

const REGIONAL: &str = "stemcellwestus2";

fn cross_region(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Option<CrossRegion> {
    if std::env::var("SKIP_AZURITE").is_ok_and(|v| v == "1") {
        return None;
    }
    let regional_key = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        b"another-emulator-account-key-32b",
    );
    let tls = LoopbackTls::generate().expect("certificates");
    let azurite = Azurite::start_with(&AzuriteOptions {
        oauth: Some(tls.clone()),
        extra_accounts: vec![(REGIONAL.into(), regional_key.clone())],
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let front = BlobFront::start(
        &azurite.blob_endpoint(),
        FrontOptions {
            tls: Some(tls.clone()),
            keyless_accounts: vec![ACCOUNT_NAME.to_owned(), REGIONAL.to_owned()],
            ..Default::default()
        },
    )
    .expect("blob front");
    let sim = SimEnv::start_with(SimConfig {
        storage: Some(StorageBackend {
            blob_endpoint: front.account_endpoint(ACCOUNT_NAME),
            account_name: ACCOUNT_NAME.into(),
            account_key: azurite.account_key().into(),
        }),
        extra_storage_accounts: vec![(REGIONAL.into(), regional_key)],
        storage_ca_pem: Some(tls.ca_pem.clone()),
        ..SimConfig::default()
    });
    let rg = sim.rg_id();
    sim.seed(json!([
        {
            "id": format!("{rg}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT_NAME}"),
            "location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
            "properties": {"allowSharedKeyAccess": false}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Storage/storageAccounts/{REGIONAL}"),
            "location": "westus2", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
            "tags": {"user-agent": "bosh", "type": "stemcell"},
            "properties": {"allowSharedKeyAccess": false}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet"),
            "location": "westus2",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "subnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]
            }
        }
    ]));
    let cas = format!("{}\n{}", sim.sim.ca_pem(), tls.ca_pem);
    sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(ACCOUNT_NAME));
        azure.insert("location".into(), json!("westus2"));
        azure["endpoints"]["ca_cert"] = json!(cas);
        edit(azure);
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(4 * 1024 * 1024, 0.25))
        .expect("stemcell image");
    Some(CrossRegion {
        sim,
        front,
        _azurite: azurite,
        _dir: dir,
        image,
    })
}

impl CrossRegion {
    /// create_stemcell, then create_vm in `westus2` (which copies the stemcell there); answers
    /// the stemcell and VM cids.
    fn stemcell_and_vm(&self) -> (String, Value) {
        let stemcell = self.sim.ok(
            "create_stemcell",
            json!([self.image, stemcell_cloud_properties(Generation::Gen1)]),
        );
        let stemcell = stemcell.as_str().expect("cid").to_owned();
        let network = json!({"default": {"type": "dynamic", "default": ["dns", "gateway"],
            "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": "subnet"}}});
        let props =
            json!({"instance_type": "Standard_D2s_v3", "root_disk": {"type": "Standard_LRS"}});
        let result = self.sim.ok(
            "create_vm",
            json!([AGENT_ID, stemcell, props, network, [], {}]),
        );
        (stemcell, result[0].clone())
    }
}

/// create_vm in `westus2` with a heavy stemcell in the keyless default account (`eastus`) and
/// no gallery: the stemcell is copied server side into the keyless `type: stemcell` account of
/// `westus2`, reading its source through a user delegation SAS.
#[test]
fn the_cross_region_copy_reads_its_source_through_a_user_delegation_sas() {
    let Some(env) = cross_region(|_| {}) else {
        return;
    };
    let (sim, front) = (&env.sim, &env.front);
    let rg = sim.rg_id();
    let (stemcell, vm) = env.stemcell_and_vm();
    let uuid = stemcell.trim_start_matches("bosh-stemcell-");
    let image = sim
        .resource(&format!(
            "{rg}/providers/Microsoft.Compute/images/{uuid}-S-westus2"
        ))
        .expect("the user image in westus2");
    assert_eq!(
        image["properties"]["storageProfile"]["osDisk"]["blobUri"],
        json!(format!(
            "{}/stemcell/{stemcell}.vhd",
            front.account_endpoint(REGIONAL)
        ))
    );
    sim.ok("delete_vm", json!([vm]));
    sim.ok("delete_stemcell", json!([stemcell]));

    let requests = front.stats().requests();
    let count = |auth: Auth| requests.iter().filter(|(_, a, _)| *a == auth).count();
    assert_eq!(count(Auth::SharedKey), 0, "{requests:?}");
    assert_eq!(count(Auth::KeySas), 0, "{requests:?}");
    assert!(count(Auth::DelegationSas) > 0, "{requests:?}");
    let list_keys = sim
        .sim
        .request_log()
        .iter()
        .filter(|r| r.path.to_ascii_lowercase().ends_with("/listkeys"))
        .count();
    assert_eq!(list_keys, 0);
}

/// The copy's user delegation SAS, and the delegation key under it, last from five minutes
/// before the copy began until five minutes after create_vm's deadline: no longer than the
/// copy can run (it is abandoned at the deadline), with a margin for clock skew.
#[test]
fn the_copy_sas_lasts_until_the_method_deadline_plus_a_skew_margin() {
    const TIMEOUT: i64 = 1200;
    let Some(env) = cross_region(|azure| {
        azure.insert("method_timeouts".into(), json!({"create_vm": TIMEOUT}));
    }) else {
        return;
    };
    let before = time::OffsetDateTime::now_utc().unix_timestamp();
    env.stemcell_and_vm();
    let after = time::OffsetDateTime::now_utc().unix_timestamp();
    let queries = env.front.stats().sas_queries();
    let query = queries
        .first()
        .expect("the copy's source was read with a SAS");
    let field = |name: &str| -> i64 {
        let value = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {query}"));
        time::OffsetDateTime::parse(&value, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("{name}={value}: {e}"))
            .unix_timestamp()
    };
    let (start, expiry) = (field("st"), field("se"));
    let skew = 300;
    // Whole seconds, and the deadline starts when the binary starts, between before and after.
    assert!(
        (before - skew - 1..=after - skew).contains(&start),
        "st {start} not 5 min before the call ({before}..{after}): {query}"
    );
    assert!(
        (before + TIMEOUT + skew - 1..=after + TIMEOUT + skew).contains(&expiry),
        "se {expiry} not 5 min after the deadline ({before}..{after} + {TIMEOUT}): {query}"
    );
    assert_eq!(field("skt"), start, "{query}");
    assert_eq!(field("ske"), expiry, "{query}");
}

/// The legacy `bosh-data-*` blob disks of a keyless default account: has_disk, snapshot_disk,
/// delete_snapshot and delete_disk work on the blob with Entra ID only.
#[test]
fn legacy_blob_disks_of_a_keyless_account_need_no_key() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    let name = format!("bosh-data-{}", uuid::Uuid::new_v4());
    let blob = format!("{name}.vhd");
    let blobs = env.direct_blobs();
    env.sim.runtime.block_on(async {
        blobs.ensure_container("bosh").await.unwrap();
        blobs
            .create_page_blob("bosh", &blob, 1024 * 1024 + 512, &Default::default())
            .await
            .unwrap();
    });
    let cid = format!("caching:None;disk_name:{name};storage_account_name:{ACCOUNT_NAME}");
    assert_eq!(env.sim.ok("has_disk", json!([cid])), json!(true));
    let snapshot = env.sim.ok("snapshot_disk", json!([cid, {}]));
    env.sim.ok("delete_snapshot", json!([snapshot]));
    env.sim.ok("delete_disk", json!([cid]));
    assert_eq!(env.sim.ok("has_disk", json!([cid])), json!(false));
    assert!(
        !env.sim
            .runtime
            .block_on(blobs.exists("bosh", &blob))
            .unwrap()
    );
    assert_eq!(env.list_keys_calls(), 0, "listKeys was called");
    assert_eq!(
        env.blob_requests(Auth::SharedKey),
        0,
        "{:?}",
        env.front.stats().requests()
    );
    assert!(env.blob_requests(Auth::Bearer) > 0);
}

/// A storage account the CPI creates (here the `type: stemcell` account of another region)
/// forbids Shared Key when the default account does.
#[test]
fn storage_accounts_the_cpi_creates_for_a_keyless_default_account_forbid_shared_key() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    let rg = env.sim.rg_id();
    env.sim.seed(json!({
        "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet-west"),
        "location": "westus2",
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
            "subnets": [{"name": "subnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]
        }
    }));
    let cas = format!("{}\n{}", env.sim.sim.ca_pem(), env.blob_ca);
    env.sim.write_config(|azure| {
        azure.insert("storage_account_name".into(), json!(ACCOUNT_NAME));
        azure.insert("location".into(), json!("westus2"));
        azure["endpoints"]["ca_cert"] = json!(cas);
    });
    let stemcell = env.sim.ok(
        "create_stemcell",
        json!([env.image, stemcell_cloud_properties(Generation::Gen1)]),
    );
    let network = json!({"default": {"type": "dynamic", "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": "vnet-west", "subnet_name": "subnet"}}});
    let props = json!({"instance_type": "Standard_D2s_v3", "root_disk": {"type": "Standard_LRS"}});
    env.sim.ok(
        "create_vm",
        json!([AGENT_ID, stemcell, props, network, [], {}]),
    );
    let created: Vec<Value> = env
        .sim
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.method == "PUT" && r.path.contains("/storageAccounts/"))
        .map(|r| r.body.unwrap_or(Value::Null))
        .collect();
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["tags"]["type"], "stemcell");
    assert_eq!(
        created[0]["properties"]["allowSharedKeyAccess"],
        json!(false)
    );
    assert_eq!(env.list_keys_calls(), 0, "listKeys was called");
}

/// delete_vm of a legacy VM with unmanaged disks in a keyless default account deletes its VHD
/// blobs with Entra ID only.
#[test]
fn delete_vm_of_an_unmanaged_vm_in_a_keyless_account_deletes_its_blobs_without_keys() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    let vm = AGENT_ID;
    let rg = env.sim.rg_id();
    let nic = format!("{rg}/providers/Microsoft.Network/networkInterfaces/{vm}-0");
    let subnet = format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/subnet");
    env.sim.seed(json!({"id": nic, "location": LOCATION,
        "properties": {"ipConfigurations": [{"name": "ipconfig0",
            "properties": {"subnet": {"id": subnet}}}]}}));
    let vhd = |blob: &str| format!("{}/bosh/{blob}", env.front.account_endpoint(ACCOUNT_NAME));
    let os_blob = format!("bosh-os-{vm}.vhd");
    let ephemeral_blob = format!("bosh-os-{vm}-ephemeral-disk.vhd");
    env.sim
        .sim
        .seed_raw(json!({
            "id": format!("{rg}/providers/Microsoft.Compute/virtualMachines/{vm}"),
            "location": LOCATION, "tags": {"user-agent": "bosh"},
            "properties": {
                "hardwareProfile": {"vmSize": "Standard_D2_v3"},
                "storageProfile": {
                    "osDisk": {"name": format!("bosh-os-{vm}"), "osType": "Linux",
                               "createOption": "FromImage", "caching": "ReadWrite",
                               "vhd": {"uri": vhd(&os_blob)}},
                    "dataDisks": [{"name": "ephemeral-disk", "lun": 0, "createOption": "Empty",
                                   "caching": "ReadWrite", "diskSizeGB": 30,
                                   "vhd": {"uri": vhd(&ephemeral_blob)}}]
                },
                "osProfile": {"computerName": vm, "adminUsername": "vcap",
                              "linuxConfiguration": {"disablePasswordAuthentication": true}},
                "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": true}}]}
            }
        }))
        .expect("seed the VM");
    let blobs = env.direct_blobs();
    env.sim.runtime.block_on(async {
        blobs.ensure_container("bosh").await.unwrap();
        for blob in [&os_blob, &ephemeral_blob] {
            blobs
                .create_page_blob("bosh", blob, 1024 * 1024, &Default::default())
                .await
                .unwrap();
        }
    });
    let cid = format!("agent_id:{vm};resource_group_name:rg;storage_account_name:{ACCOUNT_NAME}");
    env.sim.ok("delete_vm", json!([cid]));
    let left = env
        .sim
        .runtime
        .block_on(blobs.list_blob_names("bosh", ""))
        .unwrap();
    assert_eq!(left, Vec::<String>::new());
    assert_eq!(env.list_keys_calls(), 0, "listKeys was called");
    assert_eq!(
        env.blob_requests(Auth::SharedKey),
        0,
        "{:?}",
        env.front.stats().requests()
    );
}

/// With a managed identity, the storage and disk upload tokens come from IMDS for their
/// resources, as the ARM token does for ARM.
#[test]
fn a_managed_identity_gets_its_storage_token_from_imds() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        ..Default::default()
    }) else {
        return;
    };
    let cas = format!("{}\n{}", env.sim.sim.ca_pem(), env.blob_ca);
    let imds = format!("{}/metadata/identity/oauth2/token", env.sim.sim.imds_url());
    env.sim.write_config(|azure| {
        azure.remove("tenant_id");
        azure.remove("client_id");
        azure.remove("client_secret");
        azure.insert("credentials_source".into(), json!("managed_identity"));
        azure.insert("storage_account_name".into(), json!(ACCOUNT_NAME));
        azure.insert("compute_gallery_name".into(), json!(GALLERY));
        azure["endpoints"]["ca_cert"] = json!(cas);
        azure["endpoints"]["managed_identity"] = json!(imds);
    });
    let mut properties = stemcell_cloud_properties(Generation::Gen1);
    properties["version"] = json!("1.302");
    let stemcell = env
        .sim
        .ok("create_stemcell", json!([env.image, properties]));
    env.sim.ok("delete_stemcell", json!([stemcell]));
    let resources: Vec<String> = env
        .sim
        .sim
        .request_log()
        .into_iter()
        .filter(|r| r.path.starts_with("/metadata/identity/oauth2/token"))
        .filter_map(|r| {
            r.query
                .into_iter()
                .find(|(k, _)| k == "resource")
                .map(|(_, v)| v)
        })
        .collect();
    for resource in ["https://storage.azure.com/", "https://disk.azure.com/"] {
        assert!(resources.iter().any(|r| r == resource), "{resources:?}");
    }
    assert_eq!(env.list_keys_calls(), 0, "listKeys was called");
    assert_eq!(env.blob_requests(Auth::SharedKey), 0);
    assert!(env.blob_requests(Auth::Bearer) > 0);
}

/// A storage token that storage refuses with 401 (revoked, or expired before its `exp`) is
/// dropped from the token cache and the request is repeated once with a fresh token, as ARM's
/// 401 is handled; before, the refused token stayed cached and every blob request failed.
#[test]
fn a_storage_token_refused_with_401_is_replaced_by_a_fresh_one() {
    let Some(env) = start(FrontOptions {
        keyless_accounts: vec![ACCOUNT_NAME.to_owned()],
        revoke_first_bearer_token: true,
        ..Default::default()
    }) else {
        return;
    };
    let mut properties = stemcell_cloud_properties(Generation::Gen1);
    properties["version"] = json!("1.303");
    let stemcell = env
        .sim
        .ok("create_stemcell", json!([env.image, properties]));
    assert!(stemcell.is_string(), "{stemcell}");
    let refused = env
        .front
        .stats()
        .revoked_token_refusals
        .load(std::sync::atomic::Ordering::Relaxed);
    assert!(refused >= 1, "the revoked token was never sent");
    assert!(
        env.blob_requests(Auth::Bearer) as u64 > refused,
        "no request with a fresh token"
    );
}
