//! The USB control seam over rusb (libusb). rusb's global context panics where libusb cannot
//! start (a machine without a USB stack), so everything goes through an explicit
//! `rusb::Context` whose creation error becomes a plain message.

use std::time::Duration;

use rusb::UsbContext;

use crate::hw::{ControlSetup, UsbBus, UsbControl, UsbDeviceInfo, UsbError, UsbSelector};

pub struct RusbBus {
    context: rusb::Context,
}

fn usb_error(e: rusb::Error) -> UsbError {
    match e {
        rusb::Error::Pipe => UsbError::Stall,
        rusb::Error::Timeout => UsbError::Timeout,
        rusb::Error::NoDevice | rusb::Error::NotFound => UsbError::NoDevice,
        rusb::Error::Access => {
            UsbError::Access("permission denied: add a udev rule for the device".into())
        }
        rusb::Error::Busy => UsbError::Access("the device is claimed by another program".into()),
        other => UsbError::Other(other.to_string()),
    }
}

impl RusbBus {
    pub fn new() -> Result<Self, UsbError> {
        rusb::Context::new()
            .map(|context| Self { context })
            .map_err(|e| UsbError::Unavailable(format!("libusb could not start ({e})")))
    }

    fn port_path(device: &rusb::Device<rusb::Context>) -> String {
        let ports = device.port_numbers().unwrap_or_default();
        let ports: Vec<String> = ports.iter().map(u8::to_string).collect();
        format!("{}-{}", device.bus_number(), ports.join("."))
    }

    fn describe(
        device: &rusb::Device<rusb::Context>,
    ) -> Option<(UsbDeviceInfo, rusb::DeviceDescriptor)> {
        let desc = device.device_descriptor().ok()?;
        // The serial needs an open handle; a device we may not open is still listed.
        let serial = device
            .open()
            .ok()
            .and_then(|h| h.read_serial_number_string_ascii(&desc).ok());
        let info = UsbDeviceInfo {
            vid: desc.vendor_id(),
            pid: desc.product_id(),
            serial,
            port_path: Self::port_path(device),
        };
        Some((info, desc))
    }

    fn find(
        &self,
        selector: &UsbSelector,
    ) -> Result<(rusb::Device<rusb::Context>, UsbDeviceInfo), UsbError> {
        let devices = self.context.devices().map_err(usb_error)?;
        for device in devices.iter() {
            let Ok(desc) = device.device_descriptor() else {
                continue;
            };
            if desc.vendor_id() != selector.vid || desc.product_id() != selector.pid {
                continue;
            }
            if let Some((info, _)) = Self::describe(&device)
                && selector.matches(&info)
            {
                return Ok((device, info));
            }
        }
        Err(UsbError::NotFound(format!("no USB device {selector}")))
    }
}

impl UsbBus for RusbBus {
    fn list(&self) -> Result<Vec<UsbDeviceInfo>, UsbError> {
        let devices = self.context.devices().map_err(usb_error)?;
        Ok(devices
            .iter()
            .filter_map(|d| Self::describe(&d).map(|(i, _)| i))
            .collect())
    }

    fn open(&self, selector: &UsbSelector) -> Result<Box<dyn UsbControl>, UsbError> {
        let (device, info) = self.find(selector)?;
        let handle = device.open().map_err(usb_error)?;
        let _ = handle.set_auto_detach_kernel_driver(true);
        Ok(Box::new(RusbPipe {
            bus: RusbBus {
                context: self.context.clone(),
            },
            handle,
            info,
            claimed: None,
        }))
    }
}

pub struct RusbPipe {
    bus: RusbBus,
    handle: rusb::DeviceHandle<rusb::Context>,
    info: UsbDeviceInfo,
    claimed: Option<(u8, u8)>,
}

impl UsbControl for RusbPipe {
    fn info(&self) -> UsbDeviceInfo {
        self.info.clone()
    }

    fn control_in(
        &mut self,
        setup: ControlSetup,
        length: u16,
        timeout: Duration,
    ) -> Result<Vec<u8>, UsbError> {
        let mut buf = vec![0u8; length as usize];
        let n = self
            .handle
            .read_control(
                setup.request_type,
                setup.request,
                setup.value,
                setup.index,
                &mut buf,
                timeout,
            )
            .map_err(usb_error)?;
        buf.truncate(n);
        Ok(buf)
    }

    fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), UsbError> {
        self.handle
            .write_control(
                setup.request_type,
                setup.request,
                setup.value,
                setup.index,
                data,
                timeout,
            )
            .map(drop)
            .map_err(usb_error)
    }

    fn select_interface(&mut self, interface: u8, alt: u8) -> Result<(), UsbError> {
        if self.claimed.map(|c| c.0) != Some(interface) {
            self.handle.claim_interface(interface).map_err(usb_error)?;
        }
        self.handle
            .set_alternate_setting(interface, alt)
            .map_err(usb_error)?;
        self.claimed = Some((interface, alt));
        Ok(())
    }

    fn reset(&mut self) -> Result<(), UsbError> {
        match self.handle.reset() {
            // The device re-enumerated: the handle is gone, which is what a reset asks for.
            Ok(()) | Err(rusb::Error::NotFound | rusb::Error::NoDevice) => Ok(()),
            Err(e) => Err(usb_error(e)),
        }
    }

    fn reopen(&mut self) -> Result<(), UsbError> {
        let devices = self.bus.context.devices().map_err(usb_error)?;
        for device in devices.iter() {
            if RusbBus::port_path(&device) == self.info.port_path
                && let Some((info, _)) = RusbBus::describe(&device)
            {
                self.handle = device.open().map_err(usb_error)?;
                let _ = self.handle.set_auto_detach_kernel_driver(true);
                self.info = info;
                if let Some((i, a)) = self.claimed.take() {
                    self.select_interface(i, a)?;
                }
                return Ok(());
            }
        }
        Err(UsbError::NoDevice)
    }
}
