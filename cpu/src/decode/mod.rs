//! Thumb decoding (A5.2 16-bit, A5.3 32-bit) into [`Insn`], a compact instruction form
//! that the execute rooms run without looking at encodings again. Targets of branches and
//! literal addresses are resolved at decode time (the decoder knows the address).

mod t16;
mod t32;
mod t32_mem;
mod t32_reg;

pub(crate) use t16::decode16;
pub(crate) use t32::decode32;

use crate::Size;

/// Data-processing operations (A5.2.2, A5.3.1, A5.3.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DpOp {
    And,
    Bic,
    Orr,
    Orn,
    Eor,
    Add,
    Adc,
    Sub,
    Sbc,
    Rsb,
    Mov,
    Mvn,
    Tst,
    Teq,
    Cmp,
    Cmn,
}

/// Set-flags field: never, always, or only outside an IT block (16-bit encodings).
pub(crate) const SF_NO: u8 = 0;
pub(crate) const SF_YES: u8 = 1;
pub(crate) const SF_OUT_IT: u8 = 2;

/// Shift types (A7.4.2 DecodeImmShift); RRX shifts by one.
pub(crate) const LSL: u8 = 0;
pub(crate) const LSR: u8 = 1;
pub(crate) const ASR: u8 = 2;
pub(crate) const ROR: u8 = 3;
pub(crate) const RRX: u8 = 4;

/// Single loads and stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MemOp {
    Ldr,
    Ldrh,
    Ldrsh,
    Ldrb,
    Ldrsb,
    Str,
    Strh,
    Strb,
}

/// Multiplies with a 32-bit result (A5.3.16, divide from A5.3.17).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MulOp {
    Mul,
    Mla,
    Mls,
    Sdiv,
    Udiv,
    Smulxy,
    Smlaxy,
    Smulwy,
    Smlawy,
    Smuad,
    Smlad,
    Smusd,
    Smlsd,
    Smmul,
    Smmla,
    Smmls,
    Usad8,
    Usada8,
}

/// Multiplies with a 64-bit result (A5.3.17).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MulLOp {
    Smull,
    Umull,
    Smlal,
    Umlal,
    Umaal,
    Smlalxy,
    Smlald,
    Smlsld,
}

/// Other DSP operations (A5.3.15 and PKH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DspOp {
    Qadd,
    Qsub,
    Qdadd,
    Qdsub,
    Sel,
    Pkhbt,
    Pkhtb,
}

/// Extends (A7.7.x SXTB ... UXTAB16).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExtOp {
    Sxtb,
    Sxth,
    Uxtb,
    Uxth,
    Sxtb16,
    Uxtb16,
}

/// One-register operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum UnOp {
    Rev,
    Rev16,
    Revsh,
    Rbit,
    Clz,
}

/// UsageFault causes an undefined encoding raises.
pub(crate) const UNDEF_INSTR: u8 = 0;
pub(crate) const UNDEF_NOCP: u8 = 1;

/// A decoded instruction. Register fields are 0..=15.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Insn {
    /// rd = rn op imm; `carry` is the shifter carry out (0, 1) or 2 for unchanged.
    DpImm {
        op: DpOp,
        s: u8,
        rd: u8,
        rn: u8,
        imm: u32,
        carry: u8,
    },
    /// rd = rn op Shift(rm, st, sn).
    DpReg {
        op: DpOp,
        s: u8,
        rd: u8,
        rn: u8,
        rm: u8,
        st: u8,
        sn: u8,
    },
    /// rd = Shift(rn, st, rm<7:0>).
    ShiftReg {
        st: u8,
        s: u8,
        rd: u8,
        rn: u8,
        rm: u8,
    },
    MovW {
        rd: u8,
        imm: u16,
    },
    MovT {
        rd: u8,
        imm: u16,
    },
    /// SBFX / UBFX.
    Bfx {
        u: bool,
        rd: u8,
        rn: u8,
        lsb: u8,
        width: u8,
    },
    Bfi {
        rd: u8,
        rn: u8,
        lsb: u8,
        msb: u8,
    },
    Bfc {
        rd: u8,
        lsb: u8,
        msb: u8,
    },
    /// SSAT / USAT of Shift(rn, st, sn).
    Sat {
        u: bool,
        rd: u8,
        rn: u8,
        sat: u8,
        st: u8,
        sn: u8,
    },
    Sat16 {
        u: bool,
        rd: u8,
        rn: u8,
        sat: u8,
    },
    /// Extend of ROR(rm, rot), plus rn when `acc`.
    Ext {
        op: ExtOp,
        acc: bool,
        rd: u8,
        rn: u8,
        rm: u8,
        rot: u8,
    },
    Un {
        op: UnOp,
        rd: u8,
        rm: u8,
    },
    Mul {
        op: MulOp,
        s: u8,
        f: u8,
        rd: u8,
        rn: u8,
        rm: u8,
        ra: u8,
    },
    MulL {
        op: MulLOp,
        f: u8,
        lo: u8,
        hi: u8,
        rn: u8,
        rm: u8,
    },
    /// Parallel add/sub: `pre` 0 S, 1 Q, 2 SH, 3 U, 4 UQ, 5 UH; `kind` as hw1[6:4].
    Par {
        pre: u8,
        kind: u8,
        rd: u8,
        rn: u8,
        rm: u8,
    },
    Dsp {
        op: DspOp,
        rd: u8,
        rn: u8,
        rm: u8,
        f: u8,
    },
    MemImm {
        op: MemOp,
        rt: u8,
        rn: u8,
        imm: u16,
        add: bool,
        index: bool,
        wback: bool,
    },
    MemReg {
        op: MemOp,
        rt: u8,
        rn: u8,
        rm: u8,
        sh: u8,
    },
    /// The unprivileged forms (LDRT, STRT, ...): rn + imm, accessed as unprivileged.
    MemT {
        op: MemOp,
        rt: u8,
        rn: u8,
        imm: u8,
    },
    MemLit {
        op: MemOp,
        rt: u8,
        addr: u32,
    },
    MemD {
        load: bool,
        rt: u8,
        rt2: u8,
        rn: u8,
        imm: u16,
        add: bool,
        index: bool,
        wback: bool,
    },
    /// LDM/STM (IA, or DB when `db`); PUSH and POP included.
    Ldm {
        load: bool,
        db: bool,
        wback: bool,
        rn: u8,
        list: u16,
    },
    Ldrex {
        size: Size,
        rt: u8,
        rn: u8,
        imm: u16,
    },
    Strex {
        size: Size,
        rd: u8,
        rt: u8,
        rn: u8,
        imm: u16,
    },
    Clrex,
    Tb {
        half: bool,
        rn: u8,
        rm: u8,
    },
    /// Branch to an absolute target; cond 14 = always.
    B {
        cond: u8,
        target: u32,
    },
    Bl {
        target: u32,
    },
    Bx {
        rm: u8,
        link: bool,
    },
    Cb {
        nz: bool,
        rn: u8,
        target: u32,
    },
    It {
        state: u8,
    },
    Mrs {
        rd: u8,
        sysm: u8,
    },
    Msr {
        rn: u8,
        sysm: u8,
        mask: u8,
    },
    Cps {
        disable: bool,
        i: bool,
        f: bool,
    },
    Svc,
    Bkpt(u8),
    Wfi,
    Wfe,
    Isb,
    Nop,
    Undef(u8),
}

pub(crate) const UNDEF: Insn = Insn::Undef(UNDEF_INSTR);

/// DecodeImmShift (A7.4.2): (type, amount) with LSR/ASR #0 meaning 32 and ROR #0 RRX.
pub(crate) fn imm_shift(typ: u32, imm5: u32) -> (u8, u8) {
    let imm5 = imm5 as u8;
    match typ & 3 {
        0 => (LSL, imm5),
        1 => (LSR, if imm5 == 0 { 32 } else { imm5 }),
        2 => (ASR, if imm5 == 0 { 32 } else { imm5 }),
        _ => {
            if imm5 == 0 {
                (RRX, 1)
            } else {
                (ROR, imm5)
            }
        }
    }
}

/// Sign-extend the low `bits` bits of v.
pub(crate) fn sext(v: u32, bits: u32) -> u32 {
    let s = 32 - bits;
    (((v << s) as i32) >> s) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insn_is_small() {
        assert!(std::mem::size_of::<Insn>() <= 12);
    }

    #[test]
    fn imm_shift_decodes_zero_amounts() {
        assert_eq!(imm_shift(1, 0), (LSR, 32));
        assert_eq!(imm_shift(2, 0), (ASR, 32));
        assert_eq!(imm_shift(3, 0), (RRX, 1));
        assert_eq!(imm_shift(3, 4), (ROR, 4));
        assert_eq!(sext(0x80, 8), 0xFFFF_FF80);
    }
}
