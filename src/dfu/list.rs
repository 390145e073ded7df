//! Discovery: every DFU-capable interface on a bus (class FE, subclass 01; protocol 01 for a
//! runtime interface in an application, 02 in DFU mode), with its functional descriptor and
//! alternate settings, read over the control seam only, so the same code lists real devices
//! (rusb) and the virtual bench's.

use serde::Serialize;

use super::descriptor::{self, DfuInterface};
use super::host::{TRANSFER_TIMEOUT, read_device_descriptor, read_string};
use super::memmap;
use crate::hw::{
    ControlSetup, REQ_TYPE_STANDARD_IN, UsbBus, UsbControl, UsbDeviceInfo, UsbSelector,
};

#[derive(Clone, Debug, Serialize)]
pub struct Listing {
    pub vid: u16,
    pub pid: u16,
    pub port_path: String,
    pub serial: Option<String>,
    pub product: Option<String>,
    pub interfaces: Vec<InterfaceListing>,
    /// Why the device could not be described (permissions, gone), when it could not.
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize)]
pub struct InterfaceListing {
    pub number: u8,
    /// "runtime" (an application that can detach) or "dfu" (DFU mode).
    pub mode: &'static str,
    pub transfer_size: Option<u16>,
    pub detach_timeout_ms: Option<u16>,
    pub dfu_version: Option<String>,
    pub can_download: Option<bool>,
    pub can_upload: Option<bool>,
    pub manifestation_tolerant: Option<bool>,
    pub will_detach: Option<bool>,
    pub alts: Vec<AltListing>,
}

#[derive(Clone, Debug, Serialize)]
pub struct AltListing {
    pub alt: u8,
    pub name: String,
    /// Regions of a DfuSe memory map, as "start size access", when the name is one.
    pub regions: Vec<String>,
}

/// Describe every device on `bus` that has a DFU interface. Devices that cannot be opened are
/// listed with the reason when their ids say they may be DFU devices; others are skipped.
pub fn list(bus: &dyn UsbBus) -> Result<Vec<Listing>, crate::hw::UsbError> {
    let mut out = Vec::new();
    for info in bus.list()? {
        let selector = UsbSelector {
            vid: info.vid,
            pid: info.pid,
            serial: None,
            port_path: Some(info.port_path.clone()),
        };
        let described = bus
            .open(&selector)
            .map_err(|e| e.to_string())
            .and_then(|mut pipe| describe(pipe.as_mut(), &info));
        match described {
            Ok(Some(listing)) => out.push(listing),
            Ok(None) => {}
            Err(why) => out.push(Listing {
                vid: info.vid,
                pid: info.pid,
                port_path: info.port_path.clone(),
                serial: info.serial.clone(),
                product: None,
                interfaces: Vec::new(),
                error: Some(why),
            }),
        }
    }
    Ok(out)
}

/// The DFU interfaces of one open device; `None` when it has none.
pub fn describe(
    pipe: &mut dyn UsbControl,
    info: &UsbDeviceInfo,
) -> Result<Option<Listing>, String> {
    let device = read_device_descriptor(pipe).map_err(|e| e.to_string())?;
    let get = |pipe: &mut dyn UsbControl, length| {
        let setup = ControlSetup {
            request_type: REQ_TYPE_STANDARD_IN,
            request: 6,
            value: 0x0200,
            index: 0,
        };
        pipe.control_in(setup, length, TRANSFER_TIMEOUT)
            .map_err(|e| format!("reading the configuration descriptor: {e}"))
    };
    let head = get(pipe, 9)?;
    let total = head
        .get(2..4)
        .map_or(9, |b| u16::from_le_bytes([b[0], b[1]]));
    let interfaces = descriptor::parse_config(&get(pipe, total)?);
    if interfaces.is_empty() {
        return Ok(None);
    }
    let name = |pipe: &mut dyn UsbControl, index| read_string(pipe, index).ok().flatten();
    let product = name(pipe, device.product_index);
    let mut listed = Vec::new();
    for i in interfaces {
        listed.push(interface_listing(pipe, &i, &name));
    }
    Ok(Some(Listing {
        vid: device.vid,
        pid: device.pid,
        port_path: info.port_path.clone(),
        serial: info
            .serial
            .clone()
            .or_else(|| name(pipe, device.serial_index)),
        product,
        interfaces: listed,
        error: None,
    }))
}

fn interface_listing(
    pipe: &mut dyn UsbControl,
    i: &DfuInterface,
    name: &dyn Fn(&mut dyn UsbControl, u8) -> Option<String>,
) -> InterfaceListing {
    let f = i.functional.as_ref();
    let alts = i
        .alts
        .iter()
        .map(|a| {
            let text = name(pipe, a.name_index).unwrap_or_default();
            let regions = memmap::parse(&text)
                .map(|m| regions(&m))
                .unwrap_or_default();
            AltListing {
                alt: a.alt,
                name: text,
                regions,
            }
        })
        .collect();
    InterfaceListing {
        number: i.number,
        mode: if i.is_dfu_mode() { "dfu" } else { "runtime" },
        transfer_size: f.map(|f| f.transfer_size),
        detach_timeout_ms: f.map(|f| f.detach_timeout_ms),
        dfu_version: f.map(|f| format!("{:x}.{:02x}", f.dfu_version >> 8, f.dfu_version & 0xFF)),
        can_download: f.map(|f| f.can_download),
        can_upload: f.map(|f| f.can_upload),
        manifestation_tolerant: f.map(|f| f.manifestation_tolerant),
        will_detach: f.map(|f| f.will_detach),
        alts,
    }
}

/// Runs of equal sectors, as "0x08000000 4 x 16 KiB rew" (read, erase, write; '-' where not).
fn regions(map: &memmap::MemoryMap) -> Vec<String> {
    let mut runs: Vec<(u32, u32, u32, memmap::Access)> = Vec::new();
    for s in &map.sectors {
        match runs.last_mut() {
            Some((start, n, size, access))
                if *size == s.size && *access == s.access && *start + *n * *size == s.start =>
            {
                *n += 1
            }
            _ => runs.push((s.start, 1, s.size, s.access)),
        }
    }
    runs.iter()
        .map(|(start, n, size, a)| {
            let flag = |on: bool, c: char| if on { c } else { '-' };
            let size = if size % 1024 == 0 {
                format!("{} KiB", size / 1024)
            } else {
                format!("{size} B")
            };
            format!(
                "{start:#010x} {n} x {size} {}{}{}",
                flag(a.readable, 'r'),
                flag(a.erasable, 'e'),
                flag(a.writable, 'w')
            )
        })
        .collect()
}
