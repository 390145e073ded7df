//! The rest of libusb-1.0's API: asynchronous transfers, bulk and interrupt endpoints, event
//! handling, hotplug, BOS and SuperSpeed descriptors, kernel drivers, streams. Served devices
//! have only the default control pipe, so these answer LIBUSB_ERROR_NOT_SUPPORTED, or what
//! libusb documents for "nothing there": NULL, no timeout pending, a no-op.
//!
//! They exist because programs are linked against the whole library: a Rust binary binds
//! every symbol at load (immediate binding), so one missing export stops it from starting.

use std::ffi::{c_int, c_uint, c_void};
use std::time::Duration;

use crate::errors::LIBUSB_ERROR_NOT_SUPPORTED;

type P = *mut c_void;

macro_rules! not_supported {
    ($($name:ident($($t:ty),*);)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($(_: $t),*) -> c_int {
            LIBUSB_ERROR_NOT_SUPPORTED
        }
    )*};
}

macro_rules! no_op {
    ($($name:ident($($t:ty),*);)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($(_: $t),*) {}
    )*};
}

macro_rules! null {
    ($($name:ident($($t:ty),*);)*) => {$(
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($(_: $t),*) -> P {
            std::ptr::null_mut()
        }
    )*};
}

not_supported! {
    libusb_alloc_streams(P, u32, P, c_int);
    libusb_free_streams(P, P, c_int);
    libusb_attach_kernel_driver(P, c_int);
    libusb_detach_kernel_driver(P, c_int);
    libusb_set_auto_detach_kernel_driver(P, c_int);
    libusb_bulk_transfer(P, u8, P, c_int, P, c_uint);
    libusb_interrupt_transfer(P, u8, P, c_int, P, c_uint);
    libusb_submit_transfer(P);
    libusb_cancel_transfer(P);
    libusb_clear_halt(P, u8);
    libusb_dev_mem_free(P, P, usize);
    libusb_get_bos_descriptor(P, P);
    libusb_get_container_id_descriptor(P, P, P);
    libusb_get_ss_endpoint_companion_descriptor(P, P, P);
    libusb_get_ss_usb_device_capability_descriptor(P, P, P);
    libusb_get_usb_2_0_extension_descriptor(P, P, P);
    libusb_handle_events(P);
    libusb_handle_events_completed(P, P);
    libusb_handle_events_locked(P, P);
    libusb_handle_events_timeout(P, P);
    libusb_handle_events_timeout_completed(P, P, P);
    libusb_hotplug_register_callback(P, c_int, c_int, c_int, c_int, c_int, P, P, P);
    libusb_setlocale(P);
    libusb_wrap_sys_device(P, isize, P);
}

no_op! {
    libusb_free_transfer(P);
    libusb_free_bos_descriptor(P);
    libusb_free_container_id_descriptor(P);
    libusb_free_ss_endpoint_companion_descriptor(P);
    libusb_free_ss_usb_device_capability_descriptor(P);
    libusb_free_usb_2_0_extension_descriptor(P);
    libusb_free_pollfds(P);
    libusb_hotplug_deregister_callback(P, c_int);
    libusb_interrupt_event_handler(P);
    libusb_lock_events(P);
    libusb_unlock_events(P);
    libusb_lock_event_waiters(P);
    libusb_unlock_event_waiters(P);
    libusb_set_pollfd_notifiers(P, P, P, P);
    libusb_transfer_set_stream_id(P, u32);
}

null! {
    libusb_alloc_transfer(c_int);
    libusb_dev_mem_alloc(P, usize);
    libusb_get_pollfds(P);
    libusb_hotplug_get_user_data(P, c_int);
}

/// No event handler runs: nobody holds the lock, so it is always free.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_try_lock_events(_: P) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_event_handler_active(_: P) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_event_handling_ok(_: P) -> c_int {
    1
}

/// There are no file descriptors to poll and no timeouts to handle.
#[unsafe(no_mangle)]
pub extern "C" fn libusb_pollfds_handle_timeouts(_: P) -> c_int {
    1
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_get_next_timeout(_: P, _: P) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn libusb_transfer_get_stream_id(_: P) -> u32 {
    0
}

/// No event ever comes: the wait times out (1), after the timeout given, at most a second,
/// so a caller's loop cannot spin.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn libusb_wait_for_event(_: P, tv: *const [i64; 2]) -> c_int {
    // SAFETY: NULL or a struct timeval { tv_sec, tv_usec }.
    let wait = unsafe { tv.as_ref() }.map_or(Duration::from_secs(1), |t| {
        Duration::from_secs(t[0].max(0) as u64) + Duration::from_micros(t[1].max(0) as u64)
    });
    std::thread::sleep(wait.min(Duration::from_secs(1)));
    1
}
