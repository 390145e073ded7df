//! Commands that work on the unit a fixture holds now: `station dfu download|upload|verify|
//! mass-erase|unprotect` (parsed and printed here, run by `station::dfu_command`) and
//! `station sim reset`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::backend;
use crate::config::{self, ConfigErrors, DfuMode, Fixture, Station};
use crate::error::{ExitStatus, StationError};
use crate::hw::FixtureHw;
use crate::image::Image;
use crate::station::Event;
use crate::station::dfu_command;
use crate::station::events::to_json_line;

/// Which fixture a command works on.
#[derive(clap::Args, Debug)]
pub struct FixtureArgs {
    #[arg(long)]
    pub station: PathBuf,
    #[arg(long)]
    pub fixture: String,
    /// Use this records directory (and its simulator state) instead of the station's.
    #[arg(long)]
    pub records: Option<PathBuf>,
}

impl FixtureArgs {
    pub fn load(&self) -> Result<Station, StationError> {
        let mut station = config::load_station(&self.station)
            .map_err(|e| StationError::usage(ConfigErrors(e).to_string()))?;
        if let Some(dir) = &self.records {
            station.records_dir = dir.clone();
        }
        Ok(station)
    }
}

pub fn find_fixture<'a>(station: &'a Station, id: &str) -> Result<&'a Fixture, StationError> {
    station.fixture(id).ok_or_else(|| {
        let known: Vec<&str> = station.fixtures.iter().map(|f| f.id.as_str()).collect();
        StationError::usage(format!(
            "no fixture {id:?} in {}; it has {}",
            station.source.path.display(),
            known.join(", ")
        ))
    })
}

/// The unit on the fixture now (restored from the virtual bench's state on a sim fixture).
pub fn open(station: &Station, fixture: &Fixture) -> Result<FixtureHw, StationError> {
    crate::station::open_unit::open_held(station, fixture)
}

/// [`open`], switched on: the last run's teardown powers its unit off.
pub fn open_powered(station: &Station, fixture: &Fixture) -> Result<FixtureHw, StationError> {
    let mut hw = open(station, fixture)?;
    crate::station::dut::ensure_powered(&mut hw)
        .map_err(|e| StationError::station(format!("fixture {}: {e}", fixture.id)))?;
    Ok(hw)
}

fn load_image(path: &Path, address: Option<u32>) -> Result<Image, StationError> {
    Image::load(path, address).map_err(|e| StationError::usage(e.to_string()))
}

pub struct DownloadArgs {
    pub at: FixtureArgs,
    pub image: PathBuf,
    pub address: Option<u32>,
    pub alt: Option<u8>,
    pub verify: bool,
    pub mode: Option<DfuMode>,
    pub json: bool,
    pub yes_i_typed: Option<String>,
}

/// Progress events on a bar (or as JSON lines).
fn progress_sink(bar: &Mutex<super::progress::Bar>, json: bool) -> impl Fn(Event) + Send + Sync {
    move |e: Event| {
        if json {
            println!("{}", to_json_line(&e));
        } else if let Event::Progress {
            phase, done, total, ..
        } = &e
            && let Ok(mut bar) = bar.lock()
        {
            bar.update(phase, *done, *total);
        }
    }
}

fn finish(bar: &Mutex<super::progress::Bar>) {
    if let Ok(mut bar) = bar.lock() {
        bar.finish();
    }
}

pub fn download(args: DownloadArgs) -> Result<ExitStatus, StationError> {
    let station = args.at.load()?;
    let fixture = find_fixture(&station, &args.at.fixture)?;
    let image = load_image(&args.image, args.address)?;
    let request = dfu_command::DownloadRequest {
        image: &image,
        alt: args.alt,
        mode: args.mode,
        verify: args.verify,
    };
    let json = args.json;
    let bar = Mutex::new(super::progress::Bar::new(&fixture.id, json));
    let mut confirm = confirm_serial(fixture, args.yes_i_typed);
    let result = dfu_command::download(
        &station,
        fixture,
        &request,
        &mut confirm,
        &progress_sink(&bar, json),
    );
    finish(&bar);
    let report = result?;
    if !json {
        println!(
            "downloaded {} bytes to {} ({}){}",
            report.bytes,
            fixture.id,
            if report.rom {
                "ST system bootloader"
            } else {
                "bootloader"
            },
            if report.verified { ", verified" } else { "" }
        );
    }
    Ok(ExitStatus::Pass)
}

pub fn verify(
    at: &FixtureArgs,
    image: &Path,
    address: Option<u32>,
    alt: Option<u8>,
) -> Result<ExitStatus, StationError> {
    let station = at.load()?;
    let fixture = find_fixture(&station, &at.fixture)?;
    let image = load_image(image, address)?;
    let bar = Mutex::new(super::progress::Bar::new(&fixture.id, false));
    let result = dfu_command::verify(&station, fixture, &image, alt, &progress_sink(&bar, false));
    finish(&bar);
    let report = result?;
    match report.first_mismatch {
        None => {
            println!(
                "verified: {} bytes match {}",
                report.bytes_checked, image.name
            );
            Ok(ExitStatus::Pass)
        }
        Some(m) => Err(StationError::fail(format!(
            "verify failed: {} of {} bytes differ, the first at {:#010x} (image {:#04x}, device {:#04x})",
            report.differing_bytes, report.bytes_checked, m.address, m.expected, m.found
        ))),
    }
}

pub fn upload(
    at: &FixtureArgs,
    address: u32,
    length: u32,
    out: &Path,
    alt: Option<u8>,
) -> Result<ExitStatus, StationError> {
    let station = at.load()?;
    let fixture = find_fixture(&station, &at.fixture)?;
    let bar = Mutex::new(super::progress::Bar::new(&fixture.id, false));
    let result = dfu_command::upload(
        &station,
        fixture,
        alt,
        address,
        length,
        &progress_sink(&bar, false),
    );
    finish(&bar);
    let bytes = result?;
    std::fs::write(out, &bytes)
        .map_err(|e| StationError::station(format!("{}: {e}", out.display())))?;
    println!(
        "read {} bytes from {address:#010x} into {}",
        bytes.len(),
        out.display()
    );
    Ok(ExitStatus::Pass)
}

/// Return a simulated fixture to its initial state: the next command finds a fresh unit.
pub fn sim_reset(at: &FixtureArgs) -> Result<ExitStatus, StationError> {
    let station = at.load()?;
    let fixture = find_fixture(&station, &at.fixture)?;
    if fixture.backend != config::FixtureBackend::Sim {
        return Err(StationError::usage(format!(
            "fixture {} is real hardware, not simulated",
            fixture.id
        )));
    }
    let path = crate::backend::state_path(&backend::state_dir(&station), &fixture.id);
    match std::fs::remove_file(&path) {
        Ok(()) => println!("{}: reset (removed {})", fixture.id, path.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{}: already in its initial state", fixture.id)
        }
        Err(e) => return Err(StationError::station(format!("{}: {e}", path.display()))),
    }
    Ok(ExitStatus::Pass)
}

/// A destructive DFU action needs the unit's USB serial typed: the flag headless, or at a
/// terminal, the prompt.
fn confirm_serial(
    fixture: &Fixture,
    flag: Option<String>,
) -> impl FnMut(&str, &str) -> Result<(), StationError> {
    move |action: &str, serial: &str| {
        use std::io::{BufRead, IsTerminal, Write};
        let typed = match flag.clone() {
            Some(t) => Some(t),
            None if std::io::stdin().is_terminal() => {
                eprint!(
                    "to {action} on {}, type its USB serial ({serial}): ",
                    fixture.id
                );
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line).ok();
                Some(line.trim().to_string())
            }
            None => None,
        };
        match typed {
            Some(t) if !serial.is_empty() && t.eq_ignore_ascii_case(serial) => Ok(()),
            Some(t) => Err(StationError::usage(format!(
                "{t:?} is not the unit's USB serial ({serial}): nothing was done"
            ))),
            None => Err(StationError::usage(format!(
                "to {action}, type the unit's USB serial: --yes-i-typed {serial}"
            ))),
        }
    }
}

/// Mass erase or read unprotect through the unit's ROM bootloader.
pub fn dfu_command(
    at: &FixtureArgs,
    op: crate::dfu::Op,
    yes_i_typed: Option<String>,
) -> Result<ExitStatus, StationError> {
    let station = at.load()?;
    let fixture = find_fixture(&station, &at.fixture)?;
    let mut confirm = confirm_serial(fixture, yes_i_typed);
    let rom = dfu_command::dfuse_command(&station, fixture, op.clone(), &mut confirm)?;
    println!(
        "{}: {op} done through {}",
        fixture.id,
        if rom {
            "the ST system bootloader"
        } else {
            "its bootloader"
        }
    );
    Ok(ExitStatus::Pass)
}
