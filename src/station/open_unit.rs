//! A new unit on a fixture. On the virtual bench it arrives in the state its fixture's
//! `sim.initial` names (blank, with a bootloader, provisioned, or locked at RDP 1); on real
//! hardware it is whatever the operator plugged in.

use std::cell::OnceCell;
use std::collections::BTreeMap;

use super::fixture_lock::{self, FixtureLock};
use super::images::UnitImages;
use crate::backend;
use crate::config::{Fixture, GeneratedBootloader, Initial, Profile, SimSpec, Station};
use crate::error::StationError;
use crate::hw::bench::BenchUnit;
use crate::hw::{AttachMode, DebugTarget, FixtureHw, FlashOptions, HwError, Segment};
use crate::image::generate::SplitMix64;
use crate::image::header::{self, Version};
use crate::stm32::options;

/// Unit number `unit` on `fixture`, as it arrives. A simulated unit that arrives programmed
/// is programmed from the profile's images, loaded only if the arrival needs them.
pub fn open_unit(station: &Station, fixture: &Fixture, unit: u64) -> Result<FixtureHw, HwError> {
    arrival(station, fixture, unit, None)
}

/// [`open_unit`] for a production run, which loaded and checked its images once: a simulated
/// unit that arrives programmed is programmed from those.
pub fn open_run_unit(
    station: &Station,
    fixture: &Fixture,
    unit: u64,
    images: &UnitImages,
) -> Result<FixtureHw, HwError> {
    arrival(station, fixture, unit, Some(images))
}

fn arrival(
    station: &Station,
    fixture: &Fixture,
    unit: u64,
    images: Option<&UnitImages>,
) -> Result<FixtureHw, HwError> {
    let hold = hold(station, fixture)?;
    let mut hw = backend::open_fixture(station, fixture, unit)?;
    hw.hold = Some(Box::new(hold));
    if let (Some(unit), Some(sim)) = (&hw.bench, &fixture.sim) {
        let profile = station.profile_of(fixture);
        let images = ArrivalImages {
            profile,
            given: images,
            loaded: OnceCell::new(),
        };
        arrive(unit.as_ref(), hw.clock.as_ref(), sim, profile, &images)
            .map_err(|e| HwError::Backend(format!("preparing the simulated unit: {e}")))?;
    }
    Ok(hw)
}

/// The unit on the fixture now: on the virtual bench the one the last command left (or a new
/// one as it arrives, programmed from `images` if given); on real hardware whatever is
/// plugged in.
pub fn open_current(
    station: &Station,
    fixture: &Fixture,
    next_unit: impl FnOnce() -> u64,
    images: Option<&UnitImages>,
) -> Result<FixtureHw, HwError> {
    let held = hold(station, fixture)?;
    match backend::open_saved(station, fixture)? {
        Some(mut hw) => {
            hw.hold = Some(Box::new(held));
            Ok(hw)
        }
        None => arrival(station, fixture, next_unit(), images),
    }
}

/// This process's hold on `fixture`, named by its command line for whoever is refused.
fn hold(station: &Station, fixture: &Fixture) -> Result<FixtureLock, HwError> {
    fixture_lock::acquire(&station.records_dir, &fixture.id, &command_line()).map_err(HwError::Busy)
}

/// How this process was started, for the holder's line of a fixture lock.
pub fn command_line() -> String {
    let mut line: String = std::env::args()
        .map(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map_or(a.clone(), |n| n.to_string_lossy().into_owned())
        })
        .take(1)
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    line.truncate(160);
    line
}

/// [`open_current`] for commands on the unit a fixture holds (inspect, recover, dfu): a new
/// unit takes the fixture's next unit number from the records directory.
pub fn open_held(station: &Station, fixture: &Fixture) -> Result<FixtureHw, StationError> {
    let store = crate::record::RecordStore::open(&station.records_dir)
        .map_err(|e| StationError::station(e.to_string()))?;
    // A unit a stopped station left open is closed as ABORTED by the next command on the
    // station, whatever it is (its journal's lock tells a live process's unit apart).
    store
        .close_abandoned()
        .map_err(|e| StationError::station(format!("closing abandoned units: {e}")))?;
    let mut counter_error = None;
    let next_unit = || {
        store.next_unit_number(&fixture.id).unwrap_or_else(|e| {
            counter_error = Some(e.to_string());
            0
        })
    };
    let hw = open_current(station, fixture, next_unit, None)
        .map_err(|e| StationError::station(format!("fixture {}: {e}", fixture.id)))?;
    match counter_error {
        Some(e) => Err(StationError::station(e)),
        None => Ok(hw),
    }
}

/// The images an arriving unit is programmed from: the caller's, else the profile's, loaded
/// once when first needed (a blank unit needs none).
struct ArrivalImages<'a> {
    profile: &'a Profile,
    given: Option<&'a UnitImages>,
    loaded: OnceCell<UnitImages>,
}

impl ArrivalImages<'_> {
    fn get(&self) -> Result<&UnitImages, String> {
        if let Some(images) = self.given.or(self.loaded.get()) {
            return Ok(images);
        }
        let images = super::load_unit_images(self.profile).map_err(|e| e.to_string())?;
        Ok(self.loaded.get_or_init(|| images))
    }
}

fn arrive(
    unit: &dyn BenchUnit,
    clock: &dyn crate::hw::Clock,
    sim: &SimSpec,
    profile: &Profile,
    images: &ArrivalImages,
) -> Result<(), String> {
    let mut target = unit.direct_debug();
    let flash = |target: &mut Box<dyn DebugTarget>, segments: &[Segment]| {
        target
            .flash(segments, &FlashOptions::default(), &mut |_| {})
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    match sim.initial {
        Initial::Blank => return Ok(()),
        Initial::Rdp1 => {
            unit.deliver_locked();
            return Ok(());
        }
        Initial::Bootloader | Initial::Provisioned => {}
    }
    unit.power_cycle();
    target
        .attach(AttachMode::Normal)
        .map_err(|e| e.to_string())?;
    flash(&mut target, &bootloader_segments(sim, profile, images)?)?;
    if sim.initial == Initial::Provisioned {
        flash(&mut target, &images.get()?.application_segments())?;
        let current = options::read(profile.family, target.as_mut()).map_err(|e| e.to_string())?;
        let wanted = options::encode(profile.family, &profile.option_bytes, &current)?;
        if wanted != current {
            options::program(profile.family, target.as_mut(), clock, &wanted)
                .map_err(|e| e.to_string())?;
        }
    }
    // Delivered: powered up once, no debugger attached.
    unit.power_cycle();
    Ok(())
}

/// The profile's bootloader image, or the generated design with the profile's slots.
fn bootloader_segments(
    sim: &SimSpec,
    profile: &Profile,
    images: &ArrivalImages,
) -> Result<Vec<Segment>, String> {
    let Some(generated) = &sim.bootloader else {
        return Ok(images.get()?.bootloader.segments.clone());
    };
    let base = profile.memory.bootloader.get_ref().start;
    let bytes = generate(generated, profile, sim.seed)?;
    if bytes.len() as u64 > profile.memory.bootloader.get_ref().size as u64 {
        return Err(format!(
            "the generated {} bootloader ({} bytes) does not fit the profile's bootloader region",
            generated.design,
            bytes.len()
        ));
    }
    Ok(vec![Segment::new(base, bytes)])
}

/// Knobs the profile's memory map answers unless the fixture sets them.
fn generate(g: &GeneratedBootloader, profile: &Profile, seed: u64) -> Result<Vec<u8>, String> {
    let mut knobs: BTreeMap<String, String> = g.knobs.clone();
    let hex = |v: u32| format!("{v:#010x}");
    if let Some(a) = profile.slot("a") {
        knobs.entry("app_base".into()).or_insert(hex(a.start));
        knobs.entry("app_size".into()).or_insert(hex(a.size));
    }
    if let Some(b) = profile.slot("b") {
        knobs.entry("slot_b".into()).or_insert(hex(b.start));
    }
    let body = SplitMix64::new(seed).bytes(8 * 1024);
    header::build_bootloader(
        profile.memory.bootloader.get_ref().start,
        Version {
            major: 1,
            minor: 0,
            patch: 0,
        },
        &g.design,
        &knobs,
        &body,
    )
}
