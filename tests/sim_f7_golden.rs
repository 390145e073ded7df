//! Golden tests for the simulated STM32F767 FLASH interface (RM0410), at register level.
//!
//! Expected values come from `/work/shared/reference/stm32-facts.md` sections 3.0, 3.2, 4 and
//! 5.1, not from the crate's constants. Facts tagged [R] (recalled, unverified) are flagged
//! with `// [R] fact:` where a test relies on them.
//!
//! No real time passes: each test owns a virtual `now`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use station::hw::VirtualClock;
use station::sim::f4::F4Flash;
use station::sim::firmware::Firmware;
use station::sim::flash::FlashArray;
use station::sim::part::{Family, FlashTiming, PartSpec, Timing};
use station::sim::{DeviceSpec, SimDevice, UsbIdentities};

/// Facts 3.2: same base and offsets as the F4, plus OPTCR1 at 0x18.
const FLASH_R_BASE: u32 = 0x4002_3C00;
const KEYR: u32 = 0x04;
const OPTKEYR: u32 = 0x08;
const SR: u32 = 0x0C;
const CR: u32 = 0x10;
const OPTCR: u32 = 0x14;
const OPTCR1: u32 = 0x18;
/// Facts 3.0 keys.
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
const OPTKEY1: u32 = 0x0819_2A3B;
const OPTKEY2: u32 = 0x4C5D_6E7F;
/// Facts 3.2 FLASH_CR [V]: SER 1, SNB 7:3 (5 bits), PSIZE 9:8, STRT 16, LOCK 31.
const CR_SER: u32 = 1 << 1;
const CR_STRT: u32 = 1 << 16;
const CR_LOCK: u32 = 1 << 31;
const PSIZE_X32: u32 = 2 << 8;
/// Facts 3.2 FLASH_SR [V]: WRPERR 4, ERSERR 7, BSY 16.
const SR_WRPERR: u32 = 1 << 4;
const SR_ERSERR: u32 = 1 << 7;
const SR_BSY: u32 = 1 << 16;
/// Facts 3.2 FLASH_OPTCR [V]: OPTLOCK 0, OPTSTRT 1, RDP 15:8, nWRP 27:16, nDBANK 29.
const OPTLOCK: u32 = 1;
const OPTSTRT: u32 = 1 << 1;
const NDBANK: u32 = 1 << 29;

// [R] fact: factory OPTCR 0xFFFFAAFD and OPTCR1 0x00400080 are recalled from RM0410; the facts
// file gives the fields, not the reset values.
const FACTORY_OPTCR: u32 = 0xFFFF_AAFD;
const FACTORY_OPTCR1: u32 = 0x0040_0080;

/// Facts 5.1: F767 2 MB single bank: 4 x 32 KB, 1 x 128 KB, 7 x 256 KB.
fn layout() -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    let mut a = 0x0800_0000;
    for size in [32, 32, 32, 32, 128, 256, 256, 256, 256, 256, 256, 256] {
        v.push((a, size * 1024));
        a += size * 1024;
    }
    v
}

type Bench = common::golden::Bench<F4Flash>;

impl Bench {
    fn write_ok(&mut self, offset: u32, value: u32) -> bool {
        self.write(offset, value).is_ok()
    }

    fn factory() -> Self {
        let part = PartSpec::lookup(Family::F7, "STM32F767ZI").expect("F767 is simulated");
        Self::with(
            F4Flash::f76x(FACTORY_OPTCR, FACTORY_OPTCR1),
            FlashArray::new(0x0800_0000, part.sectors.clone()),
            FlashTiming::f7(Timing::Typical),
        )
    }

    fn wait_idle(&mut self) {
        self.catch_up();
        assert_eq!(self.read(SR) & SR_BSY, 0);
    }

    fn opt_unlock(&mut self) {
        assert!(self.write_ok(OPTKEYR, OPTKEY1));
        assert!(self.write_ok(OPTKEYR, OPTKEY2));
        assert_eq!(self.read(OPTCR) & OPTLOCK, 0);
    }

    fn erase(&mut self, snb: u32) {
        let cr = CR_SER | (snb << 3) | PSIZE_X32;
        self.write_ok(CR, cr);
        self.write_ok(CR, cr | CR_STRT);
    }
}

#[test]
fn f767_layout_identity_and_timing_follow_the_facts() {
    let part = PartSpec::lookup(Family::F7, "STM32F767ZI").unwrap();
    let flash = FlashArray::new(part.flash_base, part.sectors.clone());
    for (i, (address, size)) in layout().into_iter().enumerate() {
        assert_eq!(flash.sector(i), Some((address, size)), "sector {i}");
    }
    assert_eq!(part.flash_size(), 2 * 1024 * 1024);
    // Facts 4: UID 0x1FF0F420, flash size 0x1FF0F442, DBGMCU_IDCODE 0xE0042000 / DEV_ID 0x451.
    assert_eq!(part.uid_address, 0x1FF0_F420);
    assert_eq!(part.flash_size_address, 0x1FF0_F442);
    assert_eq!(part.idcode_address, 0xE004_2000);
    assert_eq!(part.idcode & 0xFFF, 0x451);
    assert_eq!(part.flash_regs, FLASH_R_BASE);
    // Facts 5.2 [V]: a 256 KB sector erase takes at most 4 s. The typical column is [R].
    let max = FlashTiming::f7(Timing::Max);
    assert_eq!(max.erase_time(256 * 1024), Duration::from_secs(4));
    let typical = FlashTiming::f7(Timing::Typical);
    assert!(typical.erase_time(256 * 1024) < max.erase_time(256 * 1024));
    assert!(typical.erase_time(32 * 1024) < typical.erase_time(256 * 1024));
}

#[test]
fn reset_state_is_locked_with_factory_options_and_boot_addresses() {
    let b = Bench::factory();
    assert_ne!(b.read(CR) & CR_LOCK, 0);
    assert_eq!(b.read(OPTCR), FACTORY_OPTCR);
    assert_eq!(b.read(OPTCR1), FACTORY_OPTCR1);
    assert_ne!(
        b.read(OPTCR) & NDBANK,
        0,
        "single-bank mode from the factory"
    );
}

#[test]
fn snb_is_five_bits_and_sector_11_is_the_last() {
    let mut b = Bench::factory();
    assert!(b.write_ok(KEYR, KEY1) && b.write_ok(KEYR, KEY2));
    assert!(b.flash.program(0x081C_0000, &[0; 16]));
    b.erase(11);
    b.wait_idle();
    assert_eq!(b.flash.read(0x081C_0000, 16), Some(&[0xFF; 16][..]));
    // Facts 5.1 [X] and HAL-F7: sectors 12..23 exist only in dual-bank mode (SNB 0x10 | n).
    // In single-bank mode SNB 0x10 names no sector: an erase sequence error.
    b.erase(0x10);
    assert_ne!(b.read(SR) & SR_ERSERR, 0);
}

#[test]
fn wrong_option_key_locks_until_reset_and_optcr1_needs_the_keys() {
    let mut b = Bench::factory();
    // OPTCR1 is read-only while OPTLOCK is set (as OPTCR's option bits are).
    b.write_ok(OPTCR1, 0x0040_2000);
    assert_eq!(b.read(OPTCR1), FACTORY_OPTCR1);
    assert!(b.write_ok(OPTKEYR, OPTKEY1));
    assert!(!b.write_ok(OPTKEYR, 0x1234_5678), "a wrong key faults");
    assert!(!b.write_ok(OPTKEYR, OPTKEY1), "and blocks until reset");
    assert_ne!(b.read(OPTCR) & OPTLOCK, 0);
    // OPTSTRT while locked changes nothing.
    b.write_ok(
        OPTCR,
        (FACTORY_OPTCR & !OPTLOCK & !0xFF00) | 0x5500 | OPTSTRT,
    );
    b.fc.reset();
    assert_eq!(b.read(OPTCR), FACTORY_OPTCR);
    b.opt_unlock();
}

#[test]
fn boot_addresses_and_options_apply_after_reset() {
    let mut b = Bench::factory();
    b.opt_unlock();
    // BOOT_ADD0 = 0x2000 (0x0800_0000 >> 14); nWRP bit 0 cleared; RDP level 1.
    assert!(b.write_ok(OPTCR1, 0x0040_2000));
    let optcr = (FACTORY_OPTCR & !(OPTLOCK | 0xFF00) & !(1 << 16)) | 0x5500;
    b.write_ok(OPTCR, optcr);
    b.write_ok(OPTCR, optcr | OPTSTRT);
    assert_ne!(b.read(SR) & SR_BSY, 0, "option programming is busy");
    b.wait_idle();
    assert_eq!(b.fc.stored_boot(), 0x0040_2000);
    assert_eq!(
        b.fc.loaded_boot(),
        FACTORY_OPTCR1,
        "facts 3.1/3.2: effective after reset"
    );
    b.fc.reset();
    assert_eq!(b.fc.loaded_boot(), 0x0040_2000);
    assert_eq!(b.read(OPTCR1), 0x0040_2000);
    // Sector 0 is now write-protected: its erase raises WRPERR.
    assert!(b.write_ok(KEYR, KEY1) && b.write_ok(KEYR, KEY2));
    b.erase(0);
    assert_ne!(b.read(SR) & SR_WRPERR, 0);
}

#[test]
fn rdp_regression_erases_the_whole_flash() {
    let mut b = Bench::factory();
    b.fc.set_stored_options((FACTORY_OPTCR & !0xFF00 & !(1 << 16)) | 0x5500);
    b.fc.reset();
    assert!(b.flash.program(0x0800_0000, &[0x12; 64]));
    assert!(b.flash.program(0x081F_FF00, &[0x34; 64]));
    b.opt_unlock();
    let level0 = (b.read(OPTCR) & !(OPTLOCK | 0xFF00)) | 0xAA00 | (0xFFF << 16);
    b.write_ok(OPTCR, level0);
    b.write_ok(OPTCR, level0 | OPTSTRT);
    b.wait_idle();
    assert_eq!(b.flash.read(0x0800_0000, 64), Some(&[0xFF; 64][..]));
    assert_eq!(b.flash.read(0x081F_FF00, 64), Some(&[0xFF; 64][..]));
}

fn device() -> SimDevice {
    let spec = DeviceSpec {
        family: Family::F7,
        part: "STM32F767ZI".into(),
        seed: 3,
        fixture: "f7-golden".into(),
        unit: 1,
        timing: Timing::Typical,
        usb: UsbIdentities {
            application: (1, 1),
            bootloader: (1, 2),
            rom: (0x0483, 0xdf11),
            port_path: "f7-golden".into(),
        },
        probe_serial: "F7-GOLDEN".into(),
    };
    SimDevice::new(&spec, Arc::new(VirtualClock::new())).unwrap()
}

/// The debugger's option change: keys, OPTCR1, then OPTCR with OPTSTRT.
fn set_boot_add0(dev: &SimDevice, field: u32) {
    let mut mcu = dev.lock();
    let reg = |o: u32| FLASH_R_BASE + o;
    mcu.debug_write(reg(OPTKEYR), OPTKEY1, 4).unwrap();
    mcu.debug_write(reg(OPTKEYR), OPTKEY2, 4).unwrap();
    let optcr1 = (mcu.debug_read(reg(OPTCR1)).unwrap() & 0xFFFF_0000) | field;
    mcu.debug_write(reg(OPTCR1), optcr1, 4).unwrap();
    let optcr = mcu.debug_read(reg(OPTCR)).unwrap() & !OPTLOCK;
    mcu.debug_write(reg(OPTCR), optcr | OPTSTRT, 4).unwrap();
    mcu.wait_flash_idle();
}

fn power_cycle(dev: &SimDevice) -> Firmware {
    let mut power = dev.power();
    power.set_power(false).unwrap();
    power.set_power(true).unwrap();
    dev.lock().firmware.clone()
}

#[test]
fn the_core_boots_where_boot_add0_points() {
    let dev = device();
    // Factory BOOT_ADD0 0x0080 = flash on ITCM ([R] reset value): blank flash hard-faults.
    assert!(matches!(power_cycle(&dev), Firmware::HardFault(_)));
    // Facts 3.2: 0x0040 is system memory 0x0010_0000, the ST ROM bootloader.
    set_boot_add0(&dev, 0x0040);
    assert!(matches!(power_cycle(&dev), Firmware::Rom(_)));
    // An address that holds no code: the core faults on its first fetch.
    set_boot_add0(&dev, 0x8000);
    let fw = power_cycle(&dev);
    assert!(
        matches!(&fw, Firmware::HardFault(why) if why.contains("0x20000000")),
        "{}",
        fw.describe()
    );
}
