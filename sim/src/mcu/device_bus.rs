//! The bus as the unit's own running code sees it (the emulated core, `sim::exec`): the same
//! flash, RAM, FLASH registers and identity words the debugger reaches, through the same
//! paths, so that write protection, RDP and the controller's rules apply unchanged. What the
//! code's register writes make the controller erase or program is then counted as the
//! device's own flash operations, where a scheduled power cut can land.

use super::Mcu;
use crate::controller::BusFault;
use crate::fault::{OpKind, Origin};
use crate::flash::Journaled;

impl Mcu {
    /// A word of the part's memory or its modelled registers for code on the chip; `None`
    /// where nothing modelled answers (an unmodelled peripheral).
    pub fn device_read(&mut self, address: u32) -> Option<Result<u32, BusFault>> {
        self.memory_read(address & !3)
    }

    /// Whether `address` is one of the part's own modelled words (see [`Mcu::device_read`]).
    pub fn device_owns(&self, address: u32) -> bool {
        let (a, p) = (address & !3, &self.part);
        self.flash.contains(a)
            || self.ram_slice(a, 1).is_some()
            || self.otp.as_ref().is_some_and(|o| o.contains(a))
            || (a >= p.flash_regs && a < p.flash_regs + 0x400)
            || (a >= p.uid_address && a < p.uid_address + 12)
            || a == p.flash_size_address & !3
            || a == p.idcode_address
            || self.fc.option_area(a).is_some()
    }

    /// Bytes of RAM at `address`, for fast reads by the running core.
    pub fn ram_bytes(&self, address: u32, len: usize) -> Option<&[u8]> {
        self.ram_slice(address, len)
    }

    /// A write by code on the chip of `size` bytes (1, 2 or 4), the value in its byte lane.
    /// Identity words ignore it. Returns whether it reached the flash or its controller.
    pub fn device_write(
        &mut self,
        address: u32,
        lane_value: u32,
        size: u32,
    ) -> Result<bool, BusFault> {
        if let Some(mem) = self.ram_mut(address, size as usize) {
            let bytes = (lane_value >> (8 * (address & 3))).to_le_bytes();
            mem.copy_from_slice(&bytes[..size as usize]);
            return Ok(false);
        }
        let a = address & !3;
        let regs = self.part.flash_regs;
        let to_flash = self.flash.contains(a)
            || self.otp.as_ref().is_some_and(|o| o.contains(a))
            || (a >= regs && a < regs + 0x400);
        if !to_flash {
            return Ok(false);
        }
        // The debugger's path, noting what the array saw; then each erase or program is put
        // back and done again as a flash operation of the device's own (counted, cut-able).
        self.flash.start_journal();
        let result = self.debug_write(address, lane_value, size);
        let done = self.flash.take_journal();
        for j in done.iter().rev() {
            self.flash.poke(j.address, &j.old);
        }
        for j in done {
            if self.replay(j).is_err() {
                break;
            }
        }
        result.map(|()| true)
    }

    fn replay(&mut self, j: Journaled) -> Result<u32, crate::fault::PowerLost> {
        let kind = match (j.erase, j.all) {
            (_, true) => OpKind::MassErase,
            (Some(sector), false) => OpKind::Erase { sector },
            (None, false) => OpKind::Program {
                address: j.address,
                len: j.data.len() as u32,
            },
        };
        self.pending_program = (!j.data.is_empty()).then(|| j.data.clone());
        let result = self.flash_op(Origin::Device, kind, |m| {
            match kind {
                OpKind::MassErase => m.flash.erase_all(),
                OpKind::Erase { sector } => m.flash.erase_sector(sector),
                _ => {
                    m.flash.program(j.address, &j.data);
                }
            }
            0
        });
        self.pending_program = None;
        result
    }
}
