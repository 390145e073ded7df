//! Per-run test records: one JSON file per unit run, trusted for years.
//!
//! The types here are the on-disk format (see `docs/records.md` and
//! `docs/record.schema.json`); changing a field is a schema change.

mod atomic;
pub mod chain;
pub mod crash;
mod error;
pub mod export;
mod history;
mod idcode;
mod ids;
mod journal;
pub mod paths;
pub mod stats;
pub mod store;
mod timestamp;
mod units;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use error::RecordError;
pub use ids::{new_record_id, serial_from_uid};
pub use store::{History, RecordStore};

/// Bumped only for changes that are not purely additive.
pub const SCHEMA_VERSION: u32 = 2;

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    Production,
    Torture,
    Rma,
    Clearance,
    /// The shift's known-good unit, checked before production.
    Golden,
    /// An engineering test of a unit (`station wrp-test`).
    Engineering,
}

/// PASS unit good, FAIL unit bad, ERROR station or fixture broke,
/// TIMEOUT, ABORTED operator stopped it.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum Outcome {
    Pass,
    Fail,
    Error,
    Timeout,
    Aborted,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Error => "ERROR",
            Outcome::Timeout => "TIMEOUT",
            Outcome::Aborted => "ABORTED",
        })
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ProfileRef {
    pub name: String,
    pub revision: String,
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ImageRef {
    pub name: String,
    /// "bootloader", "application", ...
    pub role: String,
    pub sha256: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeviceInfo {
    /// 96-bit unique ID as 24 hex chars.
    pub uid: String,
    /// Written as "0x%08x" because that is how datasheets print it.
    #[serde(with = "idcode")]
    pub idcode: u32,
    pub flash_size_kib: u32,
}

/// Inclusive bounds; a missing side is unbounded.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Limits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub low: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub high: Option<f64>,
}

impl Limits {
    /// NaN never passes, so a broken reading or limit fails safe.
    pub fn contains(&self, value: f64) -> bool {
        value.is_finite()
            && self.low.is_none_or(|low| value >= low)
            && self.high.is_none_or(|high| value <= high)
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Measurement {
    pub name: String,
    pub value: f64,
    pub unit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
    pub passed: bool,
}

impl Measurement {
    pub fn new(
        name: impl Into<String>,
        value: f64,
        unit: impl Into<String>,
        limits: Option<Limits>,
    ) -> Self {
        let passed = match &limits {
            Some(limits) => limits.contains(value),
            None => value.is_finite(),
        };
        Measurement {
            name: name.into(),
            value,
            unit: unit.into(),
            limits,
            passed,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct StepRecord {
    pub name: String,
    pub outcome: Outcome,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub ended_at: DateTime<Utc>,
    #[serde(default)]
    pub measurements: Vec<Measurement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Free-form evidence, e.g. option bytes before/after.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub details: BTreeMap<String, serde_json::Value>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Record {
    pub schema_version: u32,
    pub record_id: String,
    pub kind: RecordKind,
    pub serial: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    pub station: String,
    pub fixture: String,
    pub operator: String,
    pub station_version: String,
    pub profile: ProfileRef,
    #[serde(default)]
    pub images: Vec<ImageRef>,
    #[serde(with = "timestamp")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "timestamp")]
    pub ended_at: DateTime<Utc>,
    pub outcome: Outcome,
    /// The reason in plain words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default)]
    pub steps: Vec<StepRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
    /// The record this one follows up (an RMA record names the unit's production record).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_record: Option<String>,
    /// The station's mode when the record was made: production, engineering or rma.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// This serial's production attempt, 1 for its first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// The fixture and probe the unit ran on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwareRef>,
}

/// Which probe, USB port and fixture a record's unit was on: a fault traced to a fixture
/// (worn pogo pins, a bad cable) is found from the records.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct HardwareRef {
    /// "sim" (the virtual bench) or "hw".
    pub backend: String,
    /// The probe selector, VID:PID[:serial].
    pub probe: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usb_port: Option<String>,
    /// How many units the fixture had been given, this one included (pogo-pin wear).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixture_cycles: Option<u64>,
}
