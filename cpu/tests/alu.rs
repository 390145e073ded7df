//! Data processing, flags, IT blocks, multiplies, DSP, branches and semihosting.

mod support;

use station_cpu::Event;
use support::programs::*;
use support::*;

/// Run to the next BKPT, check its number, and step over it.
fn to_bkpt(cpu: &mut station_cpu::Cpu, bus: &mut TestBus, n: u8) {
    assert_eq!(run(cpu, bus), Event::Bkpt(n), "pc {:#x}", cpu.reg(15));
    let pc = cpu.reg(15);
    cpu.set_reg(15, pc + 2);
}

#[test]
fn add_sub_carry_and_overflow_flags() {
    let (mut cpu, mut bus) = v7(FLAGS);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!(cpu.reg(1), 0xFFFF_FFFF);
    assert_eq!(flags(&cpu), N);
    to_bkpt(&mut cpu, &mut bus, 2);
    assert_eq!((cpu.reg(2), cpu.reg(3)), (0x7FFF_FFFF, 0x8000_0000));
    assert_eq!(flags(&cpu), N | V);
    to_bkpt(&mut cpu, &mut bus, 3);
    assert_eq!((cpu.reg(4), cpu.reg(5)), (0xFFFF_FFFF, 0));
    assert_eq!(flags(&cpu), Z | C);
    to_bkpt(&mut cpu, &mut bus, 4);
    assert_eq!(cpu.reg(6), 1, "ADCS adds the carry");
    assert_eq!(flags(&cpu), 0);
    to_bkpt(&mut cpu, &mut bus, 5);
    assert_eq!(cpu.reg(7), 0, "SBCS with carry set subtracts nothing more");
    assert_eq!(flags(&cpu), Z | C);
    to_bkpt(&mut cpu, &mut bus, 6);
    assert_eq!(cpu.reg(7), 0xFFFF_FFFF, "SBCS with carry clear borrows");
    assert_eq!(flags(&cpu), N);
}

#[test]
fn shifter_carry_out() {
    let (mut cpu, mut bus) = v7(SHIFTS);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!((cpu.reg(1), flags(&cpu)), (1, C));
    to_bkpt(&mut cpu, &mut bus, 2);
    assert_eq!((cpu.reg(1), flags(&cpu)), (0x8000_0000, N));
    to_bkpt(&mut cpu, &mut bus, 3);
    assert_eq!((cpu.reg(2), flags(&cpu)), (0, Z | C));
    to_bkpt(&mut cpu, &mut bus, 4);
    assert_eq!(cpu.reg(1), 0x8000_0001);
    assert_eq!((cpu.reg(4), flags(&cpu)), (0, Z | C), "LSR #32 by register");
    to_bkpt(&mut cpu, &mut bus, 5);
    assert_eq!((cpu.reg(5), flags(&cpu)), (0xFFFF_FFFF, N | C), "ASR #32");
    to_bkpt(&mut cpu, &mut bus, 6);
    assert_eq!((cpu.reg(6), flags(&cpu)), (0, Z), "LSL #33");
    to_bkpt(&mut cpu, &mut bus, 7);
    assert_eq!(
        (cpu.reg(0), flags(&cpu)),
        (0x8000_0000, N | C),
        "rotated constant"
    );
    to_bkpt(&mut cpu, &mut bus, 8);
    assert_eq!((cpu.reg(0), flags(&cpu)), (0xC000_0000, N | C), "RRX");
}

#[test]
fn it_blocks_execute_conditionally_without_setting_flags() {
    let (mut cpu, mut bus) = v7(IT);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!((cpu.reg(1), cpu.reg(2), cpu.reg(3)), (10, 0, 0));
    assert_eq!(cpu.reg(5), 0xFFFF_FFFF);
    assert_eq!(flags(&cpu), Z | C, "16-bit SUB inside IT leaves the flags");
    to_bkpt(&mut cpu, &mut bus, 2);
    assert_eq!((cpu.reg(6), cpu.reg(7)), (1, 4));
    assert_eq!(
        cpu.xpsr() & 0x0600_FC00,
        0,
        "ITSTATE is clear after the block"
    );
}

#[test]
fn divide_and_long_multiply() {
    let (mut cpu, mut bus) = v7(DIVMUL);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!((cpu.reg(2), cpu.reg(3)), (14, 14));
    assert_eq!(cpu.reg(4), 0, "UDIV by zero is 0 without DIV_0_TRP");
    assert_eq!((cpu.reg(7), cpu.reg(8)), (0xFFFF_FFFD, 2));
    assert_eq!((cpu.reg(9), cpu.reg(10)), (0xFFFF_FFFD, 0xFFFF_FFFF));
    assert_eq!(cpu.reg(11), 91);
}

#[test]
fn divide_by_zero_traps_with_div_0_trp() {
    let (mut cpu, mut bus) = v7(DIVMUL);
    cpu.scs_write(CCR, 0x210);
    cpu.scs_write(SHCSR, 1 << 18);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(6));
    assert_eq!(cpu.cfsr(), 1 << 25);
    assert_eq!(
        bus.r32(cpu.reg(13) + 24),
        CODE + 14,
        "stacked PC is the UDIV"
    );
}

#[test]
fn saturation_sets_q_and_parallel_add_sets_ge() {
    let (mut cpu, mut bus) = v7(DSP);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!(cpu.reg(1), 0x7FFF_FFFF);
    assert_ne!(cpu.xpsr() & Q, 0, "QADD saturated");
    let x = cpu.xpsr();
    cpu.set_xpsr(x & !Q);
    to_bkpt(&mut cpu, &mut bus, 2);
    assert_eq!(cpu.reg(3), 127);
    assert_ne!(cpu.xpsr() & Q, 0, "SSAT saturated");
    to_bkpt(&mut cpu, &mut bus, 3);
    assert_eq!(cpu.reg(2), 0x027F_8000);
    assert_eq!((cpu.xpsr() >> 16) & 0xF, 0b0101, "GE from UADD8");
    assert_eq!(cpu.reg(3), 0x01FF_00FF, "SEL by GE");
    to_bkpt(&mut cpu, &mut bus, 4);
    assert_eq!(cpu.reg(4), 15);
    assert_eq!(cpu.reg(5), 0xFFFF_FFFF);
    assert_eq!(cpu.reg(6), 0x0180_0081);
    assert_eq!(cpu.reg(7), 0xFFFF_80FF);
    assert_eq!(cpu.reg(8), 0x0002_007E);
    assert_eq!(cpu.reg(9), 0x8000_0180);
    assert_eq!(cpu.reg(10), 7);
    assert_eq!(cpu.reg(11), 0xFF01_FF80);
}

#[test]
fn bitfields() {
    let (mut cpu, mut bus) = v7(BFI);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!(cpu.reg(0), 0x0234_50F8);
    assert_eq!((cpu.reg(2), cpu.reg(3)), (0x0F, 0x0F));
}

#[test]
fn branches_cbz_bl_tbb_blx() {
    let (mut cpu, mut bus) = v7(BRANCHES);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!(cpu.reg(0), 15);
    assert_eq!(cpu.reg(2), 3, "TBB picked the third case");
    assert_eq!(cpu.reg(14) & 1, 1);
}

#[test]
fn semihosting_breakpoint_stops_at_the_bkpt() {
    let (mut cpu, mut bus) = v7(SEMIHOST);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(0xAB));
    assert_eq!(cpu.reg(15), CODE + 4, "PC points at the BKPT");
    assert_eq!(cpu.reg(0), 4, "SYS_WRITE0");
    let msg = cpu.reg(1);
    assert_eq!(
        bus.r32(msg) & 0xFF_FFFF,
        u32::from_le_bytes([b'h', b'i', 0, 0])
    );
    cpu.set_reg(0, 0);
    cpu.set_reg(15, cpu.reg(15) + 2);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    assert_eq!(cpu.reg(0), 1);
}

#[test]
fn v6m_program_runs_and_thumb2_is_undefined() {
    let (mut cpu, mut bus) = v6(V6_PROG);
    to_bkpt(&mut cpu, &mut bus, 1);
    assert_eq!((cpu.reg(0), cpu.reg(2), cpu.reg(3)), (2, 3, 0));
    // movw r0, #0x1234 is not ARMv6-M: HardFault (no UsageFault in v6-M).
    let (mut cpu, mut bus) = v6(&[0xF241, 0x2034]);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    // cbz and it are not ARMv6-M either.
    let (mut cpu, mut bus) = v6(&[0xB100]);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
}

#[test]
fn invalidate_sees_new_code() {
    let (mut cpu, mut bus) = v7(&[0x2001, 0xBE01]); // movs r0, #1; bkpt #1
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    assert_eq!(cpu.reg(0), 1);
    bus.code(CODE, &[0x2002]); // movs r0, #2
    cpu.invalidate(CODE, 2);
    cpu.set_reg(15, CODE);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    assert_eq!(cpu.reg(0), 2);
}
