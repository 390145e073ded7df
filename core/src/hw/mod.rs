//! The hardware seams: small traits that the real backends (`crate::backend`) and the virtual
//! bench (`crate::sim`) both implement, and `FixtureHw`, the bundle one unit run talks to.
//! Nothing above this layer knows which one it talks to; what only a bench can do goes through
//! `bench::BenchUnit`.

pub mod bench;
mod clock;
mod debug;
mod fixture;
mod usb;

pub use clock::{Clock, SystemClock, TimeMode, VirtualClock};
pub use debug::{
    AttachMode, DebugTarget, FlashOptions, FlashPhase, FlashProgress, FlashReport, ResetKind,
    Segment,
};
pub use fixture::{Console, FixtureHw, FixtureLines, PowerSwitch, SerialPort};
pub use usb::{
    ControlSetup, REQ_TYPE_CLASS_IN, REQ_TYPE_CLASS_OUT, REQ_TYPE_STANDARD_IN, UsbBus, UsbControl,
    UsbDeviceInfo, UsbError, UsbSelector, UsbSpeed,
};

use std::fmt;

/// What went wrong at a hardware seam, classified so that the engine can tell a unit's fault
/// from the station's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HwError {
    /// No probe, device or port matching the configured selector.
    NotFound(String),
    /// The device is there but held by another process or lacks permission.
    Busy(String),
    /// The target did not answer: power, wiring or a dead unit.
    NoResponse(String),
    /// The target refused the access because of its protection (RDP, WRP).
    Protected(String),
    /// Read-back did not match what was written.
    VerifyMismatch(String),
    /// An operation did not complete within its deadline.
    Timeout(String),
    /// Anything else from a backend, with its message.
    Backend(String),
}

impl fmt::Display for HwError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HwError::NotFound(m) => write!(f, "{m}"),
            HwError::Busy(m) => write!(f, "busy: {m}"),
            HwError::NoResponse(m) => write!(f, "no response from target: {m}"),
            HwError::Protected(m) => write!(f, "target is protected: {m}"),
            HwError::VerifyMismatch(m) => write!(f, "verify mismatch: {m}"),
            HwError::Timeout(m) => write!(f, "timeout: {m}"),
            HwError::Backend(m) => write!(f, "{m}"),
        }
    }
}

impl std::error::Error for HwError {}
