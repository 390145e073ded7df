//! RMA commands: `station inspect`, `station dump`, `station recover`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;

use super::fixture::{FixtureArgs, find_fixture, open};
use super::held_unit::{self, HeldUnitArgs};
use crate::error::{ExitStatus, StationError};
use crate::record::Outcome;
use crate::station::rma::analyse::FlashView;
use crate::station::rma::dump;
use crate::station::rma::inspect::{self, Inspection, Via};
use crate::station::rma::recover;

#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum ViaArg {
    /// The debug probe: identity and option bytes always, the flash at RDP level 0.
    Swd,
    /// DfuSe uploads through the unit's bootloader or the ST ROM.
    Dfu,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    #[command(flatten)]
    pub at: FixtureArgs,
    #[arg(long, value_enum, default_value = "swd")]
    pub via: ViaArg,
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args, Debug)]
pub struct DumpArgs {
    #[command(flatten)]
    pub at: FixtureArgs,
    /// The raw flash goes here; FILE.json describes it.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(clap::Args, Debug)]
#[command(mut_arg("yes_i_typed", |a| a.help(
    "The unit's label, typed to authorise the destructive recovery (needed headless)"
)))]
pub struct RecoverArgs {
    #[command(flatten)]
    pub unit: HeldUnitArgs,
}

pub fn inspect(args: InspectArgs) -> Result<ExitStatus, StationError> {
    let station = args.at.load()?;
    let fixture = find_fixture(&station, &args.at.fixture)?;
    let mut hw = open(&station, fixture)?;
    let via = match args.via {
        ViaArg::Swd => Via::Swd,
        ViaArg::Dfu => Via::Dfu,
    };
    let result = inspect::inspect(&station, fixture, &mut hw, via);
    hw.save()
        .map_err(|e| StationError::station(e.to_string()))?;
    let inspection = result?;
    if args.json {
        let text = serde_json::to_string_pretty(&inspection)
            .map_err(|e| StationError::station(e.to_string()))?;
        println!("{text}");
    } else {
        print_inspection(&inspection);
    }
    Ok(ExitStatus::Pass)
}

fn print_inspection(i: &Inspection) {
    let via = format!("{:?}", i.via).to_lowercase();
    println!("{} (via {via})", i.fixture);
    match &i.identity {
        Some(id) => println!(
            "  UID {}  IDCODE {} (DEV_ID {})  flash {} KiB",
            id.uid, id.idcode, id.dev_id, id.flash_size_kib
        ),
        None => println!("  UID, IDCODE, flash size: not readable this way"),
    }
    if let Some(label) = &i.label {
        let parent = i.last_production_record.as_deref().unwrap_or("none");
        println!("  label {label}  (last production record: {parent})");
    }
    println!("  on USB now: {}", i.usb_now);
    match (&i.option_bytes, i.rdp_level) {
        (Some(ob), _) => println!("  {}", option_line(ob)),
        (None, Some(level)) => println!("  RDP level {level} (inferred; option bytes unread)"),
        (None, None) => println!("  RDP level: unknown"),
    }
    print_flash(&i.flash);
    for note in &i.notes {
        println!("  note: {note}");
    }
}

/// A family's decoded option bytes on one line: the fields every family has, then the rest.
fn option_line(ob: &serde_json::Value) -> String {
    let text = |k: &str| match &ob[k] {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => "?".into(),
        other => other.to_string(),
    };
    let mut line = format!(
        "RDP level {} (RDP byte {:#04x}); write-protected sectors {}; BOR level {}; IWDG {}; \
         nRST_STOP {}; nRST_STDBY {}",
        text("rdp_level"),
        ob["rdp_byte"].as_u64().unwrap_or(0),
        text("write_protected"),
        text("bor_level"),
        if ob["iwdg_sw"].as_bool().unwrap_or(true) {
            "software"
        } else {
            "hardware"
        },
        text("nrst_stop"),
        text("nrst_stdby"),
    );
    for k in ["boot_address0", "boot_address1"] {
        if !ob[k].is_null() {
            line.push_str(&format!("; {k} {}", text(k)));
        }
    }
    if let Some(raw) = ob["raw"].as_object() {
        for (name, value) in raw {
            line.push_str(&format!("; {} {}", name.to_uppercase(), text_of(value)));
        }
    } else if !ob["raw"].is_null() {
        line.push_str(&format!("; OPTCR {}", text("raw")));
    }
    line
}

fn text_of(v: &serde_json::Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

fn print_flash(f: &FlashView) {
    let b = &f.bootloader;
    let status = format!("{:?}", b.status).to_lowercase();
    println!(
        "  bootloader {} ({} bytes): {status}: {}",
        b.start, b.size, b.detail
    );
    if let Some(d) = &b.found {
        let crc = if d.crc_valid { "valid" } else { "BAD" };
        println!(
            "    descriptor: {} {}, image CRC {crc}",
            d.design, d.version
        );
    }
    for s in &f.slots {
        println!("  slot {} {}: {}: {}", s.name, s.start, s.check, s.detail);
    }
    println!("  would boot: {}", f.would_boot.detail);
}

pub fn dump(args: DumpArgs) -> Result<ExitStatus, StationError> {
    let station = args.at.load()?;
    let fixture = find_fixture(&station, &args.at.fixture)?;
    let mut hw = open(&station, fixture)?;
    let result = dump::dump(&station, fixture, &mut hw, &args.output);
    hw.save()
        .map_err(|e| StationError::station(e.to_string()))?;
    let info = result?;
    println!(
        "dumped {} bytes of flash of UID {} into {} (sha256 {}), option bytes {} in {}",
        info.bytes,
        info.uid,
        args.output.display(),
        info.sha256,
        info.option_words
            .iter()
            .map(|(n, v)| format!("{n} {v}"))
            .collect::<Vec<_>>()
            .join(", "),
        dump::sidecar(&args.output).display()
    );
    Ok(ExitStatus::Pass)
}

pub fn recover(args: RecoverArgs, abort: &'static AtomicBool) -> Result<ExitStatus, StationError> {
    let args = args.unit;
    let station = args.at.load()?;
    let fixture = find_fixture(&station, &args.at.fixture)?;
    let done = held_unit::run(&args, &station, fixture, abort, recover::recover)?;
    if !args.json {
        let parent = done.parent_record.as_deref().unwrap_or("none found");
        println!(
            "{} {}: {}  record {} (parent production record: {parent})",
            done.serial,
            done.outcome,
            done.failure.as_deref().unwrap_or("recovered"),
            done.record.display()
        );
        if done.outcome == Outcome::Pass {
            println!(
                "next: download the application over DFU (station dfu download --station {} --fixture {} IMAGE)",
                args.at.station.display(),
                fixture.id
            );
        }
    }
    Ok(held_unit::exit_status(done.outcome))
}
