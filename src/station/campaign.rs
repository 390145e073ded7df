//! `station torture`: a whole campaign on one fixture, resumable, ending in one record of kind
//! `torture` with its per-point results in a sidecar file pinned by hash.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::STATION_VERSION;
use super::events::{Event, EventSink};
use super::torture::{self, Campaign, CutMode, Plan, Point, PointResult, Setup};
use super::unit::StepError;
use crate::config::{self, Fixture, FixtureBackend, ImageRole, Station};
use crate::error::StationError;
use crate::image::Image;
use crate::record::{
    self, ImageRef, Measurement, Outcome, ProfileRef, Record, RecordKind, RecordStore, StepRecord,
};

pub struct TortureOptions {
    pub plan: Option<Plan>,
    pub modes: Vec<CutMode>,
    pub operator: String,
    /// Set to stop after the current cut point; the journal keeps what was done, so the same
    /// campaign run again resumes there.
    pub abort: Option<&'static AtomicBool>,
}

fn point_event(
    fixture: &Fixture,
    unit: u64,
    r: &PointResult,
    resumed: bool,
    done: u64,
    total: u64,
) -> Event {
    Event::TorturePoint {
        fixture: fixture.id.clone(),
        unit,
        mode: r.point.mode,
        index: r.point.index,
        operation: r.operation.clone(),
        outcome: r.outcome,
        recovered: r.recovered,
        bricks: r.bricks(),
        resumed,
        done,
        total,
    }
}

pub struct TortureResult {
    pub record: Record,
    pub path: PathBuf,
    pub campaign: Campaign,
}

fn usage(e: impl ToString) -> StationError {
    StationError::usage(e.to_string())
}

fn image_named(profile: &config::Profile, name: &str) -> Result<Image, StationError> {
    let spec = profile
        .images
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| {
            usage(format!(
                "{}: [torture] names image {name:?}, which [images] does not have",
                profile.source.path.display()
            ))
        })?;
    config::check::load_pinned_image(profile, spec).map_err(|e| usage(format!("error: {e}")))
}

/// The journal of finished points, so that an interrupted campaign resumes where it stopped.
fn journal_path(station: &Station, fixture: &Fixture, key: &str) -> PathBuf {
    station
        .records_dir
        .join(".station")
        .join("torture")
        .join(format!(
            "{}-{key}.jsonl",
            record::paths::safe_component(&fixture.id)
        ))
}

fn read_journal(path: &PathBuf) -> Vec<PointResult> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    // A line cut by a crash does not parse and is simply run again.
    text.lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Appends finished points to the journal. Every line is written at once (a killed process
/// loses none); the disk sync comes at most every `SYNC_EVERY`, as an fsync per point costs
/// more than the point itself: a power loss can only lose the last moments' points, which a
/// resumed campaign runs again.
struct JournalWriter<'a> {
    file: std::fs::File,
    path: &'a Path,
    last_sync: Instant,
}

const SYNC_EVERY: Duration = Duration::from_millis(250);

impl<'a> JournalWriter<'a> {
    fn new(file: std::fs::File, path: &'a Path) -> Self {
        Self {
            file,
            path,
            last_sync: Instant::now(),
        }
    }

    fn error(&self, e: std::io::Error) -> StationError {
        StationError::station(format!("{}: {e}", self.path.display()))
    }

    fn append(&mut self, result: &PointResult) -> Result<(), StationError> {
        let mut line = serde_json::to_string(result).unwrap_or_default();
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| self.error(e))?;
        if self.last_sync.elapsed() >= SYNC_EVERY {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StationError> {
        self.file.sync_data().map_err(|e| self.error(e))?;
        self.last_sync = Instant::now();
        Ok(())
    }
}

fn step(
    name: &str,
    started: chrono::DateTime<Utc>,
    outcome: Outcome,
    error: Option<String>,
    measurements: Vec<Measurement>,
) -> StepRecord {
    StepRecord {
        name: name.into(),
        outcome,
        started_at: started,
        ended_at: Utc::now().max(started),
        measurements,
        error,
        details: Default::default(),
    }
}

fn step_error(e: StepError) -> StationError {
    match e.outcome {
        Outcome::Fail => StationError::fail(e.message),
        _ => StationError::station(e.message),
    }
}

pub fn run(
    station: &Station,
    fixture: &Fixture,
    options: &TortureOptions,
    sink: &dyn EventSink,
) -> Result<TortureResult, StationError> {
    if fixture.backend != FixtureBackend::Sim {
        return Err(StationError::usage(format!(
            "fixture {}: torture campaigns need snapshot restore, which only the virtual bench has so far",
            fixture.id
        )));
    }
    let profile = station.profile_of(fixture);
    let spec = profile.torture.as_ref().ok_or_else(|| {
        usage(format!(
            "{}: the profile has no [torture] section",
            profile.source.path.display()
        ))
    })?;
    let plan = match options.plan {
        Some(p) => p,
        None => spec.plan.get_ref().parse().map_err(usage)?,
    };
    let modes = if !options.modes.is_empty() {
        options.modes.clone()
    } else if !spec.modes.is_empty() {
        spec.modes
            .iter()
            .map(|m| m.parse())
            .collect::<Result<Vec<CutMode>, _>>()
            .map_err(usage)?
    } else {
        CutMode::ALL.to_vec()
    };
    let bootloader_spec = profile
        .image(ImageRole::Bootloader)
        .ok_or_else(|| usage("the profile has no bootloader image"))?;
    let bootloader = config::check::load_pinned_image(profile, bootloader_spec)
        .map_err(|e| usage(format!("error: {e}")))?;
    let from_name = spec
        .from_image
        .clone()
        .or_else(|| {
            profile
                .image(ImageRole::Application)
                .map(|i| i.name.clone())
        })
        .unwrap_or_default();
    let from = image_named(profile, &from_name)?;
    let to_name = spec.to_image.clone().ok_or_else(|| {
        usage(format!(
            "{}: [torture] needs to_image",
            profile.source.path.display()
        ))
    })?;
    let to = image_named(profile, &to_name)?;
    let setup = Setup {
        fixture,
        profile,
        bootloader: &bootloader,
        from: &from,
        to: &to,
    };

    let store = RecordStore::open(&station.records_dir)
        .map_err(|e| StationError::station(e.to_string()))?;
    let started_at = Utc::now();
    let unit = store
        .next_unit_number(&fixture.id)
        .map_err(|e| StationError::station(e.to_string()))?;
    let mut hw = super::fresh::open_unit(station, fixture, unit)
        .map_err(|e| StationError::station(format!("fixture {}: {e}", fixture.id)))?;
    let base = torture::prepare(&mut hw, &setup).map_err(step_error)?;
    let uid = hw.sim.as_ref().map(|d| d.lock().uid_hex());
    drop(hw);
    let t_cal = Utc::now();
    let (calibration, old, new) = torture::calibrate(&base, &setup, sink).map_err(step_error)?;
    let points = plan.select(&calibration.points(&modes));

    let mut key = Sha256::new();
    for part in [
        &profile.sha256,
        &bootloader.sha256,
        &from.sha256,
        &to.sha256,
        &format!("{plan:?}{modes:?}"),
    ] {
        key.update(part.as_bytes());
    }
    let key: String = key
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let journal = journal_path(station, fixture, &key);
    let planned: HashSet<Point> = points.iter().copied().collect();
    let mut done: Vec<PointResult> = read_journal(&journal);
    done.retain(|r| planned.contains(&r.point));
    let mut finished: HashSet<Point> = done.iter().map(|r| r.point).collect();
    if let Some(dir) = journal.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| StationError::station(format!("{}: {e}", dir.display())))?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal)
        .map_err(|e| StationError::station(format!("{}: {e}", journal.display())))?;
    let t_sweep = Utc::now();
    let total = points.len() as u64;
    sink.emit(Event::TorturePlanned {
        fixture: fixture.id.clone(),
        unit,
        plan_operations: calibration.plan_ops.len() as u64,
        flash_operations: calibration.flash_ops.len() as u64,
        points: points.clone(),
    });
    let by_point: HashMap<Point, &PointResult> = done.iter().map(|r| (r.point, r)).collect();
    let resumed: Vec<&PointResult> = points
        .iter()
        .filter_map(|p| by_point.get(p).copied())
        .collect();
    for (i, r) in resumed.iter().enumerate() {
        sink.emit(point_event(fixture, unit, r, true, i as u64 + 1, total));
    }
    // Deterministic crash point for tests of resumption: exit after N journaled points.
    let crash_after: Option<usize> = std::env::var("STATION_CRASH_AFTER_POINTS")
        .ok()
        .and_then(|v| v.parse().ok());
    let mut journaled = 0usize;
    let mut journal_writer = JournalWriter::new(file, &journal);
    for (i, point) in points.iter().enumerate() {
        if finished.contains(point) {
            continue;
        }
        if options.abort.is_some_and(|a| a.load(Ordering::SeqCst)) {
            journal_writer.sync()?;
            return Err(StationError::aborted(format!(
                "the campaign stopped after {} of {total} cut points; run it again to resume",
                done.len()
            )));
        }
        let result = torture::run_point(&base, &setup, &calibration, *point, old, new);
        journal_writer.append(&result)?;
        sink.emit(point_event(
            fixture,
            unit,
            &result,
            false,
            done.len() as u64 + 1,
            total,
        ));
        finished.insert(result.point);
        done.push(result);
        journaled += 1;
        if crash_after == Some(journaled) {
            std::process::exit(86);
        }
        sink.emit(Event::Progress {
            fixture: fixture.id.clone(),
            unit,
            step: "sweep".into(),
            phase: "cut".into(),
            done: i as u64 + 1,
            total,
        });
    }
    journal_writer.sync()?;
    let position: HashMap<Point, usize> = points.iter().enumerate().map(|(i, p)| (*p, i)).collect();
    done.sort_by_key(|r| position.get(&r.point).copied().unwrap_or(usize::MAX));
    let campaign = Campaign {
        calibration,
        results: done,
        old,
        new,
    };
    let path = write_record(
        &store,
        station,
        fixture,
        &setup,
        &campaign,
        uid,
        unit,
        &options.operator,
        [started_at, t_cal, t_sweep],
    )?;
    let _ = std::fs::remove_file(&journal);
    let record: Record = serde_json::from_slice(
        &std::fs::read(&path).map_err(|e| StationError::station(e.to_string()))?,
    )
    .map_err(|e| StationError::station(e.to_string()))?;
    Ok(TortureResult {
        record,
        path,
        campaign,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_record(
    store: &RecordStore,
    station: &Station,
    fixture: &Fixture,
    setup: &Setup,
    campaign: &Campaign,
    uid: Option<String>,
    unit: u64,
    operator: &str,
    [started_at, t_cal, t_sweep]: [chrono::DateTime<Utc>; 3],
) -> Result<PathBuf, StationError> {
    let serial = uid.as_ref().map_or_else(
        || format!("{}-unit-{unit}", fixture.id),
        |u| record::serial_from_uid(u),
    );
    let record_id = record::new_record_id(started_at);
    let points_json = serde_json::to_vec_pretty(&campaign.results)
        .map_err(|e| StationError::station(e.to_string()))?;
    let sidecar = store
        .write_sidecar(&serial, &record_id, "points.jsonl", &points_json)
        .map_err(|e| StationError::station(e.to_string()))?;
    let counts = campaign.counts();
    let bricking = campaign.results.iter().filter(|r| r.bricks()).count();
    let reproducer = campaign.reproducer();
    let (outcome, failure) = match reproducer {
        Some(r) => (
            Outcome::Fail,
            Some(format!(
                "{} cut point(s) leave the unit beyond a field update; first: {} at operation {} ({}) → {:?}",
                bricking, r.point.mode, r.point.index, r.operation, r.outcome
            )),
        ),
        None => (Outcome::Pass, None),
    };
    let m = |name: &str, v: f64, unit: &str| Measurement::new(name, v, unit, None);
    let mut sweep = step(
        "sweep",
        t_sweep,
        outcome,
        failure.clone(),
        vec![
            m("points", campaign.results.len() as f64, "points"),
            m("bricking_points", bricking as f64, "points"),
        ],
    );
    sweep.details.insert(
        "counts".into(),
        serde_json::to_value(&counts).unwrap_or_default(),
    );
    sweep.details.insert(
        "reproducer".into(),
        serde_json::to_value(reproducer).unwrap_or_default(),
    );
    sweep.details.insert(
        "points_file".into(),
        sidecar
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default()
            .into(),
    );
    sweep.details.insert(
        "points_sha256".into(),
        crate::image::sha256_hex(&points_json).into(),
    );
    sweep
        .details
        .insert("needs_boot0".into(), campaign.needs_boot0().into());
    if campaign.needs_boot0() {
        sweep.details.insert(
            "recovery_note".into(),
            "some cut points are recoverable only by strapping BOOT0".into(),
        );
    }
    let mut cal = step(
        "calibrate",
        t_cal,
        Outcome::Pass,
        None,
        vec![
            m(
                "plan_operations",
                campaign.calibration.plan_ops.len() as f64,
                "ops",
            ),
            m(
                "flash_operations",
                campaign.calibration.flash_ops.len() as f64,
                "ops",
            ),
        ],
    );
    cal.details
        .insert("from_version".into(), campaign.old.to_string().into());
    cal.details
        .insert("to_version".into(), campaign.new.to_string().into());
    let images = [
        ("bootloader", setup.bootloader),
        ("from", setup.from),
        ("to", setup.to),
    ]
    .iter()
    .map(|(role, i)| ImageRef {
        name: i.name.clone(),
        role: role.to_string(),
        sha256: i.sha256.clone(),
    })
    .collect();
    let profile = setup.profile;
    let record = Record {
        schema_version: record::SCHEMA_VERSION,
        record_id,
        kind: RecordKind::Torture,
        serial,
        label: None,
        uid,
        station: station.id.clone(),
        fixture: fixture.id.clone(),
        operator: operator.to_string(),
        station_version: STATION_VERSION.into(),
        profile: ProfileRef {
            name: profile.name.clone(),
            revision: profile.revision.clone(),
            sha256: profile.sha256.clone(),
        },
        images,
        started_at,
        ended_at: Utc::now().max(started_at),
        outcome,
        failure,
        steps: vec![cal, sweep],
        device: None,
        parent_record: None,
    };
    store
        .write(&record)
        .map_err(|e| StationError::station(format!("writing the record: {e}")))
}
