//! Erase and programming: page and bank erase, double-word programming, and the block
//! operations run on behalf of code on the chip.

use super::{
    CR_FSTPG, CR_MER1, CR_PER, CR_PG, CR_PNB_SHIFT, CR_STRT, Layout, OptrCore, SR_ERRORS,
    SR_PGAERR, SR_PGSERR, SR_PROG_ERRORS, SR_PROGERR, SR_SIZERR, SR_WRPERR,
};
use crate::controller::FlashBus;
use crate::flash::ERASED;

impl OptrCore {
    pub(super) fn start_erase(&mut self, l: &Layout, bus: &mut FlashBus) {
        if self.sr & SR_PROG_ERRORS != 0 {
            self.fail(SR_PGSERR);
            return;
        }
        let per = self.cr & CR_PER != 0;
        let mer = self.cr & (CR_MER1 | l.cr_mer2) != 0;
        let pg = self.cr & (CR_PG | CR_FSTPG) != 0;
        match (per, mer, pg) {
            (true, false, false) => {
                let pnb = ((self.cr >> CR_PNB_SHIFT) & l.pnb_mask) as usize;
                let bank = usize::from(self.cr & l.cr_bker != 0);
                self.erase_page(l, bank * l.pages_per_bank + pnb, bus);
            }
            (false, true, false) => {
                let mut banks = Vec::new();
                if self.cr & CR_MER1 != 0 {
                    banks.push(0);
                }
                if l.cr_mer2 != 0 && self.cr & l.cr_mer2 != 0 {
                    banks.push(1);
                }
                self.erase_banks(l, &banks, bus);
            }
            (false, false, false) => bus.log.push(format!(
                "{}: STRT with neither PER nor MER: nothing done",
                l.name
            )),
            _ => self.fail(SR_PGSERR),
        }
    }

    /// Erase one page (global index), protection checked first.
    pub fn erase_page(&mut self, l: &Layout, page: usize, bus: &mut FlashBus) {
        if page >= l.pages() || bus.flash.sector(page).is_none() {
            self.fail(SR_PGSERR);
            return;
        }
        if self.flash_blocked(bus)
            || l.page_wrp(&self.loaded, page)
            || l.page_pcrop(&self.loaded, page)
        {
            self.fail(SR_WRPERR);
            return;
        }
        bus.flash.erase_sector(page);
        self.start_busy(bus.now, bus.timing.erase_time(l.page_size), CR_STRT);
        self.done();
    }

    fn erase_banks(&mut self, l: &Layout, banks: &[usize], bus: &mut FlashBus) {
        let pages: Vec<usize> = banks
            .iter()
            .flat_map(|b| b * l.pages_per_bank..(b + 1) * l.pages_per_bank)
            .filter(|&p| p < bus.flash.sector_count())
            .collect();
        let protected = pages
            .iter()
            .any(|&p| l.page_wrp(&self.loaded, p) || l.page_pcrop(&self.loaded, p));
        if self.flash_blocked(bus) || protected {
            self.fail(SR_WRPERR);
            return;
        }
        for &p in &pages {
            bus.flash.erase_sector(p);
        }
        // Model's choice: banks erase in parallel, one mass-erase time whatever MER1/MER2.
        self.start_busy(bus.now, bus.timing.mass_erase, CR_STRT);
        self.done();
    }

    /// Mass erase of every bank.
    pub fn mass_erase(&mut self, l: &Layout, bus: &mut FlashBus) {
        let banks: Vec<usize> = (0..l.banks).collect();
        self.erase_banks(l, &banks, bus);
    }

    /// A 32-bit-or-smaller bus write into the flash array.
    pub fn program(
        &mut self,
        l: &Layout,
        address: u32,
        value: u32,
        width: u32,
        bus: &mut FlashBus,
    ) {
        let programming = !self.key.locked
            && self.cr & (CR_PG | CR_FSTPG) != 0
            && self.cr & (CR_PER | CR_MER1 | l.cr_mer2) == 0;
        if !programming || self.sr & SR_PROG_ERRORS != 0 {
            self.pending = None;
            self.fail(SR_PGSERR);
            return;
        }
        if width != 4 {
            self.pending = None;
            self.fail(SR_SIZERR);
            return;
        }
        match self.pending.take() {
            None if !address.is_multiple_of(8) => self.fail(SR_PGAERR),
            None => self.pending = Some((address, value)),
            Some((first, _)) if address != first.wrapping_add(4) => self.fail(SR_PGAERR),
            Some((first, low)) => {
                let data = u64::from(low) | (u64::from(value) << 32);
                self.program_double_word(l, first, data, bus);
            }
        }
    }

    fn program_double_word(&mut self, l: &Layout, address: u32, data: u64, bus: &mut FlashBus) {
        let Some(page) = bus.flash.sector_of(address) else {
            self.fail(SR_PGSERR);
            return;
        };
        if self.flash_blocked(bus)
            || l.page_wrp(&self.loaded, page)
            || l.address_pcrop(&self.loaded, address)
        {
            self.fail(SR_WRPERR);
            return;
        }
        let erased = bus
            .flash
            .read(address, 8)
            .is_some_and(|cells| cells.iter().all(|&b| b == ERASED));
        if !erased && data != 0 {
            self.fail(SR_PROGERR);
            return;
        }
        bus.flash.program(address, &data.to_le_bytes());
        self.start_busy(bus.now, bus.timing.word_program * 2, 0);
        self.done();
    }

    /// Program a block on behalf of code on the chip, double word by double word (a short
    /// tail is padded with 0xFF). Stale programming flags are cleared first, as the HAL
    /// does. Returns the SR error bits raised (and clears them).
    pub fn program_block(
        &mut self,
        l: &Layout,
        address: u32,
        data: &[u8],
        bus: &mut FlashBus,
    ) -> u32 {
        self.sr &= !SR_PROG_ERRORS;
        let before = self.sr;
        let (cr, locked) = (self.cr, self.key.locked);
        self.key.locked = false;
        self.cr = CR_PG;
        self.pending = None;
        for (i, chunk) in data.chunks(8).enumerate() {
            let mut dw = [ERASED; 8];
            dw[..chunk.len()].copy_from_slice(chunk);
            let at = address.wrapping_add(8 * i as u32);
            let lo = u32::from_le_bytes([dw[0], dw[1], dw[2], dw[3]]);
            let hi = u32::from_le_bytes([dw[4], dw[5], dw[6], dw[7]]);
            self.program(l, at, lo, 4, bus);
            if self.sr & !before & SR_ERRORS != 0 {
                break;
            }
            self.program(l, at.wrapping_add(4), hi, 4, bus);
            if self.sr & !before & SR_ERRORS != 0 {
                break;
            }
        }
        self.pending = None;
        self.cr = cr;
        self.key.locked = locked;
        self.errors_since(before)
    }

    /// Erase a page on behalf of code on the chip. Returns the SR error bits raised.
    pub fn erase_block(&mut self, l: &Layout, page: usize, bus: &mut FlashBus) -> u32 {
        self.sr &= !SR_PROG_ERRORS;
        let before = self.sr;
        self.erase_page(l, page, bus);
        self.errors_since(before)
    }

    /// Mass erase on behalf of code on the chip. Returns the SR error bits raised.
    pub fn mass_erase_block(&mut self, l: &Layout, bus: &mut FlashBus) -> u32 {
        self.sr &= !SR_PROG_ERRORS;
        let before = self.sr;
        self.mass_erase(l, bus);
        self.errors_since(before)
    }

    fn errors_since(&mut self, before: u32) -> u32 {
        let raised = self.sr & !before & SR_ERRORS;
        self.sr &= !raised;
        raised
    }
}
