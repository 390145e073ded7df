//! `station bench fixtures`: the production engine (`station::run`) on one simulated fixture,
//! then on N in parallel, at realtime:SCALE, against the goal that N fixtures finish within
//! 1.10x of the wall time of one.
//!
//! The fixtures are copies of a station's first simulated fixture (its profile, part and
//! family), each with its own probe serial and port, writing records to a scratch directory.
//! Each configuration runs `repeat` times and the median counts, as the machine is shared.
//! The process's CPU time is reported beside each wall time: on a machine with fewer cores
//! than fixtures, a CPU-bound simulation would show it there.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use serde::Serialize;

use super::stats as bench_stats;
use super::torture::{Scratch, cpu_time};
use crate::config::{self, FixtureBackend, Station};
use crate::hw::TimeMode;
use crate::record::Outcome;
use crate::station::events::Event;
use crate::station::{RunOptions, run as run_station};

pub const GOAL_RATIO: f64 = 1.10;

#[derive(Clone, Debug, Serialize)]
pub struct FixturesRun {
    pub fixtures: usize,
    pub wall_s: f64,
    /// This process's CPU time over the run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_s: Option<f64>,
    /// Each unit's wall time from its first event to its record, slowest first.
    pub unit_wall_s: Vec<f64>,
    /// Each step's wall time, the mean over the fixtures, in the order the steps ran: where
    /// a slowdown with more fixtures comes from.
    pub step_wall_s: Vec<(String, f64)>,
    pub passed: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct FixturesBench {
    pub profile: String,
    pub scale: f64,
    pub cores: usize,
    /// Every repetition, one fixture then N, in the order they ran.
    pub runs: Vec<FixturesRun>,
    pub one_s: f64,
    pub many_s: f64,
    pub fixtures: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<f64>,
    pub goal: f64,
    pub met: bool,
}

pub struct FixturesOptions<'a> {
    /// The station whose first simulated fixture the bench copies.
    pub template: &'a Station,
    pub fixtures: usize,
    pub scale: f64,
    pub repeat: usize,
}

fn bench_station(o: &FixturesOptions, dir: &Path) -> Result<Station, String> {
    let template = o
        .template
        .fixtures
        .iter()
        .find(|f| f.backend == FixtureBackend::Sim && f.sim.is_some())
        .ok_or_else(|| {
            format!(
                "{} has no simulated fixture for the bench to copy",
                o.template.source.path.display()
            )
        })?;
    let sim = template.sim.as_ref().ok_or("no [fixtures.sim]")?;
    let profile = std::fs::canonicalize(&template.profile_path)
        .map_err(|e| format!("{}: {e}", template.profile_path.display()))?;
    let mut text = format!(
        "id = \"bench-fixtures\"\nrecords = \"{}\"\nmode = \"production\"\n",
        dir.join("records").display()
    );
    for i in 1..=o.fixtures {
        text += &format!(
            r#"
[[fixtures]]
id = "bench-{i}"
backend = "sim"
profile = "{profile}"
probe = "1209:5151:BENCH-FIXTURE-{i}"
usb = {{ application = "1209:a0a0", bootloader = "1209:df00", rom = "0483:df11", port = "bench-{i}" }}
power = {{ kind = "sim" }}
lines = {{ boot0 = "sim", nrst = "probe" }}
sim = {{ family = "{family}", part = "{part}", seed = {seed} }}
"#,
            profile = profile.display(),
            family = sim.family.name(),
            part = sim.part,
            seed = sim.seed,
        );
    }
    let path = dir.join("bench-fixtures.toml");
    std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut station =
        config::load_station(&path).map_err(|e| config::ConfigErrors(e).to_string())?;
    station.time = TimeMode::Realtime { scale: o.scale };
    Ok(station)
}

static NEVER: AtomicBool = AtomicBool::new(false);

/// Wall-clock times gathered from the engine's events.
#[derive(Default)]
struct Timing {
    first: BTreeMap<String, Instant>,
    started: BTreeMap<(String, String), Instant>,
    /// (step, total seconds over the fixtures), in the order steps first finished.
    steps: Vec<(String, f64)>,
    units: Vec<f64>,
}

impl Timing {
    fn note(&mut self, e: &Event, now: Instant) {
        match e {
            Event::StepStarted { fixture, step, .. } => {
                self.first.entry(fixture.clone()).or_insert(now);
                self.started.insert((fixture.clone(), step.clone()), now);
            }
            Event::StepFinished { fixture, step, .. } => {
                let Some(t0) = self.started.remove(&(fixture.clone(), step.clone())) else {
                    return;
                };
                let took = (now - t0).as_secs_f64();
                match self.steps.iter_mut().find(|(s, _)| s == step) {
                    Some((_, total)) => *total += took,
                    None => self.steps.push((step.clone(), took)),
                }
            }
            Event::UnitFinished { fixture, .. } => {
                if let Some(t0) = self.first.get(fixture) {
                    self.units.push((now - *t0).as_secs_f64());
                }
            }
            _ => {}
        }
    }

    fn step_means(&self, fixtures: usize) -> Vec<(String, f64)> {
        let n = fixtures.max(1) as f64;
        self.steps.iter().map(|(s, t)| (s.clone(), t / n)).collect()
    }
}

fn timed_run(station: &Station, fixtures: Vec<String>) -> Result<FixturesRun, String> {
    let n = fixtures.len();
    let timing = Mutex::new(Timing::default());
    let sink = |e: Event| {
        if let Ok(mut t) = timing.lock() {
            t.note(&e, Instant::now());
        }
    };
    let options = RunOptions {
        units: n as u64,
        operator: "bench".into(),
        fixtures,
        abort: &NEVER,
        typed_labels: Vec::new(),
        retest: false,
        labels: Vec::new(),
        golden: false,
    };
    let cpu0 = cpu_time();
    let start = Instant::now();
    let summary = run_station(station, &options, &sink).map_err(|e| e.message)?;
    let wall = start.elapsed().as_secs_f64();
    let cpu = cpu0.zip(cpu_time()).map(|(a, b)| (b - a).as_secs_f64());
    let timing = timing.into_inner().unwrap_or_default();
    let mut unit_wall_s = timing.units.clone();
    unit_wall_s.sort_by(|a, b| b.total_cmp(a));
    Ok(FixturesRun {
        fixtures: n,
        wall_s: wall,
        cpu_s: cpu,
        unit_wall_s,
        step_wall_s: timing.step_means(n),
        passed: summary
            .units
            .iter()
            .filter(|u| u.2 == Outcome::Pass)
            .count(),
    })
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs.get(xs.len() / 2).copied().unwrap_or(0.0)
}

pub fn run(o: &FixturesOptions) -> Result<FixturesBench, String> {
    if o.fixtures < 2 || o.repeat == 0 || !(o.scale.is_finite() && o.scale > 0.0) {
        return Err("--fixtures must be at least 2, --repeat at least 1, --scale positive".into());
    }
    let scratch = Scratch::new("fixtures")?;
    let station = bench_station(o, &scratch.0)?;
    let ids: Vec<String> = station.fixtures.iter().map(|f| f.id.clone()).collect();
    let mut runs = Vec::new();
    for _ in 0..o.repeat {
        runs.push(timed_run(&station, ids[..1].to_vec())?);
        runs.push(timed_run(&station, ids.clone())?);
    }
    let of = |n: usize| {
        median(
            runs.iter()
                .filter(|r| r.fixtures == n)
                .map(|r| r.wall_s)
                .collect(),
        )
    };
    let (one_s, many_s) = (of(1), of(o.fixtures));
    let ratio = bench_stats::slowdown(one_s, many_s);
    let all_passed = runs.iter().all(|r| r.passed == r.fixtures);
    Ok(FixturesBench {
        profile: station
            .fixtures
            .first()
            .map(|f| f.profile_path.display().to_string())
            .unwrap_or_default(),
        scale: o.scale,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        runs,
        one_s,
        many_s,
        fixtures: o.fixtures,
        ratio,
        goal: GOAL_RATIO,
        met: all_passed && ratio.is_some_and(|r| r <= GOAL_RATIO),
    })
}
