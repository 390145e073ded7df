//! The simulated unit as the engine sees it: `hw::bench::BenchUnit` over a `SimDevice`.

use std::any::Any;
use std::path::PathBuf;

use super::SimDevice;
use super::direct::DirectTarget;
use super::fault::{Cut, CutPoint, CutWhen, Origin};
use super::outcome;
use crate::chip::{BootOutcome, Version};
use crate::hw::bench::{BenchUnit, FlashOpEntry, PowerCut};
use crate::hw::{DebugTarget, FixtureHw, HwError};

/// A simulated unit on a fixture, and where it is kept between commands (`None` for a copy).
pub struct SimUnit {
    pub device: SimDevice,
    /// The unit's number on its fixture and its state file.
    pub saved_as: Option<(u64, PathBuf)>,
}

impl BenchUnit for SimUnit {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn number(&self) -> u64 {
        self.saved_as.as_ref().map_or(0, |(u, _)| *u)
    }

    fn save(&self) -> Result<(), HwError> {
        match &self.saved_as {
            Some((unit, path)) => {
                super::state::save(&self.device.lock(), *unit, path).map_err(HwError::Backend)
            }
            None => Ok(()),
        }
    }

    fn copy(&self) -> Box<dyn BenchUnit> {
        Box::new(SimUnit {
            device: self.device.snapshot(),
            saved_as: None,
        })
    }

    fn into_hw(self: Box<Self>) -> FixtureHw {
        let device = &self.device;
        FixtureHw {
            console: None,
            debug: Box::new(DirectTarget::new(device.mcu.clone())),
            usb: device.usb_bus(),
            power: Some(device.power()),
            lines: Some(device.lines()),
            clock: device.clock.clone(),
            bench: Some(self),
            hold: None,
        }
    }

    fn flash_ops(&self) -> u64 {
        self.device.lock().flash_ops
    }

    fn flash_log(&self, first: u64) -> Vec<FlashOpEntry> {
        self.device
            .lock()
            .ops
            .iter()
            .filter(|o| o.index >= first)
            .map(|o| FlashOpEntry {
                origin: match o.origin {
                    Origin::Dfu => "dfu",
                    Origin::Device => "device",
                    Origin::Debugger => "debugger",
                },
                kind: format!("{:?}", o.kind),
            })
            .collect()
    }

    fn forget_history(&self) {
        let mut mcu = self.device.lock();
        mcu.log.clear();
        mcu.ops.clear();
    }

    fn cut_power_at(&self, op: u64, when: PowerCut) {
        let when = match when {
            PowerCut::Before => CutWhen::Before,
            PowerCut::Inside => CutWhen::Inside,
            PowerCut::After => CutWhen::After,
        };
        self.device.lock().schedule_cut(Cut {
            point: CutPoint::FlashOp(op),
            when,
        });
    }

    fn classify(&self, old: Version, new: Version) -> BootOutcome {
        outcome::classify(&mut self.device.lock(), old, new)
    }

    fn power_cycle(&self) {
        let mut mcu = self.device.lock();
        mcu.set_power(false);
        mcu.set_power(true);
    }

    fn uid_hex(&self) -> String {
        self.device.lock().uid_hex()
    }

    fn direct_debug(&self) -> Box<dyn DebugTarget> {
        Box::new(DirectTarget::new(self.device.mcu.clone()))
    }

    fn deliver_locked(&self) {
        self.device.lock().deliver_at_rdp1();
    }
}
