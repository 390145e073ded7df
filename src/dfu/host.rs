//! Drives the sans-IO engine over a `hw::UsbControl` pipe, with waits on the `hw` clock.

use std::time::Duration;

use super::descriptor::{self, DeviceDescriptor, DfuInterface, Functional};
use super::engine::{Action, DfuError, Download, Finish, Transfer};
use super::memmap::{self, MemoryMap};
use super::proto;
use crate::hw::{
    Clock, ControlSetup, REQ_TYPE_CLASS_OUT, REQ_TYPE_STANDARD_IN, UsbControl, UsbError,
};

/// Every control transfer is bounded; DFU requests are short.
pub const TRANSFER_TIMEOUT: Duration = Duration::from_secs(5);

fn get_descriptor(
    pipe: &mut dyn UsbControl,
    kind: u8,
    index: u8,
    length: u16,
) -> Result<Vec<u8>, UsbError> {
    let setup = ControlSetup {
        request_type: REQ_TYPE_STANDARD_IN,
        request: 6,
        value: u16::from_be_bytes([kind, index]),
        index: if kind == 3 && index != 0 { 0x0409 } else { 0 },
    };
    pipe.control_in(setup, length, TRANSFER_TIMEOUT)
}

pub fn read_string(pipe: &mut dyn UsbControl, index: u8) -> Result<Option<String>, UsbError> {
    if index == 0 {
        return Ok(None);
    }
    let d = get_descriptor(pipe, 3, index, 255)?;
    Ok(descriptor::parse_string(&d))
}

pub fn read_device_descriptor(pipe: &mut dyn UsbControl) -> Result<DeviceDescriptor, DfuError> {
    let d = get_descriptor(pipe, 1, 0, 18).map_err(|error| DfuError::Usb {
        op: "reading the device descriptor".into(),
        error,
    })?;
    descriptor::parse_device(&d)
        .ok_or_else(|| DfuError::Protocol("malformed device descriptor".into()))
}

/// DFU_DETACH to a run-time interface (DFU 1.1, 5.1): the device then waits up to
/// `timeout_ms` for the bus reset that restarts it in DFU mode. The reset is the caller's.
pub fn detach(pipe: &mut dyn UsbControl, interface: u8, timeout_ms: u16) -> Result<(), UsbError> {
    class_out(pipe, proto::DETACH, timeout_ms, interface)
}

/// DFU_ABORT: back to dfuIDLE from any idle or upload state (DFU 1.1, 6.1.4).
pub fn abort(pipe: &mut dyn UsbControl, interface: u8) -> Result<(), UsbError> {
    class_out(pipe, proto::ABORT, 0, interface)
}

fn class_out(
    pipe: &mut dyn UsbControl,
    request: u8,
    value: u16,
    interface: u8,
) -> Result<(), UsbError> {
    let setup = ControlSetup {
        request_type: REQ_TYPE_CLASS_OUT,
        request,
        value,
        index: interface.into(),
    };
    pipe.control_out(setup, &[], TRANSFER_TIMEOUT)
}

/// A DFU-mode interface, opened and described.
#[derive(Clone, Debug)]
pub struct DfuDevice {
    pub device: DeviceDescriptor,
    pub interface: DfuInterface,
    pub functional: Functional,
    /// Alternate setting names, DfuSe memory maps where they parse.
    pub alt_names: Vec<String>,
}

impl DfuDevice {
    /// Read the descriptors, find the DFU-mode interface and select `alt`.
    pub fn open(pipe: &mut dyn UsbControl, alt: u8) -> Result<DfuDevice, DfuError> {
        let usb = |op: &str| {
            let op = op.to_string();
            move |error| DfuError::Usb {
                op: op.clone(),
                error,
            }
        };
        let device = read_device_descriptor(pipe)?;
        let head =
            get_descriptor(pipe, 2, 0, 9).map_err(usb("reading the configuration descriptor"))?;
        let total = head
            .get(2..4)
            .map_or(9, |b| u16::from_le_bytes([b[0], b[1]]));
        let config = get_descriptor(pipe, 2, 0, total)
            .map_err(usb("reading the configuration descriptor"))?;
        let interfaces = descriptor::parse_config(&config);
        let interface = interfaces
            .into_iter()
            .find(DfuInterface::is_dfu_mode)
            .ok_or(DfuError::NotInDfuMode)?;
        let functional = interface.functional.ok_or_else(|| {
            DfuError::Protocol("the DFU interface has no functional descriptor".into())
        })?;
        let mut alt_names = Vec::new();
        for a in &interface.alts {
            let name = read_string(pipe, a.name_index)
                .map_err(usb("reading an alternate setting name"))?;
            alt_names.push(name.unwrap_or_default());
        }
        if !interface.alts.iter().any(|a| a.alt == alt) {
            return Err(DfuError::Protocol(format!(
                "the device has no alternate setting {alt} (it has {})",
                interface
                    .alts
                    .iter()
                    .map(|a| a.alt.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        pipe.select_interface(interface.number, alt)
            .map_err(usb("selecting the alternate setting"))?;
        Ok(DfuDevice {
            device,
            interface,
            functional,
            alt_names,
        })
    }

    pub fn memory_map(&self, alt: u8) -> Result<MemoryMap, DfuError> {
        let name = self
            .alt_names
            .get(alt as usize)
            .ok_or_else(|| DfuError::Protocol(format!("no alternate setting {alt}")))?;
        memmap::parse(name).map_err(DfuError::Protocol)
    }
}

/// A sans-IO DFU state machine the host can drive.
pub trait Machine {
    fn next_action(&mut self) -> Action;
    fn on_reply(&mut self, reply: Result<Vec<u8>, UsbError>);
    /// (bytes done, bytes in all), for progress reports.
    fn progress(&self) -> (u64, u64);
}

impl Machine for Download {
    fn next_action(&mut self) -> Action {
        Download::next_action(self)
    }
    fn on_reply(&mut self, reply: Result<Vec<u8>, UsbError>) {
        Download::on_reply(self, reply)
    }
    fn progress(&self) -> (u64, u64) {
        (self.stats.bytes_written, self.stats.bytes_total)
    }
}

/// Carry a machine's transfers over `pipe` and its waits on `clock` until it finishes.
pub fn drive<M: Machine>(
    machine: &mut M,
    pipe: &mut dyn UsbControl,
    clock: &dyn Clock,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Finish, DfuError> {
    let mut reported = u64::MAX;
    loop {
        match machine.next_action() {
            Action::Transfer(Transfer::Out { setup, data }) => {
                let r = pipe
                    .control_out(setup, &data, TRANSFER_TIMEOUT)
                    .map(|()| Vec::new());
                machine.on_reply(r);
            }
            Action::Transfer(Transfer::In { setup, length }) => {
                let r = pipe.control_in(setup, length, TRANSFER_TIMEOUT);
                machine.on_reply(r);
            }
            Action::Sleep(d) => clock.sleep(d),
            Action::Finished(r) => return r,
        }
        let (done, total) = machine.progress();
        if done != reported {
            reported = done;
            progress(done, total);
        }
    }
}

/// Run a download to its end (or its stop point), reporting (bytes written, total) as it goes.
pub fn execute(
    engine: &mut Download,
    pipe: &mut dyn UsbControl,
    clock: &dyn Clock,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Finish, DfuError> {
    drive(engine, pipe, clock, progress)
}
