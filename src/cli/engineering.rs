//! Engineering commands: `station wrp-test`.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::atomic::AtomicBool;

use super::fixture::{FixtureArgs, find_fixture, open};
use super::output::Printer;
use crate::error::{ExitStatus, StationError};
use crate::record::Outcome;
use crate::station::Event;
use crate::station::wrp_test::{self, Gate, WrpTestOptions};

#[derive(clap::Args, Debug)]
pub struct WrpTestArgs {
    #[command(flatten)]
    pub at: FixtureArgs,
    /// The unit's label, typed to authorise an erase that destroys the sector if write
    /// protection does not hold (needed headless).
    #[arg(long = "yes-i-typed", value_name = "LABEL")]
    pub yes_i_typed: Option<String>,
    #[arg(long)]
    pub operator: Option<String>,
    /// Print one JSON event per line.
    #[arg(long)]
    pub json: bool,
}

/// Headless: the flag. At a terminal without it: ask.
fn typed_label(flag: Option<String>, prompt: &str) -> Option<String> {
    if flag.is_some() {
        return flag;
    }
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{prompt}\nlabel: ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).ok()?;
    Some(line.trim().to_string())
}

pub fn wrp_test(args: WrpTestArgs, abort: &'static AtomicBool) -> Result<ExitStatus, StationError> {
    let station = args.at.load()?;
    let fixture = find_fixture(&station, &args.at.fixture)?;
    // Refuse a profile without write protection before touching the unit.
    wrp_test::target_sector(station.profile_of(fixture))?;
    let hw = open(&station, fixture)?;
    let options = WrpTestOptions {
        operator: args
            .operator
            .unwrap_or_else(|| station.operator.default.clone()),
        abort,
    };
    let printer = Printer::new(args.json);
    let sink = |e: Event| printer.event(&e);
    let flag = args.yes_i_typed;
    let mut authorise = |gate: &Gate| typed_label(flag.clone(), &gate.prompt());
    let done = wrp_test::wrp_test(&station, fixture, hw, &options, &mut authorise, &sink)?;
    if !args.json {
        let s = &done.sector;
        let what = match done.outcome {
            Outcome::Pass => format!(
                "write protection held: sector {} ({:#010x}, {} KiB) refused the erase and reads \
                 back unchanged",
                s.index,
                s.address,
                s.size / 1024
            ),
            _ => done.failure.clone().unwrap_or_default(),
        };
        println!(
            "{} {}: {what}  record {}",
            done.serial,
            done.outcome,
            done.record.display()
        );
    }
    Ok(match done.outcome {
        Outcome::Pass => ExitStatus::Pass,
        Outcome::Fail => ExitStatus::Fail,
        Outcome::Aborted => ExitStatus::Aborted,
        Outcome::Error | Outcome::Timeout => ExitStatus::Station,
    })
}
