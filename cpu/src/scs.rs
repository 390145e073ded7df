//! The System Control Space (B3.2): SysTick (B3.3), the NVIC (B3.4) and the System Control
//! Block, at 0xE000E000..0xE000EFFF. The debug registers (0xE000EDF0..0xE000EEFF) are not
//! the core's: those addresses go to the bus.

use crate::{Cpu, Event, Size};

pub(crate) const CCR_NONBASETHRDENA: u32 = 1 << 0;
pub(crate) const CCR_USERSETMPEND: u32 = 1 << 1;
pub(crate) const CCR_UNALIGN_TRP: u32 = 1 << 3;
pub(crate) const CCR_DIV_0_TRP: u32 = 1 << 4;
pub(crate) const CCR_STKALIGN: u32 = 1 << 9;
const CCR_WRITABLE: u32 = 0x31B;

pub(crate) const SHCSR_MEMFAULTENA: u32 = 1 << 16;
pub(crate) const SHCSR_BUSFAULTENA: u32 = 1 << 17;
pub(crate) const SHCSR_USGFAULTENA: u32 = 1 << 18;

/// Whether a data access at `addr` is the core's own SCS.
#[inline(always)]
pub(crate) fn is_scs(addr: u32) -> bool {
    addr >> 12 == 0xE000E && !(0xDF0..0xF00).contains(&(addr & 0xFFF))
}

pub(crate) struct Scs {
    pub num_irqs: u32,
    pub irq_pending: [u32; 8],
    pub irq_enabled: [u32; 8],
    pub irq_active: [u32; 8],
    /// Pending / active system exceptions 1..15, by exception number.
    pub sys_pending: u32,
    pub sys_active: u32,
    /// Priorities by exception number (IPR bytes at 16 + irq, SHPR bytes at 4..15).
    pub prio: [u8; 256],
    pub prio_mask: u8,
    pub vtor: u32,
    pub prigroup: u32,
    pub scr: u32,
    pub ccr: u32,
    pub shcsr_ena: u32,
    pub cfsr: u32,
    pub hfsr: u32,
    pub dfsr: u32,
    pub mmfar: u32,
    pub bfar: u32,
    pub actlr: u32,
    pub cpuid: u32,
    pub calib: u32,
    /// SysTick: CSR enable bits, COUNTFLAG, reload, and the counter as (value at base).
    pub st_ctrl: u32,
    pub st_countflag: bool,
    pub st_rvr: u32,
    pub st_cvr0: u32,
    pub st_base: u64,
    pub tick_deadline: u64,
}

impl Scs {
    pub fn new(v6m: bool) -> Scs {
        let mut s = Scs {
            num_irqs: if v6m { 32 } else { 240 },
            irq_pending: [0; 8],
            irq_enabled: [0; 8],
            irq_active: [0; 8],
            sys_pending: 0,
            sys_active: 0,
            prio: [0; 256],
            prio_mask: if v6m { 0xC0 } else { 0xF0 },
            vtor: 0,
            prigroup: 0,
            scr: 0,
            ccr: 0,
            shcsr_ena: 0,
            cfsr: 0,
            hfsr: 0,
            dfsr: 0,
            mmfar: 0,
            bfar: 0,
            actlr: 0,
            cpuid: if v6m { 0x410C_C601 } else { 0x410F_C241 },
            calib: 0,
            st_ctrl: 0,
            st_countflag: false,
            st_rvr: 0,
            st_cvr0: 0,
            st_base: 0,
            tick_deadline: u64::MAX,
        };
        s.reset(v6m);
        s
    }

    /// System reset: everything but the configuration (CPUID, CALIB, priority bits).
    pub fn reset(&mut self, v6m: bool) {
        self.irq_pending = [0; 8];
        self.irq_enabled = [0; 8];
        self.irq_active = [0; 8];
        self.sys_pending = 0;
        self.sys_active = 0;
        self.prio = [0; 256];
        self.vtor = 0;
        self.prigroup = 0;
        self.scr = 0;
        self.ccr = if v6m {
            CCR_STKALIGN | CCR_UNALIGN_TRP
        } else {
            CCR_STKALIGN
        };
        self.shcsr_ena = 0;
        self.cfsr = 0;
        self.hfsr = 0;
        self.dfsr = 0;
        self.mmfar = 0;
        self.bfar = 0;
        self.actlr = 0;
        self.st_ctrl = 0;
        self.st_countflag = false;
        self.st_rvr = 0;
        self.st_cvr0 = 0;
        self.st_base = 0;
        self.tick_deadline = u64::MAX;
    }

    /// The group-priority mask for PRIGROUP (B1.5.4).
    pub fn group_mask(&self) -> u8 {
        (0xFF00u32 >> (7 - self.prigroup.min(7))) as u8
    }

    /// SYST_CVR at cycle `now`.
    fn st_value(&self, now: u64) -> u32 {
        if self.st_ctrl & 1 == 0 {
            return self.st_cvr0;
        }
        let e = now.saturating_sub(self.st_base);
        let cvr0 = self.st_cvr0 as u64;
        if e <= cvr0 {
            (cvr0 - e) as u32
        } else if self.st_rvr == 0 {
            0
        } else {
            let k = (e - cvr0 - 1) % (self.st_rvr as u64 + 1);
            self.st_rvr - k as u32
        }
    }

    /// Re-base the counter at `now` and compute when it next reaches zero.
    fn st_rebase(&mut self, now: u64) {
        self.st_cvr0 = self.st_value(now);
        self.st_base = now;
        self.st_deadline();
    }

    fn st_deadline(&mut self) {
        self.tick_deadline = if self.st_ctrl & 1 == 0 {
            u64::MAX
        } else if self.st_cvr0 > 0 {
            self.st_base.saturating_add(self.st_cvr0 as u64)
        } else if self.st_rvr > 0 {
            self.st_base.saturating_add(1 + self.st_rvr as u64)
        } else {
            u64::MAX
        };
    }
}

impl Cpu {
    /// SysTick reached zero at least once by now (B3.3.1): COUNTFLAG, and the exception if
    /// TICKINT.
    pub(crate) fn systick_fire(&mut self) {
        let now = self.cycles;
        let mut guard = 0;
        while self.scs.tick_deadline <= now && guard < 4 {
            let at = self.scs.tick_deadline;
            self.scs.st_countflag = true;
            if self.scs.st_ctrl & 2 != 0 {
                self.set_pending(15);
            }
            self.scs.st_base = at;
            self.scs.st_cvr0 = 0;
            self.scs.st_deadline();
            guard += 1;
        }
        if self.scs.tick_deadline <= now {
            self.scs.st_rebase(now);
        }
    }

    pub(crate) fn scs_read_sized(&mut self, addr: u32, size: Size) -> u32 {
        let w = self.scs_read_word(addr & 0xFFC);
        let sh = (addr & 3) * 8;
        match size {
            Size::Byte => (w >> sh) & 0xFF,
            Size::Half => (w >> sh) & 0xFFFF,
            Size::Word => w,
        }
    }

    pub(crate) fn scs_write_sized(&mut self, addr: u32, size: Size, v: u32) {
        let sh = (addr & 3) * 8;
        let lanes: u32 = match size {
            Size::Byte => 0xFF,
            Size::Half => 0xFFFF,
            Size::Word => 0xFFFF_FFFF,
        };
        let mask = lanes << sh;
        self.scs_write_word(addr & 0xFFC, (v << sh) & mask, mask);
        self.defer = true;
    }

    /// The implemented IRQ bits of NVIC word `i`.
    fn irq_mask(&self, i: usize) -> u32 {
        let n = self.scs.num_irqs as usize;
        if i * 32 >= n || i >= 8 {
            0
        } else if n - i * 32 >= 32 {
            u32::MAX
        } else {
            (1 << (n - i * 32)) - 1
        }
    }

    fn irq_word(&self, bits: &[u32; 8], i: usize) -> u32 {
        bits.get(i).copied().unwrap_or(0) & self.irq_mask(i)
    }

    /// One SCS register, by offset from 0xE000E000.
    pub(crate) fn scs_read_word(&mut self, off: u32) -> u32 {
        let v6m = self.v6m;
        match off {
            0x004 if !v6m => self.scs.num_irqs.div_ceil(32) - 1,
            0x008 if !v6m => self.scs.actlr,
            0x010 => {
                let cf = std::mem::take(&mut self.scs.st_countflag);
                self.scs.st_ctrl | (cf as u32) << 16
            }
            0x014 => self.scs.st_rvr,
            0x018 => self.scs.st_value(self.cycles),
            0x01C => self.scs.calib,
            0x100..=0x13C => self.irq_word(&self.scs.irq_enabled, ((off - 0x100) / 4) as usize),
            0x180..=0x1BC => self.irq_word(&self.scs.irq_enabled, ((off - 0x180) / 4) as usize),
            0x200..=0x23C => self.irq_word(&self.scs.irq_pending, ((off - 0x200) / 4) as usize),
            0x280..=0x2BC => self.irq_word(&self.scs.irq_pending, ((off - 0x280) / 4) as usize),
            0x300..=0x33C if !v6m => {
                self.irq_word(&self.scs.irq_active, ((off - 0x300) / 4) as usize)
            }
            0x400..=0x5EC => {
                let first = 16 + (off - 0x400) as usize;
                if first - 16 >= self.scs.num_irqs as usize {
                    return 0;
                }
                u32::from_le_bytes([
                    self.scs.prio[first],
                    self.scs.prio[first + 1],
                    self.scs.prio[first + 2],
                    self.scs.prio[first + 3],
                ])
            }
            0xD00 => self.scs.cpuid,
            0xD04 => self.icsr(),
            0xD08 => self.scs.vtor,
            0xD0C => 0xFA05_0000 | self.scs.prigroup << 8,
            0xD10 => self.scs.scr,
            0xD14 => self.scs.ccr,
            0xD18 if !v6m => self.shpr(4),
            0xD1C => self.shpr(8),
            0xD20 => self.shpr(12),
            0xD24 if !v6m => self.shcsr(), // debugger-only on ARMv6-M
            0xD28 if !v6m => self.scs.cfsr,
            0xD2C if !v6m => self.scs.hfsr,
            0xD30 => self.scs.dfsr,
            0xD34 if !v6m => self.scs.mmfar,
            0xD38 if !v6m => self.scs.bfar,
            // B4.1 CPUID scheme (Cortex-M4 values).
            0xD40 if !v6m => 0x0000_0030,
            0xD44 if !v6m => 0x0000_0200,
            0xD48 if !v6m => 0x0010_0000,
            0xD50 if !v6m => 0x0010_0030,
            0xD58 if !v6m => 0x0100_0000,
            0xD60 if !v6m => 0x0110_1110,
            0xD64 if !v6m => 0x0211_1000,
            0xD68 if !v6m => 0x2111_2231,
            0xD6C if !v6m => 0x0111_1110,
            0xD70 if !v6m => 0x0131_0132,
            _ => 0, // CPACR (no FPU), reserved, STIR (write only)
        }
    }

    fn shpr(&self, first: usize) -> u32 {
        u32::from_le_bytes([
            self.scs.prio[first],
            self.scs.prio[first + 1],
            self.scs.prio[first + 2],
            self.scs.prio[first + 3],
        ])
    }

    /// B3.2.4 ICSR.
    fn icsr(&self) -> u32 {
        let mut v = self.ipsr;
        if let Some(n) = self.best_pending() {
            v |= (n as u32) << 12;
        }
        if self.scs.irq_pending.iter().any(|&w| w != 0) {
            v |= 1 << 22;
        }
        if self.active_count() <= 1 {
            v |= 1 << 11; // RETTOBASE
        }
        let sp = self.scs.sys_pending;
        if sp & (1 << 2) != 0 {
            v |= 1 << 31;
        }
        if sp & (1 << 14) != 0 {
            v |= 1 << 28;
        }
        if sp & (1 << 15) != 0 {
            v |= 1 << 26;
        }
        v
    }

    /// B3.2.13 SHCSR.
    fn shcsr(&self) -> u32 {
        let a = self.scs.sys_active;
        let p = self.scs.sys_pending;
        let bit = |set: u32, n: u32, to: u32| ((set >> n) & 1) << to;
        bit(a, 4, 0)
            | bit(a, 5, 1)
            | bit(a, 6, 3)
            | bit(a, 11, 7)
            | bit(a, 12, 8)
            | bit(a, 14, 10)
            | bit(a, 15, 11)
            | bit(p, 6, 12)
            | bit(p, 4, 13)
            | bit(p, 5, 14)
            | bit(p, 11, 15)
            | self.scs.shcsr_ena
    }

    /// Write the lanes of `mask` in the register at `off` (`v` already positioned).
    fn scs_write_word(&mut self, off: u32, v: u32, mask: u32) {
        let v6m = self.v6m;
        let rw = |old: u32| (old & !mask) | (v & mask);
        let irq_index = |base: u32| ((off - base) / 4) as usize;
        let word = |base: u32| {
            let i = irq_index(base);
            (i.min(7), v & self.irq_mask(i))
        };
        match off {
            0x008 if !v6m => self.scs.actlr = rw(self.scs.actlr),
            0x010 => {
                self.scs.st_rebase(self.cycles);
                self.scs.st_ctrl = rw(self.scs.st_ctrl) & 7;
                self.scs.st_base = self.cycles;
                self.scs.st_deadline();
            }
            0x014 => {
                self.scs.st_rebase(self.cycles);
                self.scs.st_rvr = rw(self.scs.st_rvr) & 0x00FF_FFFF;
                self.scs.st_deadline();
            }
            0x018 => {
                self.scs.st_cvr0 = 0;
                self.scs.st_base = self.cycles;
                self.scs.st_countflag = false;
                self.scs.st_deadline();
            }
            0x100..=0x13C => {
                let (i, b) = word(0x100);
                self.scs.irq_enabled[i] |= b;
            }
            0x180..=0x1BC => {
                let (i, b) = word(0x180);
                self.scs.irq_enabled[i] &= !b;
            }
            0x200..=0x23C => {
                let (i, b) = word(0x200);
                self.scs.irq_pending[i] |= b;
            }
            0x280..=0x2BC => {
                let (i, b) = word(0x280);
                self.scs.irq_pending[i] &= !b;
            }
            0x400..=0x5EC => {
                let first = 16 + (off - 0x400) as usize;
                if first - 16 >= self.scs.num_irqs as usize {
                    return;
                }
                for i in 0..4 {
                    if mask & (0xFF << (8 * i)) != 0 {
                        self.scs.prio[first + i] = (v >> (8 * i)) as u8 & self.scs.prio_mask;
                    }
                }
            }
            0xD04 => {
                if v & (1 << 31) != 0 {
                    self.scs.sys_pending |= 1 << 2;
                }
                if v & (1 << 28) != 0 {
                    self.scs.sys_pending |= 1 << 14;
                } else if v & (1 << 27) != 0 {
                    self.scs.sys_pending &= !(1 << 14);
                }
                if v & (1 << 26) != 0 {
                    self.scs.sys_pending |= 1 << 15;
                } else if v & (1 << 25) != 0 {
                    self.scs.sys_pending &= !(1 << 15);
                }
            }
            0xD08 => self.scs.vtor = rw(self.scs.vtor) & 0xFFFF_FF80,
            0xD0C if mask == 0xFFFF_FFFF && v >> 16 == 0x05FA => {
                if !v6m {
                    self.scs.prigroup = (v >> 8) & 7;
                }
                if v & 4 != 0 {
                    self.scs_event = Event::SysResetRequest;
                }
            }
            0xD10 => self.scs.scr = rw(self.scs.scr) & 0x16,
            0xD14 if !v6m => {
                self.scs.ccr = (rw(self.scs.ccr) & CCR_WRITABLE) | (self.scs.ccr & !CCR_WRITABLE)
            }
            0xD18..=0xD20 => {
                let first = 4 + (off - 0xD18) as usize;
                for i in 0..4 {
                    let n = first + i;
                    let writable = if v6m {
                        matches!(n, 11 | 14 | 15)
                    } else {
                        matches!(n, 4 | 5 | 6 | 11 | 12 | 14 | 15)
                    };
                    if writable && mask & (0xFF << (8 * i)) != 0 {
                        self.scs.prio[n] = (v >> (8 * i)) as u8 & self.scs.prio_mask;
                    }
                }
            }
            0xD24 if !v6m => {
                let new = rw(self.shcsr());
                let map: [(u32, u32, bool); 11] = [
                    (0, 4, true),
                    (1, 5, true),
                    (3, 6, true),
                    (7, 11, true),
                    (8, 12, true),
                    (10, 14, true),
                    (11, 15, true),
                    (12, 6, false),
                    (13, 4, false),
                    (14, 5, false),
                    (15, 11, false),
                ];
                for (bit, n, active) in map {
                    let set = if active {
                        &mut self.scs.sys_active
                    } else {
                        &mut self.scs.sys_pending
                    };
                    if new & (1 << bit) != 0 {
                        *set |= 1 << n;
                    } else {
                        *set &= !(1 << n);
                    }
                }
                self.scs.shcsr_ena = new & 0x7_0000;
            }
            0xD28 if !v6m => self.scs.cfsr &= !v,
            0xD2C if !v6m => self.scs.hfsr &= !v,
            0xD30 => self.scs.dfsr &= !v,
            0xD34 if !v6m => self.scs.mmfar = rw(self.scs.mmfar),
            0xD38 if !v6m => self.scs.bfar = rw(self.scs.bfar),
            0xF00 if !v6m => {
                let irq = v & 0x1FF;
                if irq < self.scs.num_irqs {
                    self.pend_quiet(16 + irq as usize);
                }
            }
            _ => {}
        }
    }
}
