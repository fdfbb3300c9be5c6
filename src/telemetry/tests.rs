use super::*;

fn event(operation: &str, success: bool) -> Event {
    Event {
        event_id: EVENT_ID.to_owned(),
        provider_id: PROVIDER_ID.to_owned(),
        parameters: vec![
            param("Name", json!(EVENT_NAME)),
            param("Operation", json!(operation)),
            param("OperationSuccess", json!(success)),
            param("Message", json!({"msg": "a \"quoted\" <tag> & more"})),
            param("Duration", json!(12.5)),
            param("Count", json!(3)),
        ],
    }
}

#[test]
fn xml_types_escapes_and_groups_events_by_provider() {
    let mut other = event("info", true);
    other.provider_id = "OTHER".to_owned();
    let xml = telemetry_xml(&[event("create_vm", true), other, event("has_vm?", false)]);
    assert!(xml.starts_with("<?xml version=\"1.0\"?><TelemetryData version=\"1.0\"><Provider id=\"69B669B9-4AF8-4C50-BDC4-6006FA76E975\"><Event id=\"1\"><![CDATA["));
    assert!(xml.ends_with("]]></Event></Provider></TelemetryData>"));
    // Both events of the first provider sit in its element, before the other provider.
    let first = xml.find("create_vm").unwrap();
    let third = xml.find("has_vm?").unwrap();
    let other_provider = xml.find("<Provider id=\"OTHER\">").unwrap();
    assert!(first < third && third < other_provider, "{xml}");
    assert!(xml.contains("<Param Name=\"OperationSuccess\" Value=\"true\" T=\"mt:bool\" />"));
    assert!(xml.contains("<Param Name=\"Duration\" Value=\"12.5\" T=\"mt:float64\" />"));
    assert!(xml.contains("<Param Name=\"Count\" Value=\"3\" T=\"mt:uint64\" />"));
    assert!(xml.contains(
        "<Param Name=\"Message\" Value=\"{&quot;msg&quot;:&quot;a \\&quot;quoted\\&quot; &lt;tag&gt; &amp; more&quot;}\" T=\"mt:wstr\" />"
    ), "{xml}");
    // Escaping keeps `]]>` out of the CDATA sections.
    assert_eq!(xml.matches("]]>").count(), 3);
}

#[test]
fn long_messages_are_cut_on_a_character_boundary() {
    assert_eq!(truncate("short"), "short");
    let long = "é".repeat(3000);
    let cut = truncate(&long);
    assert!(cut.ends_with("...") && cut.len() <= MESSAGE_LIMIT + 3);
    assert!(cut.trim_end_matches("...").chars().all(|c| c == 'é'));
}

fn hash(value: Value) -> crate::call::Hash {
    match value {
        Value::Object(map) => map,
        _ => panic!("not an object: {value}"),
    }
}

#[test]
fn operations_ids_and_extras_follow_the_ruby_cpi() {
    let described =
        |call: Call| describe(&call).map(|(op, id, extras)| (op, id, Value::Object(extras)));
    assert_eq!(
        described(Call::HasVm {
            vm_cid: "vm-1".into()
        }),
        Some(("has_vm?", "vm-1".to_owned(), json!({})))
    );
    assert_eq!(
        described(Call::CreateDisk {
            size_mib: 2048,
            cloud_properties: Map::new(),
            vm_cid: None
        }),
        Some(("create_disk", String::new(), json!({"disk_size": 2048})))
    );
    assert_eq!(
        described(Call::CreateVm {
            agent_id: "agent-1".into(),
            stemcell_cid: "stemcell".into(),
            cloud_properties: hash(json!({"instance_type": "Standard_D2s_v5"})),
            networks: Map::new(),
            disk_cids: Vec::new(),
            env: Map::new(),
        }),
        Some((
            "create_vm",
            "agent-1".to_owned(),
            json!({"instance_type": "Standard_D2s_v5"})
        ))
    );
    assert_eq!(
        described(Call::CreateStemcell {
            image_path: "/tmp/image".into(),
            cloud_properties: hash(json!({"name": "s", "version": "1.2"})),
            env: None,
        }),
        Some((
            "create_stemcell",
            String::new(),
            json!({"stemcell": "s-1.2"})
        ))
    );
    assert_eq!(
        described(Call::AttachDisk {
            vm_cid: "vm-1".into(),
            disk_cid: "disk-1".into()
        })
        .map(|d| d.1),
        Some("vm-1".to_owned())
    );
    assert_eq!(
        described(Call::SetDiskMetadata {
            disk_cid: "disk-1".into(),
            metadata: Map::new()
        }),
        None
    );
    assert_eq!(described(Call::CurrentVmId), None);
}

#[test]
fn events_failures_carry_the_error_type_and_message() {
    let monitor = Monitor {
        operation: "delete_vm",
        container_id: "vm-1".to_owned(),
        extras: Map::new(),
        subscription_id: "sub".to_owned(),
        wire_server: WIRE_SERVER.to_owned(),
        started: Instant::now(),
    };
    let error = CpiError::cloud("it broke");
    let failed = monitor.event(Err(&error));
    let value = |name: &str| {
        failed
            .parameters
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.clone())
    };
    assert_eq!(value("OperationSuccess"), Some(json!(false)));
    assert_eq!(value("ContainerId"), Some(json!("vm-1")));
    assert_eq!(
        value("Message"),
        Some(json!({"msg": "Bosh::Clouds::CloudError: it broke", "subscription_id": "sub"}))
    );
    let ok = monitor.event(Ok(&Value::Null));
    assert!(
        ok.parameters.iter().any(|p| p.name == "Message"
            && p.value == json!({"msg": "Successed", "subscription_id": "sub"}))
    );
}

#[test]
fn spooled_events_are_listed_oldest_first_and_partial_files_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let first = spool(dir.path(), &event("a", true)).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    let second = spool(dir.path(), &event("b", true)).unwrap();
    fs::write(dir.path().join(".cpi-event-x.partial"), b"{").unwrap();
    assert_eq!(waiting_events(dir.path()), vec![first.clone(), second]);
    let read: Event = serde_json::from_slice(&fs::read(&first).unwrap()).unwrap();
    assert_eq!(read, event("a", true));
}

#[test]
fn cooldown_counts_from_the_last_post() {
    let dir = tempfile::tempdir().unwrap();
    let stamp = dir.path().join(".last_post");
    assert_eq!(cooldown_left(&stamp, COOLDOWN), None);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    fs::write(&stamp, (now - 10).to_string()).unwrap();
    let left = cooldown_left(&stamp, COOLDOWN).unwrap();
    assert!(
        left <= Duration::from_secs(50) && left >= Duration::from_secs(48),
        "{left:?}"
    );
    fs::write(&stamp, (now - 61).to_string()).unwrap();
    assert_eq!(cooldown_left(&stamp, COOLDOWN), None);
}

#[test]
fn a_full_spool_drops_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join("telemetry");
    for _ in 0..MAX_WAITING {
        spool(&spool_dir, &event("a", true)).unwrap();
    }
    let monitor = Monitor {
        operation: "has_vm?",
        container_id: String::new(),
        extras: Map::new(),
        subscription_id: String::new(),
        // Nothing may be sent: the sender is never started for a dropped event.
        wire_server: "http://127.0.0.1:9".to_owned(),
        started: Instant::now(),
    };
    monitor.finish_in(&spool_dir, Ok(&Value::Null));
    assert_eq!(event_files(&spool_dir).len(), MAX_WAITING);
}
