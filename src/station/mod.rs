//! The station engine: runs units on fixtures in parallel, one worker per fixture, and writes
//! one record per unit. It knows no terminal; events flow out through an [`EventSink`].

pub mod bench;
pub mod console;
pub mod dfu_command;
pub mod dfu_session;
pub mod dut;
pub mod events;
pub mod fixture_lock;
pub mod gates;
pub mod held_unit;
pub mod images;
pub mod open_unit;
pub mod part_check;
mod production;
pub mod provenance;
pub mod rework;
pub mod rma;
pub mod step;
pub mod torture;
pub mod unit;
pub mod unit_data;
pub mod update;
mod worker;
pub mod wrp_test;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use events::{Event, EventSink};
pub use images::load_unit_images;
pub use provenance::{STATION_VERSION, hardware_ref, mode_name};
pub use worker::quit_now;

use crate::config::{CheckedImages, Fixture, Station};
use crate::error::{ExitStatus, StationError};
use crate::record::{Outcome, Record, RecordStore};

pub struct RunOptions {
    pub units: u64,
    pub operator: String,
    /// Only these fixtures (all when empty).
    pub fixtures: Vec<String>,
    /// Set by the UI or a signal handler to stop after the current step.
    pub abort: &'static AtomicBool,
    /// Unit labels a person typed to authorise permanent actions (RDP level 2) on them.
    pub typed_labels: Vec<String>,
    /// Test the unit the fixture holds now again (on the virtual bench the one the last
    /// command left there, e.g. after a recovery) instead of a newly arrived one.
    pub retest: bool,
    /// Scanned unit labels as (fixture, label), taken in order by that fixture's units.
    pub labels: Vec<(String, String)>,
    /// Check the station's golden unit (held on the fixture) instead of provisioning.
    pub golden: bool,
}

#[derive(Debug, Default)]
pub struct RunSummary {
    pub units: Vec<(String, String, Outcome, PathBuf)>,
}

impl RunSummary {
    pub fn exit_status(&self) -> ExitStatus {
        self.units
            .iter()
            .fold(ExitStatus::Pass, |acc, (_, _, outcome, _)| {
                acc.worst(match outcome {
                    Outcome::Pass => ExitStatus::Pass,
                    Outcome::Fail => ExitStatus::Fail,
                    Outcome::Error | Outcome::Timeout => ExitStatus::Station,
                    Outcome::Aborted => ExitStatus::Aborted,
                })
            })
    }
}

/// Provision `options.units` units, spread over the fixtures, which run in parallel.
pub fn run(
    station: &Station,
    options: &RunOptions,
    sink: &dyn EventSink,
) -> Result<RunSummary, StationError> {
    run_checked(station, &CheckedImages::default(), options, sink)
}

/// [`run`] after `config::check_station`: the images it loaded and hashed are not read again.
pub fn run_checked(
    station: &Station,
    checked: &CheckedImages,
    options: &RunOptions,
    sink: &dyn EventSink,
) -> Result<RunSummary, StationError> {
    let fixtures: Vec<&Fixture> = station
        .fixtures
        .iter()
        .filter(|f| options.fixtures.is_empty() || options.fixtures.contains(&f.id))
        .collect();
    if fixtures.is_empty() {
        return Err(StationError::usage(format!(
            "no fixture named {} in {}",
            options.fixtures.join(", "),
            station.source.path.display()
        )));
    }
    if let Some((fixture, _)) = options
        .labels
        .iter()
        .find(|(f, _)| !fixtures.iter().any(|x| &x.id == f))
    {
        return Err(StationError::usage(format!(
            "a label was given for fixture {fixture:?}, which this run does not use"
        )));
    }
    let mut images = std::collections::BTreeMap::new();
    for f in &fixtures {
        if !images.contains_key(&f.profile_path) {
            images.insert(
                f.profile_path.clone(),
                Arc::new(images::unit_images(station.profile_of(f), checked)?),
            );
        }
    }
    let store = RecordStore::open(&station.records_dir)
        .map_err(|e| StationError::station(e.to_string()))?;
    cleanup_once(&store).map_err(|e| StationError::station(e.to_string()))?;
    store.preflight(&station.id).map_err(|e| {
        StationError::station(format!(
            "no unit was started: its record could not be written ({e})"
        ))
    })?;
    // The run's fixtures are this process's until it ends: another process is refused now,
    // before any unit starts, and cannot take one between two units.
    let command = open_unit::command_line();
    let _held = fixtures
        .iter()
        .map(|f| fixture_lock::acquire(&station.records_dir, &f.id, &command))
        .collect::<Result<Vec<_>, _>>()
        .map_err(StationError::station)?;
    // Units a killed station left half done are closed as ABORTED, with what had been done.
    for path in store
        .close_abandoned()
        .map_err(|e| StationError::station(e.to_string()))?
    {
        if let Ok(r) = std::fs::read(&path)
            .map_err(drop)
            .and_then(|b| serde_json::from_slice::<Record>(&b).map_err(drop))
        {
            sink.emit(Event::UnitFinished {
                fixture: r.fixture.clone(),
                unit: 0,
                serial: r.serial.clone(),
                outcome: r.outcome,
                record: path.display().to_string(),
                failure: r.failure.clone(),
            });
        }
    }
    if options.golden {
        gates::golden_target(station)?;
    } else {
        gates::golden_passed(station, &store)?;
    }
    let per_fixture: Vec<(&Fixture, u64)> = fixtures
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let n = fixtures.len() as u64;
            (
                *f,
                options.units / n + u64::from((i as u64) < options.units % n),
            )
        })
        .collect();
    let shared = Arc::new(station.clone());
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = per_fixture
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(fixture, n)| {
                let images = images[&fixture.profile_path].clone();
                let (store, shared) = (&store, &shared);
                let mut labels = options
                    .labels
                    .iter()
                    .filter(|(f, _)| f == &fixture.id)
                    .map(|(_, l)| l.clone());
                scope.spawn(move || {
                    let mut done = Vec::new();
                    for _ in 0..*n {
                        if options.abort.load(Ordering::SeqCst) {
                            break;
                        }
                        let job = worker::UnitJob {
                            station: shared.clone(),
                            fixture: fixture.id.clone(),
                            images: images.clone(),
                            store: store.clone(),
                            operator: options.operator.clone(),
                            abort: options.abort,
                            typed_labels: options.typed_labels.clone(),
                            retest: options.retest,
                            golden: options.golden,
                            label: labels.next(),
                        };
                        let (result, fixture_hung) =
                            worker::run_watched(job, production::run_unit, sink);
                        done.push(result);
                        // A hung fixture still holds its unit: it takes no more.
                        if fixture_hung {
                            break;
                        }
                    }
                    done
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect::<Vec<_>>()
    });
    let mut summary = RunSummary::default();
    for r in results {
        summary.units.push(r?);
    }
    Ok(summary)
}

/// Clear a killed run's temp files once per records directory and process: a second run
/// started while the first is writing must not delete the first's temp files.
fn cleanup_once(store: &RecordStore) -> Result<usize, crate::record::RecordError> {
    static CLEANED: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    let mut cleaned = CLEANED.lock().unwrap_or_else(|e| e.into_inner());
    let dir = store.dir().to_path_buf();
    if cleaned.contains(&dir) {
        return Ok(0);
    }
    let n = store.cleanup_temp_files()?;
    cleaned.push(dir);
    Ok(n)
}
