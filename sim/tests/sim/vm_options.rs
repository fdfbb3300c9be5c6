//! ARM's checks of Trusted Launch, encryption at host, Ultra disks, Spot fields and proximity
//! placement groups on a VM PUT, and the SKU capabilities behind them.

use crate::common::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn path(sim: &TestSim, rest: &str, v: &str) -> String {
    format!("{}/providers/{rest}?api-version={v}", sim.rg("rg"))
}

/// A NIC for the VM, in a fresh VNet.
async fn nic(sim: &TestSim) -> String {
    sim.group("rg").await;
    let vnet = path(sim, "Microsoft.Network/virtualNetworks/vnet", NETWORK);
    let r = sim.put(&vnet, &json!({"location": "eastus", "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}, "subnets": [{"name": "default", "properties": {"addressPrefix": "10.0.0.0/24"}}]}})).await;
    sim.wait_async(&r).await;
    let subnet = format!("{}/subnets/default", r.body["id"].as_str().unwrap());
    let nic = path(sim, "Microsoft.Network/networkInterfaces/nic1", NETWORK);
    let r = sim.put(&nic, &json!({"location": "eastus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": subnet}}}]}})).await;
    sim.wait_async(&r).await;
    r.body["id"].as_str().unwrap().to_owned()
}

/// A Linux VM from a platform image (`sku` `22_04-lts` is Gen1, `22_04-lts-gen2` Gen2).
fn vm(nic: &str, size: &str, image_sku: &str, extra: Value) -> Value {
    let mut body = json!({"location": "eastus", "properties": {
        "hardwareProfile": {"vmSize": size},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": image_sku, "version": "latest"},
                           "osDisk": {"createOption": "FromImage"}},
        "osProfile": {"computerName": "vm1", "adminUsername": "vcap", "linuxConfiguration": {"disablePasswordAuthentication": true}},
        "networkProfile": {"networkInterfaces": [{"id": nic, "properties": {"primary": true}}]}
    }});
    if let (Some(target), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        for (key, value) in extra {
            if key == "properties" {
                for (k, v) in value.as_object().unwrap() {
                    target["properties"][k] = v.clone();
                }
            } else {
                target.insert(key.clone(), value.clone());
            }
        }
    }
    body
}

async fn refused(sim: &TestSim, body: &Value, status: StatusCode, code: &str, message: &str) {
    let url = path(sim, "Microsoft.Compute/virtualMachines/vm1", COMPUTE);
    let r = sim.put(&url, body).await;
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.code(), code, "{}", r.body);
    let text = r.body["error"]["message"].as_str().unwrap_or_default();
    assert!(text.contains(message), "{text}");
}

async fn accepted(sim: &TestSim, body: &Value) -> Value {
    let url = path(sim, "Microsoft.Compute/virtualMachines/vm1", COMPUTE);
    let r = sim.put(&url, body).await;
    assert!(r.status.is_success(), "{}", r.body);
    let status = sim.wait_async(&r).await;
    assert_eq!(status["status"], "Succeeded", "{status}");
    sim.get(&url).await.body
}

const TL: &str = "{\"securityType\": \"TrustedLaunch\", \"uefiSettings\": {\"secureBootEnabled\": true, \"vTpmEnabled\": true}}";

#[tokio::test]
async fn trusted_launch_needs_a_gen2_image_and_a_capable_size() {
    let sim = TestSim::start().await;
    let nic = nic(&sim).await;
    let tl: Value = serde_json::from_str(TL).unwrap();
    let security = json!({"properties": {"securityProfile": tl}});
    refused(
        &sim,
        &vm(&nic, "Standard_D2s_v3", "22_04-lts", security.clone()),
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "Use of TrustedLaunch setting is not supported for the provided image.",
    )
    .await;
    refused(
        &sim,
        &vm(&nic, "Standard_A1_v2", "22_04-lts-gen2", security.clone()),
        StatusCode::BAD_REQUEST,
        "BadRequest",
        "The VM size 'Standard_A1_v2' is not supported for creation of VMs and Virtual Machine Scale Set with 'TrustedLaunch' security type.",
    )
    .await;
    refused(
        &sim,
        &vm(
            &nic,
            "Standard_A1_v2",
            "22_04-lts-gen2",
            json!({"properties": {"securityProfile": {"encryptionAtHost": true}}}),
        ),
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        "does not support encryption at host",
    )
    .await;
    let created = accepted(
        &sim,
        &vm(&nic, "Standard_D2s_v3", "22_04-lts-gen2", security),
    )
    .await;
    assert_eq!(created["properties"]["securityProfile"], tl);
}

#[tokio::test]
async fn ultra_disks_need_the_vm_capability_a_zone_and_no_caching() {
    let sim = TestSim::start().await;
    let nic = nic(&sim).await;
    let ultra_disk = json!([{"lun": 0, "createOption": "Empty", "diskSizeGB": 16,
                              "managedDisk": {"storageAccountType": "UltraSSD_LRS"}}]);
    let storage = |disks: &Value| {
        json!({"storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy", "sku": "22_04-lts", "version": "latest"},
                                  "osDisk": {"createOption": "FromImage"}, "dataDisks": disks}})
    };
    refused(
        &sim,
        &vm(&nic, "Standard_D2s_v3", "22_04-lts", json!({"zones": ["1"], "properties": storage(&ultra_disk)})),
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        "StorageAccountType UltraSSD_LRS can be used only when additionalCapabilities.ultraSSDEnabled is set.",
    )
    .await;
    let mut enabled = storage(&ultra_disk);
    enabled["additionalCapabilities"] = json!({"ultraSSDEnabled": true});
    refused(
        &sim,
        &vm(&nic, "Standard_D2s_v3", "22_04-lts", json!({"properties": enabled.clone()})),
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        "UltraSSD is not supported for VM size 'Standard_D2s_v3' in this region without an availability zone.",
    )
    .await;
    let mut cached = enabled.clone();
    cached["storageProfile"]["dataDisks"][0]["caching"] = json!("ReadOnly");
    refused(
        &sim,
        &vm(
            &nic,
            "Standard_D2s_v3",
            "22_04-lts",
            json!({"zones": ["1"], "properties": cached}),
        ),
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        "Caching 'ReadOnly' is not supported for disks with storage account type UltraSSD_LRS.",
    )
    .await;
    accepted(
        &sim,
        &vm(
            &nic,
            "Standard_D2s_v3",
            "22_04-lts",
            json!({"zones": ["1"], "properties": enabled}),
        ),
    )
    .await;
}

#[tokio::test]
async fn spot_fields_and_proximity_placement_groups() {
    let sim = TestSim::start().await;
    let nic = nic(&sim).await;
    refused(
        &sim,
        &vm(
            &nic,
            "Standard_D2s_v3",
            "22_04-lts",
            json!({"properties": {"evictionPolicy": "Delete"}}),
        ),
        StatusCode::BAD_REQUEST,
        "EvictionPolicyCanBeSetOnlyOnAzureSpotVirtualMachines",
        "Eviction policy can be set only on Azure Spot Virtual Machines.",
    )
    .await;
    refused(
        &sim,
        &vm(
            &nic,
            "Standard_D2s_v3",
            "22_04-lts",
            json!({"properties": {"priority": "Spot", "billingProfile": {"maxPrice": 0}}}),
        ),
        StatusCode::BAD_REQUEST,
        "MaxPriceValueInvalid",
        "The only supported values for max price are -1 or a decimal greater than zero.",
    )
    .await;
    let set = path(&sim, "Microsoft.Compute/availabilitySets/as1", COMPUTE);
    let r = sim
        .put(
            &set,
            &json!({"location": "eastus", "sku": {"name": "Aligned"}}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    refused(
        &sim,
        &vm(
            &nic,
            "Standard_D2s_v3",
            "22_04-lts",
            json!({"properties": {"priority": "Spot", "availabilitySet": {"id": r.body["id"]}}}),
        ),
        StatusCode::BAD_REQUEST,
        "AzureSpotVMNotSupportedInAvailabilitySet",
        "Azure Spot Virtual Machine is not supported in Availability Set.",
    )
    .await;
    let ppg = format!(
        "{}/providers/Microsoft.Compute/proximityPlacementGroups/ppg",
        sim.rg("rg")
    );
    refused(
        &sim,
        &vm(
            &nic,
            "Standard_D2s_v3",
            "22_04-lts",
            json!({"properties": {"proximityPlacementGroup": {"id": ppg}}}),
        ),
        StatusCode::NOT_FOUND,
        "NotFound",
        "proximityPlacementGroups/ppg not found",
    )
    .await;
    let r = sim
        .put(
            // The newest spec here that defines proximityPlacementGroups is 2021-11-01.
            &path(
                &sim,
                "Microsoft.Compute/proximityPlacementGroups/ppg",
                "2021-11-01",
            ),
            &json!({"location": "eastus"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.body);
    let created = accepted(
        &sim,
        &vm(
            &nic,
            "Standard_D2s_v3",
            "22_04-lts",
            json!({"properties": {"priority": "Spot", "evictionPolicy": "Delete",
            "billingProfile": {"maxPrice": -1}, "proximityPlacementGroup": {"id": ppg}}}),
        ),
    )
    .await;
    assert_eq!(created["properties"]["priority"], "Spot");
}

#[tokio::test]
async fn resource_skus_carry_the_capabilities() {
    let sim = TestSim::start().await;
    let mut skus = Vec::new();
    let mut next = Some(format!(
        "{}/providers/Microsoft.Compute/skus?api-version=2021-07-01&$filter=location eq 'eastus'",
        sim.sub()
    ));
    while let Some(url) = next {
        let r = sim.get(&url).await;
        skus.extend(r.body["value"].as_array().unwrap().iter().cloned());
        next = r.body["nextLink"].as_str().map(str::to_owned);
    }
    let find = |name: &str| {
        skus.iter()
            .find(|s| s["name"] == name && s["resourceType"] == "virtualMachines")
            .unwrap()
            .clone()
    };
    let capability = |sku: &Value, name: &str| {
        sku["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .map(|c| c["value"].clone())
    };
    let a1 = find("Standard_A1_v2");
    assert_eq!(
        capability(&a1, "TrustedLaunchDisabled"),
        Some(json!("True"))
    );
    assert_eq!(
        capability(&a1, "EncryptionAtHostSupported"),
        Some(json!("False"))
    );
    let d2s = find("Standard_D2s_v3");
    assert_eq!(capability(&d2s, "TrustedLaunchDisabled"), None);
    assert_eq!(
        d2s["locationInfo"][0]["zoneDetails"],
        json!([{"name": ["1", "2", "3"], "capabilities": [{"name": "UltraSSDAvailable", "value": "True"}]}])
    );
}
