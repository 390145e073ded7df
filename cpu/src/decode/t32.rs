//! 32-bit Thumb instruction encoding (A5.3): the top-level split, data processing with
//! immediates and shifted registers, branches and miscellaneous control.

use super::t32_mem::{dual_exclusive, load_store_multiple, load_store_single};
use super::t32_reg::{data_processing_reg, long_multiply, multiply};
use super::*;

/// Decode one 32-bit instruction (first halfword `hw1`) at `pc`.
pub(crate) fn decode32(hw1: u16, hw2: u16, pc: u32, v6m: bool) -> Insn {
    let a = hw1 as u32;
    let b = hw2 as u32;
    let op1 = (a >> 11) & 3;
    let op2 = (a >> 4) & 0x7F;
    if v6m {
        // ARMv6-M A5.3: BL, MSR, MRS, DMB, DSB, ISB (and UDF.W) only.
        return if op1 == 2 && b & 0x8000 != 0 {
            branch_misc(a, b, pc, true)
        } else {
            UNDEF
        };
    }
    match op1 {
        1 => {
            if op2 & 0x64 == 0 {
                load_store_multiple(a, b)
            } else if op2 & 0x64 == 4 {
                dual_exclusive(a, b)
            } else if op2 & 0x60 == 0x20 {
                dp_shifted_reg(a, b)
            } else {
                coprocessor(a)
            }
        }
        2 => {
            if b & 0x8000 != 0 {
                branch_misc(a, b, pc, false)
            } else if op2 & 0x20 == 0 {
                dp_modified_imm(a, b)
            } else {
                dp_plain_imm(a, b, pc)
            }
        }
        _ => {
            if op2 & 0x40 != 0 {
                coprocessor(a)
            } else if op2 & 0x71 == 0 || (op2 & 0x61 == 1 && op2 & 6 != 6) {
                load_store_single(a, b, pc)
            } else if op2 & 0x70 == 0x20 {
                data_processing_reg(a, b)
            } else if op2 & 0x78 == 0x30 {
                multiply(a, b)
            } else if op2 & 0x78 == 0x38 {
                long_multiply(a, b)
            } else {
                UNDEF
            }
        }
    }
}

/// A5.3.18 coprocessor instructions: no coprocessor is present (NOCP), but op1 = 11xxxx
/// is UNDEFINED (QEMU also reports 00000x as NOCP).
fn coprocessor(a: u32) -> Insn {
    let op1 = (a >> 4) & 0x3F;
    if op1 >> 4 == 3 {
        UNDEF
    } else {
        Insn::Undef(UNDEF_NOCP)
    }
}

/// The shared opcode table of A5.3.1 and A5.3.11: (op, rd, rn, s) or None when undefined.
fn dp_op(op: u32, s: bool, rd: u8, rn: u8) -> Option<(DpOp, u8, u8, u8)> {
    let sf = if s { SF_YES } else { SF_NO };
    let test = rd == 15 && s;
    Some(match op {
        0 if test => (DpOp::Tst, 0, rn, SF_YES),
        0 => (DpOp::And, rd, rn, sf),
        1 => (DpOp::Bic, rd, rn, sf),
        2 if rn == 15 => (DpOp::Mov, rd, 0, sf),
        2 => (DpOp::Orr, rd, rn, sf),
        3 if rn == 15 => (DpOp::Mvn, rd, 0, sf),
        3 => (DpOp::Orn, rd, rn, sf),
        4 if test => (DpOp::Teq, 0, rn, SF_YES),
        4 => (DpOp::Eor, rd, rn, sf),
        8 if test => (DpOp::Cmn, 0, rn, SF_YES),
        8 => (DpOp::Add, rd, rn, sf),
        10 => (DpOp::Adc, rd, rn, sf),
        11 => (DpOp::Sbc, rd, rn, sf),
        13 if test => (DpOp::Cmp, 0, rn, SF_YES),
        13 => (DpOp::Sub, rd, rn, sf),
        14 => (DpOp::Rsb, rd, rn, sf),
        _ => return None,
    })
}

/// ThumbExpandImm_C (A5.3.2): the constant and its carry out (2 = carry unchanged).
pub(crate) fn thumb_expand_imm(imm12: u32) -> (u32, u8) {
    let imm8 = imm12 & 0xFF;
    if imm12 >> 10 == 0 {
        let v = match (imm12 >> 8) & 3 {
            0 => imm8,
            1 => imm8 << 16 | imm8,
            2 => imm8 << 24 | imm8 << 8,
            _ => imm8 * 0x0101_0101,
        };
        (v, 2)
    } else {
        let v = (0x80 | (imm12 & 0x7F)).rotate_right(imm12 >> 7);
        (v, (v >> 31) as u8)
    }
}

/// A5.3.1 data processing (modified immediate).
fn dp_modified_imm(a: u32, b: u32) -> Insn {
    let imm12 = ((a >> 10) & 1) << 11 | ((b >> 12) & 7) << 8 | (b & 0xFF);
    let (imm, carry) = thumb_expand_imm(imm12);
    let rd = ((b >> 8) & 0xF) as u8;
    let rn = (a & 0xF) as u8;
    match dp_op((a >> 5) & 0xF, a & 0x10 != 0, rd, rn) {
        Some((op, rd, rn, s)) => Insn::DpImm {
            op,
            s,
            rd,
            rn,
            imm,
            carry,
        },
        None => UNDEF,
    }
}

/// A5.3.11 data processing (shifted register), PKHBT/PKHTB included.
fn dp_shifted_reg(a: u32, b: u32) -> Insn {
    let imm5 = ((b >> 12) & 7) << 2 | ((b >> 6) & 3);
    let typ = (b >> 4) & 3;
    let (st, sn) = imm_shift(typ, imm5);
    let rd = ((b >> 8) & 0xF) as u8;
    let rn = (a & 0xF) as u8;
    let rm = (b & 0xF) as u8;
    let op = (a >> 5) & 0xF;
    if op == 6 {
        // A7.7.93 PKHBT, PKHTB
        if a & 0x10 != 0 || typ & 1 != 0 {
            return UNDEF;
        }
        let op = if typ & 2 != 0 {
            DspOp::Pkhtb
        } else {
            DspOp::Pkhbt
        };
        return Insn::Dsp {
            op,
            rd,
            rn,
            rm,
            f: sn,
        };
    }
    match dp_op(op, a & 0x10 != 0, rd, rn) {
        Some((op, rd, rn, s)) => Insn::DpReg {
            op,
            s,
            rd,
            rn,
            rm,
            st,
            sn,
        },
        None => UNDEF,
    }
}

/// A5.3.3 data processing (plain binary immediate).
fn dp_plain_imm(a: u32, b: u32, pc: u32) -> Insn {
    let rn = (a & 0xF) as u8;
    let rd = ((b >> 8) & 0xF) as u8;
    let i = (a >> 10) & 1;
    let imm3 = (b >> 12) & 7;
    let imm12 = i << 11 | imm3 << 8 | (b & 0xFF);
    let imm16 = ((a & 0xF) << 12 | imm12) as u16;
    let lsb = (imm3 << 2 | ((b >> 6) & 3)) as u8;
    let low5 = (b & 0x1F) as u8;
    let base = pc.wrapping_add(4) & !3;
    let dpimm = |op, rn, imm| Insn::DpImm {
        op,
        s: SF_NO,
        rd,
        rn,
        imm,
        carry: 2,
    };
    // Saturates and bitfields have hw1[10] = 0 and hw2[5] = 0 (UNDEFINED otherwise, as QEMU).
    let op = (a >> 4) & 0x1F;
    if op >= 0x10 && (a & 0x400 != 0 || b & 0x20 != 0) {
        return UNDEF;
    }
    // SSAT16 / USAT16: sh = 1 and imm3:imm2:hw2[5:4] all zero.
    let sat16 = lsb == 0 && b & 0x10 == 0;
    let sat = |u: bool, sat: u8| {
        let st = if a & 0x20 != 0 { ASR } else { LSL };
        // ASR #0 (bits 5:4 of an SSAT16/USAT16 encoding set) shifts nothing, as in QEMU.
        let sn = lsb;
        Insn::Sat {
            u,
            rd,
            rn,
            sat,
            st,
            sn,
        }
    };
    match op {
        // A7.7.7 ADR T3, A7.7.3 ADDW
        0x00 if rn == 15 => dpimm(DpOp::Mov, 0, base.wrapping_add(imm12)),
        0x00 => dpimm(DpOp::Add, rn, imm12),
        0x04 => Insn::MovW { rd, imm: imm16 },
        // ADR T2, SUBW
        0x0A if rn == 15 => dpimm(DpOp::Mov, 0, base.wrapping_sub(imm12)),
        0x0A => dpimm(DpOp::Sub, rn, imm12),
        0x0C => Insn::MovT { rd, imm: imm16 },
        0x12 if sat16 => Insn::Sat16 {
            u: false,
            rd,
            rn,
            sat: (low5 & 0xF) + 1,
        },
        0x10 | 0x12 => sat(false, low5 + 1),
        // lsb + width > 32 is UNPREDICTABLE: UNDEFINED here (as QEMU).
        0x14 | 0x1C if lsb as u32 + low5 as u32 + 1 > 32 => UNDEF,
        0x14 => Insn::Bfx {
            u: false,
            rd,
            rn,
            lsb,
            width: low5 + 1,
        },
        // msb < lsb is UNPREDICTABLE: UNDEFINED here (as QEMU).
        0x16 if low5 < lsb => UNDEF,
        0x16 if rn == 15 => Insn::Bfc { rd, lsb, msb: low5 },
        0x16 => Insn::Bfi {
            rd,
            rn,
            lsb,
            msb: low5,
        },
        0x1A if sat16 => Insn::Sat16 {
            u: true,
            rd,
            rn,
            sat: low5 & 0xF,
        },
        0x18 | 0x1A => sat(true, low5),
        0x1C => Insn::Bfx {
            u: true,
            rd,
            rn,
            lsb,
            width: low5 + 1,
        },
        _ => UNDEF,
    }
}

/// A5.3.4 branches and miscellaneous control.
fn branch_misc(a: u32, b: u32, pc: u32, v6m: bool) -> Insn {
    let op1 = (b >> 12) & 7;
    let op = (a >> 4) & 0x7F;
    let s = (a >> 10) & 1;
    let j1 = (b >> 13) & 1;
    let j2 = (b >> 11) & 1;
    let pc4 = pc.wrapping_add(4);
    if op1 & 5 == 0 {
        if op & 0x38 != 0x38 {
            if v6m {
                return UNDEF;
            }
            // A7.7.12 B T3
            let imm = s << 20 | j2 << 19 | j1 << 18 | (a & 0x3F) << 12 | (b & 0x7FF) << 1;
            return Insn::B {
                cond: ((a >> 6) & 0xF) as u8,
                target: pc4.wrapping_add(sext(imm, 21)),
            };
        }
        return match op {
            // B5.2.3 MSR: R = 0 and the (0) bits of hw2 (as QEMU checks them)
            0x38 if b & 0x7300 == 0 => Insn::Msr {
                rn: (a & 0xF) as u8,
                sysm: b as u8,
                mask: ((b >> 10) & 3) as u8,
            },
            // A7.7.x hints: 1111 0011 1010 1111 1000 0000 op
            0x3A if !v6m && a & 0xF == 0xF && b & 0x7F00 == 0 => match b & 0xFF {
                2 => Insn::Wfe,
                3 => Insn::Wfi,
                _ => Insn::Nop,
            },
            // A5.3.4 miscellaneous control: 1111 0011 1011 1111 1000 1111 op option
            0x3B if a & 0xF == 0xF && b & 0x7F00 == 0x0F00 => match (b >> 4) & 0xF {
                2 if !v6m => Insn::Clrex,
                4 | 5 => Insn::Nop,
                6 => Insn::Isb,
                _ => UNDEF,
            },
            // B5.2.2 MRS: 1111 0011 1110 1111 1000 rd SYSm
            0x3E if a & 0xF == 0xF && b & 0x7000 == 0 => Insn::Mrs {
                rd: ((b >> 8) & 0xF) as u8,
                sysm: b as u8,
            },
            _ => UNDEF,
        };
    }
    let i1 = !(j1 ^ s) & 1;
    let i2 = !(j2 ^ s) & 1;
    let imm = s << 24 | i1 << 23 | i2 << 22 | (a & 0x3FF) << 12 | (b & 0x7FF) << 1;
    let target = pc4.wrapping_add(sext(imm, 25));
    match op1 & 5 {
        // A7.7.12 B T4
        1 if !v6m => Insn::B { cond: 14, target },
        // A7.7.18 BL
        5 => Insn::Bl { target },
        _ => UNDEF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_modified_immediates() {
        assert_eq!(thumb_expand_imm(0x0AB), (0xAB, 2));
        assert_eq!(thumb_expand_imm(0x1AB), (0x00AB_00AB, 2));
        assert_eq!(thumb_expand_imm(0x2AB), (0xAB00_AB00, 2));
        assert_eq!(thumb_expand_imm(0x3AB), (0xABAB_ABAB, 2));
        // 0x4FF: rotate 1:1111111 right by 9 -> 0x7F800000
        assert_eq!(thumb_expand_imm(0x4FF), (0x7F80_0000, 0));
        assert_eq!(thumb_expand_imm(0x400), (0x8000_0000, 1));
    }

    #[test]
    fn decodes_bl_and_movw() {
        // bl .+4 at 0: f000 f800
        assert_eq!(decode32(0xF000, 0xF800, 0, false), Insn::Bl { target: 4 });
        assert_eq!(decode32(0xF000, 0xF800, 0, true), Insn::Bl { target: 4 });
        // movw r0, #0x1234: f241 2034
        assert_eq!(
            decode32(0xF241, 0x2034, 0, false),
            Insn::MovW { rd: 0, imm: 0x1234 }
        );
        assert_eq!(decode32(0xF241, 0x2034, 0, true), UNDEF);
        // vadd.f32 s0, s0, s0: ee30 0a00 -> NOCP
        assert_eq!(decode32(0xEE30, 0x0A00, 0, false), Insn::Undef(UNDEF_NOCP));
    }
}
