//! 32-bit loads and stores: single items (A5.3.7-A5.3.10), multiple (A5.3.5), dual,
//! exclusive and table branch (A5.3.6).

use super::*;

/// A5.3.5 load/store multiple (LDM, LDMDB, STM, STMDB, PUSH.W, POP.W).
pub(super) fn load_store_multiple(a: u32, b: u32) -> Insn {
    let load = a & 0x10 != 0;
    let wback = a & 0x20 != 0;
    let rn = (a & 0xF) as u8;
    let list = b as u16;
    // Fewer than two registers, or rn = PC: UNPREDICTABLE, UNDEFINED here as in QEMU.
    if list.count_ones() < 2 || rn == 15 {
        return UNDEF;
    }
    match (a >> 7) & 3 {
        1 => Insn::Ldm {
            load,
            db: false,
            wback,
            rn,
            list,
        },
        2 => Insn::Ldm {
            load,
            db: true,
            wback,
            rn,
            list,
        },
        _ => UNDEF, // SRS, RFE: not in ARMv7-M
    }
}

/// A5.3.6 load/store dual or exclusive, table branch.
pub(super) fn dual_exclusive(a: u32, b: u32) -> Insn {
    let op1 = (a >> 7) & 3;
    let op2 = (a >> 4) & 3;
    let op3 = (b >> 4) & 0xF;
    let rn = (a & 0xF) as u8;
    let rt = ((b >> 12) & 0xF) as u8;
    let imm = ((b & 0xFF) << 2) as u16;
    // The (1) and (0) bits of the exclusives and TBB/TBH are checked: UNDEFINED otherwise,
    // as QEMU treats them.
    let ones = |mask: u32| b & mask == mask;
    match (op1, op2) {
        (0, 1) if !ones(0xF00) => return UNDEF,
        (1, 0) if !ones(0xF00) || (op3 != 4 && op3 != 5) => return UNDEF,
        (1, 1) if (op3 >> 1 == 0 && b & 0xFF00 != 0xF000) || (op3 >> 1 == 2 && !ones(0xF0F)) => {
            return UNDEF;
        }
        _ => {}
    }
    match (op1, op2) {
        (0, 0) => Insn::Strex {
            size: Size::Word,
            rd: ((b >> 8) & 0xF) as u8,
            rt,
            rn,
            imm,
        },
        (0, 1) => Insn::Ldrex {
            size: Size::Word,
            rt,
            rn,
            imm,
        },
        (1, 0) => match op3 {
            4 | 5 => Insn::Strex {
                size: if op3 == 4 { Size::Byte } else { Size::Half },
                rd: (b & 0xF) as u8,
                rt,
                rn,
                imm: 0,
            },
            _ => UNDEF,
        },
        (1, 1) => match op3 {
            0 | 1 => Insn::Tb {
                half: op3 == 1,
                rn,
                rm: (b & 0xF) as u8,
            },
            4 | 5 => Insn::Ldrex {
                size: if op3 == 4 { Size::Byte } else { Size::Half },
                rt,
                rn,
                imm: 0,
            },
            _ => UNDEF,
        },
        // A7.7.50 LDRD, A7.7.166 STRD (immediate; literal when rn is PC)
        _ => Insn::MemD {
            load: a & 0x10 != 0,
            rt,
            rt2: ((b >> 8) & 0xF) as u8,
            rn,
            imm,
            add: a & 0x80 != 0,
            index: a & 0x100 != 0,
            wback: a & 0x20 != 0,
        },
    }
}

/// A5.3.7 load word, A5.3.8 load halfword, A5.3.9 load byte (with memory hints),
/// A5.3.10 store single data item: imm12, imm8 with P/U/W, register, literal, and the
/// unprivileged T forms (executed as ordinary accesses).
pub(super) fn load_store_single(a: u32, b: u32, pc: u32) -> Insn {
    let l = a & 0x10 != 0;
    let signed = a & 0x100 != 0;
    let op = match (l, signed, (a >> 5) & 3) {
        (false, false, 0) => MemOp::Strb,
        (false, false, 1) => MemOp::Strh,
        (false, false, 2) => MemOp::Str,
        (true, false, 0) => MemOp::Ldrb,
        (true, false, 1) => MemOp::Ldrh,
        (true, false, 2) => MemOp::Ldr,
        (true, true, 0) => MemOp::Ldrsb,
        (true, true, 1) => MemOp::Ldrsh,
        _ => return UNDEF,
    };
    let rn = (a & 0xF) as u8;
    let rt = ((b >> 12) & 0xF) as u8;
    // Loads of bytes and halfwords to PC are the memory hints PLD, PLI (no-ops here).
    let hint = l && rt == 15 && op != MemOp::Ldr;
    if rn == 15 {
        if !l {
            return UNDEF;
        }
        if hint {
            return Insn::Nop;
        }
        let base = pc.wrapping_add(4) & !3;
        let imm12 = b & 0xFFF;
        let addr = if a & 0x80 != 0 {
            base.wrapping_add(imm12)
        } else {
            base.wrapping_sub(imm12)
        };
        return Insn::MemLit { op, rt, addr };
    }
    if a & 0x80 != 0 {
        if hint {
            return Insn::Nop;
        }
        return Insn::MemImm {
            op,
            rt,
            rn,
            imm: (b & 0xFFF) as u16,
            add: true,
            index: true,
            wback: false,
        };
    }
    if b & 0x800 != 0 {
        let index = b & 0x400 != 0;
        let add = b & 0x200 != 0;
        let wback = b & 0x100 != 0;
        if !index && !wback {
            return UNDEF;
        }
        if hint {
            return Insn::Nop;
        }
        if index && add && !wback {
            // A7.7.x LDRT, LDRBT, LDRHT, LDRSBT, LDRSHT, STRT, STRBT, STRHT
            return Insn::MemT {
                op,
                rt,
                rn,
                imm: b as u8,
            };
        }
        return Insn::MemImm {
            op,
            rt,
            rn,
            imm: (b & 0xFF) as u16,
            add,
            index,
            wback,
        };
    }
    if (b >> 6) & 0x3F == 0 {
        if hint {
            return Insn::Nop;
        }
        return Insn::MemReg {
            op,
            rt,
            rn,
            rm: (b & 0xF) as u8,
            sh: ((b >> 4) & 3) as u8,
        };
    }
    UNDEF
}

#[cfg(test)]
mod tests {
    use super::super::decode32;
    use super::*;

    #[test]
    fn decodes_loads_and_stores() {
        // ldr.w r0, [r1, #4]!: f851 0f04
        assert_eq!(
            decode32(0xF851, 0x0F04, 0, false),
            Insn::MemImm {
                op: MemOp::Ldr,
                rt: 0,
                rn: 1,
                imm: 4,
                add: true,
                index: true,
                wback: true
            }
        );
        // ldr.w r2, [pc, #8] at 0x102: f8df 2008 -> Align(0x106, 4) + 8
        assert_eq!(
            decode32(0xF8DF, 0x2008, 0x102, false),
            Insn::MemLit {
                op: MemOp::Ldr,
                rt: 2,
                addr: 0x10C
            }
        );
        // strd r2, r3, [sp, #-8]!: e96d 2302
        assert_eq!(
            decode32(0xE96D, 0x2302, 0, false),
            Insn::MemD {
                load: false,
                rt: 2,
                rt2: 3,
                rn: 13,
                imm: 8,
                add: false,
                index: true,
                wback: true
            }
        );
        // tbb [pc, r1]: e8df f001
        assert_eq!(
            decode32(0xE8DF, 0xF001, 0, false),
            Insn::Tb {
                half: false,
                rn: 15,
                rm: 1
            }
        );
        // pld [r0]: f890 f000
        assert_eq!(decode32(0xF890, 0xF000, 0, false), Insn::Nop);
        // ldmia.w sp!, {r4, pc}: e8bd 8010
        assert_eq!(
            decode32(0xE8BD, 0x8010, 0, false),
            Insn::Ldm {
                load: true,
                db: false,
                wback: true,
                rn: 13,
                list: 0x8010
            }
        );
    }
}
