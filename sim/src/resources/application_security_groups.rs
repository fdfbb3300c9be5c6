//! Microsoft.Network/applicationSecurityGroups.

use serde_json::Value;

use super::{Family, Ids, Kind, NETWORK_VERSIONS, Prepared, PutCtx, network_common, referrers};
use crate::arm::store::{Store, Stored};
use crate::http::ArmError;

pub(crate) struct ApplicationSecurityGroups;

impl Kind for ApplicationSecurityGroups {
    fn type_name(&self) -> &'static str {
        "Microsoft.Network/applicationSecurityGroups"
    }
    fn versions(&self) -> &'static [&'static str] {
        NETWORK_VERSIONS
    }
    fn family(&self) -> Family {
        Family::Network
    }
    fn in_progress_state(&self, _creating: bool) -> &'static str {
        "Updating"
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
        match referrers(store, "Microsoft.Network/networkInterfaces", &item.id).first() {
            Some(user) => Err(ArmError::bad_request(
                "InUseApplicationSecurityGroupCannotBeDeleted",
                format!(
                    "Application security group {} cannot be deleted because it is in use by {user}.",
                    item.id
                ),
            )),
            None => Ok(()),
        }
    }
}
