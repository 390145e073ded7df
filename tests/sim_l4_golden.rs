//! Golden tests for the simulated STM32L476 FLASH interface (RM0351), at register level,
//! through the public API only.
//!
//! Expected values are copied from `/work/shared/reference/stm32-facts.md` (sections 3.0,
//! 3.4, 5.1, 5.2, 7), not from the crate's constants, so a wrong constant in the model shows
//! up here. Facts tagged [R] there are flagged with `// [R] fact: ...`. Where the facts file
//! is silent the comment says "model's choice"; where the behaviour was taken from ST's
//! RM0440 (the sibling STM32G4 controller, not the L4 manual) it is flagged [R] as well.
//!
//! No real time passes: each test owns a virtual `now` and advances it by hand.

mod common;

use std::time::Duration;

use proptest::prelude::*;
use station::sim::controller::BusFault;
use station::sim::flash::FlashArray;
use station::sim::l4::{self, L4Flash, L4Options};
use station::sim::part::Timing;

// ------------------------------------------------------------------ golden values (facts file)

/// Facts 3.4 register map (OOCD `stm32l4_flash_regs`, base 0x40022000).
const FLASH_R_BASE: u32 = 0x4002_2000;
const KEYR: u32 = 0x08;
const OPTKEYR: u32 = 0x0C;
const SR: u32 = 0x10;
const CR: u32 = 0x14;
const OPTR: u32 = 0x20;
const PCROP1SR: u32 = 0x24;
const PCROP1ER: u32 = 0x28;
const WRP1AR: u32 = 0x2C;
const WRP1BR: u32 = 0x30;
const PCROP2SR: u32 = 0x44;
const PCROP2ER: u32 = 0x48;
const WRP2AR: u32 = 0x4C;
const WRP2BR: u32 = 0x50;

/// Facts 3.0 key table.
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;

/// Facts 3.4 FLASH_CR [X]: PG 0, PER 1, MER1 2, PNB 10:3, BKER 11, MER2 15, STRT 16,
/// OPTSTRT 17, FSTPG 18, EOPIE 24, ERRIE 25, RDERRIE 26, OBL_LAUNCH 27, OPTLOCK 30, LOCK 31.
const CR_PG: u32 = 1;
const CR_PER: u32 = 1 << 1;
const CR_MER1: u32 = 1 << 2;
const CR_BKER: u32 = 1 << 11;
const CR_MER2: u32 = 1 << 15;
const CR_STRT: u32 = 1 << 16;
const CR_OPTSTRT: u32 = 1 << 17;
const CR_FSTPG: u32 = 1 << 18;
const CR_EOPIE: u32 = 1 << 24;
const CR_ERRIE: u32 = 1 << 25;
const CR_OBL_LAUNCH: u32 = 1 << 27;
const CR_OPTLOCK: u32 = 1 << 30;
const CR_LOCK: u32 = 1 << 31;
const fn cr_pnb(page: u32) -> u32 {
    page << 3
}

/// Facts 3.4 FLASH_SR: EOP 0, OPERR 1, PROGERR 3, WRPERR 4, PGAERR 5, SIZERR 6, PGSERR 7,
/// MISERR 8, FASTERR 9, RDERR 14, OPTVERR 15, BSY 16.
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
const SR_BSY: u32 = 1 << 16;
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

/// Facts 3.4 FLASH_OPTR [V]: RDP bits 7:0.
const OPTR_RDP_MASK: u32 = 0xFF;
/// Facts 3.0 RDP byte table: 0xAA level 0, 0xCC level 2, anything else level 1 (HAL 0xBB).
const RDP_LEVEL0: u32 = 0xAA;
const RDP_LEVEL1: u32 = 0xBB;
const RDP_LEVEL2: u32 = 0xCC;

/// Facts 3.4 WRP: start page offset bits 7:0, end bits 23:16, inside the bank; active when
/// start <= end.
const fn wrp(start: u32, end: u32) -> u32 {
    start | (end << 16)
}
fn wrp_fields(v: u32) -> (u32, u32) {
    (v & 0xFF, (v >> 16) & 0xFF)
}

/// Facts 5.1 [X]: L476 1 MB = 2 banks × 256 pages × 2 KB; bank 1 0x08000000-0x0807FFFF,
/// bank 2 0x08080000-0x080FFFFF; always dual bank.
const FLASH_BASE: u32 = 0x0800_0000;
const BANK2_BASE: u32 = 0x0808_0000;
const PAGE: u32 = 2048;
const PAGES_PER_BANK: u32 = 256;
const FLASH_SIZE: u32 = 1024 * 1024;

// [R] fact: factory option bytes are not in the facts file; recalled L476 values:
// OPTR 0xFFEFF8AA, WRPxyR 0xFF00FFFF (no area), PCROPxSR 0xFFFFFFFF / PCROPxER 0xFFFF0000.
const FACTORY_OPTR: u32 = 0xFFEF_F8AA;

const NS: Duration = Duration::from_nanos(1);

fn page_addr(bank: u32, page: u32) -> u32 {
    FLASH_BASE + (bank * PAGES_PER_BANK + page) * PAGE
}

fn options_with(rdp: u32) -> L4Options {
    let mut o = L4Options::factory();
    o.optr = (o.optr & !OPTR_RDP_MASK) | rdp;
    o
}

// ------------------------------------------------------------------ the local bench

type Bench = common::golden::Bench<L4Flash>;

impl Bench {
    fn new(options: L4Options) -> Self {
        Self::with(
            L4Flash::new(options),
            FlashArray::new(FLASH_BASE, vec![PAGE; 512]),
            l4::timing(Timing::Typical),
        )
    }

    fn factory() -> Self {
        Self::new(L4Options::factory())
    }

    fn sr(&self) -> u32 {
        self.read(SR)
    }

    fn cr(&self) -> u32 {
        self.read(CR)
    }

    fn busy(&self) -> bool {
        self.sr() & SR_BSY != 0
    }

    /// Facts 3.4 "Program": a 64-bit double word as two 32-bit writes, low word first.
    fn program_dw(&mut self, address: u32, value: u64) {
        self.program(address, value as u32, 4);
        self.program(address + 4, (value >> 32) as u32, 4);
    }

    /// Poll SR.BSY without real sleeps: jump the virtual clock to the end of the operation.
    fn wait_idle(&mut self) {
        self.catch_up();
        assert!(!self.busy());
    }

    /// Facts 3.4 "Unlock": CR.LOCK → KEYR = KEY1, KEY2.
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

    /// Facts 3.4: then for options CR.OPTLOCK → OPTKEYR = OPTKEY1, OPTKEY2.
    fn opt_unlock(&mut self) {
        assert_ne!(self.cr() & CR_OPTLOCK, 0);
        self.w(OPTKEYR, OPTKEY1);
        self.w(OPTKEYR, OPTKEY2);
        assert_eq!(self.cr() & CR_OPTLOCK, 0);
    }

    fn unlock_all(&mut self) {
        self.unlock();
        self.opt_unlock();
    }

    /// Facts 3.4 "Option change": write the option registers, CR = OPTSTRT, wait BSY.
    fn change_options(&mut self, writes: &[(u32, u32)]) {
        for &(offset, value) in writes {
            self.w(offset, value);
        }
        self.w(CR, CR_OPTSTRT);
    }

    /// Facts 3.4: set CR.OBL_LAUNCH; the MCU answers with an option load and a reset
    /// (`take_obl_launch` → `power_on_reset`, as the MCU is wired).
    fn obl_launch(&mut self) {
        self.w(CR, CR_OBL_LAUNCH);
        assert!(self.fc.take_obl_launch(), "OBL_LAUNCH must be requested");
        self.fc.power_on_reset();
    }

    fn page_erase(&mut self, bank: u32, page: u32) {
        let cr = CR_PER | cr_pnb(page) | if bank == 1 { CR_BKER } else { 0 };
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

    /// Fill a page with a pattern, bypassing the controller.
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
    assert_eq!(l4::FLASH_REGS, FLASH_R_BASE);
    assert_eq!(
        (l4::KEYR, l4::OPTKEYR, l4::SR, l4::CR, l4::OPTR),
        (KEYR, OPTKEYR, SR, CR, OPTR)
    );
    assert_eq!((l4::PCROP1SR, l4::PCROP1ER), (PCROP1SR, PCROP1ER));
    assert_eq!((l4::WRP1AR, l4::WRP1BR), (WRP1AR, WRP1BR));
    assert_eq!((l4::PCROP2SR, l4::PCROP2ER), (PCROP2SR, PCROP2ER));
    assert_eq!((l4::WRP2AR, l4::WRP2BR), (WRP2AR, WRP2BR));
    assert_eq!(
        (l4::KEY1, l4::KEY2, l4::OPTKEY1, l4::OPTKEY2),
        (KEY1, KEY2, OPTKEY1, OPTKEY2)
    );
    assert_eq!(
        [
            l4::CR_PG,
            l4::CR_PER,
            l4::CR_MER1,
            l4::CR_BKER,
            l4::CR_MER2,
            l4::CR_STRT,
            l4::CR_OPTSTRT,
            l4::CR_FSTPG,
            l4::CR_EOPIE,
            l4::CR_ERRIE,
            l4::CR_OBL_LAUNCH,
            l4::CR_OPTLOCK,
            l4::CR_LOCK
        ],
        [
            CR_PG,
            CR_PER,
            CR_MER1,
            CR_BKER,
            CR_MER2,
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
            l4::SR_EOP,
            l4::SR_OPERR,
            l4::SR_PROGERR,
            l4::SR_WRPERR,
            l4::SR_PGAERR,
            l4::SR_SIZERR,
            l4::SR_PGSERR,
            l4::SR_MISERR,
            l4::SR_FASTERR,
            l4::SR_RDERR,
            l4::SR_OPTVERR,
            l4::SR_BSY
        ],
        [
            SR_EOP, SR_OPERR, SR_PROGERR, SR_WRPERR, SR_PGAERR, SR_SIZERR, SR_PGSERR, SR_MISERR,
            SR_FASTERR, SR_RDERR, SR_OPTVERR, SR_BSY
        ]
    );
    assert_eq!(l4::SR_ERRORS, SR_ERRORS);
    assert_eq!(l4::rdp_level(RDP_LEVEL0), 0);
    assert_eq!(l4::rdp_level(RDP_LEVEL2), 2);
    assert_eq!(l4::rdp_level(RDP_LEVEL1), 1);
    assert_eq!(l4::rdp_level(0x00), 1);
}

/// Facts 5.1: 2 banks × 256 pages × 2 KB, bank 2 at 0x08080000. The model numbers pages
/// globally in address order (model's choice): bank b page p is global page 256·b + p.
#[test]
fn l476_is_two_banks_of_256_2k_pages_numbered_globally() {
    assert_eq!(l4::FLASH_BASE, FLASH_BASE);
    assert_eq!(l4::PAGE_SIZE, PAGE);
    assert_eq!(l4::PAGES_PER_BANK, PAGES_PER_BANK as usize);
    assert_eq!(l4::PAGES, 512);
    assert_eq!(l4::BANK2_BASE, BANK2_BASE);
    assert_eq!(page_addr(1, 0), BANK2_BASE);
    assert_eq!(page_addr(1, 255) + PAGE, FLASH_BASE + FLASH_SIZE);
    assert_eq!(l4::bank_page(0), (0, 0));
    assert_eq!(l4::bank_page(255), (0, 255));
    assert_eq!(l4::bank_page(256), (1, 0));
    assert_eq!(l4::bank_page(511), (1, 255));
    assert_eq!(l4::global_page(1, 7), 263);
    // erase_block takes the global index: global 256 is bank 2's first page.
    let mut b = Bench::factory();
    b.fill(BANK2_BASE - PAGE, 2 * PAGE);
    let (fc, mut bus) = b.bus();
    assert_eq!(fc.erase_block(256, &mut bus), 0);
    assert!(b.erased(BANK2_BASE, PAGE));
    assert!(!b.erased(BANK2_BASE - PAGE, 1));
}

/// Facts 5.2 [R] DS10198 column: double word 81.69 / 90.76 µs, 2 KB page 22.02 / 24.47 ms
/// (the 24.47 ms maximum is [V] via Zephyr), mass erase ~22.1 / 24.6 ms per bank.
#[test]
fn l4_timing_is_the_datasheet_column() {
    // [R] fact: DS10198 typ/max timings (facts 5.2, "not re-verified against the datasheets").
    let typ = l4::timing(Timing::Typical);
    assert_eq!(typ.word_program * 2, Duration::from_nanos(81_690));
    assert_eq!(typ.erase_time(PAGE), Duration::from_micros(22_020));
    assert_eq!(typ.mass_erase, Duration::from_micros(22_100));
    let max = l4::timing(Timing::Max);
    assert_eq!(max.word_program * 2, Duration::from_nanos(90_760));
    assert_eq!(max.erase_time(PAGE), Duration::from_micros(24_470));
    assert_eq!(max.mass_erase, Duration::from_micros(24_600));
}

#[test]
fn reset_state_is_locked_with_factory_options() {
    let b = Bench::factory();
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
    assert_eq!(b.sr(), 0);
    // [R] fact: factory OPTR 0xFFEFF8AA and WRP 0xFF00FFFF (not in the facts file).
    assert_eq!(b.read(OPTR), FACTORY_OPTR);
    for reg in [WRP1AR, WRP1BR, WRP2AR, WRP2BR] {
        let (s, e) = wrp_fields(b.read(reg));
        assert!(s > e, "factory WRP area at {reg:#x} must be inactive");
    }
    assert_eq!(b.fc.rdp_level(), 0);
    assert!((0..512).all(|p| !b.fc.sector_write_protected(p)));
}

// ------------------------------------------------------------------ keys

/// Facts 3.0/3.4: KEYR first, then OPTKEYR; OPTKEYR works only once CR.LOCK is cleared;
/// setting LOCK by software also sets OPTLOCK.
#[test]
fn unlock_order_is_keyr_then_optkeyr_and_lock_sets_optlock() {
    let mut b = Bench::factory();
    b.unlock_all();
    // Setting LOCK also sets OPTLOCK (facts 3.0, RM0444 p. 90).
    b.w(CR, CR_LOCK);
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
    // Setting OPTLOCK alone relocks only the options.
    b.unlock_all();
    b.w(CR, CR_OPTLOCK);
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_OPTLOCK);
    b.opt_unlock();

    // OPTKEYR while LOCK is set does not unlock. Model's choice: it is a wrong sequence,
    // answered with a bus error, and OPTLOCK then stays set until reset.
    let mut b = Bench::factory();
    assert_eq!(b.write(OPTKEYR, OPTKEY1), Err(BusFault));
    b.unlock();
    assert_eq!(b.write(OPTKEYR, OPTKEY1), Err(BusFault));
    assert_eq!(b.write(OPTKEYR, OPTKEY2), Err(BusFault));
    assert_ne!(b.cr() & CR_OPTLOCK, 0);
    b.fc.reset();
    b.unlock_all();
}

#[test]
fn keyr_wrong_sequence_faults_and_locks_until_reset() {
    let mut b = Bench::factory();
    assert_eq!(b.write(KEYR, KEY2), Err(BusFault), "KEY2 first is wrong");
    assert_ne!(b.cr() & CR_LOCK, 0);
    // Locked until reset: even the right sequence now faults.
    assert_eq!(b.write(KEYR, KEY1), Err(BusFault));
    assert_eq!(b.write(KEYR, KEY2), Err(BusFault));
    assert_ne!(b.cr() & CR_LOCK, 0);
    b.fc.reset();
    b.unlock();

    // KEY1 then garbage.
    let mut b = Bench::factory();
    b.w(KEYR, KEY1);
    assert_eq!(b.write(KEYR, 0x1234_5678), Err(BusFault));
    assert_ne!(b.cr() & CR_LOCK, 0);
    // Keys to an unlocked controller are a wrong sequence too (facts 3.0, OOCD comment).
    let mut b = Bench::factory();
    b.unlock();
    assert_eq!(b.write(KEYR, KEY1), Err(BusFault));
    assert_ne!(b.cr() & CR_LOCK, 0);
    b.fc.power_on_reset();
    b.unlock();
}

#[test]
fn optkeyr_wrong_sequence_faults_and_locks_until_reset() {
    let mut b = Bench::factory();
    b.unlock();
    assert_eq!(b.write(OPTKEYR, OPTKEY2), Err(BusFault));
    assert_ne!(b.cr() & CR_OPTLOCK, 0);
    assert_eq!(b.write(OPTKEYR, OPTKEY1), Err(BusFault));
    assert_eq!(b.write(OPTKEYR, OPTKEY2), Err(BusFault));
    assert_ne!(b.cr() & CR_OPTLOCK, 0);
    // Model's choice: CR itself stays usable (only OPTLOCK is stuck).
    assert_eq!(b.cr() & CR_LOCK, 0);
    b.fc.reset();
    b.unlock_all();

    // A main key into OPTKEYR is wrong too.
    let mut b = Bench::factory();
    b.unlock();
    assert_eq!(b.write(OPTKEYR, KEY1), Err(BusFault));
    assert_ne!(b.cr() & CR_OPTLOCK, 0);
}

// ------------------------------------------------------------------ option bytes

#[test]
fn optstrt_and_obl_launch_while_optlocked_do_nothing() {
    let mut b = Bench::factory();
    b.unlock();
    // OPTLOCK still set: option registers are write-protected, OPTSTRT does nothing.
    b.w(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1);
    b.w(CR, CR_OPTSTRT);
    assert!(!b.busy());
    assert_eq!(b.fc.stored_options(), L4Options::factory());
    // [R] fact: factory OPTR 0xFFEFF8AA.
    assert_eq!(b.read(OPTR), FACTORY_OPTR);
    // OBL_LAUNCH cannot be written while OPTLOCK is set (RM0440, [R] for the L4).
    b.w(CR, CR_OBL_LAUNCH);
    assert!(!b.fc.take_obl_launch());
    assert_eq!(b.cr() & CR_OBL_LAUNCH, 0);
    // And fully locked: nothing either.
    let mut b = Bench::factory();
    b.w(CR, CR_OPTSTRT | CR_OBL_LAUNCH);
    assert!(!b.busy());
    assert!(!b.fc.take_obl_launch());
    assert_eq!(b.fc.stored_options(), L4Options::factory());
}

/// Facts 3.4: after OPTSTRT and BSY the new values are stored but become active only after
/// an option load (OBL_LAUNCH or POR). Model's choice, from RM0440 [R]: the option
/// registers read what software wrote until the next system reset, which copies the loaded
/// (old) values back; protection follows the loaded values only.
#[test]
fn option_change_is_stored_but_not_applied_until_obl_launch() {
    let mut b = Bench::factory();
    b.unlock_all();
    let new_optr = (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1;
    b.change_options(&[(OPTR, new_optr), (WRP1AR, wrp(2, 3))]);
    assert!(b.busy(), "BSY during option programming (facts 3.4)");
    assert_ne!(b.cr() & CR_OPTSTRT, 0, "OPTSTRT reads 1 until BSY clears");
    // Model's choice: option programming takes one page-erase time.
    assert_eq!(b.fc.busy_until() - b.now, b.timing.option_program);
    b.wait_idle();
    assert_eq!(b.cr() & CR_OPTSTRT, 0);
    assert_eq!(b.fc.stored_options().optr, new_optr);
    assert_eq!(wrp_fields(b.fc.stored_options().wrp1ar), (2, 3));
    assert_eq!(b.fc.stored_rdp_level(), 1);
    // Not applied: RDP still 0, WRP inactive, page 2 still programmable.
    assert_eq!(b.fc.rdp_level(), 0);
    assert!(!b.fc.sector_write_protected(2));
    b.w(CR, CR_PG);
    b.program_dw(page_addr(0, 2), 0x1122_3344_5566_7788);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    b.wait_idle();
    // A plain system reset does not load the options: the registers read the old values.
    b.fc.reset();
    // [R] fact: factory OPTR 0xFFEFF8AA.
    assert_eq!(b.read(OPTR), FACTORY_OPTR);
    assert!(wrp_fields(b.read(WRP1AR)).0 > wrp_fields(b.read(WRP1AR)).1);
    assert_eq!(b.fc.rdp_level(), 0);
    // OBL_LAUNCH: now they govern.
    b.unlock_all();
    b.obl_launch();
    assert_eq!(b.read(OPTR), new_optr);
    assert_eq!(wrp_fields(b.read(WRP1AR)), (2, 3));
    assert_eq!(b.fc.rdp_level(), 1);
    assert!(b.fc.sector_write_protected(2) && b.fc.sector_write_protected(3));
    assert!(!b.fc.sector_write_protected(1) && !b.fc.sector_write_protected(4));
    // The reset that follows OBL_LAUNCH locks everything again.
    assert_eq!(b.cr() & (CR_LOCK | CR_OPTLOCK), CR_LOCK | CR_OPTLOCK);
}

/// Facts 3.4: power-on also loads the option bytes.
#[test]
fn stored_options_apply_at_power_on() {
    let mut b = Bench::factory();
    b.unlock_all();
    b.change_options(&[(WRP2AR, wrp(0, 0))]);
    b.wait_idle();
    assert!(!b.fc.sector_write_protected(256));
    b.fc.power_on_reset();
    assert!(
        b.fc.sector_write_protected(256),
        "WRP2A page 0 = bank 2 page 0"
    );
    assert!(!b.fc.sector_write_protected(0));
}

#[test]
fn option_register_writes_without_optstrt_are_lost_at_reset() {
    let mut b = Bench::factory();
    b.unlock_all();
    b.w(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1);
    assert_eq!(b.read(OPTR) & OPTR_RDP_MASK, RDP_LEVEL1);
    b.fc.power_on_reset();
    // [R] fact: factory OPTR 0xFFEFF8AA.
    assert_eq!(b.read(OPTR), FACTORY_OPTR);
    assert_eq!(b.fc.stored_options(), L4Options::factory());
}

/// Facts 3.0: RDP 1 → 0 mass-erases the user flash before protection drops; other option
/// bytes (WRP) keep their values. Facts 3.4/3.5: applied at the next option load.
#[test]
fn rdp_regression_1_to_0_mass_erases_even_wrp_pages() {
    let mut o = options_with(RDP_LEVEL1);
    o.wrp1ar = (o.wrp1ar & !0x00FF_00FF) | wrp(0, 1);
    // [R] fact: PCROP registers at their factory values (no PCROP area).
    let mut b = Bench::new(o);
    assert_eq!(b.fc.rdp_level(), 1);
    b.fill(FLASH_BASE, 4 * PAGE);
    b.fill(BANK2_BASE + 8 * PAGE, PAGE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL0)]);
    // [R] fact: mass erase 22.1 ms typ (DS10198); option time is the model's choice.
    assert_eq!(
        b.fc.busy_until() - b.now,
        b.timing.mass_erase + b.timing.option_program
    );
    assert!(
        b.erased(FLASH_BASE, FLASH_SIZE),
        "whole flash erased, WRP or not"
    );
    b.wait_idle();
    assert_eq!(b.fc.stored_rdp_level(), 0);
    assert_eq!(wrp_fields(b.fc.stored_options().wrp1ar), (0, 1));
    assert_eq!(b.fc.rdp_level(), 1, "level 1 until the option load");
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 0);
    assert!(
        b.fc.sector_write_protected(0),
        "WRP kept through the regression"
    );
}

/// Facts 3.0 (RM0444/RM0432): with PCROP_RDP = 0 the pages overlapping the PCROP area survive
/// ("partial mass erase"). [R] for the L476 itself (RM0351 not read).
#[test]
fn rdp_regression_with_pcrop_rdp_clear_keeps_pcrop_pages() {
    // [R] fact: PCROP1SR/ER hold double-word offsets, PCROP_RDP is PCROP1ER bit 31 (facts 3.4
    // names bit 31 PCROP_RDP; the offsets' unit is recalled).
    let mut o = options_with(RDP_LEVEL1);
    let first_dw = page_addr(0, 4) - FLASH_BASE;
    o.pcrop1sr = 0xFFFF_0000 | (first_dw / 8);
    o.pcrop1er = 0x7FFF_0000 | ((first_dw + PAGE) / 8 - 1); // PCROP_RDP = 0
    let mut b = Bench::new(o);
    assert!(b.fc.pcrop_protected(page_addr(0, 4)));
    assert!(!b.fc.pcrop_protected(page_addr(0, 5)));
    b.fill(FLASH_BASE, 8 * PAGE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL0)]);
    // Model's choice: a partial mass erase is page erases, one page-erase time each.
    assert_eq!(
        b.fc.busy_until() - b.now,
        b.timing.erase_time(PAGE) * 511 + b.timing.option_program
    );
    assert!(!b.erased(page_addr(0, 4), 1), "the PCROP page survives");
    assert_eq!(
        b.bytes(page_addr(0, 4), 16),
        (0..16)
            .map(|i| pattern_at(page_addr(0, 4) + i))
            .collect::<Vec<_>>()
    );
    assert!(b.erased(FLASH_BASE, 4 * PAGE));
    assert!(b.erased(page_addr(0, 5), FLASH_SIZE - 5 * PAGE));
    b.wait_idle();
    assert_eq!(b.fc.stored_options().pcrop1sr & 0xFFFF, first_dw / 8);
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 0);
    assert!(b.fc.pcrop_protected(page_addr(0, 4)), "PCROP kept");
}

/// Facts 3.0: with PCROP_RDP = 1 the whole flash is erased. RM0440 [R]: PCROP is disabled.
#[test]
fn rdp_regression_with_pcrop_rdp_set_erases_all_and_drops_pcrop() {
    let mut o = options_with(RDP_LEVEL1);
    o.pcrop1sr = 0xFFFF_0000 | (4 * PAGE / 8);
    o.pcrop1er = 0xFFFF_0000 | (5 * PAGE / 8 - 1); // PCROP_RDP = 1
    let mut b = Bench::new(o);
    b.fill(FLASH_BASE, 8 * PAGE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL0)]);
    assert!(b.erased(FLASH_BASE, FLASH_SIZE));
    b.wait_idle();
    b.obl_launch();
    assert!(!b.fc.pcrop_protected(page_addr(0, 4)));
    assert!((0..512).all(|p| !b.fc.page_erase_protected(p)));
}

/// Facts 3.0: only 1 → 0 erases; level 2 freezes the option bytes (RM0440 [R]: an attempt
/// flags WRPERR).
#[test]
fn rdp_raise_does_not_erase_and_level_2_freezes_options() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL1)]);
    b.wait_idle();
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 1);
    assert!(!b.erased(FLASH_BASE, 1), "0 → 1 does not erase");
    b.unlock_all();
    b.change_options(&[(OPTR, (FACTORY_OPTR & !OPTR_RDP_MASK) | RDP_LEVEL2)]);
    b.wait_idle();
    assert!(!b.erased(FLASH_BASE, 1), "1 → 2 does not erase");
    b.obl_launch();
    assert_eq!(b.fc.rdp_level(), 2);
    // Frozen: OPTSTRT refused with WRPERR, nothing stored, nothing erased.
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

/// Regression is judged against the loaded level: stored-but-not-loaded level 1 going back
/// to 0xAA erases nothing (RM0440 [R]: "only when Level 1 is active and Level 0 requested").
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

/// Facts 3.4 "Page erase": CR = PER | BKER(bank) | PNB(page); | STRT; wait BSY.
#[test]
fn page_erase_erases_exactly_that_page_for_its_erase_time() {
    for (bank, page) in [(0, 0), (0, 5), (0, 255), (1, 0), (1, 77), (1, 255)] {
        let mut b = Bench::factory();
        b.fill(FLASH_BASE, FLASH_SIZE);
        b.unlock();
        b.page_erase(bank, page);
        assert!(b.busy());
        assert_ne!(b.cr() & CR_STRT, 0, "STRT reads 1 until BSY clears");
        // [R] fact: 2 KB page erase 22.02 ms typ (DS10198).
        assert_eq!(
            b.fc.busy_until() - b.now,
            Duration::from_micros(22_020),
            "bank {bank} page {page}"
        );
        let at = page_addr(bank, page);
        assert!(b.erased(at, PAGE));
        if at > FLASH_BASE {
            assert_eq!(b.bytes(at - 1, 1), vec![pattern_at(at - 1)]);
        }
        if at + PAGE < FLASH_BASE + FLASH_SIZE {
            assert_eq!(b.bytes(at + PAGE, 1), vec![pattern_at(at + PAGE)]);
        }
        b.now = b.fc.busy_until() - NS;
        assert!(b.busy());
        b.now += NS;
        assert!(!b.busy());
        assert_eq!(b.sr() & SR_ERRORS, 0);
    }
}

/// Facts 3.4: MER1 erases bank 1, MER2 bank 2.
#[test]
fn mass_erase_per_bank_and_both() {
    for (cr, bank1, bank2) in [
        (CR_MER1, true, false),
        (CR_MER2, false, true),
        (CR_MER1 | CR_MER2, true, true),
    ] {
        let mut b = Bench::factory();
        b.fill(FLASH_BASE, FLASH_SIZE);
        b.unlock();
        b.w(CR, cr);
        b.w(CR, cr | CR_STRT);
        // [R] fact: mass erase ~22.1 ms per bank (DS10198); banks in parallel is the
        // model's choice.
        assert_eq!(b.fc.busy_until() - b.now, Duration::from_micros(22_100));
        assert_eq!(b.erased(FLASH_BASE, FLASH_SIZE / 2), bank1);
        assert_eq!(b.erased(BANK2_BASE, FLASH_SIZE / 2), bank2);
        assert!(b.erased(FLASH_BASE, 1) == bank1 && b.erased(BANK2_BASE, 1) == bank2);
    }
}

/// RM0440 [R]: PGSERR when PER and MER, or PG and PER, are set together at STRT.
#[test]
fn conflicting_erase_bits_are_pgserr() {
    for cr in [CR_PER | CR_MER1, CR_PG | CR_PER, CR_PG | CR_MER2] {
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

/// RM0440 [R]: an erase started while a previous programming error is still flagged is a
/// sequence error and does nothing.
#[test]
fn erase_with_a_stale_error_flag_is_pgserr() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.unlock();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE + 4, 0, 4); // PGAERR
    assert_eq!(b.sr() & SR_ERRORS, SR_PGAERR);
    b.page_erase(0, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGAERR | SR_PGSERR);
    assert!(!b.erased(FLASH_BASE, 1));
    b.clear_errors();
    b.page_erase(0, 0);
    assert!(b.erased(FLASH_BASE, PAGE));
}

#[test]
fn cr_writes_while_locked_are_ignored() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, PAGE);
    b.page_erase(0, 0);
    assert!(!b.busy());
    assert!(!b.erased(FLASH_BASE, 1));
    assert_eq!(b.cr(), CR_LOCK | CR_OPTLOCK);
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE + PAGE, 0);
    assert!(b.erased(FLASH_BASE + PAGE, 8));
    assert_eq!(
        b.sr() & SR_ERRORS,
        SR_PGSERR,
        "write without PG (facts 3.4 PGSERR)"
    );
}

/// Model's choice (as the F4 model): CR written while BSY is dropped with PGSERR (silicon
/// stalls the bus instead).
#[test]
fn cr_write_while_busy_is_dropped_with_pgserr() {
    let mut b = Bench::factory();
    b.fill(FLASH_BASE, 2 * PAGE);
    b.unlock();
    b.page_erase(0, 0);
    b.page_erase(0, 1);
    assert_ne!(b.sr() & SR_PGSERR, 0);
    assert!(!b.erased(FLASH_BASE + PAGE, 1));
    // LOCK is still honoured.
    b.w(CR, CR_LOCK);
    assert_ne!(b.cr() & CR_LOCK, 0);
}

/// Facts 3.4 WRP areas (two per bank, page offsets inside the bank); erasing a page inside
/// an active area, or a mass erase of a bank holding one, flags WRPERR.
#[test]
fn erase_of_a_write_protected_page_is_wrperr() {
    let mut o = L4Options::factory();
    o.wrp1ar = (o.wrp1ar & !0x00FF_00FF) | wrp(10, 12);
    o.wrp1br = (o.wrp1br & !0x00FF_00FF) | wrp(100, 100);
    o.wrp2br = (o.wrp2br & !0x00FF_00FF) | wrp(3, 3);
    let mut b = Bench::new(o);
    let protected = [10usize, 11, 12, 100, 256 + 3];
    for p in 0..512 {
        assert_eq!(
            b.fc.sector_write_protected(p),
            protected.contains(&p),
            "page {p}"
        );
    }
    b.fill(FLASH_BASE, FLASH_SIZE);
    b.unlock();
    for (bank, page) in [(0, 10), (0, 12), (0, 100), (1, 3)] {
        b.page_erase(bank, page);
        assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR, "bank {bank} page {page}");
        assert!(!b.busy());
        assert!(!b.erased(page_addr(bank, page), 1));
        b.clear_errors();
    }
    // Neighbours erase.
    b.page_erase(0, 13);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    b.wait_idle();
    b.page_erase(1, 2);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    b.wait_idle();
    // Mass erase with a protected page: refused.
    b.w(CR, CR_MER2);
    b.w(CR, CR_MER2 | CR_STRT);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    assert!(!b.erased(page_addr(1, 100), 1));
}

// ------------------------------------------------------------------ programming

/// Facts 3.4 "Program": CR = PG; a 64-bit double word as two 32-bit writes; BSY.
#[test]
fn double_word_programs_after_its_second_word() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG | CR_EOPIE);
    let at = page_addr(1, 9) + 16;
    b.program(at, 0x0403_0201, 4);
    assert!(b.erased(at, 8), "nothing programmed after the first word");
    assert!(!b.busy());
    b.program(at + 4, 0x0807_0605, 4);
    assert_eq!(b.bytes(at, 8), vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(b.busy());
    // [R] fact: 64-bit program 81.69 µs typ (DS10198).
    assert_eq!(b.fc.busy_until() - b.now, Duration::from_nanos(81_690));
    b.wait_idle();
    // RM0440 [R]: EOP is set only when EOPIE is set.
    assert_eq!(b.sr() & (SR_ERRORS | SR_EOP), SR_EOP);
    b.w(SR, SR_EOP);
    b.w(CR, CR_PG);
    b.program_dw(at + 8, 0x1111_2222_3333_4444);
    b.wait_idle();
    assert_eq!(b.sr() & (SR_ERRORS | SR_EOP), 0, "no EOP without EOPIE");
}

/// Model's choice: a lone first word dropped by clearing PG is a sequence error.
#[test]
fn lone_first_word_is_pgserr_and_programs_nothing() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE, 0, 4);
    b.w(CR, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR);
    assert!(b.erased(FLASH_BASE, 8));
    // A reset drops it silently.
    b.clear_errors();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE, 0, 4);
    b.fc.reset();
    assert_eq!(b.sr(), 0);
    assert!(b.erased(FLASH_BASE, 8));
}

/// RM0440 [R] (SIZERR, facts 3.4 names the flag): byte and half-word writes are refused.
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

/// RM0440 [R] (PGAERR): the first word off a double-word boundary, or a second word of
/// another double word.
#[test]
fn misaligned_or_foreign_second_word_is_pgaerr() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG);
    b.program(FLASH_BASE + 4, 0, 4);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGAERR);
    b.clear_errors();
    b.program(FLASH_BASE, 0, 4);
    b.program(FLASH_BASE + 12, 0, 4);
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

/// Facts 3.4/5.1: ECC → program each double word once after erase. RM0440 [R]: PROGERR,
/// except when the new data is all zero.
#[test]
fn non_erased_double_word_is_progerr_except_all_zero() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE, 0xFFFF_FFFF_FFFF_FF0F);
    b.wait_idle();
    // Even a value that only clears more bits is refused.
    b.program_dw(FLASH_BASE, 0xFFFF_FFFF_FFFF_FF00);
    assert_eq!(b.sr() & SR_ERRORS, SR_PROGERR);
    assert_eq!(b.bytes(FLASH_BASE, 1), vec![0x0F]);
    // A later write while PROGERR is set is a sequence error (RM0440 [R]).
    b.program_dw(FLASH_BASE + 8, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_PROGERR | SR_PGSERR);
    assert!(b.erased(FLASH_BASE + 8, 8));
    b.clear_errors();
    // [R] fact (RM0440): all-zero data may overwrite a programmed double word.
    b.program_dw(FLASH_BASE, 0);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    assert_eq!(b.bytes(FLASH_BASE, 8), vec![0; 8]);
    b.wait_idle();
    // After an erase the double word programs again.
    b.page_erase(0, 0);
    b.wait_idle();
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE, 0x0102_0304_0506_0708);
    assert_eq!(b.sr() & SR_ERRORS, 0);
}

#[test]
fn program_into_protected_areas_is_wrperr() {
    let mut o = L4Options::factory();
    o.wrp2ar = (o.wrp2ar & !0x00FF_00FF) | wrp(1, 1);
    // [R] fact: PCROP2 offsets in double words from bank 2's base.
    o.pcrop2sr = 0xFFFF_0000 | 4;
    o.pcrop2er = 0xFFFF_0000 | 5;
    let mut b = Bench::new(o);
    b.unlock();
    b.w(CR, CR_PG);
    b.program_dw(page_addr(1, 1) + 64, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    assert!(b.erased(page_addr(1, 1) + 64, 8));
    b.clear_errors();
    b.program_dw(BANK2_BASE + 32, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR, "PCROP double word");
    b.clear_errors();
    b.program_dw(BANK2_BASE + 48, 0);
    assert_eq!(b.sr() & SR_ERRORS, 0, "just past the PCROP area");
    b.wait_idle();
    // The PCROP page cannot be erased either.
    b.page_erase(1, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
}

/// Facts 3.0: level 1 forbids erase/program while a debugger is connected. RM0440 [R]: the
/// flag is WRPERR.
#[test]
fn debugger_with_rdp1_loaded_refuses_erase_and_program() {
    let mut b = Bench::new(options_with(RDP_LEVEL1));
    b.debugger = true;
    b.fill(FLASH_BASE, PAGE);
    b.unlock();
    b.page_erase(0, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    assert!(!b.erased(FLASH_BASE, 1));
    b.clear_errors();
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE + PAGE, 0);
    assert_eq!(b.sr() & SR_ERRORS, SR_WRPERR);
    // Without the debugger (code booted from flash) it works.
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
    b.program(FLASH_BASE, 0, 1);
    b.program(FLASH_BASE + 4, 0, 4);
    b.program(FLASH_BASE + 5, 0, 2);
    let flags = b.sr() & SR_ERRORS;
    assert_eq!(flags, SR_SIZERR | SR_PGSERR);
    b.w(SR, 0);
    assert_eq!(b.sr() & SR_ERRORS, flags, "writing 0 clears nothing");
    b.w(SR, SR_SIZERR);
    assert_eq!(b.sr() & SR_ERRORS, SR_PGSERR);
    b.w(SR, SR_PGSERR);
    assert_eq!(b.sr() & SR_ERRORS, 0);
    // BSY is not cleared by writing 1.
    b.w(CR, CR_PG);
    b.program_dw(FLASH_BASE, 0);
    b.w(SR, 0xFFFF_FFFF);
    assert!(b.busy());
}

/// RM0440 [R]: OPERR is set with an error only when ERRIE is set.
#[test]
fn operr_follows_errie() {
    let mut b = Bench::factory();
    b.unlock();
    b.w(CR, CR_PG | CR_ERRIE);
    b.program(FLASH_BASE, 0, 2);
    assert_eq!(b.sr() & SR_ERRORS, SR_SIZERR | SR_OPERR);
}

/// The services code on the chip uses (bootloaders, flash algorithms).
#[test]
fn chip_services_report_and_clear_their_errors() {
    let mut o = L4Options::factory();
    o.wrp1ar = (o.wrp1ar & !0x00FF_00FF) | wrp(3, 3);
    let mut b = Bench::new(o);
    let data: Vec<u8> = (0..36).collect();
    let now = b.now;
    let (fc, mut bus) = b.bus();
    assert_eq!(fc.program_block(FLASH_BASE, &data, &mut bus), 0);
    assert_eq!(fc.erase_block(3, &mut bus), SR_WRPERR);
    assert_eq!(
        fc.program_block(FLASH_BASE + 3 * PAGE, &data, &mut bus),
        SR_WRPERR
    );
    assert_eq!(fc.program_block(FLASH_BASE, &data, &mut bus), SR_PROGERR);
    assert_eq!(fc.program_block(FLASH_BASE + 4, &data, &mut bus), SR_PGAERR);
    assert_eq!(fc.mass_erase_block(&mut bus), SR_WRPERR);
    assert_eq!(fc.read(SR, now) & SR_ERRORS, 0, "flags handled and cleared");
    assert_eq!(b.bytes(FLASH_BASE, 36), data);
    // A short tail is padded with 0xFF to a whole double word (model's choice).
    assert_eq!(b.bytes(FLASH_BASE + 36, 4), vec![0xFF; 4]);
    // The controller is still locked for everyone else.
    assert_ne!(b.cr() & CR_LOCK, 0);
}

/// [R] fact (not in the facts file): the option bytes sit at 0x1FFF7800 (bank 1: USER/RDP,
/// PCROP1 start/end, WRP1A/B at +0, +8, +0x10, +0x18, +0x20) and 0x1FFFF800 (bank 2: PCROP2,
/// WRP2A/B at +8..+0x20), each word followed by its complement.
#[test]
fn option_area_holds_the_stored_words_and_complements() {
    let mut b = Bench::factory();
    assert_eq!(b.fc.option_area(0x1FFF_7800), Some(FACTORY_OPTR));
    assert_eq!(b.fc.option_area(0x1FFF_7804), Some(!FACTORY_OPTR));
    b.unlock_all();
    b.change_options(&[(WRP2BR, wrp(5, 6))]);
    b.wait_idle();
    assert_eq!(b.fc.option_area(0x1FFF_F820).map(wrp_fields), Some((5, 6)));
    assert_eq!(b.fc.option_area(0x1FFF_F000), None);
}

/// What the MCU's option-byte algorithm calls: OPTR through the registers, no option load.
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
    Erase { page: usize },
}

/// A few pages on both banks, few double words each, so that collisions are frequent.
fn pages() -> impl Strategy<Value = usize> {
    prop_oneof![Just(0usize), Just(1), Just(255), Just(256), Just(511)]
}

fn op() -> impl Strategy<Value = Op> {
    let value = prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()];
    prop_oneof![
        6 => (pages(), 0u32..6, value).prop_map(|(page, dw, value)| Op::Program {
            address: FLASH_BASE + page as u32 * PAGE + 8 * dw,
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
                    let erased = before.iter().all(|&x| x == 0xFF);
                    if erased || value == 0 {
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
                    let (bank, pnb) = l4::bank_page(page);
                    b.w(CR, 0);
                    b.page_erase(bank as u32, pnb as u32);
                    prop_assert_eq!(b.sr() & SR_ERRORS, 0);
                    prop_assert_eq!(b.fc.busy_until() - b.now, b.timing.erase_time(PAGE));
                    let o = page * PAGE as usize;
                    shadow[o..o + PAGE as usize].fill(0xFF);
                }
            }
        }
        prop_assert!(b.flash.read(FLASH_BASE, FLASH_SIZE as usize).unwrap() == &shadow[..], "stray change");
    }
}
