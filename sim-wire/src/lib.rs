//! The virtual USB bus's wire protocol: what `station sim serve` and its clients (the
//! libusb-1.0 replacement in `libusb-sim`, `station sim cut|power|status`) say over the
//! server's Unix socket.
//!
//! Every message is a frame: a little-endian u32 length, then a payload whose first byte is
//! the message's tag. A client sends one request and reads one reply, in order. Device
//! sessions: each enumeration of a device (after a power-up, a reset that changed it, a jump)
//! gets a new `session`, so a handle opened before it answers `NoDevice`, as a real device
//! that left the bus does.

mod codec;

use std::path::PathBuf;

pub use codec::{MAX_FRAME, Reader, WireError, Writer, read_frame, write_frame};

/// Bumped on any incompatible change; `Hello` checks it.
pub const VERSION: u32 = 1;

/// Where clients find the server when no path is given.
pub const SOCKET_ENV: &str = "STATION_USB_SOCKET";

/// `$STATION_USB_SOCKET`, else `$XDG_RUNTIME_DIR/station-usb.sock`, else
/// `/tmp/station-usb.sock`.
pub fn socket_path() -> PathBuf {
    match std::env::var_os(SOCKET_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => default_socket(),
    }
}

pub fn default_socket() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("station-usb.sock"),
        _ => PathBuf::from("/tmp/station-usb.sock"),
    }
}

/// Where a power cut lands, counted from the moment it is armed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutAt {
    Now,
    /// The Nth USB control request from now (1 = the next one).
    Request(u64),
    /// The Nth flash operation from now (the device's own included).
    Op(u64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CutWhen {
    Before,
    /// Torn: a flash operation is partly done (a request: as `Before`).
    Inside,
    After,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Hello {
        version: u32,
        client: String,
    },
    /// The devices on the bus now.
    List,
    Open {
        index: u32,
        session: u64,
    },
    Close {
        handle: u32,
    },
    /// A control transfer on the default pipe: `data` is the OUT data stage, `length` the
    /// IN wLength (OUT: `data.len()`).
    Control {
        handle: u32,
        request_type: u8,
        request: u8,
        value: u16,
        index: u16,
        length: u16,
        data: Vec<u8>,
        timeout_ms: u32,
    },
    SetAlt {
        handle: u32,
        interface: u8,
        alt: u8,
    },
    /// A USB bus reset.
    Reset {
        handle: u32,
    },
    /// Switch a fixture's power; `boot0` sets the strap first (sampled at power-on).
    Power {
        fixture: String,
        on: bool,
        boot0: Option<bool>,
    },
    Cut {
        fixture: String,
        at: CutAt,
        when: CutWhen,
    },
    /// One fixture, or every fixture when empty.
    Status {
        fixture: String,
    },
    /// Save every changed unit before answering (a client leaving).
    Flush,
    /// Save everything and stop the server.
    Shutdown,
}

/// One device on the bus, as the host's enumeration saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceEntry {
    pub fixture: String,
    /// The fixture's place in the station file (what `Open` names).
    pub index: u32,
    pub session: u64,
    pub bus: u8,
    pub ports: Vec<u8>,
    pub address: u8,
    /// The 18-byte device descriptor.
    pub device: Vec<u8>,
    /// The whole configuration descriptor (wTotalLength bytes).
    pub config: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FixtureStatus {
    pub fixture: String,
    /// "bus-port", as libusb tools print it.
    pub port: String,
    pub unit: u64,
    pub powered: bool,
    pub boot0: bool,
    pub on_usb: bool,
    pub firmware: String,
    /// The DFU function's bState, when one runs.
    pub dfu_state: Option<u8>,
    pub usb_requests: u64,
    pub flash_ops: u64,
    /// The armed cut, described; empty when none.
    pub cut: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorKind {
    /// The device left the bus (reset, jump, power).
    NoDevice = 1,
    NotFound = 2,
    /// The device stalled the request.
    Stall = 3,
    Timeout = 4,
    /// A request the server cannot act on (unknown handle, bad argument).
    Invalid = 5,
    Io = 6,
}

impl ErrorKind {
    fn from_u8(v: u8) -> Result<Self, WireError> {
        Ok(match v {
            1 => Self::NoDevice,
            2 => Self::NotFound,
            3 => Self::Stall,
            4 => Self::Timeout,
            5 => Self::Invalid,
            6 => Self::Io,
            _ => return Err(WireError(format!("unknown error kind {v}"))),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Error {
        kind: ErrorKind,
        message: String,
    },
    Ok,
    Hello {
        version: u32,
        server: String,
    },
    Devices(Vec<DeviceEntry>),
    Opened {
        handle: u32,
    },
    /// A control transfer's IN data (empty for OUT).
    Data(Vec<u8>),
    /// After a reset: whether the handle still reaches the same device (same descriptors).
    Reset {
        same: bool,
    },
    Status(Vec<FixtureStatus>),
    /// A cut was armed or done; what and where.
    Armed {
        description: String,
    },
}

impl Reply {
    pub fn error(kind: ErrorKind, message: impl Into<String>) -> Self {
        Reply::Error {
            kind,
            message: message.into(),
        }
    }
}

mod messages;
