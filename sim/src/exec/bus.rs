//! `station_cpu::Bus` over a simulated MCU, for the emulated core running the unit's flashed
//! code: flash (with its boot alias), RAM, the FLASH controller's registers (through the
//! debugger's paths: `Mcu::device_read` / `Mcu::device_write`), identity words, and the least
//! of RCC and PWR ([`super::clocks`]). Every other address reads 0 and ignores writes, and is
//! recorded with the PC of the instruction that reached it: the run never crashes the bench.

use std::collections::BTreeMap;

use station_cpu::{Bus, BusError, Size};

use super::clocks::Clocks;
use crate::fault::OpKind;
use crate::mcu::Mcu;
use crate::part::Family;

/// At most this many distinct unmodelled addresses are listed (the rest are counted).
const MAX_TOUCHED: usize = 256;

/// Accesses to one unmodelled address.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Touch {
    pub address: u32,
    pub write: bool,
    /// The PC of the first instruction that reached it.
    pub pc: u32,
    pub count: u64,
}

/// The bus one run of the core sees.
pub struct ExecBus<'a> {
    pub mcu: &'a mut Mcu,
    clocks: Clocks,
    /// FLASH_ACR where the controller model does not keep it (F4/F7/L4/G0: latency and
    /// caches are plain storage here; RM0090 3.9.1).
    acr: Option<u32>,
    /// The boot alias of flash at 0 (RM0090 2.4: main flash at 0x0000_0000 when booting
    /// from it; F7 also at its ITCM address 0x0020_0000, RM0410 2.2.2).
    alias: Option<(u32, u32)>,
    /// The PC of the instruction executing (set by the runner before each step).
    pub pc: u32,
    touched: BTreeMap<(u32, bool), Touch>,
    /// Unmodelled accesses beyond the listed addresses.
    pub untracked: u64,
    /// A write reached the flash or its controller.
    pub flash_written: bool,
    /// The code's register writes erased flash: decoded instructions must be dropped.
    pub erased: bool,
}

impl<'a> ExecBus<'a> {
    pub fn new(mcu: &'a mut Mcu) -> Self {
        let family = mcu.part.family;
        let base = mcu.part.flash_base;
        let alias = match family {
            Family::F4 | Family::L4 | Family::G0 => Some(0),
            Family::F7 => Some(0x0020_0000),
            Family::H7 => None,
        }
        .map(|a| (a, base));
        Self {
            clocks: Clocks::new(family),
            acr: (family != Family::H7).then_some(0),
            alias,
            mcu,
            pc: 0,
            touched: BTreeMap::new(),
            untracked: 0,
            flash_written: false,
            erased: false,
        }
    }

    /// The unmodelled addresses reached, in address order.
    pub fn touched(&self) -> Vec<Touch> {
        self.touched.values().cloned().collect()
    }

    fn record(&mut self, address: u32, write: bool) {
        let pc = self.pc;
        let full = self.touched.len() >= MAX_TOUCHED;
        match self.touched.get_mut(&(address, write)) {
            Some(t) => t.count += 1,
            None if full => self.untracked += 1,
            None => {
                self.touched.insert(
                    (address, write),
                    Touch {
                        address,
                        write,
                        pc,
                        count: 1,
                    },
                );
            }
        }
    }

    /// An address in the flash's boot alias, moved to the flash itself.
    fn unalias(&self, addr: u32) -> u32 {
        match self.alias {
            Some((alias, base)) if addr >= alias && addr - alias < self.mcu.flash.size() => {
                addr - alias + base
            }
            _ => addr,
        }
    }

    fn acr_offset(&self, addr: u32) -> bool {
        self.acr.is_some() && addr & !3 == self.mcu.part.flash_regs
    }

    fn read_word(&mut self, addr: u32) -> Result<u32, BusError> {
        let a = addr & !3;
        if let Some(b) = self.mcu.ram_bytes(a, 4) {
            return Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        }
        if self.acr_offset(a) {
            return Ok(self.acr.unwrap_or(0));
        }
        if let Some(read) = self.mcu.device_read(a) {
            return read.map_err(|_| BusError);
        }
        if self.clocks.owns(a) {
            return Ok(self.clocks.read(a));
        }
        if !peripheral_space(a) {
            return Err(BusError);
        }
        self.record(a, false);
        Ok(0)
    }
}

/// Addresses where a peripheral or system register may sit (system memory and the option
/// area 0x1FF0_0000.., the peripherals 0x4000_0000..0x6000_0000, the private peripheral bus
/// and vendor space 0xE000_0000..; B3.1): unmodelled ones read 0 and are recorded. Anything
/// else that no memory answers is a bus error, as on silicon.
fn peripheral_space(a: u32) -> bool {
    (0x1FF0_0000..0x2000_0000).contains(&a)
        || (0x4000_0000..0x6000_0000).contains(&a)
        || a >= 0xE000_0000
}

fn bytes(size: Size) -> u32 {
    match size {
        Size::Byte => 1,
        Size::Half => 2,
        Size::Word => 4,
    }
}

impl Bus for ExecBus<'_> {
    fn read(&mut self, addr: u32, size: Size) -> Result<u32, BusError> {
        let addr = self.unalias(addr);
        let n = bytes(size);
        // The core splits only aligned accesses to the bus, so one word holds them.
        let word = self.read_word(addr)?;
        let shift = 8 * (addr & 3);
        let mask = if n == 4 { u32::MAX } else { (1 << (8 * n)) - 1 };
        Ok((word >> shift) & mask)
    }

    fn write(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusError> {
        let n = bytes(size);
        let lane = value << (8 * (addr & 3));
        if self.acr_offset(addr) {
            let old = self.acr.unwrap_or(0);
            let mask = if n == 4 {
                u32::MAX
            } else {
                ((1u32 << (8 * n)) - 1) << (8 * (addr & 3))
            };
            self.acr = Some((old & !mask) | (lane & mask));
            return Ok(());
        }
        if self.mcu.device_owns(addr) {
            let ops = self.mcu.ops.len();
            let reached = self.mcu.device_write(addr, lane, n).map_err(|_| BusError)?;
            self.flash_written |= reached;
            self.erased |= self.mcu.ops.get(ops..).is_some_and(|new| {
                new.iter()
                    .any(|o| matches!(o.kind, OpKind::Erase { .. } | OpKind::MassErase))
            });
            return Ok(());
        }
        if self.clocks.owns(addr) {
            self.clocks.write(addr, lane, n);
            return Ok(());
        }
        if !peripheral_space(addr) {
            return Err(BusError);
        }
        self.record(addr & !3, true);
        Ok(())
    }

    fn fetch16(&mut self, addr: u32) -> Result<u16, BusError> {
        let addr = self.unalias(addr);
        if let Some(b) = self.mcu.flash.read(addr, 2) {
            // RDP level 1 with a debugger connected blocks the core's flash access too
            // (RM0090 3.7.3).
            if self.mcu.debugger && self.mcu.fc.rdp_level() >= 1 {
                return Err(BusError);
            }
            return Ok(u16::from_le_bytes([b[0], b[1]]));
        }
        if let Some(b) = self.mcu.ram_bytes(addr, 2) {
            return Ok(u16::from_le_bytes([b[0], b[1]]));
        }
        // Code runs only from flash and RAM here (system memory is not modelled as code).
        Err(BusError)
    }
}
