use std::time::Duration;

use super::HwError;

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
