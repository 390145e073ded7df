//! Power and reset: power-on, NRST, a system reset, and what boots afterwards.

use super::Mcu;
use crate::fault::PowerLost;
use crate::firmware::{self, Firmware};
use crate::hw::Clock;

impl Mcu {
    pub fn set_power(&mut self, on: bool) {
        if on == self.powered {
            return;
        }
        self.powered = on;
        self.leave_bus();
        if !on {
            self.firmware = Firmware::Off;
            self.cm4 = None;
            return;
        }
        self.debugger = false;
        self.dfu_request = false;
        for (_, mem) in &mut self.ram {
            mem.fill(0);
        }
        let (sp, pc) = self.vector_table();
        self.core.power_on(sp, pc);
        let (sp2, pc2) = self.second_vector_table();
        if let Some(core2) = self.core2.as_mut() {
            core2.power_on(sp2, pc2);
        }
        self.dbgmcu_cr = 0;
        self.option_fault.power_on();
        // Option bytes load at power-on on every family (on L4/G0 only then and at OBL_LAUNCH).
        self.fc.power_on_reset();
        self.reset_peripherals_and_boot();
    }

    pub fn set_nrst(&mut self, low: bool) {
        if self.nrst_low && !low {
            self.nrst_low = false;
            self.system_reset();
        } else if low && !self.nrst_low {
            self.nrst_low = true;
            self.leave_bus();
            self.firmware = Firmware::Off;
            self.cm4 = None;
            self.core.halted = false;
            if let Some(core2) = self.core2.as_mut() {
                core2.halted = false;
            }
        }
    }

    /// A part delivered at RDP level 1 (the byte ST's HAL writes on its family): stored in
    /// the option cells, loaded at the power-on that follows.
    pub fn deliver_at_rdp1(&mut self) {
        let byte = match self.part.family {
            crate::Family::L4 | crate::Family::G0 => 0xBB,
            _ => 0x55,
        };
        self.fc.store_rdp_byte(byte);
        self.set_power(false);
        self.set_power(true);
    }

    pub fn system_reset(&mut self) {
        if !self.powered {
            return;
        }
        self.leave_bus();
        self.option_fault.system_reset();
        if self.core.reset_catch_ignored() {
            self.swd.reset_catches_missed += 1;
        }
        let (sp, pc) = self.vector_table();
        self.core.reset(sp, pc);
        // A system reset resets both cores of a dual-core part (RM0399 "Reset and clock
        // control"); each stops on its own reset vector catch when a debugger set one.
        let (sp2, pc2) = self.second_vector_table();
        if let Some(core2) = self.core2.as_mut() {
            core2.reset(sp2, pc2);
        }
        self.reset_peripherals_and_boot();
    }

    fn reset_peripherals_and_boot(&mut self) {
        self.fc.reset();
        self.booted = false;
        self.firmware = Firmware::Off;
        self.cm4 = None;
        if !self.core.halted {
            self.boot();
        }
    }

    fn vector_table(&self) -> (u32, u32) {
        self.vector_table_at(self.part.flash_base)
    }

    /// The second core's vector table, where its boot address option points.
    fn second_vector_table(&self) -> (u32, u32) {
        match self.fc.second_core_boot(self.boot0) {
            Some((_, address)) => self.vector_table_at(address),
            None => (0, 0),
        }
    }

    fn vector_table_at(&self, base: u32) -> (u32, u32) {
        let word = |a: u32| {
            self.flash
                .read(a, 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0xFFFF_FFFF)
        };
        (word(base), word(base + 4))
    }

    /// The firmware starts: what runs follows from the BOOT0 strap and the bytes in flash.
    pub fn boot(&mut self) {
        self.booted = true;
        self.usb_ready_at = self.clock.now() + self.faults.enumeration_delay;
        self.firmware = match firmware::boot(self) {
            Ok(f) => f,
            Err(PowerLost) => Firmware::Off,
        };
        self.cm4 = match self.firmware {
            Firmware::Off => None,
            _ => crate::cm4::boot(self),
        };
        if let Some(cm4) = &self.cm4 {
            self.log.push(format!("boot: CM4 {}", cm4.describe()));
        }
        self.usb_epoch += 1;
        self.log.push(format!("boot: {}", self.firmware.describe()));
    }
}
