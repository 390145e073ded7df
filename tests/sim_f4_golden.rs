//! Golden tests for the simulated STM32F4 FLASH interface, at register level, through the
//! public API only.
//!
//! Every expected value below is copied from the tables of
//! `/work/shared/reference/stm32-facts.md` (sections 3.0, 3.1, 5, 7; RM0090 where the facts
//! file cites it), not from the crate's own constants, so a wrong constant in the model shows up
//! here. Facts tagged [R] (recalled, unverified) in the facts file are flagged where a test uses
//! them with a `// [R] fact: ...` comment. Where the facts file is silent and a test pins down a
//! choice of the model, the comment says "model's choice".
//!
//! No real time passes: each test owns a virtual `now` and advances it by hand.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use station::sim::f4::{self, BusFault, F4Flash};
use station::sim::flash::FlashArray;
use station::sim::part::{Family, FlashTiming, PartSpec, Timing};

// ------------------------------------------------------------------ golden values (facts file)

/// Facts 3.1 register map (CMSIS-F4 `FLASH_R_BASE`): FLASH_ACR at 0x40023C00.
const FLASH_R_BASE: u32 = 0x4002_3C00;
/// Facts 3.1: FLASH_KEYR 0x40023C04, FLASH_OPTKEYR 0x40023C08, FLASH_SR 0x40023C0C,
/// FLASH_CR 0x40023C10, FLASH_OPTCR 0x40023C14. The model takes offsets from FLASH_R_BASE.
const KEYR: u32 = 0x4002_3C04 - FLASH_R_BASE;
const OPTKEYR: u32 = 0x4002_3C08 - FLASH_R_BASE;
const SR: u32 = 0x4002_3C0C - FLASH_R_BASE;
const CR: u32 = 0x4002_3C10 - FLASH_R_BASE;
const OPTCR: u32 = 0x4002_3C14 - FLASH_R_BASE;

/// Facts 3.0 key table.
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

/// Facts 3.1 FLASH_CR [V]: PG bit0, SER bit1, MER bit2, SNB 6:3, PSIZE 9:8, STRT bit16,
/// LOCK bit31.
const CR_PG: u32 = 1;
const CR_SER: u32 = 1 << 1;
const CR_MER: u32 = 1 << 2;
const CR_STRT: u32 = 1 << 16;
const CR_LOCK: u32 = 1 << 31;
const fn cr_snb(sector: u32) -> u32 {
    sector << 3
}
/// PSIZE 00 x8, 01 x16, 10 x32, 11 x64.
const PSIZE_X8: u32 = 0;
const PSIZE_X16: u32 = 1 << 8;
const PSIZE_X32: u32 = 2 << 8;
const PSIZE_X64: u32 = 3 << 8;

/// Facts 3.1 FLASH_SR [V]: EOP bit0, OPERR bit1, WRPERR bit4, PGAERR bit5, PGPERR bit6,
/// PGSERR bit7, BSY bit16.
const SR_EOP: u32 = 1;
const SR_OPERR: u32 = 1 << 1;
const SR_WRPERR: u32 = 1 << 4;
const SR_PGAERR: u32 = 1 << 5;
const SR_PGPERR: u32 = 1 << 6;
const SR_PGSERR: u32 = 1 << 7;
const SR_BSY: u32 = 1 << 16;
const SR_ERRORS: u32 = SR_OPERR | SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR;

/// Facts 3.1 FLASH_OPTCR [V]: OPTLOCK bit0, OPTSTRT bit1, BOR_LEV 3:2, WDG_SW bit5,
/// nRST_STOP bit6, nRST_STDBY bit7, RDP 15:8, nWRP[11:0] 27:16 (0 = protected).
const OPTCR_OPTLOCK: u32 = 1;
const OPTCR_OPTSTRT: u32 = 1 << 1;
const OPTCR_BOR_MASK: u32 = 3 << 2;
const OPTCR_RDP_MASK: u32 = 0xFF << 8;
const fn nwrp_bit(sector: usize) -> u32 {
    1 << (16 + sector)
}

/// Facts 3.0 RDP byte table: 0xAA level 0, 0xCC level 2, anything else level 1 (HAL: 0x55).
const RDP_LEVEL0: u32 = 0xAA;
const RDP_LEVEL1: u32 = 0x55;
const RDP_LEVEL2: u32 = 0xCC;

// [R] fact: factory/erased OPTCR 0x0FFFAAED (facts 3.1, "one forum report shows 0xCFFFAAED").
const FACTORY_OPTCR: u32 = 0x0FFF_AAED;

/// Facts 5.1 [X]: F405/F407 1 MB, sectors 0-3 = 16 KB @0x08000000/4000/8000/C000, sector 4 =
/// 64 KB @0x08010000, sectors 5-11 = 128 KB @0x08020000..0x080E0000 (RM0090 layout).
const FLASH_BASE: u32 = 0x0800_0000;
const FLASH_SIZE: u32 = 1024 * 1024;
const SECTORS: [(u32, u32); 12] = [
    (0x0800_0000, 16 * 1024),
    (0x0800_4000, 16 * 1024),
    (0x0800_8000, 16 * 1024),
    (0x0800_C000, 16 * 1024),
    (0x0801_0000, 64 * 1024),
    (0x0802_0000, 128 * 1024),
    (0x0804_0000, 128 * 1024),
    (0x0806_0000, 128 * 1024),
    (0x0808_0000, 128 * 1024),
    (0x080A_0000, 128 * 1024),
    (0x080C_0000, 128 * 1024),
    (0x080E_0000, 128 * 1024),
];

const NS: Duration = Duration::from_nanos(1);

/// The user option bytes (OPTCR without OPTLOCK/OPTSTRT) with a given RDP byte and the listed
/// sectors write-protected, everything else as from the factory.
fn options(rdp: u32, wrp: &[usize]) -> u32 {
    // [R] fact: factory OPTCR 0x0FFFAAED is the base for the other option bits.
    let mut v = (FACTORY_OPTCR & !(OPTCR_OPTLOCK | OPTCR_OPTSTRT) & !OPTCR_RDP_MASK) | (rdp << 8);
    for &s in wrp {
        v &= !nwrp_bit(s);
    }
    v
}

// ------------------------------------------------------------------ the local bench

/// One F407 flash controller and its array, a virtual clock and a log.
type Bench = common::golden::Bench<F4Flash>;

impl Bench {
    fn new(options: u32) -> Self {
        Self::with_timing(options, Timing::Typical)
    }

    fn with_timing(options: u32, timing: Timing) -> Self {
        let part = PartSpec::lookup(Family::F4, "STM32F407VG").expect("F407 is a simulated part");
        Self::with(
            F4Flash::new(options),
            FlashArray::new(FLASH_BASE, part.sectors.clone()),
            FlashTiming::f4(timing),
        )
    }

    fn factory() -> Self {
        // [R] fact: factory OPTCR 0x0FFFAAED.
        Self::new(FACTORY_OPTCR)
    }

    fn sr(&self) -> u32 {
        self.read(SR)
    }

    fn cr(&self) -> u32 {
        self.read(CR)
    }

    fn optcr(&self) -> u32 {
        self.read(OPTCR)
    }

    fn busy(&self) -> bool {
        self.sr() & SR_BSY != 0
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
    }

    /// Poll SR.BSY without real sleeps: jump the virtual clock to the end of the operation.
    fn wait_idle(&mut self) {
        self.catch_up();
        assert!(!self.busy());
    }

    fn unlock(&mut self) {
        assert_ne!(
            self.cr() & CR_LOCK,
            0,
            "unlock only if LOCK is set (facts 3.0)"
        );
        self.w(KEYR, KEY1);
        self.w(KEYR, KEY2);
        assert_eq!(
            self.cr() & CR_LOCK,
            0,
            "KEY1, KEY2 clear CR.LOCK (facts 3.1)"
        );
    }

    fn opt_unlock(&mut self) {
        assert_ne!(self.optcr() & OPTCR_OPTLOCK, 0);
        self.w(OPTKEYR, OPTKEY1);
        self.w(OPTKEYR, OPTKEY2);
        assert_eq!(self.optcr() & OPTCR_OPTLOCK, 0);
    }

    /// Facts 3.1 "Option change": write the full OPTCR value, then OPTCR | OPTSTRT.
    fn start_options(&mut self, value: u32) {
        let value = value & !(OPTCR_OPTLOCK | OPTCR_OPTSTRT);
        self.w(OPTCR, value);
        self.w(OPTCR, value | OPTCR_OPTSTRT);
    }

    /// Facts 3.1 "Sector erase": CR = SER | SNB(n) | PSIZE; CR |= STRT.
    fn start_sector_erase(&mut self, sector: u32) {
        let cr = CR_SER | cr_snb(sector) | PSIZE_X32;
        self.w(CR, cr);
        self.w(CR, cr | CR_STRT);
    }

    fn clear_errors(&mut self) {
        self.w(SR, SR_ERRORS | SR_EOP);
        assert_eq!(self.sr() & SR_ERRORS, 0);
    }

    fn bytes(&self, address: u32, len: usize) -> Vec<u8> {
        self.flash.read(address, len).expect("in range").to_vec()
    }

    fn all(&self) -> Vec<u8> {
        self.bytes(FLASH_BASE, FLASH_SIZE as usize)
    }

    /// Fill the whole array with a non-erased pattern, straight into the cells (test setup, not
    /// through the controller).
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

// ------------------------------------------------------------------ constants and layout

/// Facts 3.0 key table and 3.1 register/bit tables against the crate's public constants.
#[test]
fn public_constants_match_the_facts_tables() {
    assert_eq!(
        (f4::KEY1, f4::KEY2, f4::OPTKEY1, f4::OPTKEY2),
        (KEY1, KEY2, OPTKEY1, OPTKEY2)
    );
    assert_eq!(
        (f4::KEYR, f4::OPTKEYR, f4::SR, f4::CR, f4::OPTCR),
        (KEYR, OPTKEYR, SR, CR, OPTCR)
    );
    assert_eq!(
        (f4::CR_PG, f4::CR_SER, f4::CR_MER, f4::CR_STRT, f4::CR_LOCK),
        (CR_PG, CR_SER, CR_MER, CR_STRT, CR_LOCK)
    );
    assert_eq!(
        [
            f4::SR_EOP,
            f4::SR_OPERR,
            f4::SR_WRPERR,
            f4::SR_PGAERR,
            f4::SR_PGPERR,
            f4::SR_PGSERR,
            f4::SR_BSY
        ],
        [
            SR_EOP, SR_OPERR, SR_WRPERR, SR_PGAERR, SR_PGPERR, SR_PGSERR, SR_BSY
        ]
    );
    assert_eq!(
        (f4::OPTCR_OPTLOCK, f4::OPTCR_OPTSTRT),
        (OPTCR_OPTLOCK, OPTCR_OPTSTRT)
    );
    // Facts 3.0 RDP table: 0xAA level 0, 0xCC level 2, any other value level 1
    // (HAL 0x55, L4/G0 0xBB, OpenOCD 0x00).
    for (byte, level) in [
        (0xAA, 0),
        (0xCC, 2),
        (0x55, 1),
        (0xBB, 1),
        (0x00, 1),
        (0xFF, 1),
    ] {
        assert_eq!(f4::rdp_level(byte << 8), level, "RDP byte {byte:#04x}");
    }
    // Facts 3.1: nWRP bit i = 0 means sector i is write-protected (active low).
    let o = options(RDP_LEVEL0, &[3, 11]);
    for s in 0..12 {
        assert_eq!(
            f4::sector_write_protected(o, s),
            s == 3 || s == 11,
            "sector {s}"
        );
    }
}

/// Facts 5.1 [X] (RM0090 layout, OOCD, probe-rs, ROM string `04*016Kg,01*064Kg,07*128Kg`).
#[test]
fn f407_sector_layout_is_4x16k_1x64k_7x128k() {
    let part = PartSpec::lookup(Family::F4, "STM32F407VG").unwrap();
    assert_eq!(part.flash_base, FLASH_BASE);
    assert_eq!(part.flash_regs, FLASH_R_BASE);
    let flash = FlashArray::new(FLASH_BASE, part.sectors.clone());
    assert_eq!(flash.size(), FLASH_SIZE);
    assert_eq!(flash.sector_count(), SECTORS.len());
    for (i, &(start, size)) in SECTORS.iter().enumerate() {
        assert_eq!(flash.sector(i), Some((start, size)), "sector {i}");
        assert_eq!(flash.sector_of(start), Some(i));
        assert_eq!(flash.sector_of(start + size - 1), Some(i));
    }
    assert_eq!(flash.sector_of(FLASH_BASE + FLASH_SIZE), None);
    assert_eq!(flash.sector_of(FLASH_BASE - 1), None);
    assert!(part.rom_alt_names[0].ends_with("/0x08000000/04*016Kg,01*064Kg,07*128Kg"));
}

/// Facts 5.2 [R] datasheet table (DS8626, x32): sector erase 16 KB 250/500 ms, 64 KB 550/1100 ms,
/// 128 KB 1/2 s, mass erase 8/16 s, word program 16/100 us.
#[test]
fn f4_timing_is_the_datasheet_column() {
    // [R] fact: DS8626 typ/max timings (facts 5.2, "not re-verified against the datasheets").
    let ms = Duration::from_millis;
    for (timing, t16, t64, t128, mass, word) in [
        (Timing::Typical, ms(250), ms(550), ms(1000), ms(8000), 16),
        (Timing::Max, ms(500), ms(1100), ms(2000), ms(16000), 100),
    ] {
        let t = FlashTiming::f4(timing);
        assert_eq!(t.erase_time(16 * 1024), t16, "{timing:?}");
        assert_eq!(t.erase_time(64 * 1024), t64, "{timing:?}");
        assert_eq!(t.erase_time(128 * 1024), t128, "{timing:?}");
        assert_eq!(t.mass_erase, mass, "{timing:?}");
        assert_eq!(t.word_program, Duration::from_micros(word), "{timing:?}");
        // Facts 5.2 corroborated maxima [X]: 128 KB sector <= 4 s, mass erase <= ~32 s.
        assert!(t.erase_time(128 * 1024) <= Duration::from_secs(4));
        assert!(t.mass_erase <= Duration::from_secs(32));
    }
}

/// Facts 3.1: after reset CR.LOCK and OPTCR.OPTLOCK are set; OPTCR is the live copy of the
/// option bytes.
#[test]
fn reset_state_is_locked_with_factory_options() {
    let b = Bench::factory();
    assert_eq!(b.cr(), CR_LOCK);
    // [R] fact: factory OPTCR reads 0x0FFFAAED (RDP AA, no WRP, BOR off, SW IWDG, OPTLOCK=1).
    assert_eq!(b.optcr(), FACTORY_OPTCR);
    assert_eq!(b.sr(), 0);
    assert_eq!(f4::rdp_level(b.fc.loaded_options()), 0);
    assert!(
        b.all().iter().all(|&x| x == 0xFF),
        "erased flash reads 0xFF"
    );
}

// ------------------------------------------------------------------ KEYR / OPTKEYR

/// Facts 3.0 keys, 3.1 "Unlock main" (RM0090 p. 67 sequence): KEY1 then KEY2 clears CR.LOCK;
/// CR = LOCK locks again and the keys work again.
#[test]
fn keyr_key1_then_key2_clears_lock_and_cr_lock_relocks() {
    let mut b = Bench::factory();
    assert_eq!(b.write(KEYR, KEY1), Ok(()));
    assert_ne!(b.cr() & CR_LOCK, 0, "one key is not enough");
    assert_eq!(b.write(KEYR, KEY2), Ok(()));
    assert_eq!(b.cr() & CR_LOCK, 0);

    // Facts 3.1 "Lock: CR = LOCK".
    b.w(CR, CR_LOCK);
    assert_ne!(b.cr() & CR_LOCK, 0);
    b.unlock();
}

/// Facts 3.0: a wrong key sequence raises a bus error and locks the register until the next
/// reset (RM0444 p. 90 wording; the facts file applies it to all families as the model); keys
/// written to an already unlocked controller are a wrong sequence (OOCD comment).
#[test]
fn keyr_wrong_sequence_faults_and_locks_until_reset() {
    let wrong_sequences: [&[u32]; 6] = [
        &[0xDEAD_BEEF],
        &[KEY2],       // right keys, wrong order
        &[KEY1, KEY1], // KEY1 twice
        &[KEY1, 0x0000_0000],
        &[KEY1, OPTKEY2],    // an option key on KEYR
        &[KEY1, KEY2, KEY1], // a key while already unlocked
    ];
    for seq in wrong_sequences {
        let mut b = Bench::factory();
        let (last, head) = seq.split_last().unwrap();
        for &k in head {
            assert_eq!(b.write(KEYR, k), Ok(()), "{seq:x?}");
        }
        assert_eq!(b.write(KEYR, *last), Err(BusFault), "{seq:x?}");
        assert_ne!(b.cr() & CR_LOCK, 0, "{seq:x?}: CR locked after the bad key");

        // Even the right keys do not unlock until reset (facts 3.0 "further unlock attempts
        // fail until reset"). Whether those writes fault too is not in the facts file.
        let _ = b.write(KEYR, KEY1);
        let _ = b.write(KEYR, KEY2);
        assert_ne!(
            b.cr() & CR_LOCK,
            0,
            "{seq:x?}: still locked after KEY1, KEY2"
        );
        // And CR stays unwritable: an erase request does nothing.
        b.preload();
        let _ = b.write(CR, CR_SER | cr_snb(0) | CR_STRT);
        assert!(!b.busy());
        assert_eq!(b.bytes(FLASH_BASE, 4), vec![0, 1, 2, 3], "{seq:x?}");

        b.reset();
        assert_eq!(b.write(KEYR, KEY1), Ok(()), "{seq:x?}");
        assert_eq!(b.write(KEYR, KEY2), Ok(()), "{seq:x?}");
        assert_eq!(b.cr() & CR_LOCK, 0, "{seq:x?}: the keys work after reset");
    }
}

/// Facts 3.0 option keys, 3.1 "Option change": OPTKEY1 then OPTKEY2 clears OPTCR.OPTLOCK.
/// On F4 the option keys do not need CR unlocked first (that is the G0/L4 rule, facts 3.0).
#[test]
fn optkeyr_unlocks_optlock_independently_of_cr() {
    let mut b = Bench::factory();
    assert_eq!(b.write(OPTKEYR, OPTKEY1), Ok(()));
    assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0);
    assert_eq!(b.write(OPTKEYR, OPTKEY2), Ok(()));
    assert_eq!(b.optcr() & OPTCR_OPTLOCK, 0);
    assert_ne!(b.cr() & CR_LOCK, 0, "CR.LOCK is a separate lock");
}

/// Facts 3.0: the same lock-until-reset rule for OPTKEYR / OPTLOCK.
#[test]
fn optkeyr_wrong_sequence_faults_and_locks_until_reset() {
    let wrong_sequences: [&[u32]; 6] = [
        &[0x1234_5678],
        &[OPTKEY2],
        &[OPTKEY1, OPTKEY1],
        &[OPTKEY1, KEY2], // a main key on OPTKEYR
        &[KEY1],
        &[OPTKEY1, OPTKEY2, OPTKEY1], // a key while already unlocked
    ];
    for seq in wrong_sequences {
        let mut b = Bench::factory();
        let (last, head) = seq.split_last().unwrap();
        for &k in head {
            assert_eq!(b.write(OPTKEYR, k), Ok(()), "{seq:x?}");
        }
        assert_eq!(b.write(OPTKEYR, *last), Err(BusFault), "{seq:x?}");
        assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0, "{seq:x?}");

        let _ = b.write(OPTKEYR, OPTKEY1);
        let _ = b.write(OPTKEYR, OPTKEY2);
        assert_ne!(
            b.optcr() & OPTCR_OPTLOCK,
            0,
            "{seq:x?}: right keys do not help"
        );
        // The options cannot be changed meanwhile.
        let _ = b.write(OPTCR, options(RDP_LEVEL1, &[0]) | OPTCR_OPTSTRT);
        assert_eq!(b.fc.stored_options(), options(RDP_LEVEL0, &[]), "{seq:x?}");

        b.reset();
        assert_eq!(b.write(OPTKEYR, OPTKEY1), Ok(()), "{seq:x?}");
        assert_eq!(b.write(OPTKEYR, OPTKEY2), Ok(()), "{seq:x?}");
        assert_eq!(b.optcr() & OPTCR_OPTLOCK, 0, "{seq:x?}");
    }
}

/// Facts 3.1 "Option change" ends with "set OPTLOCK" (HAL/OpenOCD write OPTCR | OPTLOCK):
/// afterwards OPTCR is locked and the option keys are needed again.
#[test]
fn writing_optlock_relocks_optcr() {
    let mut b = Bench::factory();
    b.opt_unlock();
    let o = options(RDP_LEVEL0, &[]);
    b.w(OPTCR, o | OPTCR_OPTLOCK);
    assert_ne!(b.optcr() & OPTCR_OPTLOCK, 0, "OPTLOCK set by software");
    // Locked: OPTSTRT is ignored.
    b.w(OPTCR, options(RDP_LEVEL0, &[4]) | OPTCR_OPTSTRT);
    assert_eq!(b.fc.stored_options(), o);
    // Unlocking works again (LOCK was set, so the keys are a right sequence, facts 3.0).
    b.opt_unlock();
}

// ------------------------------------------------------------------ option changes

/// Facts 3.1 register table: OPTCR writes are ignored while OPTLOCK is set.
#[test]
fn optstrt_while_optlocked_does_nothing() {
    let mut b = Bench::factory();
    let before = b.fc.stored_options();
    b.w(OPTCR, options(RDP_LEVEL1, &[0, 5]));
    b.w(OPTCR, options(RDP_LEVEL1, &[0, 5]) | OPTCR_OPTSTRT);
    assert!(!b.busy());
    assert_eq!(b.fc.stored_options(), before);
    // [R] fact: the register still reads the factory value 0x0FFFAAED.
    assert_eq!(b.optcr(), FACTORY_OPTCR);
    b.reset();
    assert_eq!(b.fc.loaded_options(), before);
}

/// Facts 3.1 "Option change" + "New option values take effect after a reset/power cycle; no
/// OBL_LAUNCH on F4"; facts 7 item 6 ("OPTCR live after OPTSTRT but effective after reset");
/// facts 5.2 "BSY asserted for the per-operation duration". The facts file gives no figure for
/// the option-programming time: the test takes the model's `FlashTiming::option_program`.
#[test]
fn option_change_is_busy_then_stored_and_loaded_only_after_reset() {
    let mut b = Bench::factory();
    b.unlock();
    b.opt_unlock();
    let old = b.fc.stored_options();
    // Write-protect sector 2 and set BOR level 1 (BOR_LEV 10).
    let new = (options(RDP_LEVEL0, &[2]) & !OPTCR_BOR_MASK) | (2 << 2);
    let t0 = b.now;
    b.start_options(new);

    assert!(b.busy(), "BSY right after OPTSTRT");
    b.now = t0 + b.timing.option_program - NS;
    assert!(b.busy(), "BSY until the option-programming time has passed");
    b.now = t0 + b.timing.option_program;
    assert!(!b.busy());
    assert_eq!(b.sr() & SR_ERRORS, 0);

    // Stored (and the live OPTCR) changed; the loaded options did not.
    assert_eq!(b.fc.stored_options(), new);
    assert_eq!(b.optcr() & !(OPTCR_OPTLOCK | OPTCR_OPTSTRT), new);
    assert_eq!(b.fc.loaded_options(), old);

    // Protection follows the loaded options: sector 2 is still programmable before the reset.
    let s2 = SECTORS[2].0;
    b.w(CR, CR_PG | PSIZE_X32);
    b.program(s2, 0x1234_5678, 4);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    assert_eq!(b.bytes(s2, 4), 0x1234_5678u32.to_le_bytes());
    b.wait_idle();

    b.reset();
    assert_eq!(b.fc.loaded_options(), new);
    assert_eq!(
        b.optcr(),
        new | OPTCR_OPTLOCK,
        "OPTCR reloaded, OPTLOCK set again"
    );
    assert_eq!(b.cr(), CR_LOCK);

    // Now sector 2 is write-protected.
    b.unlock();
    b.w(CR, CR_PG | PSIZE_X32);
    b.program(s2 + 4, 0, 4);
    assert_ne!(b.sr() & SR_WRPERR, 0);
    assert_eq!(b.bytes(s2 + 4, 4), [0xFF; 4]);
}

/// Facts 3.1: an OPTCR write without OPTSTRT programs nothing; a reset reloads OPTCR from the
/// stored option bytes.
#[test]
fn optcr_write_without_optstrt_is_lost_at_reset() {
    let mut b = Bench::factory();
    b.opt_unlock();
    let stored = b.fc.stored_options();
    b.w(OPTCR, options(RDP_LEVEL1, &[7]));
    assert!(!b.busy());
    assert_eq!(b.fc.stored_options(), stored);
    b.reset();
    // [R] fact: factory OPTCR 0x0FFFAAED.
    assert_eq!(b.optcr(), FACTORY_OPTCR);
}

/// Facts 3.0 level semantics (RM0090 p. 93, PM0059 p. 17): 1 -> 0 forces a mass erase of the
/// user flash before protection is removed, whatever the write protection; facts 3.1: the
/// option wait must allow the mass-erase time; facts 7 item 7 "1->0 triggers mass erase (long
/// busy)". Option bytes stay writable at level 1 with a debugger (that is how regression works).
#[test]
fn rdp_regression_1_to_0_mass_erases_even_wrp_sectors() {
    for debugger in [false, true] {
        let wrp = [0usize, 4, 11];
        let mut b = Bench::new(options(RDP_LEVEL1, &wrp));
        b.debugger = debugger;
        assert_eq!(f4::rdp_level(b.fc.loaded_options()), 1);
        b.preload();

        b.opt_unlock();
        let new = options(RDP_LEVEL0, &wrp);
        let t0 = b.now;
        b.start_options(new);

        // [R] fact: mass erase 8 s typ (DS8626), through FlashTiming::f4(Typical).
        assert!(b.timing.mass_erase >= Duration::from_secs(8));
        b.now = t0 + b.timing.mass_erase - NS;
        assert!(b.busy(), "debugger={debugger}: BSY for the mass-erase time");
        b.wait_idle();
        assert!(b.now - t0 >= b.timing.mass_erase);
        assert_eq!(b.sr() & SR_ERRORS, 0);

        let data = b.all();
        assert!(
            data.iter().all(|&x| x == 0xFF),
            "debugger={debugger}: the whole flash, write-protected sectors included, is erased"
        );
        // Other option bytes (incl. WRP) keep the values written.
        assert_eq!(b.fc.stored_options(), new);
        assert_eq!(
            f4::rdp_level(b.fc.loaded_options()),
            1,
            "level 0 only after reset"
        );
        b.reset();
        assert_eq!(b.fc.loaded_options(), new);
    }
}

/// Facts 3.0: "Only this transition erases; 0->1, 1->2, 0->2 do not". Level 2: option bytes
/// frozen, irreversible (PM0059 p. 17 / table 8; RM0090).
#[test]
fn rdp_raise_does_not_erase_and_level_2_freezes_options() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();

    // 0 -> 1: no erase, only the option-programming time.
    b.opt_unlock();
    let t0 = b.now;
    b.start_options(options(RDP_LEVEL1, &[]));
    b.wait_idle();
    assert_eq!(
        b.now - t0,
        b.timing.option_program,
        "0->1: no mass-erase time"
    );
    assert_eq!(b.all(), data, "0->1 does not erase");
    b.reset();
    assert_eq!(f4::rdp_level(b.fc.loaded_options()), 1);

    // 1 -> 1 with another level-1 byte: no erase either.
    b.opt_unlock();
    b.start_options(options(0xBB, &[]));
    b.wait_idle();
    assert_eq!(b.all(), data);
    b.reset();

    // 1 -> 2: no erase.
    b.opt_unlock();
    let t0 = b.now;
    b.start_options(options(RDP_LEVEL2, &[]));
    b.wait_idle();
    assert_eq!(b.now - t0, b.timing.option_program);
    assert_eq!(b.all(), data, "1->2 does not erase");
    let frozen = b.fc.stored_options();
    assert_eq!(frozen, options(RDP_LEVEL2, &[]));

    // Level 2 is stored: OPTSTRT changes nothing, now or after any number of resets.
    for round in 0..3 {
        for attempt in [
            options(RDP_LEVEL0, &[]),
            options(RDP_LEVEL1, &[]),
            options(RDP_LEVEL2, &[3]),
        ] {
            if b.optcr() & OPTCR_OPTLOCK != 0 {
                b.opt_unlock();
            }
            b.start_options(attempt);
            b.advance(b.timing.mass_erase + b.timing.option_program);
            assert_eq!(b.fc.stored_options(), frozen, "round {round}");
            assert_eq!(
                b.all(),
                data,
                "round {round}: no regression erase at level 2"
            );
        }
        b.reset();
        assert_eq!(b.fc.loaded_options(), frozen, "round {round}");
        assert_eq!(f4::rdp_level(b.fc.loaded_options()), 2);
    }
}

/// Facts 3.0: 0 -> 2 does not erase.
#[test]
fn rdp_0_to_2_does_not_erase() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();
    b.opt_unlock();
    b.start_options(options(RDP_LEVEL2, &[]));
    b.wait_idle();
    assert_eq!(b.all(), data);
    assert_eq!(f4::rdp_level(b.fc.stored_options()), 2);
}

// ------------------------------------------------------------------ erase through CR

/// Facts 3.1 "Sector erase" sequence and CR bits; facts 5.1 layout; facts 5.2 "BSY asserted for
/// the per-operation duration, F4 erase time scales with sector size". Erases exactly the sector.
#[test]
fn sector_erase_erases_exactly_that_sector_for_its_erase_time() {
    let mut b = Bench::factory();
    b.unlock();
    for (n, &(start, size)) in SECTORS.iter().enumerate() {
        b.preload();
        let t0 = b.now;
        b.start_sector_erase(n as u32);
        assert!(b.busy(), "sector {n}: BSY after STRT");
        let t = b.timing.erase_time(size);
        assert!(t > Duration::ZERO);
        b.now = t0 + t - NS;
        assert!(b.busy(), "sector {n}: BSY for the erase time");
        b.now = t0 + t;
        assert!(!b.busy(), "sector {n}: BSY clears after the erase time");
        assert_eq!(b.sr() & SR_ERRORS, 0, "sector {n}");

        let data = b.all();
        for (i, &x) in data.iter().enumerate() {
            let a = FLASH_BASE + i as u32;
            let inside = a >= start && a < start + size;
            let want = if inside { 0xFF } else { pattern_at(a) };
            assert_eq!(x, want, "sector {n}: byte at {a:#010x}");
        }
        b.clear_errors();
    }
}

/// Facts 5.2 [R] per-size erase times through the controller: 16 KB 250 ms, 64 KB 550 ms,
/// 128 KB 1 s (typ), and the Max column 500 ms / 1.1 s / 2 s. The model ignores PSIZE for
/// erase time (facts 5.2 gives longer x8 figures); this test uses x32, the column the model
/// follows.
#[test]
fn sector_erase_busy_time_per_size_matches_datasheet_column() {
    // [R] fact: DS8626 sector erase times (facts 5.2).
    let ms = Duration::from_millis;
    for (timing, expect) in [
        (Timing::Typical, [ms(250), ms(550), ms(1000)]),
        (Timing::Max, [ms(500), ms(1100), ms(2000)]),
    ] {
        for (sector, want) in [(0u32, expect[0]), (4, expect[1]), (11, expect[2])] {
            let mut b = Bench::with_timing(FACTORY_OPTCR, timing);
            b.unlock();
            let t0 = b.now;
            b.start_sector_erase(sector);
            assert_eq!(b.fc.busy_until() - t0, want, "{timing:?} sector {sector}");
        }
    }
}

/// Facts 3.1 "Mass erase: CR = MER; CR |= STRT; wait BSY"; facts 5.2 mass-erase time.
#[test]
fn mass_erase_erases_everything_for_the_mass_erase_time() {
    let mut b = Bench::factory();
    b.preload();
    b.unlock();
    let t0 = b.now;
    b.w(CR, CR_MER | PSIZE_X32);
    b.w(CR, CR_MER | PSIZE_X32 | CR_STRT);
    // [R] fact: mass erase 8 s typ (DS8626), via FlashTiming::f4(Typical).
    assert_eq!(b.timing.mass_erase, Duration::from_secs(8));
    b.now = t0 + b.timing.mass_erase - NS;
    assert!(b.busy());
    b.now = t0 + b.timing.mass_erase;
    assert!(!b.busy());
    assert_eq!(b.sr() & SR_ERRORS, 0);
    assert!(b.all().iter().all(|&x| x == 0xFF));
}

/// SER and MER together is an inconsistent CR: PGSERR, nothing erased. PGSERR's trigger is not
/// described in the facts file (3.1 lists only the bit); the flag is the model's choice,
/// following RM0090's "programming sequence error".
#[test]
fn ser_and_mer_together_is_pgserr() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();
    b.unlock();
    b.w(CR, CR_SER | CR_MER | cr_snb(1) | PSIZE_X32);
    b.w(CR, CR_SER | CR_MER | cr_snb(1) | PSIZE_X32 | CR_STRT);
    assert_ne!(b.sr() & SR_PGSERR, 0);
    assert!(!b.busy());
    assert_eq!(b.all(), data);
}

/// Facts 3.1: CR is protected by LOCK; writes while locked are ignored (no erase, no BSY, CR
/// reads LOCK only).
#[test]
fn cr_writes_while_locked_are_ignored() {
    let mut b = Bench::factory();
    b.preload();
    let data = b.all();
    b.w(CR, CR_SER | cr_snb(5) | PSIZE_X32);
    b.w(CR, CR_SER | cr_snb(5) | PSIZE_X32 | CR_STRT);
    b.w(CR, CR_MER | CR_STRT);
    assert_eq!(b.cr(), CR_LOCK);
    assert!(!b.busy());
    assert_eq!(b.all(), data);

    // Same after locking by software (facts 3.1 "Lock: CR = LOCK").
    b.unlock();
    b.w(CR, CR_LOCK);
    b.w(CR, CR_MER | CR_STRT);
    assert!(!b.busy());
    assert_eq!(b.all(), data);
}

/// Facts 3.1 register nWRP (active low), facts 7 item 3/5; RM0090: an erase of a write-protected
/// sector is refused with WRPERR (facts 3.1 lists WRPERR) and the data stays.
#[test]
fn erase_of_a_write_protected_sector_is_wrperr() {
    let mut b = Bench::new(options(RDP_LEVEL0, &[3]));
    b.preload();
    let data = b.all();
    b.unlock();
    b.start_sector_erase(3);
    assert_ne!(b.sr() & SR_WRPERR, 0);
    assert!(!b.busy());
    assert_eq!(b.all(), data);

    // The neighbour is not protected.
    b.clear_errors();
    b.start_sector_erase(2);
    b.wait_idle();
    assert_eq!(b.sr() & SR_ERRORS, 0);
    let (s2, n2) = SECTORS[2];
    assert_eq!(b.bytes(s2, n2 as usize), vec![0xFF; n2 as usize]);
    assert_eq!(b.bytes(SECTORS[3].0, 4), data[0xC000..0xC004]);
}

// ------------------------------------------------------------------ programming

/// Facts 3.1 "Program: CR = PG | PSIZE; write data with access width = PSIZE; wait BSY";
/// facts 5.2 word program time.
#[test]
fn program_word_with_pg_and_matching_psize() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG | PSIZE_X32);
    let a = SECTORS[5].0 + 0x100;
    let t0 = b.now;
    b.program(a, 0xA5C3_0F81, 4);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    assert_eq!(b.bytes(a, 4), 0xA5C3_0F81u32.to_le_bytes());
    // [R] fact: 32-bit word program 16 us typ (DS8626, facts 5.2).
    assert_eq!(b.fc.busy_until() - t0, Duration::from_micros(16));
    assert!(b.busy());
    b.wait_idle();

    // x8 and x16 with matching widths work too.
    for (psize, width, addr, value) in [(PSIZE_X8, 1, a + 5, 0x42), (PSIZE_X16, 2, a + 6, 0x1234)] {
        b.w(CR, CR_PG | psize);
        b.program(addr, value, width);
        b.wait_idle();
        assert_eq!(b.sr() & SR_ERRORS, 0);
        assert_eq!(
            b.bytes(addr, width as usize),
            value.to_le_bytes()[..width as usize]
        );
    }
}

/// Facts 3.1: "wrong access width vs PSIZE (-> PGPERR)" (RM0090 p. 67). Data unchanged.
#[test]
fn psize_mismatch_is_pgperr() {
    let mut b = Bench::factory();
    b.unlock();
    let a = SECTORS[1].0;
    for (psize, width) in [
        (PSIZE_X32, 1),
        (PSIZE_X32, 2),
        (PSIZE_X8, 4),
        (PSIZE_X16, 4),
        (PSIZE_X16, 1),
        (PSIZE_X64, 4), // x64 needs 64-bit accesses (and VPP); a word write never matches
    ] {
        b.w(CR, CR_PG | psize);
        b.program(a, 0, width);
        assert_ne!(b.sr() & SR_PGPERR, 0, "PSIZE {psize:#x} width {width}");
        assert_eq!(b.bytes(a, 4), [0xFF; 4]);
        b.clear_errors();
    }
}

/// Facts 3.1: "A write may not cross a 128-bit row (-> PGAERR)" (RM0090 p. 67). A misaligned
/// access that stays inside a row is flagged PGAERR too: that part is the model's choice (the
/// facts file only names row crossing).
#[test]
fn misaligned_or_row_crossing_write_is_pgaerr() {
    let mut b = Bench::factory();
    b.unlock();
    let row = SECTORS[0].0 + 0x40;
    for (psize, width, addr) in [
        (PSIZE_X32, 4, row + 14), // crosses the 128-bit row boundary at row + 16 (facts)
        (PSIZE_X16, 2, row + 15), // crosses it too (facts)
        (PSIZE_X32, 4, row + 2),  // misaligned, inside one row (model)
        (PSIZE_X16, 2, row + 1),  // misaligned, inside one row (model)
    ] {
        b.w(CR, CR_PG | psize);
        b.program(addr, 0, width);
        assert_ne!(b.sr() & SR_PGAERR, 0, "{addr:#010x} width {width}");
        assert_eq!(b.bytes(row, 32), [0xFF; 32]);
        b.clear_errors();
    }
}

/// Facts 3.1 "Program: CR = PG | PSIZE" first. A flash write without PG (or with CR locked) is
/// refused with PGSERR: the flag is the model's choice after RM0090 (the facts file lists PGSERR
/// but not its triggers).
#[test]
fn write_without_pg_is_pgserr() {
    let mut b = Bench::factory();
    let a = SECTORS[6].0;
    // Locked.
    b.program(a, 0, 4);
    assert_ne!(b.sr() & SR_PGSERR, 0);
    b.clear_errors();
    // Unlocked, PSIZE set but no PG.
    b.unlock();
    b.w(CR, PSIZE_X32);
    b.program(a, 0, 4);
    assert_ne!(b.sr() & SR_PGSERR, 0);
    b.clear_errors();
    // PG together with SER is not a programming configuration either.
    b.w(CR, CR_PG | CR_SER | PSIZE_X32);
    b.program(a, 0, 4);
    assert_ne!(b.sr() & SR_PGSERR, 0);
    assert_eq!(b.bytes(a, 4), [0xFF; 4]);
    assert!(!b.busy());
}

/// Facts 3.1 "bits can only go 1->0 without erase" (RM0090 p. 67); facts 5.1 "F4/F7 ... no ECC,
/// 1->0 re-programming allowed".
#[test]
fn programming_only_clears_bits() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG | PSIZE_X32);
    let a = SECTORS[8].0 + 0x20;
    b.program(a, 0x0F0F_0F0F, 4);
    b.wait_idle();
    b.program(a, 0xFFFF_00FF, 4);
    b.wait_idle();
    assert_eq!(
        b.sr() & SR_ERRORS,
        0,
        "re-programming is not an error on F4"
    );
    assert_eq!(b.bytes(a, 4), 0x0F0F_000Fu32.to_le_bytes());
    b.program(a, 0xFFFF_FFFF, 4);
    b.wait_idle();
    assert_eq!(
        b.bytes(a, 4),
        0x0F0F_000Fu32.to_le_bytes(),
        "writing ones sets nothing"
    );

    // Only an erase brings the ones back.
    b.w(CR, 0);
    b.start_sector_erase(8);
    b.wait_idle();
    assert_eq!(b.bytes(a, 4), [0xFF; 4]);
}

/// Facts 3.1 nWRP (bit i clear = sector i protected) in the *loaded* options; WRPERR; data
/// unchanged.
#[test]
fn program_into_a_write_protected_sector_is_wrperr() {
    let mut b = Bench::new(options(RDP_LEVEL0, &[1, 9]));
    b.unlock();
    b.w(CR, CR_PG | PSIZE_X32);
    for s in [1usize, 9] {
        let a = SECTORS[s].0 + 0x10;
        b.program(a, 0, 4);
        assert_ne!(b.sr() & SR_WRPERR, 0, "sector {s}");
        assert_eq!(b.bytes(a, 4), [0xFF; 4], "sector {s}");
        assert!(!b.busy());
        b.clear_errors();
    }
    // Unprotected sectors program fine, including the last word before a protected sector.
    let a = SECTORS[1].0 - 4;
    b.program(a, 0, 4);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    assert_eq!(b.bytes(a, 4), [0; 4]);

    // Stored-but-not-loaded protection does not protect (facts 3.1, effective after reset).
    let mut b = Bench::factory();
    b.set_stored(options(RDP_LEVEL0, &[1]));
    b.unlock();
    b.w(CR, CR_PG | PSIZE_X32);
    b.program(SECTORS[1].0, 0, 4);
    assert_eq!(b.sr() & SR_ERRORS, 0);
}

/// Facts 3.0 level 1: "no read/erase/program of main flash while a debugger is connected".
/// Which SR flag the controller raises is not in the facts file: WRPERR is the model's choice.
#[test]
fn debugger_with_rdp1_loaded_refuses_erase_and_program() {
    let mut b = Bench::new(options(RDP_LEVEL1, &[]));
    b.debugger = true;
    b.preload();
    let data = b.all();
    b.unlock();

    b.w(CR, CR_PG | PSIZE_X32);
    b.program(SECTORS[5].0, 0, 4);
    assert_ne!(
        b.sr() & SR_WRPERR,
        0,
        "program refused (flag: model's choice)"
    );
    b.clear_errors();

    b.w(CR, 0);
    b.start_sector_erase(5);
    assert_ne!(
        b.sr() & SR_WRPERR,
        0,
        "sector erase refused (flag: model's choice)"
    );
    b.clear_errors();

    b.w(CR, CR_MER);
    b.w(CR, CR_MER | CR_STRT);
    assert_ne!(
        b.sr() & SR_WRPERR,
        0,
        "mass erase refused (flag: model's choice)"
    );
    assert!(!b.busy());
    assert_eq!(b.all(), data);

    // Code booted from flash (no debugger) has full access at level 1 (facts 3.0).
    b.clear_errors();
    b.debugger = false;
    b.w(CR, CR_PG | PSIZE_X32);
    let a = SECTORS[5].0 + 0x1000;
    b.program(a, 0, 4);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    assert_eq!(b.bytes(a, 4), [0; 4]);

    // Level 0 with a debugger: no restriction.
    let mut b = Bench::factory();
    b.debugger = true;
    b.unlock();
    b.w(CR, CR_PG | PSIZE_X32);
    b.program(a, 0, 4);
    assert_eq!(b.sr() & SR_ERRORS, 0);
}

// ------------------------------------------------------------------ SR

/// Facts 3.1: "Error flags are cleared by writing 1 (OOCD writes `status & FLASH_ERROR`)".
/// Writing 0 changes nothing; BSY is not cleared by a write.
#[test]
fn sr_error_flags_clear_by_writing_one() {
    let mut b = Bench::new(options(RDP_LEVEL0, &[0]));
    b.unlock();
    b.w(CR, CR_PG | PSIZE_X32);
    b.program(SECTORS[0].0, 0, 4); // WRPERR
    b.program(SECTORS[1].0, 0, 2); // PGPERR
    b.program(SECTORS[1].0 + 2, 0, 4); // PGAERR
    b.w(CR, PSIZE_X32);
    b.program(SECTORS[1].0, 0, 4); // PGSERR
    let raised = SR_WRPERR | SR_PGPERR | SR_PGAERR | SR_PGSERR;
    assert_eq!(b.sr() & SR_ERRORS, raised);

    b.w(SR, 0);
    assert_eq!(b.sr() & SR_ERRORS, raised, "writing 0 clears nothing");
    b.w(SR, SR_PGAERR);
    assert_eq!(
        b.sr() & SR_ERRORS,
        raised & !SR_PGAERR,
        "only the written flag clears"
    );
    b.w(SR, SR_WRPERR | SR_PGSERR);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGPERR);
    b.w(SR, SR_ERRORS);
    assert_eq!(b.sr() & SR_ERRORS, 0);

    // BSY is status, not a write-1-to-clear flag.
    b.w(CR, CR_SER | cr_snb(2) | PSIZE_X32);
    b.w(CR, CR_SER | cr_snb(2) | PSIZE_X32 | CR_STRT);
    assert!(b.busy());
    b.w(SR, SR_BSY | SR_ERRORS | SR_EOP);
    assert!(b.busy());
}

// ------------------------------------------------------------------ properties

impl Bench {
    fn set_stored(&mut self, options: u32) {
        self.fc.set_stored_options(options);
    }
}

#[derive(Clone, Debug)]
enum ArrayOp {
    Program { address: u32, bytes: Vec<u8> },
    Erase { sector: usize },
}

/// Addresses near the start or the end of a sector, so that programs hit the same cells again
/// and straddle sector boundaries.
fn near_boundary() -> impl Strategy<Value = u32> {
    (0usize..12, any::<bool>(), 0u32..48).prop_map(|(s, from_end, off)| {
        let (start, size) = SECTORS[s];
        if from_end {
            start + size - 1 - off
        } else {
            start + off
        }
    })
}

fn array_op() -> impl Strategy<Value = ArrayOp> {
    prop_oneof![
        5 => (near_boundary(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(
            |(address, mut bytes)| {
                let room = (FLASH_BASE + FLASH_SIZE - address) as usize;
                bytes.truncate(room);
                ArrayOp::Program { address, bytes }
            }
        ),
        1 => (0usize..12).prop_map(|sector| ArrayOp::Erase { sector }),
    ]
}

#[derive(Clone, Debug)]
enum BusOp {
    SetPsize(u32),
    Program {
        address: u32,
        value: u32,
        width: u32,
    },
    Erase {
        sector: u32,
    },
}

fn bus_op() -> impl Strategy<Value = BusOp> {
    prop_oneof![
        1 => (0u32..4).prop_map(|p| BusOp::SetPsize(p << 8)),
        6 => (near_boundary(), any::<u32>(), prop_oneof![Just(1u32), Just(2), Just(4)]).prop_map(
            |(address, value, width)| BusOp::Program {
                address: address.min(FLASH_BASE + FLASH_SIZE - 4),
                value,
                width,
            }
        ),
        1 => (0u32..12).prop_map(|sector| BusOp::Erase { sector }),
    ]
}

fn offset(address: u32) -> usize {
    (address - FLASH_BASE) as usize
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Facts 3.1 / RM0090 p. 67 and facts 5.1: NOR programming only clears bits; facts 5.1
    /// layout: an erase restores 0xFF for exactly the sector's range. Checked against an
    /// independent shadow of the array.
    #[test]
    fn flash_array_programs_never_set_bits_and_erase_is_exact(
        ops in proptest::collection::vec(array_op(), 1..40)
    ) {
        let part = PartSpec::lookup(Family::F4, "STM32F407VG").unwrap();
        let mut flash = FlashArray::new(FLASH_BASE, part.sectors.clone());
        let mut shadow = vec![0xFFu8; FLASH_SIZE as usize];
        for op in &ops {
            match op {
                ArrayOp::Program { address, bytes } => {
                    let o = offset(*address);
                    let before = shadow[o..o + bytes.len()].to_vec();
                    prop_assert!(flash.program(*address, bytes));
                    let after = flash.read(*address, bytes.len()).unwrap();
                    for i in 0..bytes.len() {
                        prop_assert_eq!(after[i] & !before[i], 0, "a bit went 0 -> 1 at {:#x}", address + i as u32);
                        prop_assert_eq!(after[i], before[i] & bytes[i]);
                        shadow[o + i] = after[i];
                    }
                }
                ArrayOp::Erase { sector } => {
                    let (start, size) = SECTORS[*sector];
                    flash.erase_sector(*sector);
                    let o = offset(start);
                    let got = flash.read(start, size as usize).unwrap();
                    prop_assert!(got.iter().all(|&x| x == 0xFF), "sector {} not erased", sector);
                    // The neighbours are untouched.
                    let lo = o.saturating_sub(64);
                    prop_assert_eq!(flash.read(FLASH_BASE + lo as u32, o - lo).unwrap(), &shadow[lo..o]);
                    let end = o + size as usize;
                    let hi = (end + 64).min(FLASH_SIZE as usize);
                    prop_assert_eq!(flash.read(FLASH_BASE + end as u32, hi - end).unwrap(), &shadow[end..hi]);
                    shadow[o..end].fill(0xFF);
                }
            }
        }
        prop_assert!(flash.read(FLASH_BASE, FLASH_SIZE as usize).unwrap() == &shadow[..], "stray change");
    }

    /// The same rules through the controller (facts 3.1): a bus write programs (AND) only with
    /// PG set, width = PSIZE and an aligned address; otherwise PGPERR / PGAERR and no change.
    /// Sector erase via CR restores 0xFF for exactly the RM0090 sector.
    #[test]
    fn controller_programs_follow_psize_alignment_and_nor_rules(
        ops in proptest::collection::vec(bus_op(), 1..40)
    ) {
        let mut b = Bench::factory();
        b.unlock();
        let mut psize = PSIZE_X32;
        b.w(CR, CR_PG | psize);
        let mut shadow = vec![0xFFu8; FLASH_SIZE as usize];
        for op in &ops {
            match *op {
                BusOp::SetPsize(p) => {
                    psize = p;
                    b.w(CR, CR_PG | psize);
                }
                BusOp::Program { address, value, width } => {
                    b.program(address, value, width);
                    let want_width = 1u32 << (psize >> 8);
                    let o = offset(address);
                    let n = width as usize;
                    let sr = b.sr() & SR_ERRORS;
                    if width != want_width {
                        prop_assert_eq!(sr, SR_PGPERR);
                    } else if address % width != 0 {
                        prop_assert_eq!(sr, SR_PGAERR);
                    } else {
                        prop_assert_eq!(sr, 0);
                        for (i, v) in value.to_le_bytes()[..n].iter().enumerate() {
                            shadow[o + i] &= v;
                        }
                    }
                    prop_assert_eq!(b.bytes(address, n), shadow[o..o + n].to_vec());
                }
                BusOp::Erase { sector } => {
                    b.w(CR, 0);
                    b.start_sector_erase(sector);
                    let (start, size) = SECTORS[sector as usize];
                    prop_assert_eq!(b.fc.busy_until() - b.now, b.timing.erase_time(size));
                    prop_assert_eq!(b.sr() & SR_ERRORS, 0);
                    shadow[offset(start)..offset(start) + size as usize].fill(0xFF);
                    b.wait_idle();
                    b.w(CR, CR_PG | psize);
                }
            }
            b.clear_errors();
            b.wait_idle();
        }
        prop_assert!(b.all() == shadow, "controller and shadow differ");
    }
}

/// Facts 3.1: ST's HAL writes OPTCR bytewise — RDP at 0x40023C15, nWRP (16-bit) at
/// 0x40023C16, OPTSTRT at 0x40023C14. Through the MCU's bus, a sub-word write must change only
/// its own byte lanes.
#[test]
fn hal_style_bytewise_optcr_writes_change_only_their_lanes() {
    use station::hw::VirtualClock;
    use station::sim::{Mcu, UsbIdentities};
    use std::sync::Arc;
    let part = PartSpec::lookup(Family::F4, "STM32F407VG").unwrap();
    let usb = UsbIdentities {
        application: (1, 1),
        bootloader: (1, 2),
        rom: (1, 3),
        port_path: "p".into(),
    };
    let mut mcu = Mcu::new(
        part,
        [1, 2, 3],
        Timing::Typical,
        Arc::new(VirtualClock::new()),
        usb,
    );
    let optcr = FLASH_R_BASE + OPTCR;
    mcu.debug_write(FLASH_R_BASE + OPTKEYR, OPTKEY1, 4).unwrap();
    mcu.debug_write(FLASH_R_BASE + OPTKEYR, OPTKEY2, 4).unwrap();
    // RDP byte to 0x55 (level 1), lane 1 of the word at 0x40023C14.
    mcu.debug_write(optcr + 1, 0x55 << 8, 1).unwrap();
    // nWRP = 0xFFC (sectors 0 and 1 protected), half-word lanes 2-3.
    mcu.debug_write(optcr + 2, 0x0FFC << 16, 2).unwrap();
    // OPTSTRT through byte 0, as `*OPTCR_BYTE0 |= OPTSTRT`.
    let byte0 = mcu.debug_read(optcr).unwrap() & 0xFF;
    mcu.debug_write(optcr, byte0 | 0x02, 1).unwrap();
    mcu.wait_flash_idle();
    let stored = mcu.fc.as_f4().expect("an F4 part").stored_options();
    assert_eq!((stored >> 8) & 0xFF, 0x55);
    assert_eq!((stored >> 16) & 0xFFF, 0xFFC);
    // [R] fact: factory low byte 0xED (BOR off, user bits set) survives the byte writes.
    assert_eq!(stored & 0xEC, 0xEC);
}
