//! Golden tests for the simulated STM32G071 FLASH interface (RM0444), at register level,
//! through the public API only.
//!
//! Expected values are copied from `/work/shared/reference/stm32-facts.md` (sections 3.0,
//! 3.5, 5.1, 5.2, 7), not from the crate's constants, so a wrong constant in the model shows
//! up here. Facts tagged [R] there are flagged with `// [R] fact: ...`. Where the facts file
//! is silent the comment says "model's choice"; where the behaviour was taken from ST's
//! RM0440 (the sibling STM32G4 controller, not the G0 manual) it is flagged [R] as well.
//!
//! No real time passes: each test owns a virtual `now` and advances it by hand.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use station::sim::controller::BusFault;
use station::sim::flash::FlashArray;
use station::sim::g0::{self, G0Flash, G0Options};
use station::sim::part::Timing;

// ------------------------------------------------------------------ golden values (facts file)

/// Facts 3.5 register map [V] (CMSIS-G0: FLASH_R_BASE = AHBPERIPH_BASE + 0x2000 = 0x40022000).
const FLASH_R_BASE: u32 = 0x4002_2000;
const KEYR: u32 = 0x08;
const OPTKEYR: u32 = 0x0C;
const SR: u32 = 0x10;
const CR: u32 = 0x14;
const OPTR: u32 = 0x20;
const PCROP1ASR: u32 = 0x24;
const PCROP1AER: u32 = 0x28;
const WRP1AR: u32 = 0x2C;
const WRP1BR: u32 = 0x30;
const PCROP1BSR: u32 = 0x34;
const PCROP1BER: u32 = 0x38;

/// Facts 3.0 key table.
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

/// Facts 3.5 FLASH_CR [V]: PG 0, PER 1, MER1 2, PNB 12:3 (10 bits), STRT 16, OPTSTRT 17,
/// FSTPG 18, EOPIE 24, ERRIE 25, RDERRIE 26, OBL_LAUNCH 27, OPTLOCK 30, LOCK 31.
const CR_PG: u32 = 1;
const CR_PER: u32 = 1 << 1;
const CR_MER1: u32 = 1 << 2;
const CR_STRT: u32 = 1 << 16;
const CR_OPTSTRT: u32 = 1 << 17;
const CR_FSTPG: u32 = 1 << 18;
const CR_EOPIE: u32 = 1 << 24;
const CR_ERRIE: u32 = 1 << 25;
const CR_OBL_LAUNCH: u32 = 1 << 27;
const CR_OPTLOCK: u32 = 1 << 30;
const CR_LOCK: u32 = 1 << 31;
const fn cr_pnb(page: u32) -> u32 {
    (page & 0x3FF) << 3
}

/// Facts 3.5 FLASH_SR [V]: EOP 0, OPERR 1, PROGERR 3, WRPERR 4, PGAERR 5, SIZERR 6, PGSERR 7,
/// MISERR 8, FASTERR 9, RDERR 14, OPTVERR 15, BSY1 16, CFGBSY 18.
const SR_EOP: u32 = 1;
const SR_OPERR: u32 = 1 << 1;
const SR_PROGERR: u32 = 1 << 3;
const SR_WRPERR: u32 = 1 << 4;
const SR_PGAERR: u32 = 1 << 5;
const SR_SIZERR: u32 = 1 << 6;
const SR_PGSERR: u32 = 1 << 7;
const SR_MISERR: u32 = 1 << 8;
const SR_FASTERR: u32 = 1 << 9;
const SR_RDERR: u32 = 1 << 14;
const SR_OPTVERR: u32 = 1 << 15;
const SR_BSY1: u32 = 1 << 16;
const SR_CFGBSY: u32 = 1 << 18;
const SR_ERRORS: u32 = SR_OPERR
    | SR_PROGERR
    | SR_WRPERR
    | SR_PGAERR
    | SR_SIZERR
    | SR_PGSERR
    | SR_MISERR
    | SR_FASTERR
    | SR_RDERR
    | SR_OPTVERR;

/// Facts 3.5 FLASH_OPTR [V]: RDP bits 7:0.
const OPTR_RDP_MASK: u32 = 0xFF;
/// Facts 3.0 RDP byte table: 0xAA level 0, 0xCC level 2, anything else level 1 (HAL 0xBB).
const RDP_LEVEL0: u32 = 0xAA;
const RDP_LEVEL1: u32 = 0xBB;
const RDP_LEVEL2: u32 = 0xCC;

/// Facts 3.5 WRP1AR/WRP1BR [V]: start page bits 5:0, end page bits 21:16; active when
/// start <= end.
const fn wrp(start: u32, end: u32) -> u32 {
    start | (end << 16)
}
fn wrp_fields(v: u32) -> (u32, u32) {
    (v & 0x3F, (v >> 16) & 0x3F)
}
const WRP_FIELDS: u32 = 0x003F_003F;

/// Facts 5.1 [X]: G071 128 KB, single bank, 64 pages × 2 KB.
const FLASH_BASE: u32 = 0x0800_0000;
const PAGE: u32 = 2048;
const PAGES: u32 = 64;
const FLASH_SIZE: u32 = 128 * 1024;

// [R] fact: factory option bytes are not in the facts file; recalled G071 values:
// OPTR 0xFFFFFEAA, WRP1xR 0xFF00FFFF (no area), PCROP1xSR 0xFFFFFFFF / PCROP1xER 0xFFFF0000.
const FACTORY_OPTR: u32 = 0xFFFF_FEAA;

const NS: Duration = Duration::from_nanos(1);

fn page_addr(page: u32) -> u32 {
    FLASH_BASE + page * PAGE
}

fn options_with(rdp: u32) -> G0Options {
    let mut o = G0Options::factory();
    o.optr = (o.optr & !OPTR_RDP_MASK) | rdp;
    o
}

fn with_wrp(reg: u32, start: u32, end: u32) -> u32 {
    (reg & !WRP_FIELDS) | wrp(start, end)
}

// ------------------------------------------------------------------ the local bench

type Bench = common::golden::Bench<G0Flash>;

impl Bench {
    fn new(options: G0Options) -> Self {
        Self::with(
            G0Flash::new(options),
            FlashArray::new(FLASH_BASE, vec![PAGE; PAGES as usize]),
            g0::timing(Timing::Typical),
        )
    }

    fn factory() -> Self {
        Self::new(G0Options::factory())
    }

    fn sr(&self) -> u32 {
        self.read(SR)
    }

    fn cr(&self) -> u32 {
        self.read(CR)
    }

    fn busy(&self) -> bool {
        self.sr() & SR_BSY1 != 0
    }

    /// Facts 3.5: the programming unit is a 64-bit double word, written as two 32-bit words.
    fn program_dw(&mut self, address: u32, value: u64) {
        self.program(address, value as u32, 4);
        self.program(address + 4, (value >> 32) as u32, 4);
    }

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
        assert_eq!(self.cr() & CR_LOCK, 0);
    }

    fn opt_unlock(&mut self) {
        assert_ne!(self.cr() & CR_OPTLOCK, 0);
        self.w(OPTKEYR, OPTKEY1);
        self.w(OPTKEYR, OPTKEY2);
        assert_eq!(self.cr() & CR_OPTLOCK, 0);
    }

    /// Facts 3.5 "Option change": unlock LOCK then OPTLOCK.
    fn unlock_all(&mut self) {
        self.unlock();
        self.opt_unlock();
    }

    /// Facts 3.5: write option registers; wait BSY1 = 0; CR.OPTSTRT.
    fn change_options(&mut self, writes: &[(u32, u32)]) {
        assert!(!self.busy());
        for &(offset, value) in writes {
            self.w(offset, value);
        }
        self.w(CR, CR_OPTSTRT);
    }

    /// Facts 3.5: CR.OBL_LAUNCH → reset with option load (`take_obl_launch` →
    /// `power_on_reset`, as the MCU is wired).
    fn obl_launch(&mut self) {
        self.w(CR, CR_OBL_LAUNCH);
        assert!(self.fc.take_obl_launch(), "OBL_LAUNCH must be requested");
        self.fc.power_on_reset();
    }

    fn page_erase(&mut self, page: u32) {
        let cr = CR_PER | cr_pnb(page);
        self.w(CR, cr);
        self.w(CR, cr | CR_STRT);
    }

    fn clear_errors(&mut self) {
        self.w(SR, SR_ERRORS | SR_EOP);
        assert_eq!(self.sr() & SR_ERRORS, 0);
    }

    fn bytes(&self, address: u32, len: usize) -> Vec<u8> {
        self.flash.read(address, len).unwrap().to_vec()
    }

    fn fill(&mut self, address: u32, len: u32) {
        let data: Vec<u8> = (0..len).map(|i| pattern_at(address + i)).collect();
        assert!(self.flash.program(address, &data));
    }

    fn erased(&self, address: u32, len: u32) -> bool {
        self.bytes(address, len as usize).iter().all(|&b| b == 0xFF)
    }
}

fn pattern_at(address: u32) -> u8 {
    // Never 0xFF, so a patterned byte never reads as erased.
    ((address as u8) ^ ((address >> 11) as u8) ^ 0x5A) & 0x7F
}

// ------------------------------------------------------------------ constants and layout

#[test]
fn public_constants_match_the_facts_tables() {
    assert_eq!(g0::FLASH_REGS, FLASH_R_BASE);
    assert_eq!(
        (g0::KEYR, g0::OPTKEYR, g0::SR, g0::CR, g0::OPTR),
        (KEYR, OPTKEYR, SR, CR, OPTR)
    );
    assert_eq!(
        (g0::PCROP1ASR, g0::PCROP1AER, g0::WRP1AR, g0::WRP1BR),
        (PCROP1ASR, PCROP1AER, WRP1AR, WRP1BR)
    );
    assert_eq!((g0::PCROP1BSR, g0::PCROP1BER), (PCROP1BSR, PCROP1BER));
    assert_eq!(
        (g0::KEY1, g0::KEY2, g0::OPTKEY1, g0::OPTKEY2),
        (KEY1, KEY2, OPTKEY1, OPTKEY2)
    );
    assert_eq!(
        [
            g0::CR_PG,
            g0::CR_PER,
            g0::CR_MER1,
            g0::CR_STRT,
            g0::CR_OPTSTRT,
            g0::CR_FSTPG,
            g0::CR_EOPIE,
            g0::CR_ERRIE,
            g0::CR_OBL_LAUNCH,
            g0::CR_OPTLOCK,
            g0::CR_LOCK
        ],
        [
            CR_PG,
            CR_PER,
            CR_MER1,
            CR_STRT,
            CR_OPTSTRT,
            CR_FSTPG,
            CR_EOPIE,
            CR_ERRIE,
            CR_OBL_LAUNCH,
            CR_OPTLOCK,
            CR_LOCK
        ]
    );
    assert_eq!(
        [
            g0::SR_EOP,
            g0::SR_OPERR,
            g0::SR_PROGERR,
            g0::SR_WRPERR,
            g0::SR_PGAERR,
            g0::SR_SIZERR,
            g0::SR_PGSERR,
            g0::SR_MISERR,
            g0::SR_FASTERR,
            g0::SR_RDERR,
            g0::SR_OPTVERR,
            g0::SR_BSY1,
            g0::SR_CFGBSY
        ],
        [
            SR_EOP, SR_OPERR, SR_PROGERR, SR_WRPERR, SR_PGAERR, SR_SIZERR, SR_PGSERR, SR_MISERR,
            SR_FASTERR, SR_RDERR, SR_OPTVERR, SR_BSY1, SR_CFGBSY
        ]
    );
    assert_eq!(g0::SR_ERRORS, SR_ERRORS);
    assert_eq!(g0::rdp_level(RDP_LEVEL0), 0);
    assert_eq!(g0::rdp_level(RDP_LEVEL2), 2);
    assert_eq!(g0::rdp_level(RDP_LEVEL1), 1);
    assert_eq!(g0::rdp_level(0x00), 1);
}

/// Facts 5.1: single bank, 64 pages × 2 KB; PNB (10 bits, facts 3.5) names the page.
#[test]
fn g071_is_64_pages_of_2k_and_pnb_names_them() {
    assert_eq!(g0::FLASH_BASE, FLASH_BASE);
    assert_eq!(g0::PAGE_SIZE, PAGE);
    assert_eq!(g0::PAGES, PAGES as usize);
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, FLASH_SIZE);
    b.unlock();
    b.page_erase(63);
    assert!(b.erased(page_addr(63), PAGE));
    assert_eq!(page_addr(63) + PAGE, FLASH_BASE + FLASH_SIZE);
    assert!(!b.erased(page_addr(62), 1));
    b.wait_idle();
    // Model's choice: a PNB past the last page is a sequence error.
    b.page_erase(64);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR);
    assert!(!b.busy());
}

/// Facts 5.2 [R] DS12232 column: double word ~85 / 125 µs, 2 KB page ~22 / 40 ms (the 40 ms
/// maximum is [V] via Zephyr), mass erase ~22 / 40 ms.
#[test]
fn g0_timing_is_the_datasheet_column() {
    // [R] fact: DS12232 typ/max timings (facts 5.2, "not re-verified against the datasheets").
    let typ = g0::timing(Timing::Typical);
    assert_eq!(typ.word_program * 2, Duration::from_micros(85));
    assert_eq!(typ.erase_time(PAGE), Duration::from_millis(22));
    assert_eq!(typ.mass_erase, Duration::from_millis(22));
    let max = g0::timing(Timing::Max);
    assert_eq!(max.word_program * 2, Duration::from_micros(125));
    assert_eq!(max.erase_time(PAGE), Duration::from_millis(40));
    assert_eq!(max.mass_erase, Duration::from_millis(40));
}

#[test]
fn reset_state_is_locked_with_factory_options() {
    let b = Bench::factory();
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
    assert_eq!(b.sr(), 0);
    // [R] fact: factory OPTR 0xFFFFFEAA and WRP 0xFF00FFFF (not in the facts file).
    assert_eq!(b.read(OPTR), FACTORY_OPTR);
    for reg in [WRP1AR, WRP1BR] {
        let (s, e) = wrp_fields(b.read(reg));
        assert!(s > e, "factory WRP area at {reg:#x} must be inactive");
    }
    assert_eq!(b.fc.rdp_level(), 0);
    assert!((0..64).all(|p| !b.fc.sector_write_protected(p)));
}

// ------------------------------------------------------------------ keys

/// Facts 3.0 (RM0444 p. 90): OPTKEYR works only after CR.LOCK is cleared; setting LOCK by
/// software also sets OPTLOCK.
#[test]
fn unlock_order_is_keyr_then_optkeyr_and_lock_sets_optlock() {
    let mut b = Bench::factory();
    b.unlock_all();
    b.w(CR, CR_LOCK);
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
    b.unlock_all();
    b.w(CR, CR_OPTLOCK);
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_OPTLOCK);
    b.opt_unlock();

    // Model's choice: OPTKEYR while LOCK is set is a wrong sequence (bus error, OPTLOCK
    // stuck until reset).
    let mut b = Bench::factory();
    assert_eq!(b.write(OPTKEYR, OPTKEY1), Err(BusFault));
    b.unlock();
    assert_eq!(b.write(OPTKEYR, OPTKEY1), Err(BusFault));
    assert_eq!(b.write(OPTKEYR, OPTKEY2), Err(BusFault));
    assert_ne!(b.cr() & CR_OPTLOCK, 0);
    b.fc.reset();
    b.unlock_all();
}

/// Facts 3.0: a wrong key sequence locks until the next reset, with a bus error.
#[test]
fn keyr_wrong_sequence_faults_and_locks_until_reset() {
    let mut b = Bench::factory();
    assert_eq!(b.write(KEYR, KEY2), Err(BusFault));
    assert_eq!(b.write(KEYR, KEY1), Err(BusFault));
    assert_eq!(b.write(KEYR, KEY2), Err(BusFault));
    assert_ne!(b.cr() & CR_LOCK, 0);
    b.fc.reset();
    b.unlock();

    let mut b = Bench::factory();
    b.w(KEYR, KEY1);
    assert_eq!(b.write(KEYR, 0xDEAD_BEEF), Err(BusFault));
    assert_ne!(b.cr() & CR_LOCK, 0);
    let mut b = Bench::factory();
    b.unlock();
    assert_eq!(b.write(KEYR, KEY1), Err(BusFault), "keys to an unlocked CR");
    assert_ne!(b.cr() & CR_LOCK, 0);
    b.fc.power_on_reset();
    b.unlock();
}

/// Facts 3.0: "A wrong key sequence locks the register until next reset and raises a bus
/// error / HardFault (RM0444 p. 90 for OPTKEYR on G0)".
#[test]
fn optkeyr_wrong_sequence_faults_and_locks_until_reset() {
    let mut b = Bench::factory();
    b.unlock();
    assert_eq!(b.write(OPTKEYR, OPTKEY2), Err(BusFault));
    assert_eq!(b.write(OPTKEYR, OPTKEY1), Err(BusFault));
    assert_eq!(b.write(OPTKEYR, OPTKEY2), Err(BusFault));
    assert_ne!(b.cr() & CR_OPTLOCK, 0);
    // Model's choice: only OPTLOCK is stuck, CR stays unlocked.
    assert_eq!(b.cr() & CR_LOCK, 0);
    b.fc.reset();
    b.unlock_all();
}

// ------------------------------------------------------------------ option bytes

#[test]
fn optstrt_and_obl_launch_while_optlocked_do_nothing() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1);
    b.w(CR, CR_OPTSTRT);
    assert!(!b.busy());
    assert_eq!(b.fc.stored_options(), G0Options::factory());
    // [R] fact: factory OPTR 0xFFFFFEAA.
    assert_eq!(b.read(OPTR), FACTORY_OPTR);
    // OBL_LAUNCH cannot be written while OPTLOCK is set (RM0440, [R] for the G0).
    b.w(CR, CR_OBL_LAUNCH);
    assert!(!b.fc.take_obl_launch());
    let mut b = Bench::factory();
    b.w(CR, CR_OPTSTRT | CR_OBL_LAUNCH);
    assert!(!b.busy());
    assert!(!b.fc.take_obl_launch());
    assert_eq!(b.fc.stored_options(), G0Options::factory());
}

/// Facts 3.5: after OPTSTRT the values are in flash but not applied until an option load
/// (OBL_LAUNCH → reset, or POR). Model's choice, from RM0440 [R]: the option registers read
/// what software wrote until the next system reset, which copies the loaded (old) values
/// back; protection follows the loaded values only.
#[test]
fn option_change_is_stored_but_not_applied_until_obl_launch() {
    let mut b = Bench::factory();
    b.unlock_all();
    let new_optr = (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1;
    let wrp1ar = with_wrp(b.read(WRP1AR), 2, 3);
    b.change_options(&[(OPTR, new_optr), (WRP1AR, wrp1ar)]);
    assert!(b.busy(), "BSY1 during option programming (facts 3.5)");
    assert_ne!(b.sr() & SR_CFGBSY, 0, "model: CFGBSY with BSY1");
    assert_eq!(b.fc.busy_until() - b.now, b.timing.option_program);
    b.wait_idle();
    assert_eq!(b.fc.stored_options().optr, new_optr);
    assert_eq!(wrp_fields(b.fc.stored_options().wrp1ar), (2, 3));
    assert_eq!(b.fc.stored_rdp_level(), 1);
    assert_eq!(b.fc.rdp_level(), 0);
    assert!(!b.fc.sector_write_protected(2));
    b.w(CR, CR_PG);
    b.program_dw(page_addr(2), 0x1122_3344_5566_7788);
    assert_eq!(b.sr() & SR_ERRORS, 0, "not yet protected");
    b.wait_idle();
    b.fc.reset();
    // [R] fact: factory OPTR 0xFFFFFEAA.
    assert_eq!(
        b.read(OPTR),
        FACTORY_OPTR,
        "a system reset does not load options"
    );
    assert_eq!(b.fc.rdp_level(), 0);
    b.unlock_all();
    b.obl_launch();
    assert_eq!(b.read(OPTR), new_optr);
    assert_eq!(wrp_fields(b.read(WRP1AR)), (2, 3));
    assert_eq!(b.fc.rdp_level(), 1);
    assert!(b.fc.sector_write_protected(2) && b.fc.sector_write_protected(3));
    assert!(!b.fc.sector_write_protected(1) && !b.fc.sector_write_protected(4));
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
}

#[test]
fn stored_options_apply_at_power_on() {
    let mut b = Bench::factory();
    b.unlock_all();
    let wrp1br = with_wrp(b.read(WRP1BR), 63, 63);
    b.change_options(&[(WRP1BR, wrp1br)]);
    b.wait_idle();
    assert!(!b.fc.sector_write_protected(63));
    b.fc.power_on_reset();
    assert!(b.fc.sector_write_protected(63));
}

#[test]
fn option_register_writes_without_optstrt_are_lost_at_reset() {
    let mut b = Bench::factory();
    b.unlock_all();
    b.w(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1);
    b.fc.power_on_reset();
    // [R] fact: factory OPTR 0xFFFFFEAA.
    assert_eq!(b.read(OPTR), FACTORY_OPTR);
    assert_eq!(b.fc.stored_options(), G0Options::factory());
}

/// Facts 3.0/3.5 (RM0444 p. 93): RDP 1 → 0 performs the mass erase; WRP keeps its value.
#[test]
fn rdp_regression_1_to_0_mass_erases_even_wrp_pages() {
    let mut o = options_with(RDP_LEVEL1);
    o.wrp1ar = with_wrp(o.wrp1ar, 0, 1);
    // [R] fact: PCROP registers at their factory values (no PCROP area).
    let mut b = Bench::new(o);
    assert_eq!(b.fc.rdp_level(), 1);
    b.fill(FLASH_BASE, FLASH_SIZE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL0)]);
    // [R] fact: mass erase ~22 ms typ (DS12232); option time is the model's choice.
    assert_eq!(
        b.fc.busy_until() - b.now,
        b.timing.mass_erase + b.timing.option_program
    );
    assert!(b.erased(FLASH_BASE, FLASH_SIZE));
    b.wait_idle();
    assert_eq!(b.fc.stored_rdp_level(), 0);
    assert_eq!(wrp_fields(b.fc.stored_options().wrp1ar), (0, 1));
    assert_eq!(b.fc.rdp_level(), 1, "level 1 until the option load");
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 0);
    assert!(b.fc.sector_write_protected(0));
}

/// Facts 3.0 (RM0444 p. 93): PCROP_RDP = 0 → pages overlapping the PCROP area survive.
#[test]
fn rdp_regression_with_pcrop_rdp_clear_keeps_pcrop_pages() {
    // [R] fact: PCROP1A offsets count 512-byte blocks and PCROP_RDP is PCROP1AER bit 31
    // (facts 3.0 names PCROP_RDP, not its bit or the granularity).
    let mut o = options_with(RDP_LEVEL1);
    o.pcrop1asr = 0xFFFF_FF00 | (10 * PAGE / 512); // page 10, first block
    o.pcrop1aer = 0x7FFF_FF00 | (10 * PAGE / 512 + 1); // two blocks; PCROP_RDP = 0
    let mut b = Bench::new(o);
    assert!(b.fc.pcrop_protected(page_addr(10)));
    assert!(b.fc.pcrop_protected(page_addr(10) + 1023));
    assert!(!b.fc.pcrop_protected(page_addr(10) + 1024));
    assert!(b.fc.page_erase_protected(10));
    assert!(!b.fc.sector_write_protected(10), "PCROP is not a WRP area");
    b.fill(FLASH_BASE, FLASH_SIZE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL0)]);
    // Model's choice: the partial erase is 63 page erases.
    assert_eq!(
        b.fc.busy_until() - b.now,
        b.timing.erase_time(PAGE) * 63 + b.timing.option_program
    );
    assert_eq!(
        b.bytes(page_addr(10) + PAGE - 1, 1),
        vec![pattern_at(page_addr(10) + PAGE - 1)],
        "the whole PCROP page survives"
    );
    assert!(b.erased(FLASH_BASE, 10 * PAGE));
    assert!(b.erased(page_addr(11), FLASH_SIZE - 11 * PAGE));
    b.wait_idle();
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 0);
    assert!(b.fc.pcrop_protected(page_addr(10)), "PCROP kept");
}

/// Facts 3.0: PCROP_RDP = 1 → the whole flash is erased. RM0440 [R]: PCROP is disabled.
#[test]
fn rdp_regression_with_pcrop_rdp_set_erases_all_and_drops_pcrop() {
    let mut o = options_with(RDP_LEVEL1);
    o.pcrop1bsr = 0xFFFF_FF00 | 8;
    o.pcrop1ber = 0xFFFF_FF00 | 11;
    o.pcrop1aer |= 1 << 31; // PCROP_RDP = 1 (factory value already)
    let mut b = Bench::new(o);
    assert!(b.fc.page_erase_protected(2));
    b.fill(FLASH_BASE, FLASH_SIZE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL0)]);
    assert!(b.erased(FLASH_BASE, FLASH_SIZE));
    b.wait_idle();
    b.obl_launch();
    assert!((0..64).all(|p| !b.fc.page_erase_protected(p)));
}

/// Facts 3.0: only 1 → 0 erases; level 2 freezes the option bytes (RM0440 [R]: WRPERR).
#[test]
fn rdp_raise_does_not_erase_and_level_2_freezes_options() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1)]);
    b.wait_idle();
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 1);
    assert!(!b.erased(FLASH_BASE, 1));
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL2)]);
    b.wait_idle();
    assert!(!b.erased(FLASH_BASE, 1));
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 2);
    b.unlock_all();
    let before = b.fc.stored_options();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL0)]);
    assert!(!b.busy());
    assert_ne!(b.sr() & SR_WRPERR, 0);
    assert_eq!(b.fc.stored_options(), before);
    assert!(!b.erased(FLASH_BASE, 1));
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 2);
}

#[test]
fn rdp_0_to_2_does_not_erase() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL2)]);
    assert_eq!(b.fc.busy_until() - b.now, b.timing.option_program);
    assert!(!b.erased(FLASH_BASE, 1));
    b.wait_idle();
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 2);
}

#[test]
fn no_erase_when_level_1_was_never_loaded() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1)]);
    b.wait_idle();
    b.change_options(&[(OPTR, FACTORY_OPTR)]);
    b.wait_idle();
    assert!(!b.erased(FLASH_BASE, 1));
}

// ------------------------------------------------------------------ erase

#[test]
fn page_erase_erases_exactly_that_page_for_its_erase_time() {
    for page in [0, 1, 31, 62, 63] {
        let mut b = Bench::factory();
        b.fill(FLASH_BASE, FLASH_SIZE);
        b.unlock();
        b.page_erase(page);
        assert!(b.busy());
        assert_ne!(b.cr() & CR_STRT, 0, "STRT reads 1 until BSY clears");
        // [R] fact: 2 KB page erase ~22 ms typ (DS12232).
        assert_eq!(b.fc.busy_until() - b.now, Duration::from_millis(22));
        let at = page_addr(page);
        assert!(b.erased(at, PAGE));
        if page > 0 {
            assert_eq!(b.bytes(at - 1, 1), vec![pattern_at(at - 1)]);
        }
        if page < 63 {
            assert_eq!(b.bytes(at + PAGE, 1), vec![pattern_at(at + PAGE)]);
        }
        b.now = b.fc.busy_until() - NS;
        assert!(b.busy());
        b.now += NS;
        assert!(!b.busy());
        assert_eq!(b.sr() & SR_ERRORS, 0);
    }
}

#[test]
fn mass_erase_erases_everything_for_the_mass_erase_time() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, FLASH_SIZE);
    b.unlock();
    b.w(CR, CR_MER1);
    b.w(CR, CR_MER1 | CR_STRT);
    // [R] fact: mass erase ~22 ms typ (DS12232).
    assert_eq!(b.fc.busy_until() - b.now, Duration::from_millis(22));
    assert!(b.erased(FLASH_BASE, FLASH_SIZE));
}

#[test]
fn conflicting_erase_bits_are_pgserr() {
    for cr in [CR_PER | CR_MER1, CR_PG | CR_PER, CR_PG | CR_MER1] {
        let mut b = Bench::factory();
        b.fill(FLASH_BASE, PAGE);
        b.unlock();
        b.w(CR, cr);
        b.w(CR, cr | CR_STRT);
        assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR, "CR {cr:#x}");
        assert!(!b.busy());
        assert!(!b.erased(FLASH_BASE, 1));
    }
}

/// RM0440 [R]: an erase started while a programming error is still flagged is PGSERR.
#[test]
fn erase_with_a_stale_error_flag_is_pgserr() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.unlock();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE, 0, 2); // SIZERR
    b.page_erase(0);
    assert_eq!(b.sr() & SR_ERRORS, SR_SIZERR | SR_PGSERR);
    assert!(!b.erased(FLASH_BASE, 1));
    b.clear_errors();
    b.page_erase(0);
    assert!(b.erased(FLASH_BASE, PAGE));
}

#[test]
fn cr_writes_while_locked_are_ignored() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.page_erase(0);
    assert!(!b.busy());
    assert!(!b.erased(FLASH_BASE, 1));
    assert_eq!(b.cr(), CR_LOCK | CR_OPTLOCK);
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE + PAGE, 0);
    assert!(b.erased(FLASH_BASE + PAGE, 8));
    assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR);
}

/// Model's choice (as the F4 model): CR written while BSY1 is dropped with PGSERR.
#[test]
fn cr_write_while_busy_is_dropped_with_pgserr() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, 2 * PAGE);
    b.unlock();
    b.page_erase(0);
    b.page_erase(1);
    assert_ne!(b.sr() & SR_PGSERR, 0);
    assert!(!b.erased(FLASH_BASE + PAGE, 1));
    b.w(CR, CR_LOCK);
    assert_ne!(b.cr() & CR_LOCK, 0);
}

/// Facts 3.5 WRP1A/B (page numbers, active when start <= end): erase inside → WRPERR; a
/// mass erase with an active area → WRPERR.
#[test]
fn erase_of_a_write_protected_page_is_wrperr() {
    let mut o = G0Options::factory();
    o.wrp1ar = with_wrp(o.wrp1ar, 10, 12);
    o.wrp1br = with_wrp(o.wrp1br, 40, 40);
    let mut b = Bench::new(o);
    let protected = [10usize, 11, 12, 40];
    for p in 0..64 {
        assert_eq!(
            b.fc.sector_write_protected(p),
            protected.contains(&p),
            "page {p}"
        );
    }
    b.fill(FLASH_BASE, FLASH_SIZE);
    b.unlock();
    for page in [10, 12, 40] {
        b.page_erase(page);
        assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR, "page {page}");
        assert!(!b.busy());
        assert!(!b.erased(page_addr(page), 1));
        b.clear_errors();
    }
    b.page_erase(13);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    b.wait_idle();
    b.w(CR, CR_MER1);
    b.w(CR, CR_MER1 | CR_STRT);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    assert!(!b.erased(page_addr(40), 1));
}

// ------------------------------------------------------------------ programming

/// Facts 3.5: the programming unit is a 64-bit double word.
#[test]
fn double_word_programs_after_its_second_word() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG | CR_EOPIE);
    let at = page_addr(9) + 16;
    b.program(at, 0x0403_0201, 4);
    assert!(b.erased(at, 8));
    assert!(!b.busy());
    assert_ne!(
        b.sr() & SR_CFGBSY,
        0,
        "model: CFGBSY while the second word is awaited"
    );
    b.program(at + 4, 0x0807_0605, 4);
    assert_eq!(b.bytes(at, 8), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(b.busy());
    // [R] fact: 64-bit program ~85 µs typ (DS12232).
    assert_eq!(b.fc.busy_until() - b.now, Duration::from_micros(85));
    b.wait_idle();
    assert_eq!(b.sr() & SR_CFGBSY, 0);
    // RM0440 [R]: EOP only when EOPIE is set.
    assert_eq!(b.sr() & (SR_ERRORS | SR_EOP), SR_EOP);
    b.w(SR, SR_EOP);
    b.w(CR, CR_PG);
    b.program_dw(at + 8, 0x1111_2222_3333_4444);
    b.wait_idle();
    assert_eq!(b.sr() & (SR_ERRORS | SR_EOP), 0);
}

/// Model's choice: a lone first word dropped by clearing PG is a sequence error.
#[test]
fn lone_first_word_is_pgserr_and_programs_nothing() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE, 0, 4);
    b.w(CR, CR_PER);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR);
    assert!(b.erased(FLASH_BASE, 8));
    b.clear_errors();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE, 0, 4);
    b.fc.reset();
    assert_eq!(b.sr(), 0);
    assert!(b.erased(FLASH_BASE, 8));
}

/// RM0440 [R] (facts 3.5 names SIZERR): byte and half-word writes are refused.
#[test]
fn byte_and_half_word_writes_are_sizerr() {
    for width in [1, 2] {
        let mut b = Bench::factory();
        b.unlock();
        b.w(CR, CR_PG);
        b.program(FLASH_BASE, 0, width);
        assert_eq!(b.sr() & SR_ERRORS, SR_SIZERR, "width {width}");
        assert!(b.erased(FLASH_BASE, 8));
    }
}

/// RM0440 [R] (PGAERR).
#[test]
fn misaligned_or_foreign_second_word_is_pgaerr() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE + 4, 0, 4);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGAERR);
    b.clear_errors();
    b.program(FLASH_BASE, 0, 4);
    b.program(FLASH_BASE + 8, 0, 4);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGAERR);
    assert!(b.erased(FLASH_BASE, 16));
}

#[test]
fn write_without_pg_or_with_per_is_pgserr() {
    for cr in [0, CR_PER, CR_PG | CR_MER1] {
        let mut b = Bench::factory();
        b.unlock();
        b.w(CR, cr);
        b.program_dw(FLASH_BASE, 0);
        assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR, "CR {cr:#x}");
        assert!(b.erased(FLASH_BASE, 8));
    }
}

/// Facts 5.1: ECC → each double word programmed once after erase. RM0440 [R]: PROGERR,
/// except for all-zero data.
#[test]
fn non_erased_double_word_is_progerr_except_all_zero() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE, 0x7FFF_FFFF_FFFF_FFFF);
    b.wait_idle();
    b.program_dw(FLASH_BASE, 0x3FFF_FFFF_FFFF_FFFF);
    assert_eq!(b.sr() & SR_ERRORS, SR_PROGERR);
    assert_eq!(b.bytes(FLASH_BASE + 7, 1), vec![0x7F]);
    b.clear_errors();
    // [R] fact (RM0440): all-zero data may overwrite a programmed double word.
    b.program_dw(FLASH_BASE, 0);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    assert_eq!(b.bytes(FLASH_BASE, 8), vec![0; 8]);
    b.wait_idle();
    b.page_erase(0);
    b.wait_idle();
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE, 0x0102_0304_0506_0708);
    assert_eq!(b.sr() & SR_ERRORS, 0);
}

#[test]
fn program_into_protected_areas_is_wrperr() {
    let mut o = G0Options::factory();
    o.wrp1br = with_wrp(o.wrp1br, 20, 21);
    // [R] fact: PCROP1B offsets in 512-byte blocks from the flash base.
    o.pcrop1bsr = 0xFFFF_FF00 | 4; // 0x0800_0800
    o.pcrop1ber = 0xFFFF_FF00 | 4;
    let mut b = Bench::new(o);
    b.unlock();
    b.w(CR, CR_PG);
    b.program_dw(page_addr(21) + 64, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    assert!(b.erased(page_addr(21) + 64, 8));
    b.clear_errors();
    b.program_dw(FLASH_BASE + 0x800 + 504, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR, "PCROP block");
    b.clear_errors();
    b.program_dw(FLASH_BASE + 0x800 + 512, 0);
    assert_eq!(b.sr() & SR_ERRORS, 0, "just past the PCROP block");
    b.wait_idle();
    b.page_erase(1);
    assert_eq!(
        b.sr() & SR_ERRORS,
        SR_WRPERR,
        "the PCROP page cannot be erased"
    );
}

/// Facts 3.0: level 1 forbids erase/program while a debugger is connected. RM0440 [R]:
/// WRPERR.
#[test]
fn debugger_with_rdp1_loaded_refuses_erase_and_program() {
    let mut b = Bench::new(options_with(RDP_LEVEL1));
    b.debugger = true;
    b.fill(FLASH_BASE, PAGE);
    b.unlock();
    b.page_erase(0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    assert!(!b.erased(FLASH_BASE, 1));
    b.clear_errors();
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE + PAGE, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    b.clear_errors();
    b.debugger = false;
    b.program_dw(FLASH_BASE + PAGE, 0);
    assert_eq!(b.sr() & SR_ERRORS, 0);
}

/// Facts 7.5: error flags are write-1-to-clear.
#[test]
fn sr_error_flags_clear_by_writing_one() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE + 4, 0, 4);
    b.program(FLASH_BASE + 8, 0, 4);
    let flags = b.sr() & SR_ERRORS;
    assert_eq!(flags, SR_PGAERR | SR_PGSERR);
    b.w(SR, 0);
    assert_eq!(b.sr() & SR_ERRORS, flags);
    b.w(SR, SR_PGAERR);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR);
    b.w(SR, SR_PGSERR);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE, 0);
    b.w(SR, 0xFFFF_FFFF);
    assert!(b.busy(), "BSY1 is not a write-1-to-clear flag");
}

/// RM0440 [R]: OPERR only when ERRIE is set.
#[test]
fn operr_follows_errie() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG | CR_ERRIE);
    b.program(FLASH_BASE, 0, 1);
    assert_eq!(b.sr() & SR_ERRORS, SR_SIZERR | SR_OPERR);
}

#[test]
fn chip_services_report_and_clear_their_errors() {
    let mut o = G0Options::factory();
    o.wrp1ar = with_wrp(o.wrp1ar, 3, 3);
    let mut b = Bench::new(o);
    let data: Vec<u8> = (0..36).collect();
    let now = b.now;
    let (fc, mut bus) = b.bus();
    assert_eq!(fc.program_block(FLASH_BASE, &data, &mut bus), 0);
    assert_eq!(fc.erase_block(3, &mut bus), SR_WRPERR);
    assert_eq!(fc.program_block(page_addr(3), &data, &mut bus), SR_WRPERR);
    assert_eq!(fc.program_block(FLASH_BASE, &data, &mut bus), SR_PROGERR);
    assert_eq!(fc.program_block(FLASH_BASE + 4, &data, &mut bus), SR_PGAERR);
    assert_eq!(fc.mass_erase_block(&mut bus), SR_WRPERR);
    assert_eq!(fc.read(SR, now) & SR_ERRORS, 0);
    assert_eq!(b.bytes(FLASH_BASE, 36), data);
    assert_eq!(b.bytes(FLASH_BASE + 36, 4), vec![0xFF; 4]);
    assert_ne!(b.cr() & CR_LOCK, 0);
}

/// [R] fact (not in the facts file): the option bytes sit at 0x1FFF7800 (OPTR, PCROP1A
/// start/end, WRP1A, WRP1B, PCROP1B start/end at +0, +8, ... +0x30), each word followed by
/// its complement.
#[test]
fn option_area_holds_the_stored_words_and_complements() {
    let mut b = Bench::factory();
    assert_eq!(b.fc.option_area(0x1FFF_7800), Some(FACTORY_OPTR));
    assert_eq!(b.fc.option_area(0x1FFF_7804), Some(!FACTORY_OPTR));
    b.unlock_all();
    b.change_options(&[(WRP1BR, wrp(5, 6))]);
    b.wait_idle();
    assert_eq!(b.fc.option_area(0x1FFF_7820).map(wrp_fields), Some((5, 6)));
    assert_eq!(b.fc.option_area(0x1FFF_7000), None);
}

#[test]
fn write_options_through_registers_stores_without_loading() {
    let mut b = Bench::factory();
    let optr = (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1;
    let (fc, mut bus) = b.bus();
    fc.write_options_through_registers(optr, &mut bus);
    assert_eq!(b.fc.stored_options().optr, optr);
    assert_eq!(b.fc.rdp_level(), 0);
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
}

// ------------------------------------------------------------------ property tests

#[derive(Clone, Debug)]
enum Op {
    Program { address: u32, value: u64 },
    Erase { page: u32 },
}

fn pages() -> impl Strategy<Value = u32> {
    prop_oneof![Just(0u32), Just(1), Just(32), Just(63)]
}

fn op() -> impl Strategy<Value = Op> {
    let value = prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()];
    prop_oneof![
        6 => (pages(), 0u32..6, value).prop_map(|(page, dw, value)| Op::Program {
            address: page_addr(page) + 8 * dw,
            value,
        }),
        1 => pages().prop_map(|page| Op::Erase { page }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Programs never turn a 0 bit into 1, and a double word is never programmed twice
    /// without an erase: a second program of a non-erased double word is PROGERR and leaves
    /// it unchanged (except all-zero data, RM0440 [R]). Erase restores exactly its page.
    #[test]
    fn programs_never_set_bits_and_program_once_per_erase(
        ops in proptest::collection::vec(op(), 1..60)
    ) {
        let mut b = Bench::factory();
        b.unlock();
        let mut shadow = vec![0xFFu8; FLASH_SIZE as usize];
        for op in &ops {
            b.wait_idle();
            match *op {
                Op::Program { address, value } => {
                    b.w(CR, CR_PG);
                    let o = (address - FLASH_BASE) as usize;
                    let before = shadow[o..o + 8].to_vec();
                    b.program_dw(address, value);
                    let after = b.bytes(address, 8);
                    for i in 0..8 {
                        prop_assert_eq!(after[i] & !before[i], 0, "a bit went 0 -> 1 at {:#x}", address + i as u32);
                    }
                    if before.iter().all(|&x| x == 0xFF) || value == 0 {
                        prop_assert_eq!(b.sr() & SR_ERRORS, 0);
                        let want: Vec<u8> = before.iter().zip(value.to_le_bytes()).map(|(x, v)| x & v).collect();
                        prop_assert_eq!(&after, &want);
                        shadow[o..o + 8].copy_from_slice(&want);
                    } else {
                        prop_assert_eq!(b.sr() & SR_ERRORS, SR_PROGERR, "second program without erase at {:#x}", address);
                        prop_assert_eq!(&after, &before);
                        b.clear_errors();
                    }
                }
                Op::Erase { page } => {
                    b.w(CR, 0);
                    b.page_erase(page);
                    prop_assert_eq!(b.sr() & SR_ERRORS, 0);
                    prop_assert_eq!(b.fc.busy_until() - b.now, b.timing.erase_time(PAGE));
                    let o = (page * PAGE) as usize;
                    shadow[o..o + PAGE as usize].fill(0xFF);
                }
            }
        }
        prop_assert!(b.flash.read(FLASH_BASE, FLASH_SIZE as usize).unwrap() == &shadow[..], "stray change");
    }
}
