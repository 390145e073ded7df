//! The device on USB: requests (a cut can land on one), leaving the bus, presence, and a loose
//! cable.

use std::time::Duration;

use super::Mcu;
use crate::fault::{Cut, CutPoint, CutWhen, PowerLost};
use crate::firmware::Firmware;
use crate::hw::Clock;

impl Mcu {
    /// A USB request reaches the device. A cut scheduled at it lands first (the host sees
    /// the device vanish); one scheduled after it lands in `usb_request_done`.
    pub fn usb_request(&mut self) -> Result<(), PowerLost> {
        self.usb_requests += 1;
        let n = self.usb_requests;
        match self.cut {
            Some(Cut {
                point: CutPoint::UsbRequest(k),
                when: CutWhen::Before | CutWhen::Inside,
            }) if k == n => {
                self.cut_power();
                Err(PowerLost)
            }
            Some(Cut {
                point: CutPoint::At(t),
                ..
            }) if t <= self.clock.now() => {
                self.cut_power();
                Err(PowerLost)
            }
            _ => Ok(()),
        }
    }

    pub fn usb_request_done(&mut self) {
        if let Some(Cut {
            point: CutPoint::UsbRequest(k),
            when: CutWhen::After,
        }) = self.cut
            && k == self.usb_requests
        {
            self.cut_power();
        }
    }

    /// The device drops off USB (reset, power, a jump).
    pub fn leave_bus(&mut self) {
        self.usb_epoch += 1;
    }

    /// Whether the device answers on USB now.
    pub fn usb_present(&self) -> bool {
        let now = self.clock.now();
        self.powered
            && !self.nrst_low
            && !self.core.halted
            && self.firmware.usb_mode().is_some()
            && !self.faults.never_enumerates
            && now >= self.usb_ready_at
            && now >= self.unplugged_until
    }

    /// The cable comes loose for a moment: the host loses the device, which carries on and
    /// sees a bus reset when it is plugged back.
    pub fn unplug_cable(&mut self, for_how_long: Duration) {
        self.unplugged_until = self.clock.now() + for_how_long;
        self.leave_bus();
        if let Firmware::Rom(f) | Firmware::Bootloader(_, f) = &mut self.firmware {
            f.usb_reset();
        }
    }
}
