//! The work the runner's threads do besides production runs, through the same library
//! functions as `station torture`, `station inspect`, `station history`, `station recover` and
//! `station rework clear`; and what the TUI reads from the records (cycles, attempts, the
//! golden-unit gate).

use std::sync::atomic::AtomicBool;

use super::engine::EngineMessage;
use super::rma::{JobEnd, UnitHistory, UnitView};
use super::torture::CampaignEnd;
use crate::config::Station;
use crate::error::{ExitStatus, StationError};
use crate::record::{History, Outcome, Record, RecordStore};
use crate::station::EventSink;
use crate::station::held_unit::{Gate, UnitRef, WorkOptions};
use crate::station::open_unit as fresh;
use crate::station::rma::inspect::{self, Via};
use crate::station::rma::recover;
use crate::station::torture::campaign::{self, TortureOptions};
use crate::station::{gates, rework};

/// What a piece of work reports when its thread panicked or never started.
pub trait Crashable {
    fn crashed(why: String) -> Self;
}

fn crash_text(why: &str) -> String {
    format!("the engine crashed: {why}")
}

impl Crashable for Option<String> {
    fn crashed(why: String) -> Self {
        Some(crash_text(&why))
    }
}

impl Crashable for CampaignEnd {
    fn crashed(why: String) -> Self {
        CampaignEnd {
            outcome: Outcome::Error,
            text: Some(crash_text(&why)),
            record: None,
            needs_boot0: false,
        }
    }
}

impl Crashable for Result<UnitView, String> {
    fn crashed(why: String) -> Self {
        Err(crash_text(&why))
    }
}

impl Crashable for Survey {
    fn crashed(_: String) -> Self {
        Survey::default()
    }
}

impl<T> Crashable for (JobEnd, Option<T>) {
    fn crashed(why: String) -> Self {
        let end = JobEnd {
            outcome: Outcome::Error,
            text: crash_text(&why),
            record: None,
        };
        (end, None)
    }
}

/// An engine error as an outcome a person acts on; a refusal changed nothing (ABORTED).
fn outcome_of(e: &StationError) -> Outcome {
    match e.status {
        ExitStatus::Pass => Outcome::Pass,
        ExitStatus::Fail => Outcome::Fail,
        ExitStatus::Usage | ExitStatus::Aborted => Outcome::Aborted,
        ExitStatus::Station => Outcome::Error,
    }
}

fn fixture<'a>(station: &'a Station, id: &str) -> Result<&'a crate::config::Fixture, String> {
    station
        .fixture(id)
        .ok_or_else(|| format!("no fixture {id:?} in this station"))
}

pub fn torture(
    station: &Station,
    id: &str,
    operator: String,
    abort: &'static AtomicBool,
    sink: &dyn EventSink,
) -> CampaignEnd {
    let options = TortureOptions {
        plan: None,
        modes: Vec::new(),
        restore: None,
        operator,
        abort: Some(abort),
    };
    let result = fixture(station, id)
        .map_err(StationError::usage)
        .and_then(|f| campaign::run(station, f, &options, sink));
    match result {
        Ok(done) => CampaignEnd {
            outcome: done.record.outcome,
            text: done.record.failure.clone(),
            record: Some(done.path.display().to_string()),
            needs_boot0: done.campaign.needs_boot0(),
        },
        Err(e) => CampaignEnd {
            outcome: outcome_of(&e),
            text: Some(e.message),
            record: None,
            needs_boot0: false,
        },
    }
}

/// What `station inspect` shows, with the unit's records.
pub fn inspect(station: &Station, id: &str, via: Via) -> Result<UnitView, String> {
    let fixture = fixture(station, id)?;
    let mut hw = fresh::open_held(station, fixture).map_err(|e| e.message)?;
    let result = inspect::inspect(station, fixture, &mut hw, via);
    // The unit stays on the fixture for the next command, as after `station inspect`.
    hw.save()
        .map_err(|e| format!("saving the simulated unit: {e}"))?;
    let inspection = result.map_err(|e| e.message)?;
    let (label_source, history) = match &inspection.identity {
        Some(identity) => {
            let store = RecordStore::open(&station.records_dir).map_err(|e| e.to_string())?;
            let unit = UnitRef::find(&store, &identity.uid).map_err(|e| e.message)?;
            let history = store.history(&identity.uid).map_err(|e| e.to_string())?;
            (Some(unit.label_source()), history)
        }
        None => (None, History::default()),
    };
    Ok(UnitView::new(&inspection, label_source, &history))
}

/// `station recover` with the label the technician typed, then an inspection of the result.
pub fn recover(
    station: &Station,
    id: &str,
    typed: &str,
    operator: String,
    abort: &'static AtomicBool,
    sink: &dyn EventSink,
) -> (JobEnd, Option<Result<UnitView, String>>) {
    let options = WorkOptions { operator, abort };
    let mut authorise = |_: &Gate| Some(typed.to_string());
    let result = fixture(station, id)
        .map_err(StationError::usage)
        .and_then(|f| Ok((f, fresh::open_held(station, f)?)))
        .and_then(|(f, hw)| recover::recover(station, f, hw, &options, &mut authorise, sink));
    let end = match result {
        Ok(done) => JobEnd {
            outcome: done.outcome,
            text: done.failure.unwrap_or_else(|| "recovered".into()),
            record: Some(done.record.display().to_string()),
        },
        Err(e) => JobEnd {
            outcome: outcome_of(&e),
            text: e.message,
            record: None,
        },
    };
    let after = (end.record.is_some()).then(|| inspect(station, id, Via::Swd));
    (end, after)
}

/// What the records say of the station: each fixture's cycle count, and why production waits
/// for the golden unit, if it does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Survey {
    pub cycles: Vec<(String, u64)>,
    pub golden_waiting: Option<String>,
}

pub fn survey(station: &Station) -> Survey {
    let store = RecordStore::open(&station.records_dir).ok();
    let cycles = station
        .fixtures
        .iter()
        .filter_map(|f| {
            let n = store.as_ref()?.unit_count(&f.id).ok()?;
            Some((f.id.clone(), n))
        })
        .collect();
    Survey {
        cycles,
        golden_waiting: golden_waiting(station),
    }
}

/// The engine's refusal when production waits for the golden unit; None when it may run (or
/// the records cannot say: the run itself then reports the trouble).
pub fn golden_waiting(station: &Station) -> Option<String> {
    let store = RecordStore::open(&station.records_dir).ok()?;
    match gates::golden_passed(station, &store) {
        Err(e) if e.status == ExitStatus::Usage => Some(e.message),
        _ => None,
    }
}

/// What a unit's record adds to its events: its attempt and the fixture's cycles.
pub fn recorded(fixture: &str, unit: u64, path: &str) -> Option<EngineMessage> {
    let bytes = std::fs::read(path).ok()?;
    let record: Record = serde_json::from_slice(&bytes).ok()?;
    Some(EngineMessage::UnitRecorded {
        fixture: fixture.to_string(),
        unit,
        attempt: record.attempt,
        cycles: record.hardware.and_then(|h| h.fixture_cycles),
    })
}

/// `station rework clear`, then the unit's history with the clearance in it.
pub fn clear_rework(
    station: &Station,
    unit: &str,
    by: &str,
    reason: Option<&str>,
) -> (JobEnd, Option<Result<UnitHistory, String>>) {
    let end = match rework::clear(station, unit, by, reason) {
        Ok(cleared) => JobEnd {
            outcome: Outcome::Pass,
            text: format!(
                "{} cleared for production by {by} ({} failures)",
                cleared.serial, cleared.failures
            ),
            record: Some(cleared.path.display().to_string()),
        },
        Err(e) => JobEnd {
            outcome: outcome_of(&e),
            text: e.message,
            record: None,
        },
    };
    let history = RecordStore::open(&station.records_dir)
        .and_then(|store| store.history(unit))
        .map(|h| UnitHistory::new(&h))
        .map_err(|e| e.to_string());
    (end, Some(history))
}
