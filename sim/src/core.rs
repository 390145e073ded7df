//! The Cortex-M debug registers probe-rs drives: DHCSR, DCRSR/DCRDR, DEMCR, DFSR, AIRCR, FP_CTRL
//! (ARMv7-M ARM, C1.6). Enough for attach, halt, step, register access and resets.

use std::collections::BTreeMap;

pub const CPUID: u32 = 0xE000_ED00;
pub const AIRCR: u32 = 0xE000_ED0C;
pub const DFSR: u32 = 0xE000_ED30;
pub const DHCSR: u32 = 0xE000_EDF0;
pub const DCRSR: u32 = 0xE000_EDF4;
pub const DCRDR: u32 = 0xE000_EDF8;
pub const DEMCR: u32 = 0xE000_EDFC;
pub const FP_CTRL: u32 = 0xE000_2000;

const DBGKEY: u32 = 0xA05F;
const C_DEBUGEN: u32 = 1 << 0;
const C_HALT: u32 = 1 << 1;
const C_STEP: u32 = 1 << 2;
const S_REGRDY: u32 = 1 << 16;
const S_HALT: u32 = 1 << 17;
const S_RESET_ST: u32 = 1 << 25;
const DFSR_HALTED: u32 = 1 << 0;
const DFSR_BKPT: u32 = 1 << 1;
const DFSR_VCATCH: u32 = 1 << 3;
const VC_CORERESET: u32 = 1 << 0;
const REG_PC: u32 = 15;

/// What a debugger's register write asks the simulated MCU to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum CoreRequest {
    None,
    /// The core was resumed at `pc`: run whatever is there (firmware or a flash algorithm).
    Resume {
        pc: u32,
    },
    /// AIRCR.SYSRESETREQ.
    SystemReset,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct CortexM {
    pub regs: BTreeMap<u32, u32>,
    dhcsr_ctrl: u32,
    pub halted: bool,
    reset_seen: bool,
    dfsr: u32,
    demcr: u32,
    dcrdr: u32,
    fp_enable: bool,
    /// PC before a single step, so that a step followed by a run resumes at the entry point.
    step_origin: Option<u32>,
    cpuid: u32,
}

impl CortexM {
    pub fn new(cpuid: u32) -> Self {
        Self {
            cpuid,
            ..Default::default()
        }
    }

    pub fn reg(&self, n: u32) -> u32 {
        self.regs.get(&n).copied().unwrap_or(0)
    }

    /// Power-on: debug logic is reset too.
    pub fn power_on(&mut self, sp: u32, pc: u32) {
        self.dhcsr_ctrl = 0;
        self.demcr = 0;
        self.fp_enable = false;
        self.reset(sp, pc);
    }

    /// Core reset with the initial SP and PC from the vector table. Returns whether the core
    /// stopped on the reset vector catch (so the firmware does not run).
    pub fn reset(&mut self, sp: u32, pc: u32) -> bool {
        self.regs.clear();
        self.regs.insert(13, sp);
        self.regs.insert(17, sp);
        self.regs.insert(REG_PC, pc & !1);
        self.regs.insert(16, 0x0100_0000);
        self.reset_seen = true;
        self.step_origin = None;
        // Vector catch only works with C_DEBUGEN set (the cause of probe-rs #4113).
        self.halted = self.demcr & VC_CORERESET != 0 && self.dhcsr_ctrl & C_DEBUGEN != 0;
        if self.halted {
            self.dfsr |= DFSR_VCATCH;
        }
        self.halted
    }

    /// A reset now would pass the reset vector catch by: it is armed, but debug is not enabled
    /// (DHCSR.C_DEBUGEN is cleared at power-on; probe-rs #4113).
    pub fn reset_catch_ignored(&self) -> bool {
        self.demcr & VC_CORERESET != 0 && self.dhcsr_ctrl & C_DEBUGEN == 0
    }

    /// Stop at a breakpoint after a flash-algorithm call returned `result` in R0.
    pub fn return_from_call(&mut self, result: u32) {
        let lr = self.reg(14) & !1;
        self.regs.insert(0, result);
        self.regs.insert(REG_PC, lr);
        self.halted = true;
        self.dfsr |= DFSR_BKPT;
    }

    pub fn is_debug_register(address: u32) -> bool {
        (0xE000_0000..0xE010_0000).contains(&address)
    }

    pub fn read(&mut self, address: u32) -> u32 {
        match address {
            CPUID => self.cpuid,
            DFSR => self.dfsr,
            DHCSR => {
                let mut v = (self.dhcsr_ctrl & 0xF) | S_REGRDY;
                if self.halted {
                    v |= S_HALT | C_HALT;
                } else {
                    v &= !C_HALT;
                }
                if std::mem::take(&mut self.reset_seen) {
                    v |= S_RESET_ST;
                }
                v
            }
            DCRDR => self.dcrdr,
            DEMCR => self.demcr,
            // FP_CTRL: 6 code comparators, 2 literal comparators, revision 1.
            FP_CTRL => self.fp_enable as u32 | 0x260,
            _ => 0,
        }
    }

    pub fn write(&mut self, address: u32, value: u32) -> CoreRequest {
        match address {
            DHCSR if value >> 16 == DBGKEY => return self.write_dhcsr(value & 0xF),
            DCRSR => {
                let sel = value & 0x7F;
                if value & (1 << 16) != 0 {
                    if sel == REG_PC {
                        self.step_origin = None;
                    }
                    self.regs.insert(sel, self.dcrdr);
                } else {
                    self.dcrdr = self.reg(sel);
                }
            }
            DCRDR => self.dcrdr = value,
            DEMCR => self.demcr = value,
            DFSR => self.dfsr &= !value,
            FP_CTRL if value & 2 != 0 => self.fp_enable = value & 1 != 0,
            AIRCR if value >> 16 == 0x05FA && value & 4 != 0 => return CoreRequest::SystemReset,
            _ => {}
        }
        CoreRequest::None
    }

    fn write_dhcsr(&mut self, ctrl: u32) -> CoreRequest {
        let was_halted = self.halted;
        self.dhcsr_ctrl = ctrl;
        if ctrl & C_DEBUGEN == 0 {
            self.halted = false;
            return if was_halted {
                CoreRequest::Resume {
                    pc: self.reg(REG_PC),
                }
            } else {
                CoreRequest::None
            };
        }
        if ctrl & C_HALT != 0 {
            if !was_halted {
                self.dfsr |= DFSR_HALTED;
            }
            self.halted = true;
            return CoreRequest::None;
        }
        if !was_halted {
            return CoreRequest::None;
        }
        if ctrl & C_STEP != 0 {
            // probe-rs single-steps before every run; pretend one 16-bit instruction ran.
            let pc = self.reg(REG_PC);
            self.step_origin.get_or_insert(pc);
            self.regs.insert(REG_PC, pc.wrapping_add(2));
            self.dfsr |= DFSR_HALTED;
            return CoreRequest::None;
        }
        self.halted = false;
        let pc = self.step_origin.take().unwrap_or(self.reg(REG_PC));
        CoreRequest::Resume { pc }
    }
}
