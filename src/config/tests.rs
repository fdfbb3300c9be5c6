use serde_json::{Value, json};

use super::*;

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/config")
        .join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn context() -> Map<String, Value> {
    json!({"director_uuid": "d", "request_id": "cpi-123456"})
        .as_object()
        .unwrap()
        .clone()
}

fn with_azure(edit: impl FnOnce(&mut Map<String, Value>)) -> CpiResult<Config> {
    let mut root = fixture("static-secret.json");
    edit(
        root["cloud"]["properties"]["azure"]
            .as_object_mut()
            .unwrap(),
    );
    Config::from_json(root, &context())
}

#[test]
fn parses_the_static_secret_fixture() {
    let config = Config::from_json(fixture("static-secret.json"), &context()).unwrap();
    let azure = &config.azure;
    assert_eq!(azure.environment, Environment::AzureCloud);
    assert_eq!(
        azure.subscription_id,
        "00000000-0000-0000-0000-000000000000"
    );
    assert_eq!(azure.resource_group_name, "rg");
    assert_eq!(azure.location.as_deref(), Some("eastus"));
    assert_eq!(
        azure.endpoints.resource_manager.as_str(),
        "https://management.azure.com/"
    );
    assert!(azure.use_managed_disks);
    assert_eq!(azure.compute_gallery_name.as_deref(), Some("boshgallery"));
    assert_eq!(azure.compute_gallery_replicas, 1);
    assert_eq!(
        azure.isv_tracking_guid,
        crate::azure::settings::DEFAULT_ISV_TRACKING_GUID
    );
    assert_eq!(azure.stemcell_api_version, 2);
    assert_eq!(
        azure.default_security_group,
        Some(SecurityGroup {
            name: "nsg-bosh".into(),
            resource_group_name: None
        })
    );
    let Credentials::ServicePrincipal {
        secret,
        certificate_path,
        ..
    } = &azure.credentials
    else {
        panic!("expected a service principal");
    };
    assert_eq!(
        secret.as_ref().unwrap().secret(),
        "fixture-client-secret-value-7f3a"
    );
    assert!(certificate_path.ends_with("azure_cpi/config/service_principal_certificate.pem"));
    assert_eq!(config.agent["ntp"][0], "0.pool.ntp.org");
}

#[test]
fn parses_the_managed_identity_fixture() {
    let config = Config::from_json(fixture("managed-identity.json"), &context()).unwrap();
    assert!(matches!(
        config.azure.credentials,
        Credentials::ManagedIdentity { resource_id: Some(ref id) } if id.ends_with("/bosh")
    ));
    assert_eq!(
        config.azure.default_managed_identity,
        Some(ManagedIdentity::UserAssigned {
            name: "bosh-vms".into()
        })
    );
    assert_eq!(
        config.azure.default_security_group,
        Some(SecurityGroup {
            name: "nsg-bosh".into(),
            resource_group_name: Some("rg-net".into())
        })
    );
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = Config::from_json(fixture("static-secret.json"), &context()).unwrap();
    let debug = format!("{config:?}");
    assert!(
        !debug.contains("fixture-client-secret-value-7f3a"),
        "{debug}"
    );
}

#[test]
fn context_overrides_cpi_json_shallowly() {
    let mut context = context();
    context.insert(
        "subscription_id".into(),
        json!("99999999-9999-9999-9999-999999999999"),
    );
    context.insert("resource_group_name".into(), json!("other-rg"));
    context.insert("vm".into(), json!({"stemcell": {"api_version": 3}}));
    let config = Config::from_json(fixture("static-secret.json"), &context).unwrap();
    assert_eq!(
        config.azure.subscription_id,
        "99999999-9999-9999-9999-999999999999"
    );
    assert_eq!(config.azure.resource_group_name, "other-rg");
    assert_eq!(config.azure.stemcell_api_version, 3);
}

#[test]
fn missing_and_invalid_keys_are_named() {
    type Edit = Box<dyn FnOnce(&mut Map<String, Value>)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|a| drop(a.remove("subscription_id"))),
            "'azure.subscription_id'",
        ),
        (
            Box::new(|a| drop(a.remove("resource_group_name"))),
            "'azure.resource_group_name'",
        ),
        (
            Box::new(|a| drop(a.remove("tenant_id"))),
            "'azure.tenant_id'",
        ),
        (
            Box::new(|a| drop(a.insert("environment".into(), json!("Mars")))),
            "'azure.environment'",
        ),
        (
            Box::new(|a| drop(a.insert("use_managed_disks".into(), json!(3)))),
            "'azure.use_managed_disks'",
        ),
        (
            Box::new(|a| drop(a.insert("credentials_source".into(), json!("magic")))),
            "'azure.credentials_source'",
        ),
        (
            Box::new(|a| drop(a.insert("isv_tracking_guid".into(), json!("short")))),
            "'azure.isv_tracking_guid'",
        ),
        (
            Box::new(|a| drop(a.insert("parallel_upload_thread_num".into(), json!(0)))),
            "'azure.parallel_upload_thread_num'",
        ),
        (
            Box::new(|a| drop(a.insert("default_security_group".into(), json!(5)))),
            "'azure.default_security_group'",
        ),
        (
            Box::new(|a| {
                drop(a.insert(
                    "default_managed_identity".into(),
                    json!({"type": "UserAssigned"}),
                ))
            }),
            "'user_assign_identity_name' is required",
        ),
        (
            Box::new(|a| drop(a.insert("endpoints".into(), json!({"resource_manager": 1})))),
            "'azure.endpoints.resource_manager'",
        ),
        (
            Box::new(|a| drop(a.insert("environment".into(), json!("AzureStack")))),
            "azure_stack should be there",
        ),
    ];
    for (edit, expected) in cases {
        let err = with_azure(edit).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
        assert!(
            err.message().contains(expected),
            "{expected}: {}",
            err.message()
        );
        assert!(
            !err.message().contains("fixture-client-secret"),
            "{}",
            err.message()
        );
    }
}

#[test]
fn missing_cloud_properties_is_the_ruby_message() {
    for root in [
        json!({}),
        json!({"cloud": {}}),
        json!([1]),
        json!({"cloud": {"properties": 1}}),
    ] {
        let err = Config::from_json(root, &context()).unwrap_err();
        assert_eq!(
            err.message(),
            "Could not find cloud properties in the configuration"
        );
    }
}

#[test]
fn azure_stack_reads_its_section() {
    let config = with_azure(|a| {
        a.insert("environment".into(), json!("AzureStack"));
        a.insert(
            "azure_stack".into(),
            json!({"domain": "stack.example", "authentication": "ADFS", "resource": "https://management.adfs.stack.example/x"}),
        );
    })
    .unwrap();
    assert!(config.azure.is_azure_stack());
    assert_eq!(
        config.azure.endpoints.resource_manager.as_str(),
        "https://management.stack.example/"
    );
    assert_eq!(
        config.azure.endpoints.authority,
        crate::azure::Authority::Adfs {
            token_endpoint: url::Url::parse("https://adfs.stack.example/adfs/oauth2/token")
                .unwrap()
        }
    );
}

#[test]
fn unknown_keys_are_tolerated() {
    let config = with_azure(|a| drop(a.insert("some_future_key".into(), json!({"x": 1})))).unwrap();
    assert_eq!(config.azure.resource_group_name, "rg");
}

#[test]
fn azure_settings_follow_the_credentials() {
    use crate::azure::{CloudKind, CredentialSettings};
    let settings = Config::from_json(fixture("static-secret.json"), &context())
        .unwrap()
        .azure
        .azure_settings();
    assert_eq!(settings.cloud, CloudKind::Public);
    assert_eq!(settings.tenant_id, "11111111-1111-1111-1111-111111111111");
    assert!(
        matches!(settings.credential, CredentialSettings::ClientSecret { ref client_id, .. } if client_id == "22222222-2222-2222-2222-222222222222")
    );
    assert_eq!(
        settings.resource_manager_url.as_str(),
        "https://management.azure.com/"
    );

    let without_secret = with_azure(|a| drop(a.remove("client_secret")))
        .unwrap()
        .azure
        .azure_settings();
    assert!(
        matches!(without_secret.credential, CredentialSettings::Certificate { ref pem_path, .. }
        if pem_path.ends_with("azure_cpi/config/service_principal_certificate.pem"))
    );

    let managed = Config::from_json(fixture("managed-identity.json"), &context())
        .unwrap()
        .azure
        .azure_settings();
    assert!(matches!(
        managed.credential,
        CredentialSettings::ManagedIdentity {
            resource_id: Some(_),
            ..
        }
    ));
}

#[test]
fn gallery_extensions_default_to_the_ruby_behaviour() {
    let azure = Config::from_json(fixture("static-secret.json"), &context())
        .unwrap()
        .azure;
    assert_eq!(azure.compute_gallery_replication_mode, None);
    assert_eq!(azure.compute_gallery_storage_account_type, None);
    assert!(azure.compute_gallery_target_regions.is_empty());
    assert_eq!(azure.compute_gallery_security_type, None);
    assert_eq!(azure.stemcell_upload_max_zero_gap_bytes, None);
}

#[test]
fn stemcell_upload_zero_gap_is_whole_pages_up_to_one_put_page() {
    let gap = |value: Value| {
        with_azure(|azure| drop(azure.insert("stemcell_upload_max_zero_gap_bytes".into(), value)))
            .map(|config| config.azure.stemcell_upload_max_zero_gap_bytes)
            .map_err(|e| e.message().to_owned())
    };
    assert_eq!(gap(json!(4096)), Ok(Some(4096)));
    assert_eq!(gap(json!(0)), Ok(Some(0)));
    assert_eq!(gap(json!(4 * 1024 * 1024)), Ok(Some(4 * 1024 * 1024)));
    for bad in [json!(1000), json!(4 * 1024 * 1024 + 512)] {
        let err = gap(bad).unwrap_err();
        assert!(
            err.contains("'azure.stemcell_upload_max_zero_gap_bytes'")
                && err.contains("multiple of 512"),
            "{err}"
        );
    }
    let err = gap(json!("4k")).unwrap_err();
    assert!(
        err.contains("azure.stemcell_upload_max_zero_gap_bytes"),
        "{err}"
    );
}

#[test]
fn gallery_extensions_parse_into_the_spec_spelling() {
    let azure = with_azure(|azure| {
        azure.insert("compute_gallery_replication_mode".into(), json!("shallow"));
        azure.insert(
            "compute_gallery_storage_account_type".into(),
            json!("standard_zrs"),
        );
        azure.insert(
            "compute_gallery_security_type".into(),
            json!("trustedlaunch"),
        );
    })
    .unwrap()
    .azure;
    assert_eq!(
        azure.compute_gallery_replication_mode,
        Some(ReplicationMode::Shallow)
    );
    assert_eq!(
        azure.compute_gallery_storage_account_type,
        Some(ReplicaStorageType::StandardZrs)
    );
    assert_eq!(
        azure.compute_gallery_security_type,
        Some(DefinitionSecurityType::TrustedLaunch)
    );
    let azure = with_azure(|azure| {
        azure.insert(
            "compute_gallery_target_regions".into(),
            json!(["westeurope", "North Europe"]),
        );
    })
    .unwrap()
    .azure;
    assert_eq!(
        azure.compute_gallery_target_regions,
        ["westeurope", "North Europe"]
    );
}

#[test]
fn invalid_gallery_extensions_name_the_key() {
    let cases = [
        (
            json!({"compute_gallery_replication_mode": "Deep"}),
            "Invalid value for 'azure.compute_gallery_replication_mode': 'Deep'. Valid values are Full, Shallow",
        ),
        (
            json!({"compute_gallery_storage_account_type": "Standard_GRS"}),
            "'azure.compute_gallery_storage_account_type': 'Standard_GRS'. Valid values are Standard_LRS, Standard_ZRS, Premium_LRS",
        ),
        (
            json!({"compute_gallery_security_type": "Secure"}),
            "'azure.compute_gallery_security_type': 'Secure'. Valid values are Standard, TrustedLaunchSupported",
        ),
        (
            json!({"compute_gallery_target_regions": "westus"}),
            "azure.compute_gallery_target_regions",
        ),
        (
            json!({"compute_gallery_target_regions": ["westus", "west/us"]}),
            "Invalid value for 'azure.compute_gallery_target_regions': 'west/us' is not an Azure region name",
        ),
        (
            json!({"compute_gallery_replicas": 101}),
            "Invalid value for 'azure.compute_gallery_replicas': 101 replicas, Azure allows at most 100",
        ),
        (
            json!({"compute_gallery_replication_mode": "Shallow", "compute_gallery_target_regions": ["westus"]}),
            "'azure.compute_gallery_replication_mode' is Shallow, which keeps a version in its own region, so 'azure.compute_gallery_target_regions' must be empty",
        ),
    ];
    for (settings, expected) in cases {
        let err =
            with_azure(|azure| azure.extend(settings.as_object().unwrap().clone())).unwrap_err();
        assert!(
            err.message().contains(expected),
            "expected {expected:?} in {:?}",
            err.message()
        );
    }
}

#[test]
fn storage_authentication_defaults_to_auto_and_names_the_key_when_invalid() {
    use crate::azure::settings::StorageAuthentication;
    let mode = |value: Option<Value>| {
        with_azure(|azure| {
            if let Some(value) = value {
                azure.insert("storage_authentication".into(), value);
            }
        })
        .map(|config| config.azure.storage_authentication)
    };
    assert_eq!(mode(None).unwrap(), StorageAuthentication::Auto);
    assert_eq!(
        mode(Some(json!("entra_id"))).unwrap(),
        StorageAuthentication::EntraId
    );
    assert_eq!(
        mode(Some(json!("shared_key"))).unwrap(),
        StorageAuthentication::SharedKey
    );
    let err = mode(Some(json!("oauth"))).unwrap_err();
    assert!(
        err.message().contains(
            "Invalid value for 'azure.storage_authentication': 'oauth'. Valid values are auto, shared_key, entra_id"
        ),
        "{}",
        err.message()
    );
}
