//! Device handles: open and close, interfaces and alternate settings, control transfers,
//! resets, string descriptors. Everything goes to the server through the handle's context.

use std::ffi::{c_int, c_uint};
use std::sync::Mutex;

use sim_wire::{Reply, Request};

use crate::config;
use crate::context::LibusbContext;
use crate::device::{
    Device, device, libusb_free_device_list, libusb_get_device_list, libusb_ref_device,
    libusb_unref_device,
};
use crate::errors::*;

/// The opaque `libusb_device_handle` of the C API.
pub struct Handle {
    dev: *mut Device,
    server: u32,
    /// Claimed interfaces, as a bit set by interface number.
    claimed: Mutex<u128>,
}

// SAFETY: `dev` is a reference-counted device this handle keeps alive; devices are shared
// between threads in libusb too, and their contents do not change after creation.
unsafe impl Send for Handle {}
unsafe impl Sync for Handle {}

impl Handle {
    fn device(&self) -> &Device {
        // SAFETY: the handle holds a reference to its device until it closes.
        unsafe { &*self.dev }
    }

    /// A request on this handle. The server forgets handles of a lost connection, so an
    /// unknown handle means the device is gone for this client.
    fn call(&self, request: &Request) -> Result<Reply, c_int> {
        self.device().ctx.call(request).map_err(|code| match code {
            LIBUSB_ERROR_INVALID_PARAM => LIBUSB_ERROR_NO_DEVICE,
            other => other,
        })
    }

    fn claimed(&self, interface: c_int) -> bool {
        (0..128).contains(&interface)
            && *self.claimed.lock().unwrap_or_else(|e| e.into_inner()) & (1 << interface) != 0
    }
}

/// # Safety
/// `h` is NULL or an open handle.
unsafe fn handle<'a>(h: *const Handle) -> Option<&'a Handle> {
    unsafe { h.as_ref() }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_open(dev: *mut Device, out: *mut *mut Handle) -> c_int {
    let (Some(d), false) = (unsafe { device(dev) }, out.is_null()) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    let opened = d.ctx.call(&Request::Open {
        index: d.entry.index,
        session: d.entry.session,
    });
    match opened {
        Ok(Reply::Opened { handle }) => {
            let h = Handle {
                dev: unsafe { libusb_ref_device(dev) },
                server: handle,
                claimed: Mutex::new(0),
            };
            unsafe { *out = Box::into_raw(Box::new(h)) };
            LIBUSB_SUCCESS
        }
        Ok(_) => LIBUSB_ERROR_OTHER,
        Err(code) => code,
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_close(h: *mut Handle) {
    if h.is_null() {
        return;
    }
    // SAFETY: an open handle, closed once.
    let h = unsafe { Box::from_raw(h) };
    let _ = h.call(&Request::Close { handle: h.server });
    unsafe { libusb_unref_device(h.dev) };
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_device(h: *mut Handle) -> *mut Device {
    unsafe { handle(h) }.map_or(std::ptr::null_mut(), |h| h.dev)
}

/// The first device with this VID:PID, opened (libusb's convenience for quick tools).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_open_device_with_vid_pid(
    ctx: *mut LibusbContext,
    vid: u16,
    pid: u16,
) -> *mut Handle {
    let mut list = std::ptr::null_mut();
    let n = unsafe { libusb_get_device_list(ctx, &mut list) };
    let mut opened = std::ptr::null_mut();
    for i in 0..n.max(0) as usize {
        let dev = unsafe { *list.add(i) };
        let ids = unsafe { device(dev) }
            .and_then(|d| config::device_descriptor(&d.entry.device))
            .map(|d| (d.idVendor, d.idProduct));
        if ids == Some((vid, pid)) && unsafe { libusb_open(dev, &mut opened) } == 0 {
            break;
        }
    }
    unsafe { libusb_free_device_list(list, 1) };
    opened
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_claim_interface(h: *mut Handle, interface: c_int) -> c_int {
    let Some(h) = (unsafe { handle(h) }) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    let offered = config::interface_numbers(&h.device().entry.config);
    if !(0..128).contains(&interface) || !offered.contains(&(interface as u8)) {
        return LIBUSB_ERROR_NOT_FOUND;
    }
    *h.claimed.lock().unwrap_or_else(|e| e.into_inner()) |= 1 << interface;
    LIBUSB_SUCCESS
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_release_interface(h: *mut Handle, interface: c_int) -> c_int {
    let Some(h) = (unsafe { handle(h) }) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    if !h.claimed(interface) {
        return LIBUSB_ERROR_NOT_FOUND;
    }
    *h.claimed.lock().unwrap_or_else(|e| e.into_inner()) &= !(1 << interface);
    LIBUSB_SUCCESS
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_set_interface_alt_setting(
    h: *mut Handle,
    interface: c_int,
    alt: c_int,
) -> c_int {
    let Some(h) = (unsafe { handle(h) }) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    if !h.claimed(interface) || !(0..=255).contains(&alt) {
        return LIBUSB_ERROR_NOT_FOUND;
    }
    let request = Request::SetAlt {
        handle: h.server,
        interface: interface as u8,
        alt: alt as u8,
    };
    match h.call(&request) {
        Ok(_) => LIBUSB_SUCCESS,
        // The device refused the setting: libusb says it does not exist.
        Err(LIBUSB_ERROR_PIPE) => LIBUSB_ERROR_NOT_FOUND,
        Err(code) => code,
    }
}

/// A control transfer on the default pipe: the bytes moved, or an error code.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_control_transfer(
    h: *mut Handle,
    request_type: u8,
    request: u8,
    value: u16,
    index: u16,
    data: *mut u8,
    length: u16,
    timeout: c_uint,
) -> c_int {
    let Some(h) = (unsafe { handle(h) }) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    if data.is_null() && length > 0 {
        return LIBUSB_ERROR_INVALID_PARAM;
    }
    let device_to_host = request_type & 0x80 != 0;
    let out = if device_to_host || length == 0 {
        Vec::new()
    } else {
        // SAFETY: the caller's buffer holds `length` bytes.
        unsafe { std::slice::from_raw_parts(data, length as usize) }.to_vec()
    };
    let reply = h.call(&Request::Control {
        handle: h.server,
        request_type,
        request,
        value,
        index,
        length: if device_to_host {
            length
        } else {
            out.len() as u16
        },
        data: out,
        timeout_ms: timeout,
    });
    match reply {
        Ok(Reply::Data(bytes)) if device_to_host => {
            let n = bytes.len().min(length as usize);
            // SAFETY: at most `length` bytes into the caller's buffer.
            unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), data, n) };
            n as c_int
        }
        Ok(Reply::Data(_)) => length as c_int,
        Ok(_) => LIBUSB_ERROR_OTHER,
        Err(code) => code,
    }
}

/// A bus reset. The handle survives when the device came back unchanged; when it came back
/// as another device (a bootloader after an application) it must be found again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_reset_device(h: *mut Handle) -> c_int {
    let Some(h) = (unsafe { handle(h) }) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    match h.call(&Request::Reset { handle: h.server }) {
        Ok(Reply::Reset { same: true }) => LIBUSB_SUCCESS,
        Ok(_) => LIBUSB_ERROR_NOT_FOUND,
        Err(code) => code,
    }
}

const GET_DESCRIPTOR: u8 = 6;
const STRING: u16 = 3;

/// String descriptor `index` in the first language the device offers, as ASCII ('?' for
/// anything else), NUL-terminated: its length, or an error code.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_string_descriptor_ascii(
    h: *mut Handle,
    index: u8,
    data: *mut u8,
    length: c_int,
) -> c_int {
    if index == 0 || data.is_null() || length <= 0 {
        return LIBUSB_ERROR_INVALID_PARAM;
    }
    let mut buf = [0u8; 255];
    let get = |value: u16, lang: u16, buf: &mut [u8; 255]| unsafe {
        libusb_control_transfer(
            h,
            0x80,
            GET_DESCRIPTOR,
            value,
            lang,
            buf.as_mut_ptr(),
            255,
            1000,
        )
    };
    let n = get(STRING << 8, 0, &mut buf);
    if n < 0 {
        return n;
    }
    if n < 4 || buf[1] != STRING as u8 {
        return LIBUSB_ERROR_IO;
    }
    let lang = u16::from_le_bytes([buf[2], buf[3]]);
    let n = get((STRING << 8) | index as u16, lang, &mut buf);
    if n < 0 {
        return n;
    }
    if n < 2 || buf[1] != STRING as u8 || buf[0] as c_int > n {
        return LIBUSB_ERROR_IO;
    }
    let units = buf[2..buf[0] as usize]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]));
    let text: Vec<u8> = units
        .map(|u| if u < 0x80 { u as u8 } else { b'?' })
        .take(length as usize - 1)
        .collect();
    // SAFETY: the caller's buffer holds `length` bytes; the text leaves room for the NUL.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), data, text.len());
        *data.add(text.len()) = 0;
    }
    text.len() as c_int
}

/// Served devices have one configuration; selecting it (or none, -1) changes nothing.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_set_configuration(h: *mut Handle, configuration: c_int) -> c_int {
    let Some(h) = (unsafe { handle(h) }) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    let value = h.device().entry.config.get(5).copied().unwrap_or(1) as c_int;
    if configuration == value || configuration == -1 {
        LIBUSB_SUCCESS
    } else {
        LIBUSB_ERROR_NOT_FOUND
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_get_configuration(h: *mut Handle, out: *mut c_int) -> c_int {
    let (Some(h), false) = (unsafe { handle(h) }, out.is_null()) else {
        return LIBUSB_ERROR_INVALID_PARAM;
    };
    unsafe { *out = h.device().entry.config.get(5).copied().unwrap_or(1) as c_int };
    LIBUSB_SUCCESS
}

/// No kernel driver ever binds to a served device.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_kernel_driver_active(_h: *mut Handle, _interface: c_int) -> c_int {
    0
}
