//! Devices: the bus as the server lists it, reference counted as libusb's are, with their
//! descriptors, bus, port path and address.

use std::ffi::c_int;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use sim_wire::{DeviceEntry, Reply, Request};

use crate::config::{self, ConfigDescriptor, DeviceDescriptor, OwnedConfig};
use crate::context::{Context, LibusbContext, context};
use crate::errors::*;

/// The opaque `libusb_device` of the C API.
pub struct Device {
    refs: AtomicUsize,
    pub ctx: Arc<Context>,
    pub entry: DeviceEntry,
}

/// # Safety
/// `dev` is NULL or a device this library handed out and still referenced.
pub unsafe fn device<'a>(dev: *const Device) -> Option<&'a Device> {
    // SAFETY: as the caller promises.
    unsafe { dev.as_ref() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_ref_device(dev: *mut Device) -> *mut Device {
    // SAFETY: a live device.
    if let Some(d) = unsafe { device(dev) } {
        d.refs.fetch_add(1, Ordering::Relaxed);
    }
    dev
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_unref_device(dev: *mut Device) {
    // SAFETY: a live device; the last reference frees it.
    if let Some(d) = unsafe { device(dev) }
        && d.refs.fetch_sub(1, Ordering::AcqRel) == 1
    {
        drop(unsafe { Box::from_raw(dev) });
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_device_list(
    ctx: *mut LibusbContext,
    list: *mut *mut *mut Device,
) -> isize {
    if list.is_null() {
        return LIBUSB_ERROR_INVALID_PARAM as isize;
    }
    // SAFETY: NULL or a live context.
    let ctx = unsafe { context(ctx) };
    let entries = match ctx.call(&Request::List) {
        Ok(Reply::Devices(entries)) => entries,
        Ok(_) => return LIBUSB_ERROR_OTHER as isize,
        Err(code) => return code as isize,
    };
    let mut devices: Vec<*mut Device> = entries
        .into_iter()
        .map(|entry| {
            Box::into_raw(Box::new(Device {
                refs: AtomicUsize::new(1),
                ctx: ctx.clone(),
                entry,
            }))
        })
        .collect();
    let n = devices.len();
    devices.push(std::ptr::null_mut());
    let array = Box::into_raw(devices.into_boxed_slice()) as *mut *mut Device;
    // SAFETY: checked non-NULL above.
    unsafe { *list = array };
    n as isize
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_free_device_list(list: *mut *mut Device, unref_devices: c_int) {
    if list.is_null() {
        return;
    }
    // SAFETY: a NULL-terminated array from libusb_get_device_list.
    unsafe {
        let mut n = 0;
        while !(*list.add(n)).is_null() {
            if unref_devices != 0 {
                libusb_unref_device(*list.add(n));
            }
            n += 1;
        }
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
            list,
            n + 1,
        )));
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_device_descriptor(
    dev: *mut Device,
    out: *mut DeviceDescriptor,
) -> c_int {
    // SAFETY: a live device and a place for the descriptor.
    let (Some(d), false) = (unsafe { device(dev) }, out.is_null()) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    match config::device_descriptor(&d.entry.device) {
        Some(desc) => {
            unsafe { *out = desc };
            LIBUSB_SUCCESS
        }
        None => LIBUSB_ERROR_IO,
    }
}

fn hand_out(raw: &[u8], out: *mut *const ConfigDescriptor) -> c_int {
    if out.is_null() {
        return LIBUSB_ERROR_INVALID_PARAM;
    }
    match config::config_descriptor(raw) {
        Some(owned) => {
            // SAFETY: checked non-NULL; `OwnedConfig` starts with the C struct.
            unsafe { *out = Box::into_raw(owned) as *const ConfigDescriptor };
            LIBUSB_SUCCESS
        }
        None => LIBUSB_ERROR_IO,
    }
}

/// Served devices have one configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_config_descriptor(
    dev: *mut Device,
    index: u8,
    out: *mut *const ConfigDescriptor,
) -> c_int {
    match unsafe { device(dev) } {
        Some(d) if index == 0 => hand_out(&d.entry.config, out),
        Some(_) => LIBUSB_ERROR_NOT_FOUND,
        None => LIBUSB_ERROR_INVALID_PARAM,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_active_config_descriptor(
    dev: *mut Device,
    out: *mut *const ConfigDescriptor,
) -> c_int {
    // SAFETY: as for the index form.
    unsafe { libusb_get_config_descriptor(dev, 0, out) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_config_descriptor_by_value(
    dev: *mut Device,
    value: u8,
    out: *mut *const ConfigDescriptor,
) -> c_int {
    match unsafe { device(dev) } {
        Some(d) if d.entry.config.get(5) == Some(&value) => hand_out(&d.entry.config, out),
        Some(_) => LIBUSB_ERROR_NOT_FOUND,
        None => LIBUSB_ERROR_INVALID_PARAM,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_free_config_descriptor(config: *const ConfigDescriptor) {
    if !config.is_null() {
        // SAFETY: handed out by `hand_out` as a boxed OwnedConfig.
        drop(unsafe { Box::from_raw(config as *mut OwnedConfig) });
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_bus_number(dev: *mut Device) -> u8 {
    unsafe { device(dev) }.map_or(0, |d| d.entry.bus)
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_port_number(dev: *mut Device) -> u8 {
    unsafe { device(dev) }.map_or(0, |d| d.entry.ports.last().copied().unwrap_or(0))
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_port_numbers(
    dev: *mut Device,
    ports: *mut u8,
    len: c_int,
) -> c_int {
    let Some(d) = (unsafe { device(dev) }) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    let path = &d.entry.ports;
    if len < 0 || ports.is_null() {
        return LIBUSB_ERROR_INVALID_PARAM;
    }
    if path.len() > len as usize {
        return LIBUSB_ERROR_OVERFLOW;
    }
    // SAFETY: the caller's buffer holds `len` bytes.
    unsafe { std::ptr::copy_nonoverlapping(path.as_ptr(), ports, path.len()) };
    path.len() as c_int
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_port_path(
    _ctx: *mut LibusbContext,
    dev: *mut Device,
    path: *mut u8,
    len: u8,
) -> c_int {
    unsafe { libusb_get_port_numbers(dev, path, len as c_int) }
}

/// Every served device hangs off the root hub, which is not listed.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_get_parent(_dev: *mut Device) -> *mut Device {
    std::ptr::null_mut()
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_device_address(dev: *mut Device) -> u8 {
    unsafe { device(dev) }.map_or(0, |d| d.entry.address)
}

/// LIBUSB_SPEED_FULL: the simulated STM32s are full-speed devices.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_get_device_speed(_dev: *mut Device) -> c_int {
    2
}

/// Served devices use only the default control pipe: no other endpoint exists.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_get_max_packet_size(_dev: *mut Device, _endpoint: u8) -> c_int {
    LIBUSB_ERROR_NOT_FOUND
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_get_max_iso_packet_size(_dev: *mut Device, _endpoint: u8) -> c_int {
    LIBUSB_ERROR_NOT_FOUND
}
