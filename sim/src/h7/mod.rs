//! The STM32H7 FLASH interface (H743/H753 and the dual-core H745/H755; RM0433/RM0399) at
//! register level, after section 3.3 of `../shared/reference/stm32-facts.md`.
//!
//! Register offsets, bit positions, keys, the RDP byte and the WPSN polarity are [V]/[X] in the
//! facts file. What the facts file does not say is marked below: "[R]" for a value recalled (not
//! read in RM0433/RM0399 or a datasheet), "model's choice" where the model had to pick.
//!
//! - Two banks of 8 × 128 KiB sectors; bank 2 at 0x0810_0000. Each bank has its own KEYRx,
//!   CRx, SRx and CCRx (bank 2's at +0x100) and its own LOCK, key sequence and busy time; the
//!   banks work in parallel. Global sector index = 8 × bank + SNB.
//! - A wrong key sequence blocks that KEYRx (or OPTKEYR) until the next reset and answers with
//!   a bus error (facts 3.0, applied to every family).
//! - Programming: with CRx.PG set, bus writes of any width fill the bank's 256-bit write buffer
//!   (32 bytes, one flash word); the flash word is programmed when all 32 bytes are written, or
//!   at CRx.FW (force write) with the missing bytes left at 0xFF (facts 3.3). A flash word carries
//!   ECC and can be programmed only once after an erase (facts 3.3, 5.1); programming one whose
//!   cells are not all erased raises OPERR and changes nothing (the facts file names no flag:
//!   model's choice). The model sees only cells: a flash word programmed with all 0xFF reads
//!   erased and may be programmed again, which silicon (whose ECC bits are written) would not
//!   like.
//! - Error flags (trigger conditions are not in the facts file; RM0433's names used as the
//!   model's choice): PGSERR for a write or START without a consistent CRx (PG not set on the
//!   addressed bank — which is also what "the other bank was unlocked" looks like —, bank
//!   locked, PG with SER/BER, SER with BER); INCERR for a write to another flash word while the
//!   buffer holds a partial one (buffer and write dropped); STRBERR for a second write to a
//!   byte already in the buffer (write dropped); WRPERR for a write-protected sector.
//! - With RDP level 1 loaded and a debugger connected since power-on, erase and program are
//!   refused with WRPERR (as the F4 model; the flag is the model's choice).
//! - Flags are cleared by writing 1 to CCRx at the SR bit positions (CMSIS layout; the facts file
//!   only says "clear by writing CCRx"). Writes to SRx change nothing.
//! - Option change (facts 3.3): OPTKEYR unlock, write OPTSR_PRG / WPSN_PRGx / BOOT_PRG
//!   (/ BOOT4_PRG), OPTCR.OPTSTART. OPTSR_CUR.OPT_BUSY is set for the option-programming time
//!   (plus the mass-erase time on an RDP 1 → 0 regression). The option cells are written at
//!   OPTSTART; the _CUR registers keep showing the old values while OPT_BUSY is set and show the
//!   new ones as soon as it clears, without a reset — facts 3.3 marks this [R] (inferred from
//!   HAL/OpenOCD code, RM text not read). Protection follows the new values from OPTSTART on:
//!   any erase or program issued meanwhile is queued behind OPT_BUSY, so it runs under them.
//! - RDP 1 → 0 erases both banks whatever the write protection [R] (facts 3.3: RM text not read;
//!   PCROP/DMEP not modelled). RDP level 2 freezes the options: OPTSTART then sets
//!   OPTSR_CUR.OPTCHANGEERR and changes nothing (the flag is the model's choice).
//! - Not modelled: PCROP/secure areas (PRAR/SCAR read as an empty area, writes ignored), CRC,
//!   ECC error reporting, bank swapping (SWAP_BANK_OPT is stored and reflected in
//!   OPTCR.SWAP_BANK, addresses never swap), the H7 dropping the debug link after an RDP change.

mod options;
mod programming;
mod registers;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::controller::KeyLock;
pub use crate::controller::{BusFault, FlashBus};
use crate::part::{FlashTiming, Timing};

pub use options::{H7Options, H7Variant, rdp_level};
pub use registers::*;

// ------------------------------------------------------------------ geometry (facts 5.1)

pub const FLASH_WORD: u32 = 32;
pub const SECTOR_SIZE: u32 = 128 * 1024;
pub const SECTORS_PER_BANK: usize = 8;
pub const BANK_SIZE: u32 = SECTOR_SIZE * SECTORS_PER_BANK as u32;
pub const BANK1_BASE: u32 = 0x0800_0000;
pub const BANK2_BASE: u32 = 0x0810_0000;

// ------------------------------------------------------------------ timing (facts 5.2)

/// Flash operation times, x32 parallelism column (the model ignores PSIZE, as the F4 model
/// ignores it for erase).
///
/// - Flash word (256 bit) program: 130 µs typ / 260 µs max [R] — facts 5.2 gives "~100-290 µs
///   depending on parallelism" [R]; the x32 pair is recalled from DS12110. `FlashTiming`'s
///   `word_program` is per 32-bit word of data, so it holds an eighth of that (16.25 / 32.5 µs),
///   and [`flash_word_program_time`] gives the flash-word time the controller charges.
/// - 128 KiB sector erase: 1.1 s typ / 2.2 s max for x32 [R] — facts 5.2 "1-2 s typ, max 4 s
///   (x8)" [R]; the corroborated maximum is 4 s [V]. (x32 figures also quoted by an ST employee
///   on the ST community forum.)
/// - Bank erase and mass erase (both banks erase in parallel, so one figure): 6 s typ / 12 s max
///   [R] — facts 5.2 "several seconds per bank" [R]; OpenOCD allows 30 s [V].
/// - Option programming (no RDP regression): 16 / 32 ms — not in the facts file at all; the
///   F4 model's assumption, reused.
pub fn timing(t: Timing) -> FlashTiming {
    let ms = Duration::from_millis;
    match t {
        Timing::Typical => FlashTiming {
            word_program: Duration::from_nanos(130_000 / 8),
            sector_erase: vec![(128, ms(1100))],
            mass_erase: ms(6000),
            option_program: ms(16),
        },
        Timing::Max => FlashTiming {
            word_program: Duration::from_nanos(260_000 / 8),
            sector_erase: vec![(128, ms(2200))],
            mass_erase: ms(12000),
            option_program: ms(32),
        },
    }
}

/// Programming one 256-bit flash word.
pub fn flash_word_program_time(t: &FlashTiming) -> Duration {
    t.word_program * (FLASH_WORD / 4)
}

/// Erasing one bank (CRx.BER): the mass-erase figure (model's choice: the facts file gives one
/// figure, "several seconds per bank").
pub fn bank_erase_time(t: &FlashTiming) -> Duration {
    t.mass_erase
}

// ------------------------------------------------------------------ the controller

/// A bank's 256-bit write buffer.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct WriteBuffer {
    /// The flash word's address (32-byte aligned).
    address: u32,
    data: [u8; 32],
    /// Bit i set: byte i has been written.
    valid: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Bank {
    cr: u32,
    key: KeyLock,
    /// Sticky flags (EOP and errors); BSY/QW/WBNE are computed.
    sr: u32,
    busy_until: Duration,
    buffer: Option<WriteBuffer>,
}

impl Bank {
    fn new() -> Self {
        Self {
            cr: CR_RESET,
            key: KeyLock::new(),
            sr: 0,
            busy_until: Duration::ZERO,
            buffer: None,
        }
    }

    fn busy(&self, now: Duration) -> bool {
        now < self.busy_until
    }

    fn cr_value(&self) -> u32 {
        self.cr | if self.key.locked { CR_LOCK } else { 0 }
    }

    fn sr_value(&self, now: Duration) -> u32 {
        let mut sr = self.sr;
        if self.busy(now) {
            sr |= SR_BSY | SR_QW;
        }
        if self.buffer.is_some() {
            sr |= SR_WBNE;
        }
        sr
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct H7Flash {
    banks: [Bank; 2],
    acr: u32,
    optkey: KeyLock,
    /// OPTCR's stored bits (OPTCHANGEERRIE).
    optcr: u32,
    optchangeerr: bool,
    opt_busy_until: Duration,
    /// The _PRG registers.
    prg: H7Options,
    /// The option bytes in their cells.
    stored: H7Options,
    /// The options in force: these govern protection.
    loaded: H7Options,
    /// What the _CUR registers show while OPT_BUSY is set (the options before the change).
    shown_before: Option<H7Options>,
}

impl H7Flash {
    pub fn new(factory: H7Options) -> Self {
        let factory = factory.masked();
        let mut f = Self {
            banks: [Bank::new(), Bank::new()],
            acr: ACR_RESET,
            optkey: KeyLock::new(),
            optcr: 0,
            optchangeerr: false,
            opt_busy_until: Duration::ZERO,
            prg: factory.clone(),
            stored: factory.clone(),
            loaded: factory,
            shown_before: None,
        };
        f.reset();
        f
    }

    /// A system reset or power-on: both banks and the options locked, key blocks lifted, flags
    /// cleared, operations under way ended (what they leave in the array is the caller's
    /// business), write buffers dropped, and the options loaded from their cells into the _CUR
    /// and _PRG registers.
    pub fn reset(&mut self) {
        self.banks = [Bank::new(), Bank::new()];
        self.acr = ACR_RESET;
        self.optkey.reset();
        self.optcr = 0;
        self.optchangeerr = false;
        self.opt_busy_until = Duration::ZERO;
        self.shown_before = None;
        self.loaded = self.stored.clone();
        self.prg = self.stored.clone();
    }

    pub fn loaded_options(&self) -> &H7Options {
        &self.loaded
    }

    pub fn stored_options(&self) -> &H7Options {
        &self.stored
    }

    /// Set the option cells directly (loaded at the next reset).
    pub fn set_stored_options(&mut self, options: H7Options) {
        self.stored = options.masked();
    }

    /// RDP level of the options in force.
    pub fn rdp_level(&self) -> u8 {
        self.loaded.rdp_level()
    }

    /// RDP level in the option cells (what the next reset loads).
    pub fn stored_rdp_level(&self) -> u8 {
        self.stored.rdp_level()
    }

    /// Whether global sector `sector` (0..15) is write-protected by the options in force.
    pub fn sector_write_protected(&self, sector: usize) -> bool {
        self.loaded.sector_write_protected(sector)
    }

    /// The bootloader's Read Unprotect: RDP 0xAA in the cells, loaded at the next reset (the
    /// caller erases).
    pub fn store_rdp_level0(&mut self) {
        self.store_rdp_byte(0xAA);
    }

    /// Store an RDP byte in the option cells, loaded at the next reset.
    pub fn store_rdp_byte(&mut self, byte: u8) {
        self.stored.optsr =
            (self.stored.optsr & !OPTSR_RDP_MASK) | ((byte as u32) << OPTSR_RDP_SHIFT);
    }

    /// The H7 has no memory-mapped user option area in the facts file (its ROM's "Option
    /// Bytes" alt setting is the FLASH register window from OPTSR_CUR, facts 2.7, which the
    /// register model already serves).
    pub fn option_area(&self, _address: u32) -> Option<u32> {
        None
    }

    pub fn busy_until(&self) -> Duration {
        self.banks[0]
            .busy_until
            .max(self.banks[1].busy_until)
            .max(self.opt_busy_until)
    }

    fn opt_busy(&self, now: Duration) -> bool {
        now < self.opt_busy_until
    }

    /// The options the _CUR registers show at `now`.
    fn shown(&self, now: Duration) -> &H7Options {
        match &self.shown_before {
            Some(before) if self.opt_busy(now) => before,
            _ => &self.loaded,
        }
    }

    /// When an operation of bank `b` asked for at `now` starts: after that bank's queue and
    /// after any option change.
    fn start_time(&self, b: usize, now: Duration) -> Duration {
        now.max(self.banks[b].busy_until).max(self.opt_busy_until)
    }

    fn start_busy(&mut self, b: usize, now: Duration, cost: Duration) {
        self.banks[b].busy_until = self.start_time(b, now) + cost;
    }
}
