//! The single api-version table: a typed resource-provider kind, one column per cloud kind.
//! Nothing picks a version by looking at a URL.

use super::super::error::{Error, Result};
use super::super::settings::CloudKind;

/// Which resource provider (and resource family) a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiKind {
    /// Microsoft.Compute virtualMachines, availabilitySets, images, platform images, vmSizes.
    Compute,
    /// Microsoft.Compute disks.
    Disks,
    /// Microsoft.Compute snapshots.
    Snapshots,
    /// Microsoft.Compute galleries, image definitions and versions.
    Galleries,
    /// Microsoft.Compute resource SKUs.
    ResourceSkus,
    /// Microsoft.Network.
    Network,
    /// Microsoft.Storage (storage accounts, keys, name checks).
    Storage,
    /// Microsoft.Resources (resource groups, generic resource lists).
    Resources,
}

impl ApiKind {
    #[cfg(test)]
    pub(crate) const ALL: [ApiKind; 8] = [
        ApiKind::Compute,
        ApiKind::Disks,
        ApiKind::Snapshots,
        ApiKind::Galleries,
        ApiKind::ResourceSkus,
        ApiKind::Network,
        ApiKind::Storage,
        ApiKind::Resources,
    ];

    /// (public clouds, Azure Stack Hub). Public: the newest versions whose specs the conformance
    /// run checks requests against (docs/testing.md). Stack: the Azure Stack Hub 2020-09-01-hybrid profile;
    /// it has no Compute Gallery.
    const fn versions(self) -> (&'static str, Option<&'static str>) {
        match self {
            ApiKind::Compute => ("2024-07-01", Some("2020-06-01")),
            ApiKind::Disks => ("2024-03-02", Some("2019-07-01")),
            ApiKind::Snapshots => ("2024-03-02", Some("2019-07-01")),
            ApiKind::Galleries => ("2024-03-03", None),
            ApiKind::ResourceSkus => ("2021-07-01", Some("2017-09-01")),
            ApiKind::Network => ("2024-05-01", Some("2018-11-01")),
            ApiKind::Storage => ("2023-05-01", Some("2019-06-01")),
            ApiKind::Resources => ("2021-04-01", Some("2019-10-01")),
        }
    }

    pub(crate) fn api_version(self, cloud: CloudKind) -> Result<&'static str> {
        let (public, stack) = self.versions();
        match cloud {
            CloudKind::Public => Ok(public),
            CloudKind::Stack => stack.ok_or_else(|| {
                Error::Invalid(format!("{self:?} is not available on Azure Stack Hub"))
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_column_matches_the_design() {
        assert_eq!(
            ApiKind::Compute.api_version(CloudKind::Public).ok(),
            Some("2024-07-01")
        );
        assert_eq!(
            ApiKind::Disks.api_version(CloudKind::Public).ok(),
            Some("2024-03-02")
        );
        assert_eq!(
            ApiKind::Snapshots.api_version(CloudKind::Public).ok(),
            Some("2024-03-02")
        );
        assert_eq!(
            ApiKind::Galleries.api_version(CloudKind::Public).ok(),
            Some("2024-03-03")
        );
        assert_eq!(
            ApiKind::ResourceSkus.api_version(CloudKind::Public).ok(),
            Some("2021-07-01")
        );
        assert_eq!(
            ApiKind::Network.api_version(CloudKind::Public).ok(),
            Some("2024-05-01")
        );
        assert_eq!(
            ApiKind::Storage.api_version(CloudKind::Public).ok(),
            Some("2023-05-01")
        );
        assert_eq!(
            ApiKind::Resources.api_version(CloudKind::Public).ok(),
            Some("2021-04-01")
        );
    }

    #[test]
    fn stack_has_no_gallery_but_every_other_kind() {
        for kind in ApiKind::ALL {
            let result = kind.api_version(CloudKind::Stack);
            assert_eq!(result.is_err(), kind == ApiKind::Galleries, "{kind:?}");
        }
    }
}
