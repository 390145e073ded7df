//! The station engine: runs units on fixtures in parallel, one worker per fixture, and writes
//! one record per unit. It knows no terminal; events flow out through an [`EventSink`].

pub mod bench;
pub mod bench_fixtures;
pub mod bench_stats;
pub mod bench_torture;
pub mod campaign;
mod campaign_journal;
mod campaign_modes;
mod campaign_record;
pub mod console;
pub mod events;
pub mod fresh;
pub mod gates;
pub mod report;
pub mod rework;
pub mod rma;
pub mod torture;
pub mod torture_reflash;
pub mod torture_sweep;
pub mod unit;
pub mod unit_data;
pub mod update;
mod worker;
pub mod wrp_test;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Utc;

pub use events::{Event, EventSink};
use unit::{SlotImage, UnitImages, UnitRun};

use crate::config::{self, Fixture, ImageRole, Profile, Station};
use crate::error::{ExitStatus, StationError};
use crate::record::{self, ImageRef, Outcome, ProfileRef, Record, RecordKind, RecordStore};

pub const STATION_VERSION: &str = env!("CARGO_PKG_VERSION");

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

/// Load a profile's images and check their pins and placement before any hardware is touched.
pub fn load_unit_images(profile: &Profile) -> Result<UnitImages, StationError> {
    let load = |role: ImageRole| {
        let spec = profile.image(role).ok_or_else(|| {
            StationError::usage(format!(
                "{}: the profile has no {role:?} image",
                profile.source.path.display()
            ))
        })?;
        config::check::load_pinned_image(profile, spec)
            .map(|i| (i, spec))
            .map_err(|e| StationError::usage(format!("error: {e}")))
    };
    let slot_of = |spec: &config::ImageSpec| {
        spec.slot
            .as_deref()
            .and_then(|s| profile.slot(s))
            .map(|s| (s.start, s.size))
            .ok_or_else(|| StationError::usage("application slot missing"))
    };
    let (bootloader, _) = load(ImageRole::Bootloader)?;
    let (application, spec) = load(ImageRole::Application)?;
    let application_slot = slot_of(spec)?;
    let cm4 = match profile.cm4_image() {
        None => None,
        Some(spec) => Some(SlotImage {
            image: config::check::load_pinned_image(profile, spec)
                .map_err(|e| StationError::usage(format!("error: {e}")))?,
            slot: slot_of(spec)?,
        }),
    };
    Ok(UnitImages {
        bootloader,
        application,
        application_slot,
        cm4,
    })
}

fn image_refs(images: &UnitImages) -> Vec<ImageRef> {
    vec![
        ImageRef {
            name: images.bootloader.name.clone(),
            role: "bootloader".into(),
            sha256: images.bootloader.sha256.clone(),
        },
        ImageRef {
            name: images.application.name.clone(),
            role: "application".into(),
            sha256: images.application.sha256.clone(),
        },
    ]
    .into_iter()
    .chain(images.cm4.as_ref().map(|c| ImageRef {
        name: c.image.name.clone(),
        role: "application-cm4".into(),
        sha256: c.image.sha256.clone(),
    }))
    .collect()
}

/// Provision `options.units` units, spread over the fixtures, which run in parallel.
pub fn run(
    station: &Station,
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
                Arc::new(load_unit_images(station.profile_of(f))?),
            );
        }
    }
    let store = RecordStore::open(&station.records_dir)
        .map_err(|e| StationError::station(e.to_string()))?;
    cleanup_once(&store).map_err(|e| StationError::station(e.to_string()))?;
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
                        let (result, fixture_hung) = worker::run_watched(job, sink);
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

/// One unit on its fixture, start to record. Runs on its own thread under the watchdog
/// ([`worker::run_watched`]); `closed` is taken by whichever of the two writes the record.
fn run_unit(
    job: &worker::UnitJob,
    live: &worker::Live,
    sink: &dyn EventSink,
) -> Result<(String, String, Outcome, PathBuf), StationError> {
    let station = job.station.as_ref();
    let fixture = station
        .fixture(&job.fixture)
        .ok_or_else(|| StationError::station(format!("no fixture {}", job.fixture)))?;
    let (images, store) = (job.images.as_ref(), &job.store);
    let profile = station.profile_of(fixture);
    let started_at = Utc::now();
    let unit = store
        .next_unit_number(&fixture.id)
        .map_err(|e| StationError::station(e.to_string()))?;
    let mut steps = Vec::new();
    let mut device = None;
    let mut attempt = None;
    // Until the record is written, a provisional one says what has been done: a killed
    // station leaves it for the next start to close as ABORTED.
    let journal_key = format!("{}-{unit}", fixture.id);
    let mut provisional = production_record(
        station,
        fixture,
        images,
        &job.operator,
        unit,
        started_at,
        Outcome::Aborted,
        Some(
            "the station stopped before this unit finished (killed, crashed or lost power)".into(),
        ),
    );
    provisional.label = job.label.clone();
    let record_id = provisional.record_id.clone();
    if job.golden {
        provisional.kind = RecordKind::Golden;
    }
    let _live_lock = store
        .hold_journal(&journal_key)
        .map_err(|e| StationError::station(e.to_string()))?;
    store
        .write_journal(&journal_key, &provisional)
        .map_err(|e| StationError::station(e.to_string()))?;
    live.begin(&journal_key, unit, &provisional);
    let opened = if job.retest || job.golden {
        fresh::open_current(station, fixture, || unit)
    } else {
        fresh::open_unit(station, fixture, unit)
    };
    // A held unit was switched off by its last run's teardown.
    let opened = opened.and_then(|mut hw| {
        if job.retest || job.golden {
            rma::ensure_powered(&mut hw)?;
        }
        Ok(hw)
    });
    let failure = match opened {
        Err(e) => Some((Outcome::Error, format!("fixture {}: {e}", fixture.id))),
        Ok(hw) => {
            let checks = gates::UnitGates {
                store,
                policy: &station.rework,
                label: job.label.as_deref(),
                golden: job.golden.then(|| station.golden.clone()).flatten(),
            };
            let mut run = UnitRun {
                fixture,
                profile,
                images,
                hw,
                unit,
                sink,
                steps: Vec::new(),
                device: None,
                failure: None,
                abort: job.abort,
                cancel: Some(live.cancel.clone()),
                typed_labels: &job.typed_labels,
                scanned_label: job.label.clone(),
                records_dir: &station.records_dir,
                gates: Some(&checks),
                attempt: None,
                journal: Some(Box::new(
                    |steps: &[record::StepRecord], device: Option<&record::DeviceInfo>| {
                        let mut provisional = provisional.clone();
                        provisional.steps = steps.to_vec();
                        provisional.ended_at = Utc::now().max(provisional.started_at);
                        if let Some(d) = device {
                            provisional.uid = Some(d.uid.clone());
                            provisional.serial = record::serial_from_uid(&d.uid);
                            provisional.device = Some(d.clone());
                        }
                        live.update(&provisional);
                        let _ = store.write_journal(&journal_key, &provisional);
                    },
                )),
            };
            if job.abort.load(Ordering::SeqCst) {
                run.failure = Some((Outcome::Aborted, "aborted before the unit started".into()));
            } else if job.golden {
                run.check_golden();
            } else {
                run.provision();
            }
            // Guaranteed teardown: the DUT is powered off and the probe released, even when
            // a step panicked or the operator aborted.
            let teardown = run.teardown();
            steps = std::mem::take(&mut run.steps);
            device = run.device.take();
            attempt = run.attempt;
            // The unit stays on the fixture for the next command (inspect, dfu, recover).
            let saved = run
                .hw
                .save()
                .err()
                .map(|e| (Outcome::Error, format!("saving the simulated unit: {e}")));
            run.failure.take().or(teardown).or(saved)
        }
    };
    let (outcome, failure) = match failure {
        None => (Outcome::Pass, None),
        Some((o, why)) => (o, Some(why)),
    };
    let uid = device.as_ref().map(|d: &record::DeviceInfo| d.uid.clone());
    let serial = match &uid {
        Some(uid) => record::serial_from_uid(uid),
        None => format!("{}-unit-{unit}", fixture.id),
    };
    let mut record = production_record(
        station,
        fixture,
        images,
        &job.operator,
        unit,
        started_at,
        outcome,
        failure.clone(),
    );
    if job.golden {
        record.kind = RecordKind::Golden;
    }
    record.steps = steps;
    record.uid = device.as_ref().map(|d| d.uid.clone());
    record.serial = serial.clone();
    record.device = device;
    record.label = job.label.clone();
    record.attempt = attempt;
    // The journal's id: a start after a crash between this write and the journal's removal
    // finds the unit closed instead of closing it twice.
    record.record_id = record_id;
    // The watchdog closed this unit already (it hung, then came back): its record stands.
    if !live.take_close() {
        return Err(StationError::station(format!(
            "fixture {}: unit {unit} finished after the watchdog had closed it",
            fixture.id
        )));
    }
    let path = store
        .write(&record)
        .map_err(|e| StationError::station(format!("writing the record: {e}")))?;
    store.clear_journal(&journal_key);
    sink.emit(Event::UnitFinished {
        fixture: fixture.id.clone(),
        unit,
        serial: serial.clone(),
        outcome,
        record: path.display().to_string(),
        failure,
    });
    Ok((fixture.id.clone(), serial, outcome, path))
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

/// The fixture and probe a record's unit ran on; `unit` is the fixture's counter (its cycles).
pub fn hardware_ref(fixture: &Fixture, unit: Option<u64>) -> record::HardwareRef {
    record::HardwareRef {
        backend: match fixture.backend {
            config::FixtureBackend::Sim => "sim".into(),
            config::FixtureBackend::Hw => "hw".into(),
        },
        probe: fixture.probe.clone(),
        usb_port: fixture.usb_port.clone(),
        fixture_cycles: unit.filter(|u| *u > 0),
    }
}

/// The station's mode as records write it.
pub fn mode_name(station: &Station) -> String {
    match station.mode {
        config::StationMode::Production => "production",
        config::StationMode::Engineering => "engineering",
        config::StationMode::Rma => "rma",
    }
    .into()
}

/// A production record for `unit`, before its steps are known.
#[allow(clippy::too_many_arguments)]
fn production_record(
    station: &Station,
    fixture: &Fixture,
    images: &UnitImages,
    operator: &str,
    unit: u64,
    started_at: chrono::DateTime<Utc>,
    outcome: Outcome,
    failure: Option<String>,
) -> Record {
    let profile = station.profile_of(fixture);
    Record {
        schema_version: record::SCHEMA_VERSION,
        record_id: record::new_record_id(started_at),
        kind: RecordKind::Production,
        serial: format!("{}-unit-{unit}", fixture.id),
        label: None,
        uid: None,
        station: station.id.clone(),
        fixture: fixture.id.clone(),
        operator: operator.to_string(),
        station_version: STATION_VERSION.into(),
        profile: ProfileRef {
            name: profile.name.clone(),
            revision: profile.revision.clone(),
            sha256: profile.sha256.clone(),
        },
        images: image_refs(images),
        started_at,
        ended_at: Utc::now().max(started_at),
        outcome,
        failure,
        steps: Vec::new(),
        device: None,
        parent_record: None,
        mode: Some(mode_name(station)),
        attempt: None,
        hardware: Some(hardware_ref(fixture, Some(unit))),
    }
}
