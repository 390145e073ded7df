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

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sim::controller::KeyLock;
pub use crate::sim::controller::{BusFault, FlashBus};
use crate::sim::flash::{ERASED, FlashArray};
use crate::sim::part::{FlashTiming, Timing};

// ------------------------------------------------------------------ keys (facts 3.0)

pub const KEY1: u32 = 0x4567_0123;
pub const KEY2: u32 = 0xCDEF_89AB;
pub const OPTKEY1: u32 = 0x0819_2A3B;
pub const OPTKEY2: u32 = 0x4C5D_6E7F;

// ------------------------------------------------------------------ register offsets (facts 3.3)

/// FLASH register base (CMSIS-H7 `FLASH_R_BASE`, facts 3.3); offsets below are from here.
pub const FLASH_R_BASE: u32 = 0x5200_2000;

pub const ACR: u32 = 0x000;
pub const KEYR1: u32 = 0x004;
pub const OPTKEYR: u32 = 0x008;
pub const CR1: u32 = 0x00C;
pub const SR1: u32 = 0x010;
pub const CCR1: u32 = 0x014;
pub const OPTCR: u32 = 0x018;
pub const OPTSR_CUR: u32 = 0x01C;
pub const OPTSR_PRG: u32 = 0x020;
pub const OPTCCR: u32 = 0x024;
pub const PRAR_CUR1: u32 = 0x028;
pub const PRAR_PRG1: u32 = 0x02C;
pub const SCAR_CUR1: u32 = 0x030;
pub const SCAR_PRG1: u32 = 0x034;
pub const WPSN_CUR1: u32 = 0x038;
pub const WPSN_PRG1: u32 = 0x03C;
/// BOOT_CUR; on H745/H755 BOOT7_CUR (Cortex-M7 boot addresses).
pub const BOOT_CUR: u32 = 0x040;
pub const BOOT_PRG: u32 = 0x044;
/// H745/H755 only: Cortex-M4 boot addresses. Reserved (reads 0) on H743/H753.
pub const BOOT4_CUR: u32 = 0x048;
pub const BOOT4_PRG: u32 = 0x04C;
/// Bank 2's registers sit at bank 1's offsets plus this.
pub const BANK2: u32 = 0x100;
pub const KEYR2: u32 = BANK2 + KEYR1;
pub const CR2: u32 = BANK2 + CR1;
pub const SR2: u32 = BANK2 + SR1;
pub const CCR2: u32 = BANK2 + CCR1;
pub const PRAR_CUR2: u32 = BANK2 + PRAR_CUR1;
pub const PRAR_PRG2: u32 = BANK2 + PRAR_PRG1;
pub const SCAR_CUR2: u32 = BANK2 + SCAR_CUR1;
pub const SCAR_PRG2: u32 = BANK2 + SCAR_PRG1;
pub const WPSN_CUR2: u32 = BANK2 + WPSN_CUR1;
pub const WPSN_PRG2: u32 = BANK2 + WPSN_PRG1;

// ------------------------------------------------------------------ bits (facts 3.3, [V])

pub const CR_LOCK: u32 = 1 << 0;
pub const CR_PG: u32 = 1 << 1;
pub const CR_SER: u32 = 1 << 2;
pub const CR_BER: u32 = 1 << 3;
pub const CR_PSIZE_MASK: u32 = 3 << 4;
pub const CR_PSIZE_X64: u32 = 3 << 4;
pub const CR_FW: u32 = 1 << 6;
pub const CR_START: u32 = 1 << 7;
pub const CR_SNB_SHIFT: u32 = 8;
pub const CR_SNB_MASK: u32 = 7 << CR_SNB_SHIFT;
pub const CR_CRC_EN: u32 = 1 << 15;
/// Interrupt enables, bits 16..28.
const CR_IE_MASK: u32 = 0x1FFF_0000;
/// What CRx keeps (START and FW are actions and read 0).
const CR_STORED: u32 =
    CR_PG | CR_SER | CR_BER | CR_PSIZE_MASK | CR_SNB_MASK | CR_CRC_EN | CR_IE_MASK;
/// CRx after reset: LOCK and PSIZE = x64 ([R]: RM0433 reset value 0x0000_0031, recalled).
const CR_RESET: u32 = CR_PSIZE_X64;

pub const SR_BSY: u32 = 1 << 0;
pub const SR_WBNE: u32 = 1 << 1;
pub const SR_QW: u32 = 1 << 2;
pub const SR_CRC_BUSY: u32 = 1 << 3;
pub const SR_EOP: u32 = 1 << 16;
pub const SR_WRPERR: u32 = 1 << 17;
pub const SR_PGSERR: u32 = 1 << 18;
pub const SR_STRBERR: u32 = 1 << 19;
pub const SR_INCERR: u32 = 1 << 21;
pub const SR_OPERR: u32 = 1 << 22;
pub const SR_RDPERR: u32 = 1 << 23;
pub const SR_RDSERR: u32 = 1 << 24;
pub const SR_SNECCERR: u32 = 1 << 25;
pub const SR_DBECCERR: u32 = 1 << 26;
pub const SR_CRCEND: u32 = 1 << 27;
/// The error flags of SRx.
pub const SR_ERRORS: u32 = SR_WRPERR
    | SR_PGSERR
    | SR_STRBERR
    | SR_INCERR
    | SR_OPERR
    | SR_RDPERR
    | SR_RDSERR
    | SR_SNECCERR
    | SR_DBECCERR;
/// Flags cleared by writing 1 at the same position in CCRx.
const SR_CLEARABLE: u32 = SR_EOP | SR_ERRORS | SR_CRCEND;

pub const OPTCR_OPTLOCK: u32 = 1 << 0;
pub const OPTCR_OPTSTART: u32 = 1 << 1;
pub const OPTCR_MER: u32 = 1 << 4;
pub const OPTCR_OPTCHANGEERRIE: u32 = 1 << 30;
pub const OPTCR_SWAP_BANK: u32 = 1 << 31;

pub const OPTSR_OPT_BUSY: u32 = 1 << 0;
pub const OPTSR_BOR_LEV_MASK: u32 = 3 << 2;
pub const OPTSR_IWDG1_SW: u32 = 1 << 4;
pub const OPTSR_IWDG2_SW: u32 = 1 << 5;
pub const OPTSR_NRST_STOP_D1: u32 = 1 << 6;
pub const OPTSR_NRST_STBY_D1: u32 = 1 << 7;
pub const OPTSR_RDP_SHIFT: u32 = 8;
pub const OPTSR_RDP_MASK: u32 = 0xFF << OPTSR_RDP_SHIFT;
pub const OPTSR_FZ_IWDG_STOP: u32 = 1 << 17;
pub const OPTSR_FZ_IWDG_SDBY: u32 = 1 << 18;
pub const OPTSR_ST_RAM_SIZE_MASK: u32 = 3 << 19;
pub const OPTSR_SECURITY: u32 = 1 << 21;
pub const OPTSR_BCM4: u32 = 1 << 22;
pub const OPTSR_BCM7: u32 = 1 << 23;
pub const OPTSR_NRST_STOP_D2: u32 = 1 << 24;
pub const OPTSR_NRST_STBY_D2: u32 = 1 << 25;
pub const OPTSR_IO_HSLV: u32 = 1 << 29;
pub const OPTSR_OPTCHANGEERR: u32 = 1 << 30;
pub const OPTSR_SWAP_BANK_OPT: u32 = 1 << 31;

/// The option bits of OPTSR on H743/H753 (OPT_BUSY and OPTCHANGEERR are status, not options).
pub const OPTSR_OPTIONS_H743: u32 = OPTSR_BOR_LEV_MASK
    | OPTSR_IWDG1_SW
    | OPTSR_NRST_STOP_D1
    | OPTSR_NRST_STBY_D1
    | OPTSR_RDP_MASK
    | OPTSR_FZ_IWDG_STOP
    | OPTSR_FZ_IWDG_SDBY
    | OPTSR_ST_RAM_SIZE_MASK
    | OPTSR_SECURITY
    | OPTSR_IO_HSLV
    | OPTSR_SWAP_BANK_OPT;
/// The option bits of OPTSR on the dual-core H745/H755.
pub const OPTSR_OPTIONS_DUAL_CORE: u32 = OPTSR_OPTIONS_H743
    | OPTSR_IWDG2_SW
    | OPTSR_BCM4
    | OPTSR_BCM7
    | OPTSR_NRST_STOP_D2
    | OPTSR_NRST_STBY_D2;

pub const OPTCCR_CLR_OPTCHANGEERR: u32 = 1 << 30;

/// WPSN: WRPSN bits 7:0, bit i = 0 → sector i of that bank write-protected.
pub const WPSN_MASK: u32 = 0xFF;

/// ACR after reset ([R]: RM0433 reset value 0x37, LATENCY 7 and WRHIGHFREQ 3, recalled; not in
/// the facts file). ACR is plain storage in the model.
const ACR_RESET: u32 = 0x37;
const ACR_MASK: u32 = 0x3F;

/// PRAR/SCAR read as an empty area (start 0xFF > end 0): PCROP and secure areas are not
/// modelled ([R]: the factory value is recalled, the facts file gives no PRAR/SCAR layout).
const AREA_EMPTY: u32 = 0x0000_00FF;

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

// ------------------------------------------------------------------ option bytes

/// RDP level from OPTSR's RDP byte: 0xAA level 0, 0xCC level 2, anything else level 1 (facts 3.0).
pub fn rdp_level(optsr: u32) -> u8 {
    match (optsr & OPTSR_RDP_MASK) >> OPTSR_RDP_SHIFT {
        0xAA => 0,
        0xCC => 2,
        _ => 1,
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum H7Variant {
    /// Single core H743/H753 (RM0433).
    H743,
    /// Dual core H745/H755 (RM0399): one controller and one option set for both cores.
    H755,
}

/// The user option bytes: what OPTSR, WPSN1/2 and the boot-address registers hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct H7Options {
    /// OPTSR's option bits (no OPT_BUSY, no OPTCHANGEERR).
    pub optsr: u32,
    /// WPSN of bank 1 and bank 2: bit i = 0 → sector i of that bank write-protected.
    pub wpsn: [u32; 2],
    /// BOOT_CUR (H745/H755: BOOT7, the Cortex-M7's): BOOT_ADD0 bits 15:0, BOOT_ADD1 bits
    /// 31:16, each the upper 16 bits of the boot address ([R]: the `<< 16` scaling is recalled;
    /// the facts file gives only the field positions).
    pub boot: u32,
    /// H745/H755 only: BOOT4, the Cortex-M4's boot addresses, same layout. `None` on H743.
    pub boot4: Option<u32>,
}

impl H7Options {
    /// The options as they leave the factory. None of these values is in the facts file; all
    /// are recalled from RM0433/RM0399 [R]:
    /// - OPTSR: BOR off (BOR_LEV 00), IWDG1 software, no reset on Stop/Standby
    ///   (NRST_STOP_D1 = NRST_STBY_D1 = 1), RDP 0xAA, FZ_IWDG_STOP = FZ_IWDG_SDBY = 1,
    ///   ST_RAM_SIZE 00, SECURITY 0, IO_HSLV 0, SWAP_BANK_OPT 0 → 0x0006_AAD0 [R];
    ///   H755 adds IWDG2_SW, BCM4 = BCM7 = 1 (both cores boot), NRST_STOP_D2 = NRST_STBY_D2 = 1
    ///   → 0x03C6_AAF0 [R].
    /// - WPSN1 = WPSN2 = 0xFF: no sector write-protected [R].
    /// - BOOT (BOOT7): ADD0 0x0800 (0x0800_0000, flash), ADD1 0x1FF0 (0x1FF0_0000, system
    ///   memory) → 0x1FF0_0800 [R]; H755 BOOT4: ADD0 0x0810 (bank 2), ADD1 0x1FF0 →
    ///   0x1FF0_0810 [R].
    pub fn factory(variant: H7Variant) -> Self {
        let common = OPTSR_IWDG1_SW
            | OPTSR_NRST_STOP_D1
            | OPTSR_NRST_STBY_D1
            | (0xAA << OPTSR_RDP_SHIFT)
            | OPTSR_FZ_IWDG_STOP
            | OPTSR_FZ_IWDG_SDBY;
        match variant {
            H7Variant::H743 => Self {
                optsr: common,
                wpsn: [WPSN_MASK; 2],
                boot: 0x1FF0_0800,
                boot4: None,
            },
            H7Variant::H755 => Self {
                optsr: common
                    | OPTSR_IWDG2_SW
                    | OPTSR_BCM4
                    | OPTSR_BCM7
                    | OPTSR_NRST_STOP_D2
                    | OPTSR_NRST_STBY_D2,
                wpsn: [WPSN_MASK; 2],
                boot: 0x1FF0_0800,
                boot4: Some(0x1FF0_0810),
            },
        }
    }

    pub fn dual_core(&self) -> bool {
        self.boot4.is_some()
    }

    /// The OPTSR bits that are options on this variant.
    pub fn optsr_mask(&self) -> u32 {
        if self.dual_core() {
            OPTSR_OPTIONS_DUAL_CORE
        } else {
            OPTSR_OPTIONS_H743
        }
    }

    pub fn rdp_level(&self) -> u8 {
        rdp_level(self.optsr)
    }

    /// `sector` is the global index 0..15 (bank 2 from 8).
    pub fn sector_write_protected(&self, sector: usize) -> bool {
        let bank = sector / SECTORS_PER_BANK;
        bank < 2 && (self.wpsn[bank] >> (sector % SECTORS_PER_BANK)) & 1 == 0
    }

    /// Only the bits that exist on this variant.
    fn masked(mut self) -> Self {
        self.optsr &= self.optsr_mask();
        for w in &mut self.wpsn {
            *w &= WPSN_MASK;
        }
        self
    }
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

/// How a register offset decodes: a banked register (bank index, bank-1 offset) or a shared
/// one.
enum Reg {
    Banked(usize, u32),
    Shared(u32),
    Reserved,
}

fn decode(offset: u32) -> Reg {
    const BANKED: [u32; 15] = [
        KEYR1, CR1, SR1, CCR1, PRAR_CUR1, PRAR_PRG1, SCAR_CUR1, SCAR_PRG1, WPSN_CUR1, WPSN_PRG1,
        0x050, 0x054, 0x058, 0x05C, 0x060,
    ];
    // Facts 3.3: OpenOCD drives bank 2 with bank-1 offsets from base + 0x100, touching
    // OPTKEYR/OPTCR/OPTSR at 0x108/0x118/0x11C…, reserved in CMSIS → modelled as aliases of the
    // shared registers (the facts file's inference).
    const ALIASED: [u32; 6] = [ACR, OPTKEYR, OPTCR, OPTSR_CUR, OPTSR_PRG, OPTCCR];
    let (bank, o) = if (BANK2..2 * BANK2).contains(&offset) {
        (1, offset - BANK2)
    } else {
        (0, offset)
    };
    if BANKED.contains(&o) {
        Reg::Banked(bank, o)
    } else if bank == 0 || ALIASED.contains(&o) {
        Reg::Shared(o)
    } else {
        Reg::Reserved
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

    // -------------------------------------------------------------- registers

    pub fn read(&self, offset: u32, now: Duration) -> u32 {
        match decode(offset) {
            Reg::Banked(b, o) => {
                let bank = &self.banks[b];
                match o {
                    CR1 => bank.cr_value(),
                    SR1 => bank.sr_value(now),
                    WPSN_CUR1 => self.shown(now).wpsn[b],
                    WPSN_PRG1 => self.prg.wpsn[b],
                    PRAR_CUR1 | PRAR_PRG1 | SCAR_CUR1 | SCAR_PRG1 => AREA_EMPTY,
                    _ => 0,
                }
            }
            Reg::Shared(o) => match o {
                ACR => self.acr,
                OPTCR => {
                    let mut v = self.optcr;
                    if self.optkey.locked {
                        v |= OPTCR_OPTLOCK;
                    }
                    if self.shown(now).optsr & OPTSR_SWAP_BANK_OPT != 0 {
                        v |= OPTCR_SWAP_BANK;
                    }
                    v
                }
                OPTSR_CUR => {
                    let mut v = self.shown(now).optsr;
                    if self.opt_busy(now) {
                        v |= OPTSR_OPT_BUSY;
                    }
                    if self.optchangeerr {
                        v |= OPTSR_OPTCHANGEERR;
                    }
                    v
                }
                OPTSR_PRG => self.prg.optsr,
                BOOT_CUR => self.shown(now).boot,
                BOOT_PRG => self.prg.boot,
                BOOT4_CUR => self.shown(now).boot4.unwrap_or(0),
                BOOT4_PRG => self.prg.boot4.unwrap_or(0),
                _ => 0,
            },
            Reg::Reserved => 0,
        }
    }

    pub fn write(&mut self, offset: u32, value: u32, bus: &mut FlashBus) -> Result<(), BusFault> {
        match decode(offset) {
            Reg::Banked(b, o) => match o {
                KEYR1 => return self.key_write(b, value),
                CR1 => self.cr_write(b, value, bus),
                CCR1 => self.banks[b].sr &= !(value & SR_CLEARABLE),
                WPSN_PRG1 if self.options_writable(bus.now) => self.prg.wpsn[b] = value & WPSN_MASK,
                _ => {}
            },
            Reg::Shared(o) => match o {
                ACR => self.acr = value & ACR_MASK,
                OPTKEYR => return self.optkey_write(value),
                OPTCR => self.optcr_write(value, bus),
                OPTCCR if value & OPTCCR_CLR_OPTCHANGEERR != 0 => self.optchangeerr = false,
                OPTSR_PRG if self.options_writable(bus.now) => {
                    self.prg.optsr = value & self.prg.optsr_mask()
                }
                BOOT_PRG if self.options_writable(bus.now) => self.prg.boot = value,
                BOOT4_PRG if self.options_writable(bus.now) && self.prg.dual_core() => {
                    self.prg.boot4 = Some(value)
                }
                _ => {}
            },
            Reg::Reserved => {}
        }
        Ok(())
    }

    /// The _PRG registers take writes only with OPTLOCK clear and no option change under way
    /// (the latter is the model's choice).
    fn options_writable(&self, now: Duration) -> bool {
        !self.optkey.locked && !self.opt_busy(now)
    }

    fn key_write(&mut self, b: usize, value: u32) -> Result<(), BusFault> {
        // Facts 3.0: a wrong sequence (including keys to an unlocked bank) locks the register
        // until the next reset, with a bus error; the write buffer is dropped.
        let bank = &mut self.banks[b];
        let result = bank.key.key(value, KEY1, KEY2);
        if result.is_err() {
            bank.buffer = None;
        }
        result
    }

    fn optkey_write(&mut self, value: u32) -> Result<(), BusFault> {
        self.optkey.key(value, OPTKEY1, OPTKEY2)
    }

    fn flash_blocked(&self, bus: &FlashBus) -> bool {
        bus.debugger && self.loaded.rdp_level() >= 1
    }

    fn cr_write(&mut self, b: usize, value: u32, bus: &mut FlashBus) {
        let bank = &mut self.banks[b];
        if bank.key.locked {
            return;
        }
        bank.cr = value & CR_STORED;
        if value & CR_LOCK != 0 {
            // Locking drops a partial flash word (model's choice).
            bank.key.locked = true;
            bank.buffer = None;
            return;
        }
        if value & CR_FW != 0 {
            self.force_write(b, bus);
        }
        if value & CR_START == 0 {
            return;
        }
        let snb = ((value & CR_SNB_MASK) >> CR_SNB_SHIFT) as usize;
        let (pg, ser, ber) = (value & CR_PG != 0, value & CR_SER != 0, value & CR_BER != 0);
        match (pg, ser, ber) {
            (false, true, false) => self.erase_sector(b * SECTORS_PER_BANK + snb, bus),
            (false, false, true) => self.erase_bank(b, bus),
            _ => self.banks[b].sr |= SR_PGSERR,
        }
    }

    /// CRx.FW: program the partial flash word in the buffer, missing bytes left erased.
    fn force_write(&mut self, b: usize, bus: &mut FlashBus) {
        if self.banks[b].buffer.is_none() {
            return;
        }
        if self.banks[b].cr & CR_PG == 0 {
            self.banks[b].sr |= SR_PGSERR;
            self.banks[b].buffer = None;
            return;
        }
        self.commit(b, bus);
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
    fn erase_bank(&mut self, b: usize, bus: &mut FlashBus) {
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
    /// whose cells are not all erased is refused with OPERR (model's choice, see the module
    /// comment).
    fn commit(&mut self, b: usize, bus: &mut FlashBus) -> bool {
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

    // -------------------------------------------------------------- options

    fn optcr_write(&mut self, value: u32, bus: &mut FlashBus) {
        if self.optkey.locked {
            return;
        }
        self.optcr = value & OPTCR_OPTCHANGEERRIE;
        let actions = value & (OPTCR_MER | OPTCR_OPTSTART);
        if actions != 0 && self.opt_busy(bus.now) {
            bus.log.push("OPTCR action while OPT_BUSY ignored".into());
        } else {
            if value & OPTCR_MER != 0 {
                self.optcr_mass_erase(bus);
            }
            if value & OPTCR_OPTSTART != 0 {
                self.option_change(bus);
            }
        }
        // OPTLOCK is set-only; the keys clear it (facts 3.3 sequence ends with OPTCR = OPTLOCK).
        if value & OPTCR_OPTLOCK != 0 {
            self.optkey.locked = true;
        }
    }

    /// OPTCR.MER erases both banks (facts 3.3). The model also wants both banks unlocked and
    /// flags PGSERR in a locked one (model's choice; HAL sets PSIZE in CR1 and CR2 first).
    fn optcr_mass_erase(&mut self, bus: &mut FlashBus) {
        let mut locked = false;
        for bank in &mut self.banks {
            if bank.key.locked {
                bank.sr |= SR_PGSERR;
                locked = true;
            }
        }
        if !locked {
            self.mass_erase(bus);
        }
    }

    /// OPTSTART: program the _PRG registers into the option cells and put them in force.
    fn option_change(&mut self, bus: &mut FlashBus) {
        let now = bus.now;
        if self.loaded.rdp_level() == 2 || self.stored.rdp_level() == 2 {
            self.optchangeerr = true;
            bus.log
                .push("option bytes frozen at RDP level 2; OPTCHANGEERR".into());
            return;
        }
        let new = self.prg.clone().masked();
        let start = self.start_time(0, now).max(self.start_time(1, now));
        let mut cost = bus.timing.option_program;
        if self.loaded.rdp_level() == 1 && new.rdp_level() == 0 {
            // [R] facts 3.3: RDP 1 -> 0 erases the flash as part of the option change (both
            // banks, write protection notwithstanding; PCROP/DMEP not modelled).
            bus.flash.erase_all();
            cost += bus.timing.mass_erase;
            for bank in &mut self.banks {
                bank.busy_until = start + cost;
                bank.buffer = None;
            }
            bus.log
                .push("RDP regression 1 -> 0: both banks erased".into());
        }
        if new.dual_core() && new.optsr & (OPTSR_BCM4 | OPTSR_BCM7) == 0 {
            // Facts 3.3 [R]: clearing both BCM bits is a known way to brick boot; the
            // controller accepts it.
            bus.log
                .push("options: BCM4 = BCM7 = 0, neither core will boot".into());
        }
        bus.log.push(format!(
            "option bytes programmed: OPTSR {:#010x}, WPSN {:#04x}/{:#04x}, BOOT {:#010x}",
            new.optsr, new.wpsn[0], new.wpsn[1], new.boot
        ));
        self.shown_before = Some(std::mem::replace(&mut self.loaded, new.clone()));
        self.stored = new;
        self.opt_busy_until = start + cost;
    }

    /// The option sequence of facts 3.3 through the registers, as code on the chip or a
    /// debugger's flash algorithm would run it: unlock, write every _PRG register, clear
    /// OPTCHANGEERR, OPTSTART, OPTLOCK.
    pub fn write_options_through_registers(&mut self, options: &H7Options, bus: &mut FlashBus) {
        if self.optkey.locked {
            let _ = self.write(OPTKEYR, OPTKEY1, bus);
            let _ = self.write(OPTKEYR, OPTKEY2, bus);
        }
        let _ = self.write(OPTSR_PRG, options.optsr, bus);
        let _ = self.write(WPSN_PRG1, options.wpsn[0], bus);
        let _ = self.write(WPSN_PRG2, options.wpsn[1], bus);
        let _ = self.write(BOOT_PRG, options.boot, bus);
        if let Some(boot4) = options.boot4 {
            let _ = self.write(BOOT4_PRG, boot4, bus);
        }
        let _ = self.write(OPTCCR, OPTCCR_CLR_OPTCHANGEERR, bus);
        let _ = self.write(OPTCR, OPTCR_OPTSTART, bus);
        let _ = self.write(OPTCR, OPTCR_OPTLOCK, bus);
    }
}
