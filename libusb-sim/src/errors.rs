//! libusb's error codes, their names and descriptions, and the version this library reports.

use std::ffi::{CStr, c_char, c_int};

pub const LIBUSB_SUCCESS: c_int = 0;
pub const LIBUSB_ERROR_IO: c_int = -1;
pub const LIBUSB_ERROR_INVALID_PARAM: c_int = -2;
pub const LIBUSB_ERROR_ACCESS: c_int = -3;
pub const LIBUSB_ERROR_NO_DEVICE: c_int = -4;
pub const LIBUSB_ERROR_NOT_FOUND: c_int = -5;
pub const LIBUSB_ERROR_BUSY: c_int = -6;
pub const LIBUSB_ERROR_TIMEOUT: c_int = -7;
pub const LIBUSB_ERROR_OVERFLOW: c_int = -8;
pub const LIBUSB_ERROR_PIPE: c_int = -9;
pub const LIBUSB_ERROR_INTERRUPTED: c_int = -10;
pub const LIBUSB_ERROR_NO_MEM: c_int = -11;
pub const LIBUSB_ERROR_NOT_SUPPORTED: c_int = -12;
pub const LIBUSB_ERROR_OTHER: c_int = -99;

/// (code, name, description).
const ERRORS: [(c_int, &CStr, &CStr); 14] = [
    (
        LIBUSB_SUCCESS,
        c"LIBUSB_SUCCESS / LIBUSB_TRANSFER_COMPLETED",
        c"Success",
    ),
    (LIBUSB_ERROR_IO, c"LIBUSB_ERROR_IO", c"Input/Output Error"),
    (
        LIBUSB_ERROR_INVALID_PARAM,
        c"LIBUSB_ERROR_INVALID_PARAM",
        c"Invalid parameter",
    ),
    (
        LIBUSB_ERROR_ACCESS,
        c"LIBUSB_ERROR_ACCESS",
        c"Access denied (insufficient permissions)",
    ),
    (
        LIBUSB_ERROR_NO_DEVICE,
        c"LIBUSB_ERROR_NO_DEVICE",
        c"No such device (it may have been disconnected)",
    ),
    (
        LIBUSB_ERROR_NOT_FOUND,
        c"LIBUSB_ERROR_NOT_FOUND",
        c"Entity not found",
    ),
    (LIBUSB_ERROR_BUSY, c"LIBUSB_ERROR_BUSY", c"Resource busy"),
    (
        LIBUSB_ERROR_TIMEOUT,
        c"LIBUSB_ERROR_TIMEOUT",
        c"Operation timed out",
    ),
    (LIBUSB_ERROR_OVERFLOW, c"LIBUSB_ERROR_OVERFLOW", c"Overflow"),
    (LIBUSB_ERROR_PIPE, c"LIBUSB_ERROR_PIPE", c"Pipe error"),
    (
        LIBUSB_ERROR_INTERRUPTED,
        c"LIBUSB_ERROR_INTERRUPTED",
        c"System call interrupted (perhaps due to signal)",
    ),
    (
        LIBUSB_ERROR_NO_MEM,
        c"LIBUSB_ERROR_NO_MEM",
        c"Insufficient memory",
    ),
    (
        LIBUSB_ERROR_NOT_SUPPORTED,
        c"LIBUSB_ERROR_NOT_SUPPORTED",
        c"Operation not supported or unimplemented on this platform",
    ),
    (LIBUSB_ERROR_OTHER, c"LIBUSB_ERROR_OTHER", c"Other error"),
];

fn lookup(code: c_int) -> Option<(&'static CStr, &'static CStr)> {
    ERRORS
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, n, d)| (*n, *d))
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_error_name(code: c_int) -> *const c_char {
    lookup(code).map_or(c"**UNKNOWN**", |(n, _)| n).as_ptr()
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_strerror(code: c_int) -> *const c_char {
    lookup(code).map_or(c"Unknown error", |(_, d)| d).as_ptr()
}

#[repr(C)]
pub struct LibusbVersion {
    pub major: u16,
    pub minor: u16,
    pub micro: u16,
    pub nano: u16,
    pub rc: *const c_char,
    pub describe: *const c_char,
}

// SAFETY: the pointers name static, immutable strings.
unsafe impl Sync for LibusbVersion {}

/// The API this library offers: libusb 1.0.26's, the version Debian ships with dfu-util 0.11.
static VERSION: LibusbVersion = LibusbVersion {
    major: 1,
    minor: 0,
    micro: 26,
    nano: 0,
    rc: c"-station-sim".as_ptr(),
    describe: c"libusb-sim: the station's virtual USB bus".as_ptr(),
};

#[unsafe(no_mangle)]
pub extern "C" fn libusb_get_version() -> *const LibusbVersion {
    &VERSION
}

/// Only LIBUSB_CAP_HAS_CAPABILITY (0): no hotplug, no HID access, no kernel-driver detach.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_has_capability(capability: u32) -> c_int {
    (capability == 0) as c_int
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(p: *const c_char) -> String {
        // SAFETY: the functions return NUL-terminated static strings.
        unsafe { std::ffi::CStr::from_ptr(p) }
            .to_string_lossy()
            .into_owned()
    }

    #[test]
    fn errors_have_libusbs_names_and_unknown_codes_do_not_crash() {
        assert_eq!(text(libusb_error_name(-9)), "LIBUSB_ERROR_PIPE");
        assert_eq!(text(libusb_error_name(-12)), "LIBUSB_ERROR_NOT_SUPPORTED");
        assert_eq!(text(libusb_error_name(7)), "**UNKNOWN**");
        assert_eq!(
            text(libusb_strerror(-4)),
            "No such device (it may have been disconnected)"
        );
        // SAFETY: a static.
        let v = unsafe { &*libusb_get_version() };
        assert_eq!((v.major, v.minor, v.micro), (1, 0, 26));
        assert_eq!(libusb_has_capability(0), 1);
        assert_eq!(libusb_has_capability(1), 0, "no hotplug");
    }
}
