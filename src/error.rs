//! Exit statuses shared by every command, and the classification every error maps onto.

use std::fmt;

/// The process exit status of every `station` command. ARCHITECTURE.md and `--help` carry this
/// table; later issues cite it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitStatus {
    /// Everything passed.
    Pass = 0,
    /// A unit failed, a design bricked, or tampering was found.
    Fail = 1,
    /// A usage, config or input error.
    Usage = 2,
    /// A station or fixture error.
    Station = 3,
    /// Aborted.
    Aborted = 4,
}

impl ExitStatus {
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The worse of two statuses, for summarising several units. Aborted and station errors
    /// outrank a unit failure: the run did not complete.
    pub fn worst(self, other: ExitStatus) -> ExitStatus {
        fn rank(s: ExitStatus) -> u8 {
            match s {
                ExitStatus::Pass => 0,
                ExitStatus::Fail => 1,
                ExitStatus::Station => 2,
                ExitStatus::Usage => 3,
                ExitStatus::Aborted => 4,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

pub const EXIT_CODE_TABLE: &str = "\
Exit codes:
  0  everything passed
  1  a unit failed, a design bricked, or tampering was found
  2  a usage, config or input error
  3  a station or fixture error
  4  aborted";

/// A top-level error with the exit status it implies.
#[derive(Debug)]
pub struct StationError {
    pub status: ExitStatus,
    pub message: String,
}

impl StationError {
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Usage,
            message: message.into(),
        }
    }
    pub fn station(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Station,
            message: message.into(),
        }
    }
    pub fn fail(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Fail,
            message: message.into(),
        }
    }
    pub fn aborted(message: impl Into<String>) -> Self {
        Self {
            status: ExitStatus::Aborted,
            message: message.into(),
        }
    }
}

impl fmt::Display for StationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for StationError {}
