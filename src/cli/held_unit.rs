//! What `station recover` and `station wrp-test` share: the unit a fixture holds, who works on
//! it, the label typed to authorise destructive work, and the exit status of how it ended.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::AtomicBool;

use super::fixture::{FixtureArgs, open};
use super::output::Printer;
use crate::config::{Fixture, Station};
use crate::error::{ExitStatus, StationError};
use crate::hw::FixtureHw;
use crate::record::Outcome;
use crate::station::Event;
use crate::station::events::EventSink;
use crate::station::held_unit::{Gate, WorkOptions};

/// The unit a fixture holds and who works on it. Each command words the --yes-i-typed help
/// for what it destroys.
#[derive(clap::Args, Debug)]
pub struct HeldUnitArgs {
    #[command(flatten)]
    pub at: FixtureArgs,
    /// The unit's label, typed to authorise the destructive work (needed headless).
    #[arg(long = "yes-i-typed", value_name = "LABEL")]
    pub yes_i_typed: Option<String>,
    #[arg(long, value_parser = super::person_name)]
    pub operator: Option<String>,
    /// Print one JSON event per line.
    #[arg(long)]
    pub json: bool,
}

/// A held-unit command of the engine (`recover`, `wrp_test`).
pub type Work<T> = fn(
    &Station,
    &Fixture,
    FixtureHw,
    &WorkOptions,
    &mut dyn FnMut(&Gate) -> Option<String>,
    &dyn EventSink,
) -> Result<T, StationError>;

/// Run `work` on the unit `fixture` holds: the operator given, else the station's default;
/// the label from the flag, else asked at a terminal; events printed.
pub fn run<T>(
    args: &HeldUnitArgs,
    station: &Station,
    fixture: &Fixture,
    abort: &'static AtomicBool,
    work: Work<T>,
) -> Result<T, StationError> {
    let hw = open(station, fixture)?;
    let options = WorkOptions {
        operator: args
            .operator
            .clone()
            .unwrap_or_else(|| station.operator.default.clone()),
        abort,
    };
    let printer = Printer::new(args.json);
    let sink = |e: Event| printer.event(&e);
    let mut authorise = |gate: &Gate| typed_label(args.yes_i_typed.clone(), gate);
    work(station, fixture, hw, &options, &mut authorise, &sink)
}

/// Headless: the flag. At a terminal without it: ask.
fn typed_label(flag: Option<String>, gate: &Gate) -> Option<String> {
    if flag.is_some() {
        return flag;
    }
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{}\nlabel: ", gate.prompt());
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

pub fn exit_status(outcome: Outcome) -> ExitStatus {
    match outcome {
        Outcome::Pass => ExitStatus::Pass,
        Outcome::Fail => ExitStatus::Fail,
        Outcome::Aborted => ExitStatus::Aborted,
        Outcome::Error | Outcome::Timeout => ExitStatus::Station,
    }
}
