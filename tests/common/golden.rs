//! The bench every golden test drives a FLASH controller on: the controller, its flash array,
//! timing and a virtual clock that the test moves. Register accesses go through the same
//! `FlashBus` the simulated MCU uses; the family's own sequences live in each test file.

use std::time::Duration;

use station::sim::controller::{BusFault, FlashBus};
use station::sim::f4::F4Flash;
use station::sim::flash::FlashArray;
use station::sim::g0::G0Flash;
use station::sim::h7::H7Flash;
use station::sim::l4::L4Flash;
use station::sim::part::FlashTiming;

/// What the bench needs of a family's controller (each has these under the same names).
pub trait Regs {
    fn read_reg(&self, offset: u32, now: Duration) -> u32;
    fn write_reg(&mut self, offset: u32, value: u32, bus: &mut FlashBus) -> Result<(), BusFault>;
    fn program_word(&mut self, address: u32, value: u32, width: u32, bus: &mut FlashBus);
    fn idle_at(&self) -> Duration;
}

macro_rules! regs {
    ($($t:ty),*) => {$(
        impl Regs for $t {
            fn read_reg(&self, offset: u32, now: Duration) -> u32 {
                self.read(offset, now)
            }
            fn write_reg(&mut self, offset: u32, value: u32, bus: &mut FlashBus) -> Result<(), BusFault> {
                self.write(offset, value, bus)
            }
            fn program_word(&mut self, address: u32, value: u32, width: u32, bus: &mut FlashBus) {
                self.program(address, value, width, bus)
            }
            fn idle_at(&self) -> Duration {
                self.busy_until()
            }
        }
    )*};
}

regs!(F4Flash, H7Flash, L4Flash, G0Flash);

pub struct Bench<C> {
    pub fc: C,
    pub flash: FlashArray,
    pub timing: FlashTiming,
    pub now: Duration,
    pub debugger: bool,
    pub log: Vec<String>,
}

#[allow(dead_code)]
impl<C: Regs> Bench<C> {
    pub fn with(fc: C, flash: FlashArray, timing: FlashTiming) -> Self {
        Self {
            fc,
            flash,
            timing,
            now: Duration::from_secs(1),
            debugger: false,
            log: Vec::new(),
        }
    }

    pub fn bus(&mut self) -> (&mut C, FlashBus<'_>) {
        (
            &mut self.fc,
            FlashBus {
                flash: &mut self.flash,
                timing: &self.timing,
                now: self.now,
                debugger: self.debugger,
                log: &mut self.log,
                otp: None,
            },
        )
    }

    pub fn write(&mut self, offset: u32, value: u32) -> Result<(), BusFault> {
        let (fc, mut bus) = self.bus();
        fc.write_reg(offset, value, &mut bus)
    }

    /// A register write that must not fault.
    pub fn w(&mut self, offset: u32, value: u32) {
        self.write(offset, value)
            .unwrap_or_else(|e| panic!("write {value:#010x} to offset {offset:#x}: {e:?}"));
    }

    pub fn read(&self, offset: u32) -> u32 {
        self.fc.read_reg(offset, self.now)
    }

    pub fn program(&mut self, address: u32, value: u32, width: u32) {
        let (fc, mut bus) = self.bus();
        fc.program_word(address, value, width, &mut bus);
    }

    /// Poll BSY without real sleeps: jump the virtual clock to the end of the operation.
    pub fn catch_up(&mut self) {
        self.now = self.now.max(self.fc.idle_at());
    }
}
