//! Rework clearance: a unit routed to rework after too many failures is refused until a
//! technician writes a clearance record for it (`station rework clear SERIAL --by NAME`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::Utc;

use super::{STATION_VERSION, mode_name};
use crate::config::Station;
use crate::error::StationError;
use crate::record::{self, Outcome, Record, RecordKind, RecordStore, StepRecord};

/// What a clearance cleared.
#[derive(Debug)]
pub struct Cleared {
    pub path: PathBuf,
    pub serial: String,
    pub failures: u32,
}

/// Clear the unit `unit` (a serial, label or UID) for production again, by `by`.
pub fn clear(
    station: &Station,
    unit: &str,
    by: &str,
    reason: Option<&str>,
) -> Result<Cleared, StationError> {
    if by.trim().is_empty() {
        return Err(StationError::usage(
            "--by NAME: the technician who cleared the unit must be named",
        ));
    }
    let store = RecordStore::open(&station.records_dir)
        .map_err(|e| StationError::station(e.to_string()))?;
    let history = store
        .history(unit)
        .map_err(|e| StationError::station(e.to_string()))?;
    let Some((_, latest)) = history
        .records
        .iter()
        .find(|(_, r)| r.kind == RecordKind::Production && r.uid.is_some())
    else {
        return Err(StationError::usage(format!(
            "no production record of a unit {unit:?} in {}",
            station.records_dir.display()
        )));
    };
    let uid = latest.uid.clone().unwrap_or_default();
    let gates = super::gates::UnitGates {
        store: &store,
        policy: &station.rework,
        label: None,
        golden: None,
    };
    let failures = gates
        .history_of(&uid)
        .map_err(|e| StationError::station(e.message))?
        .failures;
    let limit = *station.rework.after_failures.get_ref();
    if failures < limit {
        return Err(StationError::usage(format!(
            "{} is not routed to rework: {failures} failures since its last clearance, the \
             station routes a unit after {limit}",
            latest.serial
        )));
    }
    let now = Utc::now();
    let mut details = BTreeMap::new();
    details.insert("failures_cleared".into(), failures.into());
    details.insert("cleared_by".into(), by.into());
    if let Some(reason) = reason {
        details.insert("reason".into(), reason.into());
    }
    let record = Record {
        schema_version: record::SCHEMA_VERSION,
        record_id: record::new_record_id(now),
        kind: RecordKind::Clearance,
        serial: latest.serial.clone(),
        label: latest.label.clone(),
        uid: Some(uid),
        station: station.id.clone(),
        fixture: latest.fixture.clone(),
        operator: by.to_string(),
        station_version: STATION_VERSION.into(),
        profile: latest.profile.clone(),
        images: latest.images.clone(),
        started_at: now,
        ended_at: now,
        outcome: Outcome::Pass,
        failure: None,
        steps: vec![StepRecord {
            name: "rework_clearance".into(),
            outcome: Outcome::Pass,
            started_at: now,
            ended_at: now,
            measurements: Vec::new(),
            error: None,
            details,
        }],
        device: latest.device.clone(),
        parent_record: Some(latest.record_id.clone()),
        mode: Some(mode_name(station)),
        attempt: None,
        hardware: None,
    };
    let path = store
        .write(&record)
        .map_err(|e| StationError::station(format!("writing the clearance record: {e}")))?;
    Ok(Cleared {
        path,
        serial: record.serial,
        failures,
    })
}
