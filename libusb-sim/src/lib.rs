//! libusb-1.0 over the virtual bench (work in progress).
