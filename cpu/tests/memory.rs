//! Loads and stores: LDM/STM writeback, addressing forms, exclusives, alignment.

mod support;

use station_cpu::Event;
use support::programs::*;
use support::*;

fn to_bkpt(cpu: &mut station_cpu::Cpu, bus: &mut TestBus, n: u8) {
    assert_eq!(run(cpu, bus), Event::Bkpt(n), "pc {:#x}", cpu.reg(15));
    let pc = cpu.reg(15);
    cpu.set_reg(15, pc + 2);
}

#[test]
fn ldm_stm_writeback() {
    let (mut cpu, mut bus) = v7(LDM_STM);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!(bus.r32(RAM + 0x100), 1);
    assert_eq!(bus.r32(RAM + 0x108), 3);
    assert_eq!((cpu.reg(4), cpu.reg(5), cpu.reg(6)), (1, 2, 3));
    assert_eq!(cpu.reg(7), RAM + 0x10C, "LDMIA writes back");
    assert_eq!(
        (cpu.reg(0), cpu.reg(1)),
        (1, 2),
        "no writeback when rn is loaded"
    );
    to_bkpt(&mut cpu, &mut bus, 2);
    assert_eq!((cpu.reg(8), cpu.reg(9), cpu.reg(10)), (7, 8, 9));
    assert_eq!(bus.r32(RAM + 0x1F4), 7);
    assert_eq!(cpu.reg(0), RAM + 0x1EC, "STMDB then LDMDB write back");
    to_bkpt(&mut cpu, &mut bus, 3);
    assert_eq!((cpu.reg(4), cpu.reg(5), cpu.reg(6)), (7, 8, 0xFFFF_FFFF));
    assert_eq!((cpu.reg(10), cpu.reg(11)), (7, 8));
    assert_eq!(cpu.reg(13), STACK_TOP);
}

#[test]
fn addressing_forms() {
    let (mut cpu, mut bus) = v7(LDST_FORMS);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!(bus.r32(RAM + 0x304), 0x8765_1234);
    assert_eq!(cpu.reg(2), 0x8765_1234);
    assert_eq!(cpu.reg(0), RAM + 0x30C, "pre- then post-indexed writeback");
    assert_eq!((cpu.reg(3), cpu.reg(4)), (0x8765, 0xFFFF_8765));
    assert_eq!((cpu.reg(5), cpu.reg(6)), (0xFFFF_FF87, 0x87));
    assert_eq!(cpu.reg(8), 0);
    assert_eq!((cpu.reg(9), cpu.reg(10)), (0x8765_1234, 0x8765_1234));
    assert_eq!(cpu.reg(11), 0xCAFE_F00D, "literal");
    to_bkpt(&mut cpu, &mut bus, 2);
    assert_eq!(cpu.reg(12), 0xAA00);
    to_bkpt(&mut cpu, &mut bus, 3);
    assert_eq!(cpu.reg(2), 0xAA, "unaligned LDR is allowed on v7-M");
}

#[test]
fn unaligned_trap_and_ldm_alignment() {
    // LDM from an unaligned address: UsageFault UNALIGNED, escalated to HardFault.
    let (mut cpu, mut bus) = v7(UNALIGNED_LDM);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.cfsr(), 1 << 24);
    assert_eq!(cpu.hfsr(), 1 << 30);
    // With CCR.UNALIGN_TRP the LDR already faults.
    let (mut cpu, mut bus) = v7(UNALIGNED_LDM);
    cpu.scs_write(CCR, 0x208);
    cpu.scs_write(SHCSR, 1 << 18);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(6));
    assert_eq!(bus.r32(cpu.reg(13) + 24), CODE + 8, "the LDR faulted");
}

#[test]
fn v6m_unaligned_access_is_a_hardfault() {
    let (mut cpu, mut bus) = v6(V6_UNALIGNED);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
}

#[test]
fn exclusives() {
    let (mut cpu, mut bus) = v7(EXCL);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    assert_eq!((cpu.reg(2), cpu.reg(3), cpu.reg(4)), (6, 0, 1));
    assert_eq!((cpu.reg(5), cpu.reg(6), cpu.reg(7)), (6, 1, 6));
}

#[test]
fn bus_error_on_load() {
    let (mut cpu, mut bus) = v7(BUSFAULT);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.cfsr(), (1 << 9) | (1 << 15));
    assert_eq!(cpu.scs_read(0xE000_ED38), 0x3000_0000, "BFAR");
    let (mut cpu, mut bus) = v7(BUSFAULT);
    cpu.scs_write(SHCSR, 1 << 17);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(5));
    assert_eq!(cpu.hfsr(), 0);
}

#[test]
fn fetch_from_unmapped_memory_is_a_bus_fault() {
    let (mut cpu, mut bus) = v7(&[NOP]);
    cpu.set_reg(15, 0x3000_0000);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.cfsr(), 1 << 8, "IBUSERR");
}

#[test]
fn code_copied_to_ram_and_rewritten_by_the_core_runs_fresh() {
    // A two-instruction function (movs r0, #n; bx lr) stored to RAM, called, rewritten,
    // called again: the core's own stores drop stale decoded instructions.
    let prog = [
        0xF240, 0x4300, 0xF2C2, 0x0300, 0xF242, 0x0101, 0xF2C4, 0x7170, 0x6019, 0x1C5A, 0x4790,
        0x4604, 0xF242, 0x0102, 0xF2C4, 0x7170, 0x6019, 0x4790, 0xBE01,
    ];
    let (mut cpu, mut bus) = v7(&prog);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    assert_eq!((cpu.reg(4), cpu.reg(0)), (1, 2));
}

#[test]
fn ldrt_is_unprivileged_towards_the_scs() {
    // ldr r0, =ICSR; ldrt r1, [r0]: a BusFault even from privileged Thread mode.
    let (mut cpu, mut bus) = v7(&[0x4801, 0xF850, 0x1E00, 0xBE01, 0xED04, 0xE000]);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.cfsr(), (1 << 9) | (1 << 15));
    // An ordinary LDR of the same register is fine.
    let (mut cpu, mut bus) = v7(&[0x4801, 0xF8D0, 0x1000, 0xBE01, 0xED04, 0xE000]);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
}
