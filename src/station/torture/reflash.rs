//! Torture on a real bench, without snapshots. Every cut point starts from the pre-update
//! state made again over SWD (the bootloader and the from-image through the fixture's debug
//! probe, the rest of every slot erased), cuts through the hw traits only (the host stops,
//! DFU ABORT, a USB reset, or the fixture's power switch before, inside or after a host
//! operation), lets the unit boot, and classifies it from what it shows: its USB identity, its
//! console's `version`, and its flash read over SWD.
//!
//! The device's own flash operations after it reboots (an A/B bootloader's copy) cannot be
//! listed on real hardware: power cuts index the host's operations, and a cut after the leave
//! lands in whatever the device does as it starts. "Inside" cuts after a fraction of the
//! device's bwPollTimeout for that operation, on the fixture's clock. On the virtual bench a
//! power switch cut after the operation started finds it already done (the simulator applies
//! flash work when it starts), so there "inside" behaves as "after"; on a board it tears.

use std::time::Duration;

use super::{self as torture, Calibration, CutMode, Point, PointResult, Setup};
use crate::chip::BootOutcome;
use crate::config::{Fixture, ImageRole};
use crate::dfu::engine::{Action, Transfer};
use crate::dfu::host::{self, Machine};
use crate::dfu::proto::{self, Status};
use crate::dfu::{DfuDevice, Download, Finish, Op};
use crate::hw::FixtureHw;
use crate::hw::{AttachMode, FlashOptions, ResetKind, Segment, UsbError, UsbSelector};
use crate::image::generate::SplitMix64;
use crate::image::header::design::{DesignKind, RomEntry, design_from};
use crate::image::header::{self, SlotCheck, Version};
use crate::station::console;
use crate::station::dfu_session;
use crate::station::events::EventSink;
use crate::station::step::StepError;
use crate::station::update::{self, ENUMERATION_DEADLINE, Interrupt};

/// How long the power stays off in a cut or a power cycle, so the board really resets.
const POWER_OFF_TIME: Duration = Duration::from_millis(500);
/// Bytes of an application slot read over SWD to see whether a vector table is there.
const VECTOR_PROBE_LEN: usize = 2048;

/// What a real-bench campaign knows from its calibration beyond [`Calibration`]: the host's
/// operations themselves, to replay one of them for an "inside" cut.
pub struct Plan {
    pub ops: Vec<Op>,
}

/// The pre-update image: the bootloader, the from-image, and every slot's other bytes erased
/// (an update, or the bootloader's bookkeeping such as a pending mark, may have written there).
pub fn restore_segments(setup: &Setup) -> Vec<Segment> {
    let mut images: Vec<Segment> = setup
        .bootloader
        .segments
        .iter()
        .chain(&setup.from.segments)
        .cloned()
        .collect();
    images.sort_by_key(|s| s.address);
    let mut fills = Vec::new();
    for slot in &setup.profile.memory.slots {
        let (start, end) = (slot.start as u64, slot.start as u64 + slot.size as u64);
        let mut at = start;
        for s in images
            .iter()
            .filter(|s| s.end() > start && (s.address as u64) < end)
        {
            if (s.address as u64) > at {
                fills.push((at, s.address as u64));
            }
            at = at.max(s.end());
        }
        if at < end {
            fills.push((at, end));
        }
    }
    images.extend(
        fills
            .into_iter()
            .map(|(a, b)| Segment::new(a as u32, vec![0xFF; (b - a) as usize])),
    );
    images.sort_by_key(|s| s.address);
    images
}

fn power(hw: &mut FixtureHw, on: bool) -> Result<(), StepError> {
    match hw.power.as_mut() {
        // A manual switch asks the operator: never for a change that is not one.
        Some(p) if p.is_on() == on => Ok(()),
        Some(p) => Ok(p.set_power(on)?),
        None => Err(StepError::error(
            "this fixture has no power switch, so it cannot cut or cycle the power",
        )),
    }
}

/// Start the unit again with whatever strap is set: a power cycle where the fixture has a
/// switch, else NRST, else a reset through the debug probe.
fn restart(hw: &mut FixtureHw) -> Result<(), StepError> {
    let clock = hw.clock.clone();
    if hw.power.is_some() {
        power(hw, false)?;
        clock.sleep(POWER_OFF_TIME);
        return power(hw, true);
    }
    if let Some(lines) = hw.lines.as_mut() {
        lines.set_nrst(true)?;
        clock.sleep(Duration::from_millis(10));
        return Ok(lines.set_nrst(false)?);
    }
    hw.debug.attach(AttachMode::Normal)?;
    let reset = hw.debug.reset(ResetKind::Run);
    hw.debug.detach();
    Ok(reset?)
}

/// Let the unit boot from flash, uninterrupted.
fn reboot(hw: &mut FixtureHw) -> Result<(), StepError> {
    if let Some(lines) = hw.lines.as_mut() {
        lines.set_boot0(false)?;
    }
    restart(hw)
}

/// Make the pre-update state again over SWD, then let the unit boot.
pub fn restore(hw: &mut FixtureHw, setup: &Setup) -> Result<(), StepError> {
    if hw.power.is_some() {
        power(hw, true)?;
    }
    // A unit that runs something broken may need holding in reset to connect.
    if hw.debug.attach(AttachMode::Normal).is_err() {
        hw.debug.attach(AttachMode::UnderReset).map_err(|e| {
            StepError::error(format!("restoring the pre-update state over SWD: {e}"))
        })?;
    }
    let options = FlashOptions {
        verify: true,
        preverify: false,
    };
    let flashed = hw
        .debug
        .flash(&restore_segments(setup), &options, &mut |_| {});
    hw.debug.detach();
    flashed
        .map_err(|e| StepError::error(format!("restoring the pre-update state over SWD: {e}")))?;
    reboot(hw)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Application,
    Bootloader,
    Rom,
}

fn selector(fixture: &Fixture, ids: (u16, u16)) -> UsbSelector {
    UsbSelector {
        vid: ids.0,
        pid: ids.1,
        serial: None,
        port_path: fixture.usb_port.clone(),
    }
}

/// What the unit shows on USB within the enumeration deadline, if anything.
fn wait_for_usb(hw: &FixtureHw, fixture: &Fixture, only_rom: bool) -> Option<Seen> {
    let clock = hw.clock.as_ref();
    let start = clock.now();
    let all = [
        (fixture.usb_bootloader, Seen::Bootloader),
        (fixture.usb_rom, Seen::Rom),
        (fixture.usb_application, Seen::Application),
    ];
    loop {
        let seen = all
            .iter()
            .filter(|(_, s)| !only_rom || *s == Seen::Rom)
            .find(|(ids, _)| hw.usb.open(&selector(fixture, *ids)).is_ok());
        if let Some((_, s)) = seen {
            return Some(*s);
        }
        if clock.now().saturating_sub(start) >= ENUMERATION_DEADLINE {
            return None;
        }
        clock.sleep(Duration::from_millis(100));
    }
}

fn app_slot(setup: &Setup) -> Option<(u32, u32)> {
    let profile = setup.profile;
    profile
        .image(ImageRole::Application)
        .and_then(|i| i.slot.as_deref())
        .and_then(|s| profile.slot(s))
        .map(|s| (s.start, s.size))
}

fn read_flash(hw: &mut FixtureHw, address: u32, len: usize) -> Result<Vec<u8>, StepError> {
    if hw.debug.attach(AttachMode::Normal).is_err() {
        hw.debug.attach(AttachMode::UnderReset)?;
    }
    let mut bytes = vec![0u8; len.next_multiple_of(4)];
    let read = hw.debug.read_bytes(address, &mut bytes);
    hw.debug.detach();
    read?;
    bytes.truncate(len);
    Ok(bytes)
}

/// The running application's version: from its console's `version` command, else from the
/// header of its slot read over SWD.
fn app_version(hw: &mut FixtureHw, setup: &Setup) -> Result<Option<Version>, StepError> {
    if let Some(port) = hw.console.as_deref()
        && let Ok(reply) = console::ask(port, "version", Duration::from_secs(1))
        && let Some(v) = reply
            .split_whitespace()
            .find_map(|w| w.parse::<Version>().ok())
    {
        return Ok(Some(v));
    }
    let Some((base, size)) = app_slot(setup) else {
        return Ok(None);
    };
    // Enough of the slot to hold the longer of the two images.
    let len = [setup.from, setup.to]
        .iter()
        .filter_map(|i| {
            i.span()
                .map(|(_, end)| end.saturating_sub(base as u64) as usize)
        })
        .max()
        .unwrap_or(0)
        .min(size as usize);
    Ok(match header::check_app(base, &read_flash(hw, base, len)?) {
        SlotCheck::Valid(h) => Some(h.version),
        _ => None,
    })
}

/// The product's field procedure is the BOOT0 strap (the profile's bootloader says so).
fn boot0_is_the_way_in(setup: &Setup) -> bool {
    let Some((base, end)) = setup.bootloader.span() else {
        return false;
    };
    let bytes = setup
        .bootloader
        .bytes_at(base, (end - base as u64) as usize, 0xFF);
    match header::check_bootloader(base, &bytes) {
        header::BootCheck::Valid(d) => design_from(&d.design, &d.knobs, u32::MAX)
            .is_ok_and(|d| d.kind == DesignKind::StRom && d.entry == RomEntry::Boot0Strap),
        _ => false,
    }
}

/// Boot with the strap high and see whether the ST bootloader answers; boot from flash again.
fn rom_by_strap(hw: &mut FixtureHw, fixture: &Fixture) -> Result<bool, StepError> {
    let Some(lines) = hw.lines.as_mut() else {
        return Ok(false);
    };
    lines.set_boot0(true)?;
    restart(hw)?;
    let rom = wait_for_usb(hw, fixture, true).is_some();
    reboot(hw)?;
    Ok(rom)
}

/// Let the unit boot uninterrupted and say what it came back as, from what it shows.
pub fn classify(
    hw: &mut FixtureHw,
    setup: &Setup,
    old: Version,
    new: Version,
) -> Result<BootOutcome, StepError> {
    reboot(hw)?;
    let fixture = setup.fixture;
    let strapped = boot0_is_the_way_in(setup);
    Ok(match wait_for_usb(hw, fixture, false) {
        Some(Seen::Bootloader | Seen::Rom) => BootOutcome::InBootloader,
        Some(Seen::Application) => match app_version(hw, setup)? {
            Some(v) if v == new => BootOutcome::NewImage,
            Some(v) if v == old => BootOutcome::OldImage,
            _ if strapped => BootOutcome::NeedsBoot0,
            _ => BootOutcome::CorruptApp,
        },
        None => {
            // Silent on USB: a vector table in the slot means a damaged application runs.
            let vector_table = match app_slot(setup) {
                Some((base, size)) => {
                    let len = VECTOR_PROBE_LEN.min(size as usize);
                    !matches!(
                        header::check_app(base, &read_flash(hw, base, len)?),
                        SlotCheck::Blank | SlotCheck::NoVectorTable
                    )
                }
                None => false,
            };
            match (vector_table, strapped) {
                (true, true) => BootOutcome::NeedsBoot0,
                (true, false) => BootOutcome::CorruptApp,
                (false, true) if rom_by_strap(hw, fixture)? => BootOutcome::NeedsBoot0,
                (false, _) => BootOutcome::Bricked,
            }
        }
    })
}

/// One clean update from the restored state, listing the host's operations.
pub fn calibrate(
    hw: &mut FixtureHw,
    setup: &Setup,
    sink: &dyn EventSink,
) -> Result<(Calibration, Plan, Version, Version), StepError> {
    let (old, new) = torture::versions(setup)?;
    restore(hw, setup)?;
    let report = dfu_session::update(
        hw,
        setup.fixture,
        &torture::target_segments(setup),
        &torture::settings(setup.profile),
        sink,
        0,
        "calibrate",
    )?;
    let got = classify(hw, setup, old, new)?;
    if got != BootOutcome::NewImage {
        return Err(StepError::fail(format!(
            "an uninterrupted update does not work: the unit came back as {got:?}"
        )));
    }
    let calibration = Calibration {
        plan_ops: report.ops.iter().map(ToString::to_string).collect(),
        flash_ops: Vec::new(),
        power_on_plan: true,
    };
    Ok((calibration, Plan { ops: report.ops }, old, new))
}

/// The download engine for one operation, stopped at the reply to the GETSTATUS that starts
/// the operation's work (which carries its bwPollTimeout).
struct UntilWorkStarts {
    engine: Download,
    sent: bool,
    asked: bool,
    /// Set once the status came (or the device vanished).
    status: Option<Option<Status>>,
}

impl Machine for UntilWorkStarts {
    fn next_action(&mut self) -> Action {
        if self.status.is_some() {
            return Action::Finished(Ok(Finish::Stopped { at: 0 }));
        }
        let action = self.engine.next_action();
        match &action {
            Action::Transfer(Transfer::Out { setup, .. }) if setup.request == proto::DNLOAD => {
                self.sent = true;
            }
            Action::Transfer(Transfer::In { setup, .. })
                if self.sent && setup.request == proto::GETSTATUS =>
            {
                self.asked = true;
            }
            _ => {}
        }
        action
    }

    fn on_reply(&mut self, reply: Result<Vec<u8>, UsbError>) {
        if self.asked {
            self.status = Some(reply.as_ref().ok().and_then(|b| Status::parse(b)));
        }
        self.engine.on_reply(reply);
    }

    fn progress(&self) -> (u64, u64) {
        (0, 0)
    }
}

/// Where inside an operation a point cuts: a fraction of its expected duration, the same for
/// the same point every run.
fn inside_fraction(index: u64) -> f64 {
    let mut rng = SplitMix64::new(0x0074_6f72_7475_7265 ^ index);
    0.1 + 0.8 * (rng.next_u64() % 1000) as f64 / 1000.0
}

/// Send operation `op` to a unit waiting in DFU mode and cut its power once part of the
/// operation's expected time (the device's bwPollTimeout) has passed on the fixture's clock.
/// False when the device gave no estimate, so the cut came as the operation started.
fn cut_inside(hw: &mut FixtureHw, setup: &Setup, op: &Op, index: u64) -> Result<bool, StepError> {
    let (mut pipe, _, _) = update::open_dfu(hw, setup.fixture)?;
    let settings = torture::settings(setup.profile);
    let started = DfuDevice::open(pipe.as_mut(), settings.alt).map(|device| {
        let engine = Download::new(vec![op.clone()], settings.mode, device.interface.number);
        let mut machine = UntilWorkStarts {
            engine,
            sent: false,
            asked: false,
            status: None,
        };
        let _ = host::drive(
            &mut machine,
            pipe.as_mut(),
            hw.clock.as_ref(),
            &mut |_, _| {},
        );
        machine.status.flatten()
    });
    let expected = started.ok().flatten().map(|s| s.poll_timeout);
    let wait = expected.unwrap_or_default().mul_f64(inside_fraction(index));
    hw.clock.sleep(wait);
    power(hw, false)?;
    Ok(expected.is_some())
}

/// Run the update from the restored state and cut it at `point`. False when an "inside" cut
/// had no estimate of the operation's time.
fn cut(hw: &mut FixtureHw, setup: &Setup, plan: &Plan, point: Point) -> Result<bool, StepError> {
    let k = point.index as usize;
    let last = plan.ops.len().saturating_sub(1);
    let stop = match point.mode {
        CutMode::HostAbort => Some((k, Interrupt::HostAbort)),
        CutMode::DfuAbort => Some((k, Interrupt::DfuAbort)),
        CutMode::UsbReset => Some((k, Interrupt::UsbReset)),
        CutMode::PowerBefore => Some((k, Interrupt::HostAbort)),
        // Back to dfuIDLE (the address pointer stays), where a new session may select its alt.
        CutMode::PowerInside => Some((k, Interrupt::DfuAbort)),
        // After the leave there is nothing left to stop before: the update runs to its end.
        CutMode::PowerAfter if k < last => Some((k + 1, Interrupt::HostAbort)),
        CutMode::PowerAfter => None,
    };
    let mut settings = torture::settings(setup.profile);
    settings.stop = stop;
    // The update fails or stops where the point says; that is the experiment.
    let _ = dfu_session::update(
        hw,
        setup.fixture,
        &torture::target_segments(setup),
        &settings,
        &|_| {},
        0,
        "torture",
    );
    match point.mode {
        CutMode::PowerBefore | CutMode::PowerAfter => power(hw, false).map(|()| true),
        CutMode::PowerInside => match plan.ops.get(k) {
            Some(op) => cut_inside(hw, setup, op, point.index),
            None => power(hw, false).map(|()| false),
        },
        _ => Ok(true),
    }
}

/// One cut point on a real bench: restore over SWD, cut, boot, classify, try to recover.
pub fn run_point(
    hw: &mut FixtureHw,
    setup: &Setup,
    cal: &Calibration,
    plan: &Plan,
    point: Point,
    old: Version,
    new: Version,
) -> Result<PointResult, StepError> {
    restore(hw, setup)?;
    let timed = cut(hw, setup, plan, point)?;
    let outcome = classify(hw, setup, old, new)?;
    let recovered = outcome == BootOutcome::NewImage
        || (outcome.recoverable()
            && dfu_session::update(
                hw,
                setup.fixture,
                &torture::target_segments(setup),
                &torture::settings(setup.profile),
                &|_| {},
                0,
                "recover",
            )
            .is_ok()
            && classify(hw, setup, old, new)? == BootOutcome::NewImage);
    let mut operation = cal.describe(point);
    if !timed {
        operation += " (no bwPollTimeout from the device: cut as it started)";
    }
    Ok(PointResult {
        point,
        operation,
        outcome,
        recovered,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_fractions_repeat_and_stay_inside() {
        for i in 0..200 {
            let f = inside_fraction(i);
            assert!((0.1..0.9).contains(&f), "{f}");
            assert_eq!(f, inside_fraction(i));
        }
        assert_ne!(inside_fraction(1), inside_fraction(2));
    }
}
