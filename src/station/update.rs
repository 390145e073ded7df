//! Updating a unit over DFU: find it in DFU mode (entering it from the application when
//! needed), plan, download, verify, leave. Shared by the provisioning run and `station dfu`.

use std::time::Duration;

use super::events::{Event, EventSink};
use super::unit::{StepError, wait_for_device};
use crate::backend::FixtureHw;
use crate::config::{DfuMode, EraseStrategy, Fixture};
use crate::dfu::{self, DfuDevice, Download, Finish, Op};
use crate::hw::{ControlSetup, REQ_TYPE_CLASS_OUT, Segment, UsbControl, UsbSelector};

/// How long a unit may take to (re-)enumerate.
pub const ENUMERATION_DEADLINE: Duration = Duration::from_secs(5);

pub struct UpdateSettings {
    pub alt: u8,
    pub mode: DfuMode,
    pub erase: EraseStrategy,
    /// Read back and compare before leaving DFU.
    pub verify: bool,
    /// Leave DFU at the end, starting the new code.
    pub leave: bool,
}

#[derive(Debug, Default)]
pub struct UpdateReport {
    pub transfer_size: u16,
    pub bytes: u64,
    pub requests: u64,
    pub polls_per_block: f64,
    pub verified: bool,
    pub rom: bool,
}

fn selector(fixture: &Fixture, ids: (u16, u16)) -> UsbSelector {
    UsbSelector {
        vid: ids.0,
        pid: ids.1,
        serial: None,
        port_path: fixture.usb_port.clone(),
    }
}

/// A pipe to the unit in DFU mode: its custom bootloader or the ST ROM, or its application
/// asked to detach into DFU first.
pub fn open_dfu(
    hw: &FixtureHw,
    fixture: &Fixture,
) -> Result<(Box<dyn UsbControl>, bool), StepError> {
    let bus = hw.usb.as_ref();
    let clock = hw.clock.as_ref();
    for (ids, rom) in [(fixture.usb_bootloader, false), (fixture.usb_rom, true)] {
        if let Ok(pipe) = bus.open(&selector(fixture, ids)) {
            return Ok((pipe, rom));
        }
    }
    let mut app = wait_for_device(
        bus,
        &selector(fixture, fixture.usb_application),
        clock,
        ENUMERATION_DEADLINE,
    )
    .map_err(|e| {
        StepError::fail(format!(
            "the unit is neither in DFU mode nor running its application: {}",
            e.message
        ))
    })?;
    // Runtime DFU: DETACH, then a bus reset restarts the unit into DFU mode (DFU 1.1, 5.1).
    let detach = ControlSetup {
        request_type: REQ_TYPE_CLASS_OUT,
        request: dfu::proto::DETACH,
        value: 1000,
        index: 0,
    };
    app.control_out(detach, &[], dfu::host::TRANSFER_TIMEOUT)
        .map_err(|e| StepError::fail(format!("the application refused DFU DETACH: {e}")))?;
    app.reset()
        .map_err(|e| StepError::fail(format!("USB reset after DETACH: {e}")))?;
    drop(app);
    let start = clock.now();
    loop {
        for (ids, rom) in [(fixture.usb_bootloader, false), (fixture.usb_rom, true)] {
            if let Ok(pipe) = bus.open(&selector(fixture, ids)) {
                return Ok((pipe, rom));
            }
        }
        if clock.now().saturating_sub(start) >= ENUMERATION_DEADLINE {
            return Err(StepError::fail(format!(
                "the unit did not enumerate in DFU mode within {ENUMERATION_DEADLINE:?} after DETACH: check the USB cable, then retest"
            )));
        }
        clock.sleep(Duration::from_millis(100));
    }
}

/// Download `segments` over DFU with the given settings.
pub fn update(
    hw: &FixtureHw,
    fixture: &Fixture,
    segments: &[Segment],
    settings: &UpdateSettings,
    sink: &dyn EventSink,
    unit: u64,
    step: &str,
) -> Result<UpdateReport, StepError> {
    let (mut pipe, rom) = open_dfu(hw, fixture)?;
    let device = DfuDevice::open(pipe.as_mut(), settings.alt)
        .map_err(|e| StepError::fail(format!("DFU: {e}")))?;
    let map = device
        .memory_map(settings.alt)
        .map_err(|e| StepError::fail(format!("DFU: {e}")))?;
    let transfer = device.functional.transfer_size;
    let ops = dfu::plan_download(segments, &map, transfer, settings.erase, false)
        .map_err(|e| StepError::fail(format!("DFU plan: {e}")))?;
    let clock = hw.clock.as_ref();
    let mut engine = Download::new(ops, settings.mode, device.interface.number);
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
    dfu::execute(&mut engine, pipe.as_mut(), clock, &mut progress)
        .map_err(|e| StepError::fail(format!("DFU download: {e}")))?;
    let stats = engine.stats.clone();
    let mut report = UpdateReport {
        transfer_size: transfer,
        bytes: stats.bytes_written,
        requests: stats.requests,
        polls_per_block: if stats.blocks > 0 {
            stats.polls as f64 / stats.blocks as f64
        } else {
            0.0
        },
        verified: false,
        rom,
    };
    if settings.verify {
        let v = dfu::verify(pipe.as_mut(), clock, &device, segments)
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
        match dfu::execute(&mut leave, pipe.as_mut(), clock, &mut |_, _| {}) {
            Ok(Finish::Completed | Finish::Stopped { .. }) => {}
            Err(e) => return Err(StepError::fail(format!("leaving DFU: {e}"))),
        }
    }
    Ok(report)
}
