//! Per-resource PUT/GET/DELETE, LROs through both headers, referential integrity and request
//! validation.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The URL of `rest` (`Namespace/type/name...`) in the resource group every test uses, "rg".
fn path(sim: &TestSim, rest: &str, v: &str) -> String {
    format!("{}/providers/{rest}?api-version={v}", sim.rg("rg"))
}

/// PUTs and waits for the operation; returns the final GET body.
async fn create(sim: &TestSim, url: &str, body: Value) -> Value {
    let r = sim.put(url, &body).await;
    assert!(r.status.is_success(), "PUT {url}: {} {}", r.status, r.body);
    if r.header("azure-asyncoperation").is_some() {
        let status = sim.wait_async(&r).await;
        assert_eq!(status["status"], "Succeeded", "{status}");
    } else if r.status == StatusCode::ACCEPTED {
        let done = sim.wait_location(&r).await;
        assert_eq!(done.status, StatusCode::OK);
    }
    let g = sim.get(url).await;
    assert_eq!(g.status, StatusCode::OK, "GET {url}: {}", g.body);
    assert_eq!(
        g.body["properties"]["provisioningState"], "Succeeded",
        "{}",
        g.body
    );
    g.body
}

async fn network(sim: &TestSim) -> (String, String) {
    sim.group("rg").await;
    let vnet = path(sim, "Microsoft.Network/virtualNetworks/vnet", NETWORK);
    let body = create(sim, &vnet, json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})).await;
    let subnet_id = body["properties"]["subnets"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let nic = path(sim, "Microsoft.Network/networkInterfaces/nic1", NETWORK);
    let body = create(sim, &nic, json!({"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": subnet_id}}}]}})).await;
    (subnet_id, body["id"].as_str().unwrap().to_string())
}

async fn gallery_version(sim: &TestSim) -> String {
    let sa = path(sim, "Microsoft.Storage/storageAccounts/stemcells", STORAGE);
    let account = create(
        sim,
        &sa,
        json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
    )
    .await;
    let g = path(sim, "Microsoft.Compute/galleries/gal", GALLERY);
    create(sim, &g, json!({"location": "eastus"})).await;
    let d = path(
        sim,
        "Microsoft.Compute/galleries/gal/images/ubuntu",
        GALLERY,
    );
    create(sim, &d, json!({"location": "eastus", "properties": {"identifier": {"publisher": "bosh", "offer": "ubuntu", "sku": "jammy"}, "osType": "Linux", "osState": "Generalized", "hyperVGeneration": "V2"}})).await;
    let v = path(
        sim,
        "Microsoft.Compute/galleries/gal/images/ubuntu/versions/1.500.0",
        GALLERY,
    );
    let body = create(sim, &v, json!({"location": "eastus", "properties": {"storageProfile": {"osDiskImage": {"source": {"storageAccountId": account["id"], "uri": "https://stemcells.blob.core.windows.net/stemcell/root.vhd"}}}, "publishingProfile": {"replicaCount": 3, "targetRegions": [{"name": "eastus"}]}}})).await;
    body["id"].as_str().unwrap().to_string()
}

fn vm_body(nic: &str, image: &str, data_disks: Value) -> Value {
    json!({"location": "eastus", "properties": {
        "hardwareProfile": {"vmSize": "Standard_D2s_v3"},
        "storageProfile": {"imageReference": {"id": image}, "osDisk": {"name": "vm1-os", "createOption": "FromImage", "caching": "ReadWrite", "managedDisk": {"storageAccountType": "Premium_LRS"}}, "dataDisks": data_disks},
        "osProfile": {"computerName": "vm1", "adminUsername": "vcap", "customData": "c2VjcmV0LWFnZW50LXNldHRpbmdz", "linuxConfiguration": {"disablePasswordAuthentication": true}},
        "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": true}}]}
    }})
}

#[tokio::test]
async fn network_resources_crud_and_integrity() {
    let sim = TestSim::start().await;
    let (subnet_id, nic_id) = network(&sim).await;
    let nic = sim.get(&format!("{nic_id}?api-version={NETWORK}")).await;
    assert_eq!(
        nic.body["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.4"
    );
    assert_eq!(
        nic.body["properties"]["ipConfigurations"][0]["properties"]["primary"],
        true
    );
    // Subnet as child resource.
    let s = sim.get(&format!("{subnet_id}?api-version={NETWORK}")).await;
    assert_eq!(s.status, StatusCode::OK);
    assert_eq!(
        s.body["properties"]["ipConfigurations"][0]["id"],
        format!("{nic_id}/ipConfigurations/ipconfig1")
    );
    // NIC needs an existing subnet.
    let bad = sim.put(&path(&sim, "Microsoft.Network/networkInterfaces/nic2", NETWORK), &json!({"location": "eastus", "properties": {"ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": format!("{subnet_id}x")}}}]}})).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.code(), "InvalidResourceReference");
    // Subnet in use cannot be deleted.
    let r = sim
        .delete(&format!("{subnet_id}?api-version={NETWORK}"))
        .await;
    assert_eq!(r.code(), "InUseSubnetCannotBeDeleted");
    // Public IP, NSG, ASG, LB, AGW.
    let pip = create(&sim, &path(&sim, "Microsoft.Network/publicIPAddresses/pip", NETWORK), json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {"publicIPAllocationMethod": "Static", "idleTimeoutInMinutes": 4}})).await;
    assert!(pip["properties"]["ipAddress"].is_string());
    let nsg = create(&sim, &path(&sim, "Microsoft.Network/networkSecurityGroups/nsg", NETWORK), json!({"location": "eastus", "properties": {"securityRules": [{"name": "ssh", "properties": {"protocol": "Tcp", "access": "Allow", "direction": "Inbound", "priority": 100, "sourcePortRange": "*", "destinationPortRange": "22", "sourceAddressPrefix": "*", "destinationAddressPrefix": "*"}}]}})).await;
    assert_eq!(
        nsg["properties"]["defaultSecurityRules"]
            .as_array()
            .unwrap()
            .len(),
        6
    );
    let asg = create(
        &sim,
        &path(
            &sim,
            "Microsoft.Network/applicationSecurityGroups/asg",
            NETWORK,
        ),
        json!({"location": "eastus"}),
    )
    .await;
    let lb = create(&sim, &path(&sim, "Microsoft.Network/loadBalancers/lb", NETWORK), json!({"location": "eastus", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": pip["id"]}}}],
        "backendAddressPools": [{"name": "pool"}],
        "inboundNatRules": [{"name": "ssh", "properties": {"frontendPort": 50022, "backendPort": 22, "protocol": "Tcp"}}]}})).await;
    let pool_id = lb["properties"]["backendAddressPools"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let agw = create(&sim, &path(&sim, "Microsoft.Network/applicationGateways/agw", NETWORK), json!({"location": "eastus", "properties": {"sku": {"name": "Standard_v2", "tier": "Standard_v2", "capacity": 2}, "backendAddressPools": [{"name": "agwpool"}]}})).await;
    let agw_pool = agw["properties"]["backendAddressPools"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A NIC in the LB and AGW pools, with NSG and ASG.
    let nic3 = create(&sim, &path(&sim, "Microsoft.Network/networkInterfaces/nic3", NETWORK), json!({"location": "eastus", "properties": {
        "networkSecurityGroup": {"id": nsg["id"]},
        "ipConfigurations": [{"name": "c", "properties": {"subnet": {"id": subnet_id}, "privateIPAllocationMethod": "Static", "privateIPAddress": "10.0.0.10",
            "loadBalancerBackendAddressPools": [{"id": pool_id}], "applicationGatewayBackendAddressPools": [{"id": agw_pool}], "applicationSecurityGroups": [{"id": asg["id"]}]}}]}})).await;
    assert_eq!(
        nic3["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"],
        "10.0.0.10"
    );
    let lb_now = sim
        .get(&path(&sim, "Microsoft.Network/loadBalancers/lb", NETWORK))
        .await;
    assert_eq!(
        lb_now.body["properties"]["backendAddressPools"][0]["properties"]["backendIPConfigurations"]
            [0]["id"],
        format!("{}/ipConfigurations/c", nic3["id"].as_str().unwrap())
    );
    // Used resources cannot be deleted.
    let r = sim
        .delete(&path(
            &sim,
            "Microsoft.Network/networkSecurityGroups/nsg",
            NETWORK,
        ))
        .await;
    assert_eq!(r.code(), "InUseNetworkSecurityGroupCannotBeDeleted");
    let r = sim
        .delete(&path(
            &sim,
            "Microsoft.Network/publicIPAddresses/pip",
            NETWORK,
        ))
        .await;
    assert_eq!(r.code(), "PublicIPAddressCannotBeDeleted");
    // NIC delete: 202 with both headers, Location poll ends 204, then 404.
    let r = sim
        .delete(&format!(
            "{}?api-version={NETWORK}",
            nic3["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.header("azure-asyncoperation").is_some());
    let done = sim.wait_location(&r).await;
    assert_eq!(done.status, StatusCode::NO_CONTENT);
    let r = sim
        .get(&format!(
            "{}?api-version={NETWORK}",
            nic3["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for p in [
        "networkSecurityGroups/nsg",
        "applicationSecurityGroups/asg",
        "loadBalancers/lb",
        "applicationGateways/agw",
        "publicIPAddresses/pip",
    ] {
        let r = sim
            .delete(&path(&sim, &format!("Microsoft.Network/{p}"), NETWORK))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{p}: {}", r.body);
        let st = sim.wait_async(&r).await;
        assert_eq!(st["status"], "Succeeded");
        let r = sim
            .get(&path(&sim, &format!("Microsoft.Network/{p}"), NETWORK))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
    }
    // Deleting what is not there: 204.
    let r = sim
        .delete(&path(
            &sim,
            "Microsoft.Network/publicIPAddresses/pip",
            NETWORK,
        ))
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn vm_lifecycle_with_disks_and_integrity() {
    let sim = TestSim::start().await;
    let (_, nic_id) = network(&sim).await;
    let image = gallery_version(&sim).await;
    let disk_url = path(&sim, "Microsoft.Compute/disks/data1", DISK);
    // Disk create: 202 with both headers; status carries the disk in properties.output.
    let r = sim.put(&disk_url, &json!({"location": "eastus", "sku": {"name": "Premium_LRS"}, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 10}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.header("location").unwrap().contains("monitor=true"));
    let st = sim.wait_async(&r).await;
    assert_eq!(st["properties"]["output"]["properties"]["diskSizeGB"], 10);
    let disk = sim.get(&disk_url).await.body;
    assert_eq!(disk["properties"]["diskState"], "Unattached");
    let polled = sim.get(&r.header("azure-asyncoperation").unwrap()).await;
    assert!(
        polled
            .header("x-ms-ratelimit-remaining-resource")
            .unwrap()
            .starts_with("Microsoft.Compute/GetOperationStatus3Min;")
    );
    // VM needs an existing NIC.
    let vm_url = path(&sim, "Microsoft.Compute/virtualMachines/vm1", COMPUTE);
    let r = sim
        .put(&vm_url, &vm_body(&format!("{nic_id}x"), &image, json!([])))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // VM needs an existing image.
    let r = sim
        .put(&vm_url, &vm_body(&nic_id, &format!("{image}9"), json!([])))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // Create: 201 + Azure-AsyncOperation, provisioningState Creating.
    let r = sim.put(&vm_url, &vm_body(&nic_id, &image, json!([]))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["properties"]["provisioningState"], "Creating");
    assert!(
        r.body["properties"]["osProfile"]
            .get("customData")
            .is_none()
    );
    assert_eq!(sim.wait_async(&r).await["status"], "Succeeded");
    let vm = sim.get(&vm_url).await.body;
    assert!(vm["properties"]["vmId"].is_string());
    let os_disk_id = vm["properties"]["storageProfile"]["osDisk"]["managedDisk"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let os_disk = sim
        .get(&format!("{os_disk_id}?api-version={DISK}"))
        .await
        .body;
    assert_eq!(os_disk["managedBy"], vm["id"]);
    // customData is kept out of responses and the log, but visible in the inventory.
    let log = serde_json::to_string(&sim.handle.request_log()).unwrap();
    assert!(!log.contains("c2VjcmV0LWFnZW50LXNldHRpbmdz"));
    assert!(
        sim.handle
            .inventory()
            .to_string()
            .contains("c2VjcmV0LWFnZW50LXNldHRpbmdz")
    );
    // The NIC now belongs to the VM and cannot be deleted.
    let nic = sim
        .get(&format!("{nic_id}?api-version={NETWORK}"))
        .await
        .body;
    assert_eq!(nic["properties"]["virtualMachine"]["id"], vm["id"]);
    let r = sim.delete(&format!("{nic_id}?api-version={NETWORK}")).await;
    assert_eq!(r.code(), "NicInUse");
    // Attach the data disk through PUT of the whole VM.
    let mut attach = vm.clone();
    attach["properties"]["storageProfile"]["dataDisks"] = json!([{"lun": 0, "createOption": "Attach", "caching": "ReadWrite", "managedDisk": {"id": disk["id"]}}]);
    let r = sim.put(&vm_url, &attach).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["properties"]["provisioningState"], "Updating");
    sim.wait_async(&r).await;
    let d = sim.get(&disk_url).await.body;
    assert_eq!(d["properties"]["diskState"], "Attached");
    assert_eq!(d["managedBy"], vm["id"]);
    // An attached disk cannot be deleted.
    let r = sim.delete(&disk_url).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.code(), "OperationNotAllowed");
    // Duplicate LUNs are rejected.
    let mut dup = attach.clone();
    dup["properties"]["storageProfile"]["dataDisks"] = json!([{"lun": 0, "createOption": "Empty", "diskSizeGB": 1}, {"lun": 0, "createOption": "Empty", "diskSizeGB": 1}]);
    let r = sim.put(&vm_url, &dup).await;
    assert_eq!(r.code(), "InvalidParameter");
    // Restart: 202 with both headers.
    let r = sim
        .post(
            &format!(
                "{}/providers/Microsoft.Compute/virtualMachines/vm1/restart?api-version={COMPUTE}",
                sim.rg("rg")
            ),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(sim.wait_location(&r).await.status, StatusCode::OK);
    // Detach, delete VM, OS disk stays (deleteOption Detach), disk becomes Unattached.
    let r = sim.put(&vm_url, &vm).await;
    sim.wait_async(&r).await;
    assert_eq!(
        sim.get(&disk_url).await.body["properties"]["diskState"],
        "Unattached"
    );
    let r = sim.delete(&vm_url).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(sim.wait_async(&r).await["status"], "Succeeded");
    assert_eq!(sim.get(&vm_url).await.status, StatusCode::NOT_FOUND);
    let os_disk = sim.get(&format!("{os_disk_id}?api-version={DISK}")).await;
    assert_eq!(os_disk.status, StatusCode::OK);
    assert!(os_disk.body.get("managedBy").is_none());
    // Now the NIC and disks can go.
    let r = sim.delete(&format!("{nic_id}?api-version={NETWORK}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = sim.delete(&disk_url).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(sim.wait_location(&r).await.status, StatusCode::OK);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn availability_set_snapshot_image_and_platform_images() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let as_url = path(&sim, "Microsoft.Compute/availabilitySets/as1", COMPUTE);
    let r = sim.put(&as_url, &json!({"location": "eastus", "sku": {"name": "Aligned"}, "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 5}})).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.header("azure-asyncoperation").is_none());
    assert_eq!(r.body["properties"]["virtualMachines"], json!([]));
    let r = sim
        .put(
            &as_url,
            &json!({"location": "eastus", "properties": {"platformFaultDomainCount": 9}}),
        )
        .await;
    assert_eq!(r.code(), "InvalidParameter");
    let sizes = sim
        .get(&format!(
            "{}/providers/Microsoft.Compute/availabilitySets/as1/vmSizes?api-version={COMPUTE}",
            sim.rg("rg")
        ))
        .await;
    assert!(
        sizes.body["value"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "Standard_D2s_v3")
    );
    let r = sim.delete(&as_url).await;
    assert_eq!(r.status, StatusCode::OK);
    // Snapshot of a disk (the Ruby CPI puts the disk id in sourceUri).
    let disk = create(&sim, &path(&sim, "Microsoft.Compute/disks/d", DISK), json!({"location": "eastus", "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 7}})).await;
    let snap = create(&sim, &path(&sim, "Microsoft.Compute/snapshots/s", DISK), json!({"location": "eastus", "properties": {"creationData": {"createOption": "Copy", "sourceUri": disk["id"]}}})).await;
    assert_eq!(snap["properties"]["diskSizeGB"], 7);
    let r = sim.put(&path(&sim, "Microsoft.Compute/snapshots/s2", DISK), &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Copy", "sourceResourceId": format!("{}x", disk["id"].as_str().unwrap())}}})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = sim
        .delete(&path(&sim, "Microsoft.Compute/snapshots/s", DISK))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    // Managed image from a blob.
    let img = create(&sim, &path(&sim, "Microsoft.Compute/images/img", COMPUTE), json!({"location": "eastus", "properties": {"storageProfile": {"osDisk": {"osType": "Linux", "osState": "Generalized", "blobUri": "https://a.blob.core.windows.net/c/root.vhd"}}}})).await;
    assert_eq!(img["properties"]["hyperVGeneration"], "V1");
    let r = sim.put(&path(&sim, "Microsoft.Compute/images/img2", COMPUTE), &json!({"location": "eastus", "properties": {"storageProfile": {"osDisk": {"osType": "Plan9", "osState": "Generalized", "blobUri": "x"}}}})).await;
    assert_eq!(r.code(), "InvalidParameter");
    // Platform image versions: a bare array.
    let r = sim.get(&format!("{}/providers/Microsoft.Compute/locations/eastus/publishers/Canonical/artifacttypes/vmimage/offers/0001-com-ubuntu-server-jammy/skus/22_04-lts/versions?api-version={COMPUTE}", sim.sub())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.as_array().unwrap().len() >= 2);
    // SKUs, filtered by location, paged.
    let r = sim.get(&format!("{}/providers/Microsoft.Compute/skus?api-version=2021-07-01&$filter=location eq 'eastus'", sim.sub())).await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 2);
    assert!(r.body["nextLink"].is_string());
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn storage_account_location_polling_keys_and_names() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let url = path(&sim, "Microsoft.Storage/storageAccounts/boshstore", STORAGE);
    let r = sim.put(&url, &json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2", "tags": {"user-agent": "bosh"}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(r.header("azure-asyncoperation").is_none());
    let done = sim.wait_location(&r).await;
    assert_eq!(done.status, StatusCode::OK);
    assert_eq!(
        done.body["properties"]["primaryEndpoints"]["blob"],
        "https://boshstore.blob.core.windows.net/"
    );
    let keys = sim.post(&format!("{}/providers/Microsoft.Storage/storageAccounts/boshstore/listKeys?api-version={STORAGE}", sim.rg("rg")), None).await;
    assert_eq!(keys.body["keys"].as_array().unwrap().len(), 2);
    let check = format!(
        "{}/providers/Microsoft.Storage/checkNameAvailability?api-version={STORAGE}",
        sim.sub()
    );
    let r = sim
        .post(
            &check,
            Some(&json!({"name": "boshstore", "type": "Microsoft.Storage/storageAccounts"})),
        )
        .await;
    assert_eq!(r.body["nameAvailable"], false);
    assert_eq!(r.body["reason"], "AlreadyExists");
    let r = sim
        .post(
            &check,
            Some(&json!({"name": "Bad_Name", "type": "Microsoft.Storage/storageAccounts"})),
        )
        .await;
    assert_eq!(r.body["reason"], "AccountNameInvalid");
    let r = sim
        .post(
            &check,
            Some(&json!({"name": "freename", "type": "Microsoft.Storage/storageAccounts"})),
        )
        .await;
    assert_eq!(r.body["nameAvailable"], true);
    // Update tags with PATCH.
    let r = sim.patch(&url, &json!({"tags": {"x": "y"}})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["tags"], json!({"x": "y"}));
    // List by subscription and group.
    let r = sim
        .get(&format!(
            "{}/providers/Microsoft.Storage/storageAccounts?api-version={STORAGE}",
            sim.sub()
        ))
        .await;
    assert_eq!(r.body["value"].as_array().unwrap().len(), 1);
    // Validation: bad sku, bad kind, bad name.
    let r = sim
        .put(
            &path(&sim, "Microsoft.Storage/storageAccounts/another", STORAGE),
            &json!({"location": "eastus", "sku": {"name": "Gold"}, "kind": "StorageV2"}),
        )
        .await;
    assert_eq!(r.code(), "InvalidParameter");
    let r = sim
        .put(
            &path(&sim, "Microsoft.Storage/storageAccounts/UPPER", STORAGE),
            &json!({"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}),
        )
        .await;
    assert_eq!(r.code(), "AccountNameInvalid");
    let r = sim.delete(&url).await;
    assert_eq!(r.status, StatusCode::OK);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn gallery_rules() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let image = gallery_version(&sim).await;
    // Replication status on request.
    let r = sim
        .get(&format!(
            "{image}?api-version={GALLERY}&$expand=ReplicationStatus"
        ))
        .await;
    assert_eq!(
        r.body["properties"]["replicationStatus"]["aggregatedState"],
        "Completed"
    );
    assert_eq!(r.body["properties"]["publishingProfile"]["replicaCount"], 3);
    // A version needs its definition.
    let r = sim.put(&path(&sim, "Microsoft.Compute/galleries/gal/images/nope/versions/1.0.0", GALLERY), &json!({"location": "eastus", "properties": {"storageProfile": {"osDiskImage": {"source": {"uri": "x", "storageAccountId": "y"}}}}})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.code(), "ParentResourceNotFound");
    // Version names are Major.Minor.Patch.
    let r = sim
        .put(
            &path(
                &sim,
                "Microsoft.Compute/galleries/gal/images/ubuntu/versions/1.500",
                GALLERY,
            ),
            &json!({"location": "eastus"}),
        )
        .await;
    assert_eq!(r.code(), "InvalidParameter");
    // Source storage account must exist.
    let r = sim.put(&path(&sim, "Microsoft.Compute/galleries/gal/images/ubuntu/versions/2.0.0", GALLERY), &json!({"location": "eastus", "properties": {"storageProfile": {"osDiskImage": {"source": {"uri": "https://x/y.vhd", "storageAccountId": format!("{}/providers/Microsoft.Storage/storageAccounts/missing", sim.rg("rg"))}}}}})).await;
    assert_eq!(r.code(), "InvalidParameter");
    // Definitions: required identifier, unique identifier.
    let r = sim.put(&path(&sim, "Microsoft.Compute/galleries/gal/images/dup", GALLERY), &json!({"location": "eastus", "properties": {"identifier": {"publisher": "bosh", "offer": "ubuntu", "sku": "jammy"}, "osType": "Linux", "osState": "Generalized"}})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = sim.put(&path(&sim, "Microsoft.Compute/galleries/gal/images/noid", GALLERY), &json!({"location": "eastus", "properties": {"osType": "Linux", "osState": "Generalized"}})).await;
    assert_eq!(r.code(), "InvalidParameter");
    // A definition with versions cannot be deleted; galleries list their images.
    let r = sim
        .delete(&path(
            &sim,
            "Microsoft.Compute/galleries/gal/images/ubuntu",
            GALLERY,
        ))
        .await;
    assert_eq!(r.code(), "CannotDeleteResource");
    let r = sim
        .get(&path(
            &sim,
            "Microsoft.Compute/galleries/gal/images",
            GALLERY,
        ))
        .await;
    assert_eq!(r.body["value"][0]["name"], "ubuntu");
    let r = sim.delete(&format!("{image}?api-version={GALLERY}")).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert_eq!(sim.wait_async(&r).await["status"], "Succeeded");
    let r = sim
        .delete(&path(
            &sim,
            "Microsoft.Compute/galleries/gal/images/ubuntu",
            GALLERY,
        ))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn request_validation_errors() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    let url = path(&sim, "Microsoft.Compute/disks/d", DISK);
    let r = sim
        .client
        .put(format!("{}{url}", sim.handle.base_url()))
        .bearer_auth(&sim.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidRequestContent");
    let r = sim
        .put(
            &url,
            &json!({"properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 1}}),
        )
        .await;
    assert_eq!(r.code(), "LocationRequired");
    let r = sim.put(&url, &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": "ten"}})).await;
    assert_eq!(r.code(), "InvalidRequestContent");
    let r = sim.put(&url, &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Sideways"}}})).await;
    assert_eq!(r.code(), "InvalidParameter");
    let r = sim.put(&url, &json!({"location": "eastus", "tags": {"a": 1}, "properties": {"creationData": {"createOption": "Empty"}, "diskSizeGB": 1}})).await;
    assert_eq!(r.code(), "InvalidRequestContent");
    let r = sim.put(&url, &json!({"location": "eastus", "properties": {"creationData": {"createOption": "Empty"}}})).await;
    assert_eq!(r.code(), "InvalidParameter");
    // Read-only provisioningState in a request is ignored.
    let r = sim.put(&url, &json!({"location": "eastus", "properties": {"provisioningState": "Failed", "creationData": {"createOption": "Empty"}, "diskSizeGB": 4}})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    sim.wait_async(&r).await;
    assert_eq!(
        sim.get(&url).await.body["properties"]["provisioningState"],
        "Succeeded"
    );
    // Shrinking a disk is refused.
    let r = sim
        .patch(&url, &json!({"properties": {"diskSizeGB": 2}}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Unknown VM size.
    let r = sim.put(&path(&sim, "Microsoft.Compute/virtualMachines/v", COMPUTE), &json!({"location": "eastus", "properties": {"hardwareProfile": {"vmSize": "Standard_Huge"}}})).await;
    assert_eq!(r.code(), "InvalidParameter");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn resources_filter_by_tag_omits_tags() {
    let sim = TestSim::start().await;
    sim.group("rg").await;
    for (name, tag) in [("a", "x"), ("b", "y"), ("c", "x")] {
        create(
            &sim,
            &path(
                &sim,
                &format!("Microsoft.Compute/galleries/g{name}"),
                GALLERY,
            ),
            json!({"location": "eastus", "tags": {"stemcell": tag}}),
        )
        .await;
    }
    let r = sim
        .get(&format!(
            "{}/resources?api-version={RES}&$filter=tagName eq 'stemcell' and tagValue eq 'x'",
            sim.rg("rg")
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let names: Vec<&str> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ga", "gc"]);
    assert!(r.body["value"][0].get("tags").is_none());
    let r = sim
        .get(&format!("{}/resources?api-version={RES}", sim.rg("rg")))
        .await;
    assert!(r.body["value"][0].get("tags").is_some());
    assert!(r.body["nextLink"].is_string());
    let r = sim
        .get(&format!(
            "{}/resources?api-version={RES}&$filter=bogus",
            sim.rg("rg")
        ))
        .await;
    assert_eq!(r.code(), "InvalidFilterInQueryString");
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn seed_inventory_and_reset() {
    let sim = TestSim::start().await;
    let rg = sim.rg("fixtures");
    let ids = sim.handle.seed(json!([
        {"id": format!("{rg}/providers/Microsoft.Network/virtualNetworks/vnet"), "location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.1.0.0/16"]}, "subnets": [{"name": "s", "properties": {"addressPrefix": "10.1.0.0/24"}}]}},
        {"id": format!("{rg}/providers/Microsoft.Network/networkSecurityGroups/nsg"), "location": "eastus"}
    ])).unwrap();
    assert_eq!(ids.len(), 2);
    let r = sim
        .get(&format!(
            "{rg}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/s?api-version={NETWORK}"
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let inv = sim.handle.inventory();
    assert_eq!(inv["count"], 4, "{inv}");
    // Control API over HTTP.
    let inv2: Value = sim
        .client
        .get(format!("{}/_sim/inventory", sim.handle.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(inv, inv2);
    let r = sim
        .client
        .post(format!("{}/_sim/reset", sim.handle.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(sim.handle.inventory()["count"], 0);
    assert!(sim.handle.request_log().is_empty());
    sim.handle.shutdown().await;
}

#[tokio::test]
async fn vm_etag_guards_read_modify_write() {
    let sim = TestSim::start().await;
    let (_, nic_id) = network(&sim).await;
    let image = gallery_version(&sim).await;
    let vm_url = path(&sim, "Microsoft.Compute/virtualMachines/vm1", COMPUTE);
    let r = sim.put(&vm_url, &vm_body(&nic_id, &image, json!([]))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let first = sim.get(&vm_url).await.body["etag"].clone();
    assert_eq!(first, "\"1\"");
    let if_match = |etag: &str| {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("if-match", etag.parse().unwrap());
        headers
    };
    let patch = |etag: &str, tag: &str| {
        sim.client
            .patch(format!("{}{vm_url}", sim.handle.base_url()))
            .bearer_auth(&sim.token)
            .headers(if_match(etag))
            .json(&json!({"tags": {"who": tag}}))
            .send()
    };
    // The current ETag wins and bumps it; the stale one is refused with 412 and changes nothing.
    let r = patch("\"1\"", "a").await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = patch("\"1\"", "b").await.unwrap();
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "PreconditionFailed");
    let vm = sim.get(&vm_url).await.body;
    assert_eq!(vm["etag"], "\"2\"");
    assert_eq!(vm["tags"], json!({"who": "a"}));
    // `*` matches any existing resource; a PATCH of a missing one is a plain 404.
    assert_eq!(patch("*", "c").await.unwrap().status(), StatusCode::OK);
    let missing = path(&sim, "Microsoft.Compute/virtualMachines/nope", COMPUTE);
    let r = sim
        .client
        .patch(format!("{}{missing}", sim.handle.base_url()))
        .bearer_auth(&sim.token)
        .headers(if_match("*"))
        .json(&json!({"tags": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    sim.handle.shutdown().await;
}
