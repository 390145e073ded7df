//! Every instruction form gcc and LLVM emit decodes and executes without an UNDEFINSTR
//! fault; coprocessor instructions fault NOCP; Thumb-2 is undefined on ARMv6-M.

mod support;

use station_cpu::{Arch, Cpu, Event};
use support::encodings::*;
use support::*;

const UNDEFINSTR: u32 = 1 << 16;
const NOCP: u32 = 1 << 19;

/// Execute one instruction with the registers pointing into RAM.
fn exec_one(arch: Arch, hws: &[u16]) -> (Cpu, Event) {
    let (mut cpu, mut bus) = setup(arch, hws);
    for r in 0..14 {
        cpu.set_reg(r, RAM + 0x100 + 8 * r as u32);
    }
    cpu.set_reg(2, 8); // an index register: base + r2 stays mapped
    cpu.scs_write(SHCSR, 7 << 16);
    let ev = cpu.step(&mut bus);
    (cpu, ev)
}

#[test]
fn v7em_instructions_decode() {
    let mut bad = Vec::new();
    for (hws, text) in V7EM_VALID {
        let (cpu, ev) = exec_one(Arch::V7EM, hws);
        let undefined = cpu.cfsr() & (UNDEFINSTR | NOCP) != 0;
        if undefined || cpu.is_pending(3) || ev == Event::Lockup {
            bad.push(format!(
                "{text} ({hws:04x?}): cfsr {:#x} {ev:?}",
                cpu.cfsr()
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "{} undefined:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn coprocessor_instructions_fault_nocp() {
    for (hws, text) in COPROCESSOR {
        let (cpu, _) = exec_one(Arch::V7EM, hws);
        assert_eq!(cpu.cfsr(), NOCP, "{text}");
        assert!(cpu.is_pending(6), "{text}: UsageFault pending");
    }
}

#[test]
fn v6m_instructions_decode() {
    for (hws, text) in V6M_VALID {
        let (cpu, ev) = exec_one(Arch::V6M, hws);
        // SVC and BKPT are exceptions or events by design.
        if text.starts_with("svc") {
            assert!(cpu.is_pending(11), "{text}");
            continue;
        }
        assert!(!cpu.is_pending(3), "{text} ({hws:04x?}) faulted: {ev:?}");
    }
}

#[test]
fn thumb2_is_undefined_on_v6m() {
    for (hws, text) in V6M_UNDEFINED {
        let (cpu, _) = exec_one(Arch::V6M, hws);
        assert!(cpu.is_pending(3), "{text} should be a HardFault on v6-M");
    }
}
