//! `station bench torture` and `station bench fixtures`: run the library's benches and print
//! their reports, exit 1 only when a goal is missed (what is only measured never fails them).

use std::path::PathBuf;

use crate::error::{ExitStatus, StationError};
use crate::station::bench::fixtures::{self as bench_fixtures, FixturesOptions};
use crate::station::bench::torture::{self as bench_torture, SweepRun};

#[derive(clap::Args, Debug)]
pub struct TortureArgs {
    /// The largest update, in KiB (the goal applies at 512); the size sweep also runs 1/8,
    /// 1/4 and 1/2 of it.
    #[arg(long, default_value_t = bench_torture::GOAL_KIB)]
    pub kib: u32,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct FixturesArgs {
    /// The station whose first simulated fixture is copied.
    #[arg(long, default_value = "stations/virtual.toml")]
    pub station: PathBuf,
    /// Realtime scale of the simulated devices.
    #[arg(long, default_value_t = 20.0)]
    pub scale: f64,
    /// How many fixtures run in parallel against the one.
    #[arg(long, default_value_t = 8)]
    pub fixtures: usize,
    /// Runs of each configuration; the median counts.
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    #[arg(long)]
    pub json: bool,
}

fn verdict(met: bool) -> &'static str {
    if met { "PASS" } else { "FAIL" }
}

fn status(met: bool) -> ExitStatus {
    if met {
        ExitStatus::Pass
    } else {
        ExitStatus::Fail
    }
}

fn line(r: &SweepRun) -> String {
    let cpu = r
        .cpu_s
        .map_or_else(String::new, |c| format!(", cpu {c:.2} s"));
    format!(
        "{:>4} KiB {:<11} {:>5} points ({} plan, {} flash ops): {:.2} s (sweep {:.2} s{cpu}), {:.3} ms/point, {}",
        r.kib,
        r.plan,
        r.points,
        r.plan_operations,
        r.flash_operations,
        r.wall_s,
        r.sweep_s,
        r.per_point_ms,
        r.outcome
    )
}

pub fn torture(args: TortureArgs) -> Result<ExitStatus, StationError> {
    let bench = bench_torture::run(args.kib).map_err(StationError::usage)?;
    if args.json {
        println!("{}", serde_json::to_string(&bench).unwrap_or_default());
        return Ok(status(bench.passed()));
    }
    println!(
        "design: {}; modes: {}",
        bench.design,
        bench.modes.join(", ")
    );
    println!("by points, {} KiB:", args.kib);
    for r in &bench.by_points {
        println!("  {}", line(r));
    }
    if let (Some(fit), Some(spread)) = (bench.points_fit, bench.points_spread) {
        println!(
            "  {} = {:.3} s + {:.3} ms x points, R^2 {:.4}; per point max/min {spread:.2}: linear {} (reported, not a goal)",
            bench.cost_basis,
            fit.intercept,
            fit.slope * 1000.0,
            fit.r2,
            if bench.linear_in_points { "yes" } else { "no" }
        );
    }
    println!("by size, exhaustive:");
    for r in &bench.by_size {
        println!("  {}", line(r));
    }
    if let (Some(k), Some(spread)) = (bench.size_exponent, bench.size_spread) {
        println!(
            "  {} ~ points^{k:.2}; per point max/min {spread:.2} (every point's recovery is a complete update of that size)",
            bench.cost_basis
        );
    }
    match (bench.goal_s, bench.goal_met, bench.by_points.last()) {
        (Some(goal), Some(met), Some(r)) => println!(
            "goal: exhaustive {} KiB within {goal} s: {:.2} s, {}",
            r.kib,
            r.wall_s,
            verdict(met)
        ),
        _ => println!("goal: applies at --kib {} only", bench_torture::GOAL_KIB),
    }
    Ok(status(bench.passed()))
}

pub fn fixtures(args: FixturesArgs) -> Result<ExitStatus, StationError> {
    let template = super::load(&args.station)?;
    let bench = bench_fixtures::run(&FixturesOptions {
        template: &template,
        fixtures: args.fixtures,
        scale: args.scale,
        repeat: args.repeat,
    })
    .map_err(StationError::usage)?;
    if args.json {
        println!("{}", serde_json::to_string(&bench).unwrap_or_default());
        return Ok(status(bench.met));
    }
    println!(
        "profile {}, realtime:{}, {} cores",
        bench.profile, bench.scale, bench.cores
    );
    for r in &bench.runs {
        let cpu = r
            .cpu_s
            .map_or_else(String::new, |c| format!(", cpu {c:.2} s"));
        let slowest = r.unit_wall_s.first().copied().unwrap_or(0.0);
        println!(
            "  {} fixture(s): {:.3} s wall{cpu}, slowest unit {slowest:.3} s, {}/{} passed",
            r.fixtures, r.wall_s, r.passed, r.fixtures
        );
        let steps: Vec<String> = r
            .step_wall_s
            .iter()
            .map(|(s, t)| format!("{s} {:.0}", t * 1000.0))
            .collect();
        println!("    steps (ms, mean per fixture): {}", steps.join(", "));
    }
    println!(
        "median: 1 fixture {:.3} s, {} fixtures {:.3} s: ratio {} (goal <= {:.2}): {}",
        bench.one_s,
        bench.fixtures,
        bench.many_s,
        bench
            .ratio
            .map_or_else(|| "n/a".to_string(), |r| format!("{r:.3}")),
        bench.goal,
        verdict(bench.met)
    );
    Ok(status(bench.met))
}
