//! Flash work and power cuts: every flash and QSPI operation goes through `flash_op`, where a
//! scheduled cut can land before, inside or after it.

use std::time::Duration;

use super::Mcu;
use crate::controller::{Controller, FlashBus};
use crate::fault::{self, Cut, CutPoint, CutWhen, EventRng, FlashOp, OpKind, Origin, PowerLost};
use crate::hw::Clock;

impl Mcu {
    pub fn schedule_cut(&mut self, cut: Cut) {
        self.cut = Some(cut);
    }

    pub(super) fn cut_power(&mut self) {
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
            OpKind::QspiErase { .. } => crate::qspi::timing(self.timing_mode).sector_erase,
            OpKind::QspiProgram { len, .. } => {
                crate::qspi::timing(self.timing_mode).page_program * len.div_ceil(256)
            }
        }
    }

    /// Every flash operation goes through here, so that a scheduled cut can land before,
    /// inside or after it. The operation itself is `apply`; a torn one is modelled instead.
    pub(super) fn flash_op(
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
                            let chip = crate::qspi::chip(&mut self.qspi);
                            fault::tear_erase(chip, sector, fraction, &mut rng);
                        }
                        OpKind::QspiProgram { address, len } => {
                            let data = self
                                .pending_program
                                .take()
                                .unwrap_or_else(|| vec![0; len as usize]);
                            let chip = crate::qspi::chip(&mut self.qspi);
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
            return Ok(crate::controller::ERR_OTHER);
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
            return Ok(crate::controller::ERR_OTHER);
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
        let sector = crate::qspi::chip(&mut self.qspi).sector_of(address)?;
        Some(
            self.flash_op(origin, OpKind::QspiErase { sector }, |m| {
                let cost = m.op_cost(OpKind::QspiErase { sector });
                crate::qspi::chip(&mut m.qspi).erase_sector(sector);
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
        let chip = crate::qspi::chip(&mut self.qspi);
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
            crate::qspi::chip(&mut m.qspi).program(address, data);
            m.qspi_busy_until = m.clock.now().max(m.qspi_busy_until) + cost;
            0
        });
        self.pending_program = None;
        Some(result.map(drop))
    }

    /// Read the QSPI chip (memory-mapped mode).
    pub fn qspi_read(&mut self, address: u32, len: usize) -> Option<Vec<u8>> {
        crate::qspi::chip(&mut self.qspi)
            .read(address, len)
            .map(<[u8]>::to_vec)
    }
}
