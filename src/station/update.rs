//! Updating a unit over DFU: find it in DFU mode (entering it from the application, or by the
//! BOOT0 strap where the fixture has one), plan, download, verify, leave. Shared by the
//! provisioning run, `station dfu` and the torture campaign, which can stop it at any
//! operation.

use std::time::Duration;

use super::events::{Event, EventSink};
use super::step::StepError;
use crate::config::{DfuMode, EraseStrategy, Fixture};
use crate::dfu::{self, DfuDevice, Download, Finish, Op};
use crate::hw::FixtureHw;
use crate::hw::{
    Clock, ControlSetup, REQ_TYPE_CLASS_OUT, Segment, UsbBus, UsbControl, UsbSelector,
};

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

/// Runtime DFU: DETACH, then a bus reset restarts the unit into DFU mode (DFU 1.1, 5.1).
fn detach(bus: &dyn UsbBus, fixture: &Fixture, clock: &dyn Clock) -> Result<(), StepError> {
    let mut app = wait_for_device(
        bus,
        &selector(fixture, fixture.usb_application),
        clock,
        ENUMERATION_DEADLINE,
    )?;
    let setup = ControlSetup {
        request_type: REQ_TYPE_CLASS_OUT,
        request: dfu::proto::DETACH,
        value: 1000,
        index: 0,
    };
    app.control_out(setup, &[], dfu::host::TRANSFER_TIMEOUT)
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

/// Download `segments` over DFU with the given settings.
pub fn update(
    hw: &mut FixtureHw,
    fixture: &Fixture,
    segments: &[Segment],
    settings: &UpdateSettings,
    sink: &dyn EventSink,
    unit: u64,
    step: &str,
) -> Result<UpdateReport, StepError> {
    let target = [(settings.alt, segments)];
    update_targets(hw, fixture, &target, settings, sink, unit, step)
}

/// Download several targets in one DFU session, each through its own alternate setting (a
/// multi-target .dfu file: internal flash on alt 0, an external QSPI flash on alt 1), and
/// leave DFU after the last. A stop point applies to a single target only.
pub fn update_targets(
    hw: &mut FixtureHw,
    fixture: &Fixture,
    targets: &[(u8, &[Segment])],
    settings: &UpdateSettings,
    sink: &dyn EventSink,
    unit: u64,
    step: &str,
) -> Result<UpdateReport, StepError> {
    let (mut pipe, rom, strapped) = open_dfu(hw, fixture)?;
    let mut result = Ok(UpdateReport::default());
    let (mut blocks, mut polls) = (0.0, 0.0);
    for (i, (alt, segments)) in targets.iter().enumerate() {
        let mut one = settings.clone();
        one.alt = *alt;
        one.leave = settings.leave && i + 1 == targets.len();
        if targets.len() > 1 {
            one.stop = None;
        }
        let part = download(hw, fixture, pipe.as_mut(), &one, segments, sink, unit, step);
        result = match (result, part) {
            (Ok(mut total), Ok(r)) => {
                let n = r.bytes as f64 / r.transfer_size.max(1) as f64;
                blocks += n;
                polls += n * r.polls_per_block;
                total.transfer_size = r.transfer_size;
                total.bytes += r.bytes;
                total.requests += r.requests;
                total.verified = r.verified && (i == 0 || total.verified);
                total.ops.extend(r.ops);
                total.stopped_at = r.stopped_at;
                Ok(total)
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        };
        if result.as_ref().map_or(true, |r| r.stopped_at.is_some()) {
            break;
        }
    }
    if let Ok(r) = result.as_mut()
        && blocks > 0.0
    {
        r.polls_per_block = polls / blocks;
    }
    if strapped && let Some(lines) = hw.lines.as_mut() {
        // Release the strap so the next reset boots from flash.
        lines.set_boot0(false)?;
    }
    let mut report = result?;
    report.rom = rom;
    report.strapped = strapped;
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
fn download(
    hw: &FixtureHw,
    fixture: &Fixture,
    pipe: &mut dyn UsbControl,
    settings: &UpdateSettings,
    segments: &[Segment],
    sink: &dyn EventSink,
    unit: u64,
    step: &str,
) -> Result<UpdateReport, StepError> {
    let device =
        DfuDevice::open(pipe, settings.alt).map_err(|e| StepError::fail(format!("DFU: {e}")))?;
    let map = device
        .memory_map(settings.alt)
        .map_err(|e| StepError::fail(format!("DFU: {e}")))?;
    let transfer = device.functional.transfer_size;
    let mut ops = dfu::plan_download(segments, &map, transfer, settings.erase, false)
        .map_err(|e| StepError::fail(format!("DFU plan: {e}")))?;
    // Option bytes: the ROM resets to apply them, so there is nothing to verify or leave.
    let options = dfu::plan::is_option_bytes(&map);
    let settings = &UpdateSettings {
        leave: settings.leave && !options,
        verify: settings.verify && !options,
        ..settings.clone()
    };
    if settings.leave {
        ops.push(Op::Leave);
    }
    let clock = hw.clock.as_ref();
    let mut report = UpdateReport {
        transfer_size: transfer,
        ops: ops.clone(),
        ..Default::default()
    };
    let body_len = if settings.leave {
        ops.len() - 1
    } else {
        ops.len()
    };
    let mut engine = Download::new(
        ops[..body_len].to_vec(),
        settings.mode,
        device.interface.number,
    );
    if let Some((k, _)) = settings.stop {
        engine = engine.stop_before(k);
    }
    let mut progress = |done, total| {
        sink.emit(Event::Progress {
            fixture: fixture.id.clone(),
            unit,
            step: step.into(),
            phase: "program".into(),
            done,
            total,
        });
    };
    let finish = dfu::execute(&mut engine, pipe, clock, &mut progress)
        .map_err(|e| StepError::fail(format!("DFU download: {e}")))?;
    let stats = engine.stats.clone();
    report.bytes = stats.bytes_written;
    report.requests = stats.requests;
    report.polls_per_block = if stats.blocks > 0 {
        stats.polls as f64 / stats.blocks as f64
    } else {
        0.0
    };
    let stop_here = match (finish, settings.stop) {
        (Finish::Stopped { at }, Some((_, how))) => Some((at, how)),
        (Finish::Completed, Some((k, how))) if k >= body_len => Some((k, how)),
        _ => None,
    };
    if let Some((at, how)) = stop_here {
        report.stopped_at = Some(at);
        interrupt(pipe, how, device.interface.number);
        return Ok(report);
    }
    if settings.verify {
        let v = dfu::verify(pipe, clock, &device, segments)
            .map_err(|e| StepError::fail(format!("DFU verify: {e}")))?;
        if let Some(m) = v.first_mismatch {
            return Err(StepError::fail(format!(
                "DFU verify: {} bytes differ, the first at {:#010x} (expected {:#04x}, found {:#04x})",
                v.differing_bytes, m.address, m.expected, m.found
            )));
        }
        report.verified = true;
    }
    if settings.leave {
        let mut leave = Download::new(vec![Op::Leave], settings.mode, device.interface.number);
        dfu::execute(&mut leave, pipe, clock, &mut |_, _| {})
            .map_err(|e| StepError::fail(format!("leaving DFU: {e}")))?;
    }
    Ok(report)
}

/// Cut a download short the way the torture campaign asks. Errors are the point here: the
/// unit may already be gone.
fn interrupt(pipe: &mut dyn UsbControl, how: Interrupt, interface: u8) {
    match how {
        Interrupt::HostAbort => {}
        Interrupt::DfuAbort => {
            let setup = ControlSetup {
                request_type: REQ_TYPE_CLASS_OUT,
                request: dfu::proto::ABORT,
                value: 0,
                index: interface as u16,
            };
            let _ = pipe.control_out(setup, &[], dfu::host::TRANSFER_TIMEOUT);
        }
        Interrupt::UsbReset => {
            let _ = pipe.reset();
        }
    }
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
