//! The DSP extension's non-multiply instructions: the parallel add/subtract family
//! (A5.3.13, A5.3.14: S/Q/SH/U/UQ/UH ADD8, ADD16, ASX, SAX, SUB8, SUB16) with the GE flags,
//! QADD/QSUB/QDADD/QDSUB (A7.7.100 ...), SEL (A7.7.125), PKHBT/PKHTB (A7.7.93).

use super::dp::{ssat, usat};
use crate::Cpu;
use crate::decode::DspOp;

impl Cpu {
    /// `pre`: 0 S, 1 Q, 2 SH, 3 U, 4 UQ, 5 UH; `kind` (hw1[6:4]): 0 ADD8, 1 ADD16, 2 ASX,
    /// 4 SUB8, 5 SUB16, 6 SAX.
    pub(crate) fn parallel(&mut self, pre: u8, kind: u8, rd: u8, rn: u8, rm: u8) {
        let a = self.r(rn);
        let b = self.r(rm);
        let signed = pre < 3;
        let bytes = kind & 3 == 0;
        let (w, lanes) = if bytes { (8, 4) } else { (16, 2) };
        let lane = |v: u32, i: u32| -> i64 {
            let x = (v >> (w * i)) & ((1 << w) - 1);
            if signed {
                ((x << (32 - w)) as i32 >> (32 - w)) as i64
            } else {
                x as i64
            }
        };
        let mut out = 0u32;
        let mut ge = 0u8;
        for i in 0..lanes {
            // (lane result, whether the lane is an addition)
            let (r, is_add) = match kind {
                0 | 1 => (lane(a, i) + lane(b, i), true),
                4 | 5 => (lane(a, i) - lane(b, i), false),
                2 if i == 0 => (lane(a, 0) - lane(b, 1), false),
                2 => (lane(a, 1) + lane(b, 0), true),
                _ if i == 0 => (lane(a, 0) + lane(b, 1), true),
                _ => (lane(a, 1) - lane(b, 0), false),
            };
            let (v, g) = match pre {
                0 => (r as u32, r >= 0),
                1 => (ssat(r, w).0, false),
                2 | 5 => ((r >> 1) as u32, false),
                3 => (r as u32, if is_add { r >= 1 << w } else { r >= 0 }),
                _ => (usat(r, w).0, false),
            };
            out |= (v & ((1 << w) - 1)) << (w * i);
            if g {
                ge |= if bytes { 1 << i } else { 3 << (2 * i) };
            }
        }
        if pre == 0 || pre == 3 {
            self.ge = ge;
        }
        self.set(rd, out);
    }

    pub(crate) fn dsp(&mut self, op: DspOp, rd: u8, rn: u8, rm: u8, f: u8) {
        let a = self.r(rn);
        let b = self.r(rm);
        let sat = |v: i64| ssat(v, 32);
        let r = match op {
            // QADD Rd, Rm, Rn: sat(R[m] + R[n]); QDADD doubles R[n] first.
            DspOp::Qadd | DspOp::Qsub | DspOp::Qdadd | DspOp::Qdsub => {
                let (n, q1) = if matches!(op, DspOp::Qdadd | DspOp::Qdsub) {
                    sat(2 * a as i32 as i64)
                } else {
                    (a, false)
                };
                let m = b as i32 as i64;
                let n = n as i32 as i64;
                let (r, q2) = if matches!(op, DspOp::Qadd | DspOp::Qdadd) {
                    sat(m + n)
                } else {
                    sat(m - n)
                };
                self.q |= q1 | q2;
                r
            }
            DspOp::Sel => {
                let mut r = 0;
                for i in 0..4 {
                    let src = if self.ge & (1 << i) != 0 { a } else { b };
                    r |= src & (0xFF << (8 * i));
                }
                r
            }
            DspOp::Pkhbt => (a & 0xFFFF) | (b << (f as u32 & 31)) & 0xFFFF_0000,
            DspOp::Pkhtb => {
                let sh = (f as u32).min(31);
                (a & 0xFFFF_0000) | ((b as i32 >> sh) as u32 & 0xFFFF)
            }
        };
        self.set(rd, r);
    }
}
