//! Engineering commands: `station wrp-test`.

use std::sync::atomic::AtomicBool;

use super::fixture::find_fixture;
use super::held_unit::{self, HeldUnitArgs};
use crate::error::{ExitStatus, StationError};
use crate::record::Outcome;
use crate::station::wrp_test;

#[derive(clap::Args, Debug)]
#[command(mut_arg("yes_i_typed", |a| a.help(
    "The unit's label, typed to authorise an erase that destroys the sector if write \
     protection does not hold (needed headless)"
)))]
pub struct WrpTestArgs {
    #[command(flatten)]
    pub unit: HeldUnitArgs,
}

pub fn wrp_test(args: WrpTestArgs, abort: &'static AtomicBool) -> Result<ExitStatus, StationError> {
    let args = args.unit;
    let station = args.at.load()?;
    let fixture = find_fixture(&station, &args.at.fixture)?;
    // Refuse a profile without write protection before touching the unit.
    wrp_test::target_sector(station.profile_of(fixture))?;
    let tested = held_unit::run(&args, &station, fixture, abort, wrp_test::wrp_test)?;
    let (done, s) = (&tested.done, &tested.sector);
    if !args.json {
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
    Ok(held_unit::exit_status(done.outcome))
}
