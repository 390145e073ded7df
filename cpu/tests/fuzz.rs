//! Random encodings, registers and special-register states never panic (debug builds check
//! arithmetic overflow too).

mod support;

use station_cpu::{Arch, Cpu, Event};
use support::*;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }
}

fn fuzz(arch: Arch, seed: u64, rounds: usize) {
    let (mut cpu, mut bus) = setup(arch, &[NOP]);
    let mut rng = Rng(seed);
    for round in 0..rounds {
        if cpu.is_locked_up() || round % 64 == 0 {
            cpu.reset(&mut bus, 0);
        }
        for r in 0..15 {
            let v = match rng.next() % 4 {
                0 => RAM + (rng.next() % RAM_SIZE),
                1 => rng.next() % 64,
                _ => rng.next(),
            };
            cpu.set_reg(r, v);
        }
        cpu.set_xpsr((rng.next() & 0xF80F_0000) | (1 << 24));
        let code: Vec<u16> = (0..6).map(|_| rng.next() as u16).collect();
        bus.code(CODE, &code);
        cpu.invalidate(CODE, 12);
        cpu.set_reg(15, CODE);
        for _ in 0..4 {
            if cpu.step(&mut bus) == Event::Lockup {
                break;
            }
        }
        // SCS pokes with random values.
        let off = (rng.next() % 0x1000) & !3;
        let addr = 0xE000_E000 + off;
        if !(0xD0C..0xD10).contains(&off) {
            cpu.scs_write(addr, rng.next());
        }
        let _ = cpu.scs_read(addr);
    }
    let _: &Cpu = &cpu;
}

#[test]
fn random_v7em_instructions_never_panic() {
    fuzz(Arch::V7EM, 0x1234_5678_9ABC_DEF1, 20_000);
}

#[test]
fn random_v6m_instructions_never_panic() {
    fuzz(Arch::V6M, 0x0FED_CBA9_8765_4321, 10_000);
}

#[test]
fn time_near_the_end_of_u64_does_not_panic() {
    let (mut cpu, mut bus) = v7(&[LOOP]);
    cpu.scs_write(SYST_RVR, 10);
    cpu.scs_write(SYST_CSR, 7);
    cpu.add_cycles(u64::MAX - 5);
    let _ = cpu.run(&mut bus, 20);
    let _ = cpu.scs_read(SYST_CVR);
}
