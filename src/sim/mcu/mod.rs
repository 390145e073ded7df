//! One simulated STM32: its buses, flash controller, core, power and boot behaviour.

use std::sync::Arc;
use std::time::Duration;

use super::cm4::SecondCore;
use super::controller::{BusFault, Controller, FlashBus};
use super::core::{CoreRequest, CortexM};
use super::fault::{self, Cut, CutPoint, CutWhen, EventRng, FlashOp, OpKind, Origin, PowerLost};
use super::firmware::{self, Firmware};
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

    // ------------------------------------------------------------------ power and reset

    pub fn set_power(&mut self, on: bool) {
        if on == self.powered {
            return;
        }
        self.powered = on;
        self.leave_bus();
        if !on {
            self.firmware = Firmware::Off;
            self.cm4 = None;
            return;
        }
        self.debugger = false;
        self.dfu_request = false;
        for (_, mem) in &mut self.ram {
            mem.fill(0);
        }
        let (sp, pc) = self.vector_table();
        self.core.power_on(sp, pc);
        let (sp2, pc2) = self.second_vector_table();
        if let Some(core2) = self.core2.as_mut() {
            core2.power_on(sp2, pc2);
        }
        self.dbgmcu_cr = 0;
        self.option_fault.power_on();
        // Option bytes load at power-on on every family (on L4/G0 only then and at OBL_LAUNCH).
        self.fc.power_on_reset();
        self.reset_peripherals_and_boot();
    }

    pub fn set_nrst(&mut self, low: bool) {
        if self.nrst_low && !low {
            self.nrst_low = false;
            self.system_reset();
        } else if low && !self.nrst_low {
            self.nrst_low = true;
            self.leave_bus();
            self.firmware = Firmware::Off;
            self.cm4 = None;
            self.core.halted = false;
            if let Some(core2) = self.core2.as_mut() {
                core2.halted = false;
            }
        }
    }

    /// A part delivered at RDP level 1 (the byte ST's HAL writes on its family): stored in
    /// the option cells, loaded at the power-on that follows.
    pub fn deliver_at_rdp1(&mut self) {
        let byte = match self.part.family {
            super::Family::L4 | super::Family::G0 => 0xBB,
            _ => 0x55,
        };
        self.fc.store_rdp_byte(byte);
        self.set_power(false);
        self.set_power(true);
    }

    pub fn system_reset(&mut self) {
        if !self.powered {
            return;
        }
        self.leave_bus();
        self.option_fault.system_reset();
        if self.core.reset_catch_ignored() {
            self.swd.reset_catches_missed += 1;
        }
        let (sp, pc) = self.vector_table();
        self.core.reset(sp, pc);
        // A system reset resets both cores of a dual-core part (RM0399 "Reset and clock
        // control"); each stops on its own reset vector catch when a debugger set one.
        let (sp2, pc2) = self.second_vector_table();
        if let Some(core2) = self.core2.as_mut() {
            core2.reset(sp2, pc2);
        }
        self.reset_peripherals_and_boot();
    }

    fn reset_peripherals_and_boot(&mut self) {
        self.fc.reset();
        self.booted = false;
        self.firmware = Firmware::Off;
        self.cm4 = None;
        if !self.core.halted {
            self.boot();
        }
    }

    fn vector_table(&self) -> (u32, u32) {
        self.vector_table_at(self.part.flash_base)
    }

    /// The second core's vector table, where its boot address option points.
    fn second_vector_table(&self) -> (u32, u32) {
        match self.fc.second_core_boot(self.boot0) {
            Some((_, address)) => self.vector_table_at(address),
            None => (0, 0),
        }
    }

    fn vector_table_at(&self, base: u32) -> (u32, u32) {
        let word = |a: u32| {
            self.flash
                .read(a, 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0xFFFF_FFFF)
        };
        (word(base), word(base + 4))
    }

    /// The firmware starts: what runs follows from the BOOT0 strap and the bytes in flash.
    pub fn boot(&mut self) {
        self.booted = true;
        self.usb_ready_at = self.clock.now() + self.faults.enumeration_delay;
        self.firmware = match firmware::boot(self) {
            Ok(f) => f,
            Err(PowerLost) => Firmware::Off,
        };
        self.cm4 = match self.firmware {
            Firmware::Off => None,
            _ => super::cm4::boot(self),
        };
        if let Some(cm4) = &self.cm4 {
            self.log.push(format!("boot: CM4 {}", cm4.describe()));
        }
        self.usb_epoch += 1;
        self.log.push(format!("boot: {}", self.firmware.describe()));
    }

    // ------------------------------------------------------------------ flash work and cuts

    pub fn schedule_cut(&mut self, cut: Cut) {
        self.cut = Some(cut);
    }

    fn cut_power(&mut self) {
        self.cut = None;
        self.log
            .push(format!("power cut at {:?}", self.clock.now()));
        self.set_power(false);
    }

    fn op_cost(&self, kind: OpKind) -> Duration {
        match kind {
            OpKind::Erase { sector } => self
                .timing
                .erase_time(self.flash.sector(sector).map_or(0, |(_, s)| s)),
            OpKind::MassErase => self.timing.mass_erase,
            OpKind::Program { len, .. } => self.timing.word_program * len.div_ceil(4),
            OpKind::QspiErase { .. } => super::qspi::timing(self.timing_mode).sector_erase,
            OpKind::QspiProgram { len, .. } => {
                super::qspi::timing(self.timing_mode).page_program * len.div_ceil(256)
            }
        }
    }

    /// Every flash operation goes through here, so that a scheduled cut can land before,
    /// inside or after it. The operation itself is `apply`; a torn one is modelled instead.
    fn flash_op(
        &mut self,
        origin: Origin,
        kind: OpKind,
        apply: impl FnOnce(&mut Self) -> u32,
    ) -> Result<u32, PowerLost> {
        if !self.powered {
            return Err(PowerLost);
        }
        self.flash_ops += 1;
        let index = self.flash_ops;
        let start = self.clock.now().max(self.busy_until());
        self.ops.push(FlashOp {
            index,
            origin,
            kind,
            at: start,
        });
        let cost = self.op_cost(kind);
        // (when, where inside: drawn from this operation's randomness when `None`)
        let due = match self.cut {
            Some(Cut {
                point: CutPoint::FlashOp(n),
                when,
            }) if n == index => Some((when, None)),
            Some(Cut {
                point: CutPoint::At(t),
                ..
            }) if t <= start => Some((CutWhen::Before, Some(0.0))),
            Some(Cut {
                point: CutPoint::At(t),
                ..
            }) if t < start + cost => Some((
                CutWhen::Inside,
                Some((t - start).as_secs_f64() / cost.as_secs_f64()),
            )),
            _ => None,
        };
        let Some((when, at)) = due else {
            return Ok(apply(self));
        };
        // Only an operation a cut falls on needs its randomness (a SHA-256 to seed).
        let mut rng = EventRng::new(self.seed, "cut", index);
        let fraction = at.unwrap_or_else(|| rng.below(1000) as f64 / 1000.0);
        match Some((when, fraction)) {
            None => Ok(apply(self)),
            Some((CutWhen::Before, _)) => {
                self.cut_power();
                Err(PowerLost)
            }
            Some((CutWhen::Inside, fraction)) => {
                if self.op_allowed(kind) {
                    match kind {
                        OpKind::Erase { sector } => {
                            fault::tear_erase(&mut self.flash, sector, fraction, &mut rng)
                        }
                        OpKind::MassErase => {
                            for s in 0..self.flash.sector_count() {
                                fault::tear_erase(&mut self.flash, s, fraction, &mut rng);
                            }
                        }
                        OpKind::Program { address, len } => {
                            let data = self
                                .pending_program
                                .take()
                                .unwrap_or_else(|| vec![0; len as usize]);
                            fault::tear_program(
                                &mut self.flash,
                                address,
                                &data,
                                fraction,
                                &mut rng,
                            );
                        }
                        OpKind::QspiErase { sector } => {
                            let chip = super::qspi::chip(&mut self.qspi);
                            fault::tear_erase(chip, sector, fraction, &mut rng);
                        }
                        OpKind::QspiProgram { address, len } => {
                            let data = self
                                .pending_program
                                .take()
                                .unwrap_or_else(|| vec![0; len as usize]);
                            let chip = super::qspi::chip(&mut self.qspi);
                            fault::tear_program(chip, address, &data, fraction, &mut rng);
                        }
                    }
                }
                self.clock.advance_to(start + cost.mul_f64(fraction));
                self.cut_power();
                Err(PowerLost)
            }
            Some((CutWhen::After, _)) => {
                apply(self);
                self.wait_flash_idle();
                self.cut_power();
                Err(PowerLost)
            }
        }
    }

    /// Whether the controller would carry out `kind` (a torn operation only tears what the
    /// controller would have touched).
    fn op_allowed(&self, kind: OpKind) -> bool {
        let wrp = |s: usize| self.fc.sector_write_protected(s);
        match kind {
            OpKind::Erase { sector } => !wrp(sector),
            OpKind::MassErase => !(0..self.flash.sector_count()).any(wrp),
            OpKind::Program { address, .. } => {
                self.flash.sector_of(address).is_some_and(|s| !wrp(s))
            }
            OpKind::QspiErase { .. } | OpKind::QspiProgram { .. } => true,
        }
    }

    fn with_flash_bus(
        &mut self,
        debugger: bool,
        f: impl FnOnce(&mut Controller, &mut FlashBus) -> u32,
    ) -> u32 {
        let now = self.clock.now();
        let mut bus = FlashBus {
            flash: &mut self.flash,
            timing: &self.timing,
            now,
            debugger: debugger && self.debugger,
            log: &mut self.log,
            otp: self.otp.as_mut(),
        };
        f(&mut self.fc, &mut bus)
    }

    /// Code on the chip (the ROM bootloader) writes the option bytes through FLASH_OPTCR.
    pub fn write_options_as_code(&mut self, options: u32) {
        self.with_flash_bus(false, |fc, bus| {
            fc.write_options_through_registers(options, bus);
            0
        });
    }

    /// Erase a sector on behalf of code on the chip. Returns the FLASH_SR error bits.
    pub fn flash_erase(&mut self, sector: usize, origin: Origin) -> Result<u32, PowerLost> {
        if self.faults.dead_sector == Some(sector) {
            self.flash_ops += 1;
            return Ok(super::controller::ERR_OTHER);
        }
        let debugger = origin == Origin::Debugger;
        self.flash_op(origin, OpKind::Erase { sector }, |m| {
            m.with_flash_bus(debugger, |fc, bus| fc.erase_block(sector, bus))
        })
    }

    pub fn flash_mass_erase(&mut self, origin: Origin) -> Result<u32, PowerLost> {
        let debugger = origin == Origin::Debugger;
        self.flash_op(origin, OpKind::MassErase, |m| {
            m.with_flash_bus(debugger, |fc, bus| fc.mass_erase_block(bus))
        })
    }

    /// Program bytes on behalf of code on the chip. Returns the FLASH_SR error bits.
    pub fn flash_program(
        &mut self,
        address: u32,
        data: &[u8],
        origin: Origin,
    ) -> Result<u32, PowerLost> {
        if self.faults.dead_sector.is_some()
            && self.flash.sector_of(address) == self.faults.dead_sector
        {
            self.flash_ops += 1;
            return Ok(super::controller::ERR_OTHER);
        }
        if self.faults.weak_sector.is_some()
            && self.flash.sector_of(address) == self.faults.weak_sector
        {
            // Reported done, but the cells did not take the charge.
            self.flash_ops += 1;
            return Ok(0);
        }
        let debugger = origin == Origin::Debugger;
        self.pending_program = Some(data.to_vec());
        let kind = OpKind::Program {
            address,
            len: data.len() as u32,
        };
        let result = self.flash_op(origin, kind, |m| {
            m.with_flash_bus(debugger, |fc, bus| fc.program_block(address, data, bus))
        });
        self.pending_program = None;
        result
    }

    /// Erase the QSPI sector holding `address` (the bootloader's driver waits for WIP to
    /// clear). `None` when the address is not on the chip.
    pub fn qspi_erase(&mut self, address: u32, origin: Origin) -> Option<Result<(), PowerLost>> {
        let sector = super::qspi::chip(&mut self.qspi).sector_of(address)?;
        Some(
            self.flash_op(origin, OpKind::QspiErase { sector }, |m| {
                let cost = m.op_cost(OpKind::QspiErase { sector });
                super::qspi::chip(&mut m.qspi).erase_sector(sector);
                m.qspi_busy_until = m.clock.now().max(m.qspi_busy_until) + cost;
                0
            })
            .map(drop),
        )
    }

    /// Program bytes into the QSPI chip (NOR: bits only go 1 to 0).
    pub fn qspi_program(
        &mut self,
        address: u32,
        data: &[u8],
        origin: Origin,
    ) -> Option<Result<(), PowerLost>> {
        let chip = super::qspi::chip(&mut self.qspi);
        if !chip.contains(address) || !chip.contains(address + data.len() as u32 - 1) {
            return None;
        }
        let kind = OpKind::QspiProgram {
            address,
            len: data.len() as u32,
        };
        self.pending_program = Some(data.to_vec());
        let result = self.flash_op(origin, kind, |m| {
            let cost = m.op_cost(kind);
            super::qspi::chip(&mut m.qspi).program(address, data);
            m.qspi_busy_until = m.clock.now().max(m.qspi_busy_until) + cost;
            0
        });
        self.pending_program = None;
        Some(result.map(drop))
    }

    /// Read the QSPI chip (memory-mapped mode).
    pub fn qspi_read(&mut self, address: u32, len: usize) -> Option<Vec<u8>> {
        super::qspi::chip(&mut self.qspi)
            .read(address, len)
            .map(<[u8]>::to_vec)
    }

    /// A USB request reaches the device. A cut scheduled at it lands first (the host sees
    /// the device vanish); one scheduled after it lands in `usb_request_done`.
    pub fn usb_request(&mut self) -> Result<(), PowerLost> {
        self.usb_requests += 1;
        let n = self.usb_requests;
        match self.cut {
            Some(Cut {
                point: CutPoint::UsbRequest(k),
                when: CutWhen::Before | CutWhen::Inside,
            }) if k == n => {
                self.cut_power();
                Err(PowerLost)
            }
            Some(Cut {
                point: CutPoint::At(t),
                ..
            }) if t <= self.clock.now() => {
                self.cut_power();
                Err(PowerLost)
            }
            _ => Ok(()),
        }
    }

    pub fn usb_request_done(&mut self) {
        if let Some(Cut {
            point: CutPoint::UsbRequest(k),
            when: CutWhen::After,
        }) = self.cut
            && k == self.usb_requests
        {
            self.cut_power();
        }
    }

    /// The device drops off USB (reset, power, a jump).
    pub fn leave_bus(&mut self) {
        self.usb_epoch += 1;
    }

    /// Whether the device answers on USB now.
    pub fn usb_present(&self) -> bool {
        let now = self.clock.now();
        self.powered
            && !self.nrst_low
            && !self.core.halted
            && self.firmware.usb_mode().is_some()
            && !self.faults.never_enumerates
            && now >= self.usb_ready_at
            && now >= self.unplugged_until
    }

    /// The cable comes loose for a moment: the host loses the device, which carries on and
    /// sees a bus reset when it is plugged back.
    pub fn unplug_cable(&mut self, for_how_long: Duration) {
        self.unplugged_until = self.clock.now() + for_how_long;
        self.leave_bus();
        if let Firmware::Rom(f) | Firmware::Bootloader(_, f) = &mut self.firmware {
            f.usb_reset();
        }
    }

    // ------------------------------------------------------------------ the debugger's bus

    fn ram_mut(&mut self, address: u32, len: usize) -> Option<&mut [u8]> {
        self.ram.iter_mut().find_map(|(base, mem)| {
            let off = address.checked_sub(*base)? as usize;
            mem.get_mut(off..off.checked_add(len)?)
        })
    }

    pub fn ram_slice(&self, address: u32, len: usize) -> Option<&[u8]> {
        self.ram.iter().find_map(|(base, mem)| {
            let off = address.checked_sub(*base)? as usize;
            mem.get(off..off.checked_add(len)?)
        })
    }

    /// A read through the APB-AP: the debug components (DBGMCU on the H7).
    pub fn apb_read(&self, address: u32) -> u32 {
        if address & !3 == 0xE00E_1004 {
            self.dbgmcu_cr
        } else {
            0
        }
    }

    pub fn apb_write(&mut self, address: u32, value: u32) {
        if address & !3 == 0xE00E_1004 {
            self.dbgmcu_cr = value;
        }
    }

    /// A read through core `core`'s AHB-AP: the shared bus, but that core's own debug
    /// registers.
    pub fn debug_read_core(&mut self, core: usize, address: u32) -> Result<u32, BusFault> {
        if core > 0 && CortexM::is_debug_register(address & !3) {
            return Ok(self.core2.as_mut().map_or(0, |c| c.read(address & !3)));
        }
        self.debug_read(address)
    }

    pub fn debug_write_core(
        &mut self,
        core: usize,
        address: u32,
        lane_value: u32,
        size: u32,
    ) -> Result<(), BusFault> {
        if core > 0 && CortexM::is_debug_register(address & !3) {
            if let Some(c) = self.core2.as_mut() {
                // The second core runs nothing here: resumes and resets only move its state.
                let _ = c.write(address & !3, lane_value);
            }
            return Ok(());
        }
        self.debug_write(address, lane_value, size)
    }

    /// A 32-bit read by the debugger (the AHB-AP). Byte lanes are picked by the caller.
    pub fn debug_read(&mut self, address: u32) -> Result<u32, BusFault> {
        let a = address & !3;
        let p = &self.part;
        if self.flash.contains(a) {
            if self.debugger && self.fc.rdp_level() >= 1 {
                return Err(BusFault);
            }
            let b = self.flash.read(a, 4).ok_or(BusFault)?;
            return Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        if let Some(b) = self.ram_slice(a, 4) {
            return Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        if let Some(b) = self.otp.as_ref().and_then(|o| o.read(a, 4)) {
            return Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        if a >= p.flash_regs && a < p.flash_regs + 0x400 {
            let offset = a - p.flash_regs;
            let extra = self.option_fault.on_read(p.family, offset);
            return Ok(self.fc.read(offset, self.clock.now()) | extra);
        }
        if a >= p.uid_address && a < p.uid_address + 12 {
            return Ok(self.uid[((a - p.uid_address) / 4) as usize]);
        }
        if a == p.flash_size_address & !3 {
            let kib = self.part.flash_size() / 1024;
            let shift = 8 * (p.flash_size_address & 3);
            return Ok(kib << shift);
        }
        if a == p.idcode_address {
            return Ok(p.idcode);
        }
        if let Some(word) = self.fc.option_area(a) {
            return Ok(word);
        }
        if CortexM::is_debug_register(a) {
            return Ok(self.core.read(a));
        }
        Ok(self.other.get(&a).copied().unwrap_or(0))
    }

    /// A write by the debugger of `size` bytes (1, 2 or 4) with the value in its byte lane.
    pub fn debug_write(
        &mut self,
        address: u32,
        lane_value: u32,
        size: u32,
    ) -> Result<(), BusFault> {
        let a = address & !3;
        let shift = 8 * (address & 3);
        if self.flash.contains(a) || self.otp.as_ref().is_some_and(|o| o.contains(a)) {
            let value = lane_value >> shift;
            let (fc, mut bus) = self.flash_bus();
            fc.program(address, value, size, &mut bus);
            return Ok(());
        }
        if let Some(mem) = self.ram_mut(address, size as usize) {
            let bytes = (lane_value >> shift).to_le_bytes();
            mem.copy_from_slice(&bytes[..size as usize]);
            return Ok(());
        }
        let regs = self.part.flash_regs;
        if a >= regs && a < regs + 0x400 {
            // A byte or half-word write (ST's HAL writes OPTCR bytewise) changes only its lanes.
            let value = if size < 4 {
                let mask = (if size == 1 { 0xFFu32 } else { 0xFFFF }) << shift;
                let current = self.fc.read(a - regs, self.clock.now());
                (current & !mask) | (lane_value & mask)
            } else {
                lane_value
            };
            let (fc, now) = (&self.fc, self.clock.now());
            let value = self.option_fault.on_write(
                self.faults.option_change,
                self.part.family,
                a - regs,
                value,
                |offset| fc.read(offset, now),
            );
            let (fc, mut bus) = self.flash_bus();
            let result = fc.write(a - regs, value, &mut bus);
            if self.fc.take_obl_launch() {
                // OBL_LAUNCH: the option bytes load and the part resets (L4/G0).
                self.fc.power_on_reset();
                self.system_reset();
            }
            return result;
        }
        if CortexM::is_debug_register(a) {
            match self.core.write(a, lane_value) {
                CoreRequest::None => {}
                CoreRequest::SystemReset => self.system_reset(),
                CoreRequest::Resume { pc } => self.resume(pc),
            }
            return Ok(());
        }
        self.other.insert(a, lane_value);
        Ok(())
    }

    /// The core was let go at `pc`: a flash algorithm call, or the firmware running on.
    fn resume(&mut self, pc: u32) {
        if let Some(result) = super::algo::run_call(self, pc) {
            self.core.return_from_call(result);
            return;
        }
        if !self.booted {
            self.boot();
        } else {
            // The firmware carries on where it was halted; it is back on USB.
            self.usb_epoch += 1;
        }
    }
}
