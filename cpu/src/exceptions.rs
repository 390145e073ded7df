//! The exception model (B1.5): priorities and preemption (B1.5.4), entry with stacking
//! (B1.5.6), return (B1.5.8), faults and their escalation to HardFault (B1.5.14), lockup
//! (B1.5.15).

use crate::execute::{Exec, Fault};
use crate::scs::{
    CCR_NONBASETHRDENA, CCR_STKALIGN, SHCSR_BUSFAULTENA, SHCSR_MEMFAULTENA, SHCSR_USGFAULTENA,
};
use crate::{Bus, Cpu, Event, Size};

const HARDFAULT: usize = 3;
const MEMMANAGE: usize = 4;
const BUSFAULT: usize = 5;
const USAGEFAULT: usize = 6;

// B3.2.15 CFSR and B3.2.16 HFSR bits.
const IACCVIOL: u32 = 1 << 0;
const IBUSERR: u32 = 1 << 8;
const PRECISERR: u32 = 1 << 9;
const UNSTKERR: u32 = 1 << 11;
const STKERR: u32 = 1 << 12;
const BFARVALID: u32 = 1 << 15;
const UNDEFINSTR: u32 = 1 << 16;
const INVSTATE: u32 = 1 << 17;
const INVPC: u32 = 1 << 18;
const NOCP: u32 = 1 << 19;
const UNALIGNED: u32 = 1 << 24;
const DIVBYZERO: u32 = 1 << 25;
const HFSR_VECTTBL: u32 = 1 << 1;
const HFSR_FORCED: u32 = 1 << 30;

impl Cpu {
    pub(crate) fn pending_bit(&self, n: usize) -> bool {
        if n < 16 {
            self.scs.sys_pending & (1 << n) != 0
        } else {
            let i = n - 16;
            self.scs
                .irq_pending
                .get(i / 32)
                .is_some_and(|w| w & (1 << (i % 32)) != 0)
        }
    }

    pub(crate) fn active_bit(&self, n: usize) -> bool {
        if n < 16 {
            self.scs.sys_active & (1 << n) != 0
        } else {
            let i = n - 16;
            self.scs
                .irq_active
                .get(i / 32)
                .is_some_and(|w| w & (1 << (i % 32)) != 0)
        }
    }

    fn set_bit(n: usize, sys: &mut u32, irq: &mut [u32; 8], on: bool) {
        let (w, b) = if n < 16 {
            (sys, n)
        } else {
            match irq.get_mut((n - 16) / 32) {
                Some(w) => (w, (n - 16) % 32),
                None => return,
            }
        };
        if on {
            *w |= 1 << b;
        } else {
            *w &= !(1 << b);
        }
    }

    pub(crate) fn set_pending(&mut self, n: usize) {
        self.pend_quiet(n);
        self.attn = 0;
    }

    /// Pend exception `n` without looking at it before the next instruction.
    pub(crate) fn pend_quiet(&mut self, n: usize) {
        Self::set_bit(
            n,
            &mut self.scs.sys_pending,
            &mut self.scs.irq_pending,
            true,
        );
    }

    fn clear_pending(&mut self, n: usize) {
        Self::set_bit(
            n,
            &mut self.scs.sys_pending,
            &mut self.scs.irq_pending,
            false,
        );
    }

    fn set_active(&mut self, n: usize, on: bool) {
        Self::set_bit(n, &mut self.scs.sys_active, &mut self.scs.irq_active, on);
    }

    /// The raw priority of exception `n` (reset -3, NMI -2, HardFault -1).
    fn exc_prio(&self, n: usize) -> i16 {
        match n {
            1 => -3,
            2 => -2,
            3 => -1,
            _ => self.scs.prio.get(n).copied().unwrap_or(0) as i16,
        }
    }

    /// The group priority (B1.5.4), which decides preemption.
    fn group(&self, p: i16) -> i16 {
        if p < 0 {
            p
        } else {
            p & self.scs.group_mask() as i16
        }
    }

    fn exc_enabled(&self, n: usize) -> bool {
        match n {
            MEMMANAGE => self.scs.shcsr_ena & SHCSR_MEMFAULTENA != 0,
            BUSFAULT => self.scs.shcsr_ena & SHCSR_BUSFAULTENA != 0,
            USAGEFAULT => self.scs.shcsr_ena & SHCSR_USGFAULTENA != 0,
            0..=15 => true,
            _ => {
                let i = n - 16;
                self.scs
                    .irq_enabled
                    .get(i / 32)
                    .is_some_and(|w| w & (1 << (i % 32)) != 0)
            }
        }
    }

    fn active_list(&self) -> impl Iterator<Item = usize> + '_ {
        let sys = (1..16).filter(|n| self.scs.sys_active & (1 << n) != 0);
        let irq = self.scs.irq_active.iter().enumerate().flat_map(|(i, &w)| {
            (0..32)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| 16 + i * 32 + b)
        });
        sys.chain(irq)
    }

    pub(crate) fn active_count(&self) -> u32 {
        self.scs.sys_active.count_ones()
            + self
                .scs
                .irq_active
                .iter()
                .map(|w| w.count_ones())
                .sum::<u32>()
    }

    /// ExecutionPriority (B1.5.4): active exceptions' group priorities and the masks.
    pub(crate) fn exec_priority(&self) -> i16 {
        let mut p = 256;
        for n in self.active_list() {
            p = p.min(self.group(self.exc_prio(n)));
        }
        if self.basepri != 0 {
            p = p.min(self.group(self.basepri as i16));
        }
        if self.primask {
            p = p.min(0);
        }
        if self.faultmask {
            p = p.min(-1);
        }
        p
    }

    /// The pending, enabled exception that would be taken first, if any.
    pub(crate) fn best_pending(&self) -> Option<usize> {
        let mut best: Option<(i16, usize)> = None;
        let mut consider = |n: usize, me: &Self| {
            if me.exc_enabled(n) {
                let p = me.exc_prio(n);
                if best.is_none_or(|(bp, _)| p < bp) {
                    best = Some((p, n));
                }
            }
        };
        for n in 1..16 {
            if self.scs.sys_pending & (1 << n) != 0 {
                consider(n, self);
            }
        }
        for (i, &w) in self.scs.irq_pending.iter().enumerate() {
            let mut w = w & self.scs.irq_enabled[i];
            while w != 0 {
                let b = w.trailing_zeros() as usize;
                consider(16 + i * 32 + b, self);
                w &= w - 1;
            }
        }
        best.map(|(_, n)| n)
    }

    /// The slow path of `step`: lockup, SysTick, pending exceptions, EPSR.T.
    #[cold]
    pub(crate) fn attention(&mut self, bus: &mut dyn Bus) -> Option<Event> {
        if self.locked {
            self.attn = 0;
            return Some(Event::Lockup);
        }
        if self.cycles >= self.scs.tick_deadline {
            self.systick_fire();
        }
        self.attn = self.scs.tick_deadline;
        if let Some(n) = self.best_pending()
            && self.group(self.exc_prio(n)) < self.exec_priority()
        {
            return Some(self.take_exception(bus, n));
        }
        if !self.tbit {
            return Some(self.fault(Fault::InvState));
        }
        None
    }

    /// Exception entry (B1.5.6): push the frame, EXC_RETURN to LR, vector to PC.
    pub(crate) fn take_exception(&mut self, bus: &mut dyn Bus, n: usize) -> Event {
        self.cycles = self.cycles.wrapping_add(1);
        let force = self.v6m || self.scs.ccr & CCR_STKALIGN != 0;
        let sp = self.regs[13];
        let realign = force && sp & 4 != 0;
        let frame = sp.wrapping_sub(32) & if force { !4 } else { !0 };
        let xpsr = (self.xpsr() & !(1 << 9)) | (realign as u32) << 9;
        let r = &self.regs;
        let words = [r[0], r[1], r[2], r[3], r[12], r[14], self.pc, xpsr];
        let mut stack_error = false;
        for (i, w) in words.into_iter().enumerate() {
            if self
                .write(bus, frame.wrapping_add(4 * i as u32), Size::Word, w)
                .is_err()
            {
                stack_error = true;
            }
        }
        self.regs[13] = frame;
        self.regs[14] = if self.ipsr != 0 {
            0xFFFF_FFF1
        } else if self.cur_psp {
            0xFFFF_FFFD
        } else {
            0xFFFF_FFF9
        };
        self.ipsr = n as u32;
        self.control &= !2;
        self.sync_sp();
        self.it = 0;
        self.excl = None;
        self.clear_pending(n);
        self.set_active(n, true);
        self.attn = 0;
        let vector_addr = self.scs.vtor.wrapping_add(4 * n as u32);
        match bus.read(vector_addr, Size::Word) {
            Ok(v) => {
                self.pc = v & !1;
                self.tbit = v & 1 != 0;
            }
            Err(_) => {
                if !self.v6m {
                    self.scs.hfsr |= HFSR_VECTTBL;
                }
                if n == HARDFAULT {
                    return self.lockup();
                }
                return self.raise_sync(HARDFAULT);
            }
        }
        if stack_error {
            if !self.v6m {
                self.scs.cfsr |= STKERR;
            }
            return self.raise_sync(BUSFAULT);
        }
        Event::None
    }

    /// Exception return (B1.5.8), from BX or a load to PC of an EXC_RETURN value.
    pub(crate) fn exception_return(&mut self, bus: &mut dyn Bus, exc_return: u32) -> Exec {
        let kind = exc_return & 0xF;
        let n = self.ipsr as usize;
        if exc_return & 0x0FFF_FFF0 != 0x0FFF_FFF0 || !matches!(kind, 1 | 9 | 0xD) {
            return Err(Fault::InvPc);
        }
        if !self.active_bit(n) {
            return Err(Fault::InvPc);
        }
        if kind != 1 && self.active_count() != 1 && self.scs.ccr & CCR_NONBASETHRDENA == 0 {
            return Err(Fault::InvPc);
        }
        let to_psp = kind == 0xD;
        // In Handler mode r13 is SP_main; the frame is on the stack being returned to.
        let frame = if to_psp { self.other_sp } else { self.regs[13] };
        let mut w = [0u32; 8];
        for (i, slot) in w.iter_mut().enumerate() {
            *slot = self
                .read(bus, frame.wrapping_add(4 * i as u32), Size::Word)
                .map_err(|_| Fault::Unstack)?;
        }
        self.set_active(n, false);
        if n != 2 {
            self.faultmask = false;
        }
        let psr = w[7];
        let force = self.v6m || self.scs.ccr & CCR_STKALIGN != 0;
        let extra = if force && psr & (1 << 9) != 0 { 4 } else { 0 };
        let new_sp = frame.wrapping_add(32 + extra);
        self.regs[0] = w[0];
        self.regs[1] = w[1];
        self.regs[2] = w[2];
        self.regs[3] = w[3];
        self.regs[12] = w[4];
        self.regs[14] = w[5];
        self.next_pc = w[6] & !1;
        let ipsr = if kind == 1 { (psr & 0x1FF).max(1) } else { 0 };
        self.set_xpsr((psr & !0x1FF) | ipsr);
        if kind == 1 {
            self.control &= !2;
        } else {
            self.control = (self.control & !2) | if to_psp { 2 } else { 0 };
        }
        self.sync_sp();
        self.regs[13] = new_sp;
        self.excl = None;
        self.attn = 0;
        self.cycles = self.cycles.wrapping_add(1);
        // B1.5.17 SCR.SLEEPONEXIT: back in Thread mode, sleep as WFI would.
        if kind != 1 && self.scs.scr & 2 != 0 {
            return Ok(Event::Wfi);
        }
        Ok(Event::None)
    }

    /// A synchronous fault: record its status, pend the handler (B1.5.14).
    #[cold]
    pub(crate) fn fault(&mut self, f: Fault) -> Event {
        let (exc, bits) = match f {
            Fault::Undef => (USAGEFAULT, UNDEFINSTR),
            Fault::NoCp => (USAGEFAULT, NOCP),
            Fault::InvState => (USAGEFAULT, INVSTATE),
            Fault::InvPc => (USAGEFAULT, INVPC),
            Fault::Unaligned => (USAGEFAULT, UNALIGNED),
            Fault::DivByZero => (USAGEFAULT, DIVBYZERO),
            Fault::IBus => (BUSFAULT, IBUSERR),
            Fault::DBus(addr) => {
                if !self.v6m {
                    self.scs.bfar = addr;
                }
                (BUSFAULT, PRECISERR | BFARVALID)
            }
            Fault::Unstack => (BUSFAULT, UNSTKERR),
            Fault::MemExec => (MEMMANAGE, IACCVIOL),
        };
        if self.v6m {
            return self.raise_sync(HARDFAULT);
        }
        self.scs.cfsr |= bits;
        self.raise_sync(exc)
    }

    /// Pend synchronous exception `exc` (a fault or SVCall), escalated to HardFault when it
    /// is disabled or cannot preempt; a HardFault that cannot preempt locks up.
    pub(crate) fn raise_sync(&mut self, exc: usize) -> Event {
        let ep = self.exec_priority();
        let mut target = exc;
        if exc != HARDFAULT && (!self.exc_enabled(exc) || self.group(self.exc_prio(exc)) >= ep) {
            target = HARDFAULT;
            if !self.v6m {
                self.scs.hfsr |= HFSR_FORCED;
            }
        }
        if target == HARDFAULT && ep <= -1 {
            return self.lockup();
        }
        self.set_pending(target);
        Event::None
    }
}
