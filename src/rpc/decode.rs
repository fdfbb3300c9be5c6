//! A request's method and positional arguments, decoded into a [`Call`] before anything else
//! runs, so a malformed call is refused before the configuration is read.

use crate::names::quote;
use serde_json::Value;

use super::request::Request;
use crate::call::{ApiVersion, Call, Hash, Method};
use crate::error::{CpiError, CpiResult};
use crate::fields::json_type as json_kind;

/// Decodes the request's method and positional arguments.
pub(crate) fn decode(request: &Request) -> CpiResult<Call> {
    let Some(method) = Method::from_wire_name(&request.method) else {
        return Err(CpiError::not_implemented(format!(
            "Method is not known, got: '{}'",
            quote(&request.method)
        )));
    };
    let args = Args::new(method.wire_name(), &request.arguments);
    let call = match method {
        Method::Info => {
            args.count(0, 0)?;
            Call::Info
        }
        Method::CreateStemcell => {
            // The third argument exists only from api_version 3; the Director cuts it
            // otherwise, so accept it whenever present.
            args.count(2, 3)?;
            Call::CreateStemcell {
                image_path: args.string(0, "image_path")?,
                cloud_properties: args.hash(1, "cloud_properties")?,
                env: if request.api_version >= ApiVersion::V3 || args.len() == 3 {
                    args.optional_hash(2, "env")?
                } else {
                    None
                },
            }
        }
        Method::DeleteStemcell => {
            args.count(1, 1)?;
            Call::DeleteStemcell {
                stemcell_cid: args.string(0, "stemcell_cid")?,
            }
        }
        Method::CreateVm => {
            args.count(6, 6)?;
            Call::CreateVm {
                agent_id: args.string(0, "agent_id")?,
                stemcell_cid: args.string(1, "stemcell_cid")?,
                cloud_properties: args.hash(2, "cloud_properties")?,
                networks: args.hash(3, "networks")?,
                disk_cids: args.optional_strings(4, "disk_cids")?,
                env: args.optional_hash(5, "env")?.unwrap_or_default(),
            }
        }
        Method::DeleteVm => Call::DeleteVm {
            vm_cid: args.single_string("vm_cid")?,
        },
        Method::HasVm => Call::HasVm {
            vm_cid: args.single_string("vm_cid")?,
        },
        Method::RebootVm => Call::RebootVm {
            vm_cid: args.single_string("vm_cid")?,
        },
        Method::SetVmMetadata => {
            args.count(2, 2)?;
            Call::SetVmMetadata {
                vm_cid: args.string(0, "vm_cid")?,
                metadata: args.hash(1, "metadata")?,
            }
        }
        Method::SetDiskMetadata => {
            args.count(2, 2)?;
            Call::SetDiskMetadata {
                disk_cid: args.string(0, "disk_cid")?,
                metadata: args.hash(1, "metadata")?,
            }
        }
        Method::CreateDisk => {
            args.count(2, 3)?;
            Call::CreateDisk {
                size_mib: args.size(0, "size")?,
                cloud_properties: args
                    .optional_hash(1, "cloud_properties")?
                    .unwrap_or_default(),
                vm_cid: args.optional_string(2, "vm_cid")?,
            }
        }
        Method::DeleteDisk => Call::DeleteDisk {
            disk_cid: args.single_string("disk_cid")?,
        },
        Method::HasDisk => Call::HasDisk {
            disk_cid: args.single_string("disk_cid")?,
        },
        Method::AttachDisk => {
            args.count(2, 2)?;
            Call::AttachDisk {
                vm_cid: args.string(0, "vm_cid")?,
                disk_cid: args.string(1, "disk_cid")?,
            }
        }
        Method::DetachDisk => {
            args.count(2, 2)?;
            Call::DetachDisk {
                vm_cid: args.string(0, "vm_cid")?,
                disk_cid: args.string(1, "disk_cid")?,
            }
        }
        Method::GetDisks => Call::GetDisks {
            vm_cid: args.single_string("vm_cid")?,
        },
        Method::ResizeDisk => {
            args.count(2, 2)?;
            Call::ResizeDisk {
                disk_cid: args.string(0, "disk_cid")?,
                new_size_mib: args.size(1, "new_size")?,
            }
        }
        Method::UpdateDisk => {
            args.count(3, 3)?;
            Call::UpdateDisk {
                disk_cid: args.string(0, "disk_cid")?,
                new_size_mib: args.size(1, "new_size")?,
                cloud_properties: args
                    .optional_hash(2, "cloud_properties")?
                    .unwrap_or_default(),
            }
        }
        Method::SnapshotDisk => {
            args.count(2, 2)?;
            Call::SnapshotDisk {
                disk_cid: args.string(0, "disk_cid")?,
                metadata: args.optional_hash(1, "metadata")?.unwrap_or_default(),
            }
        }
        Method::DeleteSnapshot => Call::DeleteSnapshot {
            snapshot_cid: args.single_string("snapshot_cid")?,
        },
        Method::CalculateVmCloudProperties => {
            args.count(1, 1)?;
            Call::CalculateVmCloudProperties {
                desired: args.hash(0, "desired_instance_size")?,
            }
        }
        Method::Ping => Call::Ping,
        Method::CreateNetwork => Call::CreateNetwork,
        Method::DeleteNetwork => Call::DeleteNetwork,
        Method::ConfigureNetworks => Call::ConfigureNetworks,
        Method::CurrentVmId => Call::CurrentVmId,
    };
    Ok(call)
}

/// Positional argument access with errors that name the method, the position and the
/// expectation, and never echo the value (it may be secret).
struct Args<'a> {
    method: &'a str,
    values: &'a [Value],
}

impl<'a> Args<'a> {
    fn new(method: &'a str, values: &'a [Value]) -> Self {
        Self { method, values }
    }

    fn len(&self) -> usize {
        self.values.len()
    }

    fn count(&self, min: usize, max: usize) -> CpiResult<()> {
        let n = self.values.len();
        if (min..=max).contains(&n) {
            return Ok(());
        }
        let expected = if min == max {
            format!("{min}")
        } else {
            format!("{min} to {max}")
        };
        Err(CpiError::invalid_request(format!(
            "Invalid arguments for '{}': expected {expected} argument(s), got {n}",
            self.method
        )))
    }

    fn wrong(&self, index: usize, name: &str, expected: &str, got: &Value) -> CpiError {
        CpiError::invalid_request(format!(
            "Invalid argument {} ('{name}') for '{}': expected {expected}, got {}",
            index + 1,
            self.method,
            json_kind(got)
        ))
    }

    fn single_string(&self, name: &str) -> CpiResult<String> {
        self.count(1, 1)?;
        self.string(0, name)
    }

    fn string(&self, index: usize, name: &str) -> CpiResult<String> {
        match &self.values[index] {
            Value::String(s) if !s.is_empty() => Ok(s.clone()),
            other => Err(self.wrong(index, name, "a non-empty string", other)),
        }
    }

    fn optional_string(&self, index: usize, name: &str) -> CpiResult<Option<String>> {
        match self.values.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(self.wrong(index, name, "a string or null", other)),
        }
    }

    fn hash(&self, index: usize, name: &str) -> CpiResult<Hash> {
        match &self.values[index] {
            Value::Object(o) => Ok(o.clone()),
            other => Err(self.wrong(index, name, "an object", other)),
        }
    }

    fn optional_hash(&self, index: usize, name: &str) -> CpiResult<Option<Hash>> {
        match self.values.get(index) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(o)) => Ok(Some(o.clone())),
            Some(other) => Err(self.wrong(index, name, "an object or null", other)),
        }
    }

    fn optional_strings(&self, index: usize, name: &str) -> CpiResult<Vec<String>> {
        match &self.values[index] {
            Value::Null => Ok(Vec::new()),
            Value::Array(items) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    other => Err(self.wrong(index, name, "an array of strings", other)),
                })
                .collect(),
            other => Err(self.wrong(index, name, "an array of strings", other)),
        }
    }

    /// Sizes are MiB as a JSON integer (the Ruby CPI raises ArgumentError on anything else).
    fn size(&self, index: usize, name: &str) -> CpiResult<u64> {
        match &self.values[index] {
            Value::Number(n) if n.as_u64().is_some() => Ok(n.as_u64().unwrap_or_default()),
            other => Err(self.wrong(index, name, "a non-negative integer (MiB)", other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::call::Hash;

    fn request(method: &str, arguments: Value, api_version: u64) -> Request {
        let raw = json!({"method": method, "arguments": arguments,
            "context": {"director_uuid": "d"}, "api_version": api_version});
        Request::parse(raw.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn decodes_create_vm() {
        let call = decode(&request(
            "create_vm",
            json!(["agent", "bosh-stemcell-x", {"instance_type": "Standard_F2"}, {"default": {}}, null, {"bosh": {}}]),
            2,
        ))
        .unwrap();
        let Call::CreateVm {
            agent_id,
            disk_cids,
            env,
            ..
        } = call
        else {
            panic!("{call:?}")
        };
        assert_eq!(agent_id, "agent");
        assert!(disk_cids.is_empty());
        assert!(env.contains_key("bosh"));
    }

    #[test]
    fn create_disk_accepts_a_null_vm_cid() {
        let call = decode(&request("create_disk", json!([10240, {}, null]), 2)).unwrap();
        assert_eq!(
            call,
            Call::CreateDisk {
                size_mib: 10240,
                cloud_properties: Hash::new(),
                vm_cid: None
            }
        );
    }

    #[test]
    fn create_stemcell_takes_the_v3_env() {
        let call = decode(&request(
            "create_stemcell",
            json!(["/img", {}, {"tags": {"a": "b"}}]),
            3,
        ))
        .unwrap();
        let Call::CreateStemcell { env, .. } = call else {
            panic!()
        };
        assert_eq!(env.unwrap()["tags"]["a"], "b");
        let call = decode(&request("create_stemcell", json!(["/img", {}]), 2)).unwrap();
        let Call::CreateStemcell { env, .. } = call else {
            panic!()
        };
        assert!(env.is_none());
    }

    #[test]
    fn wrong_arguments_name_method_position_and_expectation() {
        let err = decode(&request("has_vm", json!([5]), 2)).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CpiError");
        assert_eq!(
            err.message(),
            "Invalid argument 1 ('vm_cid') for 'has_vm': expected a non-empty string, got an integer"
        );
        let err = decode(&request("attach_disk", json!(["vm"]), 2)).unwrap_err();
        assert_eq!(
            err.message(),
            "Invalid arguments for 'attach_disk': expected 2 argument(s), got 1"
        );
        let err = decode(&request("create_disk", json!([1.5, {}, null]), 2)).unwrap_err();
        assert!(err.message().contains("'size'"), "{}", err.message());
    }

    #[test]
    fn unknown_method_is_not_implemented() {
        let err = decode(&request("frobnicate", json!([]), 2)).unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::NotImplemented");
        assert_eq!(err.message(), "Method is not known, got: 'frobnicate'");
    }
}
