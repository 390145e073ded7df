//! Option bytes: the RDP level, option register writes, OPTSTRT (with the RDP regression
//! erase and the PCROP rules), and the memory-mapped option area.

use std::time::Duration;

use super::{
    CR, CR_LOCK, CR_OPTSTRT, KEY1, KEY2, KEYR, Layout, OPTKEY1, OPTKEY2, OPTKEYR, OPTR, OptrCore,
    SR_PGSERR, SR_WRPERR,
};
use crate::controller::FlashBus;

/// RDP level from the RDP byte (OPTR bits 7:0): 0xAA level 0, 0xCC level 2, else level 1.
pub fn rdp_level(optr: u32) -> u8 {
    match optr & 0xFF {
        0xAA => 0,
        0xCC => 2,
        _ => 1,
    }
}

impl OptrCore {
    pub(super) fn option_register_write(
        &mut self,
        l: &Layout,
        i: usize,
        value: u32,
        bus: &mut FlashBus,
    ) {
        if self.optkey.locked {
            return;
        }
        if self.busy(bus.now) {
            self.sr |= SR_PGSERR;
            return;
        }
        let w = l.regs[i].writable;
        self.regs[i] = (self.regs[i] & !w) | (value & w);
    }

    /// OPTSTRT: the option registers are programmed into the option bytes. Not applied
    /// until the next option load.
    pub(super) fn program_options(&mut self, l: &Layout, bus: &mut FlashBus) {
        if rdp_level(self.loaded[0]) == 2 {
            self.fail(SR_WRPERR);
            bus.log.push(format!(
                "{}: option bytes frozen at RDP level 2; OPTSTRT refused",
                l.name
            ));
            return;
        }
        let mut new = self.regs.clone();
        let mut erase_cost = Duration::ZERO;
        let regression = rdp_level(self.loaded[0]) == 1 && rdp_level(new[0]) == 0;
        if regression {
            if l.pcrop_rdp(&self.loaded) || !l.any_pcrop(&self.loaded) {
                bus.flash.erase_all();
                erase_cost = bus.timing.mass_erase;
                // PCROP is disabled: start above end.
                for a in l.pcrop {
                    new[a.start_reg] |= a.field;
                    new[a.end_reg] &= !a.field;
                }
                bus.log
                    .push(format!("{}: RDP regression 1 -> 0: mass erase", l.name));
            } else {
                let mut kept = 0;
                for p in 0..l.pages().min(bus.flash.sector_count()) {
                    if l.page_pcrop(&self.loaded, p) {
                        kept += 1;
                    } else {
                        bus.flash.erase_sector(p);
                        erase_cost += bus.timing.erase_time(l.page_size);
                    }
                }
                for a in l.pcrop {
                    new[a.start_reg] = self.stored[a.start_reg];
                    new[a.end_reg] = self.stored[a.end_reg];
                }
                bus.log.push(format!(
                    "{}: RDP regression 1 -> 0: partial mass erase, {kept} PCROP page(s) kept",
                    l.name
                ));
            }
        } else {
            // A PCROP area can only grow outside a regression (RM0440 [R]).
            for (i, a) in l.pcrop.iter().enumerate() {
                let Some((old_s, old_e)) = l.pcrop_range(&self.stored, i) else {
                    continue;
                };
                let grows = l
                    .pcrop_range(&new, i)
                    .is_some_and(|(s, e)| s <= old_s && e >= old_e);
                if !grows {
                    new[a.start_reg] = self.stored[a.start_reg];
                    new[a.end_reg] = self.stored[a.end_reg];
                    bus.log
                        .push(format!("{}: PCROP area {i} cannot shrink; kept", l.name));
                }
            }
        }
        self.stored = new;
        self.start_busy(bus.now, erase_cost + bus.timing.option_program, CR_OPTSTRT);
        self.done();
        bus.log.push(format!(
            "{}: option bytes programmed (OPTR {:#010x}); applied at the next option load",
            l.name, self.stored[0]
        ));
    }

    /// The memory-mapped option bytes: each stored word, its complement at +4.
    pub fn option_area(&self, l: &Layout, address: u32) -> Option<u32> {
        l.regs.iter().enumerate().find_map(|(i, r)| {
            if address == r.area {
                Some(self.stored[i])
            } else if address == r.area + 4 {
                Some(!self.stored[i])
            } else {
                None
            }
        })
    }

    /// Write OPTR through the registers as code would: unlock, OPTR, OPTSTRT, lock. No
    /// option load (the caller requests one if it wants the value applied).
    pub fn write_optr_through_registers(&mut self, l: &Layout, optr: u32, bus: &mut FlashBus) {
        if self.key.locked {
            let _ = self.write(l, KEYR, KEY1, bus);
            let _ = self.write(l, KEYR, KEY2, bus);
        }
        if self.optkey.locked {
            let _ = self.write(l, OPTKEYR, OPTKEY1, bus);
            let _ = self.write(l, OPTKEYR, OPTKEY2, bus);
        }
        let _ = self.write(l, OPTR, optr, bus);
        let _ = self.write(l, CR, CR_OPTSTRT, bus);
        let _ = self.write(l, CR, CR_LOCK, bus);
    }
}
