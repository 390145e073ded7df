//! Multiplies and divides: MUL, MLA, MLS, SDIV, UDIV (A7.7.84, 74, 75, 127, 195), the
//! long multiplies (SMULL, UMULL, SMLAL, UMLAL, UMAAL) and the DSP multiplies (SMULxy,
//! SMLAxy, SMULWy, SMLAWy, SMUAD, SMLAD, SMUSD, SMLSD, SMMUL, SMMLA, SMMLS, SMLALxy,
//! SMLALD, SMLSLD, USAD8, USADA8).

use super::{Exec, Fault, OK};
use crate::Cpu;
use crate::decode::{MulLOp, MulOp};
use crate::scs::CCR_DIV_0_TRP;

fn half(v: u32, top: bool) -> i64 {
    (if top { v >> 16 } else { v }) as u16 as i16 as i64
}

/// Whether a 64-bit result does not fit a signed 32-bit register (sets Q).
fn overflows(v: i64) -> bool {
    v != v as i32 as i64
}

impl Cpu {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn mul(&mut self, op: MulOp, s: u8, f: u8, rd: u8, rn: u8, rm: u8, ra: u8) -> Exec {
        let a = self.r(rn);
        let b = self.r(rm);
        let acc = self.r(ra);
        let nt = f & 2 != 0; // N: top half of rn
        let mt = f & 1 != 0; // M: top half of rm (also X and R)
        let r = match op {
            MulOp::Mul => {
                let r = a.wrapping_mul(b);
                if self.sf(s) {
                    self.set_nz(r);
                }
                r
            }
            MulOp::Mla => a.wrapping_mul(b).wrapping_add(acc),
            MulOp::Mls => acc.wrapping_sub(a.wrapping_mul(b)),
            MulOp::Sdiv | MulOp::Udiv => {
                if b == 0 {
                    if self.scs.ccr & CCR_DIV_0_TRP != 0 {
                        return Err(Fault::DivByZero);
                    }
                    0
                } else if op == MulOp::Sdiv {
                    (a as i32).wrapping_div(b as i32) as u32
                } else {
                    a / b
                }
            }
            MulOp::Smulxy | MulOp::Smlaxy => {
                let p = half(a, nt) * half(b, mt);
                if op == MulOp::Smulxy {
                    p as u32
                } else {
                    let r = p + acc as i32 as i64;
                    self.q |= overflows(r);
                    r as u32
                }
            }
            MulOp::Smulwy | MulOp::Smlawy => {
                let p = a as i32 as i64 * half(b, mt);
                if op == MulOp::Smulwy {
                    (p >> 16) as u32
                } else {
                    let r = (p + ((acc as i32 as i64) << 16)) >> 16;
                    self.q |= overflows(r);
                    r as u32
                }
            }
            MulOp::Smuad | MulOp::Smlad | MulOp::Smusd | MulOp::Smlsd => {
                let b = if mt { b.rotate_right(16) } else { b };
                let p1 = half(a, false) * half(b, false);
                let p2 = half(a, true) * half(b, true);
                let sum = if matches!(op, MulOp::Smuad | MulOp::Smlad) {
                    p1 + p2
                } else {
                    p1 - p2
                };
                let r = if matches!(op, MulOp::Smlad | MulOp::Smlsd) {
                    sum + acc as i32 as i64
                } else {
                    sum
                };
                self.q |= overflows(r);
                r as u32
            }
            MulOp::Smmul | MulOp::Smmla | MulOp::Smmls => {
                let p = a as i32 as i64 * b as i32 as i64;
                let base = match op {
                    MulOp::Smmul => p,
                    MulOp::Smmla => ((acc as i64) << 32).wrapping_add(p),
                    _ => ((acc as i64) << 32).wrapping_sub(p),
                };
                let round = if mt { 0x8000_0000 } else { 0 };
                (base.wrapping_add(round) >> 32) as u32
            }
            MulOp::Usad8 | MulOp::Usada8 => {
                let mut sum = if op == MulOp::Usada8 { acc } else { 0 };
                for i in 0..4 {
                    let x = (a >> (8 * i)) & 0xFF;
                    let y = (b >> (8 * i)) & 0xFF;
                    sum = sum.wrapping_add(x.abs_diff(y));
                }
                sum
            }
        };
        self.set(rd, r);
        OK
    }

    pub(crate) fn mul_long(&mut self, op: MulLOp, f: u8, lo: u8, hi: u8, rn: u8, rm: u8) {
        let a = self.r(rn);
        let b = self.r(rm);
        let acc = ((self.r(hi) as u64) << 32) | self.r(lo) as u64;
        let r: u64 = match op {
            MulLOp::Smull => (a as i32 as i64 * b as i32 as i64) as u64,
            MulLOp::Umull => a as u64 * b as u64,
            MulLOp::Smlal => ((a as i32 as i64 * b as i32 as i64) as u64).wrapping_add(acc),
            MulLOp::Umlal => (a as u64 * b as u64).wrapping_add(acc),
            MulLOp::Umaal => (a as u64 * b as u64)
                .wrapping_add(self.r(lo) as u64)
                .wrapping_add(self.r(hi) as u64),
            MulLOp::Smlalxy => {
                let p = half(a, f & 2 != 0) * half(b, f & 1 != 0);
                (p as u64).wrapping_add(acc)
            }
            MulLOp::Smlald | MulLOp::Smlsld => {
                let b = if f & 1 != 0 { b.rotate_right(16) } else { b };
                let p1 = half(a, false) * half(b, false);
                let p2 = half(a, true) * half(b, true);
                let d = if op == MulLOp::Smlald {
                    p1 + p2
                } else {
                    p1 - p2
                };
                (d as u64).wrapping_add(acc)
            }
        };
        self.set(lo, r as u32);
        self.set(hi, (r >> 32) as u32);
    }
}
