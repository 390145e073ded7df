//! The work the runner's threads do besides production runs, through the same library
//! functions as `station torture`, `station inspect`, `station history` and `station recover`.

use std::sync::atomic::AtomicBool;

use super::rma::{JobEnd, UnitView};
use super::torture::CampaignEnd;
use crate::config::Station;
use crate::error::{ExitStatus, StationError};
use crate::record::{History, Outcome, RecordStore};
use crate::station::EventSink;
use crate::station::campaign::{self, TortureOptions};
use crate::station::fresh;
use crate::station::rma::UnitRef;
use crate::station::rma::inspect::{self, Via};
use crate::station::rma::recover::{self, Gate, RecoverOptions};

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

impl Crashable for (JobEnd, Option<Result<UnitView, String>>) {
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
    let options = RecoverOptions { operator, abort };
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
