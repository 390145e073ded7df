//! Bank erase and programming: sector, bank and mass erase, the 256-bit write buffer of each
//! bank, and the block operations run on behalf of code on the chip.

use super::{
    BANK_SIZE, CR_BER, CR_PG, CR_PSIZE_X64, CR_SER, FLASH_WORD, FlashBus, H7Flash,
    SECTORS_PER_BANK, SR_EOP, SR_ERRORS, SR_INCERR, SR_OPERR, SR_PGSERR, SR_STRBERR, SR_WRPERR,
    WriteBuffer, bank_erase_time, flash_word_program_time,
};
use crate::flash::{ERASED, FlashArray};

impl H7Flash {
    fn flash_blocked(&self, bus: &FlashBus) -> bool {
        bus.debugger && self.loaded.rdp_level() >= 1
    }

    // -------------------------------------------------------------- erase

    /// Erase one sector (global index 0..15), as the controller does it: protection first.
    pub fn erase_sector(&mut self, sector: usize, bus: &mut FlashBus) {
        let b = (sector / SECTORS_PER_BANK).min(1);
        if sector >= bus.flash.sector_count() {
            self.banks[b].sr |= SR_PGSERR;
            return;
        }
        if self.flash_blocked(bus) || self.loaded.sector_write_protected(sector) {
            self.banks[b].sr |= SR_WRPERR;
            return;
        }
        let size = bus.flash.sector(sector).map_or(0, |(_, s)| s);
        bus.flash.erase_sector(sector);
        self.start_busy(b, bus.now, bus.timing.erase_time(size));
        self.banks[b].sr |= SR_EOP;
    }

    /// CRx.BER: erase all sectors of bank `b`; refused with WRPERR if any is write-protected.
    pub(super) fn erase_bank(&mut self, b: usize, bus: &mut FlashBus) {
        let sectors = b * SECTORS_PER_BANK..(b + 1) * SECTORS_PER_BANK;
        if self.flash_blocked(bus)
            || sectors
                .clone()
                .any(|s| self.loaded.sector_write_protected(s))
        {
            self.banks[b].sr |= SR_WRPERR;
            return;
        }
        for s in sectors {
            bus.flash.erase_sector(s);
        }
        self.start_busy(b, bus.now, bank_erase_time(bus.timing));
        self.banks[b].sr |= SR_EOP;
    }

    /// Erase both banks (OPTCR.MER, or code on the chip). Refused as a whole with WRPERR in
    /// each bank that has a write-protected sector (model's choice: nothing is erased).
    pub fn mass_erase(&mut self, bus: &mut FlashBus) {
        let blocked = self.flash_blocked(bus);
        let mut refused = false;
        for b in 0..2 {
            let wrp = (b * SECTORS_PER_BANK..(b + 1) * SECTORS_PER_BANK)
                .any(|s| self.loaded.sector_write_protected(s));
            if blocked || wrp {
                self.banks[b].sr |= SR_WRPERR;
                refused = true;
            }
        }
        if refused {
            return;
        }
        bus.flash.erase_all();
        let end =
            self.start_time(0, bus.now).max(self.start_time(1, bus.now)) + bus.timing.mass_erase;
        for bank in &mut self.banks {
            bank.busy_until = end;
            bank.buffer = None;
            bank.sr |= SR_EOP;
        }
    }

    // -------------------------------------------------------------- program

    /// A bus write of `width` bytes (1, 2 or 4) into the flash array: into the write buffer of
    /// the addressed bank.
    pub fn program(&mut self, address: u32, value: u32, width: u32, bus: &mut FlashBus) {
        let bytes = value.to_le_bytes();
        let n = width.clamp(1, 4) as usize;
        for (i, &byte) in bytes[..n].iter().enumerate() {
            if !self.buffer_byte(address + i as u32, byte, bus) {
                break;
            }
        }
    }

    fn bank_index(address: u32, flash: &FlashArray) -> usize {
        (address.saturating_sub(flash.base()) / BANK_SIZE).min(1) as usize
    }

    /// One byte into the write buffer; programs the flash word when it is complete. False when
    /// the write was refused (the flag is raised).
    fn buffer_byte(&mut self, address: u32, byte: u8, bus: &mut FlashBus) -> bool {
        let b = Self::bank_index(address, bus.flash);
        let Some(sector) = bus.flash.sector_of(address) else {
            bus.log
                .push(format!("flash write outside the array at {address:#010x}"));
            self.banks[b].sr |= SR_PGSERR;
            return false;
        };
        let refused = self.flash_blocked(bus) || self.loaded.sector_write_protected(sector);
        let bank = &mut self.banks[b];
        if bank.key.locked || bank.cr & CR_PG == 0 || bank.cr & (CR_SER | CR_BER) != 0 {
            bank.sr |= SR_PGSERR;
            return false;
        }
        if refused {
            bank.sr |= SR_WRPERR;
            bank.buffer = None;
            return false;
        }
        let word = address & !(FLASH_WORD - 1);
        let i = (address & (FLASH_WORD - 1)) as usize;
        match &bank.buffer {
            Some(buf) if buf.address != word => {
                bank.sr |= SR_INCERR;
                bank.buffer = None;
                return false;
            }
            Some(buf) if buf.valid & (1 << i) != 0 => {
                bank.sr |= SR_STRBERR;
                return false;
            }
            _ => {}
        }
        let buf = bank.buffer.get_or_insert(WriteBuffer {
            address: word,
            data: [ERASED; 32],
            valid: 0,
        });
        buf.data[i] = byte;
        buf.valid |= 1 << i;
        if buf.valid == u32::MAX {
            return self.commit(b, bus);
        }
        true
    }

    /// Program the flash word in bank `b`'s buffer (unwritten bytes stay 0xFF). A flash word
    /// whose cells are not all erased is refused with OPERR (model's choice, see the `h7`
    /// module comment).
    pub(super) fn commit(&mut self, b: usize, bus: &mut FlashBus) -> bool {
        let Some(buf) = self.banks[b].buffer.take() else {
            return true;
        };
        let erased = bus
            .flash
            .read(buf.address, FLASH_WORD as usize)
            .is_some_and(|cells| cells.iter().all(|&c| c == ERASED));
        if !erased {
            bus.log.push(format!(
                "flash word at {:#010x} programmed twice without an erase: OPERR",
                buf.address
            ));
            self.banks[b].sr |= SR_OPERR;
            return false;
        }
        bus.flash.program(buf.address, &buf.data);
        self.start_busy(b, bus.now, flash_word_program_time(bus.timing));
        self.banks[b].sr |= SR_EOP;
        true
    }

    /// Program a block on behalf of code running on the chip (a bootloader, a flash
    /// algorithm): flash word by flash word, a partial last (or first) word force-written with
    /// its other bytes left erased. Returns the SR error bits raised (both banks' SR share the
    /// layout); they are cleared, as the HAL does.
    pub fn program_block(&mut self, address: u32, data: &[u8], bus: &mut FlashBus) -> u32 {
        let before = [self.banks[0].sr, self.banks[1].sr];
        let saved: Vec<_> = self
            .banks
            .iter()
            .map(|bank| (bank.cr, bank.key.locked, bank.buffer.clone()))
            .collect();
        for bank in &mut self.banks {
            bank.cr = CR_PG | CR_PSIZE_X64;
            bank.key.locked = false;
            bank.buffer = None;
        }
        let mut a = address;
        let mut rest = data;
        while !rest.is_empty() {
            let n = ((FLASH_WORD - (a & (FLASH_WORD - 1))) as usize).min(rest.len());
            let written = rest[..n]
                .iter()
                .enumerate()
                .all(|(i, &byte)| self.buffer_byte(a + i as u32, byte, bus));
            let b = Self::bank_index(a, bus.flash);
            if !written || (self.banks[b].buffer.is_some() && !self.commit(b, bus)) {
                break;
            }
            a += n as u32;
            rest = &rest[n..];
        }
        for (bank, (cr, locked, buffer)) in self.banks.iter_mut().zip(saved) {
            bank.cr = cr;
            bank.key.locked = locked;
            bank.buffer = buffer;
        }
        self.errors_since(before)
    }

    /// Erase a sector (global index) on behalf of code on the chip. Returns the SR error bits.
    pub fn erase_block(&mut self, sector: usize, bus: &mut FlashBus) -> u32 {
        let before = [self.banks[0].sr, self.banks[1].sr];
        self.erase_sector(sector, bus);
        self.errors_since(before)
    }

    /// Mass erase on behalf of code on the chip. Returns the SR error bits.
    pub fn mass_erase_block(&mut self, bus: &mut FlashBus) -> u32 {
        let before = [self.banks[0].sr, self.banks[1].sr];
        self.mass_erase(bus);
        self.errors_since(before)
    }

    fn errors_since(&mut self, before: [u32; 2]) -> u32 {
        let mut out = 0;
        for (bank, before) in self.banks.iter_mut().zip(before) {
            let raised = bank.sr & !before & SR_ERRORS;
            bank.sr &= !raised;
            out |= raised;
        }
        out
    }
}
