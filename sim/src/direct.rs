//! A debug connection straight into a simulated MCU, without probe-rs: how the virtual bench
//! builds units that arrive already programmed (`initial = "provisioned"`), as a contract
//! manufacturer's programmer would have left them. It goes through the same FLASH controller
//! as any debugger, so protection applies; it only skips probe-rs's real-time waits.

use std::sync::{Arc, Mutex};

use super::fault::Origin;
use super::mcu::Mcu;
use crate::hw::{
    AttachMode, DebugTarget, FlashOptions, FlashProgress, FlashReport, HwError, ResetKind, Segment,
};

pub struct DirectTarget {
    mcu: Arc<Mutex<Mcu>>,
}

impl DirectTarget {
    pub fn new(mcu: Arc<Mutex<Mcu>>) -> Self {
        Self { mcu }
    }

    fn mcu(&self) -> std::sync::MutexGuard<'_, Mcu> {
        self.mcu.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn fault(address: u32) -> HwError {
    HwError::Protected(format!("the access to {address:#010x} faulted"))
}

impl DebugTarget for DirectTarget {
    fn attach(&mut self, _mode: AttachMode) -> Result<(), HwError> {
        let mut mcu = self.mcu();
        if !mcu.powered || mcu.fc.rdp_level() == 2 {
            return Err(HwError::NoResponse(
                "the simulated unit does not answer".into(),
            ));
        }
        mcu.debugger = true;
        Ok(())
    }

    fn detach(&mut self) {}

    fn read_word(&mut self, address: u32) -> Result<u32, HwError> {
        self.mcu().debug_read(address).map_err(|_| fault(address))
    }

    fn write_word(&mut self, address: u32, value: u32) -> Result<(), HwError> {
        let mut mcu = self.mcu();
        let result = mcu
            .debug_write(address, value, 4)
            .map_err(|_| fault(address));
        // The core runs no code while the debugger polls: let flash work finish.
        mcu.wait_flash_idle();
        result
    }

    fn flash(
        &mut self,
        segments: &[Segment],
        _options: &FlashOptions,
        _progress: &mut dyn FnMut(FlashProgress),
    ) -> Result<FlashReport, HwError> {
        let mut mcu = self.mcu();
        let mut erased = std::collections::BTreeSet::new();
        let mut bytes = 0u64;
        let lost = |_| HwError::NoResponse("the simulated unit lost power".into());
        for seg in segments {
            let end = seg.address + seg.data.len() as u32;
            let mut a = seg.address;
            while a < end {
                let sector = mcu.flash.sector_of(a).ok_or_else(|| {
                    HwError::Backend(format!("{a:#010x} is outside the simulated flash"))
                })?;
                if erased.insert(sector)
                    && mcu.flash_erase(sector, Origin::Debugger).map_err(lost)? != 0
                {
                    return Err(HwError::Protected(format!(
                        "erasing sector {sector} failed"
                    )));
                }
                let (start, size) = mcu.flash.sector(sector).unwrap_or((a, 0));
                a = start + size;
            }
            for (i, chunk) in seg.data.chunks(1024).enumerate() {
                let at = seg.address + 1024 * i as u32;
                if mcu
                    .flash_program(at, chunk, Origin::Debugger)
                    .map_err(lost)?
                    != 0
                {
                    return Err(HwError::Protected(format!("programming {at:#010x} failed")));
                }
                bytes += chunk.len() as u64;
            }
            if mcu.flash.read(seg.address, seg.data.len()) != Some(&seg.data[..]) {
                return Err(HwError::VerifyMismatch(format!(
                    "the segment at {:#010x} reads back differently",
                    seg.address
                )));
            }
        }
        mcu.wait_flash_idle();
        Ok(FlashReport {
            skipped: false,
            bytes_programmed: bytes,
            verified: true,
        })
    }

    fn reset(&mut self, _kind: ResetKind) -> Result<(), HwError> {
        self.mcu().system_reset();
        Ok(())
    }
}
