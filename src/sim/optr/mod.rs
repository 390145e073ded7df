//! The FLASH controller shared by the OPTR-style families (STM32L4, STM32G0): one model,
//! described per family by a [`Layout`] (facts file sections 3.0, 3.4, 3.5).
//!
//! [`crate::sim::l4`] and [`crate::sim::g0`] wrap [`OptrCore`] with their layout and a typed
//! options struct. Register offsets, bits and keys below are \[V\]/\[X\] in the facts file.
//!
//! Modelling choices (the facts file is silent or tags them \[R\]; where ST's RM0440 for the
//! sibling STM32G4 controller was read, it is named, but it is not the L4/G0 manual):
//! - three copies of the option words: `stored` (the option bytes in flash), `loaded` (the
//!   internal option registers, which govern protection) and `regs` (the software-visible
//!   FLASH_OPTR/WRPxyR/PCROPx registers). An option load (OBL_LAUNCH or power-on) copies
//!   stored → loaded; every system reset copies loaded → regs; writes change `regs`; OPTSTRT
//!   programs `regs` into `stored`. So after OPTSTRT the registers read what software wrote,
//!   and after a plain system reset they read the loaded (old) values again until an option
//!   load (RM0440 §4.4.2 "On system reset rising, internal option registers are copied into
//!   option registers which can be read and written by software") [R for L4/G0];
//! - OBL_LAUNCH is only latched here ([`OptrCore::take_obl_launch`]): the MCU must answer it
//!   with an option load and a system reset. It cannot be set while OPTLOCK is set (RM0440);
//! - a wrong KEYR sequence locks CR until reset; a wrong OPTKEYR sequence, or an OPTKEYR write
//!   while CR.LOCK is still set, keeps OPTLOCK set until reset; both answer with a bus error;
//! - programming is by 64-bit double word, two 32-bit writes low word first (RM0440 §4.3.7):
//!   byte/half-word writes SIZERR, a first word off a double-word boundary or a second word
//!   of another double word PGAERR, a write without PG PGSERR, a double word that is not
//!   all 0xFF PROGERR unless the new data is all zero (RM0440 \[R\]); any write or STRT while a
//!   programming error flag is still set PGSERR (RM0440 \[R\]). A first word left alone when
//!   CR changes (PG cleared, LOCK, STRT, OPTSTRT) is dropped with PGSERR (model's choice);
//! - "programmed once after erase" is judged from the cells (the array is shared with other
//!   code that erases or restores it): a double word is programmable when it reads all 0xFF;
//! - WRPERR for a WRP page, a PCROP double word (program) or page (erase), RDP level 1 with a
//!   debugger connected since power-on, and an option change at RDP level 2 (RM0440 \[R\]);
//!   a mass erase is refused if any page of the erased banks is WRP/PCROP protected;
//! - EOP is set only when EOPIE is set, OPERR only when ERRIE is set (RM0440 \[R\]);
//! - CR/option-register writes while BSY are stalled on silicon; like the F4 model, the
//!   model drops them and flags PGSERR (CR.LOCK/OPTLOCK are still honoured);
//! - RDP 1 → 0 (level 1 loaded, level 0 requested) erases at OPTSTRT: the whole array when
//!   PCROP_RDP is set or no PCROP area is loaded, and PCROP is then disabled; otherwise a
//!   partial erase keeps the pages overlapping a PCROP area and the PCROP settings
//!   (facts 3.0, from RM0444/RM0432; \[R\] for the L476). Outside a regression a PCROP area can
//!   only grow (RM0440 \[R\]). Backup registers/SRAM2 are not modelled;
//! - option-byte complements, OPTVERR, ECC errors (ECCR reads 0) and fast programming timing
//!   (MISERR/FASTERR) are not modelled; FSTPG writes follow the standard double-word rules.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sim::controller::{BusFault, FlashBus, KeyLock};
use crate::sim::flash::ERASED;

pub const KEY1: u32 = 0x4567_0123;
pub const KEY2: u32 = 0xCDEF_89AB;
pub const OPTKEY1: u32 = 0x0819_2A3B;
pub const OPTKEY2: u32 = 0x4C5D_6E7F;

/// Both families' FLASH registers sit at 0x4002_2000 (facts 3.4 OOCD, 3.5 CMSIS-G0).
pub const FLASH_REGS: u32 = 0x4002_2000;

pub const ACR: u32 = 0x00;
pub const KEYR: u32 = 0x08;
pub const OPTKEYR: u32 = 0x0C;
pub const SR: u32 = 0x10;
pub const CR: u32 = 0x14;
pub const ECCR: u32 = 0x18;
pub const OPTR: u32 = 0x20;
pub const WRP1AR: u32 = 0x2C;
pub const WRP1BR: u32 = 0x30;

pub const CR_PG: u32 = 1 << 0;
pub const CR_PER: u32 = 1 << 1;
pub const CR_MER1: u32 = 1 << 2;
pub const CR_PNB_SHIFT: u32 = 3;
pub const CR_STRT: u32 = 1 << 16;
pub const CR_OPTSTRT: u32 = 1 << 17;
pub const CR_FSTPG: u32 = 1 << 18;
pub const CR_EOPIE: u32 = 1 << 24;
pub const CR_ERRIE: u32 = 1 << 25;
pub const CR_RDERRIE: u32 = 1 << 26;
pub const CR_OBL_LAUNCH: u32 = 1 << 27;
pub const CR_OPTLOCK: u32 = 1 << 30;
pub const CR_LOCK: u32 = 1 << 31;

pub const SR_EOP: u32 = 1 << 0;
pub const SR_OPERR: u32 = 1 << 1;
pub const SR_PROGERR: u32 = 1 << 3;
pub const SR_WRPERR: u32 = 1 << 4;
pub const SR_PGAERR: u32 = 1 << 5;
pub const SR_SIZERR: u32 = 1 << 6;
pub const SR_PGSERR: u32 = 1 << 7;
pub const SR_MISERR: u32 = 1 << 8;
pub const SR_FASTERR: u32 = 1 << 9;
pub const SR_RDERR: u32 = 1 << 14;
pub const SR_OPTVERR: u32 = 1 << 15;
/// BSY (L4), BSY1 (G0).
pub const SR_BSY: u32 = 1 << 16;
/// Every error flag of SR (all write-1-to-clear).
pub const SR_ERRORS: u32 = SR_OPERR
    | SR_PROGERR
    | SR_WRPERR
    | SR_PGAERR
    | SR_SIZERR
    | SR_PGSERR
    | SR_MISERR
    | SR_FASTERR
    | SR_RDERR
    | SR_OPTVERR;
/// The flags that, still set, make the next program or erase a sequence error (RM0440 \[R\]).
pub const SR_PROG_ERRORS: u32 =
    SR_PROGERR | SR_WRPERR | SR_PGAERR | SR_SIZERR | SR_PGSERR | SR_MISERR | SR_FASTERR;
const SR_CLEARABLE: u32 = SR_ERRORS | SR_EOP;

/// RDP level from the RDP byte (OPTR bits 7:0): 0xAA level 0, 0xCC level 2, else level 1.
pub fn rdp_level(optr: u32) -> u8 {
    match optr & 0xFF {
        0xAA => 0,
        0xCC => 2,
        _ => 1,
    }
}

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

    fn cr_writable(&self) -> u32 {
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

    fn reg_index(&self, offset: u32) -> Option<usize> {
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

    fn any_pcrop(&self, words: &[u32]) -> bool {
        (0..self.pcrop.len()).any(|i| self.pcrop_range(words, i).is_some())
    }

    fn pcrop_rdp(&self, words: &[u32]) -> bool {
        let (reg, bit) = self.pcrop_rdp;
        words[reg] & bit != 0
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OptrCore {
    cr: u32,
    key: KeyLock,
    optkey: KeyLock,
    sr: u32,
    busy_until: Duration,
    /// CR.STRT / CR.OPTSTRT of the operation under way (they read 1 until BSY clears).
    busy_bits: u32,
    /// The first word of a double word: (address, value).
    pending: Option<(u32, u32)>,
    obl_request: bool,
    /// The software-visible option registers.
    regs: Vec<u32>,
    /// The option bytes in flash.
    stored: Vec<u32>,
    /// The internal option registers, loaded at the last option load: these govern.
    loaded: Vec<u32>,
}

impl OptrCore {
    /// A part as it comes out of a power-on with `options` in its option bytes.
    pub fn new(options: Vec<u32>) -> Self {
        let mut c = Self {
            cr: 0,
            key: KeyLock::new(),
            optkey: KeyLock::new(),
            sr: 0,
            busy_until: Duration::ZERO,
            busy_bits: 0,
            pending: None,
            obl_request: false,
            regs: options.clone(),
            loaded: options.clone(),
            stored: options,
        };
        c.power_on_reset();
        c
    }

    /// A system reset: locks, ends any operation, drops a lone first word and copies the
    /// loaded option values into the option registers. No option load.
    pub fn reset(&mut self) {
        self.cr = 0;
        self.key.reset();
        self.optkey.reset();
        self.sr = 0;
        self.busy_until = Duration::ZERO;
        self.busy_bits = 0;
        self.pending = None;
        self.obl_request = false;
        self.regs = self.loaded.clone();
    }

    /// An option load (OBL_LAUNCH or power-on): stored → loaded, then a system reset.
    pub fn power_on_reset(&mut self) {
        self.loaded = self.stored.clone();
        self.reset();
    }

    /// Whether software set CR.OBL_LAUNCH since the last call; clears the request.
    pub fn take_obl_launch(&mut self) -> bool {
        std::mem::take(&mut self.obl_request)
    }

    pub fn obl_launch_requested(&self) -> bool {
        self.obl_request
    }

    pub fn busy_until(&self) -> Duration {
        self.busy_until
    }

    pub fn stored(&self) -> &[u32] {
        &self.stored
    }

    pub fn loaded(&self) -> &[u32] {
        &self.loaded
    }

    pub fn registers(&self) -> &[u32] {
        &self.regs
    }

    pub fn set_stored(&mut self, words: Vec<u32>) {
        self.stored = words;
    }

    fn busy(&self, now: Duration) -> bool {
        now < self.busy_until
    }

    fn start_busy(&mut self, now: Duration, cost: Duration, bits: u32) {
        self.busy_until = self.busy_until.max(now) + cost;
        self.busy_bits = bits;
    }

    pub fn read(&self, l: &Layout, offset: u32, now: Duration) -> u32 {
        let busy = self.busy(now);
        match offset {
            SR => {
                let mut v = self.sr;
                if busy {
                    v |= SR_BSY | l.sr_cfgbsy;
                }
                if self.pending.is_some() {
                    v |= l.sr_cfgbsy;
                }
                v
            }
            CR => {
                let mut v = self.cr;
                if busy {
                    v |= self.busy_bits;
                }
                if self.obl_request {
                    v |= CR_OBL_LAUNCH;
                }
                if self.optkey.locked {
                    v |= CR_OPTLOCK;
                }
                if self.key.locked {
                    v |= CR_LOCK;
                }
                v
            }
            _ => match l.reg_index(offset) {
                Some(i) => self.regs[i],
                None => 0,
            },
        }
    }

    pub fn write(
        &mut self,
        l: &Layout,
        offset: u32,
        value: u32,
        bus: &mut FlashBus,
    ) -> Result<(), BusFault> {
        match offset {
            KEYR => self.key_write(value),
            OPTKEYR => self.optkey_write(value),
            SR => {
                self.sr &= !(value & SR_CLEARABLE);
                Ok(())
            }
            CR => {
                self.cr_write(l, value, bus);
                Ok(())
            }
            _ => {
                if let Some(i) = l.reg_index(offset) {
                    self.option_register_write(l, i, value, bus);
                }
                Ok(())
            }
        }
    }

    fn key_write(&mut self, value: u32) -> Result<(), BusFault> {
        // Facts 3.0: a wrong sequence locks FLASH_CR until the next reset, bus error; setting
        // LOCK also sets OPTLOCK (RM0444 p. 90).
        let result = self.key.key(value, KEY1, KEY2);
        if result.is_err() {
            self.optkey.locked = true;
            self.cr = 0;
            self.pending = None;
        }
        result
    }

    fn optkey_write(&mut self, value: u32) -> Result<(), BusFault> {
        // Facts 3.0: OPTKEYR works only once CR.LOCK is clear; a wrong sequence keeps OPTLOCK
        // set until the next reset, bus error.
        if self.key.locked {
            self.optkey.block();
            return Err(BusFault);
        }
        self.optkey.key(value, OPTKEY1, OPTKEY2)
    }

    /// Raise an error flag (and OPERR when ERRIE is set).
    fn fail(&mut self, flag: u32) {
        self.sr |= flag;
        if self.cr & CR_ERRIE != 0 {
            self.sr |= SR_OPERR;
        }
    }

    fn done(&mut self) {
        if self.cr & CR_EOPIE != 0 {
            self.sr |= SR_EOP;
        }
    }

    /// A lone first word is dropped: a sequence error.
    fn drop_pending(&mut self) {
        if self.pending.take().is_some() {
            self.fail(SR_PGSERR);
        }
    }

    fn flash_blocked(&self, bus: &FlashBus) -> bool {
        bus.debugger && rdp_level(self.loaded[0]) >= 1
    }

    fn cr_write(&mut self, l: &Layout, value: u32, bus: &mut FlashBus) {
        if self.key.locked {
            return;
        }
        if value & CR_LOCK != 0 {
            // Facts 3.0: setting LOCK also sets OPTLOCK.
            self.drop_pending();
            self.key.locked = true;
            self.optkey.locked = true;
            self.cr = 0;
            return;
        }
        if value & CR_OPTLOCK != 0 {
            self.optkey.locked = true;
        }
        if self.busy(bus.now) {
            self.sr |= SR_PGSERR;
            bus.log
                .push(format!("{}: FLASH_CR written while BSY (dropped)", l.name));
            return;
        }
        self.cr = value & l.cr_writable();
        let strt = value & CR_STRT != 0;
        let optstrt = value & CR_OPTSTRT != 0 && !self.optkey.locked;
        let obl = value & CR_OBL_LAUNCH != 0 && !self.optkey.locked;
        let programming =
            self.cr & (CR_PG | CR_FSTPG) != 0 && self.cr & (CR_PER | CR_MER1 | l.cr_mer2) == 0;
        if self.pending.is_some() && (!programming || strt || optstrt) {
            self.drop_pending();
        }
        if strt && optstrt {
            self.fail(SR_PGSERR);
            return;
        }
        if strt {
            self.start_erase(l, bus);
        }
        if optstrt {
            self.program_options(l, bus);
        }
        if obl {
            self.obl_request = true;
            bus.log.push(format!("{}: OBL_LAUNCH requested", l.name));
        }
    }

    fn start_erase(&mut self, l: &Layout, bus: &mut FlashBus) {
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

    fn option_register_write(&mut self, l: &Layout, i: usize, value: u32, bus: &mut FlashBus) {
        if self.optkey.locked {
            return;
        }
        if self.busy(bus.now) {
            self.sr |= SR_PGSERR;
            return;
        }
        let w = l.regs[i].writable;
        self.regs[i] = (self.regs[i] & !w) | (value & w);
    }

    /// OPTSTRT: the option registers are programmed into the option bytes. Not applied
    /// until the next option load.
    fn program_options(&mut self, l: &Layout, bus: &mut FlashBus) {
        if rdp_level(self.loaded[0]) == 2 {
            self.fail(SR_WRPERR);
            bus.log.push(format!(
                "{}: option bytes frozen at RDP level 2; OPTSTRT refused",
                l.name
            ));
            return;
        }
        let mut new = self.regs.clone();
        let mut erase_cost = Duration::ZERO;
        let regression = rdp_level(self.loaded[0]) == 1 && rdp_level(new[0]) == 0;
        if regression {
            if l.pcrop_rdp(&self.loaded) || !l.any_pcrop(&self.loaded) {
                bus.flash.erase_all();
                erase_cost = bus.timing.mass_erase;
                // PCROP is disabled: start above end.
                for a in l.pcrop {
                    new[a.start_reg] |= a.field;
                    new[a.end_reg] &= !a.field;
                }
                bus.log
                    .push(format!("{}: RDP regression 1 -> 0: mass erase", l.name));
            } else {
                let mut kept = 0;
                for p in 0..l.pages().min(bus.flash.sector_count()) {
                    if l.page_pcrop(&self.loaded, p) {
                        kept += 1;
                    } else {
                        bus.flash.erase_sector(p);
                        erase_cost += bus.timing.erase_time(l.page_size);
                    }
                }
                for a in l.pcrop {
                    new[a.start_reg] = self.stored[a.start_reg];
                    new[a.end_reg] = self.stored[a.end_reg];
                }
                bus.log.push(format!(
                    "{}: RDP regression 1 -> 0: partial mass erase, {kept} PCROP page(s) kept",
                    l.name
                ));
            }
        } else {
            // A PCROP area can only grow outside a regression (RM0440 [R]).
            for (i, a) in l.pcrop.iter().enumerate() {
                let Some((old_s, old_e)) = l.pcrop_range(&self.stored, i) else {
                    continue;
                };
                let grows = l
                    .pcrop_range(&new, i)
                    .is_some_and(|(s, e)| s <= old_s && e >= old_e);
                if !grows {
                    new[a.start_reg] = self.stored[a.start_reg];
                    new[a.end_reg] = self.stored[a.end_reg];
                    bus.log
                        .push(format!("{}: PCROP area {i} cannot shrink; kept", l.name));
                }
            }
        }
        self.stored = new;
        self.start_busy(bus.now, erase_cost + bus.timing.option_program, CR_OPTSTRT);
        self.done();
        bus.log.push(format!(
            "{}: option bytes programmed (OPTR {:#010x}); applied at the next option load",
            l.name, self.stored[0]
        ));
    }

    /// The memory-mapped option bytes: each stored word, its complement at +4.
    pub fn option_area(&self, l: &Layout, address: u32) -> Option<u32> {
        l.regs.iter().enumerate().find_map(|(i, r)| {
            if address == r.area {
                Some(self.stored[i])
            } else if address == r.area + 4 {
                Some(!self.stored[i])
            } else {
                None
            }
        })
    }

    /// Write OPTR through the registers as code would: unlock, OPTR, OPTSTRT, lock. No
    /// option load (the caller requests one if it wants the value applied).
    pub fn write_optr_through_registers(&mut self, l: &Layout, optr: u32, bus: &mut FlashBus) {
        if self.key.locked {
            let _ = self.write(l, KEYR, KEY1, bus);
            let _ = self.write(l, KEYR, KEY2, bus);
        }
        if self.optkey.locked {
            let _ = self.write(l, OPTKEYR, OPTKEY1, bus);
            let _ = self.write(l, OPTKEYR, OPTKEY2, bus);
        }
        let _ = self.write(l, OPTR, optr, bus);
        let _ = self.write(l, CR, CR_OPTSTRT, bus);
        let _ = self.write(l, CR, CR_LOCK, bus);
    }
}

/// The public face of a family's controller: the same methods as `F4Flash`, delegated to
/// [`OptrCore`] with the family's layout and typed options.
macro_rules! optr_family {
    ($flash:ident, $options:ident, $layout:expr) => {
        #[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
        pub struct $flash {
            core: $crate::sim::optr::OptrCore,
        }

        impl $flash {
            /// A part just powered on with `options` in its option bytes.
            pub fn new(options: $options) -> Self {
                Self {
                    core: $crate::sim::optr::OptrCore::new(options.to_words()),
                }
            }

            /// A part with the factory option bytes.
            pub fn factory() -> Self {
                Self::new($options::factory())
            }

            /// A system reset (NRST, SYSRESETREQ, watchdog): locks, ends any operation, the
            /// option registers show the loaded values again. Options are NOT reloaded.
            pub fn reset(&mut self) {
                self.core.reset()
            }

            /// An option load: power-on, or the reset that follows OBL_LAUNCH. Loads the
            /// stored option bytes, then resets like [`Self::reset`].
            pub fn power_on_reset(&mut self) {
                self.core.power_on_reset()
            }

            /// True once after software set CR.OBL_LAUNCH: the MCU must then do
            /// [`Self::power_on_reset`] (option load) and a system reset.
            pub fn take_obl_launch(&mut self) -> bool {
                self.core.take_obl_launch()
            }

            pub fn obl_launch_requested(&self) -> bool {
                self.core.obl_launch_requested()
            }

            pub fn busy_until(&self) -> std::time::Duration {
                self.core.busy_until()
            }

            /// A register read at `offset` from the FLASH base.
            pub fn read(&self, offset: u32, now: std::time::Duration) -> u32 {
                self.core.read(&$layout, offset, now)
            }

            pub fn write(
                &mut self,
                offset: u32,
                value: u32,
                bus: &mut $crate::sim::controller::FlashBus,
            ) -> Result<(), $crate::sim::controller::BusFault> {
                self.core.write(&$layout, offset, value, bus)
            }

            /// A bus write of `width` bytes into the flash array.
            pub fn program(
                &mut self,
                address: u32,
                value: u32,
                width: u32,
                bus: &mut $crate::sim::controller::FlashBus,
            ) {
                self.core.program(&$layout, address, value, width, bus)
            }

            /// Erase one page (global page index), as the controller does it.
            pub fn erase_page(&mut self, page: usize, bus: &mut $crate::sim::controller::FlashBus) {
                self.core.erase_page(&$layout, page, bus)
            }

            /// Erase a page on behalf of code on the chip. Returns the SR error bits raised.
            pub fn erase_block(
                &mut self,
                page: usize,
                bus: &mut $crate::sim::controller::FlashBus,
            ) -> u32 {
                self.core.erase_block(&$layout, page, bus)
            }

            /// Mass erase of every bank, as the controller does it (flags in SR).
            pub fn mass_erase(&mut self, bus: &mut $crate::sim::controller::FlashBus) {
                self.core.mass_erase(&$layout, bus)
            }

            /// Mass erase on behalf of code on the chip. Returns the SR error bits raised.
            pub fn mass_erase_block(&mut self, bus: &mut $crate::sim::controller::FlashBus) -> u32 {
                self.core.mass_erase_block(&$layout, bus)
            }

            /// Program on behalf of code on the chip. Returns the SR error bits raised.
            pub fn program_block(
                &mut self,
                address: u32,
                data: &[u8],
                bus: &mut $crate::sim::controller::FlashBus,
            ) -> u32 {
                self.core.program_block(&$layout, address, data, bus)
            }

            /// The option values loaded at the last option load (these govern).
            pub fn loaded_options(&self) -> $options {
                $options::from_words(self.core.loaded())
            }

            /// The option bytes as stored in flash (loaded at the next option load).
            pub fn stored_options(&self) -> $options {
                $options::from_words(self.core.stored())
            }

            /// What the option registers read now.
            pub fn register_options(&self) -> $options {
                $options::from_words(self.core.registers())
            }

            pub fn set_stored_options(&mut self, options: $options) {
                self.core.set_stored(options.to_words())
            }

            /// RDP level of the loaded options.
            pub fn rdp_level(&self) -> u8 {
                $crate::sim::optr::rdp_level(self.core.loaded()[0])
            }

            /// RDP level of the stored options.
            pub fn stored_rdp_level(&self) -> u8 {
                $crate::sim::optr::rdp_level(self.core.stored()[0])
            }

            /// A page (global index) inside a loaded WRP area.
            pub fn sector_write_protected(&self, page: usize) -> bool {
                $layout.page_wrp(self.core.loaded(), page)
            }

            /// A page the controller refuses to erase: WRP, or overlapping a loaded PCROP area.
            pub fn page_erase_protected(&self, page: usize) -> bool {
                $layout.page_wrp(self.core.loaded(), page)
                    || $layout.page_pcrop(self.core.loaded(), page)
            }

            /// An address inside a loaded PCROP area (execute-only: data reads fault).
            pub fn pcrop_protected(&self, address: u32) -> bool {
                $layout.address_pcrop(self.core.loaded(), address)
            }

            /// The ROM's Read Unprotect: RDP byte 0xAA in the stored options (the caller
            /// erases, and must do an option load for it to apply).
            pub fn store_rdp_level0(&mut self) {
                self.store_rdp_byte(0xAA);
            }

            /// Store an RDP byte in OPTR's cells, loaded at the next power-on or OBL_LAUNCH.
            pub fn store_rdp_byte(&mut self, byte: u8) {
                let mut words = self.core.stored().to_vec();
                words[0] = (words[0] & !0xFF) | byte as u32;
                self.core.set_stored(words);
            }

            /// A word of the memory-mapped option bytes (stored values, complement at +4).
            pub fn option_area(&self, address: u32) -> Option<u32> {
                self.core.option_area(&$layout, address)
            }

            /// Write FLASH_OPTR through the registers (unlock, OPTR, OPTSTRT, lock).
            pub fn write_options_through_registers(
                &mut self,
                optr: u32,
                bus: &mut $crate::sim::controller::FlashBus,
            ) {
                self.core.write_optr_through_registers(&$layout, optr, bus)
            }
        }
    };
}

pub(crate) use optr_family;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rdp_bytes() {
        assert_eq!(rdp_level(0xFFEF_F8AA), 0);
        assert_eq!(rdp_level(0xFFEF_F8CC), 2);
        assert_eq!(rdp_level(0xFFEF_F8BB), 1);
        assert_eq!(rdp_level(0xFFEF_F800), 1);
    }
}
