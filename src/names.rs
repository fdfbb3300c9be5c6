//! Input hygiene at the edge: Azure's naming rules for every name the Director hands over
//! (CIDs, cloud_properties), checked before any Azure call, and [`quote`], the one way a
//! message or a log line shows an input: a short prefix, visibly cut.
//!
//! The rules are those of Azure's "Naming rules and restrictions for Azure resources"
//! (learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules): length
//! and characters per resource type. Where that page is looser than a quick reading (VM names
//! allow any character but a listed few), the check is as loose as Azure, so that no name
//! Azure accepted, e.g. one the Ruby CPI made, is refused here.

use std::fmt;

use crate::error::{CpiError, CpiResult};

/// How much of an input a message shows.
pub(crate) const QUOTE_PREFIX_CHARS: usize = 128;
/// How much of an Azure resource id a message shows: a valid one whole.
pub(crate) const RESOURCE_ID_SHOWN_CHARS: usize = 1024;

/// An input as a message shows it: whole when short, otherwise its first
/// [`QUOTE_PREFIX_CHARS`] characters and `… (N bytes)`. Control characters are escaped so
/// an input cannot forge a log line.
pub(crate) fn quote(input: &str) -> Quoted<'_> {
    quote_up_to(input, QUOTE_PREFIX_CHARS)
}

/// [`quote`] with another limit: for texts that are useful whole when of a sane size (an
/// Azure error message, a resource path of checked names), but must not grow with an input.
pub(crate) fn quote_up_to(input: &str, max_chars: usize) -> Quoted<'_> {
    Quoted(input, max_chars)
}

pub(crate) struct Quoted<'a>(&'a str, usize);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut chars = self.0.chars();
        for c in chars.by_ref().take(self.1) {
            if c.is_control() {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_fmt(format_args!("{c}"))?;
            }
        }
        if chars.next().is_some() {
            write!(f, "… ({} bytes)", self.0.len())?;
        }
        Ok(())
    }
}

/// The longest CID accepted: longer than any id made of valid names (a V2 disk id holding a
/// 1024-character blob name is the longest), short enough that a CID shown in a log stays
/// readable. Checked before parsing, so an oversized id costs nothing.
pub(crate) const MAX_CID_BYTES: usize = 2048;

/// Refuses a CID longer than [`MAX_CID_BYTES`]: unknown V2 entries are kept (they round-trip
/// as the Ruby CPI keeps them), so the names' checks alone would not bound an id.
pub(crate) fn check_cid_length(field: &str, cid: &str) -> CpiResult<()> {
    if cid.len() <= MAX_CID_BYTES {
        return Ok(());
    }
    Err(CpiError::cloud(format!(
        "Invalid {field}: '{}' is longer than any CPI id ({MAX_CID_BYTES} bytes)",
        quote(cid)
    )))
}

/// The resource types whose names the CPI takes from the Director.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    ResourceGroup,
    VirtualMachine,
    /// Managed disks, snapshots, images, NICs, public IPs, NSGs, ASGs, load balancers and
    /// their pools, application gateways and their pools, availability sets, subnets: Azure
    /// gives them all one rule.
    Resource,
    VirtualNetwork,
    StorageAccount,
    DiskEncryptionSet,
    UserAssignedIdentity,
    /// A blob name (unmanaged disks and their snapshots, stemcell blobs), restricted to the
    /// characters the CPI's own blob names use, so that none can address another path.
    Blob,
}

struct Rule {
    what: &'static str,
    min: usize,
    max: usize,
    allowed: &'static str,
    char_ok: fn(char) -> bool,
    first_ok: fn(char) -> bool,
    last_ok: fn(char) -> bool,
}

fn alnum(c: char) -> bool {
    c.is_ascii_alphanumeric()
}

fn alnum_or_underscore(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn resource_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn any(_: char) -> bool {
    true
}

impl Kind {
    fn rule(self) -> Rule {
        match self {
            // 1-90: letters and digits (Unicode), '_', '-', '.', '(' and ')'; not ending in '.'.
            Self::ResourceGroup => Rule {
                what: "resource group",
                min: 1,
                max: 90,
                allowed: "letters, digits, '_', '-', '.', '(', ')'; not ending in '.'",
                char_ok: |c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '(' | ')'),
                first_ok: any,
                last_ok: |c| c != '.',
            },
            // 1-64 (Linux); no spaces, control characters or ~!@#$%^&*()=+[]{}\|;:'",<>/?;
            // not starting with '_', not ending in '.' or '-'.
            Self::VirtualMachine => Rule {
                what: "virtual machine",
                min: 1,
                max: 64,
                allowed: "no spaces, control characters or ~!@#$%^&*()=+[]{}\\|;:'\",<>/?; not starting with '_', not ending in '.' or '-'",
                char_ok: |c| {
                    !c.is_whitespace()
                        && !c.is_control()
                        && !"~!@#$%^&*()=+[]{}\\|;:'\",<>/?".contains(c)
                },
                first_ok: |c| c != '_',
                last_ok: |c| c != '.' && c != '-',
            },
            Self::Resource => Rule {
                what: "resource",
                min: 1,
                max: 80,
                allowed: "ASCII letters, digits, '_', '.', '-'; starting with a letter or digit, ending with a letter, digit or '_'",
                char_ok: resource_char,
                first_ok: alnum,
                last_ok: alnum_or_underscore,
            },
            Self::VirtualNetwork => Rule {
                what: "virtual network",
                min: 2,
                max: 64,
                allowed: "ASCII letters, digits, '_', '.', '-'; starting with a letter or digit, ending with a letter, digit or '_'",
                char_ok: resource_char,
                first_ok: alnum,
                last_ok: alnum_or_underscore,
            },
            Self::StorageAccount => Rule {
                what: "storage account",
                min: 3,
                max: 24,
                allowed: "lowercase ASCII letters and digits",
                char_ok: |c| c.is_ascii_lowercase() || c.is_ascii_digit(),
                first_ok: any,
                last_ok: any,
            },
            Self::DiskEncryptionSet => Rule {
                what: "disk encryption set",
                min: 1,
                max: 80,
                allowed: "ASCII letters, digits, '_', '-'",
                char_ok: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'),
                first_ok: any,
                last_ok: any,
            },
            Self::UserAssignedIdentity => Rule {
                what: "user-assigned identity",
                min: 3,
                max: 128,
                allowed: "ASCII letters, digits, '_', '-'; starting with a letter or digit",
                char_ok: |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'),
                first_ok: alnum,
                last_ok: any,
            },
            // Blob names may be 1024 characters long.
            Self::Blob => Rule {
                what: "blob",
                min: 1,
                max: 1024,
                allowed: "ASCII letters, digits, '_', '.', '-', ':'",
                char_ok: |c| resource_char(c) || c == ':',
                first_ok: alnum,
                last_ok: any,
            },
        }
    }
}

/// Checks `value`, the `field` of a request (e.g. `vm_cid`, `networks.default.virtual_network_name`),
/// against Azure's naming rule for `kind`. The error is a CloudError that names the field and
/// shows only a short prefix of the value; nothing is retried.
pub(crate) fn check(kind: Kind, field: &str, value: &str) -> CpiResult<()> {
    let rule = kind.rule();
    let chars = value.chars().count();
    let problem = if chars < rule.min || chars > rule.max {
        Some(format!(
            "it is {chars} characters long; Azure allows {}-{}",
            rule.min, rule.max
        ))
    } else if let Some(bad) = value.chars().find(|c| !(rule.char_ok)(*c)) {
        Some(format!(
            "it holds the character '{}'; Azure allows {}",
            bad.escape_default(),
            rule.allowed
        ))
    } else if !value.chars().next().is_some_and(rule.first_ok)
        || !value.chars().next_back().is_some_and(rule.last_ok)
    {
        Some(format!("Azure allows {}", rule.allowed))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(CpiError::cloud(format!(
            "Invalid {field}: '{}' is not a valid Azure {} name: {problem}",
            quote(value),
            rule.what
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn quote_keeps_short_inputs_and_cuts_long_ones_visibly() {
        assert_eq!(quote("agent-1").to_string(), "agent-1");
        let long = "x".repeat(100_000);
        let shown = quote(&long).to_string();
        assert!(shown.starts_with(&"x".repeat(QUOTE_PREFIX_CHARS)));
        assert!(shown.ends_with("… (100000 bytes)"), "{shown}");
        assert!(shown.len() < QUOTE_PREFIX_CHARS + 32);
        assert_eq!(quote("a\nb").to_string(), "a\\nb");
    }

    #[test]
    fn names_the_cpi_and_the_ruby_cpi_make_pass() {
        let uuid = "6a2f1ad4-4b8a-4d1b-9a5e-1c1e7a3c0b01";
        check(Kind::VirtualMachine, "vm", uuid).unwrap();
        check(
            Kind::VirtualMachine,
            "vm",
            &format!("abcdefghijkl0123456789ab-{uuid}"),
        )
        .unwrap();
        check(Kind::Resource, "disk", &format!("bosh-disk-data-{uuid}")).unwrap();
        check(
            Kind::Resource,
            "disk",
            &format!("bosh-disk-os-{uuid}-ephemeral-disk"),
        )
        .unwrap();
        check(Kind::ResourceGroup, "rg", "my_rg-(prod).1").unwrap();
        check(Kind::StorageAccount, "sa", "abcdefghijkl0123456789ab").unwrap();
        check(Kind::VirtualNetwork, "vnet", "boshnet").unwrap();
        check(
            Kind::Blob,
            "blob",
            "bosh-data-x--2026-01-01T00:00:00.1234567Z",
        )
        .unwrap();
    }

    #[test]
    fn the_message_names_the_field_and_cuts_the_value() {
        let long = "v".repeat(5 << 20);
        let err = check(
            Kind::VirtualNetwork,
            "networks.default.virtual_network_name",
            &long,
        )
        .unwrap_err();
        assert_eq!(err.wire_type(), "Bosh::Clouds::CloudError");
        assert!(!err.ok_to_retry());
        assert!(
            err.message()
                .contains("networks.default.virtual_network_name")
        );
        assert!(
            err.message().contains("(5242880 bytes)"),
            "{}",
            err.message()
        );
        assert!(err.message().len() < 300, "{}", err.message());
    }

    #[test]
    fn each_rule_refuses_what_azure_refuses() {
        for (kind, bad) in [
            (Kind::ResourceGroup, "rg."),
            (Kind::ResourceGroup, "rg/x"),
            (Kind::VirtualMachine, "_vm"),
            (Kind::VirtualMachine, "vm-"),
            (Kind::VirtualMachine, "vm/x"),
            (Kind::VirtualMachine, "vm x"),
            (Kind::Resource, "-disk"),
            (Kind::Resource, "disk-"),
            (Kind::Resource, "disk#1"),
            (Kind::VirtualNetwork, "v"),
            (Kind::StorageAccount, "Upper123"),
            (Kind::StorageAccount, "ab"),
            (Kind::DiskEncryptionSet, "des.1"),
            (Kind::UserAssignedIdentity, "id"),
            (Kind::Blob, "a/b"),
        ] {
            assert!(check(kind, "f", bad).is_err(), "{kind:?} {bad}");
        }
    }

    proptest! {
        #[test]
        fn a_name_within_the_resource_rule_passes(
            name in "[a-zA-Z0-9]([a-zA-Z0-9_.-]{0,78}[a-zA-Z0-9_])?"
        ) {
            prop_assert!(check(Kind::Resource, "f", &name).is_ok());
        }

        #[test]
        fn anything_longer_than_the_limit_fails_with_a_short_message(
            extra in 1usize..5000, kind in prop::sample::select(vec![
                Kind::ResourceGroup, Kind::VirtualMachine, Kind::Resource, Kind::VirtualNetwork,
                Kind::StorageAccount, Kind::DiskEncryptionSet, Kind::UserAssignedIdentity,
                Kind::Blob,
            ])
        ) {
            let name = "a".repeat(kind.rule().max + extra);
            let err = check(kind, "f", &name).unwrap_err();
            prop_assert!(err.message().len() < 300);
        }

        #[test]
        fn a_path_or_query_character_never_passes(
            prefix in "[a-z0-9]{1,10}", bad in prop::sample::select(vec!['/', '?', '#', '%', '&', '\\', ' ', '\n']),
            kind in prop::sample::select(vec![
                Kind::ResourceGroup, Kind::VirtualMachine, Kind::Resource, Kind::VirtualNetwork,
                Kind::StorageAccount, Kind::DiskEncryptionSet, Kind::UserAssignedIdentity,
                Kind::Blob,
            ])
        ) {
            let name = format!("{prefix}{bad}{prefix}");
            prop_assert!(check(kind, "f", &name).is_err());
        }

        #[test]
        fn quote_is_bounded_for_any_input(input in ".{0,2000}") {
            let shown = quote(&input).to_string();
            prop_assert!(shown.chars().count() <= QUOTE_PREFIX_CHARS * 4 + 32);
        }
    }
}
