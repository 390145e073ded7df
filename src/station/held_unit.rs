//! A unit a fixture holds, for RMA and engineering commands: who it is (its last production
//! record and the label a person types to authorise destructive work), and the record of a
//! run on it, linked to that production record.

use super::unit::UnitRun;
use crate::error::StationError;
use crate::record::{Record, RecordKind, RecordStore, serial_from_uid};

/// Who a unit is, from the records: its last production record and the label to type.
#[derive(Clone, Debug)]
pub struct UnitRef {
    pub uid: String,
    pub production: Option<Record>,
    /// What an operator types to authorise destructive work on this unit.
    pub label: String,
}

impl UnitRef {
    /// Look the unit up by UID in the records directory.
    pub fn find(store: &RecordStore, uid: &str) -> Result<UnitRef, StationError> {
        let history = store
            .history(uid)
            .map_err(|e| StationError::station(format!("reading the unit's history: {e}")))?;
        let production = history
            .records
            .into_iter()
            .map(|(_, r)| r)
            .find(|r| r.kind == RecordKind::Production);
        let label = label_of(uid, production.as_ref());
        Ok(UnitRef {
            uid: uid.to_string(),
            production,
            label,
        })
    }

    /// Whether `typed` is this unit's label (hex digits of a UID in either case).
    pub fn matches(&self, typed: &str) -> bool {
        // As the engine's gates: a person types it, in whatever case.
        typed.trim().eq_ignore_ascii_case(&self.label)
    }

    /// Where the label comes from, in plain words.
    pub fn label_source(&self) -> String {
        match &self.production {
            Some(p) if p.label.is_some() || p.serial != serial_from_uid(&self.uid) => {
                format!("the label of production record {}", p.record_id)
            }
            _ => format!("the last 8 hex digits of UID {}", self.uid),
        }
    }
}

/// The production record's scanned label or serial when it has one, else the last 8 hex digits
/// of the UID (a serial made from the UID is not a label anyone can read off the unit).
pub fn label_of(uid: &str, production: Option<&Record>) -> String {
    if let Some(p) = production {
        if let Some(label) = &p.label {
            return label.clone();
        }
        if p.serial != serial_from_uid(uid) {
            return p.serial.clone();
        }
    }
    let uid = uid.trim().to_ascii_uppercase();
    uid[uid.len().saturating_sub(8)..].to_string()
}

/// Write the record of an RMA or engineering run on a held unit, linked to the unit's last
/// production record, and tell the sink. Returns the serial and the record's path.
pub fn write_unit_record(
    station: &crate::config::Station,
    run: &UnitRun,
    store: &crate::record::RecordStore,
    unit: &UnitRef,
    (kind, operator, images): (
        crate::record::RecordKind,
        &str,
        Vec<crate::record::ImageRef>,
    ),
    started_at: chrono::DateTime<chrono::Utc>,
    (outcome, failure): (crate::record::Outcome, Option<String>),
) -> Result<(String, std::path::PathBuf), crate::error::StationError> {
    use crate::record::{self, ProfileRef, Record};
    let profile = run.profile;
    let production = unit.production.as_ref();
    let serial =
        production.map_or_else(|| record::serial_from_uid(&unit.uid), |p| p.serial.clone());
    let record = Record {
        schema_version: record::SCHEMA_VERSION,
        record_id: record::new_record_id(started_at),
        kind,
        serial: serial.clone(),
        label: production.and_then(|p| p.label.clone()),
        uid: Some(unit.uid.clone()),
        station: station.id.clone(),
        fixture: run.fixture.id.clone(),
        operator: operator.to_string(),
        station_version: super::provenance::STATION_VERSION.into(),
        profile: ProfileRef {
            name: profile.name.clone(),
            revision: profile.revision.clone(),
            sha256: profile.sha256.clone(),
        },
        images,
        started_at,
        ended_at: chrono::Utc::now().max(started_at),
        outcome,
        failure: failure.clone(),
        steps: run.steps.clone(),
        device: run.device.clone(),
        parent_record: production.map(|p| p.record_id.clone()),
        mode: Some(super::provenance::mode_name(station)),
        attempt: None,
        hardware: Some(super::provenance::hardware_ref(run.fixture, None)),
    };
    let path = store
        .write(&record)
        .map_err(|e| crate::error::StationError::station(format!("writing the record: {e}")))?;
    run.sink.emit(super::events::Event::UnitFinished {
        fixture: run.fixture.id.clone(),
        unit: run.unit,
        serial: serial.clone(),
        outcome,
        record: path.display().to_string(),
        failure,
    });
    Ok((serial, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    const UID: &str = "5ACE47BC5AC5372E928A227E";

    fn production(serial: &str, label: Option<&str>) -> Record {
        let text = format!(
            r#"{{"schema_version":1,"record_id":"r1","kind":"production","serial":"{serial}",
            "station":"s","fixture":"f","operator":"o","station_version":"0","profile":
            {{"name":"p","revision":"A","sha256":"{}"}},"started_at":"2026-01-01T00:00:00.000Z",
            "ended_at":"2026-01-01T00:00:00.000Z","outcome":"PASS"{}}}"#,
            "a".repeat(64),
            label
                .map(|l| format!(r#","label":"{l}""#))
                .unwrap_or_default()
        );
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn the_label_is_the_scanned_one_else_a_real_serial_else_the_uid_tail() {
        let labelled = production("SN-7", Some("LBL-1"));
        assert_eq!(label_of(UID, Some(&labelled)), "LBL-1");
        assert_eq!(label_of(UID, Some(&production("SN-7", None))), "SN-7");
        let uid_serial = production(&serial_from_uid(UID), None);
        assert_eq!(label_of(UID, Some(&uid_serial)), "928A227E");
        assert_eq!(label_of(UID, None), "928A227E");
    }

    #[test]
    fn labels_match_in_either_case() {
        let unit = |label: &str| UnitRef {
            uid: UID.into(),
            production: None,
            label: label.into(),
        };
        assert!(unit("928A227E").matches(" 928a227e\n"));
        assert!(!unit("928A227E").matches("928A227"));
        assert!(unit("LBL-1").matches("lbl-1"));
        assert!(!unit("LBL-1").matches("LBL-2"));
    }
}
