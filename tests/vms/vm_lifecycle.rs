//! create_vm / delete_vm through the binary against azure-sim (ARM) and Azurite (stemcell
//! blobs): the bodies Azure receives, the answers, and that a failed create or a delete
//! leaves the inventory as it was.

use crate::support;

use bosh_azure_sim::stemcell_gen::{
    Generation, StemcellImageSpec, stemcell_cloud_properties, write_stemcell_image,
};
use bosh_azure_sim::{Fault, FaultAction};
use serde_json::{Value, json};
use support::error_type;
use support::vm_env::{AGENT_ID, VmEnv, manual_network};

type Env = VmEnv;

fn start() -> Option<Env> {
    VmEnv::start()
}

fn light_stemcell(env: &Env) -> String {
    env.light_stemcell()
}

fn inventory_ids(env: &Env) -> Vec<String> {
    env.inventory_ids()
}

fn arm_id(env: &Env, kind: &str, name: &str) -> String {
    env.arm_id(kind, name)
}

#[test]
fn light_stemcell_manual_network_with_nsg_pip_and_group_set_then_delete_restores_inventory() {
    let Some(env) = start() else { return };
    let stemcell = light_stemcell(&env);
    let before = inventory_ids(&env);

    let networks = manual_network();
    let requests_before = env.sim.sim.request_log().len();
    let result = env.sim.ok(
        "create_vm",
        json!([
            AGENT_ID,
            stemcell,
            {"instance_type": "Standard_D2s_v3", "security_group": "nsg",
             "assign_dynamic_public_ip": true, "tags": {"team": "core"}},
            networks,
            [],
            {"bosh": {"group": "my-deployment-web", "tags": {"deployment": "my"}}}
        ]),
    );
    let requests: Vec<_> = env.sim.sim.request_log()[requests_before..]
        .iter()
        .filter(|r| r.path.contains("/subscriptions/"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    eprintln!(
        "create_vm (light, manual, NSG, PIP, AS): {} ARM requests",
        requests.len()
    );
    assert!(
        !requests
            .iter()
            .any(|r| r.starts_with("GET") && r.ends_with("/networkInterfaces")),
        "no NIC listing: {requests:#?}"
    );
    let vm_cid = result[0].as_str().expect("v2 answers [vm_cid, networks]");
    assert_eq!(
        vm_cid,
        format!("agent_id:{AGENT_ID};resource_group_name:rg")
    );
    assert_eq!(result[1]["private"]["use_dhcp"], json!(true));
    assert_eq!(result[1]["private"]["ip"], json!("10.0.0.10"));

    let vm = env
        .sim
        .resource(&arm_id(&env, "Microsoft.Compute/virtualMachines", AGENT_ID))
        .expect("the VM exists");
    let storage = &vm["properties"]["storageProfile"];
    assert_eq!(storage["imageReference"]["sku"], json!("22_04-lts"));
    assert_eq!(
        storage["imageReference"]["version"],
        json!("22.04.202401010")
    );
    assert!(
        vm.get("plan").is_none(),
        "no plan for an image without one: {vm}"
    );
    assert_eq!(
        storage["osDisk"]["name"],
        json!(format!("bosh-disk-os-{AGENT_ID}"))
    );
    assert_eq!(
        storage["dataDisks"][0]["name"],
        json!(format!("bosh-disk-os-{AGENT_ID}-ephemeral-disk"))
    );
    assert_eq!(
        vm["properties"]["hardwareProfile"]["vmSize"],
        json!("Standard_D2s_v3")
    );
    assert_eq!(vm["tags"]["user-agent"], json!("bosh"));
    assert_eq!(vm["tags"]["deployment"], json!("my"));
    assert_eq!(vm["tags"]["team"], json!("core"));
    let set_id = arm_id(
        &env,
        "Microsoft.Compute/availabilitySets",
        "my-deployment-web",
    );
    assert!(
        vm["properties"]["availabilitySet"]["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(&set_id)),
        "{vm}"
    );
    let os_profile = &vm["properties"]["osProfile"];
    assert_eq!(os_profile["adminUsername"], json!("vcap"));
    assert_eq!(
        os_profile["linuxConfiguration"]["ssh"]["publicKeys"][0]["keyData"],
        json!("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC test@example")
    );

    // customData: the sim keeps it out of responses, as ARM does, but records it.
    let settings = env.agent_settings(AGENT_ID);
    assert_eq!(settings["agent_id"], json!(AGENT_ID));
    assert_eq!(settings["vm"]["name"], json!(AGENT_ID));
    assert_eq!(settings["server"]["name"], json!(vm_cid));
    assert_eq!(settings["dns"]["nameserver"], json!(["168.63.129.16"]));
    assert_eq!(settings["networks"]["private"]["use_dhcp"], json!(true));
    assert_eq!(settings["disks"]["ephemeral"]["lun"], json!("0"));
    assert_eq!(settings["env"]["bosh"]["group"], json!("my-deployment-web"));
    assert_eq!(
        settings["mbus"],
        json!("nats://nats:nats-password@10.0.0.6:4222")
    );

    let nic = env
        .sim
        .resource(&arm_id(
            &env,
            "Microsoft.Network/networkInterfaces",
            &format!("{AGENT_ID}-0"),
        ))
        .expect("the primary NIC exists");
    let ipconfig = &nic["properties"]["ipConfigurations"][0]["properties"];
    assert_eq!(ipconfig["privateIPAddress"], json!("10.0.0.10"));
    assert_eq!(ipconfig["privateIPAllocationMethod"], json!("Static"));
    assert!(
        ipconfig["subnet"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/virtualNetworks/vnet/subnets/subnet")
    );
    assert!(
        ipconfig["publicIPAddress"]["id"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/publicIPAddresses/{AGENT_ID}"))
    );
    assert!(
        nic["properties"]["networkSecurityGroup"]["id"]
            .as_str()
            .unwrap()
            .ends_with("/networkSecurityGroups/nsg")
    );
    assert_eq!(nic["tags"]["availability_set"], json!("my-deployment-web"));

    // delete_vm removes the VM, NIC, public IP, disks and the set it left empty.
    assert_eq!(env.sim.ok("delete_vm", json!([vm_cid])), Value::Null);
    assert_eq!(inventory_ids(&env), before);
    // Deleting again is not an error.
    assert_eq!(env.sim.ok("delete_vm", json!([vm_cid])), Value::Null);
}

#[test]
fn delete_vm_keeps_persistent_disks_and_v1_answers_the_cid() {
    let Some(env) = start() else { return };
    let stemcell = light_stemcell(&env);
    let run = env.sim.call_versioned(
        "create_vm",
        json!([AGENT_ID, stemcell, {"instance_type": "Standard_D2s_v3",
               "ephemeral_disk": {"use_root_disk": true}}, manual_network(), [], {}]),
        1,
    );
    assert_eq!(run.response["error"], Value::Null, "{}", run.stderr);
    let vm_cid = run.response["result"]
        .as_str()
        .expect("v1 answers the cid")
        .to_owned();
    let vm = env
        .sim
        .resource(&arm_id(&env, "Microsoft.Compute/virtualMachines", AGENT_ID))
        .unwrap();
    assert!(
        vm["properties"]["storageProfile"]["dataDisks"]
            .as_array()
            .is_none_or(Vec::is_empty),
        "use_root_disk: no ephemeral data disk: {vm}"
    );
    assert_eq!(
        vm["properties"]["storageProfile"]["osDisk"]["diskSizeGB"],
        json!(30)
    );

    let disk_cid = env.sim.ok("create_disk", json!([1024, {}, vm_cid]));
    env.sim.ok("attach_disk", json!([vm_cid, disk_cid]));
    // Azure may hold the NIC for the deleted VM a little longer: the delete is retried.
    env.sim
        .sim
        .add_fault(Fault {
            method: Some("DELETE".into()),
            path: "/networkInterfaces/".into(),
            nth: None,
            times: Some(1),
            probability: None,
            action: FaultAction::Status {
                status: 400,
                code: Some("NicReservedForAnotherVm".into()),
                message: Some("Nic is reserved for another VM.".into()),
                retry_after_secs: None,
            },
        })
        .unwrap();
    env.sim.ok("delete_vm", json!([vm_cid]));
    assert!(
        env.sim
            .resource(&arm_id(
                &env,
                "Microsoft.Network/networkInterfaces",
                &format!("{AGENT_ID}-0")
            ))
            .is_none(),
        "the NIC is gone after the retry"
    );
    assert_eq!(env.sim.ok("has_vm", json!([vm_cid])), json!(false));
    assert_eq!(env.sim.ok("has_disk", json!([disk_cid])), json!(true));
}

#[test]
fn failed_vm_put_cleans_up_and_only_allocation_failures_are_retriable() {
    let Some(env) = start() else { return };
    let stemcell = light_stemcell(&env);
    let before = inventory_ids(&env);
    let create = json!([
        AGENT_ID,
        stemcell,
        {"instance_type": "Standard_D2s_v3", "assign_dynamic_public_ip": true},
        manual_network(),
        [],
        {"bosh": {"group": "failing-group"}}
    ]);

    env.sim
        .sim
        .add_fault(Fault {
            method: Some("PUT".into()),
            path: "/virtualMachines/".into(),
            nth: None,
            times: Some(1),
            probability: None,
            action: FaultAction::LroFailed {
                code: "ZonalAllocationFailed".into(),
                message: "Allocation failed.".into(),
                canceled: false,
                retry_after_secs: None,
            },
        })
        .unwrap();
    let run = env.sim.call("create_vm", create.clone());
    assert_eq!(
        error_type(&run.response),
        Some("Bosh::Clouds::VMCreationFailed"),
        "{}",
        run.stdout
    );
    assert_eq!(run.response["error"]["ok_to_retry"], json!(true));
    assert!(
        run.stdout.contains("ZonalAllocationFailed"),
        "{}",
        run.stdout
    );
    assert_eq!(
        inventory_ids(&env),
        before,
        "everything created was deleted"
    );

    env.sim.sim.clear_faults();
    env.sim
        .sim
        .add_fault(Fault {
            method: Some("PUT".into()),
            path: "/networkInterfaces/".into(),
            nth: None,
            times: Some(1),
            probability: None,
            action: FaultAction::Status {
                status: 409,
                code: Some("OperationNotAllowed".into()),
                message: Some("Quota exceeded.".into()),
                retry_after_secs: None,
            },
        })
        .unwrap();
    let run = env.sim.call("create_vm", create);
    assert_eq!(
        error_type(&run.response),
        Some("Bosh::Clouds::VMCreationFailed"),
        "{}",
        run.stdout
    );
    assert_eq!(run.response["error"]["ok_to_retry"], json!(false));
    assert_eq!(inventory_ids(&env), before);
}

#[test]
fn heavy_stemcell_makes_the_user_image_once_and_dynamic_networks_work() {
    let Some(env) = start() else { return };
    let dir = tempfile::tempdir().unwrap();
    let image = dir.path().join("image");
    write_stemcell_image(&image, &StemcellImageSpec::new(4 * 1024 * 1024, 0.25)).unwrap();
    let stemcell = env.sim.ok(
        "create_stemcell",
        json!([
            image.to_str().unwrap(),
            stemcell_cloud_properties(Generation::Gen1)
        ]),
    );
    let stemcell = stemcell.as_str().unwrap().to_owned();
    let dynamic = json!({"default": {"type": "dynamic", "default": ["dns", "gateway"],
        "cloud_properties": {"virtual_network_name": "vnet", "subnet_name": "subnet"}}});
    let props = json!({"instance_type": "Standard_D2s_v3",
        "root_disk": {"type": "Standard_LRS"}, "availability_zone": "1"});

    let uuid = stemcell.trim_start_matches("bosh-stemcell-");
    let image_id = arm_id(
        &env,
        "Microsoft.Compute/images",
        &format!("{uuid}-S-eastus"),
    );
    for agent in [AGENT_ID, "7b3f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b02"] {
        let result = env.sim.ok(
            "create_vm",
            json!([agent, stemcell, props, dynamic, [], {}]),
        );
        assert!(result[0].as_str().is_some());
        let vm = env
            .sim
            .resource(&arm_id(&env, "Microsoft.Compute/virtualMachines", agent))
            .unwrap();
        assert!(
            vm["properties"]["storageProfile"]["imageReference"]["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&image_id)),
            "{vm}"
        );
        assert_eq!(vm["zones"], json!(["1"]));
        assert!(vm["properties"].get("availabilitySet").is_none());
        let nic = env
            .sim
            .resource(&arm_id(
                &env,
                "Microsoft.Network/networkInterfaces",
                &format!("{agent}-0"),
            ))
            .unwrap();
        assert_eq!(
            nic["properties"]["ipConfigurations"][0]["properties"]["privateIPAllocationMethod"],
            json!("Dynamic")
        );
    }
    let image = env.sim.resource(&image_id).expect("the user image exists");
    assert_eq!(
        image["properties"]["storageProfile"]["osDisk"]["storageAccountType"],
        json!("Standard_LRS")
    );
    let images = env.sim.sim.inventory()["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == json!("Microsoft.Compute/images"))
        .count();
    assert_eq!(images, 1, "the second VM reuses the image");
}

#[test]
fn vip_load_balancer_and_asg_attach_to_the_primary_nic_and_keep_failed_vms_keeps_resources() {
    let Some(env) = start() else { return };
    let rg = env.sim.rg_id();
    env.sim.seed(json!([
        {
            "id": format!("{rg}/providers/Microsoft.Network/publicIPAddresses/vip-ip"),
            "location": "eastus", "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/loadBalancers/lb"),
            "location": "eastus",
            "properties": {"backendAddressPools": [{"name": "pool-a"}, {"name": "pool-b"}]}
        },
        {
            "id": format!("{rg}/providers/Microsoft.Network/applicationSecurityGroups/asg"),
            "location": "eastus", "properties": {}
        }
    ]));
    let vip_id = arm_id(&env, "Microsoft.Network/publicIPAddresses", "vip-ip");
    let address = env.sim.resource(&vip_id).unwrap()["properties"]["ipAddress"]
        .as_str()
        .expect("the sim gave the static IP an address")
        .to_owned();
    let stemcell = light_stemcell(&env);
    let before = inventory_ids(&env);
    let mut networks = manual_network();
    networks["public"] = json!({"type": "vip", "ip": address, "cloud_properties": {}});
    let props = json!({"instance_type": "Standard_D2s_v3",
        "load_balancer": {"name": "lb", "backend_pool_name": "pool-b"},
        "application_security_groups": ["asg"]});

    let result = env.sim.ok(
        "create_vm",
        json!([AGENT_ID, stemcell, props, networks, [], {}]),
    );
    let vm_cid = result[0].as_str().unwrap().to_owned();
    let nic = env
        .sim
        .resource(&arm_id(
            &env,
            "Microsoft.Network/networkInterfaces",
            &format!("{AGENT_ID}-0"),
        ))
        .unwrap();
    let ipconfig = &nic["properties"]["ipConfigurations"][0]["properties"];
    assert!(
        ipconfig["publicIPAddress"]["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(&vip_id)),
        "{nic}"
    );
    let pools = ipconfig["loadBalancerBackendAddressPools"]
        .as_array()
        .unwrap();
    assert_eq!(pools.len(), 1, "{nic}");
    assert!(
        pools[0]["id"]
            .as_str()
            .unwrap()
            .ends_with("/backendAddressPools/pool-b")
    );
    assert!(
        ipconfig["applicationSecurityGroups"][0]["id"]
            .as_str()
            .unwrap()
            .ends_with("/applicationSecurityGroups/asg")
    );

    // keep_failed_vms: the failed VM's resources stay, and the message names them.
    env.sim.write_config(|azure| {
        azure.insert("keep_failed_vms".into(), json!(true));
        azure.insert("storage_account_name".into(), json!("devstoreaccount1"));
    });
    env.sim
        .sim
        .add_fault(Fault {
            method: Some("PUT".into()),
            path: "/virtualMachines/".into(),
            nth: None,
            times: Some(1),
            probability: None,
            action: FaultAction::LroFailed {
                code: "InternalExecutionError".into(),
                message: "Something broke.".into(),
                canceled: false,
                retry_after_secs: None,
            },
        })
        .unwrap();
    let other = "8c4f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b03";
    let mut other_networks = manual_network();
    other_networks["private"]["ip"] = json!("10.0.0.11");
    let run = env.sim.call(
        "create_vm",
        json!([other, stemcell, {"instance_type": "Standard_D2s_v3"}, other_networks, [], {}]),
    );
    assert_eq!(
        error_type(&run.response),
        Some("Bosh::Clouds::VMCreationFailed"),
        "{}",
        run.stdout
    );
    assert_eq!(run.response["error"]["ok_to_retry"], json!(false));
    assert!(run.stdout.contains("keep_failed_vms"), "{}", run.stdout);
    assert!(
        env.sim
            .resource(&arm_id(
                &env,
                "Microsoft.Network/networkInterfaces",
                &format!("{other}-0")
            ))
            .is_some(),
        "the failed VM's NIC is kept"
    );

    // delete_vm removes both, failed or not, and leaves the vip in place.
    for cid in [vm_cid, format!("agent_id:{other};resource_group_name:rg")] {
        env.sim.ok("delete_vm", json!([cid]));
    }
    assert_eq!(inventory_ids(&env), before);
}

#[test]
fn concurrent_creates_into_one_availability_set_all_succeed_and_share_it() {
    let Some(env) = start() else { return };
    let stemcell = light_stemcell(&env);
    let before = inventory_ids(&env);
    let agents: Vec<String> = (0..16)
        .map(|i| format!("9d5f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0c{i:02}"))
        .collect();
    let cids: Vec<String> = std::thread::scope(|scope| {
        let runs: Vec<_> = agents
            .iter()
            .enumerate()
            .map(|(i, agent)| {
                let (env, stemcell) = (&env, &stemcell);
                scope.spawn(move || {
                    let mut networks = manual_network();
                    networks["private"]["ip"] = json!(format!("10.0.0.{}", 20 + i));
                    let result = env.sim.ok(
                        "create_vm",
                        json!([agent, stemcell, {"instance_type": "Standard_D2s_v3"},
                               networks, [], {"bosh": {"group": "shared-group"}}]),
                    );
                    result[0].as_str().unwrap().to_owned()
                })
            })
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let set_id = arm_id(&env, "Microsoft.Compute/availabilitySets", "shared-group");
    let vms = inventory_ids(&env)
        .iter()
        .filter(|id| id.contains("/microsoft.compute/virtualmachines/"))
        .count();
    assert_eq!(vms, agents.len(), "16 VMs");
    let sets: Vec<String> = inventory_ids(&env)
        .into_iter()
        .filter(|id| id.contains("/microsoft.compute/availabilitysets/"))
        .collect();
    assert_eq!(sets, [set_id.to_ascii_lowercase()], "one availability set");
    let set_puts = env
        .sim
        .sim
        .request_log()
        .iter()
        .filter(|r| r.method == "PUT" && r.path.eq_ignore_ascii_case(&set_id))
        .count();
    assert_eq!(set_puts, 1, "the set was created once, under the lock");
    for agent in &agents {
        let vm = env
            .sim
            .resource(&arm_id(&env, "Microsoft.Compute/virtualMachines", agent))
            .unwrap();
        assert!(
            vm["properties"]["availabilitySet"]["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(&set_id)),
            "{vm}"
        );
    }
    for cid in &cids {
        env.sim.ok("delete_vm", json!([cid]));
    }
    assert_eq!(
        inventory_ids(&env),
        before,
        "the last delete_vm removed the set"
    );
}

#[test]
fn delete_vm_without_a_vm_still_removes_kept_nics_public_ip_and_the_set_named_by_the_nic() {
    let Some(env) = start() else { return };
    let stemcell = light_stemcell(&env);
    let before = inventory_ids(&env);
    env.sim.write_config(|azure| {
        azure.insert("keep_failed_vms".into(), json!(true));
        azure.insert("storage_account_name".into(), json!("devstoreaccount1"));
    });
    env.sim
        .sim
        .add_fault(Fault {
            method: Some("PUT".into()),
            path: "/virtualMachines/".into(),
            nth: None,
            times: Some(1),
            probability: None,
            action: FaultAction::Status {
                status: 409,
                code: Some("OperationNotAllowed".into()),
                message: Some("Operation results in exceeding quota limits of Core.".into()),
                retry_after_secs: None,
            },
        })
        .unwrap();
    let run = env.sim.call(
        "create_vm",
        json!([AGENT_ID, stemcell,
               {"instance_type": "Standard_D2s_v3", "assign_dynamic_public_ip": true},
               manual_network(), [], {"bosh": {"group": "kept-group"}}]),
    );
    assert_eq!(
        run.response["error"]["ok_to_retry"],
        json!(false),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("OperationNotAllowed"), "{}", run.stdout);
    let set_id = arm_id(&env, "Microsoft.Compute/availabilitySets", "kept-group");
    assert!(env.sim.resource(&set_id).is_some(), "kept");
    assert!(
        env.sim
            .resource(&arm_id(&env, "Microsoft.Compute/virtualMachines", AGENT_ID))
            .is_none()
    );

    env.sim.ok(
        "delete_vm",
        json!([format!("agent_id:{AGENT_ID};resource_group_name:rg")]),
    );
    assert_eq!(inventory_ids(&env), before);
}

/// A fault on one create_vm step, and what the Director must get back.
struct StepFailure {
    step: &'static str,
    method: &'static str,
    path: &'static str,
    action: FaultAction,
    code: &'static str,
    ok_to_retry: bool,
}

fn status(status: u16, code: &str, message: &str) -> FaultAction {
    FaultAction::Status {
        status,
        code: Some(code.into()),
        message: Some(message.into()),
        retry_after_secs: None,
    }
}

fn lro_failed(code: &str, message: &str) -> FaultAction {
    FaultAction::LroFailed {
        code: code.into(),
        message: message.into(),
        canceled: false,
        retry_after_secs: None,
    }
}

#[test]
fn a_failure_at_each_step_leaves_the_inventory_as_it_was_and_answers_the_right_retry() {
    let Some(env) = start() else { return };
    let stemcell = light_stemcell(&env);
    let before = inventory_ids(&env);
    // Every step runs: availability set, dynamic public IP, NIC, VM.
    let create = json!([
        AGENT_ID,
        stemcell,
        {"instance_type": "Standard_D2s_v3", "assign_dynamic_public_ip": true},
        manual_network(),
        [],
        {"bosh": {"group": "step-failure-group"}}
    ]);
    let quota = "Operation could not be completed as it results in exceeding approved Total Regional Cores quota.";
    let cases = [
        StepFailure {
            step: "availability set PUT",
            method: "PUT",
            path: "/availabilitySets/",
            action: status(
                400,
                "InvalidParameter",
                "The value of parameter platformFaultDomainCount is invalid.",
            ),
            code: "InvalidParameter",
            ok_to_retry: false,
        },
        StepFailure {
            step: "public IP PUT",
            method: "PUT",
            path: "/publicIPAddresses/",
            action: status(
                400,
                "PublicIPCountLimitReached",
                "Cannot create more than 10 public IP addresses.",
            ),
            code: "PublicIPCountLimitReached",
            ok_to_retry: false,
        },
        StepFailure {
            step: "NIC PUT",
            method: "PUT",
            path: "/networkInterfaces/",
            action: status(
                400,
                "PrivateIPAddressInUse",
                "IP configuration is using the private IP address 10.0.0.10 which is already in use.",
            ),
            code: "PrivateIPAddressInUse",
            ok_to_retry: false,
        },
        StepFailure {
            step: "VM PUT refused (quota)",
            method: "PUT",
            path: "/virtualMachines/",
            action: status(409, "OperationNotAllowed", quota),
            code: "OperationNotAllowed",
            ok_to_retry: false,
        },
        StepFailure {
            step: "VM LRO Failed (zonal allocation)",
            method: "PUT",
            path: "/virtualMachines/",
            action: lro_failed(
                "ZonalAllocationFailed",
                "Allocation failed. We do not have sufficient capacity in the zone.",
            ),
            code: "ZonalAllocationFailed",
            ok_to_retry: true,
        },
        StepFailure {
            step: "VM LRO Failed (allocation)",
            method: "PUT",
            path: "/virtualMachines/",
            action: lro_failed("AllocationFailed", "Allocation failed."),
            code: "AllocationFailed",
            ok_to_retry: true,
        },
        StepFailure {
            step: "VM LRO Failed (quota)",
            method: "PUT",
            path: "/virtualMachines/",
            action: lro_failed("OperationNotAllowed", quota),
            code: "OperationNotAllowed",
            ok_to_retry: false,
        },
    ];
    for case in cases {
        env.sim.sim.clear_faults();
        env.sim
            .sim
            .add_fault(Fault {
                method: Some(case.method.into()),
                path: case.path.into(),
                nth: None,
                times: Some(1),
                probability: None,
                action: case.action,
            })
            .unwrap();
        let run = env.sim.call("create_vm", create.clone());
        assert_eq!(
            error_type(&run.response),
            Some("Bosh::Clouds::VMCreationFailed"),
            "{}: {}",
            case.step,
            run.stdout
        );
        assert_eq!(
            run.response["error"]["ok_to_retry"],
            json!(case.ok_to_retry),
            "{}: {}",
            case.step,
            run.stdout
        );
        assert!(
            run.stdout.contains(case.code),
            "{}: Azure's code in the message: {}",
            case.step,
            run.stdout
        );
        assert_eq!(
            inventory_ids(&env),
            before,
            "{}: everything created was deleted",
            case.step
        );
    }
    // With the faults gone the same request converges.
    env.sim.sim.clear_faults();
    env.sim.ok("create_vm", create);
}
