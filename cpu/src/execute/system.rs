//! Special registers: MRS (B5.2.2), MSR (B5.2.3), CPS (B5.2.1).

use crate::Cpu;

impl Cpu {
    pub(crate) fn mrs(&self, sysm: u8) -> u32 {
        match sysm >> 3 {
            0 => {
                let mut v = 0;
                if sysm & 1 != 0 {
                    v |= self.ipsr;
                }
                if sysm & 4 == 0 {
                    v |= self.xpsr() & 0xF800_0000;
                    if !self.v6m {
                        v |= (self.ge as u32) << 16;
                    }
                }
                v
            }
            1 if self.privileged() => match sysm & 7 {
                0 => self.msp(),
                1 => self.psp(),
                _ => 0,
            },
            2 => match sysm & 7 {
                0 => self.primask as u32,
                1 | 2 if !self.v6m => self.basepri as u32,
                3 if !self.v6m => self.faultmask as u32,
                4 => self.control & 3,
                _ => 0,
            },
            _ => 0,
        }
    }

    pub(crate) fn msr(&mut self, v: u32, sysm: u8, mask: u8) {
        match sysm >> 3 {
            0 if sysm & 4 == 0 => {
                if mask & 2 != 0 || self.v6m {
                    self.n = v & (1 << 31) != 0;
                    self.z = v & (1 << 30) != 0;
                    self.c = v & (1 << 29) != 0;
                    self.v = v & (1 << 28) != 0;
                    self.q = v & (1 << 27) != 0 && !self.v6m;
                }
                if mask & 1 != 0 && !self.v6m {
                    self.ge = ((v >> 16) & 0xF) as u8;
                }
            }
            1 if self.privileged() => match sysm & 7 {
                0 => {
                    if self.cur_psp {
                        self.other_sp = v & !3;
                    } else {
                        self.regs[13] = v & !3;
                    }
                }
                1 => {
                    if self.cur_psp {
                        self.regs[13] = v & !3;
                    } else {
                        self.other_sp = v & !3;
                    }
                }
                _ => {}
            },
            2 if self.privileged() => {
                match sysm & 7 {
                    0 => self.primask = v & 1 != 0,
                    1 if !self.v6m => self.basepri = v as u8 & self.scs.prio_mask,
                    2 if !self.v6m => {
                        let p = v as u8 & self.scs.prio_mask;
                        if p != 0 && (p < self.basepri || self.basepri == 0) {
                            self.basepri = p;
                        }
                    }
                    3 if !self.v6m && (self.exec_priority() > -1 || v & 1 == 0) => {
                        self.faultmask = v & 1 != 0;
                    }
                    4 => {
                        self.control = (self.control & !1) | (v & 1);
                        if self.ipsr == 0 {
                            self.control = (self.control & !2) | (v & 2);
                            self.sync_sp();
                        }
                    }
                    _ => {}
                }
                self.attn = 0;
            }
            _ => {}
        }
    }

    pub(crate) fn cps(&mut self, disable: bool, i: bool, f: bool) {
        if !self.privileged() {
            return;
        }
        if i {
            self.primask = disable;
        }
        if f && (!disable || self.exec_priority() > -1) {
            self.faultmask = disable;
        }
        self.attn = 0;
    }
}
