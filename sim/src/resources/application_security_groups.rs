//! Microsoft.Network/applicationSecurityGroups.

use serde_json::Value;

use super::{Family, Ids, Kind, Prepared, PutCtx, network_common, refuse_delete_while_referenced};
use crate::arm::store::{Store, Stored};
use crate::http::ArmError;

pub(crate) struct ApplicationSecurityGroups;

impl Kind for ApplicationSecurityGroups {
    fn type_name(&self) -> &'static str {
        "Microsoft.Network/applicationSecurityGroups"
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
        network_common(ctx, ids, out);
        Ok(Prepared::default())
    }
    fn check_delete(&self, store: &Store, item: &Stored) -> Result<(), ArmError> {
        refuse_delete_while_referenced(
            store,
            item,
            &["Microsoft.Network/networkInterfaces"],
            "InUseApplicationSecurityGroupCannotBeDeleted",
            |user| {
                format!(
                    "Application security group {} cannot be deleted because it is in use by {user}.",
                    item.id
                )
            },
        )
    }
}
