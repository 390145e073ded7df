//! 16-bit Thumb instruction encoding (A5.2; ARMv6-M A5.2).

use super::*;

/// Decode one 16-bit instruction at `pc`.
pub(crate) fn decode16(hw: u16, pc: u32, v6m: bool) -> Insn {
    let h = hw as u32;
    let r = |shift: u32| ((h >> shift) & 7) as u8;
    let pc4 = pc.wrapping_add(4);
    match h >> 10 {
        0x00..=0x0F => shift_add_sub(h),
        0x10 => data_processing(h),
        0x11 => special(h),
        // A7.7.44 LDR (literal) T1
        0x12 | 0x13 => Insn::MemLit {
            op: MemOp::Ldr,
            rt: r(8),
            addr: (pc4 & !3).wrapping_add((h & 0xFF) << 2),
        },
        0x14..=0x27 => load_store(h),
        // A7.7.7 ADR T1
        0x28 | 0x29 => Insn::DpImm {
            op: DpOp::Mov,
            s: SF_NO,
            rd: r(8),
            rn: 0,
            imm: (pc4 & !3).wrapping_add((h & 0xFF) << 2),
            carry: 2,
        },
        // A7.7.5 ADD (SP plus immediate) T1
        0x2A | 0x2B => Insn::DpImm {
            op: DpOp::Add,
            s: SF_NO,
            rd: r(8),
            rn: 13,
            imm: (h & 0xFF) << 2,
            carry: 2,
        },
        0x2C..=0x2F => misc(h, pc4, v6m),
        // LDM, STM (and PUSH, POP below) with an empty list: UNPREDICTABLE, UNDEFINED here.
        0x30..=0x33 if h & 0xFF == 0 => UNDEF,
        // A7.7.156 STM T1 (always writes back)
        0x30 | 0x31 => Insn::Ldm {
            load: false,
            db: false,
            wback: true,
            rn: r(8),
            list: (h & 0xFF) as u16,
        },
        // A7.7.40 LDM T1: writeback unless rn is in the list
        0x32 | 0x33 => Insn::Ldm {
            load: true,
            db: false,
            wback: h & (1 << r(8)) == 0,
            rn: r(8),
            list: (h & 0xFF) as u16,
        },
        // A5.2.6 conditional branch, UDF, SVC
        0x34..=0x37 => match (h >> 8) & 0xF {
            0xE => UNDEF,
            0xF => Insn::Svc,
            cond => Insn::B {
                cond: cond as u8,
                target: pc4.wrapping_add(sext((h & 0xFF) << 1, 9)),
            },
        },
        // A7.7.12 B T2
        0x38 | 0x39 => Insn::B {
            cond: 14,
            target: pc4.wrapping_add(sext((h & 0x7FF) << 1, 12)),
        },
        _ => UNDEF,
    }
}

/// A5.2.1 shift (immediate), add, subtract, move, and compare.
fn shift_add_sub(h: u32) -> Insn {
    let r = |shift: u32| ((h >> shift) & 7) as u8;
    let imm5 = ((h >> 6) & 0x1F) as u8;
    let shifted = |st: u8, sn: u8| Insn::DpReg {
        op: DpOp::Mov,
        s: SF_OUT_IT,
        rd: r(0),
        rn: 0,
        rm: r(3),
        st,
        sn,
    };
    let dpimm = |op, s, rd, rn, imm| Insn::DpImm {
        op,
        s,
        rd,
        rn,
        imm,
        carry: 2,
    };
    let dpreg = |op| Insn::DpReg {
        op,
        s: SF_OUT_IT,
        rd: r(0),
        rn: r(3),
        rm: r(6),
        st: LSL,
        sn: 0,
    };
    let z32 = |v: u8| if v == 0 { 32 } else { v };
    match (h >> 9) & 0x1F {
        0..=3 => shifted(LSL, imm5),
        4..=7 => shifted(LSR, z32(imm5)),
        8..=11 => shifted(ASR, z32(imm5)),
        12 => dpreg(DpOp::Add),
        13 => dpreg(DpOp::Sub),
        14 => dpimm(DpOp::Add, SF_OUT_IT, r(0), r(3), (h >> 6) & 7),
        15 => dpimm(DpOp::Sub, SF_OUT_IT, r(0), r(3), (h >> 6) & 7),
        16..=19 => dpimm(DpOp::Mov, SF_OUT_IT, r(8), 0, h & 0xFF),
        20..=23 => dpimm(DpOp::Cmp, SF_YES, 0, r(8), h & 0xFF),
        24..=27 => dpimm(DpOp::Add, SF_OUT_IT, r(8), r(8), h & 0xFF),
        _ => dpimm(DpOp::Sub, SF_OUT_IT, r(8), r(8), h & 0xFF),
    }
}

/// A5.2.2 data processing (register).
fn data_processing(h: u32) -> Insn {
    let rdn = (h & 7) as u8;
    let rm = ((h >> 3) & 7) as u8;
    let reg = |op, s| Insn::DpReg {
        op,
        s,
        rd: rdn,
        rn: rdn,
        rm,
        st: LSL,
        sn: 0,
    };
    let shift = |st| Insn::ShiftReg {
        st,
        s: SF_OUT_IT,
        rd: rdn,
        rn: rdn,
        rm,
    };
    match (h >> 6) & 0xF {
        0 => reg(DpOp::And, SF_OUT_IT),
        1 => reg(DpOp::Eor, SF_OUT_IT),
        2 => shift(LSL),
        3 => shift(LSR),
        4 => shift(ASR),
        5 => reg(DpOp::Adc, SF_OUT_IT),
        6 => reg(DpOp::Sbc, SF_OUT_IT),
        7 => shift(ROR),
        8 => reg(DpOp::Tst, SF_YES),
        // A7.7.119 RSB (immediate) T1: NEGS
        9 => Insn::DpImm {
            op: DpOp::Rsb,
            s: SF_OUT_IT,
            rd: rdn,
            rn: rm,
            imm: 0,
            carry: 2,
        },
        10 => reg(DpOp::Cmp, SF_YES),
        11 => reg(DpOp::Cmn, SF_YES),
        12 => reg(DpOp::Orr, SF_OUT_IT),
        13 => Insn::Mul {
            op: MulOp::Mul,
            s: SF_OUT_IT,
            f: 0,
            rd: rdn,
            rn: rm,
            rm: rdn,
            ra: 0,
        },
        14 => reg(DpOp::Bic, SF_OUT_IT),
        _ => reg(DpOp::Mvn, SF_OUT_IT),
    }
}

/// A5.2.3 special data instructions and branch and exchange.
fn special(h: u32) -> Insn {
    let rdn = (((h >> 4) & 8) | (h & 7)) as u8;
    let rm = ((h >> 3) & 0xF) as u8;
    let reg = |op, s| Insn::DpReg {
        op,
        s,
        rd: rdn,
        rn: rdn,
        rm,
        st: LSL,
        sn: 0,
    };
    match (h >> 6) & 0xF {
        0..=3 => reg(DpOp::Add, SF_NO),
        4..=7 => reg(DpOp::Cmp, SF_YES),
        8..=11 => reg(DpOp::Mov, SF_NO),
        12 | 13 => Insn::Bx { rm, link: false },
        _ => Insn::Bx { rm, link: true },
    }
}

/// A5.2.4 load/store single data item.
fn load_store(h: u32) -> Insn {
    let r = |shift: u32| ((h >> shift) & 7) as u8;
    let l = h & (1 << 11) != 0;
    let imm5 = ((h >> 6) & 0x1F) as u16;
    let imm = |op, rt, rn, imm| Insn::MemImm {
        op,
        rt,
        rn,
        imm,
        add: true,
        index: true,
        wback: false,
    };
    match h >> 12 {
        5 => {
            const OPS: [MemOp; 8] = [
                MemOp::Str,
                MemOp::Strh,
                MemOp::Strb,
                MemOp::Ldrsb,
                MemOp::Ldr,
                MemOp::Ldrh,
                MemOp::Ldrb,
                MemOp::Ldrsh,
            ];
            Insn::MemReg {
                op: OPS[((h >> 9) & 7) as usize],
                rt: r(0),
                rn: r(3),
                rm: r(6),
                sh: 0,
            }
        }
        6 => imm(
            if l { MemOp::Ldr } else { MemOp::Str },
            r(0),
            r(3),
            imm5 << 2,
        ),
        7 => imm(if l { MemOp::Ldrb } else { MemOp::Strb }, r(0), r(3), imm5),
        8 => imm(
            if l { MemOp::Ldrh } else { MemOp::Strh },
            r(0),
            r(3),
            imm5 << 1,
        ),
        _ => imm(
            if l { MemOp::Ldr } else { MemOp::Str },
            r(8),
            13,
            ((h & 0xFF) << 2) as u16,
        ),
    }
}

/// A5.2.5 miscellaneous 16-bit instructions.
fn misc(h: u32, pc4: u32, v6m: bool) -> Insn {
    let rd = (h & 7) as u8;
    let rm = ((h >> 3) & 7) as u8;
    let ext = |op| Insn::Ext {
        op,
        acc: false,
        rd,
        rn: 0,
        rm,
        rot: 0,
    };
    let sp_imm = |op| Insn::DpImm {
        op,
        s: SF_NO,
        rd: 13,
        rn: 13,
        imm: (h & 0x7F) << 2,
        carry: 2,
    };
    match (h >> 5) & 0x7F {
        0x00..=0x03 => sp_imm(DpOp::Add),
        0x04..=0x07 => sp_imm(DpOp::Sub),
        // A7.7.21 CBNZ, CBZ (not in ARMv6-M)
        0x08..=0x0F | 0x18..=0x1F | 0x48..=0x4F | 0x58..=0x5F if !v6m => Insn::Cb {
            nz: h & (1 << 11) != 0,
            rn: rd,
            target: pc4.wrapping_add((((h >> 9) & 1) << 6) | (((h >> 3) & 0x1F) << 1)),
        },
        0x10 | 0x11 => ext(ExtOp::Sxth),
        0x12 | 0x13 => ext(ExtOp::Sxtb),
        0x14 | 0x15 => ext(ExtOp::Uxth),
        0x16 | 0x17 => ext(ExtOp::Uxtb),
        // A7.7.99 PUSH T1
        0x20..=0x2F if h & 0x1FF != 0 => Insn::Ldm {
            load: false,
            db: true,
            wback: true,
            rn: 13,
            list: ((h & 0xFF) | ((h >> 8) & 1) << 14) as u16,
        },
        // B5.2.1 CPS
        0x33 if h & 0xC == 0 => Insn::Cps {
            disable: h & 0x10 != 0,
            i: h & 2 != 0,
            f: h & 1 != 0 && !v6m,
        },
        0x50 | 0x51 => Insn::Un {
            op: UnOp::Rev,
            rd,
            rm,
        },
        0x52 | 0x53 => Insn::Un {
            op: UnOp::Rev16,
            rd,
            rm,
        },
        0x56 | 0x57 => Insn::Un {
            op: UnOp::Revsh,
            rd,
            rm,
        },
        // A7.7.98 POP T1
        0x60..=0x6F if h & 0x1FF != 0 => Insn::Ldm {
            load: true,
            db: false,
            wback: true,
            rn: 13,
            list: ((h & 0xFF) | ((h >> 8) & 1) << 15) as u16,
        },
        0x70..=0x77 => Insn::Bkpt(h as u8),
        // A7.7.38 IT (not in ARMv6-M), A5.2.5 hints
        0x78..=0x7F => {
            if h & 0xF != 0 {
                if v6m {
                    UNDEF
                } else {
                    Insn::It { state: h as u8 }
                }
            } else {
                match (h >> 4) & 0xF {
                    2 => Insn::Wfe,
                    3 => Insn::Wfi,
                    _ => Insn::Nop,
                }
            }
        }
        _ => UNDEF,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_common_16_bit_forms() {
        // adds r0, r1, #3
        assert_eq!(
            decode16(0x1CC8, 0, false),
            Insn::DpImm {
                op: DpOp::Add,
                s: SF_OUT_IT,
                rd: 0,
                rn: 1,
                imm: 3,
                carry: 2
            }
        );
        // push {r4, lr}
        assert_eq!(
            decode16(0xB510, 0, false),
            Insn::Ldm {
                load: false,
                db: true,
                wback: true,
                rn: 13,
                list: 0x4010
            }
        );
        // b.n to itself at 0x100
        assert_eq!(
            decode16(0xE7FE, 0x100, false),
            Insn::B {
                cond: 14,
                target: 0x100
            }
        );
        // cbz r0 is undefined on v6-M
        assert_eq!(decode16(0xB100, 0, true), UNDEF);
        assert_eq!(decode16(0xBF08, 0, true), UNDEF);
        assert_eq!(decode16(0xBF30, 0, true), Insn::Wfi);
    }
}
