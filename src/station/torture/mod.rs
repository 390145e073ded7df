//! The interrupted-update torture campaign: calibrate one clean update, then cut it at every
//! selected operation in every selected mode, let the unit boot, classify what it came back
//! as, and confirm it can still be updated without SWD. On the virtual bench every point
//! starts from a snapshot of the same pre-update unit.

pub mod campaign;
mod campaign_record;
mod journal;
mod modes;
pub mod reflash;
pub mod report;
pub mod sweep;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::chip::BootOutcome;
use crate::config::{Fixture, Profile};
use crate::hw::bench::{BenchUnit, PowerCut};
use crate::hw::{AttachMode, FixtureHw, FlashOptions, Segment};
use crate::image::Image;
use crate::image::header::{self, SlotCheck, Version};
use crate::station::events::EventSink;
use crate::station::step::StepError;
use crate::station::update::{self, Interrupt, UpdateSettings};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CutMode {
    HostAbort,
    DfuAbort,
    UsbReset,
    PowerBefore,
    PowerInside,
    PowerAfter,
}

impl CutMode {
    pub const ALL: [CutMode; 6] = [
        CutMode::HostAbort,
        CutMode::DfuAbort,
        CutMode::UsbReset,
        CutMode::PowerBefore,
        CutMode::PowerInside,
        CutMode::PowerAfter,
    ];

    /// Power modes index the flash operations (the device's own included); the others index
    /// the host's plan.
    pub fn is_power(self) -> bool {
        matches!(
            self,
            CutMode::PowerBefore | CutMode::PowerInside | CutMode::PowerAfter
        )
    }

    pub fn name(self) -> &'static str {
        match self {
            CutMode::HostAbort => "host-abort",
            CutMode::DfuAbort => "dfu-abort",
            CutMode::UsbReset => "usb-reset",
            CutMode::PowerBefore => "power-before",
            CutMode::PowerInside => "power-inside",
            CutMode::PowerAfter => "power-after",
        }
    }
}

impl fmt::Display for CutMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CutMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CutMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown cut mode {s:?}; expected one of {}",
                    CutMode::ALL.map(CutMode::name).join(", ")
                )
            })
    }
}

/// How every cut point gets back to the pre-update state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Restore {
    /// A copy of the simulated unit (the virtual bench only).
    Snapshot,
    /// The bootloader and the from-image flashed again over SWD (any bench).
    Reflash,
}

impl Restore {
    pub fn name(self) -> &'static str {
        match self {
            Restore::Snapshot => "snapshot",
            Restore::Reflash => "reflash",
        }
    }
}

impl FromStr for Restore {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "snapshot" => Ok(Restore::Snapshot),
            "reflash" => Ok(Restore::Reflash),
            _ => Err(format!("expected snapshot or reflash, found {s:?}")),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    Exhaustive,
    Every(u64),
    Random { n: u64, seed: u64 },
}

impl FromStr for Plan {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("expected exhaustive, every:N or random:N[:seed], found {s:?}");
        let num = |x: &str| x.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(bad);
        match s.split(':').collect::<Vec<_>>().as_slice() {
            ["exhaustive"] => Ok(Plan::Exhaustive),
            ["every", n] => Ok(Plan::Every(num(n)?)),
            ["random", n] => Ok(Plan::Random {
                n: num(n)?,
                seed: 0,
            }),
            ["random", n, seed] => Ok(Plan::Random {
                n: num(n)?,
                seed: seed.parse().map_err(|_| bad())?,
            }),
            _ => Err(bad()),
        }
    }
}

impl Plan {
    /// The points of `all` this plan visits, in order.
    pub fn select<T: Clone>(&self, all: &[T]) -> Vec<T> {
        match *self {
            Plan::Exhaustive => all.to_vec(),
            Plan::Every(n) => all.iter().step_by(n as usize).cloned().collect(),
            Plan::Random { n, seed } => {
                let mut rng = crate::chip::EventRng::new(seed, "torture-plan", all.len() as u64);
                let mut idx: Vec<usize> = (0..all.len()).collect();
                for i in (1..idx.len()).rev() {
                    idx.swap(i, rng.below(i as u64 + 1) as usize);
                }
                idx.truncate(n as usize);
                idx.sort();
                idx.into_iter().map(|i| all[i].clone()).collect()
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Point {
    pub mode: CutMode,
    /// Index into the plan (host modes) or the flash operations (power modes).
    pub index: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointResult {
    pub point: Point,
    /// What was cut, in words.
    pub operation: String,
    pub outcome: BootOutcome,
    /// A complete update without SWD brought the new image up afterwards.
    pub recovered: bool,
}

impl PointResult {
    /// A point that leaves the unit beyond a field update.
    pub fn bricks(&self) -> bool {
        !self.outcome.recoverable() || !self.recovered
    }
}

/// The operations a clean update performs, to cut at.
#[derive(Clone, Debug, Serialize)]
pub struct Calibration {
    pub plan_ops: Vec<String>,
    /// (origin, description) of each flash operation during the update and the boot after it.
    pub flash_ops: Vec<(String, String)>,
    /// Power cuts index the host's operations (a real bench, where the device's own flash
    /// operations cannot be listed) instead of the flash operations.
    pub power_on_plan: bool,
}

impl Calibration {
    pub fn points(&self, modes: &[CutMode]) -> Vec<Point> {
        let mut out = Vec::new();
        for &mode in modes {
            let n = if mode.is_power() && !self.power_on_plan {
                self.flash_ops.len()
            } else {
                self.plan_ops.len()
            };
            out.extend((0..n as u64).map(|index| Point { mode, index }));
        }
        out
    }

    pub(super) fn describe(&self, p: Point) -> String {
        if p.mode.is_power() && !self.power_on_plan {
            self.flash_ops
                .get(p.index as usize)
                .map_or_else(String::new, |(o, d)| format!("{o}: {d}"))
        } else {
            self.plan_ops
                .get(p.index as usize)
                .cloned()
                .unwrap_or_default()
        }
    }
}

/// What a campaign needs, resolved from the profile.
pub struct Setup<'a> {
    pub fixture: &'a Fixture,
    pub profile: &'a Profile,
    pub bootloader: &'a Image,
    pub from: &'a Image,
    pub to: &'a Image,
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

pub struct Campaign {
    pub calibration: Calibration,
    pub results: Vec<PointResult>,
    pub old: Version,
    pub new: Version,
}

impl Campaign {
    pub fn counts(&self) -> BTreeMap<BootOutcome, u64> {
        let mut c = BTreeMap::new();
        for r in &self.results {
            *c.entry(r.outcome).or_insert(0) += 1;
        }
        c
    }

    /// The first point that bricks the unit, to reproduce it.
    pub fn reproducer(&self) -> Option<&PointResult> {
        self.results.iter().find(|r| r.bricks())
    }

    pub fn needs_boot0(&self) -> bool {
        self.results
            .iter()
            .any(|r| r.outcome == BootOutcome::NeedsBoot0)
    }
}

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
    let report = update::update(
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
    let _ = update::update(
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
            && update::update(
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
