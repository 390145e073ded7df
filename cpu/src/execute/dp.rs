//! Data processing: the ALU operations (A7.7 AND ... RSB), bitfields (A7.7.13 BFC,
//! A7.7.14 BFI, A7.7.126 SBFX, A7.7.193 UBFX), saturation (A7.7.145 SSAT, A7.7.146 SSAT16,
//! A7.7.213 USAT, A7.7.214 USAT16), extends and one-register operations (REV, RBIT, CLZ).

use super::add_with_carry;
use crate::Cpu;
use crate::decode::*;

impl Cpu {
    /// rd = a op b with shifter carry `carry`; compares and tests only set flags.
    #[inline(always)]
    pub(crate) fn dp(&mut self, op: DpOp, s: u8, rd: u8, a: u32, b: u32, carry: bool) {
        let (r, cv) = match op {
            DpOp::And | DpOp::Tst => (a & b, None),
            DpOp::Bic => (a & !b, None),
            DpOp::Orr => (a | b, None),
            DpOp::Orn => (a | !b, None),
            DpOp::Eor | DpOp::Teq => (a ^ b, None),
            DpOp::Mov => (b, None),
            DpOp::Mvn => (!b, None),
            DpOp::Add | DpOp::Cmn => {
                let (r, c, v) = add_with_carry(a, b, false);
                (r, Some((c, v)))
            }
            DpOp::Adc => {
                let (r, c, v) = add_with_carry(a, b, self.c);
                (r, Some((c, v)))
            }
            DpOp::Sub | DpOp::Cmp => {
                let (r, c, v) = add_with_carry(a, !b, true);
                (r, Some((c, v)))
            }
            DpOp::Sbc => {
                let (r, c, v) = add_with_carry(a, !b, self.c);
                (r, Some((c, v)))
            }
            DpOp::Rsb => {
                let (r, c, v) = add_with_carry(!a, b, true);
                (r, Some((c, v)))
            }
        };
        if !matches!(op, DpOp::Tst | DpOp::Teq | DpOp::Cmp | DpOp::Cmn) {
            self.set(rd, r);
        }
        if self.sf(s) {
            self.set_nz(r);
            match cv {
                Some((c, v)) => {
                    self.c = c;
                    self.v = v;
                }
                None => self.c = carry,
            }
        }
    }

    pub(crate) fn bfx(&mut self, u: bool, rd: u8, rn: u8, lsb: u8, width: u8) {
        let (lsb, width) = (lsb as u32, width as u32);
        if lsb + width > 32 {
            return; // UNPREDICTABLE: leave rd alone
        }
        let v = self.r(rn) << (32 - lsb - width);
        let r = if u {
            (v as u64 >> (32 - width)) as u32
        } else {
            ((v as i32 as i64) >> (32 - width)) as u32
        };
        self.set(rd, r);
    }

    pub(crate) fn bfi(&mut self, rd: u8, src: u32, lsb: u8, msb: u8) {
        if msb < lsb {
            return; // UNPREDICTABLE
        }
        let width = (msb - lsb + 1) as u32;
        let mask = (((1u64 << width) - 1) << lsb) as u32;
        let v = (self.r(rd) & !mask) | ((src << lsb) & mask);
        self.set(rd, v);
    }

    pub(crate) fn sat(&mut self, u: bool, rd: u8, rn: u8, sat: u8, st: u8, sn: u8) {
        let (v, _) = super::shift_c(self.r(rn), st, sn as u32, self.c);
        let (r, q) = if u {
            usat(v as i32 as i64, sat as u32)
        } else {
            ssat(v as i32 as i64, sat as u32)
        };
        self.set(rd, r);
        self.q |= q;
    }

    pub(crate) fn sat16(&mut self, u: bool, rd: u8, rn: u8, sat: u8) {
        let v = self.r(rn);
        let mut out = 0;
        let mut q = false;
        for i in 0..2 {
            let h = (v >> (16 * i)) as u16 as i16 as i64;
            let (r, qq) = if u {
                usat(h, sat as u32)
            } else {
                ssat(h, sat as u32)
            };
            out |= (r & 0xFFFF) << (16 * i);
            q |= qq;
        }
        self.set(rd, out);
        self.q |= q;
    }

    pub(crate) fn extend(&mut self, op: ExtOp, acc: bool, rd: u8, rn: u8, rm: u8, rot: u8) {
        let v = self.r(rm).rotate_right(rot as u32);
        let base = if acc { self.r(rn) } else { 0 };
        let r = match op {
            ExtOp::Sxtb => base.wrapping_add(v as u8 as i8 as u32),
            ExtOp::Sxth => base.wrapping_add(v as u16 as i16 as u32),
            ExtOp::Uxtb => base.wrapping_add(v & 0xFF),
            ExtOp::Uxth => base.wrapping_add(v & 0xFFFF),
            ExtOp::Sxtb16 | ExtOp::Uxtb16 => {
                let lane = |x: u32| {
                    if op == ExtOp::Sxtb16 {
                        x as u8 as i8 as u32
                    } else {
                        x & 0xFF
                    }
                };
                let lo = base.wrapping_add(lane(v)) & 0xFFFF;
                let hi = (base >> 16).wrapping_add(lane(v >> 16)) & 0xFFFF;
                hi << 16 | lo
            }
        };
        self.set(rd, r);
    }

    pub(crate) fn unop(&mut self, op: UnOp, rd: u8, rm: u8) {
        let v = self.r(rm);
        let r = match op {
            UnOp::Rev => v.swap_bytes(),
            UnOp::Rev16 => ((v >> 8) & 0x00FF_00FF) | ((v << 8) & 0xFF00_FF00),
            UnOp::Revsh => (v as u16).swap_bytes() as i16 as u32,
            UnOp::Rbit => v.reverse_bits(),
            UnOp::Clz => v.leading_zeros(),
        };
        self.set(rd, r);
    }
}

/// SignedSatQ (A2.2.3) to `n` bits (1..=32): (result, saturated).
pub(crate) fn ssat(v: i64, n: u32) -> (u32, bool) {
    let n = n.clamp(1, 32);
    let max = (1i64 << (n - 1)) - 1;
    let min = -(1i64 << (n - 1));
    if v > max {
        (max as u32, true)
    } else if v < min {
        (min as u32, true)
    } else {
        (v as u32, false)
    }
}

/// UnsignedSatQ (A2.2.3) to `n` bits (0..=31): (result, saturated).
pub(crate) fn usat(v: i64, n: u32) -> (u32, bool) {
    let max = (1i64 << n.min(32)) - 1;
    if v > max {
        (max as u32, true)
    } else if v < 0 {
        (0, true)
    } else {
        (v as u32, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_helpers() {
        assert_eq!(ssat(200, 8), (127, true));
        assert_eq!(ssat(-200, 8), (-128i32 as u32, true));
        assert_eq!(ssat(5, 8), (5, false));
        assert_eq!(ssat(1 << 40, 32), (0x7FFF_FFFF, true));
        assert_eq!(usat(-1, 8), (0, true));
        assert_eq!(usat(300, 8), (255, true));
        assert_eq!(usat(7, 0), (0, true));
    }
}
