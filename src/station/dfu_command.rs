//! The `station dfu` commands on the unit a fixture holds (download, upload, verify, mass
//! erase, read unprotect): the unit opened, one [`DfuSession`] for the whole command, and the
//! unit kept for the next command whatever happened. The caller parses, asks and prints.

use super::dfu_session::DfuSession;
use super::dut::{self, step_error};
use super::events::EventSink;
use super::open_unit;
use super::update::{UpdateReport, UpdateSettings};
use crate::config::{DfuMode, Fixture, Station};
use crate::dfu::{Op, VerifyReport};
use crate::error::StationError;
use crate::hw::{FixtureHw, Segment};
use crate::image::Image;

/// Asked before a destructive action, with what it is and the unit's USB serial: the person
/// types the serial back (the caller's prompt or flag); an error stops the command.
pub type Confirm<'c> = dyn FnMut(&str, &str) -> Result<(), StationError> + 'c;

/// What `station dfu download` asks for; the profile's DFU settings fill in the rest.
pub struct DownloadRequest<'a> {
    pub image: &'a Image,
    /// Overrides the profile's alternate setting and a DfuSe file's own targets.
    pub alt: Option<u8>,
    pub mode: Option<DfuMode>,
    /// Read back and compare before leaving DFU.
    pub verify: bool,
}

/// Download an image (entering DFU from the unit's application when needed) and leave DFU.
/// Writing option bytes needs `confirm`.
pub fn download(
    station: &Station,
    fixture: &Fixture,
    request: &DownloadRequest,
    confirm: &mut Confirm,
    sink: &dyn EventSink,
) -> Result<UpdateReport, StationError> {
    let profile = station.profile_of(fixture);
    let alt = request.alt.unwrap_or(profile.dfu.alt);
    let mut settings = UpdateSettings::new(
        alt,
        request.mode.unwrap_or(profile.dfu.mode),
        profile.dfu.erase,
    );
    settings.verify = request.verify;
    let targets = targets_of(request.image, alt, request.alt.is_some());
    fits_the_part(station, fixture, request.image, &targets)?;
    on_held_unit(station, fixture, true, |hw| {
        download_on(hw, fixture, &targets, &settings, confirm, sink)
    })
}

fn download_on(
    hw: &mut FixtureHw,
    fixture: &Fixture,
    targets: &[(u8, Vec<Segment>)],
    settings: &UpdateSettings,
    confirm: &mut Confirm,
    sink: &dyn EventSink,
) -> Result<UpdateReport, StationError> {
    let mut session = DfuSession::open(hw, fixture).map_err(step_error)?;
    for (alt, _) in targets {
        if session.maps_option_bytes(*alt).map_err(step_error)? {
            confirm("write option bytes", &session.serial())?;
        }
    }
    session
        .download(&borrowed(targets), settings, sink, 0, "dfu_download")
        .map_err(step_error)
}

/// An image for the profile's own alternate setting must lie in the part's flash: refused
/// before the unit is touched (it used to enter DFU mode first, then refuse, and stay there).
fn fits_the_part(
    station: &Station,
    fixture: &Fixture,
    image: &Image,
    targets: &[(u8, Vec<Segment>)],
) -> Result<(), StationError> {
    let profile = station.profile_of(fixture);
    let flash = &profile.memory.flash;
    let outside = targets
        .iter()
        .filter(|(alt, _)| *alt == profile.dfu.alt)
        .flat_map(|(_, segments)| segments)
        .find(|s| !flash.contains_range(s.address, s.address as u64 + s.data.len() as u64));
    match outside {
        None => Ok(()),
        Some(s) => Err(StationError::usage(format!(
            "{}: {} bytes at {:#010x} lie outside the part's flash {:#010x}..{:#010x} \
             (memory.flash in {}); nothing was sent to the unit",
            image.name,
            s.data.len(),
            s.address,
            flash.start,
            flash.end(),
            profile.source.path.display()
        ))),
    }
}

/// Read every target of `image` back over DFU and compare.
pub fn verify(
    station: &Station,
    fixture: &Fixture,
    image: &Image,
    alt: Option<u8>,
    sink: &dyn EventSink,
) -> Result<VerifyReport, StationError> {
    let default_alt = station.profile_of(fixture).dfu.alt;
    let targets = targets_of(image, alt.unwrap_or(default_alt), alt.is_some());
    on_held_unit(station, fixture, false, |hw| {
        verify_on(hw, fixture, &targets, sink)
    })
}

fn verify_on(
    hw: &mut FixtureHw,
    fixture: &Fixture,
    targets: &[(u8, Vec<Segment>)],
    sink: &dyn EventSink,
) -> Result<VerifyReport, StationError> {
    let mut session = DfuSession::open(hw, fixture).map_err(step_error)?;
    session
        .verify(&borrowed(targets), sink, 0, "dfu_verify")
        .map_err(step_error)
}

/// Read `length` bytes from `address` over DFU.
pub fn upload(
    station: &Station,
    fixture: &Fixture,
    alt: Option<u8>,
    address: u32,
    length: u32,
    sink: &dyn EventSink,
) -> Result<Vec<u8>, StationError> {
    let alt = alt.unwrap_or(station.profile_of(fixture).dfu.alt);
    on_held_unit(station, fixture, false, |hw| {
        let mut session = DfuSession::open(hw, fixture).map_err(step_error)?;
        session
            .upload(alt, address, length, sink, 0, "dfu_upload")
            .map_err(step_error)
    })
}

/// Mass erase or read unprotect (`op`), after `confirm`. True when the ST system bootloader
/// did it.
pub fn dfuse_command(
    station: &Station,
    fixture: &Fixture,
    op: Op,
    confirm: &mut Confirm,
) -> Result<bool, StationError> {
    let mode = station.profile_of(fixture).dfu.mode;
    on_held_unit(station, fixture, true, |hw| {
        let mut session = DfuSession::open(hw, fixture).map_err(step_error)?;
        confirm(&op.to_string(), &session.serial())?;
        session.command(op, mode).map_err(step_error)?;
        Ok(session.rom)
    })
}

/// What goes through which alternate setting: a DfuSe file's own targets (unless `forced`,
/// an explicit alt), anything else through `alt`.
pub fn targets_of(image: &Image, alt: u8, forced: bool) -> Vec<(u8, Vec<Segment>)> {
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

fn borrowed(targets: &[(u8, Vec<Segment>)]) -> Vec<(u8, &[Segment])> {
    targets.iter().map(|(a, s)| (*a, s.as_slice())).collect()
}

/// The unit on the fixture now (switched on when `power`: the last run's teardown powers its
/// unit off), kept for the next command whatever `f` did; failing to keep it comes first.
fn on_held_unit<T>(
    station: &Station,
    fixture: &Fixture,
    power: bool,
    f: impl FnOnce(&mut FixtureHw) -> Result<T, StationError>,
) -> Result<T, StationError> {
    let mut hw = open_unit::open_held(station, fixture)?;
    if power {
        dut::ensure_powered(&mut hw)
            .map_err(|e| StationError::station(format!("fixture {}: {e}", fixture.id)))?;
    }
    let result = f(&mut hw);
    hw.save()
        .map_err(|e| StationError::station(e.to_string()))?;
    result
}

#[cfg(test)]
mod tests;
