//! Updating a unit over DFU, what every command shares: its settings and report, and finding
//! the unit in DFU mode (entering it from the application, through its console, or by the
//! BOOT0 strap where the fixture has one). The update itself runs in one
//! [`super::dfu_session::DfuSession`] (`dfu_session::update`).

use std::time::Duration;

use super::step::StepError;
use crate::config::{DfuMode, EraseStrategy, Fixture};
use crate::dfu::{self, Op};
use crate::hw::{Clock, FixtureHw, UsbBus, UsbControl, UsbSelector};

/// How long a unit may take to (re-)enumerate.
pub const ENUMERATION_DEADLINE: Duration = Duration::from_secs(5);

/// What to do to the unit when the download stops early.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    /// The host simply stops sending.
    HostAbort,
    /// DFU_ABORT, back to dfuIDLE.
    DfuAbort,
    /// A USB bus reset (what a loose cable does).
    UsbReset,
}

#[derive(Clone, Debug)]
pub struct UpdateSettings {
    pub alt: u8,
    pub mode: DfuMode,
    pub erase: EraseStrategy,
    /// Read back and compare before leaving DFU.
    pub verify: bool,
    /// Leave DFU at the end, starting the new code.
    pub leave: bool,
    /// Stop before this operation of the plan (the leave counts as the last one).
    pub stop: Option<(usize, Interrupt)>,
}

impl UpdateSettings {
    pub fn new(alt: u8, mode: DfuMode, erase: EraseStrategy) -> Self {
        Self {
            alt,
            mode,
            erase,
            verify: false,
            leave: true,
            stop: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct UpdateReport {
    pub transfer_size: u16,
    pub bytes: u64,
    pub requests: u64,
    pub polls_per_block: f64,
    pub verified: bool,
    /// Went through the ST system bootloader.
    pub rom: bool,
    /// Needed the BOOT0 strap to get in.
    pub strapped: bool,
    /// The plan that ran (or would have run to the end).
    pub ops: Vec<Op>,
    pub stopped_at: Option<usize>,
}

fn selector(fixture: &Fixture, ids: (u16, u16)) -> UsbSelector {
    UsbSelector {
        vid: ids.0,
        pid: ids.1,
        serial: None,
        port_path: fixture.usb_port.clone(),
    }
}

fn find_dfu(bus: &dyn UsbBus, fixture: &Fixture) -> Option<(Box<dyn UsbControl>, bool)> {
    [(fixture.usb_bootloader, false), (fixture.usb_rom, true)]
        .into_iter()
        .find_map(|(ids, rom)| bus.open(&selector(fixture, ids)).ok().map(|p| (p, rom)))
}

fn wait_dfu(
    bus: &dyn UsbBus,
    fixture: &Fixture,
    clock: &dyn Clock,
) -> Option<(Box<dyn UsbControl>, bool)> {
    let start = clock.now();
    loop {
        if let Some(found) = find_dfu(bus, fixture) {
            return Some(found);
        }
        if clock.now().saturating_sub(start) >= ENUMERATION_DEADLINE {
            return None;
        }
        clock.sleep(Duration::from_millis(100));
    }
}

/// The application's run-time DFU interface, and how long it waits for the bus reset after
/// DETACH.
const RUNTIME_INTERFACE: u8 = 0;
const DETACH_TIMEOUT_MS: u16 = 1000;

/// Runtime DFU: DETACH, then a bus reset restarts the unit into DFU mode (DFU 1.1, 5.1).
fn detach(bus: &dyn UsbBus, fixture: &Fixture, clock: &dyn Clock) -> Result<(), StepError> {
    let mut app = wait_for_device(
        bus,
        &selector(fixture, fixture.usb_application),
        clock,
        ENUMERATION_DEADLINE,
    )?;
    dfu::host::detach(app.as_mut(), RUNTIME_INTERFACE, DETACH_TIMEOUT_MS)
        .map_err(|e| StepError::fail(format!("the application refused DFU DETACH: {e}")))?;
    app.reset()
        .map_err(|e| StepError::fail(format!("USB reset after DETACH: {e}")))
}

/// A pipe to the unit in DFU mode, and whether it is the ROM and whether the strap was used.
pub fn open_dfu(
    hw: &mut FixtureHw,
    fixture: &Fixture,
) -> Result<(Box<dyn UsbControl>, bool, bool), StepError> {
    let clock = hw.clock.clone();
    // Give a unit that is still enumerating its deadline: in DFU mode, or its application.
    let start = clock.now();
    loop {
        if let Some((pipe, rom)) = find_dfu(hw.usb.as_ref(), fixture) {
            return Ok((pipe, rom, false));
        }
        let app = selector(fixture, fixture.usb_application);
        if hw.usb.open(&app).is_ok() || clock.now().saturating_sub(start) >= ENUMERATION_DEADLINE {
            break;
        }
        clock.sleep(Duration::from_millis(100));
    }
    let detached = detach(hw.usb.as_ref(), fixture, clock.as_ref());
    if detached.is_ok()
        && let Some((pipe, rom)) = wait_dfu(hw.usb.as_ref(), fixture, clock.as_ref())
    {
        return Ok((pipe, rom, false));
    }
    // The field products' way in: the enter-DFU command on the application's console.
    if let Some(console) = hw.console.as_deref()
        && super::console::ask(console, console.dfu_command(), Duration::from_secs(1))
            .is_ok_and(|r| !r.starts_with("error"))
        && let Some((pipe, rom)) = wait_dfu(hw.usb.as_ref(), fixture, clock.as_ref())
    {
        return Ok((pipe, rom, false));
    }
    // Last resort: the BOOT0 strap and a reset bring up the ST system bootloader.
    if let Some(lines) = hw.lines.as_mut() {
        lines.set_boot0(true)?;
        lines.set_nrst(true)?;
        clock.sleep(Duration::from_millis(10));
        lines.set_nrst(false)?;
        if let Some((pipe, rom)) = wait_dfu(hw.usb.as_ref(), fixture, clock.as_ref()) {
            return Ok((pipe, rom, true));
        }
        lines.set_boot0(false)?;
    }
    Err(match detached {
        Err(e) => StepError::fail(format!(
            "the unit is not in DFU mode and cannot be put there: {}",
            e.message
        )),
        Ok(()) => StepError::fail(format!(
            "the unit did not enumerate in DFU mode within {ENUMERATION_DEADLINE:?} after DETACH: check the USB cable, then retest"
        )),
    })
}

/// Poll the bus for a device until `deadline` passes on the fixture's clock.
pub fn wait_for_device(
    bus: &dyn UsbBus,
    selector: &UsbSelector,
    clock: &dyn Clock,
    deadline: Duration,
) -> Result<Box<dyn UsbControl>, StepError> {
    let start = clock.now();
    loop {
        match bus.open(selector) {
            Ok(pipe) => return Ok(pipe),
            Err(crate::hw::UsbError::NotFound(_)) | Err(crate::hw::UsbError::NoDevice) => {}
            Err(e) => return Err(StepError::error(e.to_string())),
        }
        if clock.now().saturating_sub(start) >= deadline {
            return Err(StepError::fail(format!(
                "USB device {selector} did not enumerate within {deadline:?}: check the USB cable, then retest"
            )));
        }
        clock.sleep(Duration::from_millis(100));
    }
}
