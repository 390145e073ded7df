//! Interworking branches (A7.7.20 BLX (register), A7.7.21 BX) and BXWritePC / LoadWritePC
//! (A2.3.1), which start an exception return in Handler mode (B1.5.8).

use super::{Exec, OK};
use crate::{Bus, Cpu};

impl Cpu {
    pub(crate) fn bx(&mut self, bus: &mut dyn Bus, rm: u8, link: bool) -> Exec {
        let target = self.r(rm);
        self.end_block();
        if link {
            self.regs[14] = self.next_pc | 1;
            // BLX never performs an exception return.
            self.next_pc = target & !1;
            self.set_tbit(target & 1 != 0);
            return OK;
        }
        self.bx_write_pc(bus, target)
    }

    /// BXWritePC: EXC_RETURN values in Handler mode return from the exception, otherwise
    /// bit 0 becomes EPSR.T (0 faults INVSTATE at the next instruction).
    #[inline]
    pub(crate) fn bx_write_pc(&mut self, bus: &mut dyn Bus, v: u32) -> Exec {
        self.end_block();
        if self.ipsr != 0 && v >> 28 == 0xF {
            return self.exception_return(bus, v);
        }
        self.next_pc = v & !1;
        self.set_tbit(v & 1 != 0);
        OK
    }

    #[inline(always)]
    fn set_tbit(&mut self, t: bool) {
        if !t {
            self.tbit = false;
            self.attn = 0;
        }
    }
}
