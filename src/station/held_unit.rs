//! A unit a fixture holds, for RMA and engineering commands (`recover`, `wrp-test`): who it
//! is (its last production record and the label a person types to authorise destructive
//! work), the gate that asks for that label, and how the work ends: the unit saved for the
//! next command and a record linked to that production record.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use chrono::{DateTime, Utc};

use super::dut;
use super::events::EventSink;
use super::images::UnitImages;
use super::step::{StepError, StepOutput};
use super::unit::UnitRun;
use crate::config::{Fixture, Station};
use crate::error::StationError;
use crate::hw::{FixtureHw, HwError};
use crate::record::{
    self, ImageRef, Outcome, ProfileRef, Record, RecordKind, RecordStore, serial_from_uid,
};

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
    /// What a person reads off the unit to type (never the answer itself, nor a record id).
    pub fn label_source(&self) -> String {
        match &self.production {
            Some(p) if p.label.is_some() => {
                "the label on the unit, as scanned at production".into()
            }
            Some(p) if p.serial != serial_from_uid(&self.uid) => {
                "the unit's serial, as recorded at production".into()
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

/// Who works on the unit, and the flag that stops the work after its step.
pub struct WorkOptions<'a> {
    pub operator: String,
    pub abort: &'a AtomicBool,
}

/// How work on a held unit ended, and its record.
#[derive(Debug)]
pub struct WorkDone {
    pub serial: String,
    pub outcome: Outcome,
    pub failure: Option<String>,
    pub record: PathBuf,
    /// The unit's last production record, which the record links to.
    pub parent_record: Option<String>,
}

/// What a person is asked to confirm before anything changes.
#[derive(Clone, Debug)]
pub struct Gate {
    pub unit: UnitRef,
    /// What the command will do to the unit, in plain words.
    pub action: String,
}

impl Gate {
    /// What the command will do, and what to type.
    pub fn prompt(&self) -> String {
        format!(
            "{}. Type the unit's label ({}) to go on: {}",
            self.action,
            self.unit.label_source(),
            self.unit.label
        )
    }

    /// Show the gate to `authorise`, which returns what the person typed (None: nothing); only
    /// the unit's label lets the work go on.
    pub fn pass(
        self,
        fixture: &str,
        authorise: &mut dyn FnMut(&Gate) -> Option<String>,
    ) -> Result<UnitRef, StationError> {
        match authorise(&self) {
            Some(typed) if self.unit.matches(&typed) => Ok(self.unit),
            Some(typed) => Err(StationError::usage(format!(
                "you typed {typed:?}, but the unit in fixture {fixture} has label {}: nothing was \
                 changed. Check it is the unit you mean (UID {}), then run again with \
                 --yes-i-typed {}",
                self.unit.label, self.unit.uid, self.unit.label
            ))),
            None => Err(StationError::usage(format!(
                "{}. Nothing was changed: run again with --yes-i-typed {}",
                self.prompt(),
                self.unit.label
            ))),
        }
    }
}

/// Begin work on the unit `hw` holds: its steps (no journal, no gates), the store its record
/// goes to, and when it began.
pub fn begin<'a>(
    station: &'a Station,
    fixture: &'a Fixture,
    images: &'a UnitImages,
    hw: FixtureHw,
    sink: &'a dyn EventSink,
    options: &WorkOptions<'a>,
) -> Result<(UnitRun<'a>, RecordStore, DateTime<Utc>), StationError> {
    let store = RecordStore::open(&station.records_dir)
        .map_err(|e| StationError::station(e.to_string()))?;
    // The work's record must be writable before the unit is touched.
    store.preflight(&station.id).map_err(|e| {
        StationError::station(format!(
            "nothing was done to the unit: its record could not be written ({e})"
        ))
    })?;
    let started_at = Utc::now();
    let run = UnitRun::on_held_unit(
        fixture,
        station.profile_of(fixture),
        images,
        hw,
        sink,
        options.abort,
        &station.records_dir,
    );
    Ok((run, store, started_at))
}

/// The attach step: switch the unit on if a power cut left it off, then attach `how`.
pub fn attach(
    u: &mut UnitRun,
    how: fn(&mut FixtureHw) -> Result<(), HwError>,
) -> Result<StepOutput, StepError> {
    let mut out = StepOutput::default();
    if dut::ensure_powered(&mut u.hw)? {
        out.details.insert("switched_on".into(), true.into());
    }
    how(&mut u.hw)?;
    Ok(out)
}

/// Why the unit is not ready for the work (`doing`): the step that failed, as the exit status
/// a person acts on.
pub fn not_ready(run: &mut UnitRun, doing: &str) -> StationError {
    run.failure.take().map_or_else(
        || StationError::station("the unit could not be identified"),
        |(outcome, why)| {
            dut::step_error(StepError {
                outcome,
                message: format!("cannot {doing}: {why}"),
            })
        },
    )
}

/// Refuse the work, the unit untouched: detach and save it for the next command (a failed
/// save is the error then), no record.
pub fn refuse(run: &mut UnitRun, why: StationError) -> StationError {
    run.hw.debug.detach();
    save(&run.hw).err().unwrap_or(why)
}

fn save(hw: &FixtureHw) -> Result<(), StationError> {
    hw.save()
        .map_err(|e| StationError::station(format!("saving the simulated unit: {e}")))
}

/// End the work: detach, save the unit for the next command (a failed save fails a run that
/// passed), write its record linked to the unit's last production record, and tell the sink.
pub fn finish(
    station: &Station,
    run: &mut UnitRun,
    store: &RecordStore,
    unit: &UnitRef,
    (kind, operator, images): (RecordKind, &str, Vec<ImageRef>),
    started_at: DateTime<Utc>,
) -> Result<WorkDone, StationError> {
    run.hw.debug.detach();
    let saved = save(&run.hw).err();
    let (outcome, failure) = match (run.failure.take(), saved) {
        (Some((o, why)), _) => (o, Some(why)),
        (None, Some(e)) => (Outcome::Error, Some(e.message)),
        (None, None) => (Outcome::Pass, None),
    };
    let profile = run.profile;
    let production = unit.production.as_ref();
    let serial = production.map_or_else(|| serial_from_uid(&unit.uid), |p| p.serial.clone());
    let parent_record = production.map(|p| p.record_id.clone());
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
        ended_at: Utc::now().max(started_at),
        outcome,
        failure: failure.clone(),
        steps: run.steps.clone(),
        device: run.device.clone(),
        parent_record: parent_record.clone(),
        mode: Some(super::provenance::mode_name(station)),
        attempt: None,
        hardware: Some(super::provenance::hardware_ref(run.fixture, None)),
    };
    let path = store
        .write(&record)
        .map_err(|e| StationError::station(format!("writing the record: {e}")))?;
    run.sink.emit(super::events::Event::UnitFinished {
        fixture: run.fixture.id.clone(),
        unit: run.unit,
        serial: serial.clone(),
        outcome,
        record: path.display().to_string(),
        failure: failure.clone(),
    });
    Ok(WorkDone {
        serial,
        outcome,
        failure,
        record: path,
        parent_record,
    })
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
    fn the_label_source_says_what_to_read_off_the_unit_never_a_record_id() {
        let unit = |p: Option<Record>| UnitRef {
            uid: UID.into(),
            production: p,
            label: String::new(),
        };
        let scanned = unit(Some(production("SN-7", Some("LBL-1")))).label_source();
        assert_eq!(scanned, "the label on the unit, as scanned at production");
        assert!(!scanned.contains("r1"), "{scanned}");
        assert_eq!(
            unit(Some(production("SN-7", None))).label_source(),
            "the unit's serial, as recorded at production"
        );
        assert!(unit(None).label_source().contains(UID));
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
