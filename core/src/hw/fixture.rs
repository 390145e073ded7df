use std::sync::Arc;
use std::time::Duration;

use super::bench::BenchUnit;
use super::{Clock, DebugTarget, HwError, UsbBus};

/// The DUT's supply, switched by the fixture (a relay, a hub port, or the virtual bench).
pub trait PowerSwitch: Send {
    fn set_power(&mut self, on: bool) -> Result<(), HwError>;
    fn is_on(&self) -> bool;
}

/// The fixture's strap and reset lines.
pub trait FixtureLines: Send {
    /// Drive BOOT0 high (system bootloader) or low (user flash).
    fn set_boot0(&mut self, high: bool) -> Result<(), HwError>;
    /// Hold (true) or release (false) NRST.
    fn set_nrst(&mut self, asserted: bool) -> Result<(), HwError>;
}

/// A byte stream to the DUT's console.
pub trait SerialPort: Send {
    fn write_all(&mut self, data: &[u8]) -> Result<(), HwError>;
    /// Read what is available, waiting at most `timeout`; 0 bytes means nothing came.
    fn read(&mut self, buf: &mut [u8], timeout: Duration) -> Result<usize, HwError>;
}

/// The DUT's console: a port opened for each exchange (a pty may come and go with the unit).
pub trait Console: Send + Sync {
    fn open(&self) -> Result<Box<dyn SerialPort>, HwError>;
    /// Where it is, for messages (a device path).
    fn name(&self) -> String;
    /// The command the unit's application enters DFU on.
    fn dfu_command(&self) -> &str;
}

/// The hardware one unit run talks to.
pub struct FixtureHw {
    /// The DUT's console, if the fixture has one.
    pub console: Option<Box<dyn Console>>,
    pub debug: Box<dyn DebugTarget>,
    pub usb: Arc<dyn UsbBus>,
    pub power: Option<Box<dyn PowerSwitch>>,
    pub lines: Option<Box<dyn FixtureLines>>,
    pub clock: Arc<dyn Clock>,
    /// What only a virtual bench can do with its unit (`None` on real hardware).
    pub bench: Option<Box<dyn BenchUnit>>,
    /// What keeps the fixture this process's own while its hardware is open (the engine's
    /// fixture lock); dropped with it.
    pub hold: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl FixtureHw {
    /// Keep a bench unit for the next command (a no-op on real hardware).
    pub fn save(&self) -> Result<(), HwError> {
        self.bench.as_ref().map_or(Ok(()), |b| b.save())
    }
}
