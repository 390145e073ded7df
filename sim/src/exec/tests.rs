//! Small Thumb programs assembled by hand into an F4's flash, run on the emulated core.

use std::sync::Arc;

use super::asm::{Asm, CODE, FLASH};
use super::*;
use crate::fault::{Cut, CutPoint, CutWhen};
use crate::hw::VirtualClock;
use crate::mcu::{Mcu, UsbIdentities};
use crate::part::{Family, PartSpec, Timing};

fn mcu(family: Family, part: &str) -> Mcu {
    let part = PartSpec::lookup(family, part).expect("part");
    let usb = UsbIdentities {
        application: (0x0483, 0x5740),
        bootloader: (0x0483, 0xDF11),
        rom: (0x0483, 0xDF11),
        port_path: "sim".into(),
    };
    Mcu::new(
        part,
        [1, 2, 3],
        Timing::Typical,
        Arc::new(VirtualClock::new()),
        usb,
    )
}

fn f4() -> Mcu {
    mcu(Family::F4, "STM32F407VG")
}

fn flash(mcu: &mut Mcu, image: &[u8]) {
    assert!(mcu.flash.program(FLASH, image));
}

fn run(mcu: &mut Mcu, budget: u64) -> ExecReport {
    let arch = arch_of(mcu.part.family);
    run_code(mcu, arch, FLASH, budget)
}

#[test]
fn code_unlocks_the_f4_controller_erases_a_sector_and_programs_a_word() {
    let mut m = f4();
    flash(&mut m, &super::asm::f4_erase_and_program());
    m.flash.program(0x0800_4100, &[0x00; 4]); // something for the erase to clear
    let ops_before = m.flash_ops;
    let r = run(&mut m, 50_000_000);
    assert_eq!(
        r.stop,
        Stop::Breakpoint {
            imm: 0,
            op: 0x4002_3C00
        },
        "{}",
        r.describe()
    );
    assert_eq!((r.erases, r.programs, r.programmed_bytes), (1, 1, 4));
    assert_eq!(
        m.flash_ops,
        ops_before + 2,
        "counted like the device's other flash work"
    );
    assert_eq!(
        m.flash.read(0x0800_4000, 4),
        Some(&0xCAFE_F00Du32.to_le_bytes()[..])
    );
    assert_eq!(
        m.flash.read(0x0800_4100, 4),
        Some(&[0xFF; 4][..]),
        "sector 1 erased"
    );
    // The erase of a 16 KiB sector took its typical 250 ms; the core polled BSY through it.
    assert!(
        r.virtual_time >= std::time::Duration::from_millis(250),
        "{r:?}"
    );
    let text = r.describe();
    eprintln!(
        "{} instructions in {:?}: {:.1} MIPS",
        r.instructions,
        r.wall,
        r.instructions as f64 / r.wall.as_secs_f64() / 1e6
    );
    assert!(text.contains("erased sector 1"), "{text}");
    assert!(text.contains("programmed 4 bytes at 0x08004000"), "{text}");
}

#[test]
fn a_cut_scheduled_on_the_codes_erase_lands_there() {
    let mut m = f4();
    flash(&mut m, &super::asm::f4_erase_and_program());
    m.flash.program(0x0800_4100, &[0x00; 4]);
    let next = m.flash_ops + 1;
    m.schedule_cut(Cut {
        point: CutPoint::FlashOp(next),
        when: CutWhen::Before,
    });
    let r = run(&mut m, 50_000_000);
    assert_eq!(r.stop, Stop::PowerLost, "{}", r.describe());
    assert!(!m.powered);
    assert_eq!(
        m.flash.read(0x0800_4100, 4),
        Some(&[0x00; 4][..]),
        "never erased"
    );
}

#[test]
fn write_protection_applies_to_the_codes_erase() {
    let mut m = f4();
    flash(&mut m, &super::asm::f4_erase_and_program());
    if let Some(f4) = m.fc.as_f4_mut() {
        // nWRP bit 1 cleared: sector 1 protected (RM0090 3.7.1), loaded at the next reset.
        f4.set_stored_options(f4.stored_options() & !(1 << 17));
    }
    m.fc.reset();
    let r = run(&mut m, 50_000_000);
    assert_eq!(r.erases, 0, "{}", r.describe());
    assert_eq!(m.flash.read(0x0800_4000, 4), Some(&[0xFF; 4][..]));
}

#[test]
fn unmodelled_peripherals_are_listed_with_address_and_pc() {
    let mut m = f4();
    let mut a = Asm::default();
    a.ldr_lit(0, 0x4002_0000).h(0x2101); // MOVS r1, #1
    let store = a.here();
    a.str(1, 0, 0).ldr(2, 0, 0x10).h(0xBE07);
    flash(&mut m, &a.image(None));
    let r = run(&mut m, 1000);
    assert_eq!(
        r.stop,
        Stop::Breakpoint {
            imm: 7,
            op: 0x4002_0000
        }
    );
    let w = r.peripherals.iter().find(|t| t.write).expect("the write");
    assert_eq!((w.address, w.pc, w.count), (0x4002_0000, store, 1));
    assert!(
        r.peripherals
            .iter()
            .any(|t| !t.write && t.address == 0x4002_0010)
    );
    assert!(
        r.describe().contains("write 0x40020000 from PC 0x08000044"),
        "{}",
        r.describe()
    );
}

#[test]
fn code_waiting_for_the_pll_gets_it_and_switches_to_it() {
    let mut m = f4();
    let mut a = Asm::default();
    a.ldr_lit(0, 0x4002_3800).ldr(1, 0, 0).ldr_lit(2, 1 << 24);
    a.h(0x4300 | 2 << 3 | 1).str(1, 0, 0); // ORRS r1, r2; RCC_CR.PLLON
    a.ldr_lit(3, 1 << 25);
    let wait = a.here();
    a.ldr(1, 0, 0).h(0x4200 | 3 << 3 | 1).b_cond(0, wait); // TST; BEQ: until PLLRDY
    a.ldr(1, 0, 8).h(0x2202).h(0x4300 | 2 << 3 | 1).str(1, 0, 8); // CFGR.SW = PLL
    let wait2 = a.here();
    a.ldr(1, 0, 8)
        .h(0x230C)
        .h(0x4000 | 3 << 3 | 1)
        .h(0x2908)
        .b_cond(1, wait2); // SWS != PLL
    a.h(0xBE01);
    flash(&mut m, &a.image(None));
    let r = run(&mut m, 10_000);
    assert_eq!(
        r.stop,
        Stop::Breakpoint {
            imm: 1,
            op: 0x4002_3800
        },
        "{}",
        r.describe()
    );
    assert!(
        r.peripherals.is_empty(),
        "RCC is modelled: {:?}",
        r.peripherals
    );
}

#[test]
fn a_fault_inside_the_hardfault_handler_locks_up() {
    let mut m = f4();
    let mut a = Asm::default();
    a.ldr_lit(0, 0x3000_0000).ldr(1, 0, 0).h(0xE7FE); // nothing answers there
    flash(&mut m, &a.image(None));
    let r = run(&mut m, 1000);
    assert_eq!(r.stop, Stop::Lockup, "{}", r.describe());
    assert!(r.describe().contains("bricked"));
}

#[test]
fn blank_flash_locks_up_and_says_so() {
    let mut m = f4();
    let r = run(&mut m, 1000);
    assert_eq!(r.stop, Stop::Lockup);
    assert!(
        r.blank && r.describe().contains("erased"),
        "{}",
        r.describe()
    );
}

#[test]
fn an_infinite_loop_is_a_hang_at_the_budget() {
    let mut m = f4();
    let mut a = Asm::default();
    a.h(0xE7FE); // B .
    flash(&mut m, &a.image(None));
    let r = run(&mut m, 5000);
    assert_eq!((r.stop, r.instructions, r.pc), (Stop::Hang, 5000, CODE));
    assert!(r.describe().contains("budget"));
}

#[test]
fn a_jump_to_another_images_reset_handler_is_reported() {
    let mut m = f4();
    let app = 0x0800_8000u32;
    let mut a = Asm::default();
    a.ldr_lit(0, (app + 0x101) | 1).h(0x4700); // BX r0
    flash(&mut m, &a.image(None));
    let mut table = 0x2000_2000u32.to_le_bytes().to_vec();
    table.extend(((app + 0x101) | 1).to_le_bytes());
    assert!(m.flash.program(app, &table));
    assert!(m.flash.program(app + 0x100, &[0xFE, 0xE7, 0xFE, 0xE7]));
    let r = run(&mut m, 1000);
    assert_eq!(
        r.stop,
        Stop::Jumped {
            to: app + 0x100,
            table: app
        },
        "{}",
        r.describe()
    );
}

#[test]
fn wfi_and_reset_requests_stop_the_run() {
    let mut m = f4();
    let mut a = Asm::default();
    a.h(0xBF30); // WFI
    flash(&mut m, &a.image(None));
    assert_eq!(run(&mut m, 100).stop, Stop::Waiting { wfe: false });
    let mut m = f4();
    let mut a = Asm::default();
    a.ldr_lit(0, 0xE000_ED0C)
        .ldr_lit(1, 0x05FA_0004)
        .str(1, 0, 0)
        .h(0xE7FE);
    flash(&mut m, &a.image(None));
    assert_eq!(run(&mut m, 100).stop, Stop::ResetRequest);
}

/// Load an ELF32's PT_LOAD segments with file bytes into flash at base + address.
fn load_elf(mcu: &mut Mcu, path: &str) {
    let bytes = std::fs::read(path).expect("elf");
    let u32_at =
        |o: usize| u32::from_le_bytes([bytes[o], bytes[o + 1], bytes[o + 2], bytes[o + 3]]);
    let u16_at = |o: usize| u16::from_le_bytes([bytes[o], bytes[o + 1]]) as usize;
    let (phoff, phentsize, phnum) = (u32_at(28) as usize, u16_at(42), u16_at(44));
    let base = mcu.flash.base();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (kind, offset, paddr, filesz) = (
            u32_at(ph),
            u32_at(ph + 4) as usize,
            u32_at(ph + 12),
            u32_at(ph + 16) as usize,
        );
        if kind == 1 && filesz > 0 {
            assert!(
                mcu.flash
                    .program(base + paddr, &bytes[offset..offset + filesz])
            );
        }
    }
}

#[test]
fn the_committed_cpu_test_programs_stop_at_their_first_semihosting_call() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/firmware/bin/");
    for (family, part, elf) in [
        (Family::F4, "STM32F407VG", "cpu-tests-v7em.elf"),
        (Family::G0, "STM32G071RB", "cpu-tests-v6m.elf"),
    ] {
        let mut m = mcu(family, part);
        load_elf(&mut m, &format!("{root}{elf}"));
        // Linked at 0: the flash's boot alias runs it.
        let r = run_code(&mut m, arch_of(family), 0, 10_000_000);
        assert!(
            matches!(r.stop, Stop::Breakpoint { imm: 0xAB, .. }),
            "{elf}: {}",
            r.describe()
        );
        assert!(r.instructions > 10, "{elf}: {}", r.describe());
    }
}
