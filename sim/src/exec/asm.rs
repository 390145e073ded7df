//! Thumb programs assembled by hand (16-bit encodings, ARMv7-M ARM A6.7), for the executed
//! firmware's tests and demonstrations: a vector table at the F4's flash base, code after it,
//! a literal pool at the end.

/// The F4 flash base, where [`Asm::image`] puts its vector table.
pub const FLASH: u32 = 0x0800_0000;
/// Where the code starts (after a 16-entry vector table).
pub const CODE: u32 = FLASH + 0x40;
const FLASH_REGS: u32 = 0x4002_3C00;

/// A Thumb program of 16-bit instructions with a literal pool after it.
#[derive(Default)]
pub struct Asm {
    code: Vec<u16>,
    /// (instruction index, value): `LDR rd, [pc, #..]` to patch.
    literals: Vec<(usize, u32)>,
}

impl Asm {
    pub fn h(&mut self, hw: u16) -> &mut Self {
        self.code.push(hw);
        self
    }
    /// The address of the next instruction.
    pub fn here(&self) -> u32 {
        CODE + 2 * self.code.len() as u32
    }
    /// LDR rd, =value (T1 literal).
    pub fn ldr_lit(&mut self, rd: u16, value: u32) -> &mut Self {
        self.literals.push((self.code.len(), value));
        self.h(0x4800 | rd << 8)
    }
    /// STR rt, [rn, #off] / LDR rt, [rn, #off] (T1, word offsets).
    pub fn str(&mut self, rt: u16, rn: u16, off: u16) -> &mut Self {
        self.h(0x6000 | (off / 4) << 6 | rn << 3 | rt)
    }
    pub fn ldr(&mut self, rt: u16, rn: u16, off: u16) -> &mut Self {
        self.h(0x6800 | (off / 4) << 6 | rn << 3 | rt)
    }
    /// B<cond> to `target` (T1).
    pub fn b_cond(&mut self, cond: u16, target: u32) -> &mut Self {
        let off = (target as i64 - (self.here() as i64 + 4)) / 2;
        self.h(0xD000 | cond << 8 | (off as u16 & 0xFF))
    }
    /// Vector table (SP, reset = CODE, every fault to `fault` or CODE), code, literals.
    pub fn image(&self, fault: Option<u32>) -> Vec<u8> {
        let mut out = Vec::new();
        let handler = fault.unwrap_or(CODE) | 1;
        out.extend(0x2000_1000u32.to_le_bytes());
        out.extend((CODE | 1).to_le_bytes());
        for _ in 2..16 {
            out.extend(handler.to_le_bytes());
        }
        let mut code = self.code.clone();
        if code.len() % 2 == 1 {
            code.push(0xBF00);
        }
        let pool = CODE + 2 * code.len() as u32;
        for (k, (i, _)) in self.literals.iter().enumerate() {
            let pc = (CODE + 2 * *i as u32 + 4) & !3;
            code[*i] |= ((pool + 4 * k as u32 - pc) / 4) as u16;
        }
        out.extend(code.iter().flat_map(|h| h.to_le_bytes()));
        out.extend(self.literals.iter().flat_map(|(_, v)| v.to_le_bytes()));
        out
    }
}

/// Unlock FLASH_CR, erase sector 1, program one word at 0x0800_4000, then BKPT.
pub fn f4_erase_and_program() -> Vec<u8> {
    let mut a = Asm::default();
    a.ldr_lit(0, FLASH_REGS)
        .ldr_lit(1, 0x4567_0123)
        .str(1, 0, 0x04) // KEYR (RM0090 3.9.2)
        .ldr_lit(1, 0xCDEF_89AB)
        .str(1, 0, 0x04)
        .ldr_lit(3, 1 << 16); // SR.BSY
    // CR: SER, SNB = 1, PSIZE = x32, STRT (RM0090 3.9.7)
    a.ldr_lit(1, 1 << 1 | 1 << 3 | 2 << 8 | 1 << 16)
        .str(1, 0, 0x10);
    let wait1 = a.here();
    a.ldr(2, 0, 0x0C).h(0x4200 | 3 << 3 | 2).b_cond(1, wait1); // TST r2, r3; BNE
    a.ldr_lit(1, 1 | 2 << 8).str(1, 0, 0x10); // CR: PG, PSIZE = x32
    a.ldr_lit(4, 0x0800_4000)
        .ldr_lit(5, 0xCAFE_F00D)
        .str(5, 4, 0);
    let wait2 = a.here();
    a.ldr(2, 0, 0x0C).h(0x4200 | 3 << 3 | 2).b_cond(1, wait2);
    a.h(0xBE00); // BKPT 0
    a.image(None)
}
