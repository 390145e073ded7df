//! A Vec-backed bus and a tiny harness for hand-assembled programs.
#![allow(dead_code)]

use station_cpu::{Arch, Bus, BusError, Cpu, Event, Size};

pub const CODE: u32 = 0x200;
pub const HANDLERS: u32 = 0x1000;
pub const RAM: u32 = 0x2000_0000;
pub const RAM_SIZE: u32 = 0x1_0000;
pub const STACK_TOP: u32 = RAM + RAM_SIZE;

/// Flash-like memory at 0 (64 KiB) and RAM at 0x2000_0000 (64 KiB); everything else errors.
pub struct TestBus {
    pub flash: Vec<u8>,
    pub ram: Vec<u8>,
    pub writes: Vec<(u32, Size, u32)>,
}

impl TestBus {
    fn slot(&mut self, addr: u32) -> Option<&mut u8> {
        if addr < 0x1_0000 {
            self.flash.get_mut(addr as usize)
        } else if (RAM..RAM + RAM_SIZE).contains(&addr) {
            self.ram.get_mut((addr - RAM) as usize)
        } else {
            None
        }
    }

    pub fn w32(&mut self, addr: u32, v: u32) {
        for i in 0..4 {
            *self.slot(addr + i).unwrap() = (v >> (8 * i)) as u8;
        }
    }

    pub fn r32(&mut self, addr: u32) -> u32 {
        (0..4)
            .map(|i| (*self.slot(addr + i).unwrap() as u32) << (8 * i))
            .sum()
    }

    pub fn w16(&mut self, addr: u32, v: u16) {
        *self.slot(addr).unwrap() = v as u8;
        *self.slot(addr + 1).unwrap() = (v >> 8) as u8;
    }

    /// Write halfwords at `addr`.
    pub fn code(&mut self, addr: u32, hws: &[u16]) {
        for (i, &h) in hws.iter().enumerate() {
            self.w16(addr + 2 * i as u32, h);
        }
    }
}

impl Bus for TestBus {
    fn read(&mut self, addr: u32, size: Size) -> Result<u32, BusError> {
        let n = match size {
            Size::Byte => 1,
            Size::Half => 2,
            Size::Word => 4,
        };
        let mut v = 0;
        for i in 0..n {
            v |= (*self.slot(addr.wrapping_add(i)).ok_or(BusError)? as u32) << (8 * i);
        }
        Ok(v)
    }

    fn write(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusError> {
        let n = match size {
            Size::Byte => 1,
            Size::Half => 2,
            Size::Word => 4,
        };
        for i in 0..n {
            *self.slot(addr.wrapping_add(i)).ok_or(BusError)? = (value >> (8 * i)) as u8;
        }
        self.writes.push((addr, size, value));
        Ok(())
    }
}

/// Address of the default handler of exception `n`: a `BKPT #n` at HANDLERS + 4n.
pub fn handler(n: u32) -> u32 {
    HANDLERS + 4 * n
}

/// A core reset into `code` at CODE, with every exception vector pointing at `BKPT #n`.
pub fn setup(arch: Arch, code: &[u16]) -> (Cpu, TestBus) {
    let mut bus = TestBus {
        flash: vec![0; 0x1_0000],
        ram: vec![0; RAM_SIZE as usize],
        writes: Vec::new(),
    };
    bus.w32(0, STACK_TOP);
    bus.w32(4, CODE | 1);
    for n in 2..64 {
        bus.w32(4 * n, handler(n) | 1);
        bus.w16(handler(n), 0xBE00 | n as u16);
    }
    bus.code(CODE, code);
    let mut cpu = Cpu::new(arch);
    cpu.reset(&mut bus, 0);
    (cpu, bus)
}

pub fn v7(code: &[u16]) -> (Cpu, TestBus) {
    setup(Arch::V7EM, code)
}

pub fn v6(code: &[u16]) -> (Cpu, TestBus) {
    setup(Arch::V6M, code)
}

/// Run until an event other than None (at most 10000 steps).
pub fn run(cpu: &mut Cpu, bus: &mut TestBus) -> Event {
    cpu.run(bus, 10_000).0
}

/// Step `n` times, asserting nothing but Event::None happens.
pub fn steps(cpu: &mut Cpu, bus: &mut TestBus, n: usize) {
    for i in 0..n {
        let ev = cpu.step(bus);
        assert_eq!(ev, Event::None, "step {i} at pc {:#x}", cpu.reg(15));
    }
}

pub const N: u32 = 1 << 31;
pub const Z: u32 = 1 << 30;
pub const C: u32 = 1 << 29;
pub const V: u32 = 1 << 28;
pub const Q: u32 = 1 << 27;

/// The NZCV flags of xPSR.
pub fn flags(cpu: &Cpu) -> u32 {
    cpu.xpsr() & 0xF000_0000
}

/// SCB and NVIC addresses.
pub const ICSR: u32 = 0xE000_ED04;
pub const AIRCR: u32 = 0xE000_ED0C;
pub const CCR: u32 = 0xE000_ED14;
pub const SHPR3: u32 = 0xE000_ED20;
pub const SHCSR: u32 = 0xE000_ED24;
pub const CFSR: u32 = 0xE000_ED28;
pub const HFSR: u32 = 0xE000_ED2C;
pub const ISER0: u32 = 0xE000_E100;
pub const IPR0: u32 = 0xE000_E400;
pub const SYST_CSR: u32 = 0xE000_E010;
pub const SYST_RVR: u32 = 0xE000_E014;
pub const SYST_CVR: u32 = 0xE000_E018;

pub const BKPT_AB: u16 = 0xBEAB;
pub const NOP: u16 = 0xBF00;
/// `b .` (branch to self).
pub const LOOP: u16 = 0xE7FE;
pub mod encodings;
pub mod programs;
