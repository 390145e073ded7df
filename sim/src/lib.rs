//! The virtual bench: simulated STM32 devices behind the same seams as real hardware.
//!
//! - SWD: [`swd`] is a probe-rs probe over a register-level model, so the station's probe-rs
//!   backend runs unchanged against it.
//! - USB: [`usb`] answers control transfers behind `hw::UsbBus`/`hw::UsbControl`.
//! - Power and fixture lines: [`SimPower`] and [`SimLines`] implement the `hw` traits.
//!
//! What the device runs after reset follows only from the BOOT0 strap and the bytes in its
//! flash ([`firmware`]). Time is a per-fixture [`VirtualClock`].
//!
//! A crate of its own over `station-core` (the seams and the shared words): the compiler keeps
//! it from the station's engine and host-side protocol code, written apart from it.

pub mod algo;
pub mod bench_unit;
pub mod cm4;
pub mod console;
pub mod controller;
pub mod core;
pub mod dfuse;
pub mod direct;
pub mod exec;
pub mod f4;
pub mod fault;
pub mod firmware;
pub mod flash;
pub mod g0;
pub mod h7;
pub mod l4;
pub mod mcu;
pub mod option_fault;
pub mod optr;
pub mod otp;
pub mod outcome;
pub mod part;
pub mod qspi;
pub mod state;
pub mod swd;
pub mod usb;

use std::sync::{Arc, Mutex};

use station_core::{chip, hw, image};

use sha2::{Digest, Sha256};

pub use mcu::{Mcu, UsbIdentities};
pub use part::{Family, PartSpec, Timing};

use crate::hw::{FixtureLines, HwError, PowerSwitch, UsbBus, VirtualClock};

/// Everything needed to build one simulated unit on a fixture.
#[derive(Clone, Debug)]
pub struct DeviceSpec {
    pub family: Family,
    pub part: String,
    pub seed: u64,
    pub fixture: String,
    /// Which unit of this fixture this is (from the records directory's counter).
    pub unit: u64,
    pub timing: Timing,
    pub usb: UsbIdentities,
    pub probe_serial: String,
}

/// The UID of a simulated unit: a pure function of (seed, fixture, unit), so runs repeat and
/// different units never share one.
pub fn unit_uid(seed: u64, fixture: &str, unit: u64) -> [u32; 3] {
    let mut h = Sha256::new();
    h.update(b"station-sim-uid");
    h.update(seed.to_le_bytes());
    h.update((fixture.len() as u64).to_le_bytes());
    h.update(fixture.as_bytes());
    h.update(unit.to_le_bytes());
    let d = h.finalize();
    let w = |i: usize| u32::from_le_bytes([d[i], d[i + 1], d[i + 2], d[i + 3]]);
    [w(0), w(4), w(8)]
}

/// One simulated unit, plugged into a fixture of the virtual bench.
pub struct SimDevice {
    pub mcu: Arc<Mutex<Mcu>>,
    pub clock: Arc<VirtualClock>,
    /// The application's console, once started.
    pub console: Option<console::Console>,
    /// The probe serial it answers to over SWD, when plugged into probe-rs.
    probe_serial: Option<String>,
}

impl SimDevice {
    pub fn new(spec: &DeviceSpec, clock: Arc<VirtualClock>) -> Result<Self, String> {
        let part = PartSpec::lookup(spec.family, &spec.part).ok_or_else(|| {
            format!(
                "no simulated part {:?} in family {}; known: {}",
                spec.part,
                spec.family.name(),
                PartSpec::known_parts(spec.family).join(", ")
            )
        })?;
        let uid = unit_uid(spec.seed, &spec.fixture, spec.unit);
        let mut mcu = Mcu::new(part, uid, spec.timing, clock.clone(), spec.usb.clone());
        mcu.seed = device_seed(spec.seed, &spec.fixture);
        let mcu = Arc::new(Mutex::new(mcu));
        swd::plug(&spec.probe_serial, mcu.clone());
        Ok(Self {
            mcu,
            clock,
            console: None,
            probe_serial: Some(spec.probe_serial.clone()),
        })
    }

    /// A restored unit, plugged into probe-rs under `probe_serial`.
    pub fn attach(mcu: Mcu, probe_serial: &str) -> Self {
        let clock = mcu.clock.clone();
        let mcu = Arc::new(Mutex::new(mcu));
        swd::plug(probe_serial, mcu.clone());
        Self {
            mcu,
            clock,
            console: None,
            probe_serial: Some(probe_serial.to_string()),
        }
    }

    /// A device on USB, power and lines only (no SWD probe), e.g. a restored snapshot.
    pub fn detached(mcu: Mcu) -> Self {
        let clock = mcu.clock.clone();
        Self {
            mcu: Arc::new(Mutex::new(mcu)),
            clock,
            console: None,
            probe_serial: None,
        }
    }

    /// An independent copy of this device's state, with its own clock and no probe.
    pub fn snapshot(&self) -> Self {
        Self::detached(self.lock().snapshot())
    }

    /// Give the application a console: a pty, with a stable link to it at `link`.
    pub fn start_console(
        &mut self,
        dfu_command: &str,
        link: Option<&std::path::Path>,
    ) -> std::io::Result<std::path::PathBuf> {
        let console = console::Console::start(self.mcu.clone(), dfu_command, link)?;
        let path = link.map_or_else(|| console.path.clone(), std::path::Path::to_path_buf);
        self.console = Some(console);
        Ok(path)
    }

    pub fn usb_bus(&self) -> Arc<dyn UsbBus> {
        Arc::new(usb::SimUsbBus {
            mcu: self.mcu.clone(),
        })
    }

    pub fn power(&self) -> Box<dyn PowerSwitch> {
        Box::new(SimPower {
            mcu: self.mcu.clone(),
        })
    }

    pub fn lines(&self) -> Box<dyn FixtureLines> {
        Box::new(SimLines {
            mcu: self.mcu.clone(),
        })
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Mcu> {
        self.mcu.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for SimDevice {
    fn drop(&mut self) {
        if let Some(serial) = &self.probe_serial {
            swd::unplug(serial);
        }
    }
}

/// One seed per device for every random choice it makes, from (seed, fixture).
pub fn device_seed(seed: u64, fixture: &str) -> u64 {
    let [a, b, _] = unit_uid(seed, fixture, u64::MAX);
    (a as u64) << 32 | b as u64
}

pub struct SimPower {
    mcu: Arc<Mutex<Mcu>>,
}

impl PowerSwitch for SimPower {
    fn set_power(&mut self, on: bool) -> Result<(), HwError> {
        self.mcu
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set_power(on);
        Ok(())
    }
    fn is_on(&self) -> bool {
        self.mcu.lock().unwrap_or_else(|e| e.into_inner()).powered
    }
}

pub struct SimLines {
    mcu: Arc<Mutex<Mcu>>,
}

impl FixtureLines for SimLines {
    fn set_boot0(&mut self, high: bool) -> Result<(), HwError> {
        // The strap is sampled at the next reset, as on silicon.
        self.mcu.lock().unwrap_or_else(|e| e.into_inner()).boot0 = high;
        Ok(())
    }
    fn set_nrst(&mut self, asserted: bool) -> Result<(), HwError> {
        self.mcu
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .set_nrst(asserted);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_differ_per_unit_and_fixture_and_repeat_per_seed() {
        assert_eq!(unit_uid(7, "bench-1", 1), unit_uid(7, "bench-1", 1));
        assert_ne!(unit_uid(7, "bench-1", 1), unit_uid(7, "bench-1", 2));
        assert_ne!(unit_uid(7, "bench-1", 1), unit_uid(7, "bench-2", 1));
        assert_ne!(unit_uid(7, "bench-1", 1), unit_uid(8, "bench-1", 1));
    }
}
