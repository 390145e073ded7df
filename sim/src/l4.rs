//! The STM32L4 (L476, RM0351) FLASH interface at register level (facts file 3.0, 3.4, 5).
//!
//! The controller logic is shared with the G0 in [`crate::optr`] (its module comment
//! lists the modelling choices); this file holds what is L476-specific.
//!
//! Page numbering: the 1 MiB L476 is always dual bank (facts 5.1), 2 × 256 pages of 2 KiB;
//! bank 1 at 0x0800_0000, bank 2 at 0x0808_0000. The model numbers pages **globally**,
//! 0..=511, in address order: global page `g` is page `g % 256` of bank `g / 256`, at
//! `0x0800_0000 + g × 2048`, i.e. the `FlashArray` sector index of a 512 × 2 KiB array.
//! CR selects a page as BKER (bank) + PNB (page inside the bank); WRP1A/B give page offsets
//! inside bank 1, WRP2A/B inside bank 2. BFB2 (bank swap) is stored, not modelled.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::optr::{Layout, OptReg, Pcrop, Wrp, optr_family};
use crate::part::{FlashTiming, Timing};

pub use crate::controller::{BusFault, FlashBus};
pub use crate::optr::{
    ACR, CR, CR_EOPIE, CR_ERRIE, CR_FSTPG, CR_LOCK, CR_MER1, CR_OBL_LAUNCH, CR_OPTLOCK, CR_OPTSTRT,
    CR_PER, CR_PG, CR_PNB_SHIFT, CR_RDERRIE, CR_STRT, ECCR, FLASH_REGS, KEY1, KEY2, KEYR, OPTKEY1,
    OPTKEY2, OPTKEYR, OPTR, SR, SR_BSY, SR_EOP, SR_ERRORS, SR_FASTERR, SR_MISERR, SR_OPERR,
    SR_OPTVERR, SR_PGAERR, SR_PGSERR, SR_PROGERR, SR_RDERR, SR_SIZERR, SR_WRPERR, WRP1AR, WRP1BR,
    rdp_level,
};

/// Facts 3.0: PDKEY1/PDKEY2 go to FLASH_PDKEYR (power-down; accepted and ignored).
pub const PDKEYR: u32 = 0x04;
pub const PCROP1SR: u32 = 0x24;
pub const PCROP1ER: u32 = 0x28;
pub const PCROP2SR: u32 = 0x44;
pub const PCROP2ER: u32 = 0x48;
pub const WRP2AR: u32 = 0x4C;
pub const WRP2BR: u32 = 0x50;

/// FLASH_CR.BKER (bank of PNB) and MER2 (facts 3.4).
pub const CR_BKER: u32 = 1 << 11;
pub const CR_MER2: u32 = 1 << 15;
/// PCROP1ER bit 31.
pub const PCROP_RDP: u32 = 1 << 31;

pub const FLASH_BASE: u32 = 0x0800_0000;
pub const PAGE_SIZE: u32 = 2048;
pub const BANKS: usize = 2;
pub const PAGES_PER_BANK: usize = 256;
pub const PAGES: usize = BANKS * PAGES_PER_BANK;
pub const BANK2_BASE: u32 = FLASH_BASE + PAGES_PER_BANK as u32 * PAGE_SIZE;

/// The FLASH_OPTR bits named in the facts file (3.4): RDP 7:0, BOR_LEV 10:8, nRST_STOP 12,
/// nRST_STDBY 13, nRST_SHDW 14, IWDG_SW 16, IWDG_STOP 17, IWDG_STDBY 18, WWDG_SW 19,
/// BFB2 20, DUALBANK 21, nBOOT1 23, SRAM2_PE 24, SRAM2_RST 25. Other bits keep their value.
pub const OPTR_WRITABLE: u32 = 0x03BF_77FF;

/// Bank 1 / bank 2 option bytes in the information block (RM0351 layout recalled, \[R\]).
const OB1: u32 = 0x1FFF_7800;
const OB2: u32 = 0x1FFF_F800;

const REGS: [OptReg; 9] = [
    OptReg {
        name: "OPTR",
        offset: OPTR,
        writable: OPTR_WRITABLE,
        area: OB1,
    },
    OptReg {
        name: "PCROP1SR",
        offset: PCROP1SR,
        writable: 0xFFFF,
        area: OB1 + 0x08,
    },
    OptReg {
        name: "PCROP1ER",
        offset: PCROP1ER,
        writable: 0xFFFF | PCROP_RDP,
        area: OB1 + 0x10,
    },
    OptReg {
        name: "WRP1AR",
        offset: WRP1AR,
        writable: 0x00FF_00FF,
        area: OB1 + 0x18,
    },
    OptReg {
        name: "WRP1BR",
        offset: WRP1BR,
        writable: 0x00FF_00FF,
        area: OB1 + 0x20,
    },
    OptReg {
        name: "PCROP2SR",
        offset: PCROP2SR,
        writable: 0xFFFF,
        area: OB2 + 0x08,
    },
    OptReg {
        name: "PCROP2ER",
        offset: PCROP2ER,
        writable: 0xFFFF,
        area: OB2 + 0x10,
    },
    OptReg {
        name: "WRP2AR",
        offset: WRP2AR,
        writable: 0x00FF_00FF,
        area: OB2 + 0x18,
    },
    OptReg {
        name: "WRP2BR",
        offset: WRP2BR,
        writable: 0x00FF_00FF,
        area: OB2 + 0x20,
    },
];

/// The L476 controller layout (facts 3.4, 5.1).
pub static LAYOUT: Layout = Layout {
    name: "L4",
    flash_base: FLASH_BASE,
    page_size: PAGE_SIZE,
    banks: BANKS,
    pages_per_bank: PAGES_PER_BANK,
    pnb_mask: 0xFF,
    cr_bker: CR_BKER,
    cr_mer2: CR_MER2,
    sr_cfgbsy: 0,
    regs: &REGS,
    wrp: &[
        Wrp {
            reg: 3,
            bank: 0,
            field: 0xFF,
        },
        Wrp {
            reg: 4,
            bank: 0,
            field: 0xFF,
        },
        Wrp {
            reg: 7,
            bank: 1,
            field: 0xFF,
        },
        Wrp {
            reg: 8,
            bank: 1,
            field: 0xFF,
        },
    ],
    // PCROP offsets in double words from each bank's base ([R]: RM0351 not read).
    pcrop: &[
        Pcrop {
            start_reg: 1,
            end_reg: 2,
            bank: 0,
            field: 0xFFFF,
            granule: 8,
        },
        Pcrop {
            start_reg: 5,
            end_reg: 6,
            bank: 1,
            field: 0xFFFF,
            granule: 8,
        },
    ],
    pcrop_rdp: (2, PCROP_RDP),
};

/// The L476 option bytes, as the option registers hold them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct L4Options {
    pub optr: u32,
    pub pcrop1sr: u32,
    pub pcrop1er: u32,
    pub wrp1ar: u32,
    pub wrp1br: u32,
    pub pcrop2sr: u32,
    pub pcrop2er: u32,
    pub wrp2ar: u32,
    pub wrp2br: u32,
}

impl L4Options {
    /// Factory option bytes, all \[R\] (recalled, not in the facts file): OPTR 0xFFEF_F8AA
    /// (RDP 0xAA, BOR level 0, DUALBANK=1, BFB2=0, everything else 1); WRPxyR 0xFF00_FFFF
    /// (start 0xFF > end 0x00: no area); PCROPxSR 0xFFFF_FFFF and PCROPxER 0xFFFF_0000
    /// (start > end: no area).
    pub fn factory() -> Self {
        Self {
            optr: 0xFFEF_F8AA,
            pcrop1sr: 0xFFFF_FFFF,
            pcrop1er: 0xFFFF_0000,
            wrp1ar: 0xFF00_FFFF,
            wrp1br: 0xFF00_FFFF,
            pcrop2sr: 0xFFFF_FFFF,
            pcrop2er: 0xFFFF_0000,
            wrp2ar: 0xFF00_FFFF,
            wrp2br: 0xFF00_FFFF,
        }
    }

    pub fn to_words(&self) -> Vec<u32> {
        vec![
            self.optr,
            self.pcrop1sr,
            self.pcrop1er,
            self.wrp1ar,
            self.wrp1br,
            self.pcrop2sr,
            self.pcrop2er,
            self.wrp2ar,
            self.wrp2br,
        ]
    }

    pub fn from_words(w: &[u32]) -> Self {
        Self {
            optr: w[0],
            pcrop1sr: w[1],
            pcrop1er: w[2],
            wrp1ar: w[3],
            wrp1br: w[4],
            pcrop2sr: w[5],
            pcrop2er: w[6],
            wrp2ar: w[7],
            wrp2br: w[8],
        }
    }
}

/// (bank, page inside the bank) of a global page index.
pub fn bank_page(page: usize) -> (usize, usize) {
    (page / PAGES_PER_BANK, page % PAGES_PER_BANK)
}

/// The global page index of page `page` of `bank` (0 = bank 1).
pub fn global_page(bank: usize, page: usize) -> usize {
    bank * PAGES_PER_BANK + page
}

/// L476 flash timing (facts 5.2, DS10198): all values \[R\] except the 24.47 ms page-erase
/// maximum \[V\]. A double word programs in 81.69 / 90.76 µs; `word_program` is half of that,
/// since the model charges two words per double word. Mass erase 22.1 / 24.6 ms per bank;
/// the model erases both banks in that time (parallel, model's choice). Option programming
/// is one page erase (model's choice: the facts give no figure).
pub fn timing(t: Timing) -> FlashTiming {
    match t {
        Timing::Typical => FlashTiming {
            word_program: Duration::from_nanos(40_845),
            sector_erase: vec![(2, Duration::from_micros(22_020))],
            mass_erase: Duration::from_micros(22_100),
            option_program: Duration::from_micros(22_020),
        },
        Timing::Max => FlashTiming {
            word_program: Duration::from_nanos(45_380),
            sector_erase: vec![(2, Duration::from_micros(24_470))],
            mass_erase: Duration::from_micros(24_600),
            option_program: Duration::from_micros(24_470),
        },
    }
}

optr_family!(L4Flash, L4Options, LAYOUT);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_mapping_is_bank_major() {
        assert_eq!(bank_page(0), (0, 0));
        assert_eq!(bank_page(255), (0, 255));
        assert_eq!(bank_page(256), (1, 0));
        assert_eq!(global_page(1, 3), 259);
        assert_eq!(BANK2_BASE, 0x0808_0000);
        assert_eq!(LAYOUT.pages(), 512);
    }
}
