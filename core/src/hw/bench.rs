//! What only a virtual bench can do with its unit, and the faults it builds a unit with. The
//! engine reaches a simulated unit through this trait alone: a real fixture has none.

use std::any::Any;
use std::time::Duration;

use super::{DebugTarget, FixtureHw, HwError};
use crate::chip::{BootOutcome, Version};

/// The USB identity of a virtual bench's debug probe (a pid.codes test VID): a simulated
/// fixture's probe selector is `1209:5151:<serial>`.
pub const PROBE_VID_PID: (u16, u16) = (0x1209, 0x5151);

/// When a scheduled power cut lands, relative to its flash operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PowerCut {
    /// The operation never starts.
    Before,
    /// The operation is torn part-way.
    Inside,
    /// The operation completes, then power goes.
    After,
}

/// One flash operation the unit performed, as the sweep's calibration lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlashOpEntry {
    /// Who asked for it: `dfu`, `device` (the unit's own code) or `debugger`.
    pub origin: &'static str,
    /// What it was (an erase of sector 2, a program of 256 bytes at ...).
    pub kind: String,
}

/// A unit on a virtual bench: saved between commands, copied for every cut point of a sweep,
/// cut at a flash operation, and asked what it boots into.
pub trait BenchUnit: Send + Sync {
    /// The bench's own type, for the bench's own code (the served bus) only.
    fn as_any(&self) -> &dyn Any;
    /// The unit's number on its fixture (the bench's unit counter; 0 for a copy).
    fn number(&self) -> u64;
    /// Keep the unit for the next command (a no-op for a copy).
    fn save(&self) -> Result<(), HwError>;
    /// An independent copy of the unit as it is now: its own clock, no probe, no console,
    /// never saved.
    fn copy(&self) -> Box<dyn BenchUnit>;
    /// This unit's hardware (no probe: its debug port goes straight into the unit), the unit
    /// inside it.
    fn into_hw(self: Box<Self>) -> FixtureHw;
    /// Flash operations the unit has performed since it was built (its counter).
    fn flash_ops(&self) -> u64;
    /// The flash operations from number `first` on.
    fn flash_log(&self, first: u64) -> Vec<FlashOpEntry>;
    /// Forget the operation log and diagnostic history (a sweep's base unit need not carry
    /// its preparation into every copy).
    fn forget_history(&self);
    /// Cut the power at flash operation number `op`.
    fn cut_power_at(&self, op: u64, when: PowerCut);
    /// Restore power with the strap low, let the unit boot uninterrupted, and say what it came
    /// back as, for an update from `old` to `new`.
    fn classify(&self, old: Version, new: Version) -> BootOutcome;
    /// Off, then on.
    fn power_cycle(&self);
    /// The chip's unique ID, as the records name it (hex).
    fn uid_hex(&self) -> String;
    /// A debug port straight into the unit, no probe (to build units that arrive programmed).
    fn direct_debug(&self) -> Box<dyn DebugTarget>;
    /// The unit arrives locked at RDP level 1.
    fn deliver_locked(&self);
}

/// Faults a bench unit is built with (`[fixtures.sim] faults`), all deterministic.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Faults {
    /// The firmware never shows up on USB.
    pub never_enumerates: bool,
    /// The firmware takes this long to appear on USB after it starts.
    pub enumeration_delay: Duration,
    /// The Nth USB request is stalled.
    pub stall_at_request: Option<u64>,
    /// The cable comes loose at the Nth USB request (the device stays powered).
    pub disconnect_at_request: Option<u64>,
    /// Erase and program fail in this sector.
    pub dead_sector: Option<usize>,
    /// The unit arrives at RDP level 1.
    pub delivered_rdp1: bool,
    /// The Nth USB request never returns: a wedged host controller or hub, which only the
    /// station's real-time watchdog catches (the virtual clock stands still meanwhile).
    #[serde(default)]
    pub hang_at_request: Option<u64>,
    /// Programs into this sector report success but do not stick (a verify finds it).
    pub weak_sector: Option<usize>,
    /// Every option change fails with the family's error flag, or never finishes.
    pub option_change: Option<OptionFault>,
    /// The fixture's probe is held by another program: opening it fails as busy.
    pub probe_busy: bool,
    /// The user may not open the fixture's probe (no udev rule): listed as such, opening fails.
    pub probe_denied: bool,
    /// The probe's reset line does not reach the part's NRST: resetting through it does
    /// nothing, so an attach under reset never finds the core halted.
    pub nrst_unconnected: bool,
}

/// How an option change goes wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OptionFault {
    /// The change is refused with the family's option error flag; nothing changes.
    Error,
    /// The controller stays busy until the next power-on; nothing changes.
    Hang,
}

pub const FAULT_SYNTAX: &str = "never-enumerates, slow-enumeration:MS, stall-at-request:N, disconnect-at-request:N, dead-sector:K, weak-sector:K, hang-at-request:N, rdp1, option-error, option-hang, probe-busy, probe-denied or nrst-unconnected";

impl Faults {
    /// Add one fault written as in a station file.
    pub fn add(&mut self, text: &str) -> Result<(), String> {
        let bad = || format!("unknown fault {text:?}; expected {FAULT_SYNTAX}");
        let num = |v: &str| v.parse::<u64>().map_err(|_| bad());
        match text.split_once(':') {
            None if text == "never-enumerates" => self.never_enumerates = true,
            None if text == "rdp1" => self.delivered_rdp1 = true,
            None if text == "option-error" => self.option_change = Some(OptionFault::Error),
            None if text == "option-hang" => self.option_change = Some(OptionFault::Hang),
            None if text == "probe-busy" => self.probe_busy = true,
            None if text == "probe-denied" => self.probe_denied = true,
            None if text == "nrst-unconnected" => self.nrst_unconnected = true,
            Some(("slow-enumeration", ms)) => {
                self.enumeration_delay = Duration::from_millis(num(ms)?)
            }
            Some(("stall-at-request", n)) => self.stall_at_request = Some(num(n)?),
            Some(("disconnect-at-request", n)) => self.disconnect_at_request = Some(num(n)?),
            Some(("dead-sector", k)) => self.dead_sector = Some(num(k)? as usize),
            Some(("hang-at-request", n)) => self.hang_at_request = Some(num(n)?),
            Some(("weak-sector", k)) => self.weak_sector = Some(num(k)? as usize),
            _ => return Err(bad()),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_parse_and_refuse_with_the_syntax() {
        let mut f = Faults::default();
        for t in [
            "never-enumerates",
            "slow-enumeration:1500",
            "stall-at-request:7",
            "disconnect-at-request:9",
            "dead-sector:3",
            "hang-at-request:4",
            "weak-sector:0",
            "rdp1",
            "probe-busy",
            "probe-denied",
            "nrst-unconnected",
            "option-error",
        ] {
            f.add(t).unwrap();
        }
        assert!(f.never_enumerates && f.delivered_rdp1);
        assert!(f.probe_busy && f.probe_denied && f.nrst_unconnected);
        assert_eq!(
            (f.weak_sector, f.option_change),
            (Some(0), Some(OptionFault::Error))
        );
        f.add("option-hang").unwrap();
        assert_eq!(f.option_change, Some(OptionFault::Hang));
        assert_eq!(f.enumeration_delay, Duration::from_millis(1500));
        assert_eq!(
            (f.stall_at_request, f.disconnect_at_request, f.dead_sector),
            (Some(7), Some(9), Some(3))
        );
        assert_eq!(f.hang_at_request, Some(4));
        for bad in [
            "sometimes",
            "stall-at-request:x",
            "dead-sector",
            "weak-sector:x",
        ] {
            assert!(
                f.add(bad).unwrap_err().contains("slow-enumeration:MS"),
                "{bad}"
            );
        }
    }
}
