//! The debugger's bus: reads and writes through the AHB-AP and APB-AP (flash, RAM, the FLASH
//! registers, identity, the cores' debug registers).

use super::Mcu;
use crate::controller::BusFault;
use crate::core::{CoreRequest, CortexM};
use crate::hw::Clock;

impl Mcu {
    pub(super) fn ram_mut(&mut self, address: u32, len: usize) -> Option<&mut [u8]> {
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
        if let Some(read) = self.memory_read(a) {
            return read;
        }
        if CortexM::is_debug_register(a) {
            return Ok(self.core.read(a));
        }
        Ok(self.other.get(&a).copied().unwrap_or(0))
    }

    /// A word the part's own memory answers (flash, RAM, OTP, the FLASH registers, identity,
    /// option bytes), for the debugger and the emulated core alike; `None` elsewhere.
    pub(super) fn memory_read(&mut self, a: u32) -> Option<Result<u32, BusFault>> {
        let p = &self.part;
        if self.flash.contains(a) {
            if self.debugger && self.fc.rdp_level() >= 1 {
                return Some(Err(BusFault));
            }
            let Some(b) = self.flash.read(a, 4) else {
                return Some(Err(BusFault));
            };
            return Some(Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        if let Some(b) = self.ram_slice(a, 4) {
            return Some(Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        if let Some(b) = self.otp.as_ref().and_then(|o| o.read(a, 4)) {
            return Some(Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]])));
        }
        if a >= p.flash_regs && a < p.flash_regs + 0x400 {
            let offset = a - p.flash_regs;
            let extra = self.option_fault.on_read(p.family, offset);
            return Some(Ok(self.fc.read(offset, self.clock.now()) | extra));
        }
        if a >= p.uid_address && a < p.uid_address + 12 {
            return Some(Ok(self.uid[((a - p.uid_address) / 4) as usize]));
        }
        if a == p.flash_size_address & !3 {
            let kib = self.part.flash_size() / 1024;
            let shift = 8 * (p.flash_size_address & 3);
            return Some(Ok(kib << shift));
        }
        if a == p.idcode_address {
            return Some(Ok(p.idcode));
        }
        if let Some(word) = self.fc.option_area(a) {
            return Some(Ok(word));
        }
        None
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
        if let Some(result) = crate::algo::run_call(self, pc) {
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
