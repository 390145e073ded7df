use std::fmt;
use std::time::Duration;

/// bmRequestType for the requests the station makes.
pub const REQ_TYPE_STANDARD_IN: u8 = 0x80;
pub const REQ_TYPE_CLASS_OUT: u8 = 0x21;
pub const REQ_TYPE_CLASS_IN: u8 = 0xA1;

/// The setup packet of a control transfer, minus wLength, which follows from the data stage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlSetup {
    pub request_type: u8,
    pub request: u8,
    pub value: u16,
    pub index: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsbError {
    /// The device stalled the request (it is not supported, or the device is in an error state).
    Stall,
    /// No reply within the deadline.
    Timeout,
    /// The device is gone (unplugged, reset, powered off).
    NoDevice,
    /// No USB stack on this machine.
    Unavailable(String),
    NotFound(String),
    /// Another process holds it, or no permission.
    Access(String),
    Other(String),
}

impl fmt::Display for UsbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsbError::Stall => f.write_str("the device stalled the request"),
            UsbError::Timeout => f.write_str("USB transfer timed out"),
            UsbError::NoDevice => f.write_str("the USB device disappeared"),
            UsbError::Unavailable(m) => write!(f, "USB is not available on this machine: {m}"),
            UsbError::NotFound(m) => write!(f, "{m}"),
            UsbError::Access(m) => write!(f, "cannot open the USB device: {m}"),
            UsbError::Other(m) => write!(f, "USB error: {m}"),
        }
    }
}

impl std::error::Error for UsbError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsbSpeed {
    Full,
    High,
}

/// What the bus says about a device without opening it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsbDeviceInfo {
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
    /// "bus-port.port...", stable for a physical socket; what parallel fixtures select by.
    pub port_path: String,
}

/// How a fixture names its DUT on the bus.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UsbSelector {
    pub vid: u16,
    pub pid: u16,
    pub serial: Option<String>,
    pub port_path: Option<String>,
}

impl UsbSelector {
    pub fn matches(&self, info: &UsbDeviceInfo) -> bool {
        info.vid == self.vid
            && info.pid == self.pid
            && self
                .serial
                .as_ref()
                .is_none_or(|s| info.serial.as_ref() == Some(s))
            && self.port_path.as_ref().is_none_or(|p| &info.port_path == p)
    }
}

impl fmt::Display for UsbSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04x}:{:04x}", self.vid, self.pid)?;
        if let Some(s) = &self.serial {
            write!(f, " serial {s}")?;
        }
        if let Some(p) = &self.port_path {
            write!(f, " at port {p}")?;
        }
        Ok(())
    }
}

/// The devices a fixture can reach on its USB bus.
pub trait UsbBus: Send + Sync {
    fn list(&self) -> Result<Vec<UsbDeviceInfo>, UsbError>;
    fn open(&self, selector: &UsbSelector) -> Result<Box<dyn UsbControl>, UsbError>;
}

/// The default control pipe of one opened device. Everything DFU needs goes through here:
/// class requests, standard GET_DESCRIPTOR, SET_INTERFACE.
pub trait UsbControl: Send {
    fn info(&self) -> UsbDeviceInfo;
    fn control_in(
        &mut self,
        setup: ControlSetup,
        length: u16,
        timeout: Duration,
    ) -> Result<Vec<u8>, UsbError>;
    fn control_out(
        &mut self,
        setup: ControlSetup,
        data: &[u8],
        timeout: Duration,
    ) -> Result<(), UsbError>;
    /// Claim an interface and select its alternate setting.
    fn select_interface(&mut self, interface: u8, alt: u8) -> Result<(), UsbError>;
    /// Bus reset; the device may re-enumerate with another identity.
    fn reset(&mut self) -> Result<(), UsbError>;
    /// Open the same physical device again after it re-enumerated.
    fn reopen(&mut self) -> Result<(), UsbError>;
}
