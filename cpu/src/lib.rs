//! An emulated ARM Cortex-M core: ARMv6-M (Cortex-M0/M0+) and the integer ARMv7E-M
//! instruction set (Cortex-M4/M7 without FPU), written from the ARMv7-M Architecture
//! Reference Manual (DDI 0403) and the ARMv6-M ARM (DDI 0419).
//!
//! The core owns its registers, the exception model (B1.5) and the System Control Space
//! (NVIC, SCB, SysTick; B3). Everything else is reached through a [`Bus`]. Instructions are
//! decoded once into a compact form and kept in a direct-mapped cache keyed by address; the
//! core's own stores drop what they overwrite, other writers (the host, DMA, a debugger)
//! call [`Cpu::invalidate`].
//!
//! Choices where the architecture leaves room, made to agree with QEMU (the reference of
//! the differential tests):
//! - UNPREDICTABLE encodings with wrong fixed "(0)"/"(1)" bits, LDM/STM.W with fewer than two
//!   registers, BFI/BFC with msb < lsb and SBFX/UBFX past bit 31 are UNDEFINED;
//!   coprocessor space is NOCP (op1 = 11xxxx UNDEFINSTR); SETEND is UNDEFINED.
//! - Exception state changed by a store to the SCS (ICSR, ISPR, ISER, STIR, SysTick, ...)
//!   is looked at after the next ISB or branch; MSR and CPS take effect at once.
//! - Data bus errors are precise (PRECISERR, BFAR); loads and stores never split except
//!   unaligned LDR/STR/LDRH/STRH (allowed on ARMv7-M unless CCR.UNALIGN_TRP), which are
//!   done byte by byte.
//!
//! Not modelled: the MPU (MemManage only for execution from Execute Never regions; LDRT
//! and STRT are unprivileged only towards the SCS), the WFE event register, BFHFNMIGN, DebugMonitor, leaving lockup other than by reset, and cycle
//! timing (one cycle per instruction and per exception entry or return).
#![forbid(unsafe_code)]

mod decode;
mod exceptions;
mod execute;
mod scs;

use decode::Insn;
use execute::Fault;

/// The architecture profile the core implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// ARMv6-M: Cortex-M0/M0+ (STM32G0).
    V6M,
    /// ARMv7E-M: Cortex-M4/M7 (STM32F4, F7, H7, L4), integer only.
    V7EM,
}

/// The size of one bus access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    Byte,
    Half,
    Word,
}

/// A bus access that no slave answered (or answered with an error).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BusError;

/// The memory system seen by the core (everything outside the System Control Space).
pub trait Bus {
    fn read(&mut self, addr: u32, size: Size) -> Result<u32, BusError>;
    fn write(&mut self, addr: u32, size: Size, value: u32) -> Result<(), BusError>;
    /// Instruction fetch of one halfword (may be faster than read).
    fn fetch16(&mut self, addr: u32) -> Result<u16, BusError> {
        self.read(addr, Size::Half).map(|v| v as u16)
    }
}

/// Why [`Cpu::step`] or [`Cpu::run`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    None,
    /// BKPT #imm: PC is left pointing at the BKPT. For semihosting (imm 0xAB, r0 = op,
    /// r1 = arg) the host sets r0 and advances PC by 2.
    Bkpt(u8),
    /// WFI executed (PC already advanced).
    Wfi,
    /// WFE executed (PC already advanced).
    Wfe,
    /// The core is in lockup (B1.5.15).
    Lockup,
    /// SYSRESETREQ was written to AIRCR.
    SysResetRequest,
}

const CACHE_BITS: u32 = 15;
const CACHE_SIZE: usize = 1 << CACHE_BITS;
pub(crate) const CACHE_MASK: usize = CACHE_SIZE - 1;

/// One decoded instruction: `tag` is its address, bit 0 set for a 32-bit encoding.
#[derive(Clone, Copy)]
pub(crate) struct CacheEntry {
    tag: u32,
    pub(crate) insn: Insn,
}

/// An empty slot `i` carries an address that belongs to another slot, so it never hits.
fn empty_entry(i: usize) -> CacheEntry {
    CacheEntry {
        tag: (((i ^ 1) & CACHE_MASK) as u32) << 1,
        insn: Insn::Nop,
    }
}

/// One emulated Cortex-M core.
pub struct Cpu {
    pub(crate) v6m: bool,
    /// r0..r14 plus, while an instruction executes, r15 = its address + 4 (A5.1.2).
    pub(crate) regs: [u32; 16],
    /// Address of the next instruction to execute.
    pub(crate) pc: u32,
    /// Where the executing instruction continues (set before execution, branches change it).
    pub(crate) next_pc: u32,
    /// The banked stack pointer not currently in r13 (B1.4.1).
    pub(crate) other_sp: u32,
    /// r13 holds SP_process (Thread mode with CONTROL.SPSEL).
    pub(crate) cur_psp: bool,
    pub(crate) n: bool,
    pub(crate) z: bool,
    pub(crate) c: bool,
    pub(crate) v: bool,
    pub(crate) q: bool,
    pub(crate) ge: u8,
    /// ITSTATE for the next instruction (A7.3.3).
    pub(crate) it: u8,
    /// ITSTATE of the executing instruction (0 outside an IT block).
    pub(crate) it_cur: u8,
    pub(crate) tbit: bool,
    /// IPSR: the exception number, 0 in Thread mode.
    pub(crate) ipsr: u32,
    pub(crate) primask: bool,
    pub(crate) faultmask: bool,
    pub(crate) basepri: u8,
    /// CONTROL: bit 0 nPRIV, bit 1 SPSEL.
    pub(crate) control: u32,
    pub(crate) cycles: u64,
    /// When `cycles` reaches this, the slow path runs (pending exceptions, SysTick, lockup).
    pub(crate) attn: u64,
    pub(crate) locked: bool,
    /// Local exclusive monitor (A3.4): the tagged address when open.
    pub(crate) excl: Option<u32>,
    pub(crate) scs: scs::Scs,
    /// An event raised by a store to the SCS (SYSRESETREQ).
    pub(crate) scs_event: Event,
    /// A store to the SCS changed exception state: looked at after the next ISB or branch
    /// (as QEMU does; the architecture requires it by the next ISB).
    pub(crate) defer: bool,
    /// An LDRT/STRT access is under way (A3.6.2: checked as unprivileged).
    pub(crate) unpriv: bool,
    pub(crate) cache: Box<[CacheEntry; CACHE_SIZE]>,
    /// The range of cache slots filled since the cache was last cleared.
    cache_used: (usize, usize),
}

impl Cpu {
    pub fn new(arch: Arch) -> Cpu {
        let v6m = arch == Arch::V6M;
        Cpu {
            v6m,
            regs: [0; 16],
            pc: 0,
            next_pc: 0,
            other_sp: 0,
            cur_psp: false,
            n: false,
            z: false,
            c: false,
            v: false,
            q: false,
            ge: 0,
            it: 0,
            it_cur: 0,
            tbit: true,
            ipsr: 0,
            primask: false,
            faultmask: false,
            basepri: 0,
            control: 0,
            cycles: 0,
            attn: 0,
            locked: false,
            excl: None,
            scs: scs::Scs::new(v6m),
            scs_event: Event::None,
            defer: false,
            unpriv: false,
            cache: (0..CACHE_SIZE)
                .map(empty_entry)
                .collect::<Vec<_>>()
                .try_into()
                .unwrap_or_else(|_| unreachable!()),
            cache_used: (CACHE_SIZE, 0),
        }
    }

    /// Power-on / system reset (B1.5.5): SCS state reset, VTOR = `vtor`, MSP = `mem[vtor]`,
    /// PC = `mem[vtor+4]` (Thumb bit), Thread mode privileged.
    pub fn reset(&mut self, bus: &mut dyn Bus, vtor: u32) {
        self.scs.reset(self.v6m);
        self.scs.vtor = vtor & !0x7F;
        self.regs = [0; 16];
        self.regs[14] = 0xFFFF_FFFF;
        self.other_sp = 0;
        self.cur_psp = false;
        self.n = false;
        self.z = false;
        self.c = false;
        self.v = false;
        self.q = false;
        self.ge = 0;
        self.it = 0;
        self.it_cur = 0;
        self.ipsr = 0;
        self.primask = false;
        self.faultmask = false;
        self.basepri = 0;
        self.control = 0;
        self.locked = false;
        self.excl = None;
        self.scs_event = Event::None;
        self.defer = false;
        self.attn = 0;
        self.invalidate_all();
        match (
            bus.read(vtor, Size::Word),
            bus.read(vtor.wrapping_add(4), Size::Word),
        ) {
            (Ok(sp), Ok(pc)) => {
                self.regs[13] = sp & !3;
                self.pc = pc & !1;
                self.tbit = pc & 1 != 0;
            }
            _ => {
                self.tbit = true;
                self.lockup();
            }
        }
    }

    /// Execute one instruction (or take one pending exception entry).
    pub fn step(&mut self, bus: &mut dyn Bus) -> Event {
        self.step_inline(bus)
    }

    #[inline(always)]
    fn step_inline(&mut self, bus: &mut dyn Bus) -> Event {
        if self.cycles >= self.attn
            && let Some(ev) = self.attention(bus)
        {
            return ev;
        }
        let pc = self.pc;
        let idx = (pc as usize >> 1) & CACHE_MASK;
        let tag = self.cache[idx].tag;
        let len = if tag & !1 == pc {
            2 + ((tag & 1) << 1)
        } else {
            match self.fetch_decode(bus, pc) {
                Ok(len) => len,
                Err(f) => return self.fault(f),
            }
        };
        self.cycles = self.cycles.wrapping_add(1);
        let it = self.it;
        self.it_cur = it;
        if it != 0 {
            self.it = if it & 7 == 0 {
                0
            } else {
                (it & 0xE0) | ((it << 1) & 0x1F)
            };
            if !self.cond(it >> 4) && !matches!(self.cache[idx].insn, Insn::Bkpt(_)) {
                self.pc = pc.wrapping_add(len);
                return Event::None;
            }
        }
        self.regs[15] = pc.wrapping_add(4);
        self.next_pc = pc.wrapping_add(len);
        match self.exec(bus, idx) {
            Ok(ev) => {
                self.pc = self.next_pc;
                ev
            }
            Err(f) => {
                self.it = it;
                self.fault(f)
            }
        }
    }

    /// Run up to `budget` instructions, stopping early at any Event other than Event::None.
    pub fn run(&mut self, bus: &mut dyn Bus, budget: u64) -> (Event, u64) {
        let mut n = 0;
        while n < budget {
            let ev = self.step_inline(bus);
            n += 1;
            if ev != Event::None {
                return (ev, n);
            }
        }
        (Event::None, n)
    }

    /// Fetch and decode the instruction at `pc` into its cache slot; its length.
    #[cold]
    fn fetch_decode(&mut self, bus: &mut dyn Bus, pc: u32) -> Result<u32, Fault> {
        // B3.1: the Peripheral, Device and System regions are Execute Never.
        if (0x4000_0000..0x6000_0000).contains(&pc) || pc >= 0xA000_0000 {
            return Err(Fault::MemExec);
        }
        let hw1 = bus.fetch16(pc).map_err(|_| Fault::IBus)?;
        let (insn, len) = if hw1 >= 0xE800 {
            let hw2 = bus.fetch16(pc.wrapping_add(2)).map_err(|_| Fault::IBus)?;
            (decode::decode32(hw1, hw2, pc, self.v6m), 4)
        } else {
            (decode::decode16(hw1, pc, self.v6m), 2)
        };
        let i = (pc as usize >> 1) & CACHE_MASK;
        self.cache[i] = CacheEntry {
            tag: pc | (len >> 2),
            insn,
        };
        self.cache_used = (self.cache_used.0.min(i), self.cache_used.1.max(i));
        Ok(len)
    }

    /// Forget decoded instructions overlapping `addr..addr+len` (call after writing code).
    pub fn invalidate(&mut self, addr: u32, len: u32) {
        if len as usize >= CACHE_SIZE {
            return self.invalidate_all();
        }
        let start = addr.wrapping_sub(2) & !1;
        let mut a = start;
        let end = addr.wrapping_add(len);
        for _ in 0..=(len / 2 + 1) {
            let i = (a as usize >> 1) & CACHE_MASK;
            let tag = self.cache[i].tag & !1;
            if tag.wrapping_sub(start) < end.wrapping_sub(start) {
                self.cache[i] = empty_entry(i);
            }
            a = a.wrapping_add(2);
        }
    }

    /// The core's own stores drop decoded instructions they overlap (code copied to RAM,
    /// self-modifying code); other writers call [`Cpu::invalidate`].
    #[inline(always)]
    pub(crate) fn snoop(&mut self, addr: u32, len: u32) {
        let mut a = addr.wrapping_sub(2) & !1;
        let end = addr.wrapping_add(len);
        while a != end && a != end.wrapping_add(1) {
            let i = (a as usize >> 1) & CACHE_MASK;
            if self.cache[i].tag & !1 == a {
                self.cache[i] = empty_entry(i);
            }
            a = a.wrapping_add(2);
        }
    }

    fn invalidate_all(&mut self) {
        let (lo, hi) = self.cache_used;
        for i in lo..=hi.min(CACHE_MASK) {
            self.cache[i] = empty_entry(i);
        }
        self.cache_used = (CACHE_SIZE, 0);
    }

    /// r0..r15 (13 = current SP, 15 = PC of the next instruction).
    pub fn reg(&self, n: usize) -> u32 {
        match n {
            15 => self.pc,
            0..=14 => self.regs[n],
            _ => 0,
        }
    }

    pub fn set_reg(&mut self, n: usize, v: u32) {
        match n {
            15 => self.pc = v & !1,
            0..=14 => self.regs[n] = v,
            _ => {}
        }
    }

    /// The combined APSR | IPSR | EPSR (B1.4.2).
    pub fn xpsr(&self) -> u32 {
        (self.n as u32) << 31
            | (self.z as u32) << 30
            | (self.c as u32) << 29
            | (self.v as u32) << 28
            | (self.q as u32) << 27
            | ((self.it as u32) & 3) << 25
            | (self.tbit as u32) << 24
            | (self.ge as u32) << 16
            | ((self.it as u32) >> 2) << 10
            | self.ipsr
    }

    pub fn set_xpsr(&mut self, v: u32) {
        self.n = v & (1 << 31) != 0;
        self.z = v & (1 << 30) != 0;
        self.c = v & (1 << 29) != 0;
        self.v = v & (1 << 28) != 0;
        self.q = v & (1 << 27) != 0;
        self.ge = ((v >> 16) & 0xF) as u8;
        self.it = (((v >> 25) & 3) | ((v >> 8) & 0xFC)) as u8;
        self.tbit = v & (1 << 24) != 0;
        self.ipsr = v & 0x1FF;
        self.sync_sp();
        self.attn = 0;
    }

    /// Instructions executed plus exception entries (one cycle each).
    pub fn cycles(&self) -> u64 {
        self.cycles
    }

    /// Let time pass without executing (e.g. while sleeping in WFI); SysTick counts it.
    pub fn add_cycles(&mut self, n: u64) {
        self.cycles = self.cycles.wrapping_add(n);
    }

    /// Pend external interrupt `irq` (exception 16 + irq) in the NVIC.
    pub fn set_irq_pending(&mut self, irq: u32) {
        if irq < self.scs.num_irqs {
            self.set_pending(16 + irq as usize);
        }
    }

    /// Enable external interrupt `irq` (as a write to NVIC_ISER would).
    pub fn set_irq_enabled(&mut self, irq: u32, on: bool) {
        if irq < self.scs.num_irqs {
            let (w, b) = ((irq / 32) as usize, irq % 32);
            if on {
                self.scs.irq_enabled[w] |= 1 << b;
            } else {
                self.scs.irq_enabled[w] &= !(1 << b);
            }
            self.attn = 0;
        }
    }

    /// Pend the NMI.
    pub fn set_nmi_pending(&mut self) {
        self.set_pending(2);
    }

    pub fn is_locked_up(&self) -> bool {
        self.locked
    }

    /// Whether exception `n` is pending / active.
    pub fn is_pending(&self, n: u32) -> bool {
        (n as usize) < 16 + self.scs.num_irqs as usize && self.pending_bit(n as usize)
    }

    pub fn is_active(&self, n: u32) -> bool {
        (n as usize) < 16 + self.scs.num_irqs as usize && self.active_bit(n as usize)
    }

    /// The SP_main and SP_process values.
    pub fn msp(&self) -> u32 {
        if self.cur_psp {
            self.other_sp
        } else {
            self.regs[13]
        }
    }

    pub fn psp(&self) -> u32 {
        if self.cur_psp {
            self.regs[13]
        } else {
            self.other_sp
        }
    }

    /// CONTROL, PRIMASK, FAULTMASK, BASEPRI as MRS reads them.
    pub fn control(&self) -> u32 {
        self.control
    }

    pub fn primask(&self) -> bool {
        self.primask
    }

    pub fn faultmask(&self) -> bool {
        self.faultmask
    }

    pub fn basepri(&self) -> u8 {
        self.basepri
    }

    /// Set the value SCB CPUID reads as.
    pub fn set_cpuid(&mut self, v: u32) {
        self.scs.cpuid = v;
    }

    /// Set the value SYST_CALIB reads as.
    pub fn set_systick_calib(&mut self, v: u32) {
        self.scs.calib = v;
    }

    /// Number of implemented priority bits (default 4 on V7EM, 2 on V6M).
    pub fn set_priority_bits(&mut self, bits: u32) {
        let bits = bits.clamp(2, 8);
        self.scs.prio_mask = (0xFF00u32 >> bits) as u8;
    }

    /// A word of the System Control Space as software would read it (0xE000E000..).
    pub fn scs_read(&mut self, addr: u32) -> u32 {
        self.scs_read_word(addr & 0xFFC)
    }

    /// Write a word of the System Control Space as privileged software would.
    pub fn scs_write(&mut self, addr: u32, v: u32) {
        if scs::is_scs(addr) {
            self.scs_write_sized(addr & !3, Size::Word, v);
            self.attn = 0;
        }
    }

    /// The fault status registers: CFSR, HFSR.
    pub fn cfsr(&self) -> u32 {
        self.scs.cfsr
    }

    pub fn hfsr(&self) -> u32 {
        self.scs.hfsr
    }

    #[inline(always)]
    pub(crate) fn r(&self, n: u8) -> u32 {
        self.regs[(n & 15) as usize]
    }

    /// R[d] = v; a write to r15 is a branch (BranchWritePC, ALUWritePC; A2.3.1).
    #[inline(always)]
    pub(crate) fn set(&mut self, d: u8, v: u32) {
        if d & 15 == 15 {
            self.next_pc = v & !1;
            self.end_block();
        } else {
            self.regs[(d & 15) as usize] = v;
        }
    }

    #[inline(always)]
    pub(crate) fn privileged(&self) -> bool {
        self.ipsr != 0 || self.control & 1 == 0
    }

    /// Put the right stack pointer in r13 for the mode and CONTROL.SPSEL (B1.4.1).
    pub(crate) fn sync_sp(&mut self) {
        let want = self.ipsr == 0 && self.control & 2 != 0;
        if want != self.cur_psp {
            std::mem::swap(&mut self.regs[13], &mut self.other_sp);
            self.cur_psp = want;
        }
    }

    /// A branch or ISB: SCS changes deferred since the last one take effect now.
    #[inline(always)]
    pub(crate) fn end_block(&mut self) {
        if self.defer {
            self.defer = false;
            self.attn = 0;
        }
    }

    pub(crate) fn lockup(&mut self) -> Event {
        self.locked = true;
        self.attn = 0;
        Event::Lockup
    }
}
