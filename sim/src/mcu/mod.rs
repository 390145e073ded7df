//! One simulated STM32: its buses, flash controller, core, power and boot behaviour.

mod debug_bus;
mod device_bus;
mod flash_work;
mod power;
mod usb_bus;

use std::sync::Arc;
use std::time::Duration;

use super::cm4::SecondCore;
use super::controller::{Controller, FlashBus};
use super::core::CortexM;
use super::fault::{self, Cut, FlashOp};
use super::firmware::Firmware;
use super::flash::FlashArray;
use super::part::{FlashTiming, PartSpec, Timing};
use crate::hw::{Clock, VirtualClock};

/// What the simulated probe has seen, for tests of the station's SWD workarounds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SwdCounters {
    /// Times a debugger opened this unit's probe (each attach attempt opens it).
    pub probe_opens: u64,
    /// Resets that passed an armed reset vector catch by, as after power-on (probe-rs #4113).
    pub reset_catches_missed: u64,
}

/// The USB identities the firmware in each mode presents.
#[derive(Clone, Debug)]
pub struct UsbIdentities {
    pub application: (u16, u16),
    pub bootloader: (u16, u16),
    pub rom: (u16, u16),
    pub port_path: String,
}

#[derive(Clone)]
pub struct Mcu {
    pub part: PartSpec,
    pub flash: FlashArray,
    pub fc: Controller,
    pub core: CortexM,
    /// The second core of a dual-core part (the H755's Cortex-M4), as the debugger sees it.
    pub core2: Option<CortexM>,
    /// DBGMCU_CR as seen through the APB-AP (the H7's debug-component bus).
    dbgmcu_cr: u32,
    ram: Vec<(u32, Vec<u8>)>,
    other: std::collections::BTreeMap<u32, u32>,
    pub uid: [u32; 3],
    pub timing: FlashTiming,
    pub timing_mode: Timing,
    pub clock: Arc<VirtualClock>,
    pub powered: bool,
    pub boot0: bool,
    nrst_low: bool,
    /// A debugger has connected since power-on (RDP level 1 then blocks the flash).
    pub debugger: bool,
    /// The firmware has started since the last reset (false while caught at the reset vector).
    booted: bool,
    pub firmware: Firmware,
    /// What the second core of a dual-core part runs (`None`: single core, or not started).
    pub cm4: Option<SecondCore>,
    /// The user OTP area (F4, F7).
    pub otp: Option<super::otp::OtpArea>,
    pub usb: UsbIdentities,
    /// Bumped whenever the device leaves the bus, so that open handles go stale.
    pub usb_epoch: u64,
    pub algos: Vec<probe_rs::config::RawFlashAlgorithm>,
    pub log: Vec<String>,
    /// Seeds every random choice of this device (torn cells), from (seed, fixture).
    pub seed: u64,
    /// Flash operations and USB requests so far: what cuts are scheduled against.
    pub flash_ops: u64,
    pub usb_requests: u64,
    /// Every flash operation, in order.
    pub ops: Vec<FlashOp>,
    pub cut: Option<Cut>,
    /// Set in RAM by an application asked to enter its bootloader; survives a system reset,
    /// not a power cycle.
    pub dfu_request: bool,
    /// The data of the program operation under way, for tearing it.
    pending_program: Option<Vec<u8>>,
    pub faults: fault::Faults,
    pub swd: SwdCounters,
    /// What an option-change fault has done to the FLASH controller so far.
    option_fault: super::option_fault::OptionFaultState,
    /// When the running firmware shows up on USB (a slow enumeration delays it).
    usb_ready_at: Duration,
    /// The cable is out until then (a loose cable).
    unplugged_until: Duration,
    /// The board's external QSPI NOR flash, allocated when first touched.
    pub qspi: Option<FlashArray>,
    qspi_busy_until: Duration,
}

impl Mcu {
    pub fn new(
        part: PartSpec,
        uid: [u32; 3],
        timing: Timing,
        clock: Arc<VirtualClock>,
        usb: UsbIdentities,
    ) -> Self {
        let flash = FlashArray::new(part.flash_base, part.sectors.clone());
        let fc = part.new_controller();
        let flash_timing = part.timing(timing);
        let core2 = part.cores.get(1).map(|(_, cpuid)| CortexM::new(*cpuid));
        let ram = part
            .ram
            .iter()
            .map(|(b, s)| (*b, vec![0u8; *s as usize]))
            .collect();
        let algos = super::algo::algorithms_for(part.probe_rs_chip);
        let otp = part.otp.map(super::otp::OtpArea::new);
        let mut mcu = Self {
            core: CortexM::new(part.cores.first().map_or(0, |c| c.1)),
            core2,
            dbgmcu_cr: 0,
            part,
            flash,
            fc,
            ram,
            other: Default::default(),
            uid,
            timing: flash_timing,
            timing_mode: timing,
            clock,
            powered: false,
            boot0: false,
            nrst_low: false,
            debugger: false,
            booted: false,
            firmware: Firmware::Off,
            cm4: None,
            otp,
            usb,
            usb_epoch: 0,
            algos,
            log: Vec::new(),
            seed: 0,
            flash_ops: 0,
            usb_requests: 0,
            ops: Vec::new(),
            cut: None,
            dfu_request: false,
            pending_program: None,
            faults: fault::Faults::default(),
            swd: SwdCounters::default(),
            option_fault: Default::default(),
            usb_ready_at: Duration::ZERO,
            unplugged_until: Duration::ZERO,
            qspi: None,
            qspi_busy_until: Duration::ZERO,
        };
        mcu.set_power(true);
        mcu
    }

    pub fn now(&self) -> Duration {
        self.clock.now()
    }

    /// Put back a saved power state and what was running, without booting again.
    pub fn restore_power_state(
        &mut self,
        powered: bool,
        firmware: Firmware,
        cm4: Option<SecondCore>,
    ) {
        self.powered = powered;
        self.booted = true;
        self.firmware = if powered { firmware } else { Firmware::Off };
        self.cm4 = if powered { cm4 } else { None };
        self.usb_epoch += 1;
    }

    /// An independent copy with its own clock, for restoring a state cheaply (a torture
    /// sweep starts every cut point from the same pre-update state).
    pub fn snapshot(&self) -> Mcu {
        let mut copy = self.clone();
        copy.clock = Arc::new(VirtualClock::starting_at(self.clock.now()));
        copy
    }

    pub fn uid_hex(&self) -> String {
        // The UID as 12 bytes in memory order, printed as hex.
        self.uid
            .iter()
            .flat_map(|w| w.to_le_bytes())
            .map(|b| format!("{b:02X}"))
            .collect()
    }

    fn flash_bus(&mut self) -> (&mut Controller, FlashBus<'_>) {
        let now = self.clock.now();
        (
            &mut self.fc,
            FlashBus {
                flash: &mut self.flash,
                timing: &self.timing,
                now,
                debugger: self.debugger,
                log: &mut self.log,
                otp: self.otp.as_mut(),
            },
        )
    }

    /// Let virtual time run until the flash controller is idle.
    pub fn wait_flash_idle(&mut self) {
        self.clock.advance_to(self.busy_until());
    }

    /// When the last flash work (internal or QSPI) ends.
    pub fn busy_until(&self) -> Duration {
        self.fc.busy_until().max(self.qspi_busy_until)
    }
}
