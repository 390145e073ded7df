//! The device under test through its fixture's seams, as every command on a held unit needs
//! it: switch it on, attach (under reset if need be), identify it, power-cycle it, say what
//! answers on USB, and turn a hardware error into the exit status a person acts on.

use std::time::Duration;

use super::step::StepError;
use crate::config::{Fixture, Profile};
use crate::error::StationError;
use crate::hw::{AttachMode, FixtureHw, HwError, ResetKind, UsbError, UsbSelector};
use crate::record::Outcome;
use crate::stm32::{self, Identity};

/// A hardware error as the exit status a person acts on: the unit's fault is 1, the station's 3.
pub fn hw_error(e: HwError) -> StationError {
    step_error(StepError::from(e))
}

pub fn step_error(e: StepError) -> StationError {
    match e.outcome {
        Outcome::Fail => StationError::fail(e.message),
        Outcome::Aborted => StationError::aborted(e.message),
        _ => StationError::station(e.message),
    }
}

/// Switch the unit on if the fixture has it off (a power cut left it so). True if it was off.
pub fn ensure_powered(hw: &mut FixtureHw) -> Result<bool, HwError> {
    match hw.power.as_mut() {
        Some(power) if !power.is_on() => {
            power.set_power(true)?;
            hw.clock.sleep(Duration::from_millis(50));
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Attach without disturbing the unit; under reset when that fails (firmware that turns the
/// debug pins off or sleeps deeply only lets a debugger in while NRST is held).
pub fn attach_any(hw: &mut FixtureHw) -> Result<(), HwError> {
    match hw.debug.attach(AttachMode::Normal) {
        Ok(()) => Ok(()),
        Err(HwError::NotFound(m)) => Err(HwError::NotFound(m)),
        Err(_) => attach_under_reset(hw),
    }
}

/// Attach holding NRST; a silent target may be a part locked at RDP level 2 (one that
/// answers but never stops under reset is not).
pub fn attach_under_reset(hw: &mut FixtureHw) -> Result<(), HwError> {
    hw.debug
        .attach(AttachMode::UnderReset)
        .map_err(|e| match e {
            HwError::NoResponse(m) if !m.contains("under reset") => HwError::NoResponse(format!(
                "{m} (even under reset; a part at RDP level 2 never answers again and cannot be recovered)"
            )),
            other => other,
        })
}

/// Read and check the part's identity registers.
pub fn identify(hw: &mut FixtureHw, profile: &Profile) -> Result<Identity, StepError> {
    stm32::read_identity(hw.debug.as_mut(), profile.family).map_err(|e| match e {
        stm32::IdentityError::Hw(h) => StepError::from(h),
        wrong => StepError::fail(wrong.to_string()),
    })
}

/// Power the unit off and on (a reset through the debugger where the fixture has no switch).
/// Ends the debug session, so RDP level 1 no longer holds the flash against a new one.
pub fn power_cycle(hw: &mut FixtureHw) -> Result<(), HwError> {
    match hw.power.as_mut() {
        Some(power) => {
            hw.debug.detach();
            power.set_power(false)?;
            hw.clock.sleep(Duration::from_millis(200));
            power.set_power(true)?;
            hw.clock.sleep(Duration::from_millis(50));
        }
        None => {
            hw.debug.reset(ResetKind::Run)?;
            hw.debug.detach();
        }
    }
    Ok(())
}

/// What answers on USB now, in plain words (application, bootloader, ST ROM or nothing).
pub fn usb_now(hw: &FixtureHw, fixture: &Fixture) -> String {
    let modes = [
        (fixture.usb_application, "application"),
        (fixture.usb_bootloader, "bootloader in DFU mode"),
        (fixture.usb_rom, "ST system bootloader (DFU)"),
    ];
    let mut problem = None;
    for ((vid, pid), what) in modes {
        let selector = UsbSelector {
            vid,
            pid,
            serial: None,
            port_path: fixture.usb_port.clone(),
        };
        match hw.usb.open(&selector) {
            Ok(mut pipe) => {
                let product = crate::dfu::host::read_device_descriptor(pipe.as_mut())
                    .ok()
                    .and_then(|d| {
                        crate::dfu::host::read_string(pipe.as_mut(), d.product_index).ok()
                    })
                    .flatten()
                    .map(|p| format!(" \"{p}\""))
                    .unwrap_or_default();
                return format!("{what} {vid:04x}:{pid:04x}{product}");
            }
            Err(UsbError::NotFound(_) | UsbError::NoDevice) => {}
            Err(e) => problem = Some(e),
        }
    }
    match problem {
        Some(e) => format!("unknown (USB: {e})"),
        None => "nothing (no application, bootloader or ST ROM enumerates)".into(),
    }
}
