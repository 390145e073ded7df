//! The STM32G0 (G071, RM0444) FLASH interface at register level (facts file 3.0, 3.5, 5).
//!
//! The controller logic is shared with the L4 in [`crate::optr`] (its module comment
//! lists the modelling choices); this file holds what is G071-specific.
//!
//! Page numbering: the G071 is single bank, 64 pages × 2 KiB from 0x0800_0000 (facts 5.1);
//! page `p` is at `0x0800_0000 + p × 2048`, the `FlashArray` sector index of a 64 × 2 KiB
//! array, and CR.PNB (10 bits) names it directly. WRP1A/B hold page numbers (6 bits).
//! SR.BSY1 is bit 16 (the shared `SR_BSY`); CFGBSY (bit 18) reads 1 while an operation runs
//! or a first word waits for its second.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::optr::{Layout, OptReg, Pcrop, Wrp, optr_family};
use crate::part::{FlashTiming, Timing};

pub use crate::controller::{BusFault, FlashBus};
pub use crate::optr::{
    ACR, CR, CR_EOPIE, CR_ERRIE, CR_FSTPG, CR_LOCK, CR_MER1, CR_OBL_LAUNCH, CR_OPTLOCK, CR_OPTSTRT,
    CR_PER, CR_PG, CR_PNB_SHIFT, CR_RDERRIE, CR_STRT, ECCR, FLASH_REGS, KEY1, KEY2, KEYR, OPTKEY1,
    OPTKEY2, OPTKEYR, OPTR, SR, SR_EOP, SR_ERRORS, SR_FASTERR, SR_MISERR, SR_OPERR, SR_OPTVERR,
    SR_PGAERR, SR_PGSERR, SR_PROGERR, SR_RDERR, SR_SIZERR, SR_WRPERR, WRP1AR, WRP1BR, rdp_level,
};

/// FLASH_SR.BSY1 (facts 3.5) and CFGBSY.
pub const SR_BSY1: u32 = 1 << 16;
pub const SR_CFGBSY: u32 = 1 << 18;

/// CMSIS-G0 register map (facts 3.5).
pub const PCROP1ASR: u32 = 0x24;
pub const PCROP1AER: u32 = 0x28;
pub const PCROP1BSR: u32 = 0x34;
pub const PCROP1BER: u32 = 0x38;
/// PCROP1AER bit 31 (\[R\]: the facts name PCROP_RDP for G0 but not its bit).
pub const PCROP_RDP: u32 = 1 << 31;

pub const FLASH_BASE: u32 = 0x0800_0000;
pub const PAGE_SIZE: u32 = 2048;
pub const PAGES: usize = 64;

/// The FLASH_OPTR bits named in the facts file (3.5): RDP 7:0, BOR_EN 8, BORR_LEV 10:9,
/// BORF_LEV 12:11, nRST_STOP 13, nRST_STDBY 14, nRST_SHDW 15, IWDG_SW 16, IWDG_STOP 17,
/// IWDG_STDBY 18, WWDG_SW 19, RAM_PARITY_CHECK 22, nBOOT_SEL 24, nBOOT1 25, nBOOT0 26,
/// NRST_MODE 28:27, IRHEN 29. Other bits keep their value.
pub const OPTR_WRITABLE: u32 = 0x3F4F_FFFF;

/// The option bytes in the information block (RM0444 layout recalled, \[R\]).
const OB: u32 = 0x1FFF_7800;

const REGS: [OptReg; 7] = [
    OptReg {
        name: "OPTR",
        offset: OPTR,
        writable: OPTR_WRITABLE,
        area: OB,
    },
    OptReg {
        name: "PCROP1ASR",
        offset: PCROP1ASR,
        writable: 0xFF,
        area: OB + 0x08,
    },
    OptReg {
        name: "PCROP1AER",
        offset: PCROP1AER,
        writable: 0xFF | PCROP_RDP,
        area: OB + 0x10,
    },
    OptReg {
        name: "WRP1AR",
        offset: WRP1AR,
        writable: 0x003F_003F,
        area: OB + 0x18,
    },
    OptReg {
        name: "WRP1BR",
        offset: WRP1BR,
        writable: 0x003F_003F,
        area: OB + 0x20,
    },
    OptReg {
        name: "PCROP1BSR",
        offset: PCROP1BSR,
        writable: 0xFF,
        area: OB + 0x28,
    },
    OptReg {
        name: "PCROP1BER",
        offset: PCROP1BER,
        writable: 0xFF,
        area: OB + 0x30,
    },
];

/// The G071 controller layout (facts 3.5, 5.1).
pub static LAYOUT: Layout = Layout {
    name: "G0",
    flash_base: FLASH_BASE,
    page_size: PAGE_SIZE,
    banks: 1,
    pages_per_bank: PAGES,
    pnb_mask: 0x3FF,
    cr_bker: 0,
    cr_mer2: 0,
    sr_cfgbsy: SR_CFGBSY,
    regs: &REGS,
    wrp: &[
        Wrp {
            reg: 3,
            bank: 0,
            field: 0x3F,
        },
        Wrp {
            reg: 4,
            bank: 0,
            field: 0x3F,
        },
    ],
    // PCROP offsets in 512-byte blocks from the flash base ([R]: RM0444 not read).
    pcrop: &[
        Pcrop {
            start_reg: 1,
            end_reg: 2,
            bank: 0,
            field: 0xFF,
            granule: 512,
        },
        Pcrop {
            start_reg: 5,
            end_reg: 6,
            bank: 0,
            field: 0xFF,
            granule: 512,
        },
    ],
    pcrop_rdp: (2, PCROP_RDP),
};

/// The G071 option bytes, as the option registers hold them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct G0Options {
    pub optr: u32,
    pub pcrop1asr: u32,
    pub pcrop1aer: u32,
    pub wrp1ar: u32,
    pub wrp1br: u32,
    pub pcrop1bsr: u32,
    pub pcrop1ber: u32,
}

impl G0Options {
    /// Factory option bytes, all \[R\] (recalled, not in the facts file): OPTR 0xFFFF_FEAA
    /// (RDP 0xAA, BOR_EN=0, everything else 1 — note nBOOT_SEL=1: BOOT0 comes from the
    /// nBOOT0 bit, not the pin); WRP1xR 0xFF00_FFFF (start 0x3F > end 0: no area);
    /// PCROP1xSR 0xFFFF_FFFF, PCROP1xER 0xFFFF_0000 (start > end: no area).
    pub fn factory() -> Self {
        Self {
            optr: 0xFFFF_FEAA,
            pcrop1asr: 0xFFFF_FFFF,
            pcrop1aer: 0xFFFF_0000,
            wrp1ar: 0xFF00_FFFF,
            wrp1br: 0xFF00_FFFF,
            pcrop1bsr: 0xFFFF_FFFF,
            pcrop1ber: 0xFFFF_0000,
        }
    }

    pub fn to_words(&self) -> Vec<u32> {
        vec![
            self.optr,
            self.pcrop1asr,
            self.pcrop1aer,
            self.wrp1ar,
            self.wrp1br,
            self.pcrop1bsr,
            self.pcrop1ber,
        ]
    }

    pub fn from_words(w: &[u32]) -> Self {
        Self {
            optr: w[0],
            pcrop1asr: w[1],
            pcrop1aer: w[2],
            wrp1ar: w[3],
            wrp1br: w[4],
            pcrop1bsr: w[5],
            pcrop1ber: w[6],
        }
    }
}

/// G071 flash timing (facts 5.2, DS12232): all values \[R\] except the 40 ms page-erase
/// maximum \[V\]. A double word programs in ~85 / 125 µs; `word_program` is half of that,
/// since the model charges two words per double word. Mass erase ~22 / 40 ms. Option
/// programming is one page erase (model's choice: the facts give no figure).
pub fn timing(t: Timing) -> FlashTiming {
    match t {
        Timing::Typical => FlashTiming {
            word_program: Duration::from_nanos(42_500),
            sector_erase: vec![(2, Duration::from_millis(22))],
            mass_erase: Duration::from_millis(22),
            option_program: Duration::from_millis(22),
        },
        Timing::Max => FlashTiming {
            word_program: Duration::from_nanos(62_500),
            sector_erase: vec![(2, Duration::from_millis(40))],
            mass_erase: Duration::from_millis(40),
            option_program: Duration::from_millis(40),
        },
    }
}

optr_family!(G0Flash, G0Options, LAYOUT);
