//! The agent settings a new VM reads from its customData (the VM's `userData` on ARM): the Ruby
//! CPI's JSON, key for key and in the same order, so agents on existing stemcells read it
//! unchanged.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};

/// The SCSI host the agent looks under for Azure data disks.
pub(crate) const AZURE_SCSI_HOST_DEVICE_ID: &str = "{f8b3781b-1e82-4818-a1c3-63d806ec15bb}";

pub(crate) struct AgentSettings<'a> {
    /// The VM CID as the Director will know it.
    pub instance_id: &'a str,
    /// Windows only: the generated computer name; Linux VMs use the instance id.
    pub(crate) computer_name: Option<&'a str>,
    pub dns: Option<&'a [String]>,
    pub agent_id: &'a str,
    pub vm_name: &'a str,
    /// The Director's `networks` argument, verbatim.
    pub networks: &'a Map<String, Value>,
    /// Dual-stack: which OS interface each `nic_group` is on (`"1" -> "eth0"`).
    pub(crate) nic_groups_to_iface: &'a BTreeMap<String, String>,
    pub env: &'a Map<String, Value>,
    /// False when `ephemeral_disk.use_root_disk` puts the ephemeral data on the OS disk.
    pub(crate) has_ephemeral_disk: bool,
    /// The `agent` section of cpi.json (`mbus`, `ntp`, ...), merged last.
    pub(crate) agent_config: &'a Map<String, Value>,
}

impl AgentSettings<'_> {
    pub(crate) fn to_json(&self) -> Value {
        let mut data = Map::new();
        match self.computer_name {
            Some(computer_name) => {
                data.insert("instance-id".into(), json!(self.instance_id));
                data.insert("server".into(), json!({"name": computer_name}));
            }
            None => {
                data.insert("server".into(), json!({"name": self.instance_id}));
            }
        }
        if let Some(dns) = self.dns {
            data.insert("dns".into(), json!({"nameserver": dns}));
        }
        data.insert("vm".into(), json!({"name": self.vm_name}));
        data.insert("agent_id".into(), json!(self.agent_id));
        data.insert(
            "networks".into(),
            Value::Object(agent_networks(self.networks, self.nic_groups_to_iface)),
        );
        let mut disks = Map::new();
        disks.insert("system".into(), json!("/dev/sda"));
        disks.insert("persistent".into(), json!({}));
        if self.has_ephemeral_disk {
            // Azure's ephemeral disk is the data disk at LUN 0.
            disks.insert(
                "ephemeral".into(),
                json!({"lun": "0", "host_device_id": AZURE_SCSI_HOST_DEVICE_ID}),
            );
        }
        data.insert("disks".into(), Value::Object(disks));
        data.insert("env".into(), Value::Object(self.env.clone()));
        for (key, value) in self.agent_config {
            data.insert(key.clone(), value.clone());
        }
        Value::Object(data)
    }

    /// customData: base64 of the compact JSON.
    pub(crate) fn encoded(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.to_json().to_string())
    }
}

/// Every network gets `use_dhcp: true` (Azure assigns addresses through DHCP) and, in
/// dual-stack groups, the interface `alias`; the caller's hash is not changed.
pub(crate) fn agent_networks(
    networks: &Map<String, Value>,
    nic_groups_to_iface: &BTreeMap<String, String>,
) -> Map<String, Value> {
    networks
        .iter()
        .map(|(name, settings)| {
            let mut settings = settings.clone();
            if let Value::Object(object) = &mut settings {
                object.insert("use_dhcp".into(), Value::Bool(true));
                let alias = object
                    .get("nic_group")
                    .and_then(Value::as_str)
                    .and_then(|group| nic_groups_to_iface.get(group));
                if let Some(alias) = alias {
                    object.insert("alias".into(), json!(alias));
                }
            }
            (name.clone(), settings)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn linux_settings_match_the_ruby_layout_byte_for_byte() {
        let networks = object(json!({"network_a": {"type": "dynamic",
            "cloud_properties": {"virtual_network_name": "vnet_name", "subnet_name": "subnet_name"}}}));
        let env = object(json!({"bosh": {"group": "g"}}));
        let agent = object(json!({"mbus": "http://u:p@somewhere"}));
        let dns = vec!["168.63.129.16".to_owned()];
        let settings = AgentSettings {
            instance_id: "fake-instance-id",
            computer_name: None,
            dns: Some(&dns),
            agent_id: "fake-agent-id",
            vm_name: "vm_name",
            networks: &networks,
            nic_groups_to_iface: &BTreeMap::new(),
            env: &env,
            has_ephemeral_disk: true,
            agent_config: &agent,
        };
        assert_eq!(
            settings.to_json().to_string(),
            concat!(
                r#"{"server":{"name":"fake-instance-id"},"dns":{"nameserver":["168.63.129.16"]},"#,
                r#""vm":{"name":"vm_name"},"agent_id":"fake-agent-id","#,
                r#""networks":{"network_a":{"type":"dynamic","cloud_properties":{"virtual_network_name":"vnet_name","subnet_name":"subnet_name"},"use_dhcp":true}},"#,
                r#""disks":{"system":"/dev/sda","persistent":{},"ephemeral":{"lun":"0","host_device_id":"{f8b3781b-1e82-4818-a1c3-63d806ec15bb}"}},"#,
                r#""env":{"bosh":{"group":"g"}},"mbus":"http://u:p@somewhere"}"#
            )
        );
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(settings.encoded())
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&decoded).unwrap(),
            settings.to_json()
        );
        assert!(
            !networks["network_a"]
                .as_object()
                .unwrap()
                .contains_key("use_dhcp")
        );
    }

    #[test]
    fn windows_uses_the_computer_name_and_no_ephemeral_disk_when_on_root() {
        let empty = Map::new();
        let settings = AgentSettings {
            instance_id: "agent_id:a;resource_group_name:rg",
            computer_name: Some("0123456789abcde"),
            dns: None,
            agent_id: "a",
            vm_name: "a",
            networks: &empty,
            nic_groups_to_iface: &BTreeMap::new(),
            env: &empty,
            has_ephemeral_disk: false,
            agent_config: &empty,
        };
        let json = settings.to_json();
        assert_eq!(json["instance-id"], "agent_id:a;resource_group_name:rg");
        assert_eq!(json["server"]["name"], "0123456789abcde");
        assert!(json.get("dns").is_none());
        assert!(json["disks"].get("ephemeral").is_none());
        assert!(json.to_string().starts_with(r#"{"instance-id":"#));
    }

    #[test]
    fn agent_config_wins_and_nic_groups_get_aliases() {
        let networks = object(json!({
            "v4": {"type": "manual", "ip": "10.0.0.5", "nic_group": "1"},
            "v6": {"type": "manual", "ip": "fd00::5", "nic_group": "1"},
            "other": {"type": "dynamic"}
        }));
        let groups = BTreeMap::from([("1".to_owned(), "eth0".to_owned())]);
        let empty = Map::new();
        let agent = object(json!({"ntp": ["a"], "env": "overridden"}));
        let settings = AgentSettings {
            instance_id: "i",
            computer_name: None,
            dns: None,
            agent_id: "a",
            vm_name: "a",
            networks: &networks,
            nic_groups_to_iface: &groups,
            env: &empty,
            has_ephemeral_disk: true,
            agent_config: &agent,
        };
        let json = settings.to_json();
        assert_eq!(json["networks"]["v4"]["alias"], "eth0");
        assert_eq!(json["networks"]["v6"]["alias"], "eth0");
        assert!(json["networks"]["other"].get("alias").is_none());
        assert_eq!(json["networks"]["other"]["use_dhcp"], true);
        assert_eq!(json["env"], "overridden");
        assert_eq!(json["ntp"][0], "a");
    }
}
