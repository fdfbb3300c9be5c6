//! Golden create_vm scenarios through the binary against azure-sim (ARM) and Azurite
//! (stemcell blobs). For each scenario the NIC, VM, availability-set, public-IP and user-image
//! PUT bodies, the decoded customData (agent settings) and the v2 answer must equal the files
//! in `fixtures/golden/create_vm/<scenario>/`, with volatile values (subscription id, stemcell
//! uuid, loopback ports, Windows computer name and admin user) replaced by placeholders.
//!
//! The files follow the Ruby CPI's formats (docs/ruby-compatibility.md: Resource names, Tags,
//! Agent settings and the create_vm golden files); where ours deliberately differs,
//! `fixtures/golden/create_vm/README.md` says how and why.
//! `UPDATE_GOLDEN=1 cargo test --test vms create_vm_golden` rewrites them: review the diff
//! against that README before committing.
//!
//! Each scenario prints its ARM call count and sequential depth (dependent request waves,
//! from the sim's request log); `-- --nocapture` shows them.

use crate::support;

use serde_json::{Value, json};
use support::golden::{
    ArmCalls, Normalizer, assert_golden_dir, golden_dir, normalize_loopback_ports,
};
use support::sim::LOCATION;
use support::vm_env::{AGENT_ID, SUBNET, VNET, VmEnv, manual_network};

/// Injected on every request during the call so that requests in flight together overlap.
const DEPTH_PROBE_LATENCY: std::time::Duration = std::time::Duration::from_millis(20);

/// What a scenario runs create_vm with.
struct Scenario<'a> {
    name: &'a str,
    stemcell: &'a str,
    props: Value,
    networks: Value,
    env: Value,
    /// The only collections create_vm may list (no fan-out GETs it does not need).
    lists: &'a [&'a str],
}

/// Runs create_vm, prints its ARM call count and depth, and compares every body with the
/// golden files. Answers the calls for scenario-specific checks.
fn run_golden(env: &VmEnv, scenario: Scenario<'_>) -> ArmCalls {
    let offset = env.sim.sim.request_log().len();
    // Without latency the sim answers faster than the client sends the next of a parallel
    // batch, and parallel requests would not overlap in the log.
    env.sim.sim.set_latency(Some(DEPTH_PROBE_LATENCY));
    let result = env.sim.ok(
        "create_vm",
        json!([
            AGENT_ID,
            scenario.stemcell,
            scenario.props,
            scenario.networks,
            [],
            scenario.env
        ]),
    );
    env.sim.sim.set_latency(None);
    let calls = ArmCalls::since(&env.sim.sim, offset);
    println!(
        "create_vm golden {}: {} ARM requests, sequential depth {}",
        scenario.name,
        calls.count(),
        calls.depth()
    );
    if std::env::var_os("GOLDEN_TRACE").is_some() {
        for r in &calls.requests {
            println!(
                "  {} .. {} {} {} {}",
                r.started, r.time, r.method, r.path, r.status
            );
        }
    }

    let mut listed = calls.listed_collections();
    listed.dedup();
    assert!(
        listed.iter().all(|c| scenario.lists.contains(&c.as_str())),
        "{}: lists {listed:?}, only {:?} expected:\n{:#?}",
        scenario.name,
        scenario.lists,
        calls.lines()
    );

    let stemcell_uuid = scenario
        .stemcell
        .trim_start_matches("bosh-light-stemcell-")
        .trim_start_matches("bosh-stemcell-");
    let mut normalizer = Normalizer::default()
        .replace(env.sim.subscription_id(), "<subscription-id>")
        .replace(stemcell_uuid, "<stemcell-uuid>")
        .replace(env.storage_account_name(), "<storage-account>");
    let vm_puts = calls.puts("virtualMachines");
    assert_eq!(vm_puts.len(), 1, "one VM PUT: {:#?}", calls.lines());
    let vm = &vm_puts[0].1;
    // Windows: the computer name and admin user are generated per call.
    let os_profile = &vm["properties"]["osProfile"];
    if os_profile.get("windowsConfiguration").is_some() {
        for (field, placeholder) in [
            ("computerName", "<computer-name>"),
            ("adminUsername", "<admin-username>"),
        ] {
            let value = os_profile[field].as_str().expect("windows osProfile field");
            normalizer = normalizer.replace(value, placeholder);
        }
    }

    let mut files = vec![
        ("vm".to_owned(), normalizer.apply(vm)),
        (
            "agent_settings".to_owned(),
            normalizer.apply(&env.agent_settings(AGENT_ID)),
        ),
        ("response".to_owned(), normalizer.apply(&result)),
    ];
    for (name, body) in calls.puts("networkInterfaces") {
        let index = name
            .strip_prefix(&format!("{AGENT_ID}-"))
            .unwrap_or_else(|| panic!("NIC named after the VM: {name}"));
        files.push((format!("nic-{index}"), normalizer.apply(&body)));
    }
    for (collection, file) in [
        ("availabilitySets", "availability_set"),
        ("publicIPAddresses", "public_ip"),
        ("images", "image"),
    ] {
        let puts = calls.puts(collection);
        assert!(puts.len() <= 1, "at most one {collection} PUT: {puts:#?}");
        if let Some((_, body)) = puts.first() {
            files.push((file.to_owned(), normalizer.apply(body)));
        }
    }
    assert_golden_dir(&golden_dir(&format!("create_vm/{}", scenario.name)), &files);
    calls
}

fn network_id(env: &VmEnv, kind: &str, name: &str) -> String {
    env.arm_id(&format!("Microsoft.Network/{kind}"), name)
}

fn dynamic_network(subnet: &str, default: &[&str]) -> Value {
    json!({
        "type": "dynamic", "default": default, "dns": ["10.0.0.2"],
        "cloud_properties": {"virtual_network_name": VNET, "subnet_name": subnet}
    })
}

#[test]
fn loopback_ports_are_normalized_and_other_text_kept() {
    assert_eq!(
        normalize_loopback_ports("https://127.0.0.1:10000/x and 127.0.0.1:7/y 127.0.0.1:"),
        "https://127.0.0.1:<port>/x and 127.0.0.1:<port>/y 127.0.0.1:"
    );
}

#[test]
fn one_manual_network() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "manual_network",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3"}),
            networks: support::vm_env::manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn dynamic_network_and_vip() {
    let Some(env) = VmEnv::start() else { return };
    env.sim.seed(json!({
        "id": network_id(&env, "publicIPAddresses", "vip-ip"),
        "location": LOCATION, "sku": {"name": "Standard"},
        "properties": {"publicIPAllocationMethod": "Static"}
    }));
    let address = env
        .sim
        .resource(&network_id(&env, "publicIPAddresses", "vip-ip"))
        .expect("seeded")["properties"]["ipAddress"]
        .as_str()
        .expect("the sim gave the static IP an address")
        .to_owned();
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "dynamic_vip",
            stemcell: &stemcell,
            // A vip wins over a dynamic public IP: no PIP is created.
            props: json!({"instance_type": "Standard_D2s_v3", "assign_dynamic_public_ip": true}),
            networks: json!({
                "default": dynamic_network(SUBNET, &["dns", "gateway"]),
                "public": {"type": "vip", "ip": address, "cloud_properties": {}}
            }),
            env: json!({}),
            lists: &["publicIPAddresses"],
        },
    );
}

#[test]
fn two_nics_primary_is_the_gateway_network() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    let mut networks = manual_network();
    // The DNS default comes from the second network, the gateway from the first.
    networks["private"]["default"] = json!(["gateway"]);
    networks["second"] = dynamic_network("subnet-2", &["dns"]);
    networks["second"]["cloud_properties"]["ip_forwarding"] = json!(true);
    run_golden(
        &env,
        Scenario {
            name: "two_nics",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3", "accelerated_networking": true}),
            networks,
            env: json!({}),
            lists: &[],
        },
    );
}

/// Two LBs (lb-a with two pools and an inbound NAT rule on its first frontend; lb-b in
/// `other-rg`) and an application gateway with two pools.
fn seed_pools(env: &VmEnv) {
    let lb_a = network_id(env, "loadBalancers", "lb-a");
    let other_rg = env
        .sim
        .rg_id()
        .replace("/resourceGroups/rg", "/resourceGroups/other-rg");
    env.sim.seed(json!([
        {
            "id": lb_a, "location": LOCATION, "sku": {"name": "Standard"},
            "properties": {
                "frontendIPConfigurations": [{
                    "name": "fe-1",
                    "properties": {
                        "privateIPAllocationMethod": "Dynamic",
                        "subnet": {"id": format!("{}/subnets/{SUBNET}", network_id(env, "virtualNetworks", VNET))},
                        "inboundNatRules": [{"id": format!("{lb_a}/inboundNatRules/ssh")}]
                    }
                }],
                "backendAddressPools": [{"name": "pool-1"}, {"name": "pool-2"}],
                "inboundNatRules": [{"name": "ssh", "properties": {
                    "frontendIPConfiguration": {"id": format!("{lb_a}/frontendIPConfigurations/fe-1")},
                    "protocol": "Tcp", "frontendPort": 2222, "backendPort": 22}}]
            }
        },
        {
            "id": format!("{other_rg}/providers/Microsoft.Network/loadBalancers/lb-b"),
            "location": LOCATION, "sku": {"name": "Standard"},
            "properties": {"backendAddressPools": [{"name": "pool-b1"}, {"name": "pool-b2"}]}
        },
        {
            "id": network_id(env, "applicationGateways", "agw"), "location": LOCATION,
            "properties": {
                "sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2},
                "backendAddressPools": [{"name": "agw-pool-1"}, {"name": "agw-pool-2"}]
            }
        }
    ]));
}

#[test]
fn load_balancer_as_a_string() {
    let Some(env) = VmEnv::start() else { return };
    seed_pools(&env);
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "lb_string",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3", "load_balancer": "lb-a"}),
            networks: manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn load_balancer_as_a_hash() {
    let Some(env) = VmEnv::start() else { return };
    seed_pools(&env);
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "lb_hash",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3",
                "load_balancer": {"name": "lb-b", "resource_group_name": "other-rg",
                                  "backend_pool_name": "pool-b2"}}),
            networks: manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn load_balancers_as_an_array_and_an_application_gateway() {
    let Some(env) = VmEnv::start() else { return };
    seed_pools(&env);
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "lb_array_agw",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3",
                "load_balancer": [
                    {"name": "lb-a", "backend_pool_name": "pool-2"},
                    {"name": "lb-b", "resource_group_name": "other-rg"}
                ],
                "application_gateway": {"name": "agw", "backend_pool_name": "agw-pool-2"}}),
            networks: manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

/// NSGs `vm-nsg`, `net-nsg`, `default-nsg` and ASGs `vm-asg`, `net-asg` in the default RG;
/// the networks live in `net-rg`, so every lookup falls back from there to the default RG.
fn seed_security_groups(env: &VmEnv) {
    let net_rg = env
        .sim
        .rg_id()
        .replace("/resourceGroups/rg", "/resourceGroups/net-rg");
    let mut resources = vec![json!({
        "id": format!("{net_rg}/providers/Microsoft.Network/virtualNetworks/net-vnet"),
        "location": LOCATION,
        "properties": {
            "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
            "subnets": [
                {"name": "a", "properties": {"addressPrefix": "10.1.0.0/24"}},
                {"name": "b", "properties": {"addressPrefix": "10.1.1.0/24"}}
            ]
        }
    })];
    for nsg in ["vm-nsg", "net-nsg", "default-nsg"] {
        resources.push(json!({"id": network_id(env, "networkSecurityGroups", nsg),
                              "location": LOCATION, "properties": {}}));
    }
    for asg in ["vm-asg", "net-asg"] {
        resources.push(
            json!({"id": network_id(env, "applicationSecurityGroups", asg),
                              "location": LOCATION, "properties": {}}),
        );
    }
    env.sim.seed(Value::Array(resources));
    env.write_config(|azure| {
        drop(azure.insert("default_security_group".into(), json!("default-nsg")))
    });
}

/// NIC 0's network names `net-nsg` and `net-asg`; NIC 1's names neither.
fn security_networks() -> Value {
    json!({
        "a": {"type": "manual", "ip": "10.1.0.10", "default": ["dns", "gateway"], "dns": ["10.1.0.2"],
              "cloud_properties": {"resource_group_name": "net-rg", "virtual_network_name": "net-vnet",
                                   "subnet_name": "a", "security_group": "net-nsg",
                                   "application_security_groups": ["net-asg"]}},
        "b": {"type": "manual", "ip": "10.1.1.10",
              "cloud_properties": {"resource_group_name": "net-rg", "virtual_network_name": "net-vnet",
                                   "subnet_name": "b"}}
    })
}

#[test]
fn security_groups_of_the_vm_type_win() {
    let Some(env) = VmEnv::start() else { return };
    seed_security_groups(&env);
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "nsg_asg_vm_type",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3", "security_group": "vm-nsg",
                          "application_security_groups": ["vm-asg"]}),
            networks: security_networks(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn security_groups_of_the_network_then_the_default() {
    let Some(env) = VmEnv::start() else { return };
    seed_security_groups(&env);
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "nsg_asg_network_default",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3"}),
            networks: security_networks(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn availability_set_from_the_bosh_group() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "availability_set_group",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3"}),
            networks: manual_network(),
            env: json!({"bosh": {"group": "my-director-my-deployment-web",
                                 "groups": ["my-director", "my-deployment", "web"]}}),
            lists: &[],
        },
    );
}

#[test]
fn availability_set_from_a_bosh_group_longer_than_80_characters() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    let group = format!("my-director-{}-web", "very-long-deployment-name-".repeat(3));
    assert!(group.len() > 80);
    run_golden(
        &env,
        Scenario {
            name: "availability_set_long_group",
            stemcell: &stemcell,
            // The vm_type's domain counts apply to the set it creates.
            props: json!({"instance_type": "Standard_D2s_v3",
                          "platform_update_domain_count": 3, "platform_fault_domain_count": 1}),
            networks: manual_network(),
            env: json!({"bosh": {"group": group}}),
            lists: &[],
        },
    );
}

#[test]
fn zone_with_a_dynamic_public_ip_and_no_availability_set() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "zone",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3", "availability_zone": "2",
                          "assign_dynamic_public_ip": true}),
            networks: manual_network(),
            env: json!({"bosh": {"group": "zonal-group"}}),
            lists: &[],
        },
    );
}

#[test]
fn ephemeral_os_disk() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "ephemeral_os_disk",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D4s_v3",
                          "root_disk": {"placement": "cache-disk", "size": 40960},
                          "ephemeral_disk": {"size": 20480, "type": "StandardSSD_LRS"}}),
            networks: manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn use_root_disk() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "use_root_disk",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3", "caching": "ReadOnly",
                          "ephemeral_disk": {"use_root_disk": true, "size": 20480}}),
            networks: manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn managed_identity_default() {
    let Some(env) = VmEnv::start() else { return };
    env.write_config(|azure| {
        azure.insert(
            "default_managed_identity".into(),
            json!({"type": "SystemAssigned"}),
        );
    });
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "managed_identity_default",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3"}),
            networks: manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn managed_identity_of_the_vm_type_wins() {
    let Some(env) = VmEnv::start() else { return };
    env.write_config(|azure| {
        azure.insert(
            "default_managed_identity".into(),
            json!({"type": "SystemAssigned"}),
        );
    });
    let stemcell = env.light_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "managed_identity_vm_type",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3",
                          "managed_identity": {"type": "UserAssigned",
                                               "user_assigned_identity_name": "bosh-identity"}}),
            networks: manual_network(),
            env: json!({}),
            lists: &[],
        },
    );
}

#[test]
fn light_stemcell_gen2_with_tags() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell_of(json!({
        "name": "bosh-azure-hyperv-ubuntu-jammy-go_agent", "version": "1.5", "os_type": "linux",
        "generation": "gen2",
        "image": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                  "sku": "22_04-lts-gen2", "version": "22.04.202403010"}
    }));
    run_golden(
        &env,
        Scenario {
            name: "light_stemcell",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3",
                          "tags": {"team": "core", "deployment": "from-vm-type"}}),
            networks: manual_network(),
            env: json!({"bosh": {"tags": {"deployment": "from-env", "director": "bosh-1"}}}),
            lists: &[],
        },
    );
}

#[test]
fn galleries_off_makes_the_user_image_lazily() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.heavy_stemcell();
    run_golden(
        &env,
        Scenario {
            name: "heavy_lazy_image",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3", "root_disk": {"size": 20480}}),
            networks: manual_network(),
            env: json!({}),
            lists: &["skus"],
        },
    );
}

#[test]
fn gallery_stemcell_in_another_region() {
    let Some(env) = VmEnv::start() else { return };
    let rg = env.sim.rg_id();
    env.sim.seed(json!([
        {
            "id": format!("{rg}/providers/Microsoft.Compute/galleries/gallery"),
            "location": LOCATION, "properties": {}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet-west"),
            "location": "westus2",
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.1.0.0/16"]},
                "subnets": [{"name": "subnet", "properties": {"addressPrefix": "10.1.0.0/24"}}]
            }
        }
    ]));
    let gallery_config = |location: &'static str| {
        move |azure: &mut serde_json::Map<String, Value>| {
            azure.insert("compute_gallery_name".into(), json!("gallery"));
            azure.insert("location".into(), json!(location));
        }
    };
    env.write_config(gallery_config(LOCATION));
    let stemcell = env.heavy_stemcell();
    // A second CPI (another region) sharing the gallery and the default storage account.
    env.write_config(gallery_config("westus2"));
    let calls = run_golden(
        &env,
        Scenario {
            name: "gallery_stemcell_other_region",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3"}),
            networks: json!({"private": {
                "type": "manual", "ip": "10.1.0.10", "netmask": "255.255.255.0",
                "gateway": "10.1.0.1", "dns": ["168.63.129.16"], "default": ["dns", "gateway"],
                "cloud_properties": {"virtual_network_name": "vnet-west", "subnet_name": "subnet"}
            }}),
            env: json!({}),
            // The version is found from the stemcell blob's metadata: no resource-group list.
            lists: &[],
        },
    );
    let patches: Vec<_> = calls
        .requests
        .iter()
        .filter(|r| r.method == "PATCH" && r.path.contains("/versions/"))
        .collect();
    assert_eq!(
        patches.len(),
        1,
        "one replication PATCH: {:#?}",
        calls.lines()
    );
}

#[test]
fn windows_stemcell() {
    let Some(env) = VmEnv::start() else { return };
    let stemcell = env.light_stemcell_of(json!({
        "name": "bosh-azure-hyperv-windows2019-go_agent", "version": "2019.71", "os_type": "windows",
        "image": {"publisher": "pivotal", "offer": "bosh-windows-server-2019",
                  "sku": "2019", "version": "2019.71.0"}
    }));
    run_golden(
        &env,
        Scenario {
            name: "windows",
            stemcell: &stemcell,
            props: json!({"instance_type": "Standard_D2s_v3"}),
            networks: manual_network(),
            env: json!({"bosh": {"group": "windows-group"}}),
            lists: &[],
        },
    );
}
