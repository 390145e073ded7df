//! One production (or golden-check) unit on its fixture, start to record: opened as it
//! arrives, checked by the gates, taken through its steps under the harness, torn down, and
//! closed with a record, its journal kept after every step so a killed run can be closed.

use std::path::PathBuf;

use chrono::Utc;

use super::events::{Event, EventSink};
use super::images::{UnitImages, image_refs};
use super::provenance::{STATION_VERSION, hardware_ref, mode_name};
use super::unit::UnitRun;
use super::{dut, gates, open_unit, worker};
use crate::config::{Fixture, Station};
use crate::error::StationError;
use crate::record::{self, Outcome, ProfileRef, Record, RecordKind};
use std::sync::atomic::Ordering;

/// One unit on its fixture, start to record. Runs on its own thread under the watchdog
/// ([`worker::run_watched`]); `closed` is taken by whichever of the two writes the record.
pub fn run_unit(
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
    // The scanned label, or the one the chip was provisioned under before (a retest).
    let mut label = job.label.clone();
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
        open_unit::open_current(station, fixture, || unit, Some(images))
    } else {
        open_unit::open_run_unit(station, fixture, unit, images)
    };
    // A held unit was switched off by its last run's teardown.
    let opened = opened.and_then(|mut hw| {
        if job.retest || job.golden {
            dut::ensure_powered(&mut hw)?;
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
            label = run.scanned_label.clone();
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
    record.label = label;
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
