//! `station inspect`: what a returned unit is and holds, over SWD (registers always, the flash
//! at RDP level 0) or over DfuSe uploads (as far as the bootloader or the ST ROM allows).

use std::time::Duration;

use serde::Serialize;

use super::analyse::{self, FlashView, Match};
use crate::config::{Fixture, Station};
use crate::dfu::{self, DfuDevice, DfuError, Download, Op};
use crate::error::StationError;
use crate::hw::FixtureHw;
use crate::hw::UsbControl;
use crate::image::Image;
use crate::record::RecordStore;
use crate::station::dut::{attach_any, hw_error, step_error, usb_now};
use crate::station::held_unit::UnitRef;
use crate::station::update;
use crate::stm32::options::{self, OptionWords};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    Swd,
    Dfu,
}

#[derive(Clone, Debug, Serialize)]
pub struct IdentityView {
    pub uid: String,
    pub idcode: String,
    pub dev_id: String,
    pub flash_size_kib: u32,
}

#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    pub fixture: String,
    pub via: Via,
    /// None over DFU: no DfuSe alt setting reaches the identity registers.
    pub identity: Option<IdentityView>,
    /// What to type to authorise `station recover` on this unit.
    pub label: Option<String>,
    pub last_production_record: Option<String>,
    /// What answered on USB before the inspection.
    pub usb_now: String,
    pub rdp_level: Option<u8>,
    /// The family's decoded option bytes (`stm32::options::decode`), with the raw words.
    pub option_bytes: Option<serde_json::Value>,
    pub flash_readable: bool,
    /// Plain-words findings: protection, mismatches, what to do next.
    pub notes: Vec<String>,
    #[serde(flatten)]
    pub flash: FlashView,
}

/// DFU bStatus errVENDOR: what ST's bootloaders answer under read protection.
const ERR_VENDOR: u8 = 0x0B;

// Notes name the work (an inspection over DFU, a recovery), never a front end's flag or key:
// the CLI and the TUI show them as they are.
const RDP1_SWD: &str = "RDP level 1: the flash cannot be read over SWD (the part refuses \
    debugger reads while a debugger is connected); the registers above still answer. An \
    inspection over DFU reads what the unit's bootloader allows; a recovery regresses RDP, \
    which erases the flash";

/// Inspect the unit on `fixture` now. The caller saves `hw` afterwards.
pub fn inspect(
    station: &Station,
    fixture: &Fixture,
    hw: &mut FixtureHw,
    via: Via,
) -> Result<Inspection, StationError> {
    let profile = station.profile_of(fixture);
    let image = crate::station::images::pinned_bootloader(profile)?;
    let switched_on = crate::station::dut::ensure_powered(hw).map_err(hw_error)?;
    let usb = usb_now(hw, fixture);
    let mut inspection = match via {
        Via::Swd => swd(station, fixture, hw, &image)?,
        Via::Dfu => self::dfu(station, fixture, hw, &image, &usb)?,
    };
    inspection.usb_now = usb;
    if switched_on {
        inspection
            .notes
            .insert(0, "the unit was off: the fixture switched it on".into());
    }
    if let Some(id) = &inspection.identity {
        let store = RecordStore::open(&station.records_dir)
            .map_err(|e| StationError::station(e.to_string()))?;
        let unit = UnitRef::find(&store, &id.uid)?;
        inspection.last_production_record = unit.production.map(|r| r.record_id);
        inspection.label = Some(unit.label);
    }
    if inspection.flash.bootloader.status == Match::Differs {
        inspection.notes.push(
            "the bootloader region does not match the profile's image: `station recover` flashes it again"
                .into(),
        );
    }
    Ok(inspection)
}

fn empty(fixture: &Fixture, via: Via, flash: FlashView) -> Inspection {
    Inspection {
        fixture: fixture.id.clone(),
        via,
        identity: None,
        label: None,
        last_production_record: None,
        usb_now: String::new(),
        rdp_level: None,
        option_bytes: None,
        flash_readable: false,
        notes: Vec::new(),
        flash,
    }
}

fn swd(
    station: &Station,
    fixture: &Fixture,
    hw: &mut FixtureHw,
    image: &Image,
) -> Result<Inspection, StationError> {
    attach_any(hw).map_err(hw_error)?;
    let result = swd_attached(station, fixture, hw, image);
    hw.debug.detach();
    result
}

fn swd_attached(
    station: &Station,
    fixture: &Fixture,
    hw: &mut FixtureHw,
    image: &Image,
) -> Result<Inspection, StationError> {
    let profile = station.profile_of(fixture);
    let id = crate::station::dut::identify(hw, profile).map_err(step_error)?;
    let words = options::read(profile.family, hw.debug.as_mut()).map_err(hw_error)?;
    let rdp = options::summary(profile.family, &words).rdp_level;
    let mut notes = Vec::new();
    let expected_kib = profile.memory.flash.size / 1024;
    if id.flash_kib != expected_kib {
        notes.push(format!(
            "the part reports {} KiB of flash, the profile expects {expected_kib} KiB",
            id.flash_kib
        ));
    }
    let flash = if rdp >= 1 {
        notes.push(RDP1_SWD.into());
        analyse::unreadable(
            profile,
            image,
            "RDP level 1 blocks debugger reads of the flash",
        )
    } else {
        let mut read = |address: u32, len: u32| {
            let mut buf = vec![0u8; len as usize];
            hw.debug
                .read_bytes(address, &mut buf)
                .map(|()| buf)
                .map_err(|e| e.to_string())
        };
        analyse::analyse(profile, image, &mut read)
    };
    let mut inspection = empty(fixture, Via::Swd, flash);
    inspection.identity = Some(IdentityView {
        uid: id.uid_hex(),
        idcode: format!("{:#010x}", id.idcode),
        dev_id: format!("{:#05x}", id.dev_id()),
        flash_size_kib: id.flash_kib,
    });
    inspection.rdp_level = Some(rdp);
    inspection.option_bytes = Some(options::decode(profile.family, &words));
    inspection.flash_readable = rdp == 0;
    inspection.notes = notes;
    Ok(inspection)
}

fn dfu(
    station: &Station,
    fixture: &Fixture,
    hw: &mut FixtureHw,
    image: &Image,
    usb_before: &str,
) -> Result<Inspection, StationError> {
    let (mut pipe, rom, strapped) = update::open_dfu(hw, fixture).map_err(step_error)?;
    let clock = hw.clock.clone();
    let result = dfu_read(station, fixture, pipe.as_mut(), clock.as_ref(), image, rom);
    // Leave the unit as it was found: off the strap, or back in its application.
    if strapped && let Some(lines) = hw.lines.as_mut() {
        let _ = lines.set_boot0(false);
        let _ = lines.set_nrst(true);
        clock.sleep(Duration::from_millis(10));
        let _ = lines.set_nrst(false);
    } else if usb_before.starts_with("application") {
        let mode = station.profile_of(fixture).dfu.mode;
        let interface = result.as_ref().map_or(0, |r| r.1);
        let mut leave = Download::new(vec![Op::Leave], mode, interface);
        let _ = dfu::execute(&mut leave, pipe.as_mut(), clock.as_ref(), &mut |_, _| {});
    }
    result.map(|(inspection, _)| inspection)
}

/// An upload error in plain words; errVENDOR is how DfuSe says "read protected".
fn read_error(e: &DfuError, rom: bool) -> (String, bool) {
    match e {
        DfuError::Device { status, .. } if status.status == ERR_VENDOR => (
            format!(
                "the {} refuses the read with errVENDOR (read protection: RDP level 1)",
                if rom {
                    "ST system bootloader"
                } else {
                    "bootloader"
                }
            ),
            true,
        ),
        other => (other.to_string(), false),
    }
}

fn dfu_read(
    station: &Station,
    fixture: &Fixture,
    pipe: &mut dyn UsbControl,
    clock: &dyn crate::hw::Clock,
    image: &Image,
    rom: bool,
) -> Result<(Inspection, u8), StationError> {
    let profile = station.profile_of(fixture);
    let fail = |e: DfuError| StationError::fail(format!("DFU: {e}"));
    let device = DfuDevice::open(pipe, profile.dfu.alt).map_err(fail)?;
    let (interface, size) = (device.interface.number, device.functional.transfer_size);
    let mut refused: Option<String> = None;
    let mut read = |address: u32, len: u32| {
        if let Some(why) = &refused {
            return Err(why.clone());
        }
        dfu::upload(pipe, clock, interface, size, address, len, &mut |_, _| {}).map_err(|e| {
            let (why, vendor) = read_error(&e, rom);
            if vendor {
                refused = Some(why.clone());
            }
            why
        })
    };
    let flash = analyse::analyse(profile, image, &mut read);
    let mut inspection = empty(fixture, Via::Dfu, flash);
    inspection.flash_readable = inspection.flash.bootloader.status != Match::Unreadable;
    let who = if rom {
        "the ST system bootloader"
    } else {
        "the unit's own bootloader"
    };
    inspection.notes.push(format!(
        "read through {who}; UID, IDCODE and flash size are not reachable over DFU (an \
         inspection over SWD reads them)"
    ));
    if let Some(why) = refused {
        inspection.rdp_level = Some(1);
        inspection.notes.push(format!(
            "{why}: nothing in the flash can be read over DFU; a recovery regresses RDP over SWD \
             (erasing the flash)"
        ));
    } else if rom && profile.family != crate::chip::Family::F4 {
        inspection.notes.push(
            "option bytes: the ROM's option-byte alt setting is read on F4 parts only so far; an \
             inspection over SWD reads them"
                .into(),
        );
    } else if rom {
        match option_bytes(pipe, clock, &device) {
            Ok(words) => {
                let family = profile.family;
                inspection.rdp_level = Some(options::summary(family, &words).rdp_level);
                inspection.option_bytes = Some(options::decode(family, &words));
            }
            Err(why) => inspection
                .notes
                .push(format!("option bytes: unreadable over DFU: {why}")),
        }
    } else {
        inspection.notes.push(
            "option bytes: this bootloader has no option-byte alt setting (a bootloader runs from \
             flash and reads it at RDP level 0 or 1; an inspection over SWD reads RDP)"
                .into(),
        );
    }
    Ok((inspection, interface))
}

/// The ST ROM's option-byte alt setting: 16 bytes at 0x1FFF_C000, laid out as RM0090's option
/// byte organisation (USER and RDP in the first half-word, nWRP at offset 8). F4 only: the
/// other families' ROM option-byte alts are not modelled.
fn option_bytes(
    pipe: &mut dyn UsbControl,
    clock: &dyn crate::hw::Clock,
    device: &DfuDevice,
) -> Result<OptionWords, String> {
    let alt = device
        .alt_names
        .iter()
        .position(|n| n.contains("Option Bytes"))
        .ok_or("the device has no option-byte alt setting")? as u8;
    let ob = DfuDevice::open(pipe, alt).map_err(|e| e.to_string())?;
    let start = ob
        .memory_map(alt)
        .map_err(|e| e.to_string())?
        .sectors
        .first()
        .map(|s| s.start)
        .ok_or("the option-byte alt setting maps no memory")?;
    let size = ob.functional.transfer_size;
    let bytes = dfu::upload(
        pipe,
        clock,
        ob.interface.number,
        size,
        start,
        16,
        &mut |_, _| {},
    )
    .map_err(|e| read_error(&e, true).0)?;
    let user_rdp = u32::from(u16::from_le_bytes([bytes[0], bytes[1]]));
    let nwrp = u32::from(u16::from_le_bytes([bytes[8], bytes[9]])) & 0xFFF;
    Ok(OptionWords(vec![("OPTCR", user_rdp | (nwrp << 16))]))
}
