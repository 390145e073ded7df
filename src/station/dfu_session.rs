//! One DFU session: the unit found in (or put into) DFU mode once, and every operation a
//! command asks for (download, upload, verify, mass erase, read unprotect, option bytes,
//! leave) run on that one pipe. Entering DFU mode costs a DETACH and a re-enumeration, or the
//! BOOT0 strap and a reset, so it happens once per command, not once per operation.

use super::events::{Event, EventSink};
use super::step::StepError;
use super::update::{self, Interrupt, UpdateReport, UpdateSettings};
use crate::config::{DfuMode, Fixture};
use crate::dfu::{self, DfuDevice, Download, Finish, Op, VerifyReport};
use crate::hw::{FixtureHw, Segment, UsbControl};

/// The unit in DFU mode, over one pipe.
pub struct DfuSession<'a> {
    hw: &'a mut FixtureHw,
    fixture: &'a Fixture,
    pipe: Box<dyn UsbControl>,
    /// Through the ST system bootloader.
    pub rom: bool,
    /// Only the BOOT0 strap got the unit in.
    pub strapped: bool,
}

impl<'a> DfuSession<'a> {
    /// Find the unit in DFU mode, or put it there ([`update::open_dfu`]).
    pub fn open(hw: &'a mut FixtureHw, fixture: &'a Fixture) -> Result<Self, StepError> {
        let (pipe, rom, strapped) = update::open_dfu(hw, fixture)?;
        Ok(Self {
            hw,
            fixture,
            pipe,
            rom,
            strapped,
        })
    }

    /// The unit's USB serial, as `dfu list` shows it (empty when it has none).
    pub fn serial(&self) -> String {
        self.pipe.info().serial.unwrap_or_default()
    }

    /// The DFU interface, described, with `alt` selected.
    pub fn device(&mut self, alt: u8) -> Result<DfuDevice, StepError> {
        DfuDevice::open(self.pipe.as_mut(), alt).map_err(|e| StepError::fail(e.to_string()))
    }

    /// Whether `alt` maps the unit's option bytes.
    pub fn maps_option_bytes(&mut self, alt: u8) -> Result<bool, StepError> {
        let device = self.device(alt)?;
        Ok(device
            .memory_map(alt)
            .is_ok_and(|m| dfu::plan::is_option_bytes(&m)))
    }

    /// Release the BOOT0 strap if this session set it, so the next reset boots from flash.
    pub fn release_strap(&mut self) -> Result<(), StepError> {
        if self.strapped
            && let Some(lines) = self.hw.lines.as_mut()
        {
            lines.set_boot0(false)?;
        }
        Ok(())
    }

    /// Download several targets, each through its own alternate setting (a multi-target .dfu
    /// file: internal flash on alt 0, an external QSPI flash on alt 1), and leave DFU after
    /// the last. A stop point applies to a single target only.
    pub fn download(
        &mut self,
        targets: &[(u8, &[Segment])],
        settings: &UpdateSettings,
        sink: &dyn EventSink,
        unit: u64,
        step: &str,
    ) -> Result<UpdateReport, StepError> {
        let mut result = Ok(UpdateReport::default());
        let (mut blocks, mut polls) = (0.0, 0.0);
        for (i, (alt, segments)) in targets.iter().enumerate() {
            let mut one = settings.clone();
            one.alt = *alt;
            one.leave = settings.leave && i + 1 == targets.len();
            if targets.len() > 1 {
                one.stop = None;
            }
            let part = self.download_target(&one, segments, sink, unit, step);
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
        let mut report = result?;
        if blocks > 0.0 {
            report.polls_per_block = polls / blocks;
        }
        report.rom = self.rom;
        report.strapped = self.strapped;
        Ok(report)
    }

    fn download_target(
        &mut self,
        settings: &UpdateSettings,
        segments: &[Segment],
        sink: &dyn EventSink,
        unit: u64,
        step: &str,
    ) -> Result<UpdateReport, StepError> {
        let pipe = self.pipe.as_mut();
        let device = DfuDevice::open(pipe, settings.alt)
            .map_err(|e| StepError::fail(format!("DFU: {e}")))?;
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
        let clock = self.hw.clock.clone();
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
        let interface = device.interface.number;
        let mut engine = Download::new(ops[..body_len].to_vec(), settings.mode, interface);
        if let Some((k, _)) = settings.stop {
            engine = engine.stop_before(k);
        }
        let mut progress = |done, total| {
            sink.emit(Event::Progress {
                fixture: self.fixture.id.clone(),
                unit,
                step: step.into(),
                phase: "program".into(),
                done,
                total,
            });
        };
        let finish = dfu::execute(&mut engine, pipe, clock.as_ref(), &mut progress)
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
            interrupt(pipe, how, interface);
            return Ok(report);
        }
        if settings.verify {
            let v = dfu::verify(pipe, clock.as_ref(), &device, segments)
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
            self.leave(settings.mode, interface)
                .map_err(|e| StepError::fail(format!("leaving DFU: {}", e.message)))?;
        }
        Ok(report)
    }

    /// Leave DFU mode, starting the unit's code.
    pub fn leave(&mut self, mode: DfuMode, interface: u8) -> Result<(), StepError> {
        let mut leave = Download::new(vec![Op::Leave], mode, interface);
        dfu::execute(
            &mut leave,
            self.pipe.as_mut(),
            self.hw.clock.as_ref(),
            &mut |_, _| {},
        )
        .map(drop)
        .map_err(|e| StepError::fail(e.to_string()))
    }

    /// One DfuSe command on its own through alt 0: mass erase or read unprotect.
    pub fn command(&mut self, op: Op, mode: DfuMode) -> Result<(), StepError> {
        let device = self.device(0)?;
        let mut engine = Download::new(vec![op.clone()], mode, device.interface.number);
        dfu::execute(
            &mut engine,
            self.pipe.as_mut(),
            self.hw.clock.as_ref(),
            &mut |_, _| {},
        )
        .map(drop)
        .map_err(|e| StepError::fail(format!("{op}: {e}")))
    }

    /// Read `length` bytes from `address` through `alt`.
    pub fn upload(
        &mut self,
        alt: u8,
        address: u32,
        length: u32,
        sink: &dyn EventSink,
        unit: u64,
        step: &str,
    ) -> Result<Vec<u8>, StepError> {
        let device = self.device(alt)?;
        let fixture = &self.fixture.id;
        dfu::upload(
            self.pipe.as_mut(),
            self.hw.clock.as_ref(),
            device.interface.number,
            device.functional.transfer_size,
            address,
            length,
            &mut |done, total| progress(sink, fixture, unit, step, "read", done, total),
        )
        .map_err(|e| StepError::fail(e.to_string()))
    }

    /// Read every target back through its alternate setting and compare, progress counted
    /// over them all.
    pub fn verify(
        &mut self,
        targets: &[(u8, &[Segment])],
        sink: &dyn EventSink,
        unit: u64,
        step: &str,
    ) -> Result<VerifyReport, StepError> {
        let total: u64 = targets
            .iter()
            .flat_map(|(_, s)| s.iter())
            .map(|s| s.data.len() as u64)
            .sum();
        let mut report = VerifyReport::default();
        for (alt, segments) in targets {
            let device = self.device(*alt)?;
            let before = report.bytes_checked;
            let fixture = &self.fixture.id;
            let one = dfu::verify::verify_with_progress(
                self.pipe.as_mut(),
                self.hw.clock.as_ref(),
                &device,
                segments,
                &mut |d| progress(sink, fixture, unit, step, "verify", before + d, total),
            )
            .map_err(|e| StepError::fail(e.to_string()))?;
            report.bytes_checked += one.bytes_checked;
            report.differing_bytes += one.differing_bytes;
            report.first_mismatch = report.first_mismatch.or(one.first_mismatch);
        }
        Ok(report)
    }
}

fn progress(
    sink: &dyn EventSink,
    fixture: &str,
    unit: u64,
    step: &str,
    phase: &str,
    done: u64,
    total: u64,
) {
    sink.emit(Event::Progress {
        fixture: fixture.into(),
        unit,
        step: step.into(),
        phase: phase.into(),
        done,
        total,
    });
}

/// Cut a download short the way the torture campaign asks. Errors are the point here: the
/// unit may already be gone.
fn interrupt(pipe: &mut dyn UsbControl, how: Interrupt, interface: u8) {
    match how {
        Interrupt::HostAbort => {}
        Interrupt::DfuAbort => {
            let _ = dfu::host::abort(pipe, interface);
        }
        Interrupt::UsbReset => {
            let _ = pipe.reset();
        }
    }
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

/// Download several targets in one DFU session (see [`DfuSession::download`]), then release
/// the BOOT0 strap if the session needed it, so the next reset boots from flash.
pub fn update_targets(
    hw: &mut FixtureHw,
    fixture: &Fixture,
    targets: &[(u8, &[Segment])],
    settings: &UpdateSettings,
    sink: &dyn EventSink,
    unit: u64,
    step: &str,
) -> Result<UpdateReport, StepError> {
    let mut session = DfuSession::open(hw, fixture)?;
    let result = session.download(targets, settings, sink, unit, step);
    session.release_strap()?;
    result
}
