//! `station torture`: a whole campaign on one fixture, resumable, ending in one record of kind
//! `torture` with its per-point results in a sidecar file pinned by hash.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use chrono::Utc;
use sha2::{Digest, Sha256};

use super::campaign_record::write_record;
use super::journal::{JournalWriter, journal_path, read_journal};
pub use super::modes::TortureOptions;
use super::modes::restore_and_modes;
use super::reflash as torture_reflash;
use super::sweep as torture_sweep;
use super::{self as torture, Campaign, CutMode, Point, PointResult, Restore, Setup};
use crate::config::{self, Fixture, ImageRole, Station};
use crate::error::StationError;
use crate::hw::FixtureHw;
use crate::hw::bench::BenchUnit;
use crate::image::Image;
use crate::record::{Outcome, Record, RecordStore};
use crate::station::events::{Event, EventSink};
use crate::station::step::StepError;

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
    Snapshot(Box<dyn BenchUnit>),
    Reflash(Box<FixtureHw>, torture_reflash::Plan),
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
    let mut hw = crate::station::open_unit::open_unit(station, fixture, unit).map_err(|e| {
        noted(StationError::station(format!(
            "fixture {}: {e}",
            fixture.id
        )))
    })?;
    let uid = hw.bench.as_ref().map(|d| d.uid_hex());
    let t_cal = Utc::now();
    let (calibration, old, new, mut bench) = match restore {
        Restore::Snapshot => {
            let base = torture::prepare(&mut hw, &setup).map_err(step_error)?;
            drop(hw);
            let (cal, old, new) =
                torture::calibrate(base.as_ref(), &setup, sink).map_err(step_error)?;
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
                base.as_ref(),
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
