//! `station wrp-test`, an engineering test: over SWD, try to erase a sector the profile
//! write-protects (the bootloader's) with the family's FLASH register sequence. It passes when
//! the controller refuses with its write-protection error and the sector reads back unchanged
//! (CRC-32 before and after); it fails when the sector was erased, and the unit then needs its
//! bootloader again. Destructive when it fails, so a person types the unit's label first.
//!
//! The flash must be readable over SWD, so the unit must be at RDP level 0: at level 1 every
//! debugger erase is refused and no read works, whatever the write protection says.

use super::dut as rma;
use super::held_unit::{self, Gate, UnitRef, WorkDone, WorkOptions};
use super::load_unit_images;
use super::step::{StepError, StepOutput};
use super::unit::UnitRun;
use crate::config::{Fixture, Profile, Station};
use crate::error::StationError;
use crate::hw::FixtureHw;
use crate::record::{self, RecordKind, RecordStore};
use crate::station::events::EventSink;
use crate::stm32::options;
use crate::stm32::sector_erase::{self, Sector};

/// How the test ended, and the sector it tried.
#[derive(Debug)]
pub struct WrpTested {
    pub sector: Sector,
    pub done: WorkDone,
}

/// The sector to try: the first one the profile write-protects inside the bootloader region,
/// else the first one it write-protects. A profile without write protection has nothing to
/// test.
pub fn target_sector(profile: &Profile) -> Result<Sector, StationError> {
    let wrp = profile.option_bytes.write_protect.get_ref();
    let flash = &profile.memory.flash;
    let boot = profile.memory.bootloader.get_ref();
    let at = |i: u32| sector_erase::sector(profile.family, flash.start, flash.size, i);
    let protected: Vec<Sector> = wrp.iter().filter_map(|&i| at(i)).collect();
    protected
        .iter()
        .find(|s| boot.overlaps(s.address, s.end()))
        .or(protected.first())
        .copied()
        .ok_or_else(|| {
            StationError::usage(format!(
                "{}: the profile write-protects no sector (option_bytes.write_protect is {:?}): \
                 there is no write protection to test",
                profile.source.path.display(),
                wrp
            ))
        })
}

/// Test the unit `hw` holds. `authorise` is shown the gate and returns what the person typed
/// (None: nothing). Refusals change nothing and write no record; the unit is saved for the
/// next command whatever happens.
pub fn wrp_test(
    station: &Station,
    fixture: &Fixture,
    hw: FixtureHw,
    options: &WorkOptions,
    authorise: &mut dyn FnMut(&Gate) -> Option<String>,
    sink: &dyn EventSink,
) -> Result<WrpTested, StationError> {
    let profile = station.profile_of(fixture);
    let sector = target_sector(profile)?;
    let images = load_unit_images(profile)?;
    let (mut run, store, started_at) =
        held_unit::begin(station, fixture, &images, hw, sink, options)?;
    let (mut level, mut before) = (None, None);
    let identified = run.step("attach", |u| held_unit::attach(u, rma::attach_any))
        && run.step("identify", |u| identify(u, &mut level));
    let ready = identified
        && level == Some(0)
        && run.step("read_sector", |u| read_sector(u, &sector, &mut before));
    let gate = match (ready, run.device.clone(), before) {
        (true, Some(device), Some((crc, false))) => {
            gate(&run, &store, &device.uid, sector, authorise).map(|unit| (unit, crc))
        }
        (true, _, Some((_, true))) => Err(blank(&sector)),
        _ if identified && level != Some(0) => Err(locked(level)),
        _ => Err(held_unit::not_ready(&mut run, "test write protection")),
    };
    let (unit, crc_before) = gate.map_err(|e| held_unit::refuse(&mut run, e))?;
    let mut refused = false;
    let lost = what_is_lost(station, &run, &unit, &sector);
    let _ = run.step("erase_protected_sector", |u| {
        erase(u, &sector, &mut refused)
    }) && run.step("check_sector", |u| {
        check(u, &sector, crc_before, refused, &lost)
    });
    let record = (
        RecordKind::Engineering,
        options.operator.as_str(),
        Vec::new(),
    );
    let done = held_unit::finish(station, &mut run, &store, &unit, record, started_at)?;
    Ok(WrpTested { sector, done })
}

/// Over SWD at RDP level 1 no flash read works and every erase is refused: nothing to learn.
fn locked(level: Option<u8>) -> StationError {
    StationError::usage(format!(
        "the unit is at RDP level {}: over SWD its flash cannot be read and every erase is \
         refused whatever the write protection says, so this test cannot tell. Test a unit at \
         RDP level 0 (a profile with rdp = 0 and the same write_protect); nothing was changed",
        level.unwrap_or(1)
    ))
}

fn blank(sector: &Sector) -> StationError {
    StationError::usage(format!(
        "sector {} ({:#010x}) is erased: an erase would leave it as it is, so the test cannot \
         tell. Provision the unit (its bootloader) first; nothing was changed",
        sector.index, sector.address
    ))
}

/// Who the unit is, and its RDP level (whether its flash can be read over SWD at all).
fn identify(u: &mut UnitRun, level: &mut Option<u8>) -> Result<StepOutput, StepError> {
    let id = rma::identify(&mut u.hw, u.profile)?;
    u.device = Some(record::DeviceInfo {
        uid: id.uid_hex(),
        idcode: id.idcode,
        flash_size_kib: id.flash_kib,
    });
    let family = u.profile.family;
    let words = options::read(family, u.hw.debug.as_mut())?;
    let decoded = options::decode(family, &words);
    let mut out = StepOutput::default();
    out.details.insert("uid".into(), id.uid_hex().into());
    out.details.insert("option_bytes".into(), decoded);
    *level = Some(options::summary(family, &words).rdp_level);
    Ok(out)
}

fn crc32(bytes: &[u8]) -> u32 {
    crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC).checksum(bytes)
}

fn read(u: &mut UnitRun, sector: &Sector) -> Result<Vec<u8>, StepError> {
    let mut bytes = vec![0u8; sector.size as usize];
    u.hw.debug.read_bytes(sector.address, &mut bytes)?;
    Ok(bytes)
}

fn sector_details(out: &mut StepOutput, sector: &Sector) {
    out.details.insert("sector".into(), sector.to_json());
}

/// The sector's CRC-32, and whether it is erased (then an erase would change nothing).
fn read_sector(
    u: &mut UnitRun,
    sector: &Sector,
    found: &mut Option<(u32, bool)>,
) -> Result<StepOutput, StepError> {
    let bytes = read(u, sector)?;
    let crc = crc32(&bytes);
    *found = Some((crc, bytes.iter().all(|b| *b == 0xFF)));
    let mut out = StepOutput::default();
    sector_details(&mut out, sector);
    out.details
        .insert("crc32".into(), format!("{crc:#010x}").into());
    Ok(out)
}

fn gate(
    run: &UnitRun,
    store: &RecordStore,
    uid: &str,
    sector: Sector,
    authorise: &mut dyn FnMut(&Gate) -> Option<String>,
) -> Result<UnitRef, StationError> {
    let unit = UnitRef::find(store, uid)?;
    let action = format!(
        "wrp-test tries to ERASE sector {} ({:#010x}, {} KiB) of UID {}; if write protection \
         does not hold, the unit loses what is there (its bootloader)",
        sector.index,
        sector.address,
        sector.size / 1024,
        unit.uid
    );
    Gate { unit, action }.pass(&run.fixture.id, authorise)
}

fn erase(u: &mut UnitRun, sector: &Sector, refused: &mut bool) -> Result<StepOutput, StepError> {
    let clock = u.hw.clock.clone();
    let family = u.profile.family;
    let report = sector_erase::erase(u.hw.debug.as_mut(), clock.as_ref(), family, sector)?;
    *refused = report.write_protection_error;
    let mut out = StepOutput::default();
    sector_details(&mut out, sector);
    out.details.insert("controller".into(), report.to_json());
    Ok(out)
}

/// What a failed test costs the unit, and how to get it back.
fn what_is_lost(station: &Station, run: &UnitRun, unit: &UnitRef, sector: &Sector) -> String {
    let boot = run.profile.memory.bootloader.get_ref();
    let wrp = run
        .steps
        .iter()
        .find(|s| s.name == "identify")
        .and_then(|s| s.details.get("option_bytes"))
        .map_or("?".into(), |ob| ob["write_protected"].to_string());
    let why = format!("(the unit's option bytes write-protect sectors {wrp})");
    if boot.overlaps(sector.address, sector.end()) {
        format!(
            "{why}. The unit has lost (part of) its bootloader: flash it again with `station \
             recover --station {} --fixture {} --yes-i-typed {}`",
            station.source.path.display(),
            run.fixture.id,
            unit.label
        )
    } else {
        format!("{why}. What the sector held is lost")
    }
}

/// The verdict: the sector must read back as it was, and the controller must have said why.
fn check(
    u: &mut UnitRun,
    sector: &Sector,
    crc_before: u32,
    refused: bool,
    lost: &str,
) -> Result<StepOutput, StepError> {
    let crc = crc32(&read(u, sector)?);
    let mut out = StepOutput::default();
    out.details
        .insert("crc32_before".into(), format!("{crc_before:#010x}").into());
    out.details
        .insert("crc32_after".into(), format!("{crc:#010x}").into());
    let unchanged = crc == crc_before;
    out.details.insert("unchanged".into(), unchanged.into());
    match (unchanged, refused) {
        (true, true) => Ok(out),
        (false, _) => Err(StepError::fail(format!(
            "sector {} ({:#010x}) changed (CRC-32 {crc_before:#010x} -> {crc:#010x}) although \
             the profile write-protects it: write protection did not hold {lost}",
            sector.index, sector.address
        ))),
        (true, false) => Err(StepError::error(format!(
            "the erase of sector {} changed nothing, but the controller raised no \
             write-protection error either: the test could not tell (see the controller's \
             flags in the erase step)",
            sector.index
        ))),
    }
}
