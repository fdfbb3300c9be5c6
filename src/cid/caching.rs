//! Host caching of an Azure disk: the three values ARM accepts, spelled as in ARM and in CIDs.

use crate::names::quote;
use std::fmt;
use std::str::FromStr;

use crate::error::CpiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub(crate) enum Caching {
    None,
    ReadOnly,
    ReadWrite,
}

impl Caching {
    pub(crate) const ALL: [Caching; 3] = [Caching::None, Caching::ReadOnly, Caching::ReadWrite];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Caching::None => "None",
            Caching::ReadOnly => "ReadOnly",
            Caching::ReadWrite => "ReadWrite",
        }
    }
}

impl FromStr for Caching {
    type Err = CpiError;

    /// Case-sensitive, like the Ruby CPI's `validate_disk_caching`, and with its message.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Caching::ALL
            .into_iter()
            .find(|caching| caching.as_str() == s)
            .ok_or_else(|| CpiError::cloud(format!("Unknown disk caching {}", quote(s))))
    }
}

impl fmt::Display for Caching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_the_three_values() {
        for caching in Caching::ALL {
            assert_eq!(caching.to_string().parse::<Caching>().unwrap(), caching);
        }
    }

    #[test]
    fn rejects_other_spellings_with_the_ruby_message() {
        for bad in ["readwrite", "", "Write", "None "] {
            let err = bad.parse::<Caching>().unwrap_err();
            assert_eq!(err, CpiError::cloud(format!("Unknown disk caching {bad}")));
        }
    }
}
