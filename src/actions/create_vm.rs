//! `create_vm`: NICs (with their subnet, NSG, ASGs, LB/AGW pools and public IP), the
//! availability set, the image and the VM, named after the agent id so a Director retry
//! converges. Independent lookups run in parallel. Anything this call created is deleted again
//! when a later step fails (unless `keep_failed_vms`), and the failure is `VMCreationFailed`,
//! retriable only for transient allocation failures.
//!
//! Images: a light stemcell's marketplace image; with `compute_gallery_name`, the stemcell's
//! gallery image version; otherwise a user image made from the stemcell blob on first use
//! (from a copy of the blob when the VM is in another region).
//!
//! The size is `instance_type`, or the first fitting one of `instance_types`.
//!
//! Dual-stack NIC groups are not supported.

mod vm_options;

use std::collections::BTreeMap;

use futures::future::try_join_all;

use serde_json::{Map, Value, json};

use crate::agent_settings::{AgentSettings, agent_networks};
use crate::azure::ResourcePath;
use crate::azure::compute::availability_set::{
    AvailabilitySetSpec, availability_set_name, check_proximity_placement_group,
};
use crate::azure::compute::disk::{DiskPatch, disk_encryption_set_id};
use crate::azure::compute::sku::default_disk_sku;
use crate::azure::compute::vm::{
    EphemeralDataDiskSpec, EphemeralPlacement, OsDiskSpec, OsProfileSpec, VmIdentity, VmImage,
    VmSpec, capacity_reservation_group_id, ephemeral_data_disk_size_gib,
    ephemeral_os_disk_size_gib, os_disk_size_gib, proximity_placement_group_id,
    user_assigned_identity_id, vm_tags, windows_admin_password, windows_admin_username,
    windows_computer_name,
};
use crate::azure::compute::{Tags, stringify_metadata};
use crate::azure::network::application_gateway::ApplicationGateway;
use crate::azure::network::interface::PrimaryNicAttachments;
use crate::azure::network::load_balancer::LoadBalancer;
use crate::azure::network::plan::{PlanContext, PublicIpPlan, plan_networks};
use crate::azure::network::virtual_network::{VirtualNetwork, vm_location};
use crate::call::ApiVersion;
use crate::cid::{DiskCid, StemcellCid, VmCid};
use crate::error::{CpiError, CpiResult};
use crate::locks::LockDir;
use crate::props::{ManagedIdentity, Networks, VmCloudProps};
use crate::services::stemcell_blobs::{self, StemcellBlob};
use crate::services::vm_sizes::{SizeNeed, VmSizeInputs, select_vm_size};
use crate::services::{
    Azure, availability_sets, disks, galleries, images, network, nics, public_ips, resource_groups,
    skus, storage_accounts, vms,
};

/// Azure error codes after which the same request can succeed: capacity comes and goes.
const TRANSIENT_ALLOCATION_CODES: &[&str] = &[
    "AllocationFailed",
    "ZonalAllocationFailed",
    "OverconstrainedAllocationRequest",
    "OverconstrainedZonalAllocationRequest",
];

/// create_vm's decoded arguments.
pub(crate) struct CreateVm {
    pub agent_id: String,
    pub stemcell: StemcellCid,
    pub props: VmCloudProps,
    pub networks: Networks,
    pub env: Map<String, Value>,
    /// Persistent disks the Director will attach: premium ones narrow `instance_types`.
    pub disk_cids: Vec<DiskCid>,
}

/// What this call created, so a failure can delete exactly that.
#[derive(Default)]
struct Created {
    nics: Vec<ResourcePath>,
    public_ip: Option<ResourcePath>,
    /// The VM PUT was sent: the VM and its OS and ephemeral disks may exist.
    vm: Option<VmCid>,
    /// The availability set was created by this call: delete it if it is left empty.
    availability_set: Option<ResourcePath>,
}

impl Created {
    fn is_empty(&self) -> bool {
        self.nics.is_empty()
            && self.public_ip.is_none()
            && self.vm.is_none()
            && self.availability_set.is_none()
    }

    fn describe(&self) -> String {
        let mut names: Vec<String> = Vec::new();
        if let Some(vm) = &self.vm {
            names.push(format!("VM '{}'", vm.vm_name()));
            names.push(format!("disk '{}'", vm.os_disk_name()));
            names.push(format!("disk '{}'", vm.ephemeral_disk_name()));
        }
        names.extend(self.nics.iter().map(|nic| format!("NIC '{}'", nic.name())));
        if let Some(pip) = &self.public_ip {
            names.push(format!("public IP '{}'", pip.name()));
        }
        if let Some(set) = &self.availability_set {
            names.push(format!("availability set '{}' (if empty)", set.name()));
        }
        names.join(", ")
    }
}

pub(crate) async fn create_vm(
    azure: &Azure<'_>,
    request: &CreateVm,
    agent_config: &Map<String, Value>,
    api_version: ApiVersion,
) -> CpiResult<Value> {
    let vm_cid = VmCid::new_managed(&request.agent_id, &request.props.resource_group_name)?;
    let locks = LockDir::default();
    let mut created = Created::default();
    let outcome = build(azure, request, &vm_cid, agent_config, &locks, &mut created).await;
    let error = match outcome {
        Ok(()) => {
            let cid = Value::String(vm_cid.to_string());
            return Ok(match api_version {
                ApiVersion::V1 => cid,
                ApiVersion::V2 | ApiVersion::V3 => json!([
                    cid,
                    agent_networks(request.networks.raw(), &BTreeMap::new())
                ]),
            });
        }
        Err(error) => error,
    };
    if created.is_empty() {
        return Err(error);
    }
    let ok_to_retry = matches!(
        error,
        CpiError::VmCreationFailed {
            ok_to_retry: true,
            ..
        }
    );
    let message = error.message().to_owned();
    if azure.config.keep_failed_vms {
        return Err(CpiError::vm_creation_failed(
            format!(
                "{message}. keep_failed_vms is set, so these resources were kept; delete them manually: {}",
                created.describe()
            ),
            false,
        ));
    }
    match clean_up(azure, &created, &locks).await {
        Ok(()) => Err(CpiError::vm_creation_failed(message, ok_to_retry)),
        Err(cleanup) => Err(CpiError::vm_creation_failed(
            format!(
                "{message}. Cleaning up failed too ({}); these may be left: {}",
                cleanup.message(),
                created.describe()
            ),
            false,
        )),
    }
}

async fn build(
    azure: &Azure<'_>,
    request: &CreateVm,
    vm_cid: &VmCid,
    agent_config: &Map<String, Value>,
    locks: &LockDir,
    created: &mut Created,
) -> CpiResult<()> {
    let config = azure.config;
    let props = &request.props;
    let subscription_id = azure.arm.subscription_id();
    let plan = plan_networks(
        &request.networks,
        props,
        &PlanContext {
            subscription_id,
            vm: vm_cid,
            default_resource_group: &config.resource_group_name,
            default_security_group: config.default_security_group.as_ref(),
            pip_idle_timeout_in_minutes: config.pip_idle_timeout_in_minutes,
        },
    )?;

    // Everything that only reads runs at once: stemcell, VNet, subnets, NSGs, ASGs, pools.
    let (stemcell_blob, vnet, nic_ids, load_balancers, gateway_pools) = futures::try_join!(
        stemcell_blobs::read(azure, &request.stemcell),
        network::find::<VirtualNetwork>(azure, &plan.virtual_network),
        try_join_all(plan.nics.iter().map(|nic| network::nic_ids(azure, nic))),
        try_join_all(plan.load_balancers.iter().map(|pool| async move {
            network::find::<LoadBalancer>(azure, &pool.owner)
                .await?
                .attachment(pool)
        })),
        try_join_all(plan.application_gateways.iter().map(|pool| async move {
            network::find::<ApplicationGateway>(azure, &pool.owner)
                .await?
                .backend_pool_id(pool)
        })),
    )?;
    let location = vm_location(config.location.as_deref(), &vnet)?.to_owned();
    let use_root_disk = props.ephemeral_disk.use_root_disk;
    let bosh_group = request
        .env
        .get("bosh")
        .and_then(|bosh| bosh.get("group"))
        .and_then(Value::as_str);
    // Azure puts no Spot VM in an availability set (AzureSpotVMNotSupportedInAvailabilitySet,
    // Microsoft's Spot error codes): a Spot VM does not join its group's set.
    let availability_set = match (&props.availability_zone, &props.spot) {
        (Some(_), _) | (None, Some(_)) => None,
        (None, None) => availability_set_name(props.availability_set.name.as_deref(), bosh_group),
    };
    let stemcell_architecture = stemcell_blob
        .info
        .metadata
        .get("architecture")
        .map(String::as_str);
    let set_path = availability_set
        .as_deref()
        .map(|name| availability_sets::path(azure, vm_cid.resource_group_name(), name));
    let size_inputs = VmSizeInputs {
        location: &location,
        stemcell_architecture,
        disk_cids: &request.disk_cids,
        availability_set: set_path.as_ref(),
        needs: &SizeNeed::of(props),
    };
    // Options that the size, the stemcell or the gallery definition may not allow are
    // checked before any write, so a refusal leaves nothing behind.
    let preselected_size = if size_inputs.needs.is_empty() {
        None
    } else {
        let (vm_size, skus) = futures::try_join!(
            select_vm_size(azure, props, &size_inputs),
            skus::vm_skus(azure, &location)
        )?;
        vm_options::check_before_writes(
            azure,
            props,
            &request.stemcell,
            &stemcell_blob,
            &location,
            &vm_size,
            Some(&skus),
        )
        .await?;
        Some(vm_size)
    };
    let proximity_placement_group_id = props.proximity_placement_group.as_ref().map(|group| {
        proximity_placement_group_id(subscription_id, &group.resource_group_name, &group.name)
    });
    // An existing set outside the group cannot take the VM: said before anything is written.
    if let (Some(group), Some(path), Some(name)) = (
        proximity_placement_group_id.as_deref(),
        set_path.as_ref(),
        availability_set.as_deref(),
    ) && let Some(existing) = availability_sets::get(azure, path).await?
    {
        check_proximity_placement_group(name, &existing, Some(group))?;
    }
    if !vm_cid
        .resource_group_name()
        .eq_ignore_ascii_case(&config.resource_group_name)
    {
        resource_groups::ensure(azure, vm_cid.resource_group_name(), &location).await?;
    }
    // The size and the image (reads, and for some stemcells an image or a replication to
    // wait for) go beside the writes that need only the location: the availability set, the
    // public IP and the diagnostics account.
    let sized_image = async {
        let vm_size = match &preselected_size {
            Some(size) => size.clone(),
            None => select_vm_size(azure, props, &size_inputs).await?,
        };
        let image = vm_image(azure, request, &stemcell_blob, &location, &vm_size, locks).await?;
        CpiResult::Ok((vm_size, image))
    };

    // The set, the public IP and the diagnostics account do not depend on each other either.
    // Each write is recorded in `created` before it is sent, so any failure cleans up all.
    let set_slot = &mut created.availability_set;
    let public_ip_slot = &mut created.public_ip;
    let set = async {
        match &availability_set {
            Some(name) => {
                let counts = &props.availability_set;
                let wanted = AvailabilitySetSpec {
                    location: location.clone(),
                    // The vm_type's counts, defaulted by props as Ruby's VMCloudProps does.
                    update_domains: domain_count(counts.platform_update_domain_count)?,
                    fault_domains: domain_count(counts.platform_fault_domain_count)?,
                    managed: azure.config.use_managed_disks,
                    proximity_placement_group_id: proximity_placement_group_id.clone(),
                };
                let path = availability_sets::path(azure, vm_cid.resource_group_name(), name);
                let on_create = || *set_slot = Some(path.clone());
                availability_sets::get_or_create(azure, &path, &wanted, locks, on_create)
                    .await
                    .map(Some)
            }
            None => Ok(None),
        }
    };
    let public_ip = async {
        match &plan.public_ip {
            PublicIpPlan::None => Ok(None),
            PublicIpPlan::Vip {
                address,
                resource_group,
            } => public_ips::find_vip(azure, address, resource_group)
                .await
                .map(Some),
            PublicIpPlan::Dynamic(dynamic) => {
                let path = public_ips::dynamic_path(azure, dynamic);
                *public_ip_slot = Some(path.clone());
                public_ips::create_dynamic(azure, &path, dynamic, &location).await?;
                CpiResult::Ok(Some(path.id()))
            }
        }
    };
    // The NICs need the public IP's id (and the load balancers and gateways read above), not
    // the image: they are written as soon as the IP exists.
    let nic_slot = &mut created.nics;
    let nics = async {
        let primary = PrimaryNicAttachments {
            public_ip_id: public_ip.await?,
            load_balancers,
            application_gateway_pool_ids: gateway_pools.into_iter().flatten().collect(),
            availability_set: availability_set.clone(),
        };
        let mut writes = Vec::new();
        for (nic, ids) in plan.nics.iter().zip(nic_ids) {
            // No NIC DNS servers, as Ruby: the VNet's DNS applies, the agent gets `dns`.
            let spec = nic.spec(&location, ids, &primary);
            nic_slot.push(nic.id.clone());
            writes.push((nic.id.clone(), spec.body()));
        }
        nics::create_all(azure, writes).await
    };
    let ((vm_size, image), set, (), boot_diagnostics) = futures::try_join!(
        sized_image,
        set,
        nics,
        storage_accounts::boot_diagnostics(azure, &location, locks)
    )?;
    // Held (shared) until the VM is in the set, so delete_vm of its last VM cannot remove it.
    let (availability_set_id, set_lock) = set
        .map(|joined: availability_sets::Joined| (joined.id, joined.lock))
        .unzip();

    let stemcell = &stemcell_blob.info;
    let windows = stemcell.is_windows();
    let computer_name = windows.then(|| {
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|elapsed| elapsed.as_nanos())
            .unwrap_or_default();
        windows_computer_name(unique, std::process::id())
    });
    let os_profile = match &computer_name {
        Some(computer_name) => OsProfileSpec::Windows {
            computer_name: computer_name.clone(),
            admin_username: windows_admin_username(&uuid::Uuid::new_v4()),
            admin_password: windows_admin_password(&mut rand::rng()),
        },
        None => OsProfileSpec::Linux {
            admin_username: config.ssh_user.clone(),
            ssh_public_key: config.ssh_public_key.clone().ok_or_else(|| {
                CpiError::cloud("Missing required property 'azure.ssh_public_key' for a Linux VM")
            })?,
        },
    };
    let instance_id = vm_cid.to_string();
    let custom_data = AgentSettings {
        instance_id: &instance_id,
        computer_name: computer_name.as_deref(),
        dns: request.networks.default_dns(),
        agent_id: &request.agent_id,
        vm_name: vm_cid.vm_name(),
        networks: request.networks.raw(),
        nic_groups_to_iface: &BTreeMap::new(),
        env: &request.env,
        has_ephemeral_disk: !use_root_disk,
        agent_config,
    }
    .encoded();

    let encryption_set = |name: &Option<String>| {
        name.as_deref()
            .map(|name| disk_encryption_set_id(subscription_id, &config.resource_group_name, name))
    };
    let ephemeral_placement = props
        .root_disk
        .placement
        .diff_disk_placement()
        .map(|placement| match placement {
            "CacheDisk" => EphemeralPlacement::CacheDisk,
            _ => EphemeralPlacement::ResourceDisk,
        });
    let os_size = match ephemeral_placement {
        Some(_) => ephemeral_os_disk_size_gib(
            props.root_disk.size_mib,
            props.ephemeral_disk.size_mib,
            stemcell,
            use_root_disk,
        )?,
        None => os_disk_size_gib(props.root_disk.size_mib, stemcell, use_root_disk)?,
    };
    let ephemeral_disk = if use_root_disk {
        None
    } else {
        Some(EphemeralDataDiskSpec {
            name: vm_cid.ephemeral_disk_name(),
            size_gib: ephemeral_data_disk_size_gib(props.ephemeral_disk.size_mib, &vm_size)?,
            caching: props.ephemeral_disk.caching,
            storage_account_type: props.ephemeral_disk.disk_type.clone(),
            disk_encryption_set_id: encryption_set(&props.ephemeral_disk.disk_encryption_set_name),
        })
    };
    let identity = props
        .managed_identity
        .as_ref()
        .or(config.default_managed_identity.as_ref())
        .map(|identity| match identity {
            ManagedIdentity::SystemAssigned => VmIdentity::SystemAssigned,
            ManagedIdentity::UserAssigned { name } => VmIdentity::UserAssigned(
                user_assigned_identity_id(subscription_id, vm_cid.resource_group_name(), name),
            ),
        });
    let capacity_reservation = props.capacity_reservation_group_id.clone().or_else(|| {
        props.capacity_reservation_group.as_deref().map(|name| {
            capacity_reservation_group_id(subscription_id, vm_cid.resource_group_name(), name)
        })
    });
    let env_tags: Tags = request
        .env
        .get("bosh")
        .and_then(|bosh| bosh.get("tags"))
        .and_then(Value::as_object)
        .map(stringify_metadata)
        .unwrap_or_default();
    let spec = VmSpec {
        name: vm_cid.vm_name().to_owned(),
        location,
        vm_size,
        tags: vm_tags(&env_tags, &props.tags),
        os_profile,
        custom_data,
        network_interface_ids: plan.nics.iter().map(|nic| nic.id.id()).collect(),
        image,
        os_disk: OsDiskSpec {
            name: vm_cid.os_disk_name(),
            caching: props.caching,
            size_gib: os_size,
            disk_encryption_set_id: encryption_set(&props.root_disk.disk_encryption_set_name),
            ephemeral_placement,
        },
        ephemeral_disk,
        identity,
        zone: props.availability_zone.clone(),
        availability_set_id,
        capacity_reservation_group_id: capacity_reservation,
        boot_diagnostics,
        security: vm_options::vm_security(props.security_profile),
        encryption_at_host: props.encryption_at_host,
        spot: vm_options::spot_spec(props),
        proximity_placement_group_id,
        ultra_ssd_enabled: props.ultra_ssd_enabled,
    };
    created.vm = Some(vm_cid.clone());
    let put = put_vm(azure, vm_cid, spec, props).await;
    drop(set_lock);
    put?;
    // A data disk created with the VM takes no performance settings: they are set afterwards.
    let performance = DiskPatch {
        iops: props.ephemeral_disk.iops,
        mbps: props.ephemeral_disk.mbps,
        ..DiskPatch::default()
    };
    if !use_root_disk && !performance.is_empty() {
        let path = disks::path(
            azure,
            vm_cid.resource_group_name(),
            &vm_cid.ephemeral_disk_name(),
        );
        disks::patch(azure, &path, &performance.body()).await?;
    }
    Ok(())
}

/// The VM PUT. A Spot VM that Azure has no capacity or quota for is, with
/// `fallback_to_on_demand`, deleted with its disks and created again as a regular VM;
/// without it the refusal is retriable (capacity comes and goes).
async fn put_vm(
    azure: &Azure<'_>,
    vm_cid: &VmCid,
    mut spec: VmSpec,
    props: &VmCloudProps,
) -> CpiResult<()> {
    let mut result = vms::create(azure, vm_cid, &spec).await;
    if let Err(error) = &result
        && let Some(code) = vm_options::spot_refusal(error)
        && spec.spot.is_some()
    {
        if !props
            .spot
            .as_ref()
            .is_some_and(|spot| spot.fallback_to_on_demand)
        {
            return Err(CpiError::vm_creation_failed(
                format!("Azure has no Spot capacity or quota for this VM now ({code}): {error}"),
                true,
            ));
        }
        tracing::warn!(
            vm = vm_cid.vm_name(),
            azure_error = code,
            "Azure refused the Spot VM; creating a regular (on-demand) VM instead (spot.fallback_to_on_demand)"
        );
        // Deletes what the refused attempt may have left.
        vms::delete(azure, vm_cid).await?;
        disks::delete_vm_disks(azure, vm_cid).await?;
        spec.spot = None;
        result = vms::create(azure, vm_cid, &spec).await;
    }
    result.map_err(|e| {
        let retriable = e
            .code()
            .is_some_and(|code| TRANSIENT_ALLOCATION_CODES.contains(&code));
        CpiError::vm_creation_failed(e.to_string(), retriable)
    })
}

/// The image the VM boots: the light stemcell's marketplace image, the stemcell's gallery
/// version, or a user image made from the stemcell blob.
async fn vm_image(
    azure: &Azure<'_>,
    request: &CreateVm,
    stemcell: &StemcellBlob,
    location: &str,
    vm_size: &str,
    locks: &LockDir,
) -> CpiResult<VmImage> {
    let props = &request.props;
    Ok(match &stemcell.info.image {
        Some(reference) => {
            let found = images::marketplace_image(azure, location, reference)
                .await?
                .ok_or_else(|| stemcell_blobs::missing(&request.stemcell))?;
            VmImage::Marketplace {
                reference: reference.clone(),
                plan: found.properties.plan,
            }
        }
        None => match gallery_image(azure, &request.stemcell, stemcell, location).await? {
            Some(version_id) => VmImage::Id(version_id),
            None => {
                let sku = match props
                    .root_disk
                    .disk_type
                    .as_ref()
                    .or(props.storage_account_type.as_ref())
                {
                    Some(sku) => sku.clone(),
                    None => {
                        default_disk_sku(&skus::vm_skus(azure, location).await?, vm_size).to_owned()
                    }
                };
                VmImage::Id(
                    images::user_image(
                        azure,
                        &request.stemcell,
                        &stemcell.info,
                        &sku,
                        location,
                        locks,
                    )
                    .await?,
                )
            }
        },
    })
}

/// With `compute_gallery_name`, the stemcell's gallery image version, replicated to the VM's
/// region; `None` without a gallery or when the stemcell has no version there.
async fn gallery_image(
    azure: &Azure<'_>,
    cid: &StemcellCid,
    stemcell: &StemcellBlob,
    location: &str,
) -> CpiResult<Option<String>> {
    match azure.config.compute_gallery_name.as_deref() {
        Some(gallery) if !gallery.is_empty() => {
            galleries::image_for_vm(azure, gallery, cid, stemcell, location).await
        }
        _ => Ok(None),
    }
}

fn domain_count(count: u64) -> CpiResult<u32> {
    u32::try_from(count)
        .map_err(|_| CpiError::cloud(format!("Invalid availability set domain count {count}")))
}

/// Deletes what `created` lists: the VM first (it holds the NICs and disks), then NICs, disks
/// and the public IP, then the availability set when no VM is left in it.
async fn clean_up(azure: &Azure<'_>, created: &Created, locks: &LockDir) -> CpiResult<()> {
    if let Some(vm) = &created.vm {
        vms::delete(azure, vm).await?;
    }
    let disks = async {
        match &created.vm {
            Some(vm) => disks::delete_vm_disks(azure, vm).await,
            None => Ok(()),
        }
    };
    let nic_deletions = created.nics.iter().map(|path| async move {
        nics::delete(azure, path).await?;
        CpiResult::Ok(())
    });
    futures::try_join!(disks, try_join_all(nic_deletions))?;
    // The public IP is released only once its NIC is gone.
    if let Some(pip) = &created.public_ip {
        public_ips::delete(azure, pip).await?;
    }
    if let Some(path) = &created.availability_set {
        availability_sets::delete_if_empty(azure, path, locks).await?;
    }
    Ok(())
}
