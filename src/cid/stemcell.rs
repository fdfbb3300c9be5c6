//! Stemcell CIDs: `bosh-stemcell-<uuid>` for heavy stemcells (a page blob
//! `stemcell/<cid>.vhd`), `bosh-light-stemcell-<uuid>` for light ones (an empty blob whose
//! metadata names the marketplace image). The kind is told by the prefix alone.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::error::CpiError;
use crate::names::{Kind, check, quote};

pub(crate) const STEMCELL_PREFIX: &str = "bosh-stemcell";
pub(crate) const LIGHT_STEMCELL_PREFIX: &str = "bosh-light-stemcell";

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct StemcellCid(String);

impl StemcellCid {
    pub(crate) fn new_heavy() -> Self {
        Self(format!("{STEMCELL_PREFIX}-{}", Uuid::new_v4()))
    }

    pub(crate) fn new_light() -> Self {
        Self(format!("{LIGHT_STEMCELL_PREFIX}-{}", Uuid::new_v4()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn is_light(&self) -> bool {
        self.0.starts_with(LIGHT_STEMCELL_PREFIX)
    }

    /// The blob in the `stemcell` container: `<cid>.vhd`.
    pub(crate) fn blob_name(&self) -> String {
        format!("{}.vhd", self.0)
    }
}

impl FromStr for StemcellCid {
    type Err = CpiError;

    /// Any id made of the characters a blob name and a user image name can both carry is
    /// accepted, so ids from older CPI versions keep working; anything that could address a
    /// different blob (`/`, `?`, `#`, ...) or an empty id is rejected.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if s.is_empty() || !s.chars().all(allowed) {
            return Err(CpiError::cloud(format!(
                "Invalid stemcell id '{}'",
                quote(s)
            )));
        }
        // User images and gallery names derive from the id: it must fit a resource name.
        check(Kind::Resource, "stemcell_cid", s)?;
        Ok(Self(s.to_string()))
    }
}

impl fmt::Display for StemcellCid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
