//! Golden tests for the simulated STM32H7 FLASH interface (H743, dual-core H755), at register
//! level, through the public API only.
//!
//! Every expected register offset, bit, key and layout value below is copied from the tables of
//! `/work/shared/reference/stm32-facts.md` (sections 3.0, 3.3, 5, 7), not from the crate's own
//! constants, so a wrong constant in the model shows up here. Facts tagged [R] (recalled,
//! unverified) in the facts file are flagged where a test uses them with `// [R] fact: ...`.
//! Where the facts file is silent and a test pins down a choice of the model, the comment says
//! "model's choice"; values the model recalls itself (not in the facts file) are flagged
//! `// [R] fact: ... (model's recollection, not in the facts file)`.
//!
//! No real time passes: each test owns a virtual `now` and advances it by hand.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use station::sim::flash::FlashArray;
use station::sim::h7::{self, BusFault, H7Flash, H7Options, H7Variant};
use station::sim::part::Timing;

// ------------------------------------------------------------------ golden values (facts file)

/// Facts 3.3 register map: `FLASH_R_BASE = D1_AHB1PERIPH_BASE + 0x2000` = 0x52002000.
const FLASH_R_BASE: u32 = 0x5200_2000;
/// Facts 3.3 register table (offsets from FLASH_R_BASE).
const ACR: u32 = 0x000;
const KEYR1: u32 = 0x004;
const OPTKEYR: u32 = 0x008;
const CR1: u32 = 0x00C;
const SR1: u32 = 0x010;
const CCR1: u32 = 0x014;
const OPTCR: u32 = 0x018;
const OPTSR_CUR: u32 = 0x01C;
const OPTSR_PRG: u32 = 0x020;
const OPTCCR: u32 = 0x024;
const WPSN_CUR1: u32 = 0x038;
const WPSN_PRG1: u32 = 0x03C;
const BOOT_CUR: u32 = 0x040;
const BOOT_PRG: u32 = 0x044;
const BOOT4_CUR: u32 = 0x048;
const BOOT4_PRG: u32 = 0x04C;
const KEYR2: u32 = 0x104;
const CR2: u32 = 0x10C;
const SR2: u32 = 0x110;
const CCR2: u32 = 0x114;
/// Facts 3.3: "0x128..0x13C PRAR/SCAR/WPSN _CUR2/_PRG2", in bank 1's order (0x028..0x03C).
const WPSN_CUR2: u32 = 0x138;
const WPSN_PRG2: u32 = 0x13C;

const KEYR: [u32; 2] = [KEYR1, KEYR2];
const CR: [u32; 2] = [CR1, CR2];
const SR: [u32; 2] = [SR1, SR2];
const CCR: [u32; 2] = [CCR1, CCR2];
const WPSN_CUR: [u32; 2] = [WPSN_CUR1, WPSN_CUR2];
const WPSN_PRG: [u32; 2] = [WPSN_PRG1, WPSN_PRG2];

/// Facts 3.0 key table.
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

/// Facts 3.3 FLASH_CRx [V]: LOCK 0, PG 1, SER 2, BER 3, PSIZE 5:4, FW 6, START 7, SNB 10:8.
const CR_LOCK: u32 = 1;
const CR_PG: u32 = 1 << 1;
const CR_SER: u32 = 1 << 2;
const CR_BER: u32 = 1 << 3;
const CR_PSIZE_X64: u32 = 3 << 4;
const CR_FW: u32 = 1 << 6;
const CR_START: u32 = 1 << 7;
const fn cr_snb(snb: u32) -> u32 {
    snb << 8
}

/// Facts 3.3 FLASH_SRx [V]: BSY 0, WBNE 1, QW 2, CRC_BUSY 3, EOP 16, WRPERR 17, PGSERR 18,
/// STRBERR 19, INCERR 21, OPERR 22, RDPERR 23, RDSERR 24, SNECCERR 25, DBECCERR 26, CRCEND 27.
const SR_BSY: u32 = 1;
const SR_WBNE: u32 = 1 << 1;
const SR_QW: u32 = 1 << 2;
const SR_EOP: u32 = 1 << 16;
const SR_WRPERR: u32 = 1 << 17;
const SR_PGSERR: u32 = 1 << 18;
const SR_STRBERR: u32 = 1 << 19;
const SR_INCERR: u32 = 1 << 21;
const SR_OPERR: u32 = 1 << 22;
const SR_RDPERR: u32 = 1 << 23;
const SR_RDSERR: u32 = 1 << 24;
const SR_SNECCERR: u32 = 1 << 25;
const SR_DBECCERR: u32 = 1 << 26;
/// OpenOCD's FLASH_ERROR set (facts 3.3 source OOCD).
const SR_ERRORS: u32 = SR_WRPERR
    | SR_PGSERR
    | SR_STRBERR
    | SR_INCERR
    | SR_OPERR
    | SR_RDPERR
    | SR_RDSERR
    | SR_SNECCERR
    | SR_DBECCERR;

/// Facts 3.3 FLASH_OPTCR [V]: OPTLOCK 0, OPTSTART 1, MER 4.
const OPTCR_OPTLOCK: u32 = 1;
const OPTCR_OPTSTART: u32 = 1 << 1;
const OPTCR_MER: u32 = 1 << 4;

/// Facts 3.3 OPTSR table [V]: OPT_BUSY 0, BOR_LEV 3:2, IWDG2_SW 5 (H745), RDP 15:8, BCM4 22,
/// BCM7 23 (H745), NRST_STOP_D2 24, NRST_STBY_D2 25 (H745), OPTCHANGEERR 30, SWAP_BANK_OPT 31.
const OPTSR_OPT_BUSY: u32 = 1;
const OPTSR_BOR_MASK: u32 = 3 << 2;
const OPTSR_IWDG2_SW: u32 = 1 << 5;
const OPTSR_RDP_MASK: u32 = 0xFF << 8;
const OPTSR_BCM4: u32 = 1 << 22;
const OPTSR_BCM7: u32 = 1 << 23;
const OPTSR_NRST_STOP_D2: u32 = 1 << 24;
const OPTSR_NRST_STBY_D2: u32 = 1 << 25;
const OPTSR_OPTCHANGEERR: u32 = 1 << 30;
/// Facts 3.3: "OPTCCR bit 30 CLR_OPTCHANGEERR".
const OPTCCR_CLR_OPTCHANGEERR: u32 = 1 << 30;

/// Facts 3.0 RDP byte table: 0xAA level 0, 0xCC level 2, any other level 1 (OpenOCD 0x00 on H7).
const RDP_LEVEL0: u32 = 0xAA;
const RDP_LEVEL1: u32 = 0x00;
const RDP_LEVEL2: u32 = 0xCC;

/// Facts 5.1 [X]: 2 banks × 8 sectors × 128 KB; bank 1 0x08000000-0x080FFFFF, bank 2
/// 0x08100000-0x081FFFFF; flash word 256 bit; sector = 4096 flash words.
const FLASH_BASE: u32 = 0x0800_0000;
const BANK2_BASE: u32 = 0x0810_0000;
const SECTOR: u32 = 128 * 1024;
const SECTORS: usize = 16;
const FLASH_SIZE: u32 = SECTOR * SECTORS as u32;
const FLASH_WORD: u32 = 32;

// The model's factory option values: not in the facts file (see H7Options::factory).
// [R] fact: factory OPTSR 0x0006AAD0 on H743 (model's recollection, not in the facts file).
const FACTORY_OPTSR_H743: u32 = 0x0006_AAD0;
// [R] fact: factory OPTSR 0x03C6AAF0 on H755 (model's recollection, not in the facts file).
const FACTORY_OPTSR_H755: u32 = 0x03C6_AAF0;
// [R] fact: factory BOOT (BOOT7) 0x1FF00800, BOOT4 0x1FF00810 (model's recollection).
const FACTORY_BOOT: u32 = 0x1FF0_0800;
const FACTORY_BOOT4: u32 = 0x1FF0_0810;

const NS: Duration = Duration::from_nanos(1);

fn sector_addr(sector: usize) -> u32 {
    FLASH_BASE + sector as u32 * SECTOR
}

/// WPSN value with the listed sectors (within the bank, 0..7) protected: active low (facts 3.3).
fn wpsn(protected: &[usize]) -> u32 {
    let mut v = 0xFF;
    for &s in protected {
        v &= !(1 << s);
    }
    v
}

/// H743 options with RDP byte `rdp` and the listed global sectors write-protected.
fn options(rdp: u32, wrp: &[usize]) -> H7Options {
    let mut o = H7Options::factory(H7Variant::H743);
    o.optsr = (o.optsr & !OPTSR_RDP_MASK) | (rdp << 8);
    for bank in 0..2 {
        let mine: Vec<usize> = wrp
            .iter()
            .filter(|&&s| s / 8 == bank)
            .map(|s| s % 8)
            .collect();
        o.wpsn[bank] = wpsn(&mine);
    }
    o
}

// ------------------------------------------------------------------ the local bench

type Bench = common::golden::Bench<H7Flash>;

impl Bench {
    fn new(options: H7Options) -> Self {
        Self::with_timing(options, Timing::Typical)
    }

    fn with_timing(options: H7Options, timing: Timing) -> Self {
        Self::with(
            H7Flash::new(options),
            FlashArray::new(FLASH_BASE, vec![SECTOR; SECTORS]),
            h7::timing(timing),
        )
    }

    fn factory() -> Self {
        Self::new(H7Options::factory(H7Variant::H743))
    }

    fn sr(&self, bank: usize) -> u32 {
        self.read(SR[bank])
    }

    fn cr(&self, bank: usize) -> u32 {
        self.read(CR[bank])
    }

    fn optcr(&self) -> u32 {
        self.read(OPTCR)
    }

    fn optsr(&self) -> u32 {
        self.read(OPTSR_CUR)
    }

    /// Facts 3.3: OpenOCD waits on QW, not BSY.
    fn busy(&self, bank: usize) -> bool {
        self.sr(bank) & SR_QW != 0
    }

    fn opt_busy(&self) -> bool {
        self.optsr() & OPTSR_OPT_BUSY != 0
    }

    /// Facts 3.3: one flash word is 8 × 32-bit writes.
    fn program_word(&mut self, address: u32, words: [u32; 8]) {
        for (i, w) in words.iter().enumerate() {
            self.program(address + 4 * i as u32, *w, 4);
        }
    }

    fn wait_idle(&mut self) {
        self.catch_up();
        assert!(!self.busy(0) && !self.busy(1) && !self.opt_busy());
    }

    /// Facts 3.3 "Unlock bank: if CRx.LOCK → KEYRx = KEY1, KEY2 (each bank separately)".
    fn unlock(&mut self, bank: usize) {
        assert_ne!(self.cr(bank) & CR_LOCK, 0, "unlock only if LOCK is set");
        self.w(KEYR[bank], KEY1);
        self.w(KEYR[bank], KEY2);
        assert_eq!(self.cr(bank) & CR_LOCK, 0, "bank {bank} unlocked");
    }

    fn opt_unlock(&mut self) {
        assert_ne!(self.optcr() & OPTCR_OPTLOCK, 0);
        self.w(OPTKEYR, OPTKEY1);
        self.w(OPTKEYR, OPTKEY2);
        assert_eq!(self.optcr() & OPTCR_OPTLOCK, 0);
    }

    /// Facts 3.3 "Option change": unlock if OPTLOCK; write the _PRG registers; OPTCCR =
    /// CLR_OPTCHANGEERR; OPTCR = OPTSTART.
    fn start_options(&mut self, writes: &[(u32, u32)]) {
        if self.optcr() & OPTCR_OPTLOCK != 0 {
            self.opt_unlock();
        }
        for &(reg, value) in writes {
            self.w(reg, value);
        }
        self.w(OPTCCR, OPTCCR_CLR_OPTCHANGEERR);
        self.w(OPTCR, OPTCR_OPTSTART);
    }

    /// Facts 3.3 "Sector erase: CRx = SER | PSIZE | SNB(n)<<8; then CRx |= START".
    fn start_sector_erase(&mut self, bank: usize, snb: u32) {
        let cr = CR_SER | CR_PSIZE_X64 | cr_snb(snb);
        self.w(CR[bank], cr);
        self.w(CR[bank], cr | CR_START);
    }

    fn clear_errors(&mut self, bank: usize) {
        self.w(CCR[bank], SR_ERRORS | SR_EOP);
        assert_eq!(self.sr(bank) & SR_ERRORS, 0);
    }

    fn bytes(&self, address: u32, len: usize) -> Vec<u8> {
        self.flash.read(address, len).expect("in range").to_vec()
    }

    fn all(&self) -> Vec<u8> {
        self.bytes(FLASH_BASE, FLASH_SIZE as usize)
    }

    /// Fill the array with a non-erased pattern, straight into the cells (test setup).
    fn preload(&mut self) {
        let pattern: Vec<u8> = (0..FLASH_SIZE).map(|i| (i % 251) as u8).collect();
        assert!(self.flash.program(FLASH_BASE, &pattern));
    }

    fn reset(&mut self) {
        self.fc.reset();
    }
}

fn pattern_at(address: u32) -> u8 {
    ((address - FLASH_BASE) % 251) as u8
}

fn word_bytes(words: [u32; 8]) -> Vec<u8> {
    words.iter().flat_map(|w| w.to_le_bytes()).collect()
}

const DATA: [u32; 8] = [
    0x0123_4567,
    0x89AB_CDEF,
    0xDEAD_BEEF,
    0x0000_0000,
    0x1111_2222,
    0x3333_4444,
    0xA5A5_5A5A,
    0x7F7F_0101,
];

// ------------------------------------------------------------------ constants and layout

/// Facts 3.0 keys, 3.3 register map and bit tables against the crate's public constants.
#[test]
fn public_constants_match_the_facts_tables() {
    assert_eq!(h7::FLASH_R_BASE, FLASH_R_BASE);
    assert_eq!(
        (h7::KEY1, h7::KEY2, h7::OPTKEY1, h7::OPTKEY2),
        (KEY1, KEY2, OPTKEY1, OPTKEY2)
    );
    assert_eq!(
        [
            h7::ACR,
            h7::KEYR1,
            h7::OPTKEYR,
            h7::CR1,
            h7::SR1,
            h7::CCR1,
            h7::OPTCR,
            h7::OPTSR_CUR,
            h7::OPTSR_PRG,
            h7::OPTCCR,
            h7::WPSN_CUR1,
            h7::WPSN_PRG1,
            h7::BOOT_CUR,
            h7::BOOT_PRG,
            h7::BOOT4_CUR,
            h7::BOOT4_PRG,
        ],
        [
            ACR, KEYR1, OPTKEYR, CR1, SR1, CCR1, OPTCR, OPTSR_CUR, OPTSR_PRG, OPTCCR, WPSN_CUR1,
            WPSN_PRG1, BOOT_CUR, BOOT_PRG, BOOT4_CUR, BOOT4_PRG
        ]
    );
    assert_eq!(
        [
            h7::KEYR2,
            h7::CR2,
            h7::SR2,
            h7::CCR2,
            h7::WPSN_CUR2,
            h7::WPSN_PRG2
        ],
        [KEYR2, CR2, SR2, CCR2, WPSN_CUR2, WPSN_PRG2]
    );
    assert_eq!(
        [
            h7::CR_LOCK,
            h7::CR_PG,
            h7::CR_SER,
            h7::CR_BER,
            h7::CR_PSIZE_X64,
            h7::CR_FW,
            h7::CR_START
        ],
        [
            CR_LOCK,
            CR_PG,
            CR_SER,
            CR_BER,
            CR_PSIZE_X64,
            CR_FW,
            CR_START
        ]
    );
    assert_eq!(h7::CR_SNB_SHIFT, 8);
    assert_eq!(
        [
            h7::SR_BSY,
            h7::SR_WBNE,
            h7::SR_QW,
            h7::SR_EOP,
            h7::SR_WRPERR,
            h7::SR_PGSERR,
            h7::SR_STRBERR,
            h7::SR_INCERR,
            h7::SR_OPERR,
            h7::SR_ERRORS
        ],
        [
            SR_BSY, SR_WBNE, SR_QW, SR_EOP, SR_WRPERR, SR_PGSERR, SR_STRBERR, SR_INCERR, SR_OPERR,
            SR_ERRORS
        ]
    );
    assert_eq!(
        (h7::OPTCR_OPTLOCK, h7::OPTCR_OPTSTART, h7::OPTCR_MER),
        (OPTCR_OPTLOCK, OPTCR_OPTSTART, OPTCR_MER)
    );
    assert_eq!(
        [
            h7::OPTSR_OPT_BUSY,
            h7::OPTSR_RDP_MASK,
            h7::OPTSR_BCM4,
            h7::OPTSR_BCM7,
            h7::OPTSR_OPTCHANGEERR,
            h7::OPTCCR_CLR_OPTCHANGEERR
        ],
        [
            OPTSR_OPT_BUSY,
            OPTSR_RDP_MASK,
            OPTSR_BCM4,
            OPTSR_BCM7,
            OPTSR_OPTCHANGEERR,
            OPTCCR_CLR_OPTCHANGEERR
        ]
    );
    // Facts 3.0 RDP table.
    for (byte, level) in [
        (0xAA, 0),
        (0xCC, 2),
        (0x55, 1),
        (0x00, 1),
        (0xBB, 1),
        (0xFF, 1),
    ] {
        assert_eq!(h7::rdp_level(byte << 8), level, "RDP byte {byte:#04x}");
    }
    // Facts 3.3: WPSN bit i = 0 → sector i of that bank write-protected.
    let mut o = H7Options::factory(H7Variant::H743);
    o.wpsn = [wpsn(&[3]), wpsn(&[0, 7])];
    for s in 0..SECTORS {
        assert_eq!(
            o.sector_write_protected(s),
            [3, 8, 15].contains(&s),
            "sector {s}"
        );
    }
}

/// Facts 5.1 [X]: 2 banks × 8 × 128 KB, bank 2 at 0x08100000 (CMSIS-H7, OOCD, probe-rs); the
/// H7 ROM lists `16*128Kg` (facts 2.7).
#[test]
fn layout_is_two_banks_of_eight_128k_sectors() {
    let flash = FlashArray::new(FLASH_BASE, vec![SECTOR; SECTORS]);
    assert_eq!(flash.size(), 2 * 1024 * 1024);
    assert_eq!(flash.sector(8), Some((BANK2_BASE, SECTOR)));
    assert_eq!(flash.sector_of(0x080F_FFFF), Some(7));
    assert_eq!(flash.sector_of(0x081F_FFFF), Some(15));
    assert_eq!(
        (
            h7::BANK1_BASE,
            h7::BANK2_BASE,
            h7::SECTOR_SIZE,
            h7::FLASH_WORD
        ),
        (FLASH_BASE, BANK2_BASE, SECTOR, FLASH_WORD)
    );
    // Facts 5.1: sector = 4096 flash words.
    assert_eq!(SECTOR / FLASH_WORD, 4096);
}

/// Facts 5.2: H7 128 KB sector erase max 4 s [V, third-party copy]; OpenOCD mass-erase budget
/// 30 s [V]; datasheet figures [R].
#[test]
fn timing_follows_facts_5_2() {
    let ms = Duration::from_millis;
    for t in [Timing::Typical, Timing::Max] {
        let timing = h7::timing(t);
        assert!(timing.erase_time(SECTOR) <= Duration::from_secs(4), "{t:?}");
        assert!(timing.mass_erase <= Duration::from_secs(30), "{t:?}");
        assert!(timing.option_program > Duration::ZERO);
        assert_eq!(
            h7::flash_word_program_time(&timing),
            timing.word_program * 8,
            "word_program is per 32-bit word of data"
        );
    }
    let typ = h7::timing(Timing::Typical);
    let max = h7::timing(Timing::Max);
    // [R] fact: 256-bit word ~100-290 µs depending on parallelism (facts 5.2, DS12110).
    let word = h7::flash_word_program_time(&typ);
    assert!(word >= Duration::from_micros(100) && word <= Duration::from_micros(290));
    // [R] fact: 128 KB sector erase 1-2 s typ (facts 5.2).
    assert!(typ.erase_time(SECTOR) >= ms(1000) && typ.erase_time(SECTOR) <= ms(2000));
    // [R] fact: mass erase "several seconds per bank" (facts 5.2).
    assert!(typ.mass_erase >= ms(2000));
    assert!(max.erase_time(SECTOR) >= typ.erase_time(SECTOR));
    assert!(max.mass_erase >= typ.mass_erase);
    assert!(max.word_program >= typ.word_program);
}

/// Facts 3.3: after reset both CRx.LOCK and OPTCR.OPTLOCK are set, OPTSR_CUR shows the loaded
/// options and OPTSR_PRG the same (OpenOCD's set_rdp reads OPTSR_PRG as the current value).
#[test]
fn reset_state_is_locked_with_factory_options() {
    let b = Bench::factory();
    for bank in 0..2 {
        assert_ne!(b.cr(bank) & CR_LOCK, 0, "bank {bank}");
        assert_eq!(b.sr(bank), 0, "bank {bank}");
        // [R] fact: factory WPSN 0xFF, no sector protected (model's recollection).
        assert_eq!(b.read(WPSN_CUR[bank]), 0xFF);
        assert_eq!(b.read(WPSN_PRG[bank]), 0xFF);
    }
    assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0);
    // [R] fact: factory OPTSR 0x0006AAD0 (model's recollection, not in the facts file).
    assert_eq!(b.optsr(), FACTORY_OPTSR_H743);
    assert_eq!(b.read(OPTSR_PRG), FACTORY_OPTSR_H743);
    assert_eq!((b.optsr() & OPTSR_RDP_MASK) >> 8, RDP_LEVEL0);
    assert_eq!(b.read(BOOT_CUR), FACTORY_BOOT);
    assert_eq!(b.read(BOOT_PRG), FACTORY_BOOT);
    // H743: no BOOT4.
    assert_eq!(b.read(BOOT4_CUR), 0);
    assert_eq!(b.fc.rdp_level(), 0);
    assert_eq!(b.fc.stored_rdp_level(), 0);
    assert!((0..SECTORS).all(|s| !b.fc.sector_write_protected(s)));
    assert!(b.all().iter().all(|&x| x == 0xFF));
    assert_eq!(b.fc.option_area(0x1FFF_C000), None);
}

// ------------------------------------------------------------------ keys

/// Facts 3.3 "Unlock bank: ... (each bank separately)": KEYR1 unlocks CR1 only, KEYR2 CR2 only;
/// CRx = LOCK relocks (OpenOCD `stm32x_lock_reg`).
#[test]
fn keyr_unlocks_its_own_bank_only() {
    let mut b = Bench::factory();
    assert_eq!(b.write(KEYR1, KEY1), Ok(()));
    assert_ne!(b.cr(0) & CR_LOCK, 0, "one key is not enough");
    assert_eq!(b.write(KEYR1, KEY2), Ok(()));
    assert_eq!(b.cr(0) & CR_LOCK, 0);
    assert_ne!(b.cr(1) & CR_LOCK, 0, "bank 2 still locked");

    b.unlock(1);
    b.w(CR1, CR_LOCK);
    assert_ne!(b.cr(0) & CR_LOCK, 0);
    assert_eq!(b.cr(1) & CR_LOCK, 0, "locking bank 1 leaves bank 2 alone");
    b.unlock(0);
}

/// Facts 3.0: a wrong key sequence raises a bus error and locks the register until the next
/// reset; keys to an already unlocked bank are a wrong sequence. Per bank (facts 3.3 keys "each
/// bank separately"): the other bank still unlocks.
#[test]
fn wrong_key_faults_and_locks_that_bank_until_reset() {
    let wrong: [&[u32]; 6] = [
        &[0xDEAD_BEEF],
        &[KEY2],
        &[KEY1, KEY1],
        &[KEY1, 0],
        &[KEY1, OPTKEY2],
        &[KEY1, KEY2, KEY1],
    ];
    for bank in 0..2 {
        let other = 1 - bank;
        for seq in wrong {
            let mut b = Bench::factory();
            let (last, head) = seq.split_last().unwrap();
            for &k in head {
                assert_eq!(b.write(KEYR[bank], k), Ok(()), "bank {bank} {seq:x?}");
            }
            assert_eq!(
                b.write(KEYR[bank], *last),
                Err(BusFault),
                "bank {bank} {seq:x?}"
            );
            assert_ne!(b.cr(bank) & CR_LOCK, 0);
            let _ = b.write(KEYR[bank], KEY1);
            let _ = b.write(KEYR[bank], KEY2);
            assert_ne!(
                b.cr(bank) & CR_LOCK,
                0,
                "bank {bank} {seq:x?}: right keys do not help before reset"
            );
            // CR stays unwritable: no erase.
            b.preload();
            let _ = b.write(CR[bank], CR_SER | CR_START);
            assert!(!b.busy(bank));
            assert_eq!(
                b.bytes(sector_addr(bank * 8), 1),
                vec![pattern_at(sector_addr(bank * 8))]
            );
            // The other bank is unaffected.
            b.unlock(other);

            b.reset();
            b.unlock(bank);
        }
    }
}

/// Facts 3.3 option change: "if OPTCR.OPTLOCK → OPTKEYR = OPTKEY1, OPTKEY2" (no CR unlock
/// needed, unlike G0/L4); facts 3.0 wrong key → bus error, locked until reset.
#[test]
fn optkeyr_unlocks_and_a_wrong_key_locks_until_reset() {
    let mut b = Bench::factory();
    b.opt_unlock();
    assert_ne!(b.cr(0) & CR_LOCK, 0, "CR1.LOCK is a separate lock");
    assert_ne!(b.cr(1) & CR_LOCK, 0);

    let wrong: [&[u32]; 5] = [
        &[0x1234_5678],
        &[OPTKEY2],
        &[OPTKEY1, OPTKEY1],
        &[OPTKEY1, KEY2],
        &[OPTKEY1, OPTKEY2, OPTKEY1],
    ];
    for seq in wrong {
        let mut b = Bench::factory();
        let (last, head) = seq.split_last().unwrap();
        for &k in head {
            assert_eq!(b.write(OPTKEYR, k), Ok(()), "{seq:x?}");
        }
        assert_eq!(b.write(OPTKEYR, *last), Err(BusFault), "{seq:x?}");
        let _ = b.write(OPTKEYR, OPTKEY1);
        let _ = b.write(OPTKEYR, OPTKEY2);
        assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0, "{seq:x?}");
        // The options cannot be changed meanwhile.
        let _ = b.write(OPTSR_PRG, FACTORY_OPTSR_H743 & !OPTSR_RDP_MASK);
        let _ = b.write(OPTCR, OPTCR_OPTSTART);
        assert!(!b.opt_busy());
        assert_eq!(b.fc.stored_rdp_level(), 0);
        b.reset();
        b.opt_unlock();
    }
}

// ------------------------------------------------------------------ option changes

/// Facts 3.3 register table: OPTCR and the _PRG registers are write-protected by OPTLOCK:
/// OPTSTART (and MER) while locked does nothing. The sequence ends with OPTCR = OPTLOCK, which
/// relocks.
#[test]
fn optstart_and_prg_writes_while_optlocked_do_nothing() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();
    b.w(OPTSR_PRG, FACTORY_OPTSR_H743 | (RDP_LEVEL2 << 8));
    b.w(WPSN_PRG1, 0);
    b.w(OPTCR, OPTCR_OPTSTART);
    b.w(OPTCR, OPTCR_MER);
    assert!(!b.opt_busy());
    assert_eq!(b.read(OPTSR_PRG), FACTORY_OPTSR_H743);
    assert_eq!(b.read(WPSN_PRG1), 0xFF);
    assert_eq!(b.optsr(), FACTORY_OPTSR_H743);
    assert_eq!(b.all(), data, "MER while OPTLOCK did not erase");

    // Unlock, then OPTLOCK relocks and the keys are needed again.
    b.opt_unlock();
    b.w(OPTCR, OPTCR_OPTLOCK);
    assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0);
    b.w(WPSN_PRG1, 0);
    b.w(OPTCR, OPTCR_OPTSTART);
    assert!(!b.opt_busy());
    assert_eq!(b.read(WPSN_CUR1), 0xFF);
    b.opt_unlock();
}

/// Facts 3.3 option change: write OPTSR_PRG / WPSN_PRGx / BOOT_PRG, clear OPTCHANGEERR,
/// OPTSTART, poll OPTSR_CUR.OPT_BUSY until 0, check OPTCHANGEERR, OPTCR = OPTLOCK; facts 7
/// item 6 "OPTSR_PRG → OPTSTART → OPT_BUSY → OPTSR_CUR updated".
#[test]
fn option_change_busy_then_cur_registers_show_new_values_without_reset() {
    let mut b = Bench::factory();
    // BOR_LEV 10 (2.4 V), bank-2 sector 3 (global 11) protected, BOOT_ADD0 = 0x0810.
    let new_optsr = (FACTORY_OPTSR_H743 & !OPTSR_BOR_MASK) | (2 << 2);
    let new_wpsn2 = wpsn(&[3]);
    let new_boot = (FACTORY_BOOT & 0xFFFF_0000) | 0x0810;
    b.opt_unlock();
    b.w(OPTSR_PRG, new_optsr);
    b.w(WPSN_PRG2, new_wpsn2);
    b.w(BOOT_PRG, new_boot);
    // The _PRG registers read back what was written; _CUR is untouched.
    assert_eq!(b.read(OPTSR_PRG), new_optsr);
    assert_eq!(b.read(WPSN_PRG2), new_wpsn2);
    assert_eq!(b.read(BOOT_PRG), new_boot);
    assert_eq!(b.optsr(), FACTORY_OPTSR_H743);
    assert_eq!(b.read(WPSN_CUR2), 0xFF);
    b.w(OPTCCR, OPTCCR_CLR_OPTCHANGEERR);

    let t0 = b.now;
    b.w(OPTCR, OPTCR_OPTSTART);
    // OPT_BUSY for the option-programming time (the facts file gives no figure: the model's
    // FlashTiming::option_program). While busy the _CUR registers show the old values
    // (model's choice).
    assert!(b.opt_busy());
    b.now = t0 + b.timing.option_program - NS;
    assert!(b.opt_busy());
    assert_eq!(b.optsr() & !OPTSR_OPT_BUSY, FACTORY_OPTSR_H743);
    assert_eq!(b.read(WPSN_CUR2), 0xFF);
    assert_eq!(b.read(BOOT_CUR), FACTORY_BOOT);

    // [R] fact: OPTSTART programs and reloads, so OPTSR_CUR shows the new values once OPT_BUSY
    // clears, without a system reset (facts 3.3, inferred from HAL/OpenOCD code).
    b.now = t0 + b.timing.option_program;
    assert!(!b.opt_busy());
    assert_eq!(b.optsr() & OPTSR_OPTCHANGEERR, 0, "no OPTCHANGEERR");
    assert_eq!(b.optsr(), new_optsr);
    assert_eq!(b.read(WPSN_CUR2), new_wpsn2);
    assert_eq!(b.read(WPSN_CUR1), 0xFF);
    assert_eq!(b.read(BOOT_CUR), new_boot);
    b.w(OPTCR, OPTCR_OPTLOCK);
    assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0);

    // [R] fact: and they govern protection at once: bank-2 sector 3 (global 11) is protected,
    // bank-1 sector 3 is not.
    assert!(b.fc.sector_write_protected(11));
    assert!(!b.fc.sector_write_protected(3));
    b.unlock(1);
    b.w(CR2, CR_PG | CR_PSIZE_X64);
    b.program_word(sector_addr(11), DATA);
    assert_ne!(b.sr(1) & SR_WRPERR, 0);
    assert_eq!(b.bytes(sector_addr(11), 32), vec![0xFF; 32]);

    // A reset loads the same values from the cells.
    b.reset();
    assert_eq!(b.optsr(), new_optsr);
    assert_eq!(b.read(OPTSR_PRG), new_optsr);
    assert_eq!(b.read(WPSN_CUR2), new_wpsn2);
    assert_eq!(b.read(WPSN_PRG2), new_wpsn2);
    assert_eq!(b.read(BOOT_CUR), new_boot);
}

/// Facts 3.3: WPSN per bank (WRPSN 7:0, bit i = 0 → sector i of that bank protected). An erase
/// queued during OPT_BUSY runs under the new options (model's choice: operations queue behind
/// OPT_BUSY).
#[test]
fn erase_issued_during_opt_busy_sees_the_new_protection() {
    let mut b = Bench::factory();
    b.preload();
    b.unlock(0);
    b.start_options(&[(WPSN_PRG1, wpsn(&[2]))]);
    assert!(b.opt_busy());
    b.start_sector_erase(0, 2);
    assert_ne!(b.sr(0) & SR_WRPERR, 0);
    assert_eq!(b.bytes(sector_addr(2), 1), vec![pattern_at(sector_addr(2))]);
    b.clear_errors(0);
    // An unprotected sector's erase is queued behind the option change.
    let opt_end = b.fc.busy_until();
    b.start_sector_erase(0, 1);
    assert_eq!(
        b.fc.busy_until(),
        opt_end + b.timing.erase_time(SECTOR),
        "queued after OPT_BUSY"
    );
}

/// Facts 3.0 level semantics (1 → 0 forces a mass erase before protection is removed; other
/// option bytes keep their values); facts 3.3 RDP values 0xAA / 0x00 / 0xCC (OpenOCD).
#[test]
fn rdp_regression_1_to_0_erases_both_banks_even_write_protected_sectors() {
    for debugger in [false, true] {
        let wrp = [0usize, 7, 8, 15];
        let mut b = Bench::new(options(RDP_LEVEL1, &wrp));
        b.debugger = debugger;
        assert_eq!(b.fc.rdp_level(), 1);
        b.preload();
        let optsr = b.read(OPTSR_PRG);
        assert_eq!((optsr & OPTSR_RDP_MASK) >> 8, RDP_LEVEL1);
        let t0 = b.now;
        // OpenOCD set_rdp: read OPTSR_PRG, replace bits 15:8, write it back.
        b.start_options(&[(OPTSR_PRG, (optsr & !OPTSR_RDP_MASK) | (RDP_LEVEL0 << 8))]);
        // [R] fact: RDP 1 → 0 on H7 erases the flash as part of the option change (facts 3.3,
        // RM0433/RM0399 text not read); facts 7 item 7 "long busy": the mass-erase time.
        b.now = t0 + b.timing.mass_erase - NS;
        assert!(b.opt_busy(), "debugger={debugger}");
        assert_eq!(
            b.optsr() & OPTSR_RDP_MASK,
            RDP_LEVEL1 << 8,
            "old RDP shown while busy"
        );
        b.wait_idle();
        assert!(b.now - t0 >= b.timing.mass_erase + b.timing.option_program);
        assert_eq!(b.optsr() & OPTSR_OPTCHANGEERR, 0);
        assert_eq!(b.optsr() & OPTSR_RDP_MASK, RDP_LEVEL0 << 8);
        assert_eq!(b.fc.rdp_level(), 0);
        assert!(
            b.all().iter().all(|&x| x == 0xFF),
            "debugger={debugger}: both banks erased, protected sectors included"
        );
        // Facts 3.0: other option bytes (incl. write protection) keep their values.
        assert_eq!(b.read(WPSN_CUR1), wpsn(&[0, 7]));
        assert_eq!(b.read(WPSN_CUR2), wpsn(&[0, 7]));
        b.reset();
        assert_eq!(b.fc.rdp_level(), 0);
    }
}

/// Facts 3.0: "Only this transition erases; 0→1, 1→2, 0→2 do not"; level 2 freezes the option
/// bytes, irreversibly. Facts 3.3 names OPTCHANGEERR for a failed change: a change attempted at
/// level 2 raises it (model's choice), cleared through OPTCCR.
#[test]
fn rdp_raise_does_not_erase_and_level_2_freezes_options() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();
    let base = FACTORY_OPTSR_H743 & !OPTSR_RDP_MASK;

    let t0 = b.now;
    b.start_options(&[(OPTSR_PRG, base | (0x55 << 8))]);
    b.wait_idle();
    assert_eq!(
        b.now - t0,
        b.timing.option_program,
        "0→1: no mass-erase time"
    );
    assert_eq!(b.all(), data);
    assert_eq!(b.fc.rdp_level(), 1);

    let t0 = b.now;
    b.start_options(&[(OPTSR_PRG, base | (RDP_LEVEL2 << 8))]);
    b.wait_idle();
    assert_eq!(b.now - t0, b.timing.option_program, "1→2: no erase");
    assert_eq!(b.all(), data);
    assert_eq!(b.fc.rdp_level(), 2);
    let frozen = b.optsr();

    for round in 0..3 {
        for (reg, value) in [
            (OPTSR_PRG, base | (RDP_LEVEL0 << 8)),
            (OPTSR_PRG, base | (RDP_LEVEL1 << 8)),
            (WPSN_PRG1, 0),
        ] {
            b.start_options(&[(reg, value)]);
            b.now += b.timing.mass_erase + b.timing.option_program;
            assert_ne!(b.optsr() & OPTSR_OPTCHANGEERR, 0, "round {round}");
            assert_eq!(b.optsr() & !OPTSR_OPTCHANGEERR, frozen, "round {round}");
            assert_eq!(b.read(WPSN_CUR1), 0xFF);
            assert_eq!(
                b.all(),
                data,
                "round {round}: no regression erase at level 2"
            );
            b.w(OPTCCR, OPTCCR_CLR_OPTCHANGEERR);
            assert_eq!(b.optsr() & OPTSR_OPTCHANGEERR, 0);
        }
        b.reset();
        assert_eq!(b.fc.rdp_level(), 2);
        assert_eq!(b.fc.stored_rdp_level(), 2);
        assert_eq!(b.optsr(), frozen);
    }
}

/// Facts 3.0: 0 → 2 does not erase.
#[test]
fn rdp_0_to_2_does_not_erase() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();
    b.start_options(&[(
        OPTSR_PRG,
        (FACTORY_OPTSR_H743 & !OPTSR_RDP_MASK) | (RDP_LEVEL2 << 8),
    )]);
    b.wait_idle();
    assert_eq!(b.all(), data);
    assert_eq!(b.fc.rdp_level(), 2);
}

// ------------------------------------------------------------------ erase

/// Facts 3.3 "Sector erase: CRx = SER | PSIZE | SNB(n)<<8; CRx |= START; wait SRx.QW = 0",
/// SNB 10:8 = sector within the bank; facts 5.1 layout; facts 5.2 "BSY/QW asserted for the
/// per-operation duration". Only the addressed bank is busy.
#[test]
fn sector_erase_per_bank_erases_exactly_that_sector_for_its_erase_time() {
    let mut b = Bench::factory();
    b.unlock(0);
    b.unlock(1);
    for sector in 0..SECTORS {
        let (bank, snb) = (sector / 8, (sector % 8) as u32);
        b.preload();
        let t0 = b.now;
        b.start_sector_erase(bank, snb);
        assert!(b.busy(bank), "sector {sector}");
        assert_ne!(b.sr(bank) & SR_BSY, 0);
        assert!(!b.busy(1 - bank), "sector {sector}: the other bank is idle");
        let t = b.timing.erase_time(SECTOR);
        b.now = t0 + t - NS;
        assert!(b.busy(bank));
        b.now = t0 + t;
        assert!(!b.busy(bank));
        assert_eq!(b.sr(bank) & SR_ERRORS, 0);
        assert_ne!(b.sr(bank) & SR_EOP, 0);

        let start = sector_addr(sector);
        let data = b.all();
        for (i, &x) in data.iter().enumerate().step_by(509) {
            let a = FLASH_BASE + i as u32;
            let inside = a >= start && a < start + SECTOR;
            assert_eq!(
                x,
                if inside { 0xFF } else { pattern_at(a) },
                "sector {sector} at {a:#x}"
            );
        }
        assert!(b.bytes(start, SECTOR as usize).iter().all(|&x| x == 0xFF));
        if sector > 0 {
            assert_eq!(b.bytes(start - 1, 1), vec![pattern_at(start - 1)]);
        }
        if sector < SECTORS - 1 {
            assert_eq!(b.bytes(start + SECTOR, 1), vec![pattern_at(start + SECTOR)]);
        }
        b.clear_errors(bank);
    }
}

/// Facts 5.2 [R]: 128 KB sector erase; the two banks work in parallel (facts 5.1 "dual bank").
#[test]
fn sector_erase_time_per_column_and_banks_in_parallel() {
    // [R] fact: H7 128 KB sector erase "1-2 s typ, max 4 s" (facts 5.2), via h7::timing.
    for timing in [Timing::Typical, Timing::Max] {
        let mut b = Bench::with_timing(H7Options::factory(H7Variant::H743), timing);
        b.unlock(0);
        b.unlock(1);
        let t0 = b.now;
        b.start_sector_erase(0, 4);
        b.start_sector_erase(1, 4);
        let t = h7::timing(timing).erase_time(SECTOR);
        assert_eq!(
            b.fc.busy_until() - t0,
            t,
            "{timing:?}: banks erase in parallel"
        );
        // A second erase in the same bank queues behind the first.
        b.start_sector_erase(0, 5);
        assert_eq!(b.fc.busy_until() - t0, 2 * t, "{timing:?}");
        b.now = t0 + t;
        assert!(b.busy(0) && !b.busy(1));
    }
}

/// Facts 3.3: CRx is protected by its own LOCK: with only bank 1 unlocked, an erase through CR2
/// does nothing.
#[test]
fn erase_through_a_locked_bank_does_nothing() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();
    b.unlock(0);
    b.start_sector_erase(1, 0);
    assert_ne!(b.cr(1) & CR_LOCK, 0);
    assert!(!b.busy(1));
    assert_eq!(b.all(), data);
}

/// Facts 3.3 "Bank erase: CRx = BER | PSIZE, then | START. Both banks: OPTCR.MER". Bank erase
/// time = the model's mass-erase figure (facts 5.2 gives one "per bank" figure).
#[test]
fn bank_erase_and_mer_mass_erase() {
    let mut b = Bench::factory();
    b.preload();
    b.unlock(1);
    let t0 = b.now;
    b.w(CR2, CR_BER | CR_PSIZE_X64);
    b.w(CR2, CR_BER | CR_PSIZE_X64 | CR_START);
    assert_eq!(b.fc.busy_until() - t0, h7::bank_erase_time(&b.timing));
    assert!(b.busy(1) && !b.busy(0));
    assert!(
        b.bytes(BANK2_BASE, (FLASH_SIZE / 2) as usize)
            .iter()
            .all(|&x| x == 0xFF)
    );
    assert_eq!(b.bytes(BANK2_BASE - 1, 1), vec![pattern_at(BANK2_BASE - 1)]);
    b.wait_idle();

    // OPTCR.MER: both banks (the model also wants both banks unlocked, model's choice).
    b.preload();
    b.unlock(0);
    b.opt_unlock();
    let t0 = b.now;
    b.w(OPTCR, OPTCR_MER);
    // [R] fact: mass erase "several seconds" (facts 5.2), via h7::timing.
    assert_eq!(b.fc.busy_until() - t0, b.timing.mass_erase);
    assert!(b.busy(0) && b.busy(1));
    assert!(b.all().iter().all(|&x| x == 0xFF));
    b.wait_idle();
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
    assert_eq!(b.sr(1) & SR_ERRORS, 0);
}

/// Facts 3.3 WPSN (active low, per bank) + facts 7 item 5: erase of a protected sector is
/// refused with WRPERR (OOCD checks WRPERR after erase); per bank.
#[test]
fn erase_of_a_write_protected_sector_is_wrperr_per_bank() {
    let mut b = Bench::new(options(RDP_LEVEL0, &[3, 14]));
    b.preload();
    let data = b.all();
    b.unlock(0);
    b.unlock(1);
    b.start_sector_erase(0, 3);
    assert_ne!(b.sr(0) & SR_WRPERR, 0);
    assert_eq!(b.sr(1) & SR_WRPERR, 0, "the flag is in the bank's own SR");
    b.start_sector_erase(1, 6);
    assert_ne!(b.sr(1) & SR_WRPERR, 0);
    assert!(!b.busy(0) && !b.busy(1));
    assert_eq!(b.all(), data);
    b.clear_errors(0);
    b.clear_errors(1);
    // Bank 2 sector 3 (global 11) is not protected, nor bank 1 sector 6.
    b.start_sector_erase(1, 3);
    b.start_sector_erase(0, 6);
    b.wait_idle();
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
    assert_eq!(b.sr(1) & SR_ERRORS, 0);
    assert!(b.bytes(sector_addr(11), 16).iter().all(|&x| x == 0xFF));
    assert!(b.bytes(sector_addr(6), 16).iter().all(|&x| x == 0xFF));
    // BER on a bank with a protected sector is refused too.
    b.w(CR1, CR_BER);
    b.w(CR1, CR_BER | CR_START);
    assert_ne!(b.sr(0) & SR_WRPERR, 0);
    assert_eq!(b.bytes(sector_addr(0), 1), vec![pattern_at(sector_addr(0))]);
}

// ------------------------------------------------------------------ programming

/// Facts 3.3 "Program: CRx = PG | PSIZE; write one 256-bit flash word (32 bytes, 8 × 32-bit
/// writes) aligned to 32 bytes; the word is programmed once complete"; SR.WBNE = write buffer
/// not empty; QW while the word programs; facts 5.2 flash-word time.
#[test]
fn flash_word_is_programmed_when_its_eighth_word_is_written() {
    let mut b = Bench::factory();
    b.unlock(0);
    b.w(CR1, CR_PG | CR_PSIZE_X64);
    let a = sector_addr(5) + 0x40;
    for (i, w) in DATA.iter().enumerate().take(7) {
        b.program(a + 4 * i as u32, *w, 4);
        assert_ne!(b.sr(0) & SR_WBNE, 0, "word {i}: buffer not empty");
        assert!(!b.busy(0), "word {i}: nothing programming yet");
        assert_eq!(b.bytes(a, 32), vec![0xFF; 32], "word {i}: cells untouched");
    }
    let t0 = b.now;
    b.program(a + 28, DATA[7], 4);
    assert_eq!(b.sr(0) & SR_WBNE, 0);
    assert!(b.busy(0), "QW while the flash word programs");
    assert_eq!(
        b.fc.busy_until() - t0,
        h7::flash_word_program_time(&b.timing)
    );
    // [R] fact: 256-bit word program ~100-290 µs (facts 5.2).
    assert!(b.fc.busy_until() - t0 >= Duration::from_micros(100));
    assert_eq!(b.bytes(a, 32), word_bytes(DATA));
    b.wait_idle();
    assert_ne!(b.sr(0) & SR_EOP, 0);
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
    // Neighbouring flash words untouched.
    assert_eq!(b.bytes(a - 32, 32), vec![0xFF; 32]);
    assert_eq!(b.bytes(a + 32, 32), vec![0xFF; 32]);

    // Byte and half-word writes fill the buffer too (facts 3.3 gives no width rule; the
    // buffer takes any width, model's choice) and bank 2 works the same way.
    b.unlock(1);
    b.w(CR2, CR_PG | CR_PSIZE_X64);
    let a2 = BANK2_BASE + 0x2000;
    let bytes = word_bytes(DATA);
    for i in 0..16 {
        b.program(a2 + i, bytes[i as usize] as u32, 1);
    }
    for i in (16..32).step_by(2) {
        let v = u16::from_le_bytes([bytes[i as usize], bytes[i as usize + 1]]);
        b.program(a2 + i, v as u32, 2);
    }
    assert_eq!(b.sr(1) & SR_ERRORS, 0);
    assert_eq!(b.bytes(a2, 32), bytes);
}

/// Facts 3.3: FW = "force write of a partial flash word" ("or with FW for a partial word").
/// The missing bytes stay erased (0xFF) — model's reading of "partial".
#[test]
fn force_write_programs_a_partial_flash_word() {
    let mut b = Bench::factory();
    b.unlock(1);
    b.w(CR2, CR_PG | CR_PSIZE_X64);
    let a = sector_addr(9) + 0x100;
    b.program(a, 0x1122_3344, 4);
    b.program(a + 8, 0x5566_7788, 4);
    assert_ne!(b.sr(1) & SR_WBNE, 0);
    assert_eq!(b.bytes(a, 32), vec![0xFF; 32]);
    let t0 = b.now;
    b.w(CR2, CR_PG | CR_PSIZE_X64 | CR_FW);
    assert_eq!(b.sr(1) & SR_WBNE, 0);
    assert!(b.busy(1));
    assert_eq!(
        b.fc.busy_until() - t0,
        h7::flash_word_program_time(&b.timing)
    );
    let mut want = vec![0xFF; 32];
    want[..4].copy_from_slice(&0x1122_3344u32.to_le_bytes());
    want[8..12].copy_from_slice(&0x5566_7788u32.to_le_bytes());
    assert_eq!(b.bytes(a, 32), want);
    assert_eq!(b.cr(1) & CR_FW, 0, "FW is not a stored bit");
    b.wait_idle();

    // FW with an empty buffer does nothing.
    b.w(CR2, CR_PG | CR_FW);
    assert!(!b.busy(1));
    assert_eq!(b.sr(1) & SR_ERRORS, 0);
}

/// Facts 3.3 / 5.1: 10 ECC bits per flash word, "a flash word can be programmed only once after
/// erase". The facts file names no flag: the model raises OPERR and changes nothing (model's
/// choice). An erase makes the word programmable again.
#[test]
fn programming_a_flash_word_twice_is_operr() {
    let mut b = Bench::factory();
    b.unlock(0);
    b.w(CR1, CR_PG);
    let a = sector_addr(2);
    b.program_word(a, DATA);
    b.wait_idle();
    assert_eq!(b.sr(0) & SR_ERRORS, 0);

    // Even a program that would only clear bits (the F4 rule) is refused.
    let fewer_ones = DATA.map(|w| w & 0x0F0F_0F0F);
    b.program_word(a, fewer_ones);
    assert_ne!(b.sr(0) & SR_OPERR, 0);
    assert!(!b.busy(0));
    assert_eq!(b.bytes(a, 32), word_bytes(DATA));
    b.clear_errors(0);

    // A partially force-written word counts as programmed too.
    let a2 = a + 32;
    b.program(a2, 0, 4);
    b.w(CR1, CR_PG | CR_FW);
    b.wait_idle();
    b.program(a2 + 4, 0, 4);
    b.w(CR1, CR_PG | CR_FW);
    assert_ne!(b.sr(0) & SR_OPERR, 0);
    assert_eq!(b.bytes(a2 + 4, 4), vec![0xFF; 4]);
    b.clear_errors(0);

    b.w(CR1, 0);
    b.start_sector_erase(0, 2);
    b.wait_idle();
    b.w(CR1, CR_PG);
    b.program_word(a, fewer_ones);
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
    assert_eq!(b.bytes(a, 32), word_bytes(fewer_ones));
}

/// Write-buffer errors. Facts 3.3 lists INCERR and STRBERR but not their triggers; the model
/// follows RM0433's names (model's choice): a write to another flash word while one is partly
/// buffered → INCERR (buffer dropped); writing a byte already in the buffer → STRBERR.
#[test]
fn write_buffer_incerr_and_strberr() {
    let mut b = Bench::factory();
    b.unlock(0);
    b.w(CR1, CR_PG);
    let a = sector_addr(1);
    b.program(a, 0x1234_5678, 4);
    b.program(a + 32, 0, 4);
    assert_ne!(b.sr(0) & SR_INCERR, 0);
    assert_eq!(b.sr(0) & SR_WBNE, 0, "buffer dropped");
    assert_eq!(b.bytes(a, 64), vec![0xFF; 64]);
    b.clear_errors(0);

    b.program(a, 0x1234_5678, 4);
    b.program(a, 0, 4);
    assert_ne!(b.sr(0) & SR_STRBERR, 0);
    assert_ne!(b.sr(0) & SR_WBNE, 0, "the first write is still buffered");
    b.clear_errors(0);
    // The rest of the word completes it with the first value.
    for i in 1..8 {
        b.program(a + 4 * i, 0xFFFF_0000, 4);
    }
    assert_eq!(b.bytes(a, 4), 0x1234_5678u32.to_le_bytes());
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
}

/// Facts 3.3: PG is per bank (CRx), keys per bank. A flash write to a bank whose CR has no PG
/// (locked, or only the other bank set up) is a programming sequence error (PGSERR, model's
/// choice after RM0433's name) in the addressed bank's SR, and programs nothing.
#[test]
fn program_needs_pg_on_the_addressed_bank() {
    let mut b = Bench::factory();
    b.unlock(0);
    b.w(CR1, CR_PG);
    b.program_word(BANK2_BASE, DATA);
    assert_ne!(
        b.sr(1) & SR_PGSERR,
        0,
        "bank 2 locked, PG set only on bank 1"
    );
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
    assert_eq!(b.bytes(BANK2_BASE, 32), vec![0xFF; 32]);

    // Bank 2 unlocked but PG only on bank 1: still PGSERR.
    b.clear_errors(1);
    b.unlock(1);
    b.program_word(BANK2_BASE, DATA);
    assert_ne!(b.sr(1) & SR_PGSERR, 0);
    assert_eq!(b.bytes(BANK2_BASE, 32), vec![0xFF; 32]);

    // Without PG in bank 1.
    b.w(CR1, 0);
    b.program(FLASH_BASE, 0, 4);
    assert_ne!(b.sr(0) & SR_PGSERR, 0);
    assert_eq!(b.bytes(FLASH_BASE, 4), vec![0xFF; 4]);

    // PG with SER set at once is inconsistent.
    b.clear_errors(0);
    b.w(CR1, CR_PG | CR_SER);
    b.program(FLASH_BASE, 0, 4);
    assert_ne!(b.sr(0) & SR_PGSERR, 0);
    b.clear_errors(0);
    b.w(CR1, CR_PG | CR_SER | CR_START);
    assert_ne!(b.sr(0) & SR_PGSERR, 0);
    assert!(!b.busy(0));

    // And the right set-up works.
    b.clear_errors(1);
    b.w(CR2, CR_PG);
    b.program_word(BANK2_BASE, DATA);
    assert_eq!(b.sr(1) & SR_ERRORS, 0);
    assert_eq!(b.bytes(BANK2_BASE, 32), word_bytes(DATA));
}

/// Facts 3.3 WPSN per bank, active low: a program into a protected sector raises WRPERR in that
/// bank's SR and changes nothing; the same sector number in the other bank is free.
#[test]
fn write_protection_is_enforced_per_bank_on_program() {
    let mut b = Bench::new(options(RDP_LEVEL0, &[1, 12]));
    b.unlock(0);
    b.unlock(1);
    b.w(CR1, CR_PG);
    b.w(CR2, CR_PG);
    for (bank, sector) in [(0, 1), (1, 12)] {
        let a = sector_addr(sector) + 0x200;
        b.program_word(a, DATA);
        assert_ne!(b.sr(bank) & SR_WRPERR, 0, "sector {sector}");
        assert_eq!(b.bytes(a, 32), vec![0xFF; 32]);
        assert!(!b.busy(bank));
        b.clear_errors(bank);
    }
    for sector in [9, 4, 0] {
        let bank = sector / 8;
        let a = sector_addr(sector) + 0x200;
        b.program_word(a, DATA);
        assert_eq!(b.sr(bank) & SR_ERRORS, 0, "sector {sector}");
        assert_eq!(b.bytes(a, 32), word_bytes(DATA));
    }
    // The last flash word before a protected sector is fine.
    let a = sector_addr(12) - 32;
    b.program_word(a, DATA);
    assert_eq!(b.sr(1) & SR_ERRORS, 0);
}

/// Facts 3.0 level 1 with a debugger: no erase/program of main flash. Which flag: not in the
/// facts file; WRPERR is the model's choice (as the F4 model).
#[test]
fn debugger_with_rdp1_refuses_erase_and_program() {
    let mut b = Bench::new(options(0x55, &[]));
    b.debugger = true;
    b.preload();
    let data = b.all();
    b.unlock(0);
    b.w(CR1, CR_PG);
    b.program_word(sector_addr(3), DATA);
    assert_ne!(b.sr(0) & SR_WRPERR, 0);
    b.clear_errors(0);
    b.w(CR1, 0);
    b.start_sector_erase(0, 3);
    assert_ne!(b.sr(0) & SR_WRPERR, 0);
    assert_eq!(b.all(), data);

    // Code booted from flash (no debugger) has full access (facts 3.0).
    b.debugger = false;
    b.clear_errors(0);
    b.start_sector_erase(0, 3);
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
}

// ------------------------------------------------------------------ flags

/// Facts 3.3 "Clear by writing CCRx" (OpenOCD writes the SR value to CCR); facts 7 item 5
/// "error flags with write-1-to-clear (CCRx on H7)". Writing SRx clears nothing; BSY/QW are
/// status. OPTCHANGEERR clears through OPTCCR bit 30.
#[test]
fn flags_clear_by_writing_one_to_ccr() {
    let mut b = Bench::new(options(RDP_LEVEL0, &[0]));
    b.unlock(0);
    b.w(CR1, CR_PG);
    b.program(FLASH_BASE, 0, 4); // WRPERR (sector 0 protected)
    b.program(sector_addr(1), 0, 4);
    b.program(sector_addr(1) + 32, 0, 4); // INCERR
    b.program(sector_addr(1), 0, 4);
    b.program(sector_addr(1), 0, 4); // STRBERR
    b.w(CR1, 0);
    b.program(sector_addr(2), 0, 4); // PGSERR
    let raised = SR_WRPERR | SR_INCERR | SR_STRBERR | SR_PGSERR;
    assert_eq!(b.sr(0) & SR_ERRORS, raised);

    b.w(SR1, SR_ERRORS);
    assert_eq!(b.sr(0) & SR_ERRORS, raised, "SR1 is not the clear register");
    b.w(CCR1, 0);
    assert_eq!(b.sr(0) & SR_ERRORS, raised, "writing 0 clears nothing");
    b.w(CCR2, SR_ERRORS);
    assert_eq!(b.sr(0) & SR_ERRORS, raised, "CCR2 clears bank 2 only");
    b.w(CCR1, SR_INCERR);
    assert_eq!(b.sr(0) & SR_ERRORS, raised & !SR_INCERR);
    b.w(CCR1, SR_WRPERR | SR_PGSERR);
    assert_eq!(b.sr(0) & SR_ERRORS, SR_STRBERR);
    // OpenOCD style: write back the whole SR value.
    let sr = b.sr(0);
    b.w(CCR1, sr);
    assert_eq!(b.sr(0) & SR_ERRORS, 0);

    // EOP clears through CCR too; QW/BSY do not.
    b.w(CR1, CR_SER | cr_snb(3));
    b.w(CR1, CR_SER | cr_snb(3) | CR_START);
    assert!(b.busy(0));
    b.w(CCR1, 0xFFFF_FFFF);
    assert!(b.busy(0));
    assert_eq!(b.sr(0) & SR_EOP, 0);

    // OPTCHANGEERR (raised by a change at RDP level 2, model's choice).
    let mut b = Bench::new(options(RDP_LEVEL2, &[]));
    b.start_options(&[(WPSN_PRG1, 0)]);
    assert_ne!(b.optsr() & OPTSR_OPTCHANGEERR, 0);
    b.w(OPTCCR, !OPTCCR_CLR_OPTCHANGEERR);
    assert_ne!(b.optsr() & OPTSR_OPTCHANGEERR, 0);
    b.w(OPTCCR, OPTCCR_CLR_OPTCHANGEERR);
    assert_eq!(b.optsr() & OPTSR_OPTCHANGEERR, 0);
}

// ------------------------------------------------------------------ services for code on chip

/// The erase/program services code on the chip uses return the raw SR error bits (and clear
/// them, as the HAL does); `h7::SR_WRPERR` is the WRP flag of facts 3.3.
#[test]
fn chip_services_return_sr_error_bits() {
    let mut b = Bench::new(options(RDP_LEVEL0, &[10]));
    b.preload();
    let (fc, mut bus) = b.bus();
    assert_eq!(fc.erase_block(10, &mut bus), SR_WRPERR);
    assert_eq!(h7::SR_WRPERR, SR_WRPERR);
    assert_eq!(fc.erase_block(9, &mut bus), 0);
    // 100 bytes from a flash-word boundary: three full words and a force-written partial one.
    let data: Vec<u8> = (0..100u8).collect();
    let a = sector_addr(9) + 0x40;
    assert_eq!(fc.program_block(a, &data, &mut bus), 0);
    assert_eq!(fc.program_block(a + 96, &[1, 2, 3, 4], &mut bus), SR_OPERR);
    assert_eq!(
        fc.program_block(sector_addr(10), &[0; 32], &mut bus),
        SR_WRPERR
    );
    // A block across the bank boundary is fine when both sectors are erased.
    assert_eq!(fc.erase_block(7, &mut bus), 0);
    assert_eq!(fc.erase_block(8, &mut bus), 0);
    assert_eq!(fc.program_block(BANK2_BASE - 32, &[0x5A; 64], &mut bus), 0);
    assert_eq!(fc.mass_erase_block(&mut bus), SR_WRPERR);
    assert_eq!(b.bytes(a, 100), data);
    assert_eq!(b.bytes(a + 100, 28), vec![0xFF; 28]);
    assert_eq!(b.bytes(BANK2_BASE - 32, 64), vec![0x5A; 64]);
    // Flags cleared, locks as they were.
    assert_eq!(b.sr(0) & SR_ERRORS, 0);
    assert_eq!(b.sr(1) & SR_ERRORS, 0);
    assert_ne!(b.cr(0) & CR_LOCK, 0);
    assert_ne!(b.cr(1) & CR_LOCK, 0);
    b.wait_idle();
}

/// The bootloader's Read Unprotect stores RDP level 0 for the next reset.
#[test]
fn store_rdp_level0_takes_effect_at_reset() {
    let mut b = Bench::new(options(0x55, &[]));
    b.fc.store_rdp_level0();
    assert_eq!(b.fc.rdp_level(), 1);
    assert_eq!(b.fc.stored_rdp_level(), 0);
    b.reset();
    assert_eq!(b.fc.rdp_level(), 0);
    assert_eq!(b.optsr() & OPTSR_RDP_MASK, RDP_LEVEL0 << 8);
}

// ------------------------------------------------------------------ dual core, aliases, state

/// Facts 3.3: H745/H755 have BCM4/BCM7, IWDG2_SW, NRST_*_D2 in OPTSR and BOOT4_CUR/PRG (CM4 boot
/// addresses) at 0x048/0x04C; H743 has neither. Facts 3.3 [R]: keep BCM7 = 1 (clearing both
/// BCM bits bricks boot) — the controller itself accepts it.
#[test]
fn h755_has_cm4_options_and_h743_does_not() {
    let mut b = Bench::new(H7Options::factory(H7Variant::H755));
    // [R] fact: factory OPTSR 0x03C6AAF0 and BOOT4 0x1FF00810 (model's recollection).
    assert_eq!(b.optsr(), FACTORY_OPTSR_H755);
    assert_ne!(b.optsr() & OPTSR_BCM7, 0);
    assert_ne!(b.optsr() & OPTSR_BCM4, 0);
    assert_eq!(b.read(BOOT4_CUR), FACTORY_BOOT4);
    assert_eq!(b.read(BOOT_CUR), FACTORY_BOOT);

    let new = FACTORY_OPTSR_H755 & !OPTSR_BCM4;
    b.start_options(&[(OPTSR_PRG, new), (BOOT4_PRG, 0x1FF0_0820)]);
    b.wait_idle();
    assert_eq!(b.optsr(), new);
    assert_eq!(b.read(BOOT4_CUR), 0x1FF0_0820);
    b.start_options(&[(OPTSR_PRG, new & !OPTSR_BCM7)]);
    b.wait_idle();
    assert_eq!(b.optsr() & (OPTSR_BCM4 | OPTSR_BCM7), 0);
    assert!(b.log.iter().any(|l| l.contains("neither core")));

    // H743: the dual-core bits are not options, BOOT4 is reserved.
    let mut b = Bench::factory();
    let dual_bits =
        OPTSR_BCM4 | OPTSR_BCM7 | OPTSR_IWDG2_SW | OPTSR_NRST_STOP_D2 | OPTSR_NRST_STBY_D2;
    b.start_options(&[
        (OPTSR_PRG, FACTORY_OPTSR_H743 | dual_bits),
        (BOOT4_PRG, 0x1234_5678),
    ]);
    b.wait_idle();
    assert_eq!(b.optsr(), FACTORY_OPTSR_H743);
    assert_eq!(b.read(BOOT4_CUR), 0);
    assert_eq!(b.read(BOOT4_PRG), 0);
}

/// Facts 3.3: OpenOCD drives bank 2 with bank-1 offsets from 0x52002100 and so touches
/// OPTKEYR/OPTCR/OPTSR at 0x108/0x118/0x11C…; modelled as aliases of the shared registers (the
/// facts file's inference).
#[test]
fn bank2_window_aliases_the_shared_option_registers() {
    let mut b = Bench::factory();
    assert_eq!(b.read(0x100 + OPTSR_CUR), b.read(OPTSR_CUR));
    assert_eq!(b.read(0x100 + OPTCR), b.read(OPTCR));
    b.w(0x100 + OPTKEYR, OPTKEY1);
    b.w(0x100 + OPTKEYR, OPTKEY2);
    assert_eq!(b.optcr() & OPTCR_OPTLOCK, 0);
    // OpenOCD's bank-2 protect: WPSN_PRG at 0x100 + 0x3C, then OPTSTART through 0x118.
    b.w(0x100 + 0x3C, wpsn(&[0]));
    b.w(0x100 + OPTCCR, OPTCCR_CLR_OPTCHANGEERR);
    b.w(0x100 + OPTCR, OPTCR_OPTSTART);
    b.wait_idle();
    assert_eq!(b.read(0x100 + 0x38), wpsn(&[0]));
    assert!(b.fc.sector_write_protected(8));
    assert!(!b.fc.sector_write_protected(0));
    b.w(0x100 + OPTCR, OPTCR_OPTLOCK);
    assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0);
}

/// The controller is part of a unit's persisted state.
#[test]
fn state_round_trips_through_serde() {
    let mut b = Bench::factory();
    b.unlock(0);
    b.w(CR1, CR_PG);
    b.program(FLASH_BASE, 7, 4);
    let json = serde_json::to_string(&b.fc).unwrap();
    let back: H7Flash = serde_json::from_str(&json).unwrap();
    assert_eq!(serde_json::to_string(&back).unwrap(), json);
    let o = H7Options::factory(H7Variant::H755);
    let back: H7Options = serde_json::from_str(&serde_json::to_string(&o).unwrap()).unwrap();
    assert_eq!(back, o);
}

// ------------------------------------------------------------------ properties

/// A few flash words in both banks, some sharing a sector, so that programs hit the same words
/// again and erases clear some of them.
const WORDS: [u32; 6] = [
    FLASH_BASE,
    FLASH_BASE + 32,
    FLASH_BASE + 3 * SECTOR + 0x1FFE0,
    BANK2_BASE,
    BANK2_BASE + 64,
    BANK2_BASE + 7 * SECTOR + 0x1FFE0,
];

#[derive(Clone, Debug)]
enum Op {
    /// Write `chunks` chunks of `width` bytes of `data` into flash word `word`, starting at chunk
    /// `first` and wrapping; force-write if that leaves the word partial.
    Program {
        word: usize,
        width: u32,
        first: usize,
        chunks: usize,
        data: [u8; 32],
    },
    Erase {
        word: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (
            0..WORDS.len(),
            prop_oneof![Just(1u32), Just(2), Just(4)],
            0usize..32,
            1usize..=32,
            any::<[u8; 32]>(),
        )
            .prop_map(|(word, width, first, chunks, data)| {
                let n = (FLASH_WORD / width) as usize;
                Op::Program {
                    word,
                    width,
                    first: first % n,
                    chunks: chunks.min(n),
                    data,
                }
            }),
        1 => (0..WORDS.len()).prop_map(|word| Op::Erase { word }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Facts 3.3 / 5.1: flash words are programmed once after an erase (ECC) and programming
    /// never turns a 0 bit back into 1; only an erase restores 0xFF. Checked against a shadow:
    /// a flash word is programmed only when the shadow says it is erased, otherwise the
    /// controller refuses (OPERR, model's choice) and the cells stay.
    #[test]
    fn programs_never_set_bits_and_never_program_a_word_twice(
        ops in proptest::collection::vec(op(), 1..40)
    ) {
        let mut b = Bench::factory();
        b.unlock(0);
        b.unlock(1);
        let mut shadow: Vec<[u8; 32]> = vec![[0xFF; 32]; WORDS.len()];
        for op in &ops {
            match *op {
                Op::Program { word, width, first, chunks, data } => {
                    let a = WORDS[word];
                    let bank = ((a - FLASH_BASE) / (8 * SECTOR)) as usize;
                    b.w(CR[bank], CR_PG | CR_PSIZE_X64);
                    let before = b.bytes(a, 32);
                    let n = (FLASH_WORD / width) as usize;
                    let mut expect = [0xFFu8; 32];
                    for k in 0..chunks {
                        let c = (first + k) % n;
                        let off = c * width as usize;
                        let mut v = [0u8; 4];
                        v[..width as usize].copy_from_slice(&data[off..off + width as usize]);
                        b.program(a + off as u32, u32::from_le_bytes(v), width);
                        expect[off..off + width as usize]
                            .copy_from_slice(&data[off..off + width as usize]);
                    }
                    if chunks < n {
                        prop_assert_ne!(b.sr(bank) & SR_WBNE, 0);
                        prop_assert_eq!(b.bytes(a, 32), before.clone(), "partial word not programmed yet");
                        b.w(CR[bank], CR_PG | CR_PSIZE_X64 | CR_FW);
                    }
                    prop_assert_eq!(b.sr(bank) & SR_WBNE, 0);
                    let after = b.bytes(a, 32);
                    for i in 0..32 {
                        prop_assert_eq!(after[i] & !before[i], 0, "a bit went 0 -> 1 at {:#x}", a + i as u32);
                    }
                    let was_erased = shadow[word].iter().all(|&x| x == 0xFF);
                    if was_erased {
                        prop_assert_eq!(b.sr(bank) & SR_ERRORS, 0);
                        prop_assert_eq!(&after[..], &expect[..]);
                        shadow[word] = expect;
                    } else {
                        prop_assert_eq!(b.sr(bank) & SR_ERRORS, SR_OPERR, "second program of {:#x}", a);
                        prop_assert_eq!(&after[..], &before[..]);
                    }
                }
                Op::Erase { word } => {
                    let a = WORDS[word];
                    let sector = ((a - FLASH_BASE) / SECTOR) as usize;
                    let (bank, snb) = (sector / 8, (sector % 8) as u32);
                    b.w(CR[bank], 0);
                    b.start_sector_erase(bank, snb);
                    prop_assert_eq!(b.sr(bank) & SR_ERRORS, 0);
                    for (i, &w) in WORDS.iter().enumerate() {
                        if (w - FLASH_BASE) / SECTOR == sector as u32 {
                            shadow[i] = [0xFF; 32];
                        }
                    }
                }
            }
            for bank in 0..2 {
                b.clear_errors(bank);
            }
            b.wait_idle();
            for (i, &w) in WORDS.iter().enumerate() {
                prop_assert_eq!(b.bytes(w, 32), shadow[i].to_vec(), "word {:#x}", w);
            }
        }
    }
}
