//! Microsoft.Network/networkInterfaces: IP configurations need an existing subnet (and existing
//! public IPs, pools, NSG, ASGs); dynamic private IPs are assigned from the subnet's prefix;
//! `virtualMachine` is derived from the VM using the NIC, which also blocks deletion.

use std::net::Ipv4Addr;

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, expect_array, expect_bool, expect_enum, get, get_str,
    invalid_reference, network_common, props_mut, reference_exists, require_string,
    virtual_machines,
};
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req};

pub(crate) struct NetworkInterfaces;

const TYPE: &str = "Microsoft.Network/networkInterfaces";

fn parse_prefix(prefix: &str) -> Option<(u32, u32)> {
    let (ip, bits) = prefix.split_once('/')?;
    let ip: Ipv4Addr = ip.parse().ok()?;
    let bits: u32 = bits.parse().ok()?;
    (bits <= 32).then(|| (u32::from(ip), bits))
}

/// The IP configurations a stored NIC carries.
pub(crate) fn ip_configurations(nic: &Stored) -> Vec<Value> {
    nic.body["properties"]["ipConfigurations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The first free address of the subnet (Azure reserves the first four).
fn next_free_ip(store: &Store, subnet: &Stored, own_id: &str) -> Option<String> {
    let prefix = get_str(&subnet.body, "properties.addressPrefix").or_else(|| {
        get(&subnet.body, "properties.addressPrefixes")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
    })?;
    let (base, bits) = parse_prefix(prefix)?;
    let size = 1u64 << (32 - bits);
    let used: Vec<String> = store
        .of_type(TYPE)
        .into_iter()
        .filter(|n| !n.id.eq_ignore_ascii_case(own_id))
        .flat_map(ip_configurations)
        .filter_map(|c| get_str(&c, "properties.privateIPAddress").map(str::to_string))
        .collect();
    (4..size.saturating_sub(1))
        .map(|off| Ipv4Addr::from(base.wrapping_add(off as u32)).to_string())
        .find(|ip| !used.contains(ip))
}

impl Kind for NetworkInterfaces {
    fn type_name(&self) -> &'static str {
        TYPE
    }
    fn family(&self) -> Family {
        Family::Network
    }
    fn in_progress_state(&self, _creating: bool) -> &'static str {
        "Succeeded"
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let nic_id = ctx.canonical_id.to_string();
        expect_bool(out, "properties.enableAcceleratedNetworking")?;
        expect_bool(out, "properties.enableIPForwarding")?;
        if let Some(nsg) = get_str(out, "properties.networkSecurityGroup.id")
            && !ctx.store.contains(nsg)
        {
            return Err(invalid_reference(nsg, &nic_id));
        }
        let configs = expect_array(out, "properties.ipConfigurations")?.to_vec();
        if configs.is_empty() {
            return Err(ArmError::bad_request(
                "NetworkInterfaceMustHaveAtLeastOneIpConfiguration",
                format!("Network interface {nic_id} must have at least one IP configuration."),
            ));
        }
        let any_primary = configs
            .iter()
            .any(|c| get(c, "properties.primary").and_then(Value::as_bool) == Some(true));
        let etag = super::weak_etag(ids);
        let mut done = Vec::new();
        for (i, mut c) in configs.into_iter().enumerate() {
            let name = require_string(&c, "name").map_err(|_| {
                ArmError::invalid_parameter(
                    &format!("properties.ipConfigurations[{i}].name"),
                    "IP configuration name is missing.",
                )
            })?;
            // Secondary configurations without a subnet use the first configuration's.
            let inherited = done
                .first()
                .and_then(|f: &Value| get_str(f, "properties.subnet.id"))
                .map(str::to_string);
            let subnet_id = get_str(&c, "properties.subnet.id").map(str::to_string).or(inherited).ok_or_else(|| {
                ArmError::bad_request(
                    "IpConfigurationSubnetIsRequired",
                    format!("IP configuration {nic_id}/ipConfigurations/{name} must reference a subnet."),
                )
            })?;
            let Some(subnet) = ctx.store.get(&subnet_id) else {
                return Err(invalid_reference(&subnet_id, &nic_id));
            };
            let method = expect_enum(
                &c,
                "properties.privateIPAllocationMethod",
                &["Dynamic", "Static"],
            )?
            .unwrap_or("Dynamic");
            let refs = ["properties.publicIPAddress.id"];
            for path in refs {
                if let Some(id) = get_str(&c, path)
                    && !ctx.store.contains(id)
                {
                    return Err(invalid_reference(id, &nic_id));
                }
            }
            for list in [
                "properties.loadBalancerBackendAddressPools",
                "properties.loadBalancerInboundNatRules",
                "properties.applicationGatewayBackendAddressPools",
                "properties.applicationSecurityGroups",
            ] {
                for r in expect_array(&c, list)? {
                    let id = require_string(r, "id")?;
                    if !reference_exists(ctx.store, &id) {
                        return Err(invalid_reference(&id, &nic_id));
                    }
                }
            }
            let ip = match method {
                "Static" => require_string(&c, "properties.privateIPAddress")?,
                _ => get_str(&c, "properties.privateIPAddress")
                    .filter(|_| ctx.existing.is_some())
                    .map(str::to_string)
                    .or_else(|| next_free_ip(ctx.store, subnet, &nic_id))
                    .ok_or_else(|| {
                        ArmError::bad_request(
                            "SubnetIsFull",
                            format!("Subnet {subnet_id} does not have enough free addresses."),
                        )
                    })?,
            };
            c["id"] = json!(format!("{nic_id}/ipConfigurations/{name}"));
            c["etag"] = json!(etag);
            c["type"] = json!(format!("{TYPE}/ipConfigurations"));
            let p = &mut c["properties"];
            p["subnet"] = json!({"id": subnet.id});
            p["privateIPAllocationMethod"] = json!(method);
            p["privateIPAddress"] = json!(ip);
            p["privateIPAddressVersion"] =
                json!(get_str(p, "privateIPAddressVersion").unwrap_or("IPv4"));
            p["provisioningState"] = json!("Succeeded");
            if get(p, "primary").is_none() {
                p["primary"] = json!(!any_primary && i == 0);
            }
            done.push(c);
        }
        network_common(ctx, ids, out);
        out["etag"] = json!(etag);
        let p = props_mut(out);
        p.insert("ipConfigurations".into(), json!(done));
        p.entry("enableAcceleratedNetworking")
            .or_insert(json!(false));
        p.entry("enableIPForwarding").or_insert(json!(false));
        p.entry("disableTcpStateTracking").or_insert(json!(false));
        p.entry("dnsSettings")
            .or_insert(json!({"dnsServers": [], "appliedDnsServers": []}));
        p.entry("vnetEncryptionSupported").or_insert(json!(false));
        p.entry("nicType").or_insert(json!("Standard"));
        p.entry("auxiliaryMode").or_insert(json!("None"));
        p.entry("auxiliarySku").or_insert(json!("None"));
        p.entry("tapConfigurations").or_insert(json!([]));
        p.entry("hostedWorkloads").or_insert(json!([]));
        Ok(Prepared::default())
    }
    fn render(&self, store: &Store, item: &Stored, _req: &Req) -> Value {
        let mut body = item.body.clone();
        if let Some(vm) = virtual_machines::vm_using_nic(store, &item.id) {
            body["properties"]["virtualMachine"] = json!({"id": vm});
            body["properties"]["primary"] = json!(true);
            let mac: String = item.body["properties"]["resourceGuid"]
                .as_str()
                .unwrap_or("000000000000")
                .chars()
                .filter(char::is_ascii_hexdigit)
                .take(12)
                .collect::<String>()
                .to_ascii_uppercase();
            let mac: Vec<String> = mac
                .as_bytes()
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            body["properties"]["macAddress"] = json!(mac.join("-"));
        }
        body
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        match virtual_machines::vm_using_nic(store, &item.id) {
            Some(vm) => Err(ArmError::bad_request(
                "NicInUse",
                format!(
                    "Network Interface {} is used by existing resource {vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.",
                    item.id
                ),
            )),
            None => Ok(()),
        }
    }
}
