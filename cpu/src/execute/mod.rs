//! Execution of decoded instructions, by class. Shared helpers: condition checks
//! (A7.3.1), the shifter (A7.4.2 Shift_C), AddWithCarry (A2.2.1).

mod branch;
mod dp;
mod dsp;
mod mem;
mod mul;
mod system;

use crate::decode::*;
use crate::{Bus, Cpu, Event};

/// A synchronous fault an instruction (or its fetch) raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    /// UsageFault UNDEFINSTR.
    Undef,
    /// UsageFault NOCP.
    NoCp,
    /// UsageFault INVSTATE (EPSR.T = 0).
    InvState,
    /// UsageFault INVPC (bad EXC_RETURN).
    InvPc,
    /// UsageFault UNALIGNED.
    Unaligned,
    /// UsageFault DIVBYZERO.
    DivByZero,
    /// BusFault IBUSERR (instruction fetch).
    IBus,
    /// BusFault PRECISERR at an address.
    DBus(u32),
    /// BusFault UNSTKERR (exception return).
    Unstack,
    /// MemManage IACCVIOL (execution from an XN region).
    MemExec,
}

pub(crate) type Exec = Result<Event, Fault>;

const OK: Exec = Ok(Event::None);

impl Cpu {
    /// ConditionPassed (A7.3.1).
    #[inline(always)]
    pub(crate) fn cond(&self, c: u8) -> bool {
        let r = match c >> 1 {
            0 => self.z,
            1 => self.c,
            2 => self.n,
            3 => self.v,
            4 => self.c && !self.z,
            5 => self.n == self.v,
            6 => !self.z && self.n == self.v,
            _ => return true,
        };
        r ^ (c & 1 != 0)
    }

    /// Whether an instruction with set-flags field `s` sets flags here.
    #[inline(always)]
    pub(crate) fn sf(&self, s: u8) -> bool {
        s == SF_YES || (s == SF_OUT_IT && self.it_cur == 0)
    }

    #[inline(always)]
    pub(crate) fn set_nz(&mut self, v: u32) {
        self.n = v >> 31 != 0;
        self.z = v == 0;
    }

    /// Execute one decoded instruction. PC reads (r15) see the address + 4.
    #[inline(always)]
    /// The instruction is read from its decode-cache slot `idx`, each arm loading only the
    /// fields it uses.
    pub(crate) fn exec(&mut self, bus: &mut dyn Bus, idx: usize) -> Exec {
        match self.cache[idx & crate::CACHE_MASK].insn {
            Insn::DpImm {
                op,
                s,
                rd,
                rn,
                imm,
                carry,
            } => {
                let c = if carry == 2 { self.c } else { carry == 1 };
                self.dp(op, s, rd, self.r(rn), imm, c);
                OK
            }
            Insn::DpReg {
                op,
                s,
                rd,
                rn,
                rm,
                st,
                sn,
            } => {
                let (b, c) = shift_c(self.r(rm), st, sn as u32, self.c);
                self.dp(op, s, rd, self.r(rn), b, c);
                OK
            }
            Insn::ShiftReg { st, s, rd, rn, rm } => {
                let (v, c) = shift_c(self.r(rn), st, self.r(rm) & 0xFF, self.c);
                self.set(rd, v);
                if self.sf(s) {
                    self.set_nz(v);
                    self.c = c;
                }
                OK
            }
            Insn::MemImm {
                op,
                rt,
                rn,
                imm,
                add,
                index,
                wback,
            } => self.mem_imm(bus, op, rt, rn, imm as u32, add, index, wback),
            Insn::MemReg { op, rt, rn, rm, sh } => {
                let addr = self.r(rn).wrapping_add(self.r(rm) << sh);
                self.mem_single(bus, op, rt, addr)
            }
            Insn::MemLit { op, rt, addr } => self.mem_single(bus, op, rt, addr),
            Insn::MemT { op, rt, rn, imm } => {
                let addr = self.r(rn).wrapping_add(imm as u32);
                self.unpriv = true;
                let r = self.mem_single(bus, op, rt, addr);
                self.unpriv = false;
                r
            }
            Insn::B { cond, target } => {
                if cond >= 14 || self.cond(cond) {
                    self.next_pc = target;
                }
                self.end_block();
                OK
            }
            Insn::Bl { target } => {
                self.regs[14] = self.next_pc | 1;
                self.next_pc = target;
                self.end_block();
                OK
            }
            Insn::Cb { nz, rn, target } => {
                if (self.r(rn) != 0) == nz {
                    self.next_pc = target;
                }
                self.end_block();
                OK
            }
            Insn::Ldm {
                load,
                db,
                wback,
                rn,
                list,
            } => self.ldm(bus, load, db, wback, rn, list),
            Insn::MovW { rd, imm } => {
                self.set(rd, imm as u32);
                OK
            }
            Insn::MovT { rd, imm } => {
                let v = (self.r(rd) & 0xFFFF) | (imm as u32) << 16;
                self.set(rd, v);
                OK
            }
            Insn::Bx { rm, link } => self.bx(bus, rm, link),
            Insn::It { state } => {
                self.it = state;
                OK
            }
            Insn::Mul {
                op,
                s,
                f,
                rd,
                rn,
                rm,
                ra,
            } => self.mul(op, s, f, rd, rn, rm, ra),
            Insn::MulL {
                op,
                f,
                lo,
                hi,
                rn,
                rm,
            } => {
                self.mul_long(op, f, lo, hi, rn, rm);
                OK
            }
            Insn::Bfx {
                u,
                rd,
                rn,
                lsb,
                width,
            } => {
                self.bfx(u, rd, rn, lsb, width);
                OK
            }
            Insn::Bfi { rd, rn, lsb, msb } => {
                let src = self.r(rn);
                self.bfi(rd, src, lsb, msb);
                OK
            }
            Insn::Bfc { rd, lsb, msb } => {
                self.bfi(rd, 0, lsb, msb);
                OK
            }
            Insn::Sat {
                u,
                rd,
                rn,
                sat,
                st,
                sn,
            } => {
                self.sat(u, rd, rn, sat, st, sn);
                OK
            }
            Insn::Sat16 { u, rd, rn, sat } => {
                self.sat16(u, rd, rn, sat);
                OK
            }
            Insn::Ext {
                op,
                acc,
                rd,
                rn,
                rm,
                rot,
            } => {
                self.extend(op, acc, rd, rn, rm, rot);
                OK
            }
            Insn::Un { op, rd, rm } => {
                self.unop(op, rd, rm);
                OK
            }
            Insn::Par {
                pre,
                kind,
                rd,
                rn,
                rm,
            } => {
                self.parallel(pre, kind, rd, rn, rm);
                OK
            }
            Insn::Dsp { op, rd, rn, rm, f } => {
                self.dsp(op, rd, rn, rm, f);
                OK
            }
            Insn::MemD {
                load,
                rt,
                rt2,
                rn,
                imm,
                add,
                index,
                wback,
            } => self.mem_dual(bus, load, rt, rt2, rn, imm as u32, add, index, wback),
            Insn::Ldrex { size, rt, rn, imm } => self.ldrex(bus, size, rt, rn, imm),
            Insn::Strex {
                size,
                rd,
                rt,
                rn,
                imm,
            } => self.strex(bus, size, rd, rt, rn, imm),
            Insn::Clrex => {
                self.excl = None;
                OK
            }
            Insn::Tb { half, rn, rm } => self.table_branch(bus, half, rn, rm),
            Insn::Mrs { rd, sysm } => {
                let v = self.mrs(sysm);
                self.set(rd, v);
                OK
            }
            Insn::Msr { rn, sysm, mask } => {
                self.msr(self.r(rn), sysm, mask);
                OK
            }
            Insn::Cps { disable, i, f } => {
                self.cps(disable, i, f);
                OK
            }
            Insn::Svc => Ok(self.raise_sync(11)),
            Insn::Bkpt(imm) => {
                self.next_pc = self.regs[15].wrapping_sub(4);
                Ok(Event::Bkpt(imm))
            }
            Insn::Wfi => {
                self.end_block();
                Ok(Event::Wfi)
            }
            Insn::Wfe => {
                self.end_block();
                Ok(Event::Wfe)
            }
            Insn::Isb => {
                self.end_block();
                OK
            }
            Insn::Nop => OK,
            Insn::Undef(kind) => Err(if kind == UNDEF_NOCP {
                Fault::NoCp
            } else {
                Fault::Undef
            }),
        }
    }
}

/// Shift_C (A7.4.2): shift `v` by `n` of type `st`, with carry in `c`.
#[inline(always)]
pub(crate) fn shift_c(v: u32, st: u8, n: u32, c: bool) -> (u32, bool) {
    if n == 0 {
        return (v, c);
    }
    match st {
        LSL => {
            if n < 32 {
                (v << n, (v >> (32 - n)) & 1 != 0)
            } else if n == 32 {
                (0, v & 1 != 0)
            } else {
                (0, false)
            }
        }
        LSR => {
            if n < 32 {
                (v >> n, (v >> (n - 1)) & 1 != 0)
            } else if n == 32 {
                (0, v >> 31 != 0)
            } else {
                (0, false)
            }
        }
        ASR => {
            if n < 32 {
                (((v as i32) >> n) as u32, (v >> (n - 1)) & 1 != 0)
            } else {
                (((v as i32) >> 31) as u32, v >> 31 != 0)
            }
        }
        ROR => {
            let r = v.rotate_right(n & 31);
            (r, r >> 31 != 0)
        }
        _ => ((c as u32) << 31 | v >> 1, v & 1 != 0),
    }
}

/// AddWithCarry (A2.2.1): (result, carry, overflow).
#[inline(always)]
pub(crate) fn add_with_carry(x: u32, y: u32, c: bool) -> (u32, bool, bool) {
    let sum = x as u64 + y as u64 + c as u64;
    let r = sum as u32;
    let v = ((x ^ r) & (y ^ r)) >> 31 != 0;
    (r, sum >> 32 != 0, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifter_carry_out() {
        assert_eq!(shift_c(0x8000_0001, LSL, 1, false), (2, true));
        assert_eq!(shift_c(1, LSL, 32, false), (0, true));
        assert_eq!(shift_c(1, LSL, 33, true), (0, false));
        assert_eq!(shift_c(3, LSR, 1, false), (1, true));
        assert_eq!(shift_c(0x8000_0000, LSR, 32, false), (0, true));
        assert_eq!(shift_c(0x8000_0000, ASR, 40, false), (0xFFFF_FFFF, true));
        assert_eq!(shift_c(0x8000_0001, ROR, 32, false), (0x8000_0001, true));
        assert_eq!(shift_c(1, RRX, 1, true), (0x8000_0000, true));
        assert_eq!(shift_c(5, ROR, 0, true), (5, true));
    }

    #[test]
    fn add_with_carry_flags() {
        assert_eq!(add_with_carry(0xFFFF_FFFF, 1, false), (0, true, false));
        assert_eq!(
            add_with_carry(0x7FFF_FFFF, 1, false),
            (0x8000_0000, false, true)
        );
        // 5 - 3 = 5 + !3 + 1
        assert_eq!(add_with_carry(5, !3, true), (2, true, false));
        assert_eq!(add_with_carry(3, !5, true), (0xFFFF_FFFE, false, false));
        assert_eq!(
            add_with_carry(0x8000_0000, !1, true),
            (0x7FFF_FFFF, true, true)
        );
    }
}
