//! The torture campaign's record: one record of kind `torture`, its per-point results in a
//! sidecar file pinned by hash.

use std::path::PathBuf;

use chrono::Utc;

use super::{Campaign, Restore, Setup};
use crate::config::{Fixture, Station};
use crate::error::StationError;
use crate::record::{
    self, ImageRef, Measurement, Outcome, ProfileRef, Record, RecordKind, RecordStore, StepRecord,
};
use crate::station::STATION_VERSION;

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

#[allow(clippy::too_many_arguments)]
pub(super) fn write_record(
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
        mode: Some(crate::station::mode_name(station)),
        attempt: None,
        hardware: Some(crate::station::hardware_ref(fixture, Some(unit))),
    };
    store
        .write(&record)
        .map_err(|e| StationError::station(format!("writing the record: {e}")))
}
