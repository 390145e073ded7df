//! 32-bit data processing (register) (A5.3.12-A5.3.15) and the multiplies (A5.3.16,
//! A5.3.17).

use super::*;

/// A5.3.12 data processing (register): shifts by register, extends, parallel add/sub,
/// miscellaneous operations.
pub(super) fn data_processing_reg(a: u32, b: u32) -> Insn {
    if b >> 12 != 0xF {
        return UNDEF;
    }
    let op1 = (a >> 4) & 0xF;
    let op2 = (b >> 4) & 0xF;
    let rn = (a & 0xF) as u8;
    let rd = ((b >> 8) & 0xF) as u8;
    let rm = (b & 0xF) as u8;
    if op1 & 8 == 0 {
        if op2 == 0 {
            // A7.7.68 LSL, LSR, ASR, ROR (register)
            return Insn::ShiftReg {
                st: ((op1 >> 1) & 3) as u8,
                s: if op1 & 1 != 0 { SF_YES } else { SF_NO },
                rd,
                rn,
                rm,
            };
        }
        if op2 & 0xC != 8 {
            return UNDEF;
        }
        let op = match op1 {
            0 => ExtOp::Sxth,
            1 => ExtOp::Uxth,
            2 => ExtOp::Sxtb16,
            3 => ExtOp::Uxtb16,
            4 => ExtOp::Sxtb,
            5 => ExtOp::Uxtb,
            _ => return UNDEF,
        };
        return Insn::Ext {
            op,
            acc: rn != 15,
            rd,
            rn,
            rm,
            rot: (((b >> 4) & 3) * 8) as u8,
        };
    }
    let kind = (op1 & 7) as u8;
    match op2 >> 2 {
        // A5.3.13 / A5.3.14 parallel addition and subtraction, signed and unsigned
        0 | 1 if op2 & 3 != 3 && kind & 3 != 3 => Insn::Par {
            pre: ((op2 >> 2) * 3 + (op2 & 3)) as u8,
            kind,
            rd,
            rn,
            rm,
        },
        // A5.3.15 miscellaneous operations
        2 if op1 & 0xC == 8 => {
            let dsp = |op| Insn::Dsp {
                op,
                rd,
                rn,
                rm,
                f: 0,
            };
            let un = |op| Insn::Un { op, rd, rm };
            match (op1 & 3, op2 & 3) {
                (0, 0) => dsp(DspOp::Qadd),
                (0, 1) => dsp(DspOp::Qdadd),
                (0, 2) => dsp(DspOp::Qsub),
                (0, 3) => dsp(DspOp::Qdsub),
                (1, 0) => un(UnOp::Rev),
                (1, 1) => un(UnOp::Rev16),
                (1, 2) => un(UnOp::Rbit),
                (1, 3) => un(UnOp::Revsh),
                (2, 0) => dsp(DspOp::Sel),
                (3, 0) => un(UnOp::Clz),
                _ => UNDEF,
            }
        }
        _ => UNDEF,
    }
}

/// A5.3.16 multiply, multiply accumulate, and absolute difference.
pub(super) fn multiply(a: u32, b: u32) -> Insn {
    if b & 0xC0 != 0 {
        return UNDEF;
    }
    let op2 = ((b >> 4) & 3) as u8;
    let ra = ((b >> 12) & 0xF) as u8;
    let acc = ra != 15;
    let pick = |with: MulOp, without: MulOp| if acc { with } else { without };
    let (op, f) = match ((a >> 4) & 7, op2) {
        (0, 0) => (pick(MulOp::Mla, MulOp::Mul), 0),
        (0, 1) => (MulOp::Mls, 0),
        (1, _) => (pick(MulOp::Smlaxy, MulOp::Smulxy), op2),
        (2, 0 | 1) => (pick(MulOp::Smlad, MulOp::Smuad), op2),
        (3, 0 | 1) => (pick(MulOp::Smlawy, MulOp::Smulwy), op2),
        (4, 0 | 1) => (pick(MulOp::Smlsd, MulOp::Smusd), op2),
        (5, 0 | 1) => (pick(MulOp::Smmla, MulOp::Smmul), op2),
        (6, 0 | 1) => (pick(MulOp::Smmls, MulOp::Smmul), op2),
        (7, 0) => (pick(MulOp::Usada8, MulOp::Usad8), 0),
        _ => return UNDEF,
    };
    Insn::Mul {
        op,
        s: SF_NO,
        f,
        rd: ((b >> 8) & 0xF) as u8,
        rn: (a & 0xF) as u8,
        rm: (b & 0xF) as u8,
        ra,
    }
}

/// A5.3.17 long multiply, long multiply accumulate, and divide.
pub(super) fn long_multiply(a: u32, b: u32) -> Insn {
    let op2 = (b >> 4) & 0xF;
    let lo = ((b >> 12) & 0xF) as u8;
    let hi = ((b >> 8) & 0xF) as u8;
    let rn = (a & 0xF) as u8;
    let rm = (b & 0xF) as u8;
    // SDIV, UDIV: hw2[15:12] is (1)(1)(1)(1); otherwise UNDEFINED here (as QEMU).
    let div = |op| {
        if lo != 15 {
            UNDEF
        } else {
            Insn::Mul {
                op,
                s: SF_NO,
                f: 0,
                rd: hi,
                rn,
                rm,
                ra: 0,
            }
        }
    };
    let (op, f) = match ((a >> 4) & 7, op2) {
        (0, 0) => (MulLOp::Smull, 0),
        (1, 0xF) => return div(MulOp::Sdiv),
        (2, 0) => (MulLOp::Umull, 0),
        (3, 0xF) => return div(MulOp::Udiv),
        (4, 0) => (MulLOp::Smlal, 0),
        (4, 8..=0xB) => (MulLOp::Smlalxy, (op2 & 3) as u8),
        (4, 0xC | 0xD) => (MulLOp::Smlald, (op2 & 1) as u8),
        (5, 0xC | 0xD) => (MulLOp::Smlsld, (op2 & 1) as u8),
        (6, 0) => (MulLOp::Umlal, 0),
        (6, 6) => (MulLOp::Umaal, 0),
        _ => return UNDEF,
    };
    Insn::MulL {
        op,
        f,
        lo,
        hi,
        rn,
        rm,
    }
}

#[cfg(test)]
mod tests {
    use super::super::decode32;
    use super::*;

    #[test]
    fn decodes_register_forms() {
        // uadd8 r0, r1, r2: fa81 f042
        assert_eq!(
            decode32(0xFA81, 0xF042, 0, false),
            Insn::Par {
                pre: 3,
                kind: 0,
                rd: 0,
                rn: 1,
                rm: 2
            }
        );
        // sel r0, r1, r2: faa1 f082
        assert_eq!(
            decode32(0xFAA1, 0xF082, 0, false),
            Insn::Dsp {
                op: DspOp::Sel,
                rd: 0,
                rn: 1,
                rm: 2,
                f: 0
            }
        );
        // udiv r0, r1, r2: fbb1 f0f2
        assert_eq!(
            decode32(0xFBB1, 0xF0F2, 0, false),
            Insn::Mul {
                op: MulOp::Udiv,
                s: SF_NO,
                f: 0,
                rd: 0,
                rn: 1,
                rm: 2,
                ra: 0
            }
        );
        // clz r0, r1: fab1 f081
        assert_eq!(
            decode32(0xFAB1, 0xF081, 0, false),
            Insn::Un {
                op: UnOp::Clz,
                rd: 0,
                rm: 1
            }
        );
    }
}
