//! Production-line commands around the run: the shift's golden-unit check, rework clearance,
//! and who the operator is.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use super::fixture::FixtureArgs;
use super::output;
use crate::config::Station;
use crate::error::{ExitStatus, StationError};
use crate::station::{self, Event, RunOptions};

#[derive(clap::Args, Debug)]
pub struct GoldenArgs {
    #[command(flatten)]
    pub at: FixtureArgs,
    #[arg(long, value_parser = super::person_name)]
    pub operator: Option<String>,
    /// Simulated time: virtual (as fast as possible) or realtime[:SCALE].
    #[arg(long, default_value = "virtual")]
    pub time: crate::hw::TimeMode,
    /// Print one JSON event per line.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum ReworkCommand {
    /// Clear a unit routed to rework so production takes it again (writes a clearance record).
    Clear {
        /// The unit's serial, label or UID.
        unit: String,
        #[arg(long)]
        station: PathBuf,
        /// The technician who reworked the unit.
        #[arg(long, value_parser = super::person_name)]
        by: String,
        /// What was done to it.
        #[arg(long)]
        reason: Option<String>,
        /// Use this records directory instead of the station's.
        #[arg(long)]
        records: Option<PathBuf>,
    },
}

/// `--operator`, else a prompt on a terminal when the station requires a name, else the
/// station's default.
pub fn operator_of(station: &Station, given: Option<String>) -> Result<String, StationError> {
    if let Some(name) = given.filter(|n| !n.trim().is_empty()) {
        return Ok(name);
    }
    if !station.operator.required {
        return Ok(station.operator.default.clone());
    }
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(StationError::usage("this station requires --operator NAME"));
    }
    eprint!("Operator name: ");
    let _ = std::io::stderr().flush();
    let mut name = String::new();
    stdin
        .lock()
        .read_line(&mut name)
        .map_err(|e| StationError::usage(format!("reading the operator's name: {e}")))?;
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(StationError::usage(
            "this station requires an operator name",
        ));
    }
    Ok(name)
}

pub fn golden(
    args: GoldenArgs,
    abort: &'static std::sync::atomic::AtomicBool,
) -> Result<ExitStatus, StationError> {
    let mut station = args.at.load()?;
    station.time = args.time;
    let operator = operator_of(&station, args.operator)?;
    let options = RunOptions {
        units: 1,
        operator,
        fixtures: vec![args.at.fixture.clone()],
        abort,
        typed_labels: Vec::new(),
        retest: false,
        labels: Vec::new(),
        golden: true,
    };
    let printer = output::Printer::new(args.json);
    let sink = |e: Event| printer.event(&e);
    let summary = station::run(&station, &options, &sink)?;
    printer.summary(&summary);
    Ok(summary.exit_status())
}

pub fn rework(command: ReworkCommand) -> Result<ExitStatus, StationError> {
    match command {
        ReworkCommand::Clear {
            unit,
            station,
            by,
            reason,
            records,
        } => {
            let mut station = super::load(&station)?;
            if let Some(dir) = records {
                station.records_dir = dir;
            }
            let cleared = station::rework::clear(&station, &unit, &by, reason.as_deref())?;
            println!(
                "{}: cleared for production by {by} ({} failures); record {}",
                cleared.serial,
                cleared.failures,
                cleared.path.display()
            );
            Ok(ExitStatus::Pass)
        }
    }
}
