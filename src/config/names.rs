//! The names in cpi.json, checked against Azure's rules like the names from the Director.

use crate::error::CpiResult;
use crate::names::{Kind, check};
use crate::props::ManagedIdentity;
use crate::props::names::{optional, security_group};

impl super::AzureConfig {
    /// The names in cpi.json (and the request context merged into it), checked before any
    /// Azure call of a method that needs Azure.
    pub(crate) fn check_names(&self) -> CpiResult<()> {
        check(
            Kind::ResourceGroup,
            "azure.resource_group_name",
            &self.resource_group_name,
        )?;
        optional(
            Kind::StorageAccount,
            "azure.storage_account_name",
            self.storage_account_name.as_deref(),
        )?;
        security_group(
            "azure.default_security_group",
            self.default_security_group.as_ref(),
        )?;
        if let Some(ManagedIdentity::UserAssigned { name }) = &self.default_managed_identity {
            check(
                Kind::UserAssignedIdentity,
                "azure.default_managed_identity.user_assigned_identity_name",
                name,
            )?;
        }
        optional(
            Kind::Resource,
            "azure.compute_gallery_name",
            self.compute_gallery_name.as_deref(),
        )
    }
}
