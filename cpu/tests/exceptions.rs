//! The exception model: entry and return, escalation, lockup, SysTick, NVIC priorities,
//! PRIMASK, faults on undefined and coprocessor instructions, SYSRESETREQ.

mod support;

use station_cpu::{Cpu, Event};
use support::programs::*;
use support::*;

const SVC_AT: u32 = 0x800;

fn svc_setup() -> (Cpu, TestBus) {
    let (mut cpu, mut bus) = v7(SVC_MAIN);
    bus.code(SVC_AT, SVC_HANDLER);
    bus.w32(4 * 11, SVC_AT | 1);
    cpu.invalidate(0, 0x1000);
    (cpu, bus)
}

/// Run the SVC handler to its BKPT #2, check it, and let it return.
fn through_handler(cpu: &mut Cpu, bus: &mut TestBus, exc_return: u32, frame: u32) {
    assert_eq!(run(cpu, bus), Event::Bkpt(2));
    assert_eq!(cpu.xpsr() & 0x1FF, 11);
    assert_eq!(cpu.reg(4), 11, "MRS IPSR");
    assert_eq!(cpu.reg(5), exc_return);
    assert_eq!(cpu.msp(), cpu.reg(13), "handlers run on MSP");
    let words: Vec<u32> = (0..8).map(|i| bus.r32(frame + 4 * i)).collect();
    assert_eq!(&words[..6], &[0x11, 0x22, 0x33, 0x44, 0x44, 0xFFFF_FFFF]);
    assert_eq!(words[6], CODE + 16, "return address: after the SVC");
    assert_eq!(words[7] & 0xFFFF_FDFF, Z | C | (1 << 24));
    cpu.set_reg(15, cpu.reg(15) + 2);
}

#[test]
fn svc_entry_and_return_restore_registers_and_xpsr() {
    let (mut cpu, mut bus) = svc_setup();
    through_handler(&mut cpu, &mut bus, 0xFFFF_FFF9, STACK_TOP - 32);
    assert_eq!(cpu.reg(13), STACK_TOP - 32);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    let regs: Vec<u32> = (0..4).map(|i| cpu.reg(i)).collect();
    assert_eq!(regs, [0x11, 0x22, 0x33, 0x44]);
    assert_eq!(flags(&cpu), Z | C);
    assert_eq!(cpu.xpsr() & 0x1FF, 0);
    assert_eq!(cpu.reg(13), STACK_TOP);
    assert!(!cpu.is_active(11));
}

#[test]
fn frame_is_8_byte_aligned_and_realigned_on_return() {
    let (mut cpu, mut bus) = svc_setup();
    cpu.set_reg(13, STACK_TOP - 4);
    through_handler(&mut cpu, &mut bus, 0xFFFF_FFF9, STACK_TOP - 40);
    assert_ne!(bus.r32(STACK_TOP - 40 + 28) & (1 << 9), 0, "xPSR bit 9");
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    assert_eq!(cpu.reg(13), STACK_TOP - 4);
}

#[test]
fn thread_on_psp_returns_to_psp() {
    let (mut cpu, mut bus) = svc_setup();
    let psp = STACK_TOP - 0x400;
    // msr psp, r0 / msr control, r0 are exercised by hand here: set PSP and SPSEL.
    bus.code(
        0x900,
        &[0xF380, 0x8809, 0x2002, 0xF380, 0x8814, 0xBE07], // msr psp,r0; movs r0,#2; msr control,r0; bkpt #7
    );
    cpu.invalidate(0x900, 12);
    cpu.set_reg(0, psp);
    cpu.set_reg(15, 0x900);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(7));
    assert_eq!((cpu.psp(), cpu.reg(13), cpu.control()), (psp, psp, 2));
    cpu.set_reg(15, CODE);
    through_handler(&mut cpu, &mut bus, 0xFFFF_FFFD, psp - 32);
    assert_eq!(cpu.reg(13), STACK_TOP, "MSP untouched by the frame");
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
    assert_eq!((cpu.reg(13), cpu.control()), (psp, 2));
}

#[test]
fn undefined_instruction_escalates_to_hardfault() {
    let (mut cpu, mut bus) = v7(UDF);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.cfsr(), 1 << 16, "UNDEFINSTR");
    assert_eq!(cpu.hfsr(), 1 << 30, "FORCED");
    assert_eq!(bus.r32(cpu.reg(13) + 24), CODE + 2, "stacked PC is the UDF");
    assert!(cpu.is_active(3));
    // With UsageFault enabled it is taken as such.
    let (mut cpu, mut bus) = v7(UDF);
    cpu.scs_write(SHCSR, 1 << 18);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(6));
    assert_eq!(cpu.hfsr(), 0);
    assert_eq!(cpu.scs_read(SHCSR) & (1 << 3), 1 << 3, "USGFAULTACT");
}

#[test]
fn vfp_instruction_is_a_nocp_usage_fault() {
    let (mut cpu, mut bus) = v7(VFP);
    cpu.scs_write(SHCSR, 1 << 18);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(6));
    assert_eq!(cpu.cfsr(), 1 << 19, "NOCP");
    let (mut cpu, mut bus) = v7(VFP);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.scs_read(0xE000_ED88), 0, "CPACR reads as no FPU");
}

#[test]
fn fault_in_hardfault_locks_up() {
    let (mut cpu, mut bus) = v7(UDF);
    bus.w16(0x800, 0xDE00); // udf #0 as the HardFault handler
    bus.w32(4 * 3, 0x801);
    cpu.invalidate(0, 0x1000);
    assert_eq!(run(&mut cpu, &mut bus), Event::Lockup);
    assert!(cpu.is_locked_up());
    assert_eq!(cpu.step(&mut bus), Event::Lockup);
    // v6-M too.
    let (mut cpu, mut bus) = v6(&[0xDE00]);
    bus.w16(0x800, 0xDE00);
    bus.w32(4 * 3, 0x801);
    assert_eq!(run(&mut cpu, &mut bus), Event::Lockup);
}

#[test]
fn svc_with_primask_set_escalates() {
    // cpsid i; svc #0: SVCall cannot preempt at priority 0 -> HardFault.
    let (mut cpu, mut bus) = v7(&[0xB672, 0xDF00]);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.hfsr(), 1 << 30);
}

#[test]
fn systick_fires_on_cycles() {
    let (mut cpu, mut bus) = v7(SYSTICK);
    let (ev, n) = cpu.run(&mut bus, 1000);
    assert_eq!(ev, Event::Bkpt(15));
    assert!((100..=115).contains(&n), "took {n} steps");
    assert_ne!(cpu.scs_read(SYST_CSR) & (1 << 16), 0, "COUNTFLAG");
    assert_eq!(
        cpu.scs_read(SYST_CSR) & (1 << 16),
        0,
        "COUNTFLAG clears on read"
    );
    assert!(cpu.scs_read(SYST_CVR) <= 100);
}

#[test]
fn nvic_priority_order_and_preemption() {
    let (mut cpu, mut bus) = v7(&[LOOP]);
    cpu.scs_write(ISER0, 0b111);
    cpu.scs_write(IPR0, 0x00C0_4080); // IRQ0 0x80, IRQ1 0x40, IRQ2 0xC0
    cpu.set_irq_pending(0);
    cpu.set_irq_pending(1);
    cpu.set_irq_pending(2);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(17), "IRQ1 first");
    let (mut cpu, mut bus) = v7(&[LOOP]);
    cpu.scs_write(ISER0, 0b111);
    cpu.scs_write(IPR0, 0x00C0_4080);
    cpu.set_irq_pending(0);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(16));
    cpu.set_irq_pending(2);
    assert_eq!(
        cpu.step(&mut bus),
        Event::Bkpt(16),
        "IRQ2 cannot preempt IRQ0"
    );
    cpu.set_irq_pending(1);
    assert_eq!(
        run(&mut cpu, &mut bus),
        Event::Bkpt(17),
        "IRQ1 preempts IRQ0"
    );
    assert!(cpu.is_active(16) && cpu.is_active(17) && cpu.is_pending(18));
    assert_eq!(cpu.scs_read(ICSR) & 0x1FF, 17, "VECTACTIVE");
    assert_eq!((cpu.scs_read(ICSR) >> 12) & 0x1FF, 18, "VECTPENDING");
    assert_eq!(cpu.reg(14), 0xFFFF_FFF1, "nested: return to Handler");
}

#[test]
fn disabled_irq_is_not_taken() {
    let (mut cpu, mut bus) = v7(&[LOOP]);
    cpu.set_irq_pending(5);
    assert_eq!(cpu.run(&mut bus, 50), (Event::None, 50));
    cpu.set_irq_enabled(5, true);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(21));
}

#[test]
fn primask_masks_interrupts() {
    let (mut cpu, mut bus) = v7(PRIMASK);
    cpu.set_irq_enabled(3, true);
    steps(&mut cpu, &mut bus, 1);
    assert!(cpu.primask());
    cpu.set_irq_pending(3);
    steps(&mut cpu, &mut bus, 4); // nops and cpsie
    assert_eq!(cpu.reg(15), CODE + 10);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(19));
    assert_eq!(
        bus.r32(cpu.reg(13) + 24),
        CODE + 10,
        "taken right after CPSIE"
    );
}

#[test]
fn pendsv_from_icsr_and_basepri() {
    let (mut cpu, mut bus) = v7(&[LOOP]);
    cpu.scs_write(SHPR3, 0x0080_0000); // PendSV priority 0x80
    // basepri 0x40 masks PendSV (0x80).
    bus.code(0x900, &[0x2040, 0xF380, 0x8811, 0xBE07]); // movs r0,#0x40; msr basepri,r0; bkpt #7
    cpu.invalidate(0x900, 8);
    cpu.set_reg(15, 0x900);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(7));
    assert_eq!(cpu.basepri(), 0x40);
    cpu.set_reg(15, CODE);
    cpu.scs_write(ICSR, 1 << 28);
    assert_eq!(cpu.run(&mut bus, 20), (Event::None, 20));
    assert_ne!(cpu.scs_read(ICSR) & (1 << 28), 0, "PENDSVSET reads back");
    bus.code(0x900, &[0x2000, 0xF380, 0x8811, 0xE7FE]); // basepri = 0; b .
    cpu.invalidate(0x900, 8);
    cpu.set_reg(15, 0x900);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(14));
}

#[test]
fn sysresetreq_is_reported() {
    let (mut cpu, mut bus) = v7(RESETREQ);
    assert_eq!(run(&mut cpu, &mut bus), Event::SysResetRequest);
    assert_eq!(cpu.reg(15), CODE + 18, "after the STR");
}

#[test]
fn wfi_returns_after_advancing() {
    let (mut cpu, mut bus) = v7(&[0xBF30, 0xBF20, LOOP]);
    assert_eq!(cpu.step(&mut bus), Event::Wfi);
    assert_eq!(cpu.reg(15), CODE + 2);
    assert_eq!(cpu.step(&mut bus), Event::Wfe);
}

#[test]
fn nmi_preempts_hardfault_and_fault_in_nmi_locks_up() {
    let (mut cpu, mut bus) = v7(UDF);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    cpu.set_nmi_pending();
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(2));
    // the NMI handler's BKPT is now replaced by an undefined instruction
    bus.w16(handler(2), 0xDE00);
    cpu.invalidate(handler(2), 2);
    assert_eq!(run(&mut cpu, &mut bus), Event::Lockup);
}

#[test]
fn bad_exc_return_is_invpc() {
    // In the SVC handler, bx to 0xFFFFFFF5 (reserved EXC_RETURN).
    let (mut cpu, mut bus) = svc_setup();
    cpu.scs_write(SHCSR, 1 << 18);
    cpu.scs_write(0xE000_ED1C, 0x8000_0000); // SVCall below UsageFault
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(2));
    cpu.set_reg(14, 0xFFFF_FFF5);
    cpu.set_reg(15, cpu.reg(15) + 2);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(6));
    assert_eq!(cpu.cfsr(), 1 << 18);
}

#[test]
fn unprivileged_thread_cannot_touch_the_scs_or_masks() {
    // movs r0,#1; msr control,r0; isb; cpsid i; mrs r2,primask; ldr r0,=ICSR; ldr r1,[r0]
    let prog = [
        0x2001, 0xF380, 0x8814, 0xF3BF, 0x8F6F, 0xB672, 0xF3EF, 0x8210, 0x4801, 0x6801, 0xBE01,
        0x0000, 0xED04, 0xE000,
    ];
    let (mut cpu, mut bus) = v7(&prog);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(3));
    assert_eq!(cpu.control() & 1, 1);
    assert!(!cpu.primask(), "CPSID is ignored unprivileged");
    assert_eq!(cpu.reg(2), 0);
    assert_eq!(cpu.cfsr(), (1 << 9) | (1 << 15), "a precise BusFault");
    assert_eq!(bus.r32(cpu.reg(13) + 24), CODE + 18, "at the LDR");
}

#[test]
fn sleep_on_exit_reports_wfi_on_return_to_thread() {
    let (mut cpu, mut bus) = svc_setup();
    cpu.scs_write(0xE000_ED10, 2);
    through_handler(&mut cpu, &mut bus, 0xFFFF_FFF9, STACK_TOP - 32);
    assert_eq!(run(&mut cpu, &mut bus), Event::Wfi);
    assert_eq!(cpu.reg(15), CODE + 16);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(1));
}

#[test]
fn exception_pended_by_a_store_is_taken_at_the_next_isb() {
    // ldr r0,=ICSR; mov r1,#PENDSVSET; str r1,[r0]; nop; isb; nop; bkpt #1
    let prog = [
        0x4804, 0xF04F, 0x5180, 0x6001, 0xBF00, 0xF3BF, 0x8F6F, 0xBF00, 0xBE01, 0x0000, 0xED04,
        0xE000,
    ];
    let (mut cpu, mut bus) = v7(&prog);
    assert_eq!(run(&mut cpu, &mut bus), Event::Bkpt(14));
    assert_eq!(
        bus.r32(cpu.reg(13) + 24),
        CODE + 14,
        "returns after the ISB"
    );
}

#[test]
fn systick_reloads_and_fires_periodically() {
    // SysTick handler: adds r7, #1; bx lr. Main: b .
    let (mut cpu, mut bus) = v7(&[LOOP]);
    bus.code(0x900, &[0x3701, 0x4770]);
    bus.w32(4 * 15, 0x901);
    cpu.invalidate(0, 0x1000);
    cpu.scs_write(SYST_RVR, 99);
    cpu.scs_write(SYST_CVR, 0);
    cpu.scs_write(SYST_CSR, 7);
    let start = cpu.cycles();
    assert_eq!(cpu.run(&mut bus, 10_000).0, Event::None);
    let elapsed = cpu.cycles() - start;
    let ticks = cpu.reg(7) as u64;
    assert!(
        ticks + 1 >= elapsed / 100 && ticks <= elapsed / 100,
        "{ticks} ticks in {elapsed} cycles"
    );
    assert!(cpu.scs_read(SYST_CVR) <= 99);
}
