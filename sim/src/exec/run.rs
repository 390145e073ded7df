//! One run of the unit's flashed code on the emulated core, and what it did in words.

use std::time::{Duration, Instant};

use station_cpu::{Arch, Cpu, Event};

use super::bus::{ExecBus, Touch};
use super::clocks::reset_clock_hz;
use crate::fault::{OpKind, Origin};
use crate::hw::Clock;
use crate::mcu::Mcu;
use crate::part::Family;

/// The clock is brought up to the core's time every this many instructions (and at the end),
/// so flash busy time and the code's polling share one timeline.
const CLOCK_SLICE: u64 = 1024;

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Stop {
    /// BKPT #imm (0xAB: a semihosting call, `op` = r0).
    Breakpoint { imm: u8, op: u32 },
    /// The core locked up (a fault in a fault handler, or no usable vector table): bricked.
    Lockup,
    /// WFI or WFE: the code waits for an interrupt or event.
    Waiting { wfe: bool },
    /// The code asked for a system reset (AIRCR.SYSRESETREQ).
    ResetRequest,
    /// The PC reached the reset handler of another image's vector table.
    Jumped { to: u32, table: u32 },
    /// The budget was spent with the code still running: a hang, or a main loop.
    Hang,
    /// A scheduled power cut landed on a flash operation the code started.
    PowerLost,
}

/// What the code did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExecReport {
    pub stop: Stop,
    pub vtor: u32,
    /// The PC where it stopped.
    pub pc: u32,
    pub instructions: u64,
    /// Core cycles (one per instruction and per exception entry or return).
    pub cycles: u64,
    pub clock_hz: u64,
    /// The virtual time the run took (cycles at `clock_hz`, plus waits for flash work).
    pub virtual_time: Duration,
    pub erases: u64,
    pub mass_erases: u64,
    pub programs: u64,
    pub programmed_bytes: u64,
    /// The flash operations the code caused, in words (the first 32).
    pub flash_ops: Vec<String>,
    /// Unmodelled peripheral addresses the code read or wrote.
    pub peripherals: Vec<Touch>,
    /// Accesses to further unmodelled addresses, beyond those listed.
    pub untracked: u64,
    /// The vector table at `vtor` is erased (blank flash).
    pub blank: bool,
    /// Real time the run took on this machine.
    #[serde(skip)]
    pub wall: Duration,
}

/// The core a part's firmware runs on: Cortex-M0+ on the G0, else Cortex-M4/M7.
pub fn arch_of(family: Family) -> Arch {
    match family {
        Family::G0 => Arch::V6M,
        _ => Arch::V7EM,
    }
}

/// Vector tables in flash other than the one at `vtor` (aligned to 512 bytes, a plausible
/// initial SP in RAM and a Thumb reset handler in flash): (table, reset handler).
fn other_images(mcu: &Mcu, vtor: u32) -> Vec<(u32, u32)> {
    let (base, size) = (mcu.flash.base(), mcu.flash.size());
    let in_ram = |sp: u32| {
        mcu.part
            .ram
            .iter()
            .any(|(b, s)| sp >= *b && sp - b <= *s && sp.is_multiple_of(4))
    };
    let word = |a: u32| {
        mcu.flash
            .read(a, 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    (0..size / 512)
        .map(|i| base + i * 512)
        .filter(|t| *t != vtor)
        .filter_map(|t| {
            let (sp, reset) = (word(t)?, word(t + 4)?);
            let ok = in_ram(sp) && reset & 1 == 1 && mcu.flash.contains(reset & !1);
            ok.then_some((t, reset & !1))
        })
        .collect()
}

/// Reset the core from the vector table at `vtor` and run the code against the MCU's own
/// bus until it stops (see [`Stop`]) or `budget` instructions pass.
pub fn run_code(mcu: &mut Mcu, arch: Arch, vtor: u32, budget: u64) -> ExecReport {
    let started = Instant::now();
    let hz = reset_clock_hz(mcu.part.family);
    let t0 = mcu.clock.now();
    let first_op = mcu.ops.len();
    let others = other_images(mcu, vtor);
    // The image's region: from its table to the next table above it (or the end of flash).
    let region_end = others
        .iter()
        .map(|(t, _)| *t)
        .filter(|t| *t > vtor)
        .min()
        .unwrap_or(mcu.flash.base().wrapping_add(mcu.flash.size()));
    let blank = mcu
        .flash
        .read(vtor, 8)
        .is_some_and(|b| b.iter().all(|x| *x == 0xFF));
    let cpuid = mcu.part.cores.first().map(|c| c.1);
    let mut cpu = Cpu::new(arch);
    if let Some(id) = cpuid {
        cpu.set_cpuid(id);
    }
    let mut bus = ExecBus::new(mcu);
    let charge = |bus: &ExecBus, cycles: u64| {
        let ns = (cycles as u128 * 1_000_000_000 / hz as u128) as u64;
        bus.mcu.clock.advance_to(t0 + Duration::from_nanos(ns));
    };
    cpu.reset(&mut bus, vtor);
    let mut executed = 0u64;
    let mut stop = if cpu.is_locked_up() {
        Some(Stop::Lockup)
    } else {
        None
    };
    while stop.is_none() && executed < budget {
        let pc = cpu.reg(15);
        if (pc < vtor || pc >= region_end)
            && let Some((table, _)) = others.iter().find(|(_, r)| *r == pc)
        {
            stop = Some(Stop::Jumped {
                to: pc,
                table: *table,
            });
            break;
        }
        bus.pc = pc;
        let event = cpu.step(&mut bus);
        executed += 1;
        if bus.flash_written {
            bus.flash_written = false;
            if bus.erased {
                bus.erased = false;
                cpu.invalidate(0, u32::MAX);
            }
            if !bus.mcu.powered {
                stop = Some(Stop::PowerLost);
                break;
            }
        }
        stop = match event {
            Event::None => None,
            Event::Bkpt(imm) => Some(Stop::Breakpoint {
                imm,
                op: cpu.reg(0),
            }),
            Event::Wfi => Some(Stop::Waiting { wfe: false }),
            Event::Wfe => Some(Stop::Waiting { wfe: true }),
            Event::Lockup => Some(Stop::Lockup),
            Event::SysResetRequest => Some(Stop::ResetRequest),
        };
        if executed.is_multiple_of(CLOCK_SLICE) {
            charge(&bus, cpu.cycles());
        }
    }
    if stop != Some(Stop::PowerLost) {
        charge(&bus, cpu.cycles());
    }
    let peripherals = bus.touched();
    let untracked = bus.untracked;
    let mut report = ExecReport {
        stop: stop.unwrap_or(Stop::Hang),
        vtor,
        pc: cpu.reg(15),
        instructions: executed,
        cycles: cpu.cycles(),
        clock_hz: hz,
        virtual_time: mcu.clock.now().saturating_sub(t0),
        erases: 0,
        mass_erases: 0,
        programs: 0,
        programmed_bytes: 0,
        flash_ops: Vec::new(),
        peripherals,
        untracked,
        blank,
        wall: started.elapsed(),
    };
    for op in mcu.ops.get(first_op..).unwrap_or_default() {
        if op.origin != Origin::Device {
            continue;
        }
        let words = match op.kind {
            OpKind::Erase { sector } => {
                report.erases += 1;
                format!("erased sector {sector}")
            }
            OpKind::MassErase => {
                report.mass_erases += 1;
                "erased the whole flash".to_string()
            }
            OpKind::Program { address, len } => {
                report.programs += 1;
                report.programmed_bytes += u64::from(len);
                format!("programmed {len} bytes at {address:#010x}")
            }
            OpKind::QspiErase { .. } | OpKind::QspiProgram { .. } => continue,
        };
        if report.flash_ops.len() < 32 {
            report.flash_ops.push(words);
        }
    }
    report
}
