//! Loads and stores (A7.7 LDR*, STR*, LDM, STM, PUSH, POP, LDRD, STRD, LDREX, STREX,
//! TBB/TBH) and the core's data accesses: the System Control Space is answered here, the
//! rest goes to the bus (A3.2 alignment, B3.1 memory map).

use super::{Exec, Fault, OK};
use crate::decode::MemOp;
use crate::scs::{CCR_UNALIGN_TRP, CCR_USERSETMPEND, is_scs};
use crate::{Bus, Cpu, Event, Size};

fn size_mask(size: Size) -> u32 {
    match size {
        Size::Byte => 0,
        Size::Half => 1,
        Size::Word => 3,
    }
}

impl Cpu {
    /// One aligned data read (the SCS is the core's own).
    #[inline(always)]
    pub(crate) fn read(&mut self, bus: &mut dyn Bus, addr: u32, size: Size) -> Result<u32, Fault> {
        if is_scs(addr) {
            if !self.privileged() || self.unpriv {
                return Err(Fault::DBus(addr)); // B3.2: the SCS is privileged only
            }
            return Ok(self.scs_read_sized(addr, size));
        }
        bus.read(addr, size).map_err(|_| Fault::DBus(addr))
    }

    #[inline(always)]
    pub(crate) fn write(
        &mut self,
        bus: &mut dyn Bus,
        addr: u32,
        size: Size,
        v: u32,
    ) -> Result<(), Fault> {
        if is_scs(addr) {
            // B3.2: privileged only, but for STIR when CCR.USERSETMPEND is set.
            let stir = addr & 0xFFC == 0xF00 && self.scs.ccr & CCR_USERSETMPEND != 0;
            if (!self.privileged() || self.unpriv) && !stir {
                return Err(Fault::DBus(addr));
            }
            self.scs_write_sized(addr, size, v);
            return Ok(());
        }
        bus.write(addr, size, v).map_err(|_| Fault::DBus(addr))?;
        self.snoop(addr, size_mask(size) + 1);
        Ok(())
    }

    /// A read that may be unaligned (LDR, LDRH, LDRSH; A3.2.1), split into bytes.
    #[inline(always)]
    fn read_u(&mut self, bus: &mut dyn Bus, addr: u32, size: Size) -> Result<u32, Fault> {
        let m = size_mask(size);
        if addr & m != 0 {
            if self.v6m || self.scs.ccr & CCR_UNALIGN_TRP != 0 {
                return Err(Fault::Unaligned);
            }
            let mut v = 0;
            for i in 0..=m {
                v |= self.read(bus, addr.wrapping_add(i), Size::Byte)? << (8 * i);
            }
            return Ok(v);
        }
        self.read(bus, addr, size)
    }

    #[inline(always)]
    fn write_u(&mut self, bus: &mut dyn Bus, addr: u32, size: Size, v: u32) -> Result<(), Fault> {
        let m = size_mask(size);
        if addr & m != 0 {
            if self.v6m || self.scs.ccr & CCR_UNALIGN_TRP != 0 {
                return Err(Fault::Unaligned);
            }
            for i in 0..=m {
                self.write(bus, addr.wrapping_add(i), Size::Byte, v >> (8 * i))?;
            }
            return Ok(());
        }
        self.write(bus, addr, size, v)
    }

    /// A read that must be aligned (LDM, LDRD, LDREX: UsageFault UNALIGNED otherwise).
    fn read_a(&mut self, bus: &mut dyn Bus, addr: u32, size: Size) -> Result<u32, Fault> {
        if addr & size_mask(size) != 0 {
            return Err(Fault::Unaligned);
        }
        self.read(bus, addr, size)
    }

    fn write_a(&mut self, bus: &mut dyn Bus, addr: u32, size: Size, v: u32) -> Result<(), Fault> {
        if addr & size_mask(size) != 0 {
            return Err(Fault::Unaligned);
        }
        self.write(bus, addr, size, v)
    }

    /// Events a store to the SCS raised (SYSRESETREQ).
    #[inline(always)]
    fn store_event(&mut self) -> Exec {
        Ok(std::mem::replace(&mut self.scs_event, Event::None))
    }

    /// The load or store of one item at `addr`; None for stores.
    #[inline(always)]
    fn access(
        &mut self,
        bus: &mut dyn Bus,
        op: MemOp,
        rt: u8,
        addr: u32,
    ) -> Result<Option<u32>, Fault> {
        Ok(Some(match op {
            MemOp::Ldr => self.read_u(bus, addr, Size::Word)?,
            MemOp::Ldrh => self.read_u(bus, addr, Size::Half)?,
            MemOp::Ldrsh => self.read_u(bus, addr, Size::Half)? as u16 as i16 as u32,
            MemOp::Ldrb => self.read(bus, addr, Size::Byte)?,
            MemOp::Ldrsb => self.read(bus, addr, Size::Byte)? as u8 as i8 as u32,
            MemOp::Str => {
                self.write_u(bus, addr, Size::Word, self.r(rt))?;
                return Ok(None);
            }
            MemOp::Strh => {
                self.write_u(bus, addr, Size::Half, self.r(rt))?;
                return Ok(None);
            }
            MemOp::Strb => {
                self.write(bus, addr, Size::Byte, self.r(rt))?;
                return Ok(None);
            }
        }))
    }

    /// R[t] = loaded value; a load to PC is LoadWritePC (A2.3.1), maybe an exception return.
    #[inline(always)]
    fn load_rt(&mut self, bus: &mut dyn Bus, rt: u8, v: u32) -> Exec {
        if rt == 15 {
            return self.bx_write_pc(bus, v);
        }
        self.regs[(rt & 15) as usize] = v;
        OK
    }

    #[inline(always)]
    pub(crate) fn mem_single(&mut self, bus: &mut dyn Bus, op: MemOp, rt: u8, addr: u32) -> Exec {
        match self.access(bus, op, rt, addr)? {
            Some(v) => self.load_rt(bus, rt, v),
            None => self.store_event(),
        }
    }

    /// Immediate offset, pre-indexed and post-indexed forms (A7.7.43 LDR (immediate) etc.).
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn mem_imm(
        &mut self,
        bus: &mut dyn Bus,
        op: MemOp,
        rt: u8,
        rn: u8,
        imm: u32,
        add: bool,
        index: bool,
        wback: bool,
    ) -> Exec {
        let base = self.r(rn);
        let off = if add {
            base.wrapping_add(imm)
        } else {
            base.wrapping_sub(imm)
        };
        let addr = if index { off } else { base };
        let loaded = self.access(bus, op, rt, addr)?;
        if wback {
            self.set(rn, off);
        }
        match loaded {
            Some(v) => self.load_rt(bus, rt, v),
            None => self.store_event(),
        }
    }

    /// A7.7.50 LDRD, A7.7.166 STRD (immediate and literal).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn mem_dual(
        &mut self,
        bus: &mut dyn Bus,
        load: bool,
        rt: u8,
        rt2: u8,
        rn: u8,
        imm: u32,
        add: bool,
        index: bool,
        wback: bool,
    ) -> Exec {
        let base = if rn == 15 {
            self.regs[15] & !3
        } else {
            self.r(rn)
        };
        let off = if add {
            base.wrapping_add(imm)
        } else {
            base.wrapping_sub(imm)
        };
        let addr = if index { off } else { base };
        if load {
            let a = self.read_a(bus, addr, Size::Word)?;
            let b = self.read_a(bus, addr.wrapping_add(4), Size::Word)?;
            if wback {
                self.set(rn, off);
            }
            self.set(rt, a);
            self.set(rt2, b);
            OK
        } else {
            self.write_a(bus, addr, Size::Word, self.r(rt))?;
            self.write_a(bus, addr.wrapping_add(4), Size::Word, self.r(rt2))?;
            if wback {
                self.set(rn, off);
            }
            self.store_event()
        }
    }

    /// A7.7.40 LDM, A7.7.41 LDMDB, A7.7.156 STM, A7.7.157 STMDB, PUSH, POP.
    pub(crate) fn ldm(
        &mut self,
        bus: &mut dyn Bus,
        load: bool,
        db: bool,
        wback: bool,
        rn: u8,
        list: u16,
    ) -> Exec {
        let count = list.count_ones();
        let base = self.r(rn);
        let start = if db {
            base.wrapping_sub(4 * count)
        } else {
            base
        };
        let end = if db {
            start
        } else {
            base.wrapping_add(4 * count)
        };
        if start & 3 != 0 {
            return Err(Fault::Unaligned);
        }
        let mut a = start;
        if load {
            let mut vals = [0u32; 16];
            for (i, slot) in vals.iter_mut().enumerate() {
                if list & (1 << i) != 0 {
                    *slot = self.read(bus, a, Size::Word)?;
                    a = a.wrapping_add(4);
                }
            }
            if wback && list & (1 << (rn & 15)) == 0 {
                self.set(rn, end);
            }
            for (i, &v) in vals.iter().enumerate().take(15) {
                if list & (1 << i) != 0 {
                    self.regs[i] = v;
                }
            }
            if list & 0x8000 != 0 {
                return self.bx_write_pc(bus, vals[15]);
            }
            OK
        } else {
            for i in 0..16u8 {
                if list & (1 << i) != 0 {
                    self.write(bus, a, Size::Word, self.r(i))?;
                    a = a.wrapping_add(4);
                }
            }
            if wback {
                self.set(rn, end);
            }
            self.store_event()
        }
    }

    /// A7.7.52 LDREX, LDREXB, LDREXH: open the local monitor (A3.4).
    pub(crate) fn ldrex(
        &mut self,
        bus: &mut dyn Bus,
        size: Size,
        rt: u8,
        rn: u8,
        imm: u16,
    ) -> Exec {
        let addr = self.r(rn).wrapping_add(imm as u32);
        let v = self.read_a(bus, addr, size)?;
        self.excl = Some(addr);
        self.set(rt, v);
        OK
    }

    /// A7.7.167 STREX, STREXB, STREXH: store only while the monitor holds the address.
    pub(crate) fn strex(
        &mut self,
        bus: &mut dyn Bus,
        size: Size,
        rd: u8,
        rt: u8,
        rn: u8,
        imm: u16,
    ) -> Exec {
        let addr = self.r(rn).wrapping_add(imm as u32);
        if addr & size_mask(size) != 0 {
            return Err(Fault::Unaligned);
        }
        if self.excl == Some(addr) {
            self.write(bus, addr, size, self.r(rt))?;
            self.excl = None;
            self.set(rd, 0);
            self.store_event()
        } else {
            self.excl = None;
            self.set(rd, 1);
            OK
        }
    }

    /// A7.7.182 TBB, TBH.
    pub(crate) fn table_branch(&mut self, bus: &mut dyn Bus, half: bool, rn: u8, rm: u8) -> Exec {
        let base = self.r(rn);
        let idx = self.r(rm);
        let v = if half {
            self.read_u(bus, base.wrapping_add(idx << 1), Size::Half)?
        } else {
            self.read(bus, base.wrapping_add(idx), Size::Byte)?
        };
        self.next_pc = self.regs[15].wrapping_add(v << 1);
        self.end_block();
        OK
    }
}
