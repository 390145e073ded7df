//! libusb-1.0's C ABI over the station's virtual USB bus.
//!
//! Built as a shared library and loaded in place of the system's `libusb-1.0.so.0` (through
//! `LD_LIBRARY_PATH`), it lets unmodified libusb programs — dfu-util, the station's own rusb
//! backend — reach the simulated devices that `station sim serve` holds. The server's socket
//! is `$STATION_USB_SOCKET`, else `$XDG_RUNTIME_DIR/station-usb.sock`, else
//! `/tmp/station-usb.sock`; `STATION_USB_TRACE=1` prints every request to stderr.
//!
//! What a control-pipe client needs is implemented: contexts, the device list and reference
//! counts, device and configuration descriptors (class-specific descriptors in `extra`), bus,
//! port and address, open/close, interfaces and alternate settings, control transfers, bus
//! resets, string descriptors. Every other libusb-1.0 export is present and answers
//! LIBUSB_ERROR_NOT_SUPPORTED or libusb's neutral value (`unsupported`).

#![allow(clippy::missing_safety_doc)]

mod config;
mod context;
mod device;
mod errors;
mod handle;
mod unsupported;
