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
use super::torture::{self, Campaign, CutMode, Plan, Point, PointResult, Restore, Setup};
use super::torture_reflash;
use super::torture_sweep;
use super::unit::StepError;
use crate::backend::FixtureHw;
use crate::config::{self, Fixture, FixtureBackend, ImageRole, PowerSpec, Station};
use crate::error::StationError;
use crate::image::Image;
use crate::record::{
    self, ImageRef, Measurement, Outcome, ProfileRef, Record, RecordKind, RecordStore, StepRecord,
};
use crate::sim::SimDevice;

pub struct TortureOptions {
    pub plan: Option<Plan>,
    pub modes: Vec<CutMode>,
    /// How each point gets back to the pre-update state (default: a snapshot on the virtual
    /// bench, a reflash over SWD on real fixtures).
    pub restore: Option<Restore>,
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
    /// What the operator should know: modes refused on this fixture, what a real bench
    /// cannot sweep.
    pub notes: Vec<String>,
}

/// What each cut point restores from.
enum Bench {
    Snapshot(SimDevice),
    Reflash(Box<FixtureHw>, torture_reflash::Plan),
}

/// On a real bench the device's own flash operations cannot be listed.
pub const REFLASH_NOTE: &str = "restored by reflash over SWD: power cuts index the host's \
     operations, as the device's own flash operations after it reboots (an A/B bootloader's \
     copy) cannot be listed on real hardware; a cut after the leave lands in whatever the \
     device does as it starts";

/// The restore a campaign uses, and the modes it can run on this fixture.
fn restore_and_modes(
    station: &Station,
    fixture: &Fixture,
    options: &TortureOptions,
    modes: Vec<CutMode>,
) -> Result<(Restore, Vec<CutMode>, Vec<String>), StationError> {
    let sim = fixture.backend == FixtureBackend::Sim;
    let restore = options.restore.unwrap_or(if sim {
        Restore::Snapshot
    } else {
        Restore::Reflash
    });
    if restore == Restore::Snapshot && !sim {
        return Err(usage(format!(
            "fixture {}: snapshot restore needs the virtual bench; a real fixture restores by \
             reflashing over SWD (--restore reflash)",
            fixture.id
        )));
    }
    let mut notes = Vec::new();
    if restore == Restore::Reflash {
        notes.push(REFLASH_NOTE.to_string());
    }
    let (power, other): (Vec<CutMode>, Vec<CutMode>) = modes.iter().partition(|m| m.is_power());
    if matches!(fixture.power, PowerSpec::None) && !power.is_empty() {
        let why = format!(
            "{}: fixture {} has no power switch (power.kind = \"none\"), so the power-cut modes \
             ({}) cannot run; give it a hub port, relay or manual power switch",
            station.source.path.display(),
            fixture.id,
            power
                .iter()
                .map(|m| m.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
        if other.is_empty() {
            return Err(usage(why));
        }
        notes.push(format!("{why}; the campaign runs the other modes"));
        return Ok((restore, other, notes));
    }
    Ok((restore, modes, notes))
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
    let (restore, modes, mut notes) = restore_and_modes(station, fixture, options, modes)?;
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
    // A campaign that fails before its record still says which modes it refused.
    let noted = |mut e: StationError| {
        for n in notes.iter().filter(|n| n.contains("no power switch")) {
            e.message += &format!("\nnote: {n}");
        }
        e
    };
    let mut hw = super::fresh::open_unit(station, fixture, unit).map_err(|e| {
        noted(StationError::station(format!(
            "fixture {}: {e}",
            fixture.id
        )))
    })?;
    let uid = hw.sim.as_ref().map(|d| d.lock().uid_hex());
    let t_cal = Utc::now();
    let (calibration, old, new, mut bench) = match restore {
        Restore::Snapshot => {
            let base = torture::prepare(&mut hw, &setup).map_err(step_error)?;
            drop(hw);
            let (cal, old, new) = torture::calibrate(&base, &setup, sink).map_err(step_error)?;
            (cal, old, new, Bench::Snapshot(base))
        }
        Restore::Reflash => {
            let (cal, plan, old, new) =
                torture_reflash::calibrate(&mut hw, &setup, sink).map_err(|mut e| {
                    e.message = format!("fixture {}: {}", fixture.id, e.message);
                    noted(step_error(e))
                })?;
            (cal, old, new, Bench::Reflash(Box::new(hw), plan))
        }
    };
    let points = plan.select(&calibration.points(&modes));

    let mut key = Sha256::new();
    for part in [
        &profile.sha256,
        &bootloader.sha256,
        &from.sha256,
        &to.sha256,
        &format!("{plan:?}{modes:?}{restore:?}"),
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
    let finished: HashSet<Point> = done.iter().map(|r| r.point).collect();
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
    let aborted = || options.abort.is_some_and(|a| a.load(Ordering::SeqCst));
    let todo: Vec<Point> = points
        .iter()
        .filter(|p| !finished.contains(p))
        .copied()
        .collect();
    // Journal and report each point as it finishes; false once the operator stopped us.
    let mut finish_point = |result: PointResult| -> Result<bool, StationError> {
        journal_writer.append(&result)?;
        sink.emit(point_event(
            fixture,
            unit,
            &result,
            false,
            done.len() as u64 + 1,
            total,
        ));
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
            done: done.len() as u64,
            total,
        });
        Ok(!aborted())
    };
    if !aborted() {
        match &mut bench {
            Bench::Snapshot(base) => torture_sweep::run(
                base,
                &setup,
                &calibration,
                &todo,
                (old, new),
                torture_sweep::workers(),
                &mut finish_point,
            )?,
            Bench::Reflash(hw, ops) => {
                for point in &todo {
                    let result =
                        torture_reflash::run_point(hw, &setup, &calibration, ops, *point, old, new)
                            .map_err(|e| {
                                StationError::station(format!(
                                    "fixture {}, cut point {} at operation {}: {} (the finished \
                                     points are kept: run the campaign again to resume)",
                                    fixture.id, point.mode, point.index, e.message
                                ))
                            })?;
                    if !finish_point(result)? {
                        break;
                    }
                }
            }
        }
    }
    if done.len() < points.len() && aborted() {
        journal_writer.sync()?;
        return Err(StationError::aborted(format!(
            "the campaign stopped after {} of {total} cut points; run it again to resume",
            done.len()
        )));
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
    drop(bench);
    let path = write_record(
        &store,
        station,
        fixture,
        &setup,
        &campaign,
        (restore, &notes),
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
    notes.dedup();
    Ok(TortureResult {
        record,
        path,
        campaign,
        notes,
    })
}

#[allow(clippy::too_many_arguments)]
fn write_record(
    store: &RecordStore,
    station: &Station,
    fixture: &Fixture,
    setup: &Setup,
    campaign: &Campaign,
    (restore, notes): (Restore, &[String]),
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
    sweep
        .details
        .insert("restore".into(), restore.name().into());
    sweep.details.insert(
        "power_cuts_index".into(),
        if campaign.calibration.power_on_plan {
            "host operations"
        } else {
            "flash operations"
        }
        .into(),
    );
    if !notes.is_empty() {
        sweep.details.insert("notes".into(), notes.to_vec().into());
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn real_station(dir: &std::path::Path, power: &str) -> Station {
        let profile =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("profiles/zoo/naive.toml");
        let text = format!(
            r#"id = "real-bench"
records = "records"

[[fixtures]]
id = "board-1"
backend = "hw"
profile = "{}"
probe = "0483:374b:NONE"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "1-4" }}
power = {power}
"#,
            profile.display()
        );
        let path = dir.join("real.toml");
        std::fs::write(&path, text).unwrap();
        config::load_station(&path).unwrap()
    }

    fn options(restore: Option<Restore>) -> TortureOptions {
        TortureOptions {
            plan: None,
            modes: Vec::new(),
            restore,
            operator: "test".into(),
            abort: None,
        }
    }

    #[test]
    fn a_real_fixture_without_a_power_switch_runs_only_the_other_modes() {
        let tmp = tempfile::tempdir().unwrap();
        let station = real_station(tmp.path(), r#"{ kind = "none" }"#);
        let fixture = &station.fixtures[0];
        let (restore, modes, notes) =
            restore_and_modes(&station, fixture, &options(None), CutMode::ALL.to_vec()).unwrap();
        assert_eq!(
            restore,
            Restore::Reflash,
            "a real fixture restores by reflash"
        );
        assert_eq!(
            modes,
            [CutMode::HostAbort, CutMode::DfuAbort, CutMode::UsbReset]
        );
        let refused = notes
            .iter()
            .find(|n| n.contains("no power switch"))
            .unwrap();
        assert!(
            refused.contains("real.toml") && refused.contains("board-1"),
            "{refused}"
        );
        assert!(
            notes.iter().any(|n| n.contains("cannot be listed")),
            "{notes:?}"
        );
        // Asked for power cuts only: nothing could run.
        let only_power = vec![CutMode::PowerBefore, CutMode::PowerInside];
        let err = restore_and_modes(&station, fixture, &options(None), only_power).unwrap_err();
        assert_eq!(err.status, crate::error::ExitStatus::Usage);
        assert!(err.message.contains("real.toml") && err.message.contains("board-1"));
        assert!(
            err.message.contains("power-before, power-inside"),
            "{}",
            err.message
        );
    }

    #[test]
    fn a_real_fixture_with_a_switch_runs_every_mode_and_cannot_snapshot() {
        let tmp = tempfile::tempdir().unwrap();
        let station = real_station(tmp.path(), r#"{ kind = "manual" }"#);
        let fixture = &station.fixtures[0];
        let (_, modes, _) =
            restore_and_modes(&station, fixture, &options(None), CutMode::ALL.to_vec()).unwrap();
        assert_eq!(modes, CutMode::ALL);
        let err = restore_and_modes(
            &station,
            fixture,
            &options(Some(Restore::Snapshot)),
            CutMode::ALL.to_vec(),
        )
        .unwrap_err();
        assert!(err.message.contains("--restore reflash"), "{}", err.message);
    }
}
