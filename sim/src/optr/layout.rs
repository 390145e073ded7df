//! The family layout: what differs between the L4 and the G0 (geometry, option registers,
//! WRP and PCROP areas).

use super::{CR_EOPIE, CR_ERRIE, CR_FSTPG, CR_MER1, CR_PER, CR_PG, CR_PNB_SHIFT, CR_RDERRIE};

/// One option register: its offset from the FLASH base, the bits software may change (the
/// others keep their value), and where its word sits in the memory-mapped option bytes
/// (the complement follows at +4).
#[derive(Debug)]
pub struct OptReg {
    pub name: &'static str,
    pub offset: u32,
    pub writable: u32,
    pub area: u32,
}

/// A WRP area: start page in bits `field`, end page in bits `field << 16`, as page offsets
/// inside `bank`; active when start <= end.
#[derive(Debug)]
pub struct Wrp {
    pub reg: usize,
    pub bank: usize,
    pub field: u32,
}

/// A PCROP area: start and end offsets (in units of `granule` bytes from the base of `bank`)
/// in the low bits `field` of two registers; active when start <= end.
#[derive(Debug)]
pub struct Pcrop {
    pub start_reg: usize,
    pub end_reg: usize,
    pub bank: usize,
    pub field: u32,
    pub granule: u32,
}

/// What differs between the families.
#[derive(Debug)]
pub struct Layout {
    pub name: &'static str,
    pub flash_base: u32,
    pub page_size: u32,
    pub banks: usize,
    pub pages_per_bank: usize,
    /// PNB field mask after shifting by [`CR_PNB_SHIFT`].
    pub pnb_mask: u32,
    /// CR.BKER (bank of PNB), 0 when the part has none.
    pub cr_bker: u32,
    /// CR.MER2 (mass erase of bank 2), 0 when the part has none.
    pub cr_mer2: u32,
    /// Extra SR bits shown while busy (G0 CFGBSY), also while a first word waits.
    pub sr_cfgbsy: u32,
    /// Option registers; index 0 is FLASH_OPTR.
    pub regs: &'static [OptReg],
    pub wrp: &'static [Wrp],
    pub pcrop: &'static [Pcrop],
    /// (register index, bit) of PCROP_RDP.
    pub pcrop_rdp: (usize, u32),
}

impl Layout {
    pub fn pages(&self) -> usize {
        self.banks * self.pages_per_bank
    }

    pub fn bank_size(&self) -> u32 {
        self.pages_per_bank as u32 * self.page_size
    }

    pub(super) fn cr_writable(&self) -> u32 {
        CR_PG
            | CR_PER
            | CR_MER1
            | (self.pnb_mask << CR_PNB_SHIFT)
            | self.cr_bker
            | self.cr_mer2
            | CR_FSTPG
            | CR_EOPIE
            | CR_ERRIE
            | CR_RDERRIE
    }

    pub(super) fn reg_index(&self, offset: u32) -> Option<usize> {
        self.regs.iter().position(|r| r.offset == offset)
    }

    /// Global pages [first, last] of WRP area `i` in `words`, if active.
    pub fn wrp_pages(&self, words: &[u32], i: usize) -> Option<(usize, usize)> {
        let a = &self.wrp[i];
        let v = words[a.reg];
        let (start, end) = ((v & a.field) as usize, ((v >> 16) & a.field) as usize);
        let base = a.bank * self.pages_per_bank;
        (start <= end).then_some((base + start, base + end))
    }

    /// Byte addresses [start, end) of PCROP area `i` in `words`, if active.
    pub fn pcrop_range(&self, words: &[u32], i: usize) -> Option<(u32, u32)> {
        let a = &self.pcrop[i];
        let (start, end) = (words[a.start_reg] & a.field, words[a.end_reg] & a.field);
        let base = self.flash_base + a.bank as u32 * self.bank_size();
        (start <= end).then(|| (base + start * a.granule, base + (end + 1) * a.granule))
    }

    pub fn page_wrp(&self, words: &[u32], page: usize) -> bool {
        (0..self.wrp.len())
            .filter_map(|i| self.wrp_pages(words, i))
            .any(|(first, last)| (first..=last).contains(&page))
    }

    pub fn page_pcrop(&self, words: &[u32], page: usize) -> bool {
        let start = self.flash_base + page as u32 * self.page_size;
        let end = start + self.page_size;
        (0..self.pcrop.len())
            .filter_map(|i| self.pcrop_range(words, i))
            .any(|(s, e)| s < end && start < e)
    }

    pub fn address_pcrop(&self, words: &[u32], address: u32) -> bool {
        (0..self.pcrop.len())
            .filter_map(|i| self.pcrop_range(words, i))
            .any(|(s, e)| (s..e).contains(&address))
    }

    pub(super) fn any_pcrop(&self, words: &[u32]) -> bool {
        (0..self.pcrop.len()).any(|i| self.pcrop_range(words, i).is_some())
    }

    pub(super) fn pcrop_rdp(&self, words: &[u32]) -> bool {
        let (reg, bit) = self.pcrop_rdp;
        words[reg] & bit != 0
    }
}
