//! Microsoft.Network/virtualNetworks and their subnets. Subnets are child resources; a VNet PUT
//! replaces the set of subnets (as in Azure, where a PUT without `subnets` removes them).

use serde_json::{Value, json};

use super::{
    Family, Ids, Kind, Prepared, PutCtx, expect_array, get_str, invalid_reference, network_common,
    network_interfaces::ip_configurations, props_mut, referrers,
};
use crate::arm::store::{Store, Stored};
use crate::http::{ArmError, Req};

pub(crate) struct VirtualNetworks;
pub(crate) struct Subnets;

const SUBNET_TYPE: &str = "Microsoft.Network/virtualNetworks/subnets";
const NIC_TYPE: &str = "Microsoft.Network/networkInterfaces";

fn subnet_in_use(store: &Store, subnet_id: &str) -> Option<String> {
    referrers(store, NIC_TYPE, subnet_id).into_iter().next()
}

fn check_subnet(store: &Store, owner: &str, subnet: &Value, path: &str) -> Result<(), ArmError> {
    let has_prefix = get_str(subnet, "properties.addressPrefix").is_some()
        || super::get(subnet, "properties.addressPrefixes").is_some();
    if !has_prefix {
        return Err(ArmError::bad_request(
            "InvalidRequestFormat",
            format!(
                "Cannot parse the request. The subnet at '{path}' needs 'addressPrefix' or 'addressPrefixes'."
            ),
        ));
    }
    for field in ["networkSecurityGroup.id", "routeTable.id"] {
        if let Some(id) = get_str(subnet, &format!("properties.{field}"))
            && !store.contains(id)
        {
            return Err(invalid_reference(id, owner));
        }
    }
    Ok(())
}

impl Kind for VirtualNetworks {
    fn type_name(&self) -> &'static str {
        "Microsoft.Network/virtualNetworks"
    }
    fn family(&self) -> Family {
        Family::Network
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        let prefixes = expect_array(out, "properties.addressSpace.addressPrefixes")?;
        if prefixes.iter().any(|p| !p.is_string()) {
            return Err(super::type_error(
                "properties.addressSpace.addressPrefixes",
                "System.String",
                &json!(prefixes),
            ));
        }
        let subnets = expect_array(out, "properties.subnets")?.to_vec();
        let mut names = Vec::new();
        for (i, s) in subnets.iter().enumerate() {
            let name = get_str(s, "name").ok_or_else(|| {
                ArmError::invalid_parameter(
                    &format!("properties.subnets[{i}].name"),
                    "Subnet name is missing.",
                )
            })?;
            check_subnet(
                ctx.store,
                ctx.canonical_id,
                s,
                &format!("properties.subnets[{i}]"),
            )?;
            names.push(name.to_ascii_lowercase());
        }
        if let Some(old) = ctx.existing {
            for child in ctx.store.children(&old.id, SUBNET_TYPE) {
                let name = child.body["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                if !names.contains(&name)
                    && let Some(user) = subnet_in_use(ctx.store, &child.id)
                {
                    return Err(ArmError::bad_request(
                        "InUseSubnetCannotBeDeleted",
                        format!(
                            "Subnet {name} is in use by {user} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet."
                        ),
                    ));
                }
            }
        }
        network_common(ctx, ids, out);
        let p = props_mut(out);
        p.entry("enableDdosProtection").or_insert(json!(false));
        p.entry("virtualNetworkPeerings").or_insert(json!([]));
        Ok(Prepared::default())
    }
    fn after_put(&self, store: &mut Store, item: &Stored) {
        let subnets = item.body["properties"]["subnets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut keep = Vec::new();
        for s in subnets {
            let name = s["name"].as_str().unwrap_or_default().to_string();
            let id = format!("{}/subnets/{name}", item.id);
            let mut props = s.get("properties").cloned().unwrap_or(json!({}));
            props["provisioningState"] = json!("Succeeded");
            let etag = item.body["etag"].clone();
            store.put(Stored {
                id: id.clone(),
                type_name: SUBNET_TYPE.into(),
                body: json!({"id": id, "name": name, "etag": etag, "type": SUBNET_TYPE, "properties": props}),
                hidden: Value::Null,
                seq: 0,
            });
            keep.push(id.to_ascii_lowercase());
        }
        let stale: Vec<String> = store
            .children(&item.id, SUBNET_TYPE)
            .into_iter()
            .filter(|c| !keep.contains(&c.id.to_ascii_lowercase()))
            .map(|c| c.id.clone())
            .collect();
        for id in stale {
            store.remove_tree(&id);
        }
        if let Some(v) = store.get_mut(&item.id)
            && let Some(p) = v.body["properties"].as_object_mut()
        {
            p.remove("subnets");
        }
    }
    fn render(&self, store: &Store, item: &Stored, req: &Req) -> Value {
        let mut body = item.body.clone();
        let subnets: Vec<Value> = store
            .children(&item.id, SUBNET_TYPE)
            .into_iter()
            .map(|s| Subnets.render(store, s, req))
            .collect();
        body["properties"]["subnets"] = json!(subnets);
        body
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        for child in store.children(&item.id, SUBNET_TYPE) {
            if let Some(user) = subnet_in_use(store, &child.id) {
                return Err(ArmError::bad_request(
                    "InUseSubnetCannotBeDeleted",
                    format!(
                        "Subnet {} is in use by {user} and cannot be deleted.",
                        child.body["name"].as_str().unwrap_or_default()
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl Kind for Subnets {
    fn type_name(&self) -> &'static str {
        SUBNET_TYPE
    }
    fn family(&self) -> Family {
        Family::Network
    }
    fn tracked(&self) -> bool {
        false
    }
    fn top_level_keys(&self) -> &'static [&'static str] {
        &[]
    }
    fn prepare(
        &self,
        ctx: &PutCtx<'_>,
        ids: &mut Ids<'_>,
        out: &mut Value,
    ) -> Result<Prepared, ArmError> {
        check_subnet(ctx.store, ctx.canonical_id, out, "properties")?;
        out["etag"] = json!(super::weak_etag(ids));
        let p = props_mut(out);
        p.entry("privateEndpointNetworkPolicies")
            .or_insert(json!("Disabled"));
        p.entry("privateLinkServiceNetworkPolicies")
            .or_insert(json!("Enabled"));
        Ok(Prepared::default())
    }
    fn render(&self, store: &Store, item: &Stored, _req: &Req) -> Value {
        let mut body = item.body.clone();
        let configs: Vec<Value> = store
            .of_type(NIC_TYPE)
            .into_iter()
            .flat_map(ip_configurations)
            .filter(|ipc| {
                get_str(ipc, "properties.subnet.id")
                    .is_some_and(|s| s.eq_ignore_ascii_case(&item.id))
            })
            .map(|ipc| json!({"id": ipc["id"]}))
            .collect();
        if !configs.is_empty() {
            body["properties"]["ipConfigurations"] = json!(configs);
        }
        body
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        match subnet_in_use(store, &item.id) {
            Some(user) => Err(ArmError::bad_request(
                "InUseSubnetCannotBeDeleted",
                format!(
                    "Subnet {} is in use by {user} and cannot be deleted.",
                    item.body["name"].as_str().unwrap_or_default()
                ),
            )),
            None => Ok(()),
        }
    }
}
