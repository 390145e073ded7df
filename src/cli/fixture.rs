//! Commands that work on the unit a fixture holds now: `station dfu download|upload|verify`
//! and `station sim reset`.

use std::path::{Path, PathBuf};

use crate::backend;
use crate::config::{self, ConfigErrors, DfuMode, Fixture, Station};
use crate::error::{ExitStatus, StationError};
use crate::hw::FixtureHw;
use crate::image::Image;
use crate::station::Event;
use crate::station::events::to_json_line;
use crate::station::step::StepError;
use crate::station::update::{self, UpdateSettings};

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

fn step_error(e: StepError) -> StationError {
    match e.outcome {
        crate::record::Outcome::Fail => StationError::fail(e.message),
        crate::record::Outcome::Aborted => StationError::aborted(e.message),
        _ => StationError::station(e.message),
    }
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

pub fn download(args: DownloadArgs) -> Result<ExitStatus, StationError> {
    let station = args.at.load()?;
    let fixture = find_fixture(&station, &args.at.fixture)?;
    let profile = station.profile_of(fixture);
    let image = load_image(&args.image, args.address)?;
    let mut hw = open_powered(&station, fixture)?;
    let mut settings = UpdateSettings::new(
        args.alt.unwrap_or(profile.dfu.alt),
        args.mode.unwrap_or(profile.dfu.mode),
        profile.dfu.erase,
    );
    settings.verify = args.verify;
    let json = args.json;
    let bar = std::sync::Mutex::new(super::progress::Bar::new(&fixture.id, json));
    let sink = |e: Event| {
        if json {
            println!("{}", to_json_line(&e));
        } else if let Event::Progress {
            phase, done, total, ..
        } = &e
            && let Ok(mut bar) = bar.lock()
        {
            bar.update(phase, *done, *total);
        }
    };
    let targets = targets_of(
        &image,
        args.alt.unwrap_or(profile.dfu.alt),
        args.alt.is_some(),
    );
    for (alt, _) in &targets {
        if writes_option_bytes(&mut hw, fixture, *alt)? {
            confirm_serial(
                &mut hw,
                fixture,
                args.yes_i_typed.clone(),
                "write option bytes",
            )?;
        }
    }
    let borrowed: Vec<(u8, &[crate::hw::Segment])> =
        targets.iter().map(|(a, s)| (*a, s.as_slice())).collect();
    let result = update::update_targets(
        &mut hw,
        fixture,
        &borrowed,
        &settings,
        &sink,
        0,
        "dfu_download",
    );
    if let Ok(mut bar) = bar.lock() {
        bar.finish();
    }
    hw.save()
        .map_err(|e| StationError::station(e.to_string()))?;
    let report = result.map_err(step_error)?;
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

/// What goes through which alternate setting: a DfuSe file's own targets (unless `--alt`
/// overrides), anything else through `alt`.
fn targets_of(
    image: &crate::image::Image,
    alt: u8,
    forced: bool,
) -> Vec<(u8, Vec<crate::hw::Segment>)> {
    match &image.dfu {
        Some(file) if !forced => file
            .targets
            .iter()
            .map(|t| {
                let mut elements = t.elements.clone();
                elements.sort_by_key(|e| e.address);
                (t.alt, elements)
            })
            .collect(),
        _ => vec![(alt, image.segments.clone())],
    }
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
    let targets = targets_of(
        &image,
        alt.unwrap_or(station.profile_of(fixture).dfu.alt),
        alt.is_some(),
    );
    let mut report = crate::dfu::verify::VerifyReport::default();
    let mut bar = super::progress::Bar::new(&fixture.id, false);
    let total: u64 = targets
        .iter()
        .flat_map(|(_, s)| s.iter())
        .map(|s| s.data.len() as u64)
        .sum();
    let mut before = 0;
    for (alt, segments) in &targets {
        let one = with_dfu(&station, fixture, *alt, |pipe, clock, device| {
            crate::dfu::verify::verify_with_progress(pipe, clock, device, segments, &mut |d| {
                bar.update("verify", before + d, total)
            })
        })?;
        before += one.bytes_checked;
        report.bytes_checked += one.bytes_checked;
        report.differing_bytes += one.differing_bytes;
        report.first_mismatch = report.first_mismatch.or(one.first_mismatch);
    }
    bar.finish();
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
    let alt = alt.unwrap_or(station.profile_of(fixture).dfu.alt);
    let mut bar = super::progress::Bar::new(&fixture.id, false);
    let result = with_dfu(&station, fixture, alt, |pipe, clock, device| {
        crate::dfu::upload::upload(
            pipe,
            clock,
            device.interface.number,
            device.functional.transfer_size,
            address,
            length,
            &mut |done, total| bar.update("read", done, total),
        )
    });
    bar.finish();
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

/// Open the fixture's unit in DFU mode, run `f` on it, and keep the unit for the next command.
fn with_dfu<T>(
    station: &Station,
    fixture: &Fixture,
    alt: u8,
    f: impl FnOnce(
        &mut dyn crate::hw::UsbControl,
        &dyn crate::hw::Clock,
        &crate::dfu::DfuDevice,
    ) -> Result<T, crate::dfu::DfuError>,
) -> Result<T, StationError> {
    let mut hw = open(station, fixture)?;
    let result = (|| {
        let (mut pipe, _, _) = update::open_dfu(&mut hw, fixture).map_err(step_error)?;
        let device = crate::dfu::DfuDevice::open(pipe.as_mut(), alt)
            .map_err(|e| StationError::fail(e.to_string()))?;
        f(pipe.as_mut(), hw.clock.as_ref(), &device).map_err(|e| StationError::fail(e.to_string()))
    })();
    hw.save()
        .map_err(|e| StationError::station(e.to_string()))?;
    result
}

/// Whether `alt` of the unit's DFU interface maps its option bytes.
fn writes_option_bytes(
    hw: &mut FixtureHw,
    fixture: &Fixture,
    alt: u8,
) -> Result<bool, StationError> {
    let (mut pipe, _, _) = update::open_dfu(hw, fixture).map_err(step_error)?;
    let device = crate::dfu::DfuDevice::open(pipe.as_mut(), alt)
        .map_err(|e| StationError::fail(e.to_string()))?;
    Ok(device
        .memory_map(alt)
        .is_ok_and(|m| crate::dfu::plan::is_option_bytes(&m)))
}

/// A destructive DFU action needs the unit's USB serial typed: the flag headless, or at a
/// terminal, the prompt.
fn confirm_serial(
    hw: &mut FixtureHw,
    fixture: &Fixture,
    flag: Option<String>,
    action: &str,
) -> Result<(), StationError> {
    use std::io::{BufRead, IsTerminal, Write};
    let (pipe, _, _) = update::open_dfu(hw, fixture).map_err(step_error)?;
    let serial = pipe.info().serial.unwrap_or_default();
    let typed = match flag {
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
        Some(t) if !serial.is_empty() && t.eq_ignore_ascii_case(&serial) => Ok(()),
        Some(t) => Err(StationError::usage(format!(
            "{t:?} is not the unit's USB serial ({serial}): nothing was done"
        ))),
        None => Err(StationError::usage(format!(
            "to {action}, type the unit's USB serial: --yes-i-typed {serial}"
        ))),
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
    let mut hw = open_powered(&station, fixture)?;
    let result = (|| {
        confirm_serial(&mut hw, fixture, yes_i_typed, &op.to_string())?;
        let (mut pipe, rom, _) = update::open_dfu(&mut hw, fixture).map_err(step_error)?;
        let device = crate::dfu::DfuDevice::open(pipe.as_mut(), 0)
            .map_err(|e| StationError::fail(e.to_string()))?;
        let mode = station.profile_of(fixture).dfu.mode;
        let mut engine = crate::dfu::Download::new(vec![op.clone()], mode, device.interface.number);
        crate::dfu::execute(
            &mut engine,
            pipe.as_mut(),
            hw.clock.as_ref(),
            &mut |_, _| {},
        )
        .map_err(|e| StationError::fail(format!("{op}: {e}")))?;
        Ok(rom)
    })();
    hw.save()
        .map_err(|e| StationError::station(e.to_string()))?;
    let rom = result?;
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
