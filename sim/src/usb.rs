//! The virtual bench's USB side: the simulated device answers control transfers (standard
//! descriptors, SET_INTERFACE, DFU class requests) behind the `hw::UsbBus`/`hw::UsbControl`
//! seam, and every transfer costs its full-speed bus time on the fixture's virtual clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::dfuse::{self, After, Stall};
use super::firmware::{self, DesignKind, Firmware, FirmwareMemory, RomEntry, UsbMode};
use super::mcu::Mcu;
use crate::hw::{ControlSetup, UsbBus, UsbControl, UsbDeviceInfo, UsbError, UsbSelector};

/// Full-speed bus time of one control transfer: a setup stage, data packets of at most 64
/// bytes, and a status stage, at 12 Mbit/s. Each packet costs its payload plus 13 bytes of
/// token, PID, CRC, handshake, sync and inter-packet gap. Frame boundaries are not modelled:
/// control transfers may share a 1 ms frame.
pub fn bus_time(data_len: usize) -> Duration {
    const OVERHEAD: usize = 13;
    let packets = data_len.div_ceil(64);
    let bytes = (8 + OVERHEAD) + data_len + packets * OVERHEAD + OVERHEAD;
    Duration::from_nanos((bytes as u64 * 8 * 1000) / 12)
}

const GET_DESCRIPTOR: u8 = 6;
const SET_INTERFACE: u8 = 11;

fn string_descriptor(s: &str) -> Vec<u8> {
    let units: Vec<u16> = s.encode_utf16().collect();
    let mut d = vec![(2 + 2 * units.len()).min(255) as u8, 3];
    for u in units {
        d.extend_from_slice(&u.to_le_bytes());
    }
    d.truncate(255);
    d
}

struct Strings {
    product: String,
    interfaces: Vec<String>,
}

impl Mcu {
    fn usb_serial(&self) -> String {
        // ST bootloaders derive a 12-digit serial from the UID; the application does the same.
        self.uid_hex()[..12].to_string()
    }

    fn identity(&self, mode: UsbMode) -> (u16, u16) {
        match mode {
            UsbMode::Application => self.usb.application,
            UsbMode::Bootloader => self.usb.bootloader,
            UsbMode::Rom => self.usb.rom,
        }
    }

    fn strings(&self) -> Strings {
        match &self.firmware {
            Firmware::Rom(f) => Strings {
                product: "STM32  BOOTLOADER".into(),
                interfaces: f.config.alt_names.clone(),
            },
            Firmware::Bootloader(d, f) => Strings {
                product: format!("{} DFU bootloader", d.name),
                interfaces: f.config.alt_names.clone(),
            },
            Firmware::App { header, .. } => Strings {
                product: format!("{} {}", header.name, header.version),
                interfaces: vec!["Runtime DFU".into()],
            },
            _ => Strings {
                product: String::new(),
                interfaces: vec![],
            },
        }
    }

    fn device_descriptor(&self, mode: UsbMode) -> Vec<u8> {
        let (vid, pid) = self.identity(mode);
        let bcd_device = match &self.firmware {
            Firmware::App { header, .. } => {
                u16::from_be_bytes([header.version.major, header.version.minor])
            }
            Firmware::Rom(_) => 0x2200,
            _ => 0x0200,
        };
        let mut d = vec![18, 1, 0x00, 0x02, 0, 0, 0, 64];
        d.extend_from_slice(&vid.to_le_bytes());
        d.extend_from_slice(&pid.to_le_bytes());
        d.extend_from_slice(&bcd_device.to_le_bytes());
        d.extend_from_slice(&[1, 2, 3, 1]);
        d
    }

    fn config_descriptor(&self) -> Vec<u8> {
        let (alts, protocol, attributes, detach, transfer, version) = match &self.firmware {
            Firmware::Rom(f) | Firmware::Bootloader(_, f) => (
                f.config.alt_names.len(),
                2u8,
                f.config.attributes,
                f.config.detach_timeout_ms,
                f.config.transfer_size,
                0x011Au16,
            ),
            // The application restarts into DFU mode at the host's USB reset after DETACH,
            // so its runtime descriptor must not claim bitWillDetach (which tells the host
            // not to reset: dfu-util then waits for a detach that never comes).
            _ => (1, 1u8, 0x03, 255, 1024, 0x011A),
        };
        let mut body = Vec::new();
        for alt in 0..alts {
            body.extend_from_slice(&[9, 4, 0, alt as u8, 0, 0xFE, 0x01, protocol, 4 + alt as u8]);
        }
        body.extend_from_slice(&[9, 0x21, attributes]);
        body.extend_from_slice(&detach.to_le_bytes());
        body.extend_from_slice(&transfer.to_le_bytes());
        body.extend_from_slice(&version.to_le_bytes());
        let total = (9 + body.len()) as u16;
        let mut d = vec![9, 2];
        d.extend_from_slice(&total.to_le_bytes());
        d.extend_from_slice(&[1, 1, 0, 0xC0, 50]);
        d.extend(body);
        d
    }

    fn get_descriptor(&self, value: u16, mode: UsbMode) -> Result<Vec<u8>, Stall> {
        let [index, kind] = value.to_le_bytes();
        match (kind, index) {
            (1, _) => Ok(self.device_descriptor(mode)),
            (2, 0) => Ok(self.config_descriptor()),
            (3, 0) => Ok(vec![4, 3, 0x09, 0x04]),
            (3, 1) => Ok(string_descriptor("STMicroelectronics")),
            (3, 2) => Ok(string_descriptor(&self.strings().product)),
            (3, 3) => Ok(string_descriptor(&self.usb_serial())),
            (3, i) => self
                .strings()
                .interfaces
                .get(i as usize - 4)
                .map(|s| string_descriptor(s))
                .ok_or(Stall),
            _ => Err(Stall),
        }
    }

    /// One control transfer as the device sees it.
    pub fn usb_control(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        length: u16,
    ) -> Result<Vec<u8>, Stall> {
        let Some(mode) = self.firmware.usb_mode() else {
            return Err(Stall);
        };
        match (setup.request_type, setup.request) {
            (0x80, GET_DESCRIPTOR) => {
                let mut d = self.get_descriptor(setup.value, mode)?;
                d.truncate(length as usize);
                Ok(d)
            }
            (0x01, SET_INTERFACE) => match &mut self.firmware {
                Firmware::Rom(f) | Firmware::Bootloader(_, f) => {
                    f.select_alt(setup.value as u8).map(|()| Vec::new())
                }
                _ => Ok(Vec::new()),
            },
            (0x21 | 0xA1, request) => self.dfu_request(request, setup.value, data, length),
            _ => Err(Stall),
        }
    }

    fn dfu_request(
        &mut self,
        request: u8,
        value: u16,
        data: &[u8],
        length: u16,
    ) -> Result<Vec<u8>, Stall> {
        let mut firmware = std::mem::replace(&mut self.firmware, Firmware::Off);
        let outcome = match &mut firmware {
            Firmware::Rom(f) => {
                f.request(request, value, data, length, &mut FirmwareMemory::rom(self))
            }
            Firmware::Bootloader(design, f) => {
                let mut mem = FirmwareMemory::custom(self, design, f.alt);
                f.request(request, value, data, length, &mut mem)
            }
            Firmware::App { detach, design, .. } => {
                // An st-rom product strapped by BOOT0 has no way in from the application.
                let can_detach = !matches!(design, Some(d) if d.kind == DesignKind::StRom && d.entry == RomEntry::Boot0Strap);
                runtime_dfu(detach, can_detach, request).map(|r| (r, After::Nothing))
            }
            _ => Err(Stall),
        };
        if !self.powered {
            // The power went while the request was served: nothing answers.
            return Err(Stall);
        }
        self.firmware = firmware;
        let (reply, after) = outcome?;
        match after {
            After::Nothing => {}
            After::Leave { address } => self.leave_dfu(address),
            After::Reset => self.system_reset(),
        }
        Ok(reply)
    }

    /// Manifestation: the ROM jumps to the address pointer; a custom bootloader resets and
    /// boots whatever its checks allow.
    fn leave_dfu(&mut self, address: u32) {
        self.leave_bus();
        match &self.firmware {
            Firmware::Rom(_) => {
                let end = self.flash.base() + self.flash.size();
                let size = end.saturating_sub(address.max(self.flash.base()));
                match firmware::jump(self, address, size, None) {
                    // No valid code: the MCU resets, and with BOOT0 high comes back as the ROM.
                    Firmware::HardFault(_) => self.system_reset(),
                    started => {
                        self.firmware = started;
                        self.usb_epoch += 1;
                    }
                }
            }
            Firmware::Bootloader(design, _) => {
                let design = design.clone();
                if firmware::mark_pending(self, &design).is_ok() {
                    self.system_reset();
                }
            }
            _ => self.system_reset(),
        }
    }

    /// A USB bus reset.
    pub fn usb_bus_reset(&mut self) {
        match &mut self.firmware {
            Firmware::Rom(f) | Firmware::Bootloader(_, f) => {
                if matches!(
                    f.state,
                    dfuse::State::Manifest | dfuse::State::ManifestWaitReset
                ) {
                    let address = f.address;
                    self.leave_dfu(address);
                } else {
                    f.usb_reset();
                }
            }
            Firmware::App { detach: true, .. } => {
                // The application leaves a request in RAM and resets into DFU mode.
                self.dfu_request = true;
                self.system_reset();
            }
            _ => {}
        }
        self.usb_epoch += 1;
    }
}

fn runtime_dfu(detach: &mut bool, can_detach: bool, request: u8) -> Result<Vec<u8>, Stall> {
    match request {
        dfuse::DETACH if can_detach => {
            *detach = true;
            Ok(Vec::new())
        }
        dfuse::GETSTATUS => {
            let state = if *detach {
                dfuse::State::AppDetach
            } else {
                dfuse::State::AppIdle
            };
            Ok(vec![0, 0, 0, 0, state as u8, 0])
        }
        dfuse::GETSTATE => Ok(vec![if *detach { 1 } else { 0 }]),
        _ => Err(Stall),
    }
}

/// The one device on a simulated fixture's USB port.
pub struct SimUsbBus {
    pub mcu: Arc<Mutex<Mcu>>,
}

fn lock(mcu: &Arc<Mutex<Mcu>>) -> std::sync::MutexGuard<'_, Mcu> {
    mcu.lock().unwrap_or_else(|e| e.into_inner())
}

fn device_info(mcu: &Mcu) -> Option<UsbDeviceInfo> {
    let mode = mcu.firmware.usb_mode().filter(|_| mcu.usb_present())?;
    let (vid, pid) = mcu.identity(mode);
    Some(UsbDeviceInfo {
        vid,
        pid,
        serial: Some(mcu.usb_serial()),
        port_path: mcu.usb.port_path.clone(),
    })
}

/// A device as the host's enumeration saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enumerated {
    pub info: UsbDeviceInfo,
    /// The bus epoch it belongs to: a pipe opened at it goes stale when the device leaves.
    pub epoch: u64,
    pub device: Vec<u8>,
    pub config: Vec<u8>,
}

impl SimUsbBus {
    /// The device's descriptors as enumeration reads them. No request is counted: the host's
    /// USB stack reads them once while enumerating, not when a program asks.
    pub fn enumerate(&self) -> Option<Enumerated> {
        let mcu = lock(&self.mcu);
        let info = device_info(&mcu)?;
        let mode = mcu.firmware.usb_mode()?;
        Some(Enumerated {
            info,
            epoch: mcu.usb_epoch,
            device: mcu.device_descriptor(mode),
            config: mcu.config_descriptor(),
        })
    }

    /// A pipe to the device as it was enumerated at `epoch`.
    pub fn open_epoch(&self, epoch: u64) -> Result<SimUsbPipe, UsbError> {
        let mcu = lock(&self.mcu);
        match device_info(&mcu) {
            Some(info) if mcu.usb_epoch == epoch => Ok(SimUsbPipe {
                mcu: self.mcu.clone(),
                selector: UsbSelector {
                    vid: info.vid,
                    pid: info.pid,
                    serial: None,
                    port_path: Some(info.port_path.clone()),
                },
                epoch,
                info,
            }),
            _ => Err(UsbError::NoDevice),
        }
    }
}

impl Mcu {
    /// The DFU function's bState, when firmware with one runs (runtime or DFU mode).
    pub fn dfu_state(&self) -> Option<u8> {
        match &self.firmware {
            Firmware::Rom(f) | Firmware::Bootloader(_, f) => Some(f.state as u8),
            Firmware::App { detach, .. } => Some(if *detach {
                dfuse::State::AppDetach
            } else {
                dfuse::State::AppIdle
            } as u8),
            _ => None,
        }
    }
}

impl UsbBus for SimUsbBus {
    fn list(&self) -> Result<Vec<UsbDeviceInfo>, UsbError> {
        Ok(device_info(&lock(&self.mcu)).into_iter().collect())
    }

    fn open(&self, selector: &UsbSelector) -> Result<Box<dyn UsbControl>, UsbError> {
        let mcu = lock(&self.mcu);
        match device_info(&mcu) {
            Some(info) if selector.matches(&info) => Ok(Box::new(SimUsbPipe {
                mcu: self.mcu.clone(),
                selector: selector.clone(),
                epoch: mcu.usb_epoch,
                info,
            })),
            _ => Err(UsbError::NotFound(format!("no USB device {selector}"))),
        }
    }
}

pub struct SimUsbPipe {
    mcu: Arc<Mutex<Mcu>>,
    selector: UsbSelector,
    epoch: u64,
    info: UsbDeviceInfo,
}

impl SimUsbPipe {
    fn transfer(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        length: u16,
    ) -> Result<Vec<u8>, UsbError> {
        let mut mcu = lock(&self.mcu);
        if !mcu.usb_present() || mcu.usb_epoch != self.epoch {
            return Err(UsbError::NoDevice);
        }
        // A device busy with flash work NAKs until it is done (ST's library erases and
        // programs inside the interrupt handler).
        mcu.wait_flash_idle();
        if mcu.usb_request().is_err() {
            return Err(UsbError::NoDevice);
        }
        let n = mcu.usb_requests;
        if mcu.faults.stall_at_request == Some(n) {
            return Err(UsbError::Stall);
        }
        if mcu.faults.disconnect_at_request == Some(n) {
            mcu.unplug_cable(Duration::from_millis(500));
            return Err(UsbError::NoDevice);
        }
        if mcu.faults.hang_at_request == Some(n) {
            drop(mcu);
            loop {
                std::thread::park();
            }
        }
        // The transfer crosses the bus before the device acts on it: ST's library runs a
        // DfuSe command when the GETSTATUS reply has gone out.
        let moved = if setup.request_type & 0x80 != 0 {
            length as usize
        } else {
            data.len()
        };
        mcu.clock.advance(bus_time(moved));
        let result = mcu.usb_control(setup, data, length);
        if !mcu.powered {
            return Err(UsbError::NoDevice);
        }
        mcu.usb_request_done();
        let epoch_moved = mcu.usb_epoch != self.epoch;
        drop(mcu);
        match result {
            Ok(reply) => {
                if epoch_moved {
                    // The device left the bus as this transfer completed (a leave, a reset).
                    self.epoch = u64::MAX;
                }
                Ok(reply)
            }
            Err(Stall) => Err(UsbError::Stall),
        }
    }
}

impl UsbControl for SimUsbPipe {
    fn info(&self) -> UsbDeviceInfo {
        self.info.clone()
    }

    fn control_in(
        &mut self,
        setup: ControlSetup,
        length: u16,
        _timeout: Duration,
    ) -> Result<Vec<u8>, UsbError> {
        self.transfer(setup, &[], length)
    }

    fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        _timeout: Duration,
    ) -> Result<(), UsbError> {
        self.transfer(setup, data, 0).map(drop)
    }

    fn select_interface(&mut self, interface: u8, alt: u8) -> Result<(), UsbError> {
        let setup = ControlSetup {
            request_type: 0x01,
            request: SET_INTERFACE,
            value: alt as u16,
            index: interface as u16,
        };
        self.transfer(setup, &[], 0).map(drop)
    }

    fn reset(&mut self) -> Result<(), UsbError> {
        let mut mcu = lock(&self.mcu);
        if !mcu.usb_present() || mcu.usb_epoch != self.epoch {
            return Err(UsbError::NoDevice);
        }
        mcu.usb_bus_reset();
        self.epoch = mcu.usb_epoch;
        if !mcu.usb_present() {
            self.epoch = u64::MAX;
        }
        Ok(())
    }

    fn reopen(&mut self) -> Result<(), UsbError> {
        let mcu = lock(&self.mcu);
        match device_info(&mcu) {
            Some(info)
                if self
                    .selector
                    .port_path
                    .as_ref()
                    .is_none_or(|p| *p == info.port_path) =>
            {
                self.epoch = mcu.usb_epoch;
                self.info = info;
                Ok(())
            }
            _ => Err(UsbError::NoDevice),
        }
    }
}
