//! `station bench torture`: the exhaustive torture sweep (every operation, every mode) of an
//! update on a simulated F407, through the same `campaign::run` as `station torture`, timed
//! from the campaign's start to its record.
//!
//! The design: `crc-single` with a 32 KiB bootloader and one 992 KiB application slot
//! (`app_base = 0x08008000`, `app_size = 0xF8000`), so a 512 KiB update fits; the zoo's A/B
//! layout has no slot that large. Old and new applications are generated at each size.
//!
//! Two sweeps:
//! - by points: the largest size with plans every:8, every:4, every:2 and exhaustive; the
//!   issue's claim that the cost grows linearly with the number of points (a least-squares
//!   line, its R², and the spread of the time per point);
//! - by size: exhaustive at 1/8, 1/4, 1/2 and all of the largest size. Each point confirms its
//!   recovery with a complete update, so a point costs in proportion to the image and the
//!   sweep grows about quadratically with the size; the growth exponent says so.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::stats::{self as bench_stats, LineFit};
use crate::config;
use crate::image::generate::SplitMix64;
use crate::image::header::{self, Version};
use crate::station::events::Event;
use crate::station::torture::campaign::{self, TortureOptions};
use crate::station::torture::{CutMode, Plan, Restore};

/// The issue's goal: an exhaustive sweep of a 512 KiB update within 10 s (release build).
pub const GOAL_KIB: u32 = 512;
pub const GOAL_SECONDS: f64 = 10.0;
/// The largest update the bench design's slot holds.
pub const MAX_KIB: u32 = 992;
pub const MIN_KIB: u32 = 16;
/// Linear enough: a line explains the times and no plan costs 25% more per point than another.
const MIN_R2: f64 = 0.99;
const MAX_SPREAD: f64 = 1.25;

pub const DESIGN: &str =
    "crc-single, 32 KiB bootloader, one 992 KiB slot at 0x08008000 (F407, 1 MiB flash)";

#[derive(Clone, Debug, Serialize)]
pub struct SweepRun {
    pub kib: u32,
    pub plan: String,
    pub points: u64,
    pub plan_operations: u64,
    pub flash_operations: u64,
    /// From the campaign's start to its record: set-up, calibration and sweep.
    pub wall_s: f64,
    /// The sweep alone (from the planned points to the record).
    pub sweep_s: f64,
    /// This process's CPU time over the campaign, and over the sweep alone (the machine may
    /// be shared: CPU time is what the work costs, wall time what a user waits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sweep_cpu_s: Option<f64>,
    pub per_point_ms: f64,
    pub outcome: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct TortureBench {
    pub design: String,
    pub modes: Vec<String>,
    pub by_points: Vec<SweepRun>,
    pub by_size: Vec<SweepRun>,
    /// What the fits and spreads compare: the sweep's CPU time where /proc tells it (a shared
    /// machine does not distort it), else its wall time.
    pub cost_basis: String,
    /// Cost against points at the largest size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points_fit: Option<LineFit>,
    /// Largest over smallest cost per point, across the plans.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points_spread: Option<f64>,
    pub linear_in_points: bool,
    /// k in cost ∝ points^k across sizes (about 2: each point's recovery is a full update).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_exponent: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_spread: Option<f64>,
    /// The 10 s goal, when the largest size is 512 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal_s: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal_met: Option<bool>,
}

impl TortureBench {
    /// Every goal this run can judge is met. Linearity is reported, not judged: on a busy
    /// machine the per-point spread is noise, and no goal is set on it.
    pub fn passed(&self) -> bool {
        self.goal_met != Some(false)
    }
}

/// A scratch directory, removed when the bench ends.
pub(super) struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(what: &str) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("station-bench-{what}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// This process's CPU time (user and system), where /proc tells it.
pub(super) fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime and stime are fields 14 and 15, in USER_HZ (100 on Linux).
    let total = ticks(11)? + ticks(12)?;
    Some(Duration::from_millis(total * 10))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// The bench board's station file, profile and images for an update of `kib` KiB.
fn board(dir: &Path, kib: u32) -> Result<PathBuf, String> {
    let dir = dir.join(format!("{kib}k"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let knobs = [("app_base", "0x08008000"), ("app_size", "0xF8000")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let v = |minor| Version {
        major: 1,
        minor,
        patch: 0,
    };
    let boot = header::build_bootloader(
        0x0800_0000,
        v(0),
        "crc-single",
        &knobs,
        &SplitMix64::new(1).bytes(12 * 1024),
    )?;
    // The application is exactly `kib` KiB: vector table, header, body.
    let body = kib as usize * 1024 - header::HEADER_OFFSET - header::APP_HEADER_SIZE;
    let old = header::build_app(0x0800_8000, v(0), "bench", &SplitMix64::new(2).bytes(body));
    let new = header::build_app(0x0800_8000, v(1), "bench", &SplitMix64::new(3).bytes(body));
    let mut images = String::new();
    for (name, role, bytes, slot) in [
        ("bootloader", "bootloader", &boot, ""),
        ("application", "application", &old, "slot = \"a\"\n"),
        ("update", "application", &new, "slot = \"a\"\n"),
    ] {
        write(&dir.join(format!("{name}.bin")), bytes)?;
        let address = if role == "bootloader" {
            0x0800_0000
        } else {
            0x0800_8000
        };
        images += &format!(
            "[images.{name}]\nrole = \"{role}\"\npath = \"{name}.bin\"\naddress = 0x{address:08X}\n{slot}sha256 = \"{}\"\n\n",
            crate::image::sha256_hex(bytes)
        );
    }
    let profile = format!(
        r#"name = "bench-crc-single-992k"
revision = "A"
chip = "STM32F407VGTx"
family = "f4"

[memory]
flash = {{ start = 0x08000000, size = 0x100000 }}
bootloader = {{ start = 0x08000000, size = 0x8000 }}
slots = [{{ name = "a", start = 0x08008000, size = 0xF8000 }}]

{images}[option_bytes]
rdp = 0
write_protect = []
bor_level = "3"

[dfu]
alt = 0
mode = "fast"
erase = "progressive"

[torture]
plan = "exhaustive"
from_image = "application"
to_image = "update"
"#
    );
    write(&dir.join("profile.toml"), profile.as_bytes())?;
    let station = format!(
        r#"id = "bench-torture"
records = "{records}"
mode = "engineering"

[[fixtures]]
id = "bench"
backend = "sim"
profile = "profile.toml"
probe = "1209:5151:BENCH-TORTURE"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "bench-torture" }}
power = {{ kind = "sim" }}
lines = {{ boot0 = "sim", nrst = "sim" }}
sim = {{ family = "f4", part = "STM32F407VG", seed = 41 }}
"#,
        records = dir.join("records").display()
    );
    let path = dir.join("station.toml");
    write(&path, station.as_bytes())?;
    Ok(path)
}

/// When the sweep started (wall, CPU), and the operations it cuts (plan, flash).
type Planned = (Instant, Option<Duration>, u64, u64);

/// One timed campaign.
fn sweep(station_file: &Path, kib: u32, plan: Plan) -> Result<SweepRun, String> {
    let station =
        config::load_station(station_file).map_err(|e| config::ConfigErrors(e).to_string())?;
    let fixture = station
        .fixture("bench")
        .ok_or("the bench station lost its fixture")?;
    let options = TortureOptions {
        plan: Some(plan),
        modes: CutMode::ALL.to_vec(),
        restore: Some(Restore::Snapshot),
        operator: "bench".into(),
        abort: None,
    };
    let planned: Mutex<Option<Planned>> = Mutex::new(None);
    let sink = |e: Event| {
        if let Event::TorturePlanned {
            plan_operations,
            flash_operations,
            ..
        } = e
            && let Ok(mut p) = planned.lock()
        {
            *p = Some((
                Instant::now(),
                cpu_time(),
                plan_operations,
                flash_operations,
            ));
        }
    };
    let cpu0 = cpu_time();
    let start = Instant::now();
    let result = campaign::run(&station, fixture, &options, &sink).map_err(|e| e.message)?;
    let wall = start.elapsed();
    let cpu1 = cpu_time();
    let cpu = cpu0.zip(cpu1).map(|(a, b)| (b - a).as_secs_f64());
    let (sweep_start, sweep_cpu0, plan_operations, flash_operations) = planned
        .into_inner()
        .ok()
        .flatten()
        .ok_or("the campaign planned no points")?;
    let points = result.campaign.results.len() as u64;
    Ok(SweepRun {
        kib,
        plan: plan_name(plan),
        points,
        plan_operations,
        flash_operations,
        wall_s: wall.as_secs_f64(),
        sweep_s: sweep_start.elapsed().as_secs_f64(),
        cpu_s: cpu,
        sweep_cpu_s: sweep_cpu0.zip(cpu1).map(|(a, b)| (b - a).as_secs_f64()),
        per_point_ms: wall.as_secs_f64() * 1000.0 / points.max(1) as f64,
        outcome: format!("{:?}", result.record.outcome),
    })
}

fn plan_name(plan: Plan) -> String {
    match plan {
        Plan::Exhaustive => "exhaustive".into(),
        Plan::Every(n) => format!("every:{n}"),
        Plan::Random { n, seed } => format!("random:{n}:{seed}"),
    }
}

/// (points, cost of the sweep): its CPU time where every run has one, else its wall time.
fn pairs(runs: &[SweepRun]) -> (Vec<(f64, f64)>, &'static str) {
    if runs.iter().all(|r| r.sweep_cpu_s.is_some_and(|c| c > 0.0)) {
        let cost = |r: &SweepRun| r.sweep_cpu_s.unwrap_or_default();
        (
            runs.iter().map(|r| (r.points as f64, cost(r))).collect(),
            "sweep CPU time",
        )
    } else {
        (
            runs.iter().map(|r| (r.points as f64, r.sweep_s)).collect(),
            "sweep wall time",
        )
    }
}

/// Run both sweeps with `kib` as the largest size.
pub fn run(kib: u32) -> Result<TortureBench, String> {
    if !(MIN_KIB..=MAX_KIB).contains(&kib) {
        return Err(format!(
            "--kib {kib}: the bench design takes updates of {MIN_KIB} to {MAX_KIB} KiB"
        ));
    }
    let scratch = Scratch::new("torture")?;
    let largest = board(&scratch.0, kib)?;
    let mut by_points = Vec::new();
    for plan in [
        Plan::Every(8),
        Plan::Every(4),
        Plan::Every(2),
        Plan::Exhaustive,
    ] {
        by_points.push(sweep(&largest, kib, plan)?);
    }
    let mut by_size = Vec::new();
    for size in [kib / 8, kib / 4, kib / 2] {
        let station = board(&scratch.0, size.max(1))?;
        by_size.push(sweep(&station, size, Plan::Exhaustive)?);
    }
    by_size.extend(by_points.last().cloned());
    let (points, basis) = pairs(&by_points);
    let (sizes, _) = pairs(&by_size);
    let goal = (kib == GOAL_KIB).then_some(GOAL_SECONDS);
    let exhaustive = by_points.last().map_or(f64::MAX, |r| r.wall_s);
    Ok(TortureBench {
        design: DESIGN.into(),
        cost_basis: basis.into(),
        modes: CutMode::ALL.iter().map(|m| m.name().to_string()).collect(),
        points_fit: bench_stats::fit_line(&points),
        points_spread: bench_stats::per_item_spread(&points),
        linear_in_points: bench_stats::is_linear(&points, MIN_R2, MAX_SPREAD),
        size_exponent: bench_stats::growth_exponent(&sizes),
        size_spread: bench_stats::per_item_spread(&sizes),
        goal_s: goal,
        goal_met: goal.map(|g| exhaustive <= g),
        by_points,
        by_size,
    })
}

#[cfg(test)]
mod tests {
    use super::TortureBench;

    fn bench(linear: bool, goal_met: Option<bool>) -> TortureBench {
        TortureBench {
            design: "crc-single".into(),
            modes: Vec::new(),
            by_points: Vec::new(),
            by_size: Vec::new(),
            cost_basis: "cpu".into(),
            points_fit: None,
            points_spread: Some(1.3),
            linear_in_points: linear,
            size_exponent: None,
            size_spread: None,
            goal_s: goal_met.map(|_| 10.0),
            goal_met,
        }
    }

    #[test]
    fn only_a_missed_goal_fails_the_bench() {
        assert!(
            bench(false, None).passed(),
            "noise in the spread is reported only"
        );
        assert!(bench(false, Some(true)).passed());
        assert!(!bench(true, Some(false)).passed());
    }
}
