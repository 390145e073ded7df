//! Firmware versions as image headers store them.

use std::fmt;
use std::str::FromStr;

/// Firmware version as stored in headers: major.minor.patch, where patch
/// is 16 bits. Orders numerically; serde reads and writes it as "1.2.3".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Version {
    pub major: u8,
    pub minor: u8,
    pub patch: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid version {input:?}: {reason}; expected MAJOR.MINOR.PATCH such as 1.2.3 \
     (major and minor 0-255, patch 0-65535)"
)]
pub struct ParseVersionError {
    input: String,
    reason: String,
}

impl Version {
    pub const fn new(major: u8, minor: u8, patch: u16) -> Self {
        Version {
            major,
            minor,
            patch,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| ParseVersionError {
            input: input.to_string(),
            reason,
        };
        let parts: Vec<&str> = input.split('.').collect();
        let [major, minor, patch] = parts.as_slice() else {
            return Err(error(format!(
                "has {} dot-separated parts, not 3",
                parts.len()
            )));
        };
        Ok(Version {
            major: number(major, "major").map_err(error)?,
            minor: number(minor, "minor").map_err(error)?,
            patch: number(patch, "patch").map_err(error)?,
        })
    }
}

/// Digits only: `str::parse` alone would also accept "+1".
fn number<T: FromStr>(text: &str, what: &str) -> Result<T, String> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} part {text:?} is not a number"));
    }
    text.parse()
        .map_err(|_| format!("{what} part {text} is out of range"))
}

impl TryFrom<String> for Version {
    type Error = ParseVersionError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<Version> for String {
    fn from(version: Version) -> String {
        version.to_string()
    }
}
