//! The campaign's words: how a cut is made (`CutMode`), how a point is restored (`Restore`),
//! which points a plan visits, a point and what it came back as, the calibration's list of
//! what can be cut, a campaign's set-up and its results.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::chip::BootOutcome;
use crate::config::{Fixture, Profile};
use crate::image::Image;
use crate::image::header::Version;

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
