//! Checks a unit passes before anything on it changes, all read from the records: it is not
//! routed to rework, its label is not bound to another chip, and the shift's golden unit
//! has passed.

use chrono::{Duration as ChronoDuration, Utc};

use super::step::StepError;
use crate::config::{ReworkPolicy, Station, StationMode};
use crate::error::StationError;
use crate::record::{Outcome, Record, RecordKind, RecordStore};

/// What the engine checks for one unit.
pub struct UnitGates<'a> {
    pub store: &'a RecordStore,
    pub policy: &'a ReworkPolicy,
    /// The label scanned for the unit.
    pub label: Option<&'a str>,
    /// Checking the golden unit: its UID and how long a pass holds.
    pub golden: Option<(String, f64)>,
}

/// What the checks found, for the step's record entry.
#[derive(Debug, PartialEq)]
pub struct Traceability {
    /// This unit's production attempt, 1 for its first.
    pub attempt: u32,
    /// FAILs since its last rework clearance.
    pub failures: u32,
}

impl UnitGates<'_> {
    /// Check the unit with this UID may be provisioned. The attempt number is known even
    /// when the unit is refused.
    pub fn check(&self, uid: &str) -> (Option<u32>, Result<Traceability, StepError>) {
        match self.history_of(uid) {
            Err(e) => (None, Err(e)),
            Ok(found) => (Some(found.attempt), self.judge(uid, found)),
        }
    }

    fn judge(&self, uid: &str, found: Traceability) -> Result<Traceability, StepError> {
        let Traceability { failures, .. } = found;
        let limit = *self.policy.after_failures.get_ref();
        if failures >= limit {
            return Err(StepError::fail(format!(
                "routed to rework: this unit failed {failures} times since its last clearance \
                 (the station allows {limit}); a technician clears it with `station rework \
                 clear {} --by NAME`",
                crate::record::serial_from_uid(uid)
            )));
        }
        if let Some(label) = self.label {
            self.check_label(label, uid)?;
        }
        Ok(found)
    }

    /// The unit's attempt number and failures since its last clearance, from its records.
    pub fn history_of(&self, uid: &str) -> Result<Traceability, StepError> {
        let history = self
            .store
            .history(uid)
            .map_err(|e| StepError::error(format!("reading the unit's history: {e}")))?;
        let mine: Vec<&Record> = history
            .records
            .iter()
            .map(|(_, r)| r)
            .filter(|r| {
                r.uid
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(uid))
            })
            .collect();
        let production = |r: &&&Record| r.kind == RecordKind::Production;
        let attempt = 1 + mine.iter().filter(production).count() as u32;
        // Newest first: failures up to the last clearance.
        let failures = mine
            .iter()
            .take_while(|r| r.kind != RecordKind::Clearance)
            .filter(production)
            .filter(|r| r.outcome == Outcome::Fail)
            .count() as u32;
        Ok(Traceability { attempt, failures })
    }

    /// The label this chip was last provisioned under, from its records: a retest, or a later
    /// attempt without a scan, keeps it.
    pub fn known_label(&self, uid: &str) -> Option<String> {
        let history = self.store.history(uid).ok()?;
        history
            .records
            .iter()
            .map(|(_, r)| r)
            .filter(|r| {
                r.uid
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(uid))
            })
            .find_map(|r| r.label.clone())
    }

    /// A label belongs to the chip it was first provisioned on.
    fn check_label(&self, label: &str, uid: &str) -> Result<(), StepError> {
        let history = self
            .store
            .history(label)
            .map_err(|e| StepError::error(format!("reading the label's history: {e}")))?;
        let first = history.records.iter().rev().map(|(_, r)| r).find(|r| {
            r.label
                .as_deref()
                .is_some_and(|l| l.eq_ignore_ascii_case(label))
                && r.uid.is_some()
        });
        match first {
            Some(r)
                if !r
                    .uid
                    .as_deref()
                    .is_some_and(|u| u.eq_ignore_ascii_case(uid)) =>
            {
                Err(StepError::fail(format!(
                    "label {label} belongs to the chip with UID {} (first provisioned in record \
                     {}); this chip is UID {uid}: check the label, then retest",
                    r.uid.as_deref().unwrap_or_default(),
                    r.record_id
                )))
            }
            _ => self.bind_label(label, uid),
        }
    }

    /// Bind `label` to this chip at the station, atomically across its threads and processes
    /// (two units in flight with one label: the records alone see neither until written).
    /// Labels compare case-insensitively: a scanner with Caps Lock inverts case.
    fn bind_label(&self, label: &str, uid: &str) -> Result<(), StepError> {
        use std::io::Write;
        let dir = self.store.dir().join(".station").join("labels");
        let path = dir.join(crate::record::paths::safe_component(&label.to_lowercase()));
        let io = |e: std::io::Error| {
            StepError::error(format!("binding label {label} ({}): {e}", path.display()))
        };
        std::fs::create_dir_all(&dir).map_err(io)?;
        // Written whole under a name of its own, then linked into place: the link fails if
        // the label is bound already, and nobody ever reads a half-written binding.
        let temp = dir.join(format!(
            ".{}-{}-{}.tmp",
            std::process::id(),
            uid,
            path.file_name().unwrap_or_default().to_string_lossy()
        ));
        std::fs::File::create(&temp)
            .and_then(|mut f| writeln!(f, "{uid}").and_then(|()| f.sync_all()))
            .map_err(io)?;
        let linked = std::fs::hard_link(&temp, &path);
        let _ = std::fs::remove_file(&temp);
        match linked {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let bound = std::fs::read_to_string(&path).map_err(io)?;
                let bound = bound.trim();
                if bound.eq_ignore_ascii_case(uid) {
                    return Ok(());
                }
                Err(StepError::fail(format!(
                    "label {label} belongs to the chip with UID {bound} (bound at this station, \
                     its unit may still be in progress); this chip is UID {uid}: check the label, \
                     then retest"
                )))
            }
            Err(e) => Err(io(e)),
        }
    }

    /// The golden check: the unit on the fixture must be the golden one.
    pub fn check_golden(&self, uid: &str) -> Result<(), StepError> {
        match &self.golden {
            Some((golden, _)) if golden.eq_ignore_ascii_case(uid) => Ok(()),
            Some((golden, _)) => Err(StepError::fail(format!(
                "this unit (UID {uid}) is not the golden unit (UID {golden}): put the golden \
                 unit on the fixture"
            ))),
            None => Err(StepError::error("the station has no [golden] unit")),
        }
    }
}

/// `station golden` needs a golden unit in the station file.
pub fn golden_target(station: &Station) -> Result<(), StationError> {
    match station.golden {
        Some(_) => Ok(()),
        None => Err(StationError::usage(format!(
            "{}: the station has no [golden] unit (uid = \"...\")",
            station.source.path.display()
        ))),
    }
}

/// In production, a station with a golden unit refuses to run until the golden unit passed
/// within its period.
pub fn golden_passed(station: &Station, store: &RecordStore) -> Result<(), StationError> {
    let Some((uid, hours)) = &station.golden else {
        return Ok(());
    };
    if station.mode != StationMode::Production {
        return Ok(());
    }
    let since = Utc::now() - ChronoDuration::milliseconds((hours * 3_600_000.0) as i64);
    let history = store
        .history(uid)
        .map_err(|e| StationError::station(e.to_string()))?;
    let passed = history.records.iter().any(|(_, r)| {
        r.kind == RecordKind::Golden && r.outcome == Outcome::Pass && r.started_at >= since
    });
    if passed {
        return Ok(());
    }
    Err(StationError::usage(format!(
        "production waits for the golden unit (UID {uid}): it has not passed in the last {hours} \
         h. Put it on a fixture and run `station golden --station {} --fixture F`",
        station.source.path.display()
    )))
}
