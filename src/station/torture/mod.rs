//! The interrupted-update torture campaign: calibrate one clean update, then cut it at every
//! selected operation in every selected mode, let the unit boot, classify what it came back
//! as, and confirm it can still be updated without SWD. On the virtual bench every point
//! starts from a snapshot of the same pre-update unit.

pub mod campaign;
mod campaign_record;
mod journal;
mod modes;
pub mod points;
pub mod reflash;
pub mod report;
pub mod sweep;

pub use points::{Calibration, Campaign, CutMode, Plan, Point, PointResult, Restore, Setup};

use crate::chip::BootOutcome;
use crate::config::Profile;
use crate::hw::bench::{BenchUnit, PowerCut};
use crate::hw::{AttachMode, FixtureHw, FlashOptions, Segment};
use crate::image::Image;
use crate::image::header::{self, SlotCheck, Version};
use crate::station::dfu_session;
use crate::station::events::EventSink;
use crate::station::step::StepError;
use crate::station::update::{Interrupt, UpdateSettings};

/// A unit in the pre-update state: bootloader and from-image flashed over SWD, booted.
pub fn prepare(hw: &mut FixtureHw, setup: &Setup) -> Result<Box<dyn BenchUnit>, StepError> {
    hw.debug.attach(AttachMode::Normal)?;
    let segments: Vec<Segment> = setup
        .bootloader
        .segments
        .iter()
        .chain(&setup.from.segments)
        .cloned()
        .collect();
    hw.debug.flash(
        &segments,
        &FlashOptions {
            verify: true,
            preverify: false,
        },
        &mut |_| {},
    )?;
    hw.debug.detach();
    let unit = hw
        .bench
        .as_ref()
        .ok_or_else(|| StepError::error("torture campaigns run on simulated fixtures for now"))?;
    unit.power_cycle();
    let base = unit.copy();
    // Every point copies the base: it need not carry the preparation's history.
    base.forget_history();
    Ok(base)
}

pub(super) fn settings(profile: &Profile) -> UpdateSettings {
    UpdateSettings::new(
        profile.dfu.alt,
        crate::config::DfuMode::Fast,
        profile.dfu.erase,
    )
}

/// The versions the update goes from and to, from the images' headers.
pub(super) fn versions(setup: &Setup) -> Result<(Version, Version), StepError> {
    let slot = setup
        .profile
        .image(crate::config::ImageRole::Application)
        .and_then(|i| i.slot.as_deref())
        .and_then(|s| setup.profile.slot(s))
        .map(|s| (s.start, s.size))
        .ok_or_else(|| StepError::error("the profile's application has no slot"))?;
    Ok((version_of(setup.from, slot)?, version_of(setup.to, slot)?))
}

/// One clean update from the pre-update state, listing what can be cut.
pub fn calibrate(
    base: &dyn BenchUnit,
    setup: &Setup,
    sink: &dyn EventSink,
) -> Result<(Calibration, Version, Version), StepError> {
    let (old, new) = versions(setup)?;
    let device = base.copy();
    let first = device.flash_ops() + 1;
    let mut hw = device.into_hw();
    let report = dfu_session::update(
        &mut hw,
        setup.fixture,
        &target_segments(setup),
        &settings(setup.profile),
        sink,
        0,
        "calibrate",
    )?;
    let device = hw
        .bench
        .take()
        .ok_or_else(|| StepError::error("no simulated unit"))?;
    let got = device.classify(old, new);
    if got != BootOutcome::NewImage {
        return Err(StepError::fail(format!(
            "an uninterrupted update does not work: the unit came back as {got:?}"
        )));
    }
    let flash_ops = device
        .flash_log(first)
        .into_iter()
        .map(|o| (o.origin.to_string(), o.kind))
        .collect();
    let plan_ops = report.ops.iter().map(ToString::to_string).collect();
    Ok((
        Calibration {
            plan_ops,
            flash_ops,
            power_on_plan: false,
        },
        old,
        new,
    ))
}

/// Cut one update at `point`, let the unit boot, classify it, and try to recover it.
pub fn run_point(
    base: &dyn BenchUnit,
    setup: &Setup,
    cal: &Calibration,
    point: Point,
    old: Version,
    new: Version,
) -> PointResult {
    run_point_on(base.copy(), setup, cal, point, old, new)
}

/// [`run_point`] on `device`, a copy of the pre-update unit that the point may use up.
pub fn run_point_on(
    device: Box<dyn BenchUnit>,
    setup: &Setup,
    cal: &Calibration,
    point: Point,
    old: Version,
    new: Version,
) -> PointResult {
    let first = device.flash_ops() + 1;
    let segments = target_segments(setup);
    let mut settings = settings(setup.profile);
    let when = match point.mode {
        CutMode::PowerBefore => Some(PowerCut::Before),
        CutMode::PowerInside => Some(PowerCut::Inside),
        CutMode::PowerAfter => Some(PowerCut::After),
        CutMode::HostAbort => {
            settings.stop = Some((point.index as usize, Interrupt::HostAbort));
            None
        }
        CutMode::DfuAbort => {
            settings.stop = Some((point.index as usize, Interrupt::DfuAbort));
            None
        }
        CutMode::UsbReset => {
            settings.stop = Some((point.index as usize, Interrupt::UsbReset));
            None
        }
    };
    if let Some(when) = when {
        device.cut_power_at(first + point.index, when);
    }
    let mut hw = device.into_hw();
    let sink = |_| {};
    // The update fails once the cut lands; that is the experiment.
    let _ = dfu_session::update(
        &mut hw,
        setup.fixture,
        &segments,
        &settings,
        &sink,
        0,
        "torture",
    );
    let Some(outcome) = hw.bench.as_ref().map(|d| d.classify(old, new)) else {
        return PointResult {
            point,
            operation: cal.describe(point),
            outcome: BootOutcome::Bricked,
            recovered: false,
        };
    };
    let recovered = outcome == BootOutcome::NewImage
        || (outcome.recoverable()
            && dfu_session::update(
                &mut hw,
                setup.fixture,
                &segments,
                &self::settings(setup.profile),
                &sink,
                0,
                "recover",
            )
            .is_ok()
            && hw
                .bench
                .as_ref()
                .is_some_and(|d| d.classify(old, new) == BootOutcome::NewImage));
    PointResult {
        point,
        operation: cal.describe(point),
        outcome,
        recovered,
    }
}

fn version_of(image: &Image, slot: (u32, u32)) -> Result<Version, StepError> {
    let bytes = image.bytes_at(slot.0, slot.1 as usize, 0xFF);
    match header::check_app(slot.0, &bytes) {
        SlotCheck::Valid(h) => Ok(h.version),
        other => Err(StepError::error(format!(
            "{} has no valid application header: {other:?}",
            image.name
        ))),
    }
}

/// The to-image's segments where DFU must write them (slot B on an A/B design).
pub(super) fn target_segments(setup: &Setup) -> Vec<Segment> {
    let profile = setup.profile;
    let (Some(target), Some(home)) = (
        profile
            .dfu
            .target_slot
            .as_deref()
            .and_then(|s| profile.slot(s)),
        profile
            .image(crate::config::ImageRole::Application)
            .and_then(|i| i.slot.as_deref())
            .and_then(|s| profile.slot(s)),
    ) else {
        return setup.to.segments.clone();
    };
    setup
        .to
        .segments
        .iter()
        .map(|s| Segment::new(s.address - home.start + target.start, s.data.clone()))
        .collect()
}
